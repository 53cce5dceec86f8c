"""FLOPs, parameter counts and cost conversions (scalinglaws_jax.flops).

Assumes float64 is on (tests/conftest.py enables x64 at start-up).
"""

import dataclasses
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglaws_jax import flops as fl
from scalinglaws_jax.laws import PF_DAY

NAN, INF = math.nan, math.inf

# Valid arguments of every public numeric function, in signature order.
VALID = {
    fl.training_flops: dict(N=7e10, D=1.4e12),
    fl.forward_flops: dict(N=7e10, tokens=1e9),
    fl.backward_flops: dict(N=7e10, tokens=1e9),
    fl.inference_flops: dict(N=7e10, tokens=2e12),
    fl.transformer_params: dict(n_layers=96.0, d_model=12288.0, vocab_size=50257.0, n_ctx=2048.0),
    fl.kaplan_flops_per_token: dict(n_layers=96.0, d_model=12288.0, n_ctx=2048.0),
    fl.flops_to_gpu_hours: dict(flops=1e24, peak_flops_per_s=989e12, mfu=0.4),
    fl.gpu_hours_to_flops: dict(gpu_hours=7e5, peak_flops_per_s=989e12, mfu=0.4),
    fl.flops_to_dollars: dict(flops=1e24, peak_flops_per_s=989e12, mfu=0.4, price_per_hour=2.0),
    fl.dollars_to_flops: dict(dollars=1.4e6, peak_flops_per_s=989e12, mfu=0.4, price_per_hour=2.0),
    fl.pf_days_to_flops: dict(pf_days=3640.0),
    fl.flops_to_pf_days: dict(flops=3.14e23),
}
FUNCTIONS = list(VALID)

NOT_POSITIVE = [0.0, -1.0, NAN, INF, -INF]
NEGATIVE = [-1.0, NAN, INF]  # for arguments that may be 0
NOT_FRACTION = [0.0, -0.1, 1.5, NAN, INF]


def bad_values(fn, name):
    if name == "mfu":
        return NOT_FRACTION
    if name == "tokens" or (fn is fl.transformer_params and name == "n_ctx"):
        return NEGATIVE
    return NOT_POSITIVE


BAD_CASES = [
    pytest.param(fn, name, bad, id=f"{fn.__name__}-{name}={bad}")
    for fn, kwargs in VALID.items()
    for name in kwargs
    for bad in bad_values(fn, name)
]


def _fd(fn, args, i, rel=1e-6):
    """Central finite difference of fn in its i-th argument (float64)."""
    h = rel * abs(args[i])
    up = list(args)
    down = list(args)
    up[i] += h
    down[i] -= h
    return (float(fn(*up)) - float(fn(*down))) / (2 * h)


# Published numbers.


def test_gpt3_training_flops():
    # Brown et al. 2020: 175e9 parameters, 300e9 tokens; 6ND ~ 3.15e23 (DESIGN.md).
    assert float(fl.training_flops(175e9, 300e9)) == pytest.approx(3.15e23, rel=1e-12)


def test_chinchilla_training_flops():
    # Hoffmann et al. 2022: 70e9 parameters, 1.4e12 tokens; 6ND = 5.88e23 (DESIGN.md).
    assert float(fl.training_flops(70e9, 1.4e12)) == pytest.approx(5.88e23, rel=1e-12)


def test_integer_inputs_do_not_overflow():
    # 6ND = 3.15e23 overflows int64 (max 9.2e18): integer inputs must compute in floats.
    value = fl.training_flops(175_000_000_000, 300_000_000_000)
    assert jnp.issubdtype(value.dtype, jnp.floating)
    assert float(value) == pytest.approx(3.15e23, rel=1e-12)
    array = fl.training_flops(np.array([175_000_000_000]), np.array([300_000_000_000]))
    assert float(array[0]) == pytest.approx(3.15e23, rel=1e-12)
    # d_model^2 and vocab_size * d_model overflow int32 here.
    int32 = lambda x: jnp.array(x, jnp.int32)  # noqa: E731
    params = fl.transformer_params(int32(2), int32(65536), int32(50000))
    assert float(params) == 12 * 2 * 65536**2 + 50000 * 65536


@pytest.mark.float32
def test_float32_mode():
    # With x64 off, Python ints beyond int32 still work and results are float32.
    with jax.enable_x64(False):
        value = fl.training_flops(175_000_000_000, 300_000_000_000)
        hours = fl.flops_to_gpu_hours(1e24, fl.H100, 0.4)
        params = fl.transformer_params(96, 12288, 50257, 2048)
    assert value.dtype == hours.dtype == params.dtype == jnp.float32
    assert float(value) == pytest.approx(3.15e23, rel=1e-6)
    assert float(hours) == pytest.approx(1e24 / (989e12 * 0.4) / 3600, rel=1e-6)
    assert float(params) == pytest.approx(174_588_899_328, rel=1e-6)


def test_forward_plus_backward_is_training():
    N = jnp.array([1e8, 7e10, 175e9])
    D = jnp.array([2e9, 1.4e12, 300e9])
    np.testing.assert_allclose(
        fl.forward_flops(N, D) + fl.backward_flops(N, D), fl.training_flops(N, D), rtol=1e-15
    )
    np.testing.assert_allclose(fl.backward_flops(N, D), 2 * fl.forward_flops(N, D), rtol=1e-15)


def test_inference_flops():
    # 2N per token: Sardana et al.'s 2e12 lifetime tokens on a 70e9 model = 2.8e23 FLOPs.
    assert float(fl.inference_flops(70e9, 2e12)) == pytest.approx(2.8e23, rel=1e-12)
    assert float(fl.inference_flops(70e9, 0)) == 0.0
    np.testing.assert_array_equal(fl.inference_flops(7e10, jnp.array([0.0, 1.0])), [0.0, 1.4e11])
    assert float(fl.forward_flops(7e10, 0.0)) == 0.0


def test_pf_days():
    assert float(fl.pf_days_to_flops(1.0)) == PF_DAY == 8.64e19
    # Brown et al. 2020 Table D.1: GPT-3 175B used 3.14e23 FLOPs = 3.64e3 PF-days.
    assert float(fl.flops_to_pf_days(3.14e23)) == pytest.approx(3.64e3, rel=2e-3)
    # Kaplan et al. 2020: C_c^min = 3.1e8 PF-days.
    assert float(fl.pf_days_to_flops(3.1e8)) == pytest.approx(2.6784e28, rel=1e-12)
    assert float(fl.flops_to_pf_days(fl.pf_days_to_flops(123.0))) == pytest.approx(123.0, rel=1e-15)


# Parameter counts.


def test_gpt3_parameter_counts():
    # GPT-3 175B (Brown et al. 2020, Table 2.1): 96 layers, d_model 12288, ctx 2048,
    # vocab 50257 (GPT-2 BPE). Non-embedding 12 L d^2 (Kaplan et al. 2020, Table 1).
    shape = dict(n_layers=96, d_model=12288, vocab_size=50257, n_ctx=2048)
    non_embedding = fl.transformer_params(**shape, embeddings=False)
    total = fl.transformer_params(**shape)
    assert float(non_embedding) == 12 * 96 * 12288**2 == 173_946_175_488
    assert float(total - non_embedding) == (50257 + 2048) * 12288 == 642_723_840
    assert float(total) == 174_588_899_328
    assert float(total) == pytest.approx(175e9, rel=5e-3)  # biases and layer norms ignored


def test_parameter_count_conventions():
    # total = non-embedding + embeddings (token + learned positions); n_ctx=0 means none.
    n_layers, d_model, vocab = jnp.array([2.0, 12.0, 80.0]), jnp.array([128.0, 768.0, 8192.0]), 32e3
    total = fl.transformer_params(n_layers, d_model, vocab)
    non_embedding = fl.transformer_params(n_layers, d_model, vocab, embeddings=False)
    np.testing.assert_allclose(total - non_embedding, vocab * d_model, rtol=1e-15)
    np.testing.assert_allclose(non_embedding, 12 * n_layers * d_model**2, rtol=1e-15)
    with_positions = fl.transformer_params(n_layers, d_model, vocab, 1024)
    np.testing.assert_allclose(with_positions - total, 1024 * d_model, rtol=1e-12)
    # Embeddings dominate small models (the convention gap of Pearce & Song 2024).
    share = 1 - non_embedding / total
    assert share[0] > 0.9 and share[-1] < 0.01


def test_kaplan_flops_per_token():
    # Kaplan et al. 2020 Table 1: C_forward = 2N + 2 n_layer n_ctx d_model.
    N = fl.transformer_params(96, 12288, 50257, embeddings=False)
    value = fl.kaplan_flops_per_token(96, 12288, 2048)
    assert float(value) == float(2 * N + 2 * 96 * 2048 * 12288)
    # The context term is a fraction n_ctx / (12 d_model) of 2N.
    assert float(value / (2 * N)) == pytest.approx(1 + 2048 / (12 * 12288), rel=1e-14)


# Hardware and cost.


def test_accelerator_presets():
    assert fl.ACCELERATORS == {"a100": fl.A100, "h100": fl.H100, "h200": fl.H200}
    assert [a.peak_flops_per_s for a in fl.ACCELERATORS.values()] == [312e12, 989e12, 989e12]
    assert fl.H100.name == "H100"
    with pytest.raises(dataclasses.FrozenInstanceError):
        fl.H100.peak_flops_per_s = 1.0


def test_hand_computed_h100_cost():
    # 1e24 FLOPs on H100 (989e12 FLOP/s) at 40% MFU, $2 per GPU-hour.
    hours = 1e24 / (989e12 * 0.4) / 3600  # = 702,168.2957 GPU-hours
    assert float(fl.flops_to_gpu_hours(1e24, fl.H100, 0.4)) == pytest.approx(702_168.2957, rel=1e-10)
    assert float(fl.flops_to_gpu_hours(1e24, fl.H100, 0.4)) == pytest.approx(hours, rel=1e-15)
    assert float(fl.flops_to_gpu_hours(1e24, 989e12, 0.4)) == pytest.approx(hours, rel=1e-15)
    assert float(fl.flops_to_dollars(1e24, fl.H100, 0.4, 2.0)) == pytest.approx(2 * hours, rel=1e-15)
    assert float(fl.gpu_hours_to_flops(hours, fl.H100, 0.4)) == pytest.approx(1e24, rel=1e-15)
    assert float(fl.dollars_to_flops(2 * hours, fl.H100, 0.4, 2.0)) == pytest.approx(1e24, rel=1e-15)
    # Full utilisation of an A100 for one hour.
    assert float(fl.gpu_hours_to_flops(1.0, fl.A100, 1.0)) == 312e12 * 3600


@settings(max_examples=50, deadline=None)
@given(
    log_flops=st.floats(15, 30),
    peak=st.sampled_from([312e12, 989e12, 2.25e15]),
    mfu=st.floats(1e-3, 1.0),
    price=st.floats(0.01, 100.0),
)
def test_conversions_round_trip(log_flops, peak, mfu, price):
    flops = 10.0**log_flops
    dollars = fl.flops_to_dollars(flops, peak, mfu, price)
    assert float(fl.dollars_to_flops(dollars, peak, mfu, price)) == pytest.approx(flops, rel=1e-13)
    hours = fl.flops_to_gpu_hours(flops, peak, mfu)
    assert float(fl.gpu_hours_to_flops(hours, peak, mfu)) == pytest.approx(flops, rel=1e-13)
    assert float(dollars) == pytest.approx(float(hours) * price, rel=1e-13)


def test_dtype_follows_inputs():
    f32 = jnp.float32
    assert fl.training_flops(f32(7e10), 1.4e12).dtype == f32
    assert fl.inference_flops(f32(7e10), 0).dtype == f32
    assert fl.flops_to_dollars(f32(1e24), fl.H100, 0.4, 2.0).dtype == f32
    assert fl.transformer_params(jnp.int32(96), f32(12288), 50257).dtype == f32
    assert fl.training_flops(7e10, 1.4e12).dtype == jnp.float64


def test_accelerator_is_a_pytree_under_jit_and_vmap():
    eager = fl.flops_to_dollars(1e24, fl.H100, 0.4, 2.0)
    assert float(jax.jit(fl.flops_to_dollars)(1e24, fl.H100, 0.4, 2.0)) == pytest.approx(float(eager), rel=1e-15)
    both = fl.Accelerator("mixed", jnp.array([312e12, 989e12]))
    batched = jax.vmap(fl.flops_to_gpu_hours, (None, 0, None))(1e24, both, 0.4)
    np.testing.assert_allclose(
        batched, [fl.flops_to_gpu_hours(1e24, a, 0.4) for a in (fl.A100, fl.H100)], rtol=1e-15
    )


# Transformations.


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
def test_jit_equals_eager(fn):
    args = list(VALID[fn].values())
    eager = fn(*args)
    assert np.isfinite(eager)
    np.testing.assert_allclose(jax.jit(fn)(*args), eager, rtol=1e-15)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
def test_vmap_equals_loop(fn):
    # Every argument batched; the scales keep mfu = 0.4 * scale inside (0, 1].
    scales = np.array([0.5, 1.0, 2.0])
    batches = [value * scales for value in VALID[fn].values()]
    vmapped = jax.vmap(fn)(*map(jnp.asarray, batches))
    looped = [fn(*(float(b[k]) for b in batches)) for k in range(len(scales))]
    np.testing.assert_allclose(vmapped, looped, rtol=1e-15)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
def test_grad_matches_finite_differences(fn):
    args = list(VALID[fn].values())
    for i in range(len(args)):
        grad = float(jax.grad(fn, argnums=i)(*args))
        assert grad == pytest.approx(_fd(fn, args, i), rel=1e-6), (fn.__name__, i)


# Bad input.


@pytest.mark.parametrize("fn, name, bad", BAD_CASES)
def test_bad_input_raises_naming_argument(fn, name, bad):
    kwargs = dict(VALID[fn], **{name: bad})
    with pytest.raises(ValueError, match=re.escape(f"{name}={bad!r}")):
        fn(**kwargs)


@pytest.mark.parametrize("fn, name, bad", BAD_CASES)
def test_bad_input_under_jit_is_nan(fn, name, bad):
    valid = VALID[fn]
    kwargs = dict(valid, **{name: jnp.array([valid[name], bad])})
    out = jax.jit(fn)(**kwargs)
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_bad_element_of_array_is_located():
    with pytest.raises(ValueError, match=re.escape("mfu[1]=1.2")):
        fl.flops_to_gpu_hours(1e24, fl.H100, np.array([0.4, 1.2]))
    with pytest.raises(ValueError, match=re.escape("peak_flops_per_s=-1.0")):
        fl.flops_to_gpu_hours(1e24, fl.Accelerator("broken", -1.0), 0.4)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="do not broadcast"):
        fl.training_flops(jnp.ones(2), jnp.ones(3))
    with pytest.raises(ValueError, match="do not broadcast"):
        fl.flops_to_dollars(jnp.ones(2), 989e12, jnp.full(3, 0.5), 2.0)


def test_mfu_of_one_and_zero_tokens_are_valid():
    assert np.isfinite(fl.flops_to_gpu_hours(1e24, fl.H100, 1.0))
    assert float(fl.backward_flops(7e10, 0)) == 0.0
    assert float(fl.transformer_params(1, 64, 100, 0)) == 12 * 64**2 + 100 * 64


# Lists and overflow.


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
def test_lists_and_tuples_work_like_arrays(fn):
    scales = [0.5, 1.0, 2.0]
    as_lists = [[value * s for s in scales] for value in VALID[fn].values()]
    expected = fn(*(jnp.asarray(v) for v in as_lists))
    np.testing.assert_allclose(fn(*as_lists), expected, rtol=1e-15)
    np.testing.assert_allclose(fn(*(tuple(v) for v in as_lists)), expected, rtol=1e-15)


def test_training_flops_overflow_raises_not_inf():
    with pytest.raises(ValueError, match=r"training_flops = 6 N D overflows float64 .* N=1e\+200, D=1e\+200"):
        fl.training_flops(1e200, 1e200)
    with pytest.raises(ValueError, match=r"inference_flops = 2 N tokens overflows float64"):
        fl.inference_flops([1e9, 1e300], 1e10)
    out = jax.jit(fl.training_flops)(jnp.array([7e10, 1e200]), 1e200)
    assert np.isfinite(out[0]) and np.isnan(out[1])


@pytest.mark.float32
def test_float32_training_flops_overflow_raises_not_inf():
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"overflows float32 \(largest 3.4e\+38\) at N=1e\+20, D=1e\+20; enable float64"):
            fl.training_flops(jnp.float32(1e20), jnp.float32(1e20))
        with pytest.raises(ValueError, match=r"N=1e\+39 is beyond the float32 range"):
            fl.training_flops(1e39, 1.0)
        out = jax.jit(fl.training_flops)(jnp.float32(1e20), jnp.float32(1e20))
        assert out.dtype == jnp.float32 and np.isnan(out)
        assert float(fl.training_flops(jnp.float32(1e18), jnp.float32(5e19))) == pytest.approx(3e38, rel=1e-6)
