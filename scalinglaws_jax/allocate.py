"""Allocation solvers: how big a model, on how many tokens, for a budget or a target.

Every solver is elementwise: law leaves, budgets and targets (numbers, lists, NumPy or JAX
arrays) broadcast by NumPy rules, and a law with a leading batch axis works through
``vmap``. Results are ``Allocation`` pytrees with a ``status`` array of the broadcast
shape (``Status``: 0 ok, 1 infeasible, 2 not converged, 3 invalid input); failed items
hold NaN. Called eagerly with bad input, a solver raises ``ValueError`` naming the
argument; under ``jit``/``vmap`` it never raises.

Status 0 means the optimality condition was checked at the answer, in the answer's dtype:
the stationarity residual of a closed form or Newton solve (and the budget of a closed
form) is within ``_STATUS_TOLERANCE`` machine epsilons of its largest terms; a search's
derivative changes sign (from falling to rising loss) within ``_CHECK_WIDENINGS`` of the
answer; the plan is real (N >= 1 parameter, D >= 1 token) and every field is finite. A
plan whose optimum needs less than one parameter or one token (a budget too small) is
infeasible, status 1; a non-finite value (an overflow of the dtype, a derivative that is
not finite) is never settled: status 2.

Gradients with respect to the law and the budget are implicit: each solution is the root
of a stationarity condition, differentiated once at the root with
``jax.lax.custom_root`` (one scalar division per item), never through the iterations.

Laws of the Chinchilla form (``Chinchilla``; ``Kaplan``, whose loss is a monotone map of
one; ``DataConstrained`` with unlimited data) use closed forms, or a fixed few Newton or
Halley steps on a bracketed monotone 1-D condition (one compiled, branch-free program for
any batch). Any other law with ``loss(N, D)`` goes through a safeguarded Newton-bisection
search over log N, with D = C / (6 N) formed in logs so that no intermediate overflows
float32 (budgets up to its largest number, 3.4e38 FLOPs).

Precision: the solvers follow the inputs' dtype. On 100,000 random laws (E 0.5-2.5, A and
B 50-5000, alpha and beta 0.15-0.8), budgets of 1e15-1e35 FLOPs and up to 1e16
inference tokens, float32 agrees with float64 on the same (float32-rounded) inputs to
9e-6 in log N for the closed form, 4e-5 for the numeric search, 1.5e-5 for lifetime
budgets and 8e-6 for inference-aware plans (their 99th percentiles are 5e-6, 2e-5, 6e-6,
4e-6). Data-constrained plans use a coarser flat tolerance in float32
(``flat_tolerance``): where the loss is flat the float32 plan may be a smaller model than
the float64 one (median 3% in N, at most 4x), whose loss is within 3.8e-6 of the least.

Units: N in parameters, D and inference tokens in tokens, compute in FLOPs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from ._validate import INFEASIBLE, INVALID_INPUT, NOT_CONVERGED, OK
from .laws import ComputeLaw, DataConstrained


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Allocation:
    """A training plan: model size, tokens, predicted loss and its compute.

    Attributes:
        N: parameters.
        D: training tokens.
        loss: predicted loss of the plan.
        training_flops: 6 N D (FLOPs).
        inference_flops: 2 N per inference token (FLOPs; 0 without inference).
        status: ``Status``: 0 ok (optimality checked at the answer), 1 infeasible,
            2 not converged, 3 invalid input.
    """

    N: jax.Array
    D: jax.Array
    loss: jax.Array
    training_flops: jax.Array
    inference_flops: jax.Array
    status: jax.Array

    @property
    def tokens_per_param(self) -> jax.Array:
        """Training tokens per parameter, D / N."""
        return self.D / self.N

    @property
    def lifetime_flops(self) -> jax.Array:
        """Training plus inference FLOPs."""
        return self.training_flops + self.inference_flops


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RepeatedDataAllocation(Allocation):
    """An ``Allocation`` under a unique-data limit.

    ``N`` is the smallest model whose loss is within ``flat_tolerance`` of the least loss
    for the budget (the cheapest to serve); ``N_flat_max`` is the largest. Where repeated
    data saturate the loss the two are orders of magnitude apart, and extra compute buys
    nothing.

    Attributes:
        epochs: D / unique tokens.
        N_flat_max: the largest model within the tolerance (parameters).
    """

    epochs: jax.Array
    N_flat_max: jax.Array


DEFAULT_BUDGETS = tuple(10.0**k for k in range(19, 26))
"""Budgets of the compute-optimal table, 1e19 ... 1e25 FLOPs."""

FLAT_TOLERANCE = 1e-9
"""Relative loss within which ``data_constrained_optimal`` counts plans as equally good
(in float64; see ``flat_tolerance``)."""


def flat_tolerance(dtype) -> float:
    """The relative loss tolerance of ``data_constrained_optimal`` in ``dtype``.

    ``FLAT_TOLERANCE``, or 32 machine epsilons where that is coarser (3.8e-6 in float32),
    so that the tolerance stays above the round-off of the loss itself. Where the loss is
    curved, the smallest model within it is sqrt(2 tol L / L'') below the exact argmin in
    log N: about 3e-4 (0.03%) in float64 and 2% in float32 for published laws.
    """
    return max(FLAT_TOLERANCE, 32 * float(jnp.finfo(dtype).eps))


def _chinchilla_form(law, solver: str):
    if not hasattr(law, "_chinchilla_form"):
        if isinstance(law, ComputeLaw):
            raise TypeError(
                f"{solver} needs a law of N and D; a ComputeLaw fixes only the compute. "
                "Use law.loss(flops) or sl.flops_for_loss(law, loss)."
            )
        raise TypeError(f"{solver} needs a Chinchilla, Kaplan or DataConstrained law, got {type(law).__name__}")
    return law._chinchilla_form()


def _elementwise_root(condition, guess, solve):
    """Root of an elementwise ``condition`` with implicit derivatives (diagonal Jacobian)."""
    return jax.lax.custom_root(condition, guess, solve, lambda jvp, y: y / jvp(jnp.ones_like(y)))


def _fill(status, **fields):
    """Put NaN in every field where ``status`` is not OK."""
    bad = status != OK
    return {name: jnp.where(bad, jnp.nan, value) for name, value in fields.items()}


def _status(invalid, infeasible, unconverged):
    shape = jnp.broadcast_shapes(jnp.shape(invalid), jnp.shape(infeasible), jnp.shape(unconverged))
    status = jnp.where(unconverged, NOT_CONVERGED, OK)
    status = jnp.where(infeasible, INFEASIBLE, status)
    return jnp.broadcast_to(jnp.where(invalid, INVALID_INPUT, status), shape).astype(jnp.int32)


def _plan(cls, invalid, infeasible, verified, **fields):
    """A result ``cls``: status OK only where ``verified`` and every field is finite;
    infeasible where a plan needs N < 1 parameter or D < 1 token; NaN where not OK."""
    finite = jnp.asarray(True)
    for value in fields.values():
        finite = finite & jnp.isfinite(value)
    unreal = (fields["N"] < 1.0) | (fields["D"] < 1.0)
    status = _status(invalid, infeasible | unreal, ~(verified & finite))
    return cls(**_fill(status, **fields), status=status)


def _eps(x) -> float:
    return float(jnp.finfo(jnp.result_type(x)).eps)


_NEWTON_STEP = 64
_BRACKET_WIDTH = 4
"""The searches stop at a Newton step below 64 machine epsilons times 1 + |log N| (the
error after it is second order), or a bracket below 4 (where the second derivative is not
usable, e.g. where its chain rule underflows in float32, bisection decides)."""

_STATUS_TOLERANCE = 1024
"""Residual of a stationarity condition or constraint, in machine epsilons of its largest
term, above which an item is reported as not converged (status 2)."""

_CHECK_WIDTH = 256
_CHECK_WIDENINGS = (1, 4, 16, 64)
"""Half-widths, in machine epsilons times 1 + |log N|, of the intervals around a search's
answer across one of which the derivative of the loss must change sign for status 0: the
search itself stops at a quarter of the first (``_NEWTON_STEP``), and where the loss is
nearly flat at its optimum (curvature small against the terms of the derivative) its
round-off can flip signs closer in. The widest is 16384 eps (1 + |log N|):
1e-10 in float64 and 5e-2 in float32 at N ~ 1e11, the worst case of status 0."""

_CROSSING_WIDTH = 64
"""Step in log N, in square roots of machine epsilon (2% in float32, 1e-6 in float64), by
which a model smaller than a data-constrained plan (larger than its ``N_flat_max``) must
leave the flat tolerance for status 0. The loss near the edge of the tolerance is flat to
second order, so the edge is placed to about the square root of the loss's round-off."""


def _near(residual, scale, dtype_of):
    """``|residual| <= _STATUS_TOLERANCE eps scale``, False where anything is NaN."""
    return jnp.abs(residual) <= _STATUS_TOLERANCE * _eps(dtype_of) * scale


def _lagrange_holds(form, x, y, serve, log_N, log_D):
    """alpha x = beta y (1 + serve) with x = A / N^alpha, y = B / D^beta, serve = d / D.

    The optimality condition of the Chinchilla form on the budget 6 N (D + d) = C (d =
    inference tokens / 3; 0 without inference), checked from the terms the loss itself is
    made of; each carries a round-off of about eps alpha |log N| (eps beta |log D|) from
    its power."""
    left, right = form.alpha * x, form.beta * y * (1.0 + serve)
    scale = (left + right) * (1.0 + form.alpha * jnp.abs(log_N) + form.beta * jnp.abs(log_D))
    return _near(left - right, scale, x)


# ----------------------------------------------------------------------------------
# compute budget -> best loss


def compute_optimal(law, flops, inference_tokens=None, *, method: str = "auto") -> Allocation:
    """The plan with the lowest loss for a compute budget.

    Minimises ``law.loss(N, D)`` subject to 6 N D + 2 N inference_tokens = flops. With no
    inference tokens this is the Chinchilla compute-optimal split, in closed form for
    Chinchilla-form laws: N* = G (C/6)^a, D* = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta / (alpha + beta), b = alpha / (alpha + beta). With inference tokens the budget
    is a lifetime budget and the solution is a few Newton steps on a monotone condition.

    Args:
        law: a law with ``loss(N, D)`` (Chinchilla, Kaplan, DataConstrained with
            unlimited data, or any pytree with such a method for ``method="numeric"``).
        flops: compute budget (FLOPs), training only or training plus inference.
        inference_tokens: tokens the model will serve over its lifetime (>= 0), or None.
        method: "auto" (closed form where one exists), "closed" or "numeric" (the
            generic search over log N, for any law; inference tokens not supported).

    Returns:
        ``Allocation`` with the broadcast shape of the law's leaves and the inputs; status
        1 where the optimum needs N < 1 parameter or D < 1 token (a budget too small).

    References: Hoffmann et al. 2022, appendix A; Sardana et al. 2023, "Beyond
    Chinchilla-Optimal", sec. 2.
    """
    if method not in ("auto", "closed", "numeric"):
        raise ValueError(f"method must be 'auto', 'closed' or 'numeric', got {method!r}")
    _validate.check_law(law)
    _validate.check_positive("flops", flops)
    if inference_tokens is not None:
        _validate.check_positive("inference_tokens", inference_tokens, allow_zero=True)
        _validate.check_broadcastable(flops=flops, inference_tokens=inference_tokens)
        if method == "numeric":
            raise ValueError("method='numeric' does not take inference_tokens")
        _chinchilla_form(law, "compute_optimal with inference_tokens")
        return _lifetime_optimal(law, *_validate.floats(flops=flops, inference_tokens=inference_tokens))
    (flops,) = _validate.floats(flops=flops)
    if method == "closed" or (method == "auto" and hasattr(law, "_chinchilla_form")):
        _chinchilla_form(law, "compute_optimal(method='closed')")
        return _compute_optimal_closed(law, flops)
    return _compute_optimal_numeric(law, flops)


@jax.jit
def _compute_optimal_closed(law, flops):
    # In logs, so that no intermediate power overflows: log N* = log G + a log(C / 6).
    form, _, from_reduced = law._chinchilla_form()
    alpha, beta = form.alpha, form.beta
    log_half = jnp.log(flops / 6.0)
    log_N = (jnp.log(alpha * form.A) - jnp.log(beta * form.B) + beta * log_half) / (alpha + beta)
    log_D = log_half - log_N
    N, D = jnp.exp(log_N), jnp.exp(log_D)
    x, y = form.A * jnp.power(N, -alpha), form.B * jnp.power(D, -beta)
    training = 6.0 * N * D
    spent = _near(training / flops - 1.0, 1.0 + jnp.abs(log_N) + jnp.abs(log_D), N)
    verified = _lagrange_holds(form, x, y, 0.0, log_N, log_D) & spent
    return _plan(
        Allocation, _validate.invalid_law(law) | _validate.invalid(flops), False, verified,
        N=N, D=D, loss=from_reduced(form.E + x + y), training_flops=training, inference_flops=jnp.zeros_like(N),
    )


@jax.jit
def _lifetime_optimal(law, flops, inference_tokens):
    # Stationarity of L on 6 N D + 2 N D_inf = C, in w = log D with N = C / (6 (D + d)),
    # d = D_inf / 3: h(w) = c + (1 + beta) w + (alpha - 1) log(e^w + d) = 0, where
    # c = log(alpha A / (beta B)) + alpha log(6 / C). h is increasing; it is concave for
    # alpha < 1 and convex for alpha > 1, and w0 = max of the roots of its two linear
    # asymptotes is on the side from which Newton converges monotonically.
    form, _, from_reduced = law._chinchilla_form()
    alpha, beta, A, B = form.alpha, form.beta, form.A, form.B
    d = inference_tokens / 3.0
    serves = d > 0
    log_d = jnp.where(serves, jnp.log(jnp.where(serves, d, 1.0)), -jnp.inf)
    c = jnp.log(alpha * A / (beta * B)) + alpha * jnp.log(6.0 / flops)

    def condition(w):
        return c + (1.0 + beta) * w + (alpha - 1.0) * jnp.logaddexp(w, log_d)

    def solve(condition, w):
        def newton(_, w):
            slope = (1.0 + beta) + (alpha - 1.0) * jax.nn.sigmoid(w - log_d)
            return w - condition(w) / slope

        return jax.lax.fori_loop(0, 8, newton, w)

    guess_far = -c / (alpha + beta)
    guess_near = jnp.where(serves, -(c + (alpha - 1.0) * jnp.where(serves, log_d, 0.0)) / (1.0 + beta), -jnp.inf)
    guess = jax.lax.stop_gradient(jnp.maximum(guess_far, guess_near))
    w = _elementwise_root(condition, guess, solve)
    D = jnp.exp(w)
    N = flops / (6.0 * (D + d))  # the budget is spent by construction
    x, y = A * jnp.power(N, -alpha), B * jnp.power(D, -beta)
    reduced = form.E + x + y
    verified = _lagrange_holds(form, x, y, d / D, jnp.log(N), w)
    invalid = _validate.invalid_law(law) | _validate.invalid(flops) | _validate.invalid(inference_tokens, allow_zero=True)
    return _plan(
        Allocation, invalid, False, verified,
        N=N, D=D, loss=from_reduced(reduced), training_flops=6.0 * N * D, inference_flops=2.0 * N * inference_tokens,
    )


@jax.jit
def _compute_optimal_numeric(law, flops):
    log_half = jnp.log(flops / 6.0)

    def loss_at(log_N):
        return law.loss(jnp.exp(log_N), jnp.exp(log_half - log_N))

    log_N, verified, beyond = _argmin_log_N(loss_at, log_half, strict=True)
    N = jnp.exp(log_N)
    D = jnp.exp(log_half - log_N)
    return _plan(
        Allocation, _validate.invalid_law(law) | _validate.invalid(flops), beyond, verified,
        N=N, D=D, loss=loss_at(log_N), training_flops=6.0 * N * D, inference_flops=jnp.zeros_like(N),
    )


# ----------------------------------------------------------------------------------
# target loss -> least lifetime compute


def inference_optimal(law, loss, inference_tokens=0.0) -> Allocation:
    """The plan reaching ``loss`` with the least lifetime compute, training plus inference.

    Minimises 6 N D + 2 N inference_tokens subject to ``law.loss(N, D) = loss``. With the
    law's terms x = A / N^alpha, y = B / D^beta and R = loss - E, the optimum satisfies
    alpha x = beta y (1 + inference_tokens / (3 D)): a few bracketed Newton steps on
    log y. With zero inference tokens it is the compute-optimal plan for that loss.

    Args:
        law: a Chinchilla-form law (Chinchilla, Kaplan, DataConstrained with unlimited data).
        loss: target loss (must exceed the law's irreducible loss E).
        inference_tokens: tokens served over the model's lifetime (>= 0).

    Returns:
        ``Allocation``; status 1 (infeasible) where loss <= E or the optimum needs N < 1
        parameter or D < 1 token; status 2 where its compute overflows the dtype.

    References: Sardana et al. 2023, "Beyond Chinchilla-Optimal: Accounting for Inference
    in Language Model Scaling Laws", sec. 2.
    """
    form, _, from_reduced = _chinchilla_form(law, "inference_optimal")
    _validate.check_law(law)
    _validate.check_positive("loss", loss)
    _validate.check_positive("inference_tokens", inference_tokens, allow_zero=True)
    _validate.check_broadcastable(loss=loss, inference_tokens=inference_tokens)
    if _validate.is_concrete(law):
        _validate.check_reachable(loss, from_reduced(form.E))
    return _inference_optimal(law, *_validate.floats(loss=loss, inference_tokens=inference_tokens))


@jax.jit
def _inference_optimal(law, loss, inference_tokens):
    # With y = B / D^beta, u = log y and d = D_inf / 3, the optimum is the root of
    # f(u) = alpha R e^-u - (alpha + beta) - beta k e^(u / beta), k = d / B^(1/beta),
    # decreasing in u. Its root lies in [u_lo, u_hi]:
    # u_hi = min(log(alpha R / (alpha + beta)), beta / (1 + beta) log(alpha R / (beta k)))
    # bounds it above (f <= 0 there) and u_lo = log(alpha R / (alpha + beta + beta k
    # e^(u_hi / beta))) below; the bracket is tight at both extremes of k. Three Halley
    # steps from u_hi reach float64 round-off. Work is in logs: pow costs a log and an exp.
    form, to_reduced, _ = law._chinchilla_form()
    alpha, beta = form.alpha, form.beta
    R = to_reduced(loss) - form.E
    feasible = R > 0
    R = jnp.where(feasible, R, 1.0)
    d = inference_tokens / 3.0
    total = alpha + beta
    aR = alpha * R
    inv_beta = 1.0 / beta
    log_B = jnp.log(form.B)

    def condition(u):
        k = d * jnp.exp(-log_B * inv_beta)
        return aR * jnp.exp(-u) - total - beta * k * jnp.exp(u * inv_beta)

    log_k = jnp.log(d) - log_B * inv_beta  # -inf without inference

    def solve(condition, u_hi):
        u_lo = jnp.log(aR / (total + beta * jnp.exp(log_k + u_hi * inv_beta)))
        u = u_hi
        for _ in range(3):
            p = aR * jnp.exp(-u)
            q = jnp.exp(log_k + u * inv_beta)
            f, f1, f2 = p - total - beta * q, -p - q, p - q * inv_beta
            u = jnp.clip(u - 2.0 * f * f1 / (2.0 * f1 * f1 - f * f2), u_lo, u_hi)
        return u

    u_far = (jnp.log(aR / beta) - log_k) * (beta / (1.0 + beta))
    u_hi = jax.lax.stop_gradient(jnp.minimum(jnp.log(aR / total), u_far))
    u = _elementwise_root(condition, u_hi, solve)
    y = jnp.exp(u)
    D = jnp.exp((log_B - u) * inv_beta)
    N = jnp.exp((jnp.log(form.A) - jnp.log(R - y)) / alpha)
    # The target is reached by construction (x = R - y); checked at the answer: the
    # Lagrange condition f(u) = 0 from y and D (beta k e^(u / beta) = beta d / D).
    scale = aR / y + total
    verified = _near(aR / y - total - beta * d / D, scale, u)
    invalid = _validate.invalid_law(law) | _validate.invalid(loss) | _validate.invalid(inference_tokens, allow_zero=True)
    return _plan(
        Allocation, invalid, ~feasible, verified,
        N=N, D=D, loss=loss + jnp.zeros_like(N), training_flops=6.0 * N * D, inference_flops=2.0 * N * inference_tokens,
    )


def flops_for_loss(law, loss):
    """Training FLOPs a compute-optimal run needs to reach ``loss`` (NaN if unreachable).

    Args:
        law: a ComputeLaw, or a Chinchilla-form law (then 6 N* D* of ``inference_optimal``
            with no inference: NaN wherever its status is not 0).
        loss: target loss, above the law's irreducible loss.

    References: Hoffmann et al. 2022, sec. 3.4.
    """
    if isinstance(law, ComputeLaw):
        return law.flops_for_loss(loss)
    return inference_optimal(law, loss).training_flops


# ----------------------------------------------------------------------------------
# unique-data limit


def data_constrained_optimal(law: DataConstrained, flops, unique_tokens) -> RepeatedDataAllocation:
    """The smallest model with the lowest loss for a budget when only ``unique_tokens`` exist.

    Minimises ``law.loss(N, C / (6 N), unique_tokens)`` over N, so that D = C / (6 N)
    may repeat the unique data for ``epochs`` = D / unique_tokens. Where repeated data
    saturate the law, the loss is flat over orders of magnitude of N; every N whose loss
    is within ``flat_tolerance`` (relative; 1e-9 in float64) of the least is equally
    good, and the plan is the smallest of them, the cheapest to serve, with the largest
    in ``N_flat_max``.

    Args:
        law: a ``DataConstrained`` law.
        flops: training compute (FLOPs).
        unique_tokens: unique tokens available (tokens).

    Returns:
        ``RepeatedDataAllocation`` (an ``Allocation`` with ``epochs`` and ``N_flat_max``);
        status 0 where the least loss was checked (the derivative does not fall on its
        right or rise on its left) and both ends of the tolerance were placed (the loss
        there is within round-off of it, and ``_CROSSING_WIDTH`` further out above it).

    References: Muennighoff et al. 2023, "Scaling Data-Constrained Language Models",
    sec. 3.3 and Figure 3.
    """
    if not isinstance(law, DataConstrained):
        raise TypeError(f"data_constrained_optimal needs a DataConstrained law, got {type(law).__name__}")
    _validate.check_law(law)
    _validate.check_positive("flops", flops)
    _validate.check_positive("unique_tokens", unique_tokens)
    _validate.check_broadcastable(flops=flops, unique_tokens=unique_tokens)
    return _data_constrained_optimal(law, *_validate.floats(flops=flops, unique_tokens=unique_tokens))


@jax.jit
def _data_constrained_optimal(law, flops, unique_tokens):
    log_half = jnp.log(flops / 6.0)

    def loss_at(log_N):
        return law.loss(jnp.exp(log_N), jnp.exp(log_half - log_N), unique_tokens)

    log_opt, verified, beyond = _argmin_log_N(loss_at, log_half, strict=False)
    # The least loss varies with the law and the budget as the loss does at a fixed
    # argmin (the envelope theorem); where the loss is flat the argmin itself is
    # ill-conditioned, so its derivative is not used.
    least = loss_at(jax.lax.stop_gradient(log_opt))
    tolerance = flat_tolerance(least.dtype)
    target = (1.0 + tolerance) * least
    log_low, low_ok = _flat_edge(loss_at, target, log_opt, 0.0, -1.0)
    log_high, high_ok = _flat_edge(loss_at, target, log_opt, log_half, 1.0)
    N = jnp.exp(log_low)
    D = jnp.exp(log_half - log_low)
    invalid = _validate.invalid_law(law) | _validate.invalid(flops, unique_tokens)
    return _plan(
        RepeatedDataAllocation, invalid, beyond, verified & low_ok & high_ok,
        N=N, D=D, loss=loss_at(log_low), training_flops=6.0 * N * D, inference_flops=jnp.zeros_like(N),
        epochs=D / unique_tokens, N_flat_max=jnp.exp(log_high),
    )


def _flat_edge(loss_at, target, log_opt, log_end, side):
    """Where ``loss_at`` rises through ``target`` between ``log_opt`` and ``log_end``
    (``side`` -1: below the optimum, +1: above), with implicit derivatives, and whether
    that was checked: the loss there is within round-off of ``target`` and
    ``_CROSSING_WIDTH`` further out it is above it."""
    opt = jax.lax.stop_gradient(log_opt)
    lo, hi = (log_end, opt) if side < 0 else (opt, log_end)
    lo, hi = jnp.broadcast_arrays(lo, hi)

    def excess(log_N):
        return loss_at(log_N) - target

    def solve(excess, log_N):
        def rising(s):  # side * excess rises with s on [lo, hi]
            value, slope = jax.jvp(excess, (s,), (jnp.ones_like(s),))
            return side * value, side * slope

        return _bracketed_root(rising, log_N, lo, hi)

    # A start from the curvature at the optimum (exact for a parabola), inside the bracket.
    slope_at = _derivative(loss_at)
    curvature = jax.jvp(slope_at, (opt,), (jnp.ones_like(opt),))[1]
    gap = jax.lax.stop_gradient(target - loss_at(opt))
    step = jnp.sqrt(2.0 * gap / jnp.where(curvature > 0, curvature, jnp.inf))
    guess = jnp.clip(opt + side * step, lo, hi)
    guess = jnp.where(jnp.isfinite(guess), guess, 0.5 * (lo + hi))
    edge = _elementwise_root(excess, jax.lax.stop_gradient(guess), solve)
    at = jax.lax.stop_gradient(edge)
    width = _CROSSING_WIDTH * np.sqrt(_eps(at))
    round_off = 4 * _eps(at) * jnp.abs(target)
    checked = (excess(at) <= round_off) & (excess(at + side * width) > 0)
    return edge, jax.lax.stop_gradient(checked)


def _derivative(fun):
    return lambda s: jax.jvp(fun, (s,), (jnp.ones_like(s),))[1]


def _bracketed_root(rising, s, lo, hi):
    """Root of ``rising`` (returns the value, increasing in s on [lo, hi], and its
    derivative) by safeguarded Newton: a Newton step where it stays inside the bracket
    kept by the value's sign, else bisection; at most 200 steps, stopping once every item
    has settled (see ``_NEWTON_STEP``). An item whose value is not finite stops where it
    is (its caller's check then fails)."""
    eps = _eps(s)

    def step(state):
        s, lo, hi, i, done = state
        value, slope = rising(s)
        lo = jnp.where(value < 0, s, lo)
        hi = jnp.where(value > 0, s, hi)
        newton = s - value / slope
        inside = (slope > 0) & (newton >= lo) & (newton <= hi)  # a step that rounds to s is inside
        s_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        scale = 1.0 + jnp.abs(s)
        converged = inside & (jnp.abs(newton - s) <= _NEWTON_STEP * eps * scale)
        narrow = hi - lo <= _BRACKET_WIDTH * eps * scale
        settled = (value == 0) | converged | narrow | ~jnp.isfinite(value)
        # A settled item takes its last Newton step (quadratically closer), then stays put
        # while the rest of the batch goes on, so that its answer does not depend on them.
        s_new = jnp.where(done | (settled & ~inside), s, s_new)
        return s_new, lo, hi, i + 1, done | settled

    def unsettled(state):
        return (state[3] < 200) & ~jnp.all(state[4])

    first = (s, lo, hi, 0, jnp.zeros(jnp.shape(s), bool))
    return jax.lax.while_loop(unsettled, step, first)[0]


def _argmin_log_N(loss_at, log_hi, *, strict: bool):
    """Minimise the elementwise ``loss_at(log N)`` over 1 <= N <= flops / 6 (D >= 1).

    A safeguarded Newton search for the root of the derivative, from the middle of the
    range. Returns log N with implicit derivatives; whether the optimality condition was
    checked there (the derivative changes sign from negative to positive within
    ``_CHECK_WIDENINGS`` of the answer; with ``strict=False`` a derivative that is 0
    on a side counts, for laws that are flat at their optimum); and a mask of items whose
    optimum is checked to lie beyond an end of the range (the loss still falls at N = 1
    parameter or at D = 1 token: infeasible).
    """
    slope = _derivative(loss_at)
    log_hi = jnp.broadcast_to(log_hi, jax.eval_shape(loss_at, log_hi).shape)
    log_lo = jnp.zeros_like(log_hi)

    def solve(slope, log_N):
        def rising(s):
            return jax.jvp(slope, (s,), (jnp.ones_like(s),))

        return _bracketed_root(rising, log_N, log_lo, log_hi)

    guess = jax.lax.stop_gradient(0.5 * (log_lo + log_hi))
    log_N = _elementwise_root(slope, guess, solve)
    at = jax.lax.stop_gradient(log_N)
    width = _CHECK_WIDTH * _eps(at) * (1.0 + jnp.abs(at))
    verified = jnp.zeros(jnp.shape(at), bool)
    for widen in _CHECK_WIDENINGS:
        below, above = slope(at - widen * width), slope(at + widen * width)
        if strict:
            verified = verified | ((below < 0) & (above > 0))
        else:
            verified = verified | ((below <= 0) & (above >= 0) & jnp.isfinite(below) & jnp.isfinite(above))
    verified = verified & jnp.isfinite(slope(at))
    beyond = ((at - width <= log_lo) & (slope(log_lo) > 0)) | ((at + width >= log_hi) & (slope(log_hi) < 0))
    beyond = beyond | (log_hi <= log_lo)
    return log_N, verified & (at >= log_lo) & (at <= log_hi), jax.lax.stop_gradient(beyond)


def budget_table(law, flops=DEFAULT_BUDGETS, inference_tokens=None) -> dict[str, np.ndarray]:
    """The compute-optimal table: N*, D*, tokens per parameter and loss per budget.

    Args:
        law: as for ``compute_optimal``.
        flops: budgets (FLOPs); default 1e19 ... 1e25.
        inference_tokens: lifetime inference tokens, or None.

    Returns:
        Columns as NumPy arrays: ``flops``, ``N``, ``D``, ``tokens_per_param``, ``loss``
        and ``status`` (ready for ``pandas.DataFrame``).

    References: Hoffmann et al. 2022, Table 3.
    """
    plan = compute_optimal(law, np.asarray(flops, dtype=float), inference_tokens)
    return {
        "flops": np.asarray(flops, dtype=float),
        "N": np.asarray(plan.N),
        "D": np.asarray(plan.D),
        "tokens_per_param": np.asarray(plan.tokens_per_param),
        "loss": np.asarray(plan.loss),
        "status": np.asarray(plan.status),
    }
