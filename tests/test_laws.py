"""Laws: published values, limits, pytree behaviour, jit/vmap/grad, bad input."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws_jax as sl

# Sardana et al. 2023 use Hoffmann's law with these exponents.
SARDANA = sl.Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)


def test_sardana_published_loss():
    # Sardana et al. 2023: L(70e9, 1e12) = 1.947 (1.94727 unrounded, DESIGN.md).
    assert float(SARDANA.loss(70e9, 1e12)) == pytest.approx(1.94727, abs=5e-6)


def test_muennighoff_published_loss():
    # Muennighoff et al. 2023: L(N=6.34e9, D=242e9, unique 25e9) = 2.2256.
    assert float(sl.MUENNIGHOFF_2023.loss(6.34e9, 242e9, 25e9)) == pytest.approx(2.2256, abs=5e-5)


def test_muennighoff_frontier_constant():
    # With alpha = beta, N_opt(D) = G^2 D and G^2 ~= 0.05099 (DESIGN.md).
    law = sl.MUENNIGHOFF_2023
    n_eff = law.effective_params(1e30, 1e12, 1e12)  # far beyond N_opt: saturates
    u_n = 0.05099 * 1e12
    assert float(n_eff) == pytest.approx(u_n * (1 + law.R_N), rel=1e-3)


def test_data_constrained_is_chinchilla_without_repeats():
    law = sl.MUENNIGHOFF_2023
    N, D = 1e9, 5e10  # N below N_opt(D) and one epoch of plentiful data
    assert float(law.loss(N, D, 1e13)) == pytest.approx(float(law.chinchilla.loss(N, D)), rel=1e-14)


def test_data_constrained_repeats_are_worth_less():
    law = sl.MUENNIGHOFF_2023
    fresh = law.loss(1e9, 1e11, 1e11)
    repeated = law.loss(1e9, 1e11, 1e10)  # ten epochs of a tenth of the data
    assert float(repeated) > float(fresh)
    # Up to about four epochs repeated data is almost as good as new (Muennighoff Fig. 3).
    assert float(law.effective_tokens(4e10, 1e10)) == pytest.approx(4e10, rel=0.1)


def test_kaplan_limits_and_compute_law():
    law = sl.KAPLAN_2020
    assert float(law.loss(1e9, 1e30)) == pytest.approx(float(law.loss_N(1e9)), rel=1e-9)
    assert float(law.loss(1e30, 1e10)) == pytest.approx(float(law.loss_D(1e10)), rel=1e-9)
    # L(C_min) = (C_c / C)^alpha_C with C_c = 3.1e8 PF-days (Kaplan et al. eq. 1.3).
    assert float(law.loss_C(sl.PF_DAY)) == pytest.approx(3.1e8**0.050, rel=1e-12)
    single = sl.KAPLAN_2020_SINGLE
    assert float(single.loss_N(8.8e13)) == pytest.approx(1.0)
    assert float(single.loss_D(5.4e13)) == pytest.approx(1.0)


def test_compute_law_inverse_round_trip():
    law = sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05)
    flops = jnp.array([1e18, 1e21, 1e25])
    assert np.allclose(law.flops_for_loss(law.loss(flops)), flops, rtol=1e-10)
    with pytest.raises(ValueError, match="loss"):
        law.flops_for_loss(1.6)
    assert np.isnan(jax.jit(law.flops_for_loss)(1.6))


LAWS_AND_CALLS = [
    (sl.HOFFMANN_2022, lambda law, x: law.loss(x, 20 * x)),
    (sl.KAPLAN_2020, lambda law, x: law.loss(x, 20 * x)),
    (sl.KAPLAN_2020, lambda law, x: law.loss_C(6 * 20 * x * x)),
    (sl.MUENNIGHOFF_2023, lambda law, x: law.loss(x, 40 * x, 5 * x)),
    (sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05), lambda law, x: law.loss(6 * 20 * x * x)),
]


@pytest.mark.parametrize("law, call", LAWS_AND_CALLS)
def test_jit_vmap_grad(law, call):
    sizes = jnp.array([1e8, 3e9, 7e10])
    eager = call(law, sizes)
    assert np.allclose(jax.jit(call)(law, sizes), eager, rtol=1e-14)
    # A batch of laws through vmap equals a Python loop over them.
    batch = jax.tree_util.tree_map(lambda leaf: leaf * jnp.array([0.9, 1.0, 1.1]), law)
    batched = jax.vmap(call, (0, None))(batch, sizes)
    for i in range(3):
        one = jax.tree_util.tree_map(lambda leaf: leaf[i], batch)
        assert np.allclose(batched[i], call(one, sizes), rtol=1e-14)
    # Gradient in every law parameter and the input, against central differences.
    x0 = 3e9
    grads = jax.grad(lambda law, x: call(law, x), argnums=(0, 1))(law, x0)
    for field in dataclasses.fields(law):
        value = getattr(law, field.name)
        h = 1e-6 * abs(value)
        up = call(dataclasses.replace(law, **{field.name: value + h}), x0)
        down = call(dataclasses.replace(law, **{field.name: value - h}), x0)
        assert float(getattr(grads[0], field.name)) == pytest.approx(float(up - down) / (2 * h), rel=1e-5, abs=1e-12)
    h = 1e-6 * x0
    fd = (call(law, x0 + h) - call(law, x0 - h)) / (2 * h)
    assert float(grads[1]) == pytest.approx(float(fd), rel=1e-5)


def test_laws_are_immutable_pytrees():
    law = sl.HOFFMANN_2022
    assert jax.tree_util.tree_leaves(law) == [law.E, law.A, law.B, law.alpha, law.beta]
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.E = 2.0
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, law)
    assert isinstance(doubled, sl.Chinchilla) and doubled.A == 2 * law.A


def test_law_leaves_broadcast_against_inputs():
    batch = sl.Chinchilla(E=jnp.array([1.6, 1.7]), A=400.0, B=400.0, alpha=0.34, beta=0.28)
    loss = batch.loss(jnp.array([[1e9], [1e10]]), 2e10)
    assert loss.shape == (2, 2)
    assert float(loss[1, 0]) == pytest.approx(float(sl.Chinchilla(1.6, 400.0, 400.0, 0.34, 0.28).loss(1e10, 2e10)))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: sl.HOFFMANN_2022.loss(-1.0, 1e10), "N"),
        (lambda: sl.HOFFMANN_2022.loss(1e9, float("nan")), "D"),
        (lambda: sl.HOFFMANN_2022.loss(jnp.array([1e9, 0.0]), 1e10), r"N\[1\]"),
        (lambda: sl.KAPLAN_2020.loss_C(float("inf")), "flops"),
        (lambda: sl.MUENNIGHOFF_2023.loss(1e9, 1e10, 0.0), "unique_tokens"),
        (lambda: sl.Chinchilla(1.7, 400.0, 400.0, -0.3, 0.28).loss(1e9, 1e10), "Chinchilla.alpha"),
        (lambda: sl.HOFFMANN_2022.loss(jnp.ones(3), jnp.ones(2)), "shapes"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_bad_input_under_jit_is_nan():
    loss = jax.jit(sl.HOFFMANN_2022.loss)(jnp.array([1e9, -1.0, jnp.nan]), 1e10)
    assert np.isfinite(loss[0]) and np.isnan(loss[1:]).all()


@pytest.mark.float32
def test_float32_loss_follows_input_dtype():
    with jax.enable_x64(False):
        loss32 = sl.HOFFMANN_2022.loss(jnp.float32(70e9), jnp.float32(1.4e12))
        assert loss32.dtype == jnp.float32
    loss64 = sl.HOFFMANN_2022.loss(70e9, 1.4e12)
    assert loss64.dtype == jnp.float64
    assert float(loss32) == pytest.approx(float(loss64), rel=1e-6)


def test_presets_match_design():
    assert sl.PRESETS["hoffmann-2022"] is sl.HOFFMANN_2022
    assert sl.EPOCH_2024 == sl.Chinchilla(E=1.82, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
    law = sl.MUENNIGHOFF_2023
    assert (law.E, law.A, law.B) == pytest.approx((1.8691, 520.82, 1487.72), rel=1e-4)
    assert sl.KAPLAN_2020.C_c == pytest.approx(3.1e8 * 8.64e19)
    assert math.isclose(sl.PF_DAY, 8.64e19)


def test_losses_accept_lists_and_tuples():
    N, D = [1e9, 7e10], (2e10, 1.4e12)
    for law in (sl.HOFFMANN_2022, sl.KAPLAN_2020):
        np.testing.assert_allclose(law.loss(N, D), law.loss(jnp.asarray(N), jnp.asarray(D)), rtol=1e-15)
    np.testing.assert_allclose(sl.MUENNIGHOFF_2023.loss(N, D, [25e9]), sl.MUENNIGHOFF_2023.loss(jnp.asarray(N), jnp.asarray(D), 25e9))
    compute = sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05)
    np.testing.assert_allclose(compute.flops_for_loss([1.8, 1.9]), compute.flops_for_loss(jnp.array([1.8, 1.9])))
    np.testing.assert_allclose(sl.KAPLAN_2020.loss_C([1e21, 1e23]), sl.KAPLAN_2020.loss_C(jnp.array([1e21, 1e23])))


def test_compute_law_overflow_raises_not_inf():
    law = sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.01)  # (1e-5)^-100 FLOPs
    with pytest.raises(ValueError, match="ComputeLaw.flops_for_loss overflows float64"):
        law.flops_for_loss(1.7 + 1e-5)
    assert np.isnan(jax.jit(law.flops_for_loss)(1.7 + 1e-5))


@pytest.mark.float32
def test_float32_data_constrained_derivative_is_finite_for_huge_models():
    # N / U_N - 1 is formed in logs: its derivative does not multiply N ~ 1e23 by dU_N.
    law = sl.DataConstrained(E=1.41, A=1387.5, B=961.0, alpha=0.219, beta=0.343, R_D=19.6, R_N=2.92)
    with jax.enable_x64(False):
        law = jax.tree_util.tree_map(jnp.float32, law)
        log_half = jnp.log(jnp.float32(4.9e34 / 6))

        def loss(s):
            return law.loss(jnp.exp(s), jnp.exp(log_half - s), jnp.float32(2.53e12))

        s = jnp.linspace(20.0, 78.0, 59, dtype=jnp.float32)
        slopes = jax.jvp(loss, (s,), (jnp.ones_like(s),))[1]  # forward mode, as the solvers use
    assert np.isfinite(slopes).all()
