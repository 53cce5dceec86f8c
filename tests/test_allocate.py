"""Allocation solvers: published numbers, scipy, optimality properties, implicit gradients."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

import scalinglaws_jax as sl

SARDANA = sl.Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)
PROPERTY = settings(max_examples=40, deadline=None)

laws = st.builds(
    sl.Chinchilla,
    E=st.floats(0.5, 2.5),
    A=st.floats(50.0, 5000.0),
    B=st.floats(50.0, 5000.0),
    alpha=st.floats(0.15, 0.8),
    beta=st.floats(0.15, 0.8),
)
budgets = st.floats(15.0, 28.0).map(lambda e: 10.0**e)
inference = st.one_of(st.just(0.0), st.floats(3.0, 16.0).map(lambda e: 10.0**e))


def rel(a, b):
    return abs(float(a) / float(b) - 1.0)


# ----------------------------------------------------------------------------------
# published numbers


def test_hoffmann_compute_optimal_at_gopher_budget():
    # DESIGN.md: with the unrounded approach-3 law, N* at 5.76e23 FLOPs is ~40.4e9.
    plan = sl.compute_optimal(sl.HOFFMANN_2022, 5.76e23)
    assert float(plan.N) == pytest.approx(40.4e9, rel=2e-3)
    assert float(plan.training_flops) == pytest.approx(5.76e23, rel=1e-12)
    # a = beta / (alpha + beta) = 0.457 unrounded (DESIGN.md).
    big = sl.compute_optimal(sl.HOFFMANN_2022, 5.76e25)
    assert np.log(float(big.N) / float(plan.N)) / np.log(100.0) == pytest.approx(0.457, abs=5e-4)


def test_sardana_inference_optimal():
    # Sardana et al. 2023: at loss 1.947 with 2e12 inference tokens, N = 2.418e10 on
    # D = 2.657e12 tokens (2.409e10 and 2.650e12 at the unrounded 1.94727).
    plan = sl.inference_optimal(SARDANA, 1.947, 2e12)
    assert int(plan.status) == 0
    assert float(plan.N) == pytest.approx(2.418e10, rel=1e-3)
    assert float(plan.D) == pytest.approx(2.657e12, rel=1e-3)
    exact = sl.inference_optimal(SARDANA, SARDANA.loss(70e9, 1e12), 2e12)
    assert float(exact.N) == pytest.approx(2.409e10, rel=1e-3)
    assert float(exact.D) == pytest.approx(2.650e12, rel=1e-3)
    # The 70B Chinchilla-style model costs more over its lifetime than the optimum.
    chinchilla_cost = 6 * 70e9 * 1e12 + 2 * 70e9 * 2e12
    assert float(exact.lifetime_flops) < chinchilla_cost


def test_budget_table_shape_and_rule_of_thumb():
    table = sl.budget_table(sl.EPOCH_2024)
    assert len(table["N"]) == 7 and np.allclose(table["flops"], 10.0 ** np.arange(19, 26))
    # Besiroglu et al.'s law keeps close to 20 tokens per parameter (a ~= b ~= 0.5)...
    assert np.all((table["tokens_per_param"] > 15) & (table["tokens_per_param"] < 30))
    assert np.all(np.diff(table["loss"]) < 0)
    # ...while Hoffmann's approach-3 law (a = 0.457) drifts from ~23 to ~76 over 1e19-1e25.
    drift = sl.budget_table(sl.HOFFMANN_2022)["tokens_per_param"]
    assert drift[0] == pytest.approx(22.7, rel=0.01) and drift[-1] == pytest.approx(75.5, rel=0.01)


# ----------------------------------------------------------------------------------
# compute_optimal: closed form vs generic numeric vs scipy


@PROPERTY
@given(law=laws, flops=budgets)
def test_closed_form_equals_numeric(law, flops):
    closed = sl.compute_optimal(law, flops)
    numeric = sl.compute_optimal(law, flops, method="numeric")
    if int(numeric.status) != 0:  # optimum below 1 parameter or 1 token: reported, not hidden
        assert float(closed.N) < 10 or float(closed.D) < 10
        return
    assert rel(numeric.N, closed.N) < 1e-8
    assert rel(numeric.D, closed.D) < 1e-8
    assert rel(numeric.loss, closed.loss) < 1e-12


@PROPERTY
@given(law=laws, flops=budgets)
def test_compute_optimal_constraint_and_neighbours(law, flops):
    plan = sl.compute_optimal(law, flops)
    assert rel(6 * plan.N * plan.D, flops) < 1e-12
    for factor in (0.9, 0.99, 1.01, 1.1):
        N = float(plan.N) * factor
        assert float(law.loss(N, flops / (6 * N))) >= float(plan.loss) - 1e-13


def test_compute_optimal_matches_scipy():
    law = sl.EPOCH_2024
    for flops in (1e19, 1e22, 1e25):
        objective = lambda s: float(law.loss(np.exp(s), flops / (6 * np.exp(s))))
        best = optimize.minimize_scalar(objective, bounds=(10, 40), method="bounded", options={"xatol": 1e-10})
        assert float(np.log(sl.compute_optimal(law, flops).N)) == pytest.approx(best.x, abs=1e-6)


def test_kaplan_closed_form_equals_numeric():
    # Kaplan's joint law is solved exactly through its Chinchilla form; check it against
    # the generic search on the law's own loss.
    flops = jnp.geomspace(1e15, 1e27, 13)
    closed = sl.compute_optimal(sl.KAPLAN_2020, flops)
    numeric = sl.compute_optimal(sl.KAPLAN_2020, flops, method="numeric")
    assert np.all(closed.status == 0) and np.all(numeric.status == 0)
    assert np.allclose(numeric.N, closed.N, rtol=1e-8)
    assert np.allclose(closed.loss, sl.KAPLAN_2020.loss(closed.N, closed.D), rtol=1e-13)


def test_numeric_solver_takes_a_user_law():
    @jax.tree_util.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class Shifted:
        base: sl.Chinchilla

        def loss(self, N, D):  # a law the library does not know
            return self.base.loss(N, D) + 0.01 * jnp.log(N) / N

    flops = jnp.array([1e20, 1e23])
    plan = sl.compute_optimal(Shifted(sl.HOFFMANN_2022), flops)
    reference = sl.compute_optimal(sl.HOFFMANN_2022, flops)
    assert np.all(plan.status == 0)
    assert np.allclose(plan.N, reference.N, rtol=1e-3)


def test_compute_law_has_no_split():
    with pytest.raises(TypeError, match="ComputeLaw"):
        sl.compute_optimal(sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05), 1e21)
    law = sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05)
    assert float(sl.flops_for_loss(law, law.loss(1e21))) == pytest.approx(1e21, rel=1e-10)


# ----------------------------------------------------------------------------------
# lifetime budgets and inference-aware plans


def lifetime_reference(law, flops, tokens):
    """(N, D) at the stationary point of L on 6 N D + 2 N T = C, by scipy's brentq on
    N dL/dN = -alpha x + beta y (D + T/3) / D over log D (float64)."""
    def condition(w):
        D = np.exp(w)
        N = flops / (6 * (D + tokens / 3))
        return -law.alpha * law.A * N**-law.alpha + law.beta * law.B * D**-law.beta * (1 + tokens / (3 * D))

    w = optimize.brentq(condition, -200.0, 200.0, xtol=1e-14)
    return flops / (6 * (np.exp(w) + tokens / 3)), np.exp(w)


@PROPERTY
@given(law=laws, flops=budgets, tokens=inference)
def test_lifetime_budget_constraint_and_neighbours(law, flops, tokens):
    plan = sl.compute_optimal(law, flops, inference_tokens=tokens)
    if int(plan.status) == 1:  # infeasible only where the optimum is less than 1 parameter or 1 token
        N, D = lifetime_reference(law, flops, tokens)
        assert N < 1 or D < 1
        return
    assert int(plan.status) == 0
    assert rel(plan.lifetime_flops, flops) < 1e-10
    for factor in (0.95, 0.999, 1.001, 1.05):
        N = float(plan.N) * factor
        D = (flops - 2 * N * tokens) / (6 * N)
        if D > 0:
            assert float(law.loss(N, D)) >= float(plan.loss) - 1e-12


@PROPERTY
@given(law=laws, reducible=st.floats(0.01, 3.0), tokens=inference)
def test_inference_optimal_constraint_and_neighbours(law, reducible, tokens):
    target = law.E + reducible
    plan = sl.inference_optimal(law, target, tokens)
    assert int(plan.status) == 0
    assert rel(law.loss(plan.N, plan.D), target) < 1e-12
    for factor in (0.95, 0.999, 1.001, 1.05):
        N = float(plan.N) * factor
        gap = reducible - law.A * N**-law.alpha
        if gap > 0:
            D = (law.B / gap) ** (1 / law.beta)
            assert 6 * N * D + 2 * N * tokens >= float(plan.lifetime_flops) * (1 - 1e-12)


@PROPERTY
@given(law=laws, reducible=st.floats(0.01, 3.0), tokens=inference)
def test_primal_and_dual_agree(law, reducible, tokens):
    # The least lifetime compute for a loss, spent as a lifetime budget, buys that loss.
    primal = sl.inference_optimal(law, law.E + reducible, tokens)
    dual = sl.compute_optimal(law, primal.lifetime_flops, inference_tokens=tokens)
    assert rel(dual.N, primal.N) < 1e-8
    assert rel(dual.D, primal.D) < 1e-8


def test_zero_inference_is_compute_optimal():
    for flops in (1e19, 1e23, 1e26):
        plan = sl.compute_optimal(sl.HOFFMANN_2022, flops)
        back = sl.inference_optimal(sl.HOFFMANN_2022, plan.loss, 0.0)
        assert rel(back.N, plan.N) < 1e-10 and rel(back.training_flops, flops) < 1e-10
        assert rel(sl.flops_for_loss(sl.HOFFMANN_2022, plan.loss), flops) < 1e-10
        lifetime = sl.compute_optimal(sl.HOFFMANN_2022, flops, inference_tokens=0.0)
        assert rel(lifetime.N, plan.N) < 1e-12


def test_inference_optimal_matches_scipy():
    target, tokens = 2.1, 1e13
    law = SARDANA

    def lifetime(log_N):
        N = np.exp(log_N)
        D = (law.B / (target - law.E - law.A * N**-law.alpha)) ** (1 / law.beta)
        return np.log(6 * N * D + 2 * N * tokens)

    floor = np.log((law.A / (target - law.E)) ** (1 / law.alpha))
    best = optimize.minimize_scalar(lifetime, bounds=(floor + 1e-9, floor + 20), method="bounded", options={"xatol": 1e-10})
    assert float(np.log(sl.inference_optimal(law, target, tokens).N)) == pytest.approx(best.x, abs=1e-6)


def test_more_inference_means_smaller_longer_trained_models():
    tokens = jnp.array([0.0, 1e10, 1e12, 1e14])
    plan = sl.inference_optimal(sl.HOFFMANN_2022, 2.0, tokens)
    assert np.all(np.diff(plan.N) < 0) and np.all(np.diff(plan.tokens_per_param) > 0)


def test_kaplan_inference_optimal_reaches_target():
    plan = sl.inference_optimal(sl.KAPLAN_2020, 2.5, 1e12)
    assert int(plan.status) == 0
    assert float(sl.KAPLAN_2020.loss(plan.N, plan.D)) == pytest.approx(2.5, rel=1e-12)


# ----------------------------------------------------------------------------------
# data-constrained allocation


def test_data_constrained_matches_scipy():
    # scipy's argmin, then its smallest and largest N within the flat tolerance (brentq).
    law = sl.MUENNIGHOFF_2023
    tolerance = sl.allocate.FLAT_TOLERANCE
    for flops, unique in ((1e21, 1e11), (1e22, 25e9), (1e23, 1e10)):
        objective = lambda s: float(law.loss(np.exp(s), flops / (6 * np.exp(s)), unique))
        best = optimize.minimize_scalar(objective, bounds=(15, 30), method="bounded", options={"xatol": 1e-10})
        edge = lambda s: objective(s) - (1 + tolerance) * best.fun
        low = optimize.brentq(edge, 15, best.x, xtol=1e-12)
        high = optimize.brentq(edge, best.x, 30, xtol=1e-12)
        plan = sl.data_constrained_optimal(law, flops, unique)
        assert int(plan.status) == 0
        assert float(np.log(plan.N)) == pytest.approx(low, abs=1e-6)
        assert float(np.log(plan.N_flat_max)) == pytest.approx(high, abs=1e-6)
        assert low < best.x - 1e-5  # the smallest model within the tolerance, not the argmin
        assert float(plan.epochs) == pytest.approx(float(plan.D) / unique)


def test_data_constrained_with_plenty_of_data_is_compute_optimal():
    law = sl.MUENNIGHOFF_2023
    plan = sl.data_constrained_optimal(law, 1e21, 1e15)
    free = sl.compute_optimal(law, 1e21)
    assert float(plan.epochs) < 1
    # Within the flat tolerance of the compute-optimal loss, with a model at most
    # sqrt(2 tol L / L'') smaller (~3e-4 in log N for this law).
    assert 0 <= float(plan.loss - free.loss) <= sl.allocate.FLAT_TOLERANCE * float(free.loss) * (1 + 1e-6)
    assert 0.999 * float(free.N) < float(plan.N) < float(free.N) < float(plan.N_flat_max)


@pytest.mark.parametrize("flops", [1e24, 1e26, 1e28])
def test_data_constrained_flat_loss_gives_the_smallest_model_and_the_flat_range(flops):
    # Muennighoff et al.'s law with 25e9 unique tokens: beyond ~1e24 FLOPs the loss is
    # flat (within 1e-9) over orders of magnitude of N; every budget buys the same loss.
    law, unique = sl.MUENNIGHOFF_2023, 25e9
    plan = sl.data_constrained_optimal(law, flops, unique)
    assert int(plan.status) == 0
    s = np.linspace(np.log(1e9), np.log(flops / 6 / 1e9), 20001)
    curve = np.asarray(law.loss(np.exp(s), flops / (6 * np.exp(s)), unique))
    inside = np.exp(s[curve <= curve.min() * (1 + sl.allocate.FLAT_TOLERANCE)])
    assert float(plan.N) == pytest.approx(inside.min(), rel=2e-3)
    assert float(plan.N_flat_max) == pytest.approx(inside.max(), rel=2e-3)
    assert float(plan.loss) <= curve.min() * (1 + sl.allocate.FLAT_TOLERANCE) * (1 + 1e-15)
    start = np.sqrt(flops / 6)  # where the search starts
    assert abs(np.log(float(plan.N) / start)) > 1


def test_data_constrained_plan_is_a_pytree_under_jit_vmap_grad():
    law = sl.MUENNIGHOFF_2023
    flops = jnp.array([1e22, 1e26])
    eager = sl.data_constrained_optimal(law, flops, 25e9)
    chex.assert_trees_all_close(jax.jit(sl.data_constrained_optimal)(law, flops, 25e9), eager, rtol=1e-12)
    mapped = jax.vmap(sl.data_constrained_optimal, (None, 0, None))(law, flops, 25e9)
    chex.assert_trees_all_close(mapped, eager, rtol=1e-12)
    for field in ("N", "N_flat_max"):
        grad = jax.grad(lambda c: jnp.log(getattr(sl.data_constrained_optimal(law, c, 25e9), field)))(1e26)
        h = 1e-4 * 1e26
        up, down = (np.log(getattr(sl.data_constrained_optimal(law, 1e26 + d, 25e9), field)) for d in (h, -h))
        assert float(grad) == pytest.approx(float(up - down) / (2 * h), rel=1e-3), field


def test_scarce_data_buys_bigger_models_and_more_epochs():
    plan = sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, 1e23, jnp.array([1e13, 1e11, 1e10]))
    assert np.all(np.diff(plan.epochs) > 0)
    assert np.all(np.diff(plan.loss) > 0)


# ----------------------------------------------------------------------------------
# gradients: implicit, against finite differences and the closed form

SOLVERS = {
    "compute_optimal": lambda law, x: sl.compute_optimal(law, x).N,
    "compute_optimal_numeric": lambda law, x: sl.compute_optimal(law, x, method="numeric").N,
    "lifetime": lambda law, x: sl.compute_optimal(law, x, inference_tokens=1e12).N,
    "inference_optimal": lambda law, x: sl.inference_optimal(law, 1.9 + 1e-24 * x, 1e12).N,
    "inference_optimal_D": lambda law, x: sl.inference_optimal(law, 1.9 + 1e-24 * x, 1e12).D,
}


@pytest.mark.parametrize("name", SOLVERS)
def test_gradients_match_finite_differences(name):
    solve = SOLVERS[name]
    law, x0 = sl.HOFFMANN_2022, 1e23
    grads = jax.grad(lambda law, x: jnp.log(solve(law, x)), argnums=(0, 1))(law, x0)
    for field in dataclasses.fields(law):
        value = getattr(law, field.name)
        h = 1e-5 * abs(value)
        up = np.log(solve(dataclasses.replace(law, **{field.name: value + h}), x0))
        down = np.log(solve(dataclasses.replace(law, **{field.name: value - h}), x0))
        assert float(getattr(grads[0], field.name)) == pytest.approx(float(up - down) / (2 * h), rel=1e-4, abs=1e-9), field.name
    h = 1e-5 * x0
    fd = (np.log(solve(law, x0 + h)) - np.log(solve(law, x0 - h))) / (2 * h)
    assert float(grads[1]) == pytest.approx(float(fd), rel=1e-4, abs=1e-30)


def test_numeric_gradients_equal_closed_form_gradients():
    # The numeric solver's derivatives come from the implicit function theorem; the
    # closed form's from differentiating the formula. They must agree.
    closed = jax.grad(lambda law, c: sl.compute_optimal(law, c).N, argnums=(0, 1))(sl.EPOCH_2024, 1e22)
    numeric = jax.grad(lambda law, c: sl.compute_optimal(law, c, method="numeric").N, argnums=(0, 1))(sl.EPOCH_2024, 1e22)
    for a, b in zip(jax.tree_util.tree_leaves(closed), jax.tree_util.tree_leaves(numeric)):
        assert float(b) == pytest.approx(float(a), rel=1e-7)


@pytest.mark.parametrize("name", SOLVERS)
def test_gradients_are_implicit_not_unrolled(name):
    # Implicit differentiation adds no loop to the backward pass: the gradient program
    # runs the same solver loops as the forward one (reverse mode through the numeric
    # solver's while_loop would not even be possible).
    def solve(alpha):
        return SOLVERS[name](dataclasses.replace(sl.HOFFMANN_2022, alpha=alpha), 1e23)

    def loops(f):
        text = str(jax.make_jaxpr(f)(0.34))
        return text.count("while[") + text.count("scan[")

    assert np.isfinite(jax.grad(solve)(0.34))
    assert loops(jax.grad(solve)) == loops(solve)


def test_data_constrained_gradient():
    law = sl.MUENNIGHOFF_2023
    grad = jax.grad(lambda u: jnp.log(sl.data_constrained_optimal(law, 1e22, u).N))(25e9)
    h = 25e9 * 1e-5
    fd = (np.log(sl.data_constrained_optimal(law, 1e22, 25e9 + h).N) - np.log(sl.data_constrained_optimal(law, 1e22, 25e9 - h).N)) / (2 * h)
    assert float(grad) == pytest.approx(float(fd), rel=1e-4)


# ----------------------------------------------------------------------------------
# jit, vmap, retracing, batched laws


def test_jit_equals_eager_and_vmap_equals_loop():
    flops = jnp.geomspace(1e19, 1e25, 7)
    tokens = jnp.geomspace(1e9, 1e15, 7)
    for solve in (
        lambda law, c, t: sl.compute_optimal(law, c, inference_tokens=t),
        lambda law, c, t: sl.inference_optimal(law, law.E + 1e-23 * c**0.9 + 0.05, t),
    ):
        eager = solve(sl.HOFFMANN_2022, flops, tokens)
        jitted = jax.jit(solve)(sl.HOFFMANN_2022, flops, tokens)
        chex.assert_trees_all_close(eager, jitted, rtol=1e-13)
        mapped = jax.vmap(solve, (None, 0, 0))(sl.HOFFMANN_2022, flops, tokens)
        for i in range(len(flops)):
            one = solve(sl.HOFFMANN_2022, flops[i], tokens[i])
            chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[i], mapped), one, rtol=1e-13)


PROPERTY_SOLVERS = (
    lambda law, c, t: sl.compute_optimal(law, c),
    lambda law, c, t: sl.compute_optimal(law, c, inference_tokens=t),
    lambda law, c, t: sl.inference_optimal(law, law.E + 0.05 * jnp.log(c), t),
)
PROPERTY_SOLVERS_JIT = tuple(jax.jit(solve) for solve in PROPERTY_SOLVERS)


@settings(max_examples=15, deadline=None)
@given(law=laws, exponents=st.lists(st.floats(17.0, 27.0), min_size=3, max_size=3), tokens=inference)
def test_property_vmap_loop_jit_eager(law, exponents, tokens):
    flops = jnp.asarray([10.0**e for e in exponents])
    for solve, jitted in zip(PROPERTY_SOLVERS, PROPERTY_SOLVERS_JIT):
        eager = solve(law, flops, tokens)
        chex.assert_trees_all_close(jitted(law, flops, tokens), eager, rtol=1e-12)
        mapped = jax.vmap(solve, (None, 0, None))(law, flops, tokens)
        looped = [solve(law, float(c), tokens) for c in flops]
        for i, one in enumerate(looped):
            chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[i], mapped), one, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(law=laws, exponent=st.floats(18.0, 26.0), tokens=inference)
def test_property_gradients_match_finite_differences(law, exponent, tokens):
    flops = 10.0**exponent
    solvers = (
        lambda law, c: sl.compute_optimal(law, c, inference_tokens=tokens).N,
        lambda law, c: sl.inference_optimal(law, law.E + 0.05 * jnp.log(c), tokens).D,
    )
    for solve in solvers:
        grad = jax.grad(lambda law, c: jnp.log(solve(law, c)), argnums=(0, 1))(law, flops)
        for field in ("A", "beta"):
            value = getattr(law, field)
            h = 1e-6 * value
            up = np.log(solve(dataclasses.replace(law, **{field: value + h}), flops))
            down = np.log(solve(dataclasses.replace(law, **{field: value - h}), flops))
            assert float(getattr(grad[0], field)) == pytest.approx(float(up - down) / (2 * h), rel=1e-4, abs=1e-8)
        h = 1e-6 * flops
        fd = (np.log(solve(law, flops + h)) - np.log(solve(law, flops - h))) / (2 * h)
        assert float(grad[1]) * flops == pytest.approx(float(fd) * flops, rel=1e-4, abs=1e-8)


def test_batched_law_through_vmap():
    # A bootstrap or posterior is a law with a leading draw axis (DESIGN.md).
    draws = jax.tree_util.tree_map(lambda x: x * jnp.linspace(0.95, 1.05, 5), sl.EPOCH_2024)
    flops = jnp.array([1e21, 1e23])
    plans = jax.vmap(sl.compute_optimal, (0, None))(draws, flops)
    assert plans.N.shape == (5, 2)
    for i in range(5):
        one = jax.tree_util.tree_map(lambda x: x[i], draws)
        assert np.allclose(plans.N[i], sl.compute_optimal(one, flops).N, rtol=1e-13)
    numeric = jax.vmap(lambda law: sl.compute_optimal(law, flops, method="numeric"))(draws)
    assert np.allclose(numeric.N, plans.N, rtol=1e-8)


def test_no_retracing_across_calls():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def plan(law, flops, tokens):
        return sl.inference_optimal(law, 2.0 + 0 * flops, tokens).N + sl.compute_optimal(law, flops).N

    for scale in (1.0, 2.0, 3.0):
        plan(sl.HOFFMANN_2022, jnp.full(4, 1e22 * scale), jnp.full(4, 1e12 * scale))


# ----------------------------------------------------------------------------------
# bad input: eager errors name the argument; under jit, NaN and a status


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sl.compute_optimal(sl.HOFFMANN_2022, -1e21), "flops"),
        (lambda: sl.compute_optimal(sl.HOFFMANN_2022, jnp.array([1e21, jnp.nan])), r"flops\[1\]"),
        (lambda: sl.compute_optimal(sl.HOFFMANN_2022, 1e21, inference_tokens=-5.0), "inference_tokens"),
        (lambda: sl.compute_optimal(sl.HOFFMANN_2022, jnp.ones(3), inference_tokens=jnp.ones(2)), "shapes"),
        (lambda: sl.compute_optimal(sl.HOFFMANN_2022, 1e21, method="newton"), "method"),
        (lambda: sl.inference_optimal(sl.HOFFMANN_2022, 1.5, 1e12), "irreducible"),
        (lambda: sl.inference_optimal(sl.HOFFMANN_2022, float("inf"), 1e12), "loss"),
        (lambda: sl.inference_optimal(dataclasses.replace(sl.HOFFMANN_2022, B=0.0), 2.0), "Chinchilla.B"),
        (lambda: sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, 1e21, -1.0), "unique_tokens"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_wrong_law_type_raises():
    with pytest.raises(TypeError, match="DataConstrained"):
        sl.data_constrained_optimal(sl.HOFFMANN_2022, 1e21, 1e10)
    with pytest.raises(TypeError, match="ComputeLaw"):
        sl.compute_optimal(sl.ComputeLaw(E=1.7, C0=1e10, alpha=0.05), 1e21, inference_tokens=1e9)


def test_integer_budgets_beyond_int64():
    # 10**24 does not fit in int64; it is read as a float, not overflowed.
    assert float(sl.compute_optimal(sl.HOFFMANN_2022, 10**24).N) == pytest.approx(
        float(sl.compute_optimal(sl.HOFFMANN_2022, 1e24).N), rel=1e-14
    )


def test_status_under_jit():
    loss = jnp.array([2.0, 1.5, jnp.nan, 2.0])
    tokens = jnp.array([1e12, 1e12, 1e12, -1.0])
    plan = jax.jit(sl.inference_optimal)(sl.HOFFMANN_2022, loss, tokens)
    assert plan.status.tolist() == [0, 1, 3, 3]
    assert np.isfinite(plan.N[0]) and np.isnan(plan.N[1:]).all() and np.isnan(plan.D[1:]).all()
    flops = jnp.array([1e21, 0.0, jnp.inf])
    budget = jax.jit(sl.compute_optimal)(sl.HOFFMANN_2022, flops)
    assert budget.status.tolist() == [0, 3, 3] and np.isnan(budget.N[1:]).all()
    lifetime = jax.jit(lambda c: sl.compute_optimal(sl.HOFFMANN_2022, c, inference_tokens=1e12))(flops)
    assert lifetime.status.tolist() == [0, 3, 3]
    bad_law = jax.jit(sl.compute_optimal)(dataclasses.replace(sl.HOFFMANN_2022, alpha=-0.1), 1e21)
    assert int(bad_law.status) == 3


def test_numeric_solver_reports_no_interior_optimum():
    @jax.tree_util.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class SizeOnly:
        A: float

        def loss(self, N, D):  # more parameters always help: the optimum is below D = 1 token
            return self.A / N + 0 * D

    plan = jax.jit(lambda c: sl.compute_optimal(SizeOnly(1.0), c, method="numeric"))(1e20)
    assert int(plan.status) == sl.Status.INFEASIBLE and np.isnan(plan.N)


def test_numeric_solver_never_settles_on_a_non_finite_derivative():
    @jax.tree_util.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class Broken:
        A: float

        def loss(self, N, D):  # a finite loss whose derivative is NaN everywhere (0 / 0)
            return self.A / N + self.A / D + jnp.sqrt(jnp.abs(N - N))

    plan = sl.compute_optimal(Broken(1.0), jnp.array([1e20, 1e24]), method="numeric")
    assert plan.status.tolist() == [sl.Status.NOT_CONVERGED] * 2 and np.isnan(plan.N).all()


@pytest.mark.parametrize("flops", [1e-3, 5.0, 10.0])
def test_tiny_budgets_are_infeasible_not_a_fraction_of_a_parameter(flops):
    # No plan below 1 parameter or 1 token is reported ok: these budgets' optima have
    # N* = 0.01 (C / 6)^0.5 < 1 (or C < 6 FLOPs, not one parameter on one token).
    law = sl.Chinchilla(E=1.0, A=50.0, B=5000.0, alpha=0.5, beta=0.5)  # N* = 0.01 (C / 6)^0.5
    for method in ("closed", "numeric"):
        plan = sl.compute_optimal(law, flops, method=method)
        assert int(plan.status) == sl.Status.INFEASIBLE and np.isnan(plan.N), method
    assert int(sl.compute_optimal(sl.KAPLAN_2020, 10.0).status) == sl.Status.INFEASIBLE
    lifetime = sl.compute_optimal(law, 1e15, inference_tokens=1e15)  # 2 N T > C for any N >= 1
    assert int(lifetime.status) == sl.Status.INFEASIBLE
    easy = sl.inference_optimal(law, 1000.0)  # reached by a model of 0.01 parameters
    assert int(easy.status) == sl.Status.INFEASIBLE


def test_solvers_accept_python_lists_and_tuples():
    law = sl.EPOCH_2024
    reference = sl.compute_optimal(law, jnp.array([1e20, 1e21]))
    for budgets in ([1e20, 1e21], (1e20, 1e21), [10**20, 10**21]):
        chex.assert_trees_all_close(sl.compute_optimal(law, budgets), reference, rtol=1e-14)
        chex.assert_trees_all_close(sl.compute_optimal(law, budgets, method="numeric").N, reference.N, rtol=1e-8)
    chex.assert_trees_all_close(sl.compute_optimal(law, [1e20, 1e21], inference_tokens=[0.0, 1e12]),
                                sl.compute_optimal(law, jnp.array([1e20, 1e21]), inference_tokens=jnp.array([0.0, 1e12])))
    chex.assert_trees_all_close(sl.inference_optimal(law, [2.0, 2.1], [0, 1e12]),
                                sl.inference_optimal(law, jnp.array([2.0, 2.1]), jnp.array([0.0, 1e12])))
    chex.assert_trees_all_close(sl.flops_for_loss(law, [2.0, 2.1]), sl.flops_for_loss(law, jnp.array([2.0, 2.1])))
    chex.assert_trees_all_close(sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, [1e21, 1e22], [25e9]),
                                sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, jnp.array([1e21, 1e22]), 25e9))
    assert np.allclose(sl.budget_table(law, [1e20, 1e21])["N"], reference.N)
    with pytest.raises(ValueError, match=r"flops\[1\]"):
        sl.compute_optimal(law, [1e20, -1.0])


@pytest.mark.float32
def test_float32_budget_beyond_its_range_is_named():
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"flops=1e\+39 is beyond the float32 range"):
            sl.compute_optimal(sl.EPOCH_2024, 1e39)


@pytest.mark.float32
def test_float32_overflowing_plan_is_not_ok():
    # The least compute for a loss 1e-4 above E overflows float32: status 2, never inf.
    with jax.enable_x64(False):
        law = jax.tree_util.tree_map(jnp.float32, sl.Chinchilla(E=1.0, A=50.0, B=4000.0, alpha=0.16, beta=0.16))
        plan = sl.inference_optimal(law, jnp.float32(1.0001))
        flops = sl.flops_for_loss(law, jnp.float32(1.0001))
    assert int(plan.status) == sl.Status.NOT_CONVERGED and np.isnan(plan.training_flops) and np.isnan(flops)


# ----------------------------------------------------------------------------------
# float32


@pytest.mark.float32
def test_float32_solvers_track_float64():
    flops = np.geomspace(1e18, 1e26, 9)
    tokens = np.geomspace(1e8, 1e16, 9)
    reference = sl.inference_optimal(sl.HOFFMANN_2022, 2.0, tokens)
    lifetime64 = sl.compute_optimal(sl.HOFFMANN_2022, flops, inference_tokens=tokens)
    with jax.enable_x64(False):
        law32 = jax.tree_util.tree_map(jnp.float32, sl.HOFFMANN_2022)
        plan = sl.inference_optimal(law32, jnp.float32(2.0), jnp.asarray(tokens, jnp.float32))
        lifetime = sl.compute_optimal(law32, jnp.asarray(flops, jnp.float32), inference_tokens=jnp.asarray(tokens, jnp.float32))
        assert plan.N.dtype == jnp.float32
    assert np.all(plan.status == 0) and np.all(lifetime.status == 0)
    assert np.max(np.abs(np.log(plan.N) - np.log(reference.N))) < 1e-4
    assert np.max(np.abs(np.log(lifetime.N) - np.log(lifetime64.N))) < 1e-4
