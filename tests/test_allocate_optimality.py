"""Every answer a solver reports with status 0 satisfies its optimality condition there.

For random laws, budgets (1e1 ... 1e35 FLOPs), inference volumes and target losses, in
float32 and in float64, and for every solver and method, each item with status 0 is
checked in float64 at the N and D the solver returned (converted exactly from its dtype),
against the law the solver saw (its leaves rounded to that dtype):

- it is a real plan: N >= 1 parameter, D >= 1 token, every field finite;
- the constraint holds (the budget is spent, or the target loss is reached);
- the stationarity condition of the constrained problem holds (written out below from
  the law's form, independently of the solver's own formulation);
- it beats its neighbours along the constraint.

A starting point can therefore never pass as an optimum: it fails the stationarity
condition unless it is the optimum. The tolerance is ``TOLERANCE * eps * (1 + sum of
|log| of the magnitudes involved)``: a solver in a dtype with machine epsilon eps can
place log N no closer than a few eps times |log N| (the rounding of log N itself, and of
the powers N^alpha that carry it), so an error in log N of that size is round-off, and
anything much larger (the 1e-1 ... 1 of a starting point) is a wrong answer.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

import scalinglaws_jax as sl
from scalinglaws_jax import allocate

EXAMPLES = settings(max_examples=60, deadline=None)
TOLERANCE = 64
"""Machine epsilons per unit of |log| (see the module docstring)."""

DTYPES = [pytest.param(np.float32, marks=pytest.mark.float32, id="float32"), pytest.param(np.float64, id="float64")]

chinchilla_laws = st.builds(
    sl.Chinchilla,
    E=st.floats(0.5, 2.5),
    A=st.floats(50.0, 5000.0),
    B=st.floats(50.0, 5000.0),
    alpha=st.floats(0.15, 0.8),
    beta=st.floats(0.15, 0.8),
)
kaplan_laws = st.builds(
    sl.Kaplan,
    N_c=st.floats(12.0, 15.0).map(lambda e: 10.0**e),
    D_c=st.floats(11.0, 15.0).map(lambda e: 10.0**e),
    alpha_N=st.floats(0.05, 0.12),
    alpha_D=st.floats(0.06, 0.15),
    C_c=st.just(3.1e8 * sl.PF_DAY),
    alpha_C=st.just(0.05),
)
laws = st.one_of(chinchilla_laws, kaplan_laws)
budgets = st.floats(1.0, 35.0).map(lambda e: 10.0**e)
inference = st.one_of(st.just(0.0), st.floats(0.0, 20.0).map(lambda e: 10.0**e))
data_constrained_laws = st.builds(
    sl.DataConstrained,
    E=st.floats(1.0, 2.5),
    A=st.floats(100.0, 3000.0),
    B=st.floats(100.0, 3000.0),
    alpha=st.floats(0.2, 0.5),
    beta=st.floats(0.2, 0.5),
    R_D=st.floats(3.0, 30.0),
    R_N=st.floats(2.0, 15.0),
)


# ----------------------------------------------------------------------------------
# helpers: solve in a dtype, check in float64


def in_dtype(dtype, law, *values):
    """The law and values rounded to ``dtype``, as the solver will see them."""
    cast = lambda x: jnp.asarray(x, dtype)
    return jax.tree_util.tree_map(cast, law), *map(cast, values)


def solve(dtype, solver, law, *values):
    """``solver(law, *values)`` in ``dtype`` (x64 off for float32); the law it saw and the
    result, both as float64 NumPy."""
    with jax.enable_x64(dtype == np.float64):
        law, *values = in_dtype(dtype, law, *values)
        result = solver(law, *values)
        assert result.N.dtype == dtype
    as64 = lambda x: np.asarray(x, np.float64)
    return jax.tree_util.tree_map(as64, law), [as64(v) for v in values], jax.tree_util.tree_map(as64, result)


def tolerance(dtype, *magnitudes) -> float:
    eps = float(np.finfo(dtype).eps)
    return TOLERANCE * eps * (1.0 + sum(abs(math.log(m)) for m in magnitudes))


def reduced(law):
    """(E, A, alpha, B, beta, to_reduced, from_reduced): a Chinchilla law, or Kaplan's joint law
    written as one, L^(1/alpha_D) = (N_c/N)^(alpha_N/alpha_D) + D_c/D (Kaplan et al. 2020, eq. 1.5)."""
    if isinstance(law, sl.Kaplan):
        a = float(law.alpha_N / law.alpha_D)
        return 0.0, float(law.N_c) ** a, a, float(law.D_c), 1.0, lambda L: L ** (1.0 / float(law.alpha_D))
    return float(law.E), float(law.A), float(law.alpha), float(law.B), float(law.beta), lambda L: L


def loss64(law, N, D):
    E, A, alpha, B, beta, _ = reduced(law)
    value = E + A * N**-alpha + B * D**-beta
    return value ** float(law.alpha_D) if isinstance(law, sl.Kaplan) else value


def assert_real_plan(plan):
    for name in ("N", "D", "loss", "training_flops", "inference_flops"):
        assert np.isfinite(getattr(plan, name)), f"{name} = {getattr(plan, name)} with status 0"
    assert plan.N >= 1.0, f"N = {plan.N} < 1 parameter with status 0"
    assert plan.D >= 1.0, f"D = {plan.D} < 1 token with status 0"


def neighbour_steps(tol):
    """Steps in log N for the neighbour comparisons: beyond the answer's round-off, and
    large enough for the loss difference (1/2 L'' step^2) to show in float64."""
    return (max(10 * tol, 1e-5), 0.1)


# ----------------------------------------------------------------------------------
# compute_optimal without inference: closed form and numeric search


def check_compute_optimal(dtype, law, flops, plan):
    assert_real_plan(plan)
    N, D = float(plan.N), float(plan.D)
    tol = tolerance(dtype, N, D, flops)
    assert abs(6 * N * D / flops - 1) <= tol, "6 N D != budget"
    assert abs(plan.training_flops / flops - 1) <= tol
    assert abs(plan.loss / loss64(law, N, D) - 1) <= tol
    # d L / d log N along 6 N D = C is -alpha x + beta y in the reduced law (x = A/N^alpha,
    # y = B/D^beta): zero at the optimum.
    _, A, alpha, B, beta, _ = reduced(law)
    x, y = A * N**-alpha, B * D**-beta
    residual = abs(alpha * x - beta * y) / (alpha * x + beta * y)
    assert residual <= tol, f"stationarity residual {residual:.3g} > {tol:.3g} at N = {N:.6g}"
    best = loss64(law, N, flops / (6 * N))
    for step in neighbour_steps(tol):
        for sign in (-1, 1):
            M = N * math.exp(sign * step)
            assert loss64(law, M, flops / (6 * M)) >= best * (1 - 4e-16), f"N x exp({sign * step:g}) is better"


@EXAMPLES
@given(law=laws, flops=budgets, method=st.sampled_from(["closed", "numeric"]))
@pytest.mark.parametrize("dtype", DTYPES)
def test_compute_optimal_status_0_is_optimal(dtype, law, flops, method):
    law64, (flops,), plan = solve(dtype, lambda law, c: sl.compute_optimal(law, c, method=method), law, flops)
    if plan.status == 0:
        check_compute_optimal(dtype, law64, float(flops), plan)
    else:
        assert np.isnan(plan.N) and np.isnan(plan.D)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("flops", [1e26, 1e30, 1e35])
def test_numeric_solver_finds_the_optimum_at_large_budgets(dtype, flops):
    # Besiroglu et al.'s law: the generic search must reach the closed form's answer, not
    # stop at its starting point sqrt(C / 6), in float32 as in float64.
    law64, (c,), plan = solve(dtype, lambda law, c: sl.compute_optimal(law, c, method="numeric"), sl.EPOCH_2024, flops)
    assert plan.status == 0
    check_compute_optimal(dtype, law64, float(c), plan)
    start = math.sqrt(float(c) / 6)
    assert abs(math.log(plan.N / start)) > 1.0


# ----------------------------------------------------------------------------------
# lifetime budgets: 6 N D + 2 N T = C


@EXAMPLES
@given(law=laws, flops=budgets, tokens=inference)
@pytest.mark.parametrize("dtype", DTYPES)
def test_lifetime_status_0_is_optimal(dtype, law, flops, tokens):
    law64, (flops, tokens), plan = solve(
        dtype, lambda law, c, t: sl.compute_optimal(law, c, inference_tokens=t), law, flops, tokens)
    if plan.status != 0:
        assert np.isnan(plan.N)
        return
    assert_real_plan(plan)
    C, T, N, D = float(flops), float(tokens), float(plan.N), float(plan.D)
    tol = tolerance(dtype, N, D, C)
    assert abs((6 * N * D + 2 * N * T) / C - 1) <= tol, "lifetime budget not spent"
    # Along D = C / (6 N) - T / 3: N dL/dN = -alpha x + beta y (D + T/3) / D.
    _, A, alpha, B, beta, _ = reduced(law64)
    x, y = A * N**-alpha, B * D**-beta
    k = 1.0 + T / (3.0 * D)
    residual = abs(alpha * x - beta * y * k) / (alpha * x + beta * y * k)
    assert residual <= tol, f"stationarity residual {residual:.3g} > {tol:.3g}"
    best = loss64(law64, N, C / (6 * N) - T / 3)
    for step in neighbour_steps(tol):
        for sign in (-1, 1):
            M = N * math.exp(sign * step)
            D_M = C / (6 * M) - T / 3
            if D_M > 0:
                assert loss64(law64, M, D_M) >= best * (1 - 4e-16)


# ----------------------------------------------------------------------------------
# target loss: least lifetime compute, and flops_for_loss


reducible = st.floats(-4.0, 1.0).map(lambda e: 10.0**e)


def check_inference_optimal(dtype, law, target, tokens, plan):
    assert_real_plan(plan)
    N, D, T = float(plan.N), float(plan.D), float(tokens)
    tol = tolerance(dtype, N, D, target)
    E, A, alpha, B, beta, to_reduced = reduced(law)
    R = to_reduced(target) - E
    x, y = A * N**-alpha, B * D**-beta
    assert abs(x + y - R) <= tol * R, "the plan misses the target loss"
    # Lagrange: alpha x = beta y (1 + T / (3 D)) (Sardana et al. 2023, sec. 2).
    k = 1.0 + T / (3.0 * D)
    residual = abs(alpha * x - beta * y * k) / (alpha * x + beta * y * k)
    assert residual <= tol, f"stationarity residual {residual:.3g} > {tol:.3g}"
    def cost_on_target(M):  # lifetime compute of M parameters at the D that reaches the target exactly
        gap = R - A * M**-alpha
        return 6 * M * (B / gap) ** (1 / beta) + 2 * M * T if gap > 0 else math.inf

    # The answer is compared on the exact iso-loss curve, as its neighbours are (its own D
    # carries the rounding of the answer's dtype, checked against the target above).
    cost = cost_on_target(N)
    for step in neighbour_steps(tol):
        for sign in (-1, 1):
            M = N * math.exp(sign * step)
            assert cost_on_target(M) >= cost * (1 - 4e-16), f"N x exp({sign * step:g}) is better"


@EXAMPLES
@given(law=laws, reducible=reducible, tokens=inference)
@pytest.mark.parametrize("dtype", DTYPES)
def test_inference_optimal_status_0_is_optimal(dtype, law, reducible, tokens):
    E = reduced(law)[0]
    target = (E + reducible) ** float(law.alpha_D) if isinstance(law, sl.Kaplan) else E + reducible
    law64, (target, tokens), plan = solve(dtype, sl.inference_optimal, law, target, tokens)
    if plan.status == 0:
        check_inference_optimal(dtype, law64, float(target), tokens, plan)
    else:
        assert np.isnan(plan.N)


@EXAMPLES
@given(law=chinchilla_laws, reducible=reducible)
@pytest.mark.parametrize("dtype", DTYPES)
def test_flops_for_loss_where_finite_buys_the_loss(dtype, law, reducible):
    with jax.enable_x64(dtype == np.float64):
        law_d, target = in_dtype(dtype, law, law.E + reducible)
        flops = sl.flops_for_loss(law_d, target)
    law64 = jax.tree_util.tree_map(lambda x: float(np.asarray(x, np.float64)), law_d)
    flops, target = float(flops), float(target)
    if not math.isfinite(flops):
        return
    # The compute-optimal plan at that budget (float64 closed form) reaches the target.
    G = (law64.alpha * law64.A / (law64.beta * law64.B)) ** (1 / (law64.alpha + law64.beta))
    a = law64.beta / (law64.alpha + law64.beta)
    N = G * (flops / 6) ** a
    D = flops / (6 * N)
    R = target - law64.E
    assert N >= 1 and D >= 1
    assert abs(loss64(law64, N, D) - target) <= tolerance(dtype, N, D, flops) * R


# ----------------------------------------------------------------------------------
# data-constrained: the smallest model within the flat tolerance of the minimum


def reference_minimum(law, flops, unique):
    """The least loss over N in [1, C / 6] (float64): a grid, then a bounded refinement."""
    top = math.log(flops / 6)
    s = np.linspace(0.0, top, 4001)
    curve = np.asarray(law.loss(np.exp(s), flops / (6 * np.exp(s)), unique))
    i = int(np.nanargmin(curve))
    lo, hi = s[max(i - 2, 0)], s[min(i + 2, len(s) - 1)]
    objective = lambda t: float(law.loss(math.exp(t), flops / (6 * math.exp(t)), unique))
    best = optimize.minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return min(float(curve[i]), float(best.fun)), (s[i] if curve[i] <= best.fun else best.x)


@EXAMPLES
@given(law=data_constrained_laws, flops=st.floats(15.0, 35.0).map(lambda e: 10.0**e),
       unique=st.floats(8.0, 13.0).map(lambda e: 10.0**e))
@pytest.mark.parametrize("dtype", DTYPES)
def test_data_constrained_status_0_is_the_smallest_near_optimal_model(dtype, law, flops, unique):
    law64, (flops, unique), plan = solve(dtype, sl.data_constrained_optimal, law, flops, unique)
    if plan.status != 0:
        assert np.isnan(plan.N) and np.isnan(plan.N_flat_max)
        return
    assert_real_plan(plan)
    C, U, N, D, top = float(flops), float(unique), float(plan.N), float(plan.D), float(plan.N_flat_max)
    tol = tolerance(dtype, N, D, C)
    assert abs(6 * N * D / C - 1) <= tol and abs(plan.epochs * U / D - 1) <= tol
    law64 = jax.tree_util.tree_map(float, law64)
    least, s_min = reference_minimum(law64, C, U)
    flat = allocate.flat_tolerance(dtype)
    margin = flat / 2
    band = (least * (1 + flat - margin), least * (1 + flat + margin))
    # The plan and the top of the flat range are on the edges of the band of losses
    # within the flat tolerance of the minimum, on either side of it.
    for name, M in (("N", N), ("N_flat_max", top)):
        L = float(law64.loss(M, C / (6 * M), U))
        assert band[0] <= L <= band[1], f"{name}: loss {L!r} outside {band} (minimum {least!r})"
    assert math.log(N) <= s_min + tol and math.log(top) >= s_min - tol
    assert abs(plan.loss / float(law64.loss(N, D, U)) - 1) <= tol
