"""FLOPs and cost accounting: training and inference FLOPs, parameter counts, hardware.

Units: N in parameters, D and tokens in tokens, compute in FLOPs, time in GPU-hours,
money in dollars. Every numeric function is elementwise (inputs broadcast by NumPy rules;
numbers, lists, NumPy or JAX arrays), returns a floating array even for integer inputs
(6ND overflows 64-bit integers), and works under ``jit``, ``vmap`` and ``grad``: with
concrete inputs a bad value raises ``ValueError``, under a transformation the bad item is
NaN. A result beyond the range of its dtype (6 N D above 3.4e38 in float32) is an error
too: ``ValueError`` with concrete inputs, NaN under a transformation, never inf.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from .laws import PF_DAY

SECONDS_PER_HOUR = 3600.0


def _bad_fraction(value) -> jax.Array:
    """Elementwise mask of items outside (0, 1] (NaN included)."""
    value = jnp.asarray(value)
    return ~((value > 0) & (value <= 1))


def _result(what: str, value, bad, **inputs):
    """``value`` with NaN where an input is bad or the value overflowed; an overflow with
    concrete, valid inputs raises ``ValueError`` naming ``what`` and the inputs."""
    _validate.check_representable(what, value, ~bad, **inputs)
    return jnp.where(bad | ~jnp.isfinite(value), jnp.nan, value)


def _check_fraction(name: str, value) -> None:
    """Raise ``ValueError`` unless every element of ``value`` is in (0, 1]."""
    if not _validate.is_concrete(value):
        return
    values = np.asarray(value, dtype=float)
    ok = (values > 0) & (values <= 1)
    if not ok.all():
        raise ValueError(f"{name} must be in (0, 1], got {_validate.first_bad(name, values, ~ok)}")


def training_flops(N, D):
    """Training FLOPs C = 6 N D (forward 2 N D plus backward 4 N D).

    Args:
        N: parameters.
        D: training tokens.

    Returns: FLOPs (NaN where N or D is invalid, or where 6 N D overflows the dtype under
    a transformation; with concrete inputs an overflow raises ``ValueError``).

    References: Kaplan et al. 2020, sec. 2.1; Hoffmann et al. 2022, appendix F.
    """
    _validate.check_positive("N", N)
    _validate.check_positive("D", D)
    _validate.check_broadcastable(N=N, D=D)
    N, D = _validate.floats(N=N, D=D)
    return _result("training_flops = 6 N D", 6.0 * N * D, _validate.invalid(N, D), N=N, D=D)


def _per_token(what, flops_per_param, N, tokens):
    """Checked ``flops_per_param * N * tokens`` with tokens allowed to be 0."""
    _validate.check_positive("N", N)
    _validate.check_positive("tokens", tokens, allow_zero=True)
    _validate.check_broadcastable(N=N, tokens=tokens)
    N, tokens = _validate.floats(N=N, tokens=tokens)
    bad = _validate.invalid(N) | _validate.invalid(tokens, allow_zero=True)
    return _result(what, flops_per_param * N * tokens, bad, N=N, tokens=tokens)


def forward_flops(N, tokens):
    """Forward-pass FLOPs 2 N per token (a multiply and an add per parameter).

    Args:
        N: parameters.
        tokens: tokens processed (may be 0).

    Returns: FLOPs (NaN where N is invalid or tokens is negative, NaN or infinite).

    References: Kaplan et al. 2020, sec. 2.1; Hoffmann et al. 2022, appendix F.
    """
    return _per_token("forward_flops = 2 N tokens", 2.0, N, tokens)


def backward_flops(N, tokens):
    """Backward-pass FLOPs 4 N per token (twice the forward pass).

    Args:
        N: parameters.
        tokens: tokens processed (may be 0).

    Returns: FLOPs; ``forward_flops + backward_flops == training_flops``.

    References: Kaplan et al. 2020, sec. 2.1; Hoffmann et al. 2022, appendix F.
    """
    return _per_token("backward_flops = 4 N tokens", 4.0, N, tokens)


def inference_flops(N, tokens):
    """Inference FLOPs 2 N per generated or processed token (a forward pass).

    Args:
        N: parameters.
        tokens: inference tokens (may be 0).

    Returns: FLOPs (NaN where N is invalid or tokens is negative, NaN or infinite).

    References: Kaplan et al. 2020, sec. 2.1; Sardana et al. 2023, "Beyond Chinchilla-
    Optimal: Accounting for Inference in Language Model Scaling Laws", sec. 2.
    """
    return _per_token("inference_flops = 2 N tokens", 2.0, N, tokens)


def transformer_params(n_layers, d_model, vocab_size, n_ctx=0, *, embeddings=True):
    """Parameters of a decoder-only transformer with d_ff = 4 d_model.

    Non-embedding parameters are 12 n_layers d_model^2 (attention 4 d_model^2 and MLP
    8 d_model^2 per layer, biases and layer norms ignored). Embedding parameters are
    vocab_size d_model for the token embedding (tied with the output layer) plus
    n_ctx d_model for learned positional embeddings (n_ctx=0 for none, e.g. rotary).

    Kaplan et al. count N without embeddings, Hoffmann et al. (Chinchilla) with them;
    embeddings are a large share of small models, and Pearce & Song trace most of the gap
    between Kaplan's N_opt ~ C^0.73 and Chinchilla's C^0.50 to this difference.

    Args:
        n_layers: transformer blocks.
        d_model: residual stream width.
        vocab_size: vocabulary size (tokens).
        n_ctx: learned positional embeddings (context length, tokens; may be 0).
        embeddings: count embedding parameters (Chinchilla convention, the default);
            ``False`` gives the non-embedding count (Kaplan convention). A Python bool
            (mark it static under ``jit``).

    Returns: parameters (a float array).

    References: Kaplan et al. 2020, Table 1; Pearce & Song 2024, "Reconciling Kaplan and
    Chinchilla Scaling Laws".
    """
    for name, value in (("n_layers", n_layers), ("d_model", d_model), ("vocab_size", vocab_size)):
        _validate.check_positive(name, value)
    _validate.check_positive("n_ctx", n_ctx, allow_zero=True)
    _validate.check_broadcastable(
        n_layers=n_layers, d_model=d_model, vocab_size=vocab_size, n_ctx=n_ctx
    )
    n_layers, d_model, vocab_size, n_ctx = _validate.floats(
        n_layers=n_layers, d_model=d_model, vocab_size=vocab_size, n_ctx=n_ctx
    )
    params = 12.0 * n_layers * d_model**2
    if embeddings:
        params = params + (vocab_size + n_ctx) * d_model
    bad = _validate.invalid(n_layers, d_model, vocab_size)
    bad = bad | _validate.invalid(n_ctx, allow_zero=True)
    return _result("transformer_params", params, bad, n_layers=n_layers, d_model=d_model)


def kaplan_flops_per_token(n_layers, d_model, n_ctx):
    """Forward-pass FLOPs per token with the attention context term.

    C_forward = 2 N + 2 n_layers n_ctx d_model, with N = 12 n_layers d_model^2 the
    non-embedding parameters (d_attn = d_model). Training costs about 3 C_forward.

    Args:
        n_layers: transformer blocks.
        d_model: residual stream width.
        n_ctx: context length (tokens).

    Returns: FLOPs per token.

    References: Kaplan et al. 2020, Table 1.
    """
    for name, value in (("n_layers", n_layers), ("d_model", d_model), ("n_ctx", n_ctx)):
        _validate.check_positive(name, value)
    _validate.check_broadcastable(n_layers=n_layers, d_model=d_model, n_ctx=n_ctx)
    n_layers, d_model, n_ctx = _validate.floats(n_layers=n_layers, d_model=d_model, n_ctx=n_ctx)
    flops = 2.0 * n_layers * d_model * (12.0 * d_model + n_ctx)
    bad = _validate.invalid(n_layers, d_model, n_ctx)
    return _result("kaplan_flops_per_token", flops, bad, n_layers=n_layers, d_model=d_model, n_ctx=n_ctx)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Accelerator:
    """An accelerator's name and peak throughput; a pytree whose only leaf is the peak.

    Args:
        name: label (static pytree metadata).
        peak_flops_per_s: peak dense throughput of one device (FLOP/s).

    The presets ``A100``, ``H100`` and ``H200`` hold NVIDIA's dense (no sparsity) bf16
    tensor-core peaks of the SXM parts: 312, 989 and 989 TFLOP/s (the datasheets' 624,
    1,979 and 1,979 assume 2:4 structured sparsity).

    References: NVIDIA A100, H100 and H200 Tensor Core GPU datasheets.
    """

    name: str = dataclasses.field(metadata=dict(static=True))
    peak_flops_per_s: jax.Array | float


A100 = Accelerator("A100", 312e12)
"""NVIDIA A100 SXM, dense bf16 peak 312 TFLOP/s."""

H100 = Accelerator("H100", 989e12)
"""NVIDIA H100 SXM, dense bf16 peak 989 TFLOP/s."""

H200 = Accelerator("H200", 989e12)
"""NVIDIA H200 SXM, dense bf16 peak 989 TFLOP/s (H100 compute, more and faster memory)."""

ACCELERATORS = {"a100": A100, "h100": H100, "h200": H200}
"""Accelerator presets by their CLI names."""


def _flops_rate(name, amount, peak_flops_per_s, mfu, price_per_hour=1.0):
    """Checked ``(amount, model FLOPs per unit of amount, invalid mask)``.

    The unit is a GPU-hour, or a dollar when a ``price_per_hour`` (dollars) is given.
    """
    peak = peak_flops_per_s
    if isinstance(peak, Accelerator):
        peak = peak.peak_flops_per_s
    _validate.check_positive(name, amount)
    _validate.check_positive("peak_flops_per_s", peak)
    _check_fraction("mfu", mfu)
    _validate.check_positive("price_per_hour", price_per_hour)
    _validate.check_broadcastable(
        **{name: amount}, peak_flops_per_s=peak, mfu=mfu, price_per_hour=price_per_hour
    )
    amount, peak, mfu, price = _validate.floats(
        **{name: amount}, peak_flops_per_s=peak, mfu=mfu, price_per_hour=price_per_hour
    )
    bad = _validate.invalid(amount, peak, price) | _bad_fraction(mfu)
    return amount, SECONDS_PER_HOUR * peak * mfu / price, bad


def flops_to_gpu_hours(flops, peak_flops_per_s, mfu):
    """GPU-hours to run ``flops`` of model FLOPs: flops / (peak * mfu) / 3600.

    Args:
        flops: model FLOPs (e.g. ``training_flops``).
        peak_flops_per_s: peak FLOP/s of one accelerator, or an ``Accelerator``.
        mfu: model FLOPs utilisation, the achieved fraction of peak, in (0, 1].

    Returns: GPU-hours (NaN where an input is invalid).

    References: Chowdhery et al. 2022, "PaLM", appendix B (model FLOPs utilisation).
    """
    flops, rate, bad = _flops_rate("flops", flops, peak_flops_per_s, mfu)
    return _result("flops_to_gpu_hours", flops / rate, bad, flops=flops)


def gpu_hours_to_flops(gpu_hours, peak_flops_per_s, mfu):
    """Model FLOPs done in ``gpu_hours``: gpu_hours * 3600 * peak * mfu.

    Args:
        gpu_hours: accelerator-hours.
        peak_flops_per_s: peak FLOP/s of one accelerator, or an ``Accelerator``.
        mfu: model FLOPs utilisation in (0, 1].

    Returns: FLOPs (NaN where an input is invalid).

    References: Chowdhery et al. 2022, "PaLM", appendix B (model FLOPs utilisation).
    """
    gpu_hours, rate, bad = _flops_rate("gpu_hours", gpu_hours, peak_flops_per_s, mfu)
    return _result("gpu_hours_to_flops", gpu_hours * rate, bad, gpu_hours=gpu_hours)


def flops_to_dollars(flops, peak_flops_per_s, mfu, price_per_hour):
    """Cost of ``flops`` model FLOPs: GPU-hours times the price of one GPU-hour.

    Args:
        flops: model FLOPs.
        peak_flops_per_s: peak FLOP/s of one accelerator, or an ``Accelerator``.
        mfu: model FLOPs utilisation in (0, 1].
        price_per_hour: dollars per accelerator-hour.

    Returns: dollars (NaN where an input is invalid).

    References: Chowdhery et al. 2022, "PaLM", appendix B (model FLOPs utilisation).
    """
    flops, rate, bad = _flops_rate("flops", flops, peak_flops_per_s, mfu, price_per_hour)
    return _result("flops_to_dollars", flops / rate, bad, flops=flops)


def dollars_to_flops(dollars, peak_flops_per_s, mfu, price_per_hour):
    """Model FLOPs that ``dollars`` buy: dollars / price * 3600 * peak * mfu.

    Args:
        dollars: budget (dollars).
        peak_flops_per_s: peak FLOP/s of one accelerator, or an ``Accelerator``.
        mfu: model FLOPs utilisation in (0, 1].
        price_per_hour: dollars per accelerator-hour.

    Returns: FLOPs (NaN where an input is invalid).

    References: Chowdhery et al. 2022, "PaLM", appendix B (model FLOPs utilisation).
    """
    dollars, rate, bad = _flops_rate("dollars", dollars, peak_flops_per_s, mfu, price_per_hour)
    return _result("dollars_to_flops", dollars * rate, bad, dollars=dollars)


def pf_days_to_flops(pf_days):
    """FLOPs in ``pf_days`` petaflop/s-days (1 PF-day = 8.64e19 FLOPs).

    References: Kaplan et al. 2020, sec. 1.3 (compute in PF-days).
    """
    _validate.check_positive("pf_days", pf_days)
    (pf_days,) = _validate.floats(pf_days=pf_days)
    return _result("pf_days_to_flops", pf_days * PF_DAY, _validate.invalid(pf_days), pf_days=pf_days)


def flops_to_pf_days(flops):
    """``flops`` in petaflop/s-days (1 PF-day = 8.64e19 FLOPs).

    References: Kaplan et al. 2020, sec. 1.3 (compute in PF-days).
    """
    _validate.check_positive("flops", flops)
    (flops,) = _validate.floats(flops=flops)
    return jnp.where(_validate.invalid(flops), jnp.nan, flops / PF_DAY)
