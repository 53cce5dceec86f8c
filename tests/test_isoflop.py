"""Approaches 1 and 2 (loss envelope, IsoFLOP parabolas): synthetic laws and real data.

References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
sec. 3.1-3.2, Figure 3 and Table 2 (Approach 1: a = 0.50, 10th-90th percentile 0.488-0.502;
Approach 2: a = 0.49 (0.462-0.534), b = 0.51 (0.483-0.529)).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax.fit.isoflop import EnvelopeFit, IsoFLOPFit, fit_envelope, fit_isoflop
from scalinglaws_jax.fit.runs import Runs

LAW = sl.HOFFMANN_2022
A_TRUE = LAW.beta / (LAW.alpha + LAW.beta)  # 0.4566, the law's compute-optimal exponent
BUDGETS = np.geomspace(1e18, 1e22, 9)
# Hoffmann et al. 2022, Figure 3: the nine IsoFLOP budgets.
PAPER_BUDGETS = np.array([6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21])
CSV = Path(__file__).resolve().parents[2] / "shared/data/analyzing-chinchilla/svg_extracted_data.csv"


def profiles(centres, span=1.0, n=9, law=LAW, noise=0.0, seed=0, **extra):
    """IsoFLOP runs: n sizes log-spaced +-span dex around centres[i] at BUDGETS[i]."""
    N = (np.asarray(centres)[:, None] * np.logspace(-span, span, n)).ravel()
    flops = np.repeat(BUDGETS, n)
    loss = np.asarray(law.loss(N, flops / (6 * N)))
    loss = loss + noise * np.random.default_rng(seed).standard_normal(loss.shape)
    return Runs(N=N, flops=flops, loss=loss, **extra)


def optimum(flops):
    return np.asarray(sl.compute_optimal(LAW, flops).N)


def rough_guess(flops):
    # 20 tokens per parameter: off the law's optimum by an amount that varies with C.
    return np.sqrt(flops / 120.0)


def real_runs():
    try:
        from scalinglaws_jax import datasets

        return datasets.chinchilla()
    except ImportError:
        pass
    if not CSV.exists():
        pytest.skip(f"Chinchilla data absent: {CSV}")
    return Runs.from_csv(CSV, {"N": "Model Size", "flops": "Training FLOP", "loss": "loss"})


# ----------------------------------------------------------------------------------
# Approach 2 on synthetic IsoFLOP profiles


def test_isoflop_recovers_compute_optimal_exponent():
    # Sizes centred on a rough guess, so each budget sees the profile from another angle.
    fit = fit_isoflop(profiles(rough_guess(BUDGETS)))
    assert isinstance(fit, IsoFLOPFit) and fit.skipped == ()
    np.testing.assert_allclose(fit.budgets, BUDGETS, rtol=1e-12)
    # The parabola in log N only approximates the asymmetric profile: a off by ~1e-3.
    assert float(fit.a) == pytest.approx(A_TRUE, abs=2e-3)
    assert abs(float(fit.a) - A_TRUE) > 1e-5  # the approximation error is real
    assert float(fit.a + fit.b) == pytest.approx(1.0, abs=1e-12)
    assert float(fit.k_D) == pytest.approx(1.0 / (6.0 * float(fit.k_N)), rel=1e-10)
    np.testing.assert_allclose(fit.N_opt, optimum(BUDGETS), rtol=0.04)
    np.testing.assert_allclose(fit.D_opt, BUDGETS / (6 * fit.N_opt), rtol=1e-12)
    N, D = fit.predict(BUDGETS)
    np.testing.assert_allclose(N, optimum(BUDGETS), rtol=0.05)
    np.testing.assert_allclose(6 * N * D, BUDGETS, rtol=1e-10)
    # The parabola's minimum is within 3e-3 (0.1%) of the law's minimum loss at that budget.
    np.testing.assert_allclose(fit.loss_opt, np.asarray(sl.compute_optimal(LAW, BUDGETS).loss), atol=3e-3)


@pytest.mark.parametrize("span, bias", [(0.5, 1.0089), (0.75, 1.0201), (1.0, 1.0360)])
def test_isoflop_centred_sizes_bias_only_the_prefactor(span, bias):
    # The profile's shape in log N is the same at every budget, so with sizes at fixed
    # offsets around the optimum the parabola misplaces every N_opt by the same factor
    # (documented in fit_isoflop): a is exact, k_N is off by that factor.
    fit = fit_isoflop(profiles(optimum(BUDGETS), span=span))
    assert float(fit.a) == pytest.approx(A_TRUE, abs=1e-10)
    np.testing.assert_allclose(fit.N_opt / optimum(BUDGETS), bias, rtol=2e-4)


def test_isoflop_with_noise():
    runs = profiles(rough_guess(BUDGETS), n=15, noise=0.003, seed=1)
    fit = fit_isoflop(runs, key=jax.random.key(0), n_bootstrap=400)
    assert float(fit.a) == pytest.approx(A_TRUE, abs=0.02)
    np.testing.assert_allclose(fit.N_opt, optimum(BUDGETS), rtol=0.2)
    assert fit.a_interval[0] < A_TRUE < fit.a_interval[1]


def test_isoflop_uses_weights():
    runs = profiles(rough_guess(BUDGETS), noise=0.003, seed=2)
    half = Runs(N=runs.N, flops=runs.flops, loss=runs.loss, weight=np.full(len(runs), 0.5))
    double = Runs(N=np.tile(runs.N, 2), flops=np.tile(runs.flops, 2), loss=np.tile(runs.loss, 2))
    plain, halved, doubled = fit_isoflop(runs), fit_isoflop(half), fit_isoflop(double)
    np.testing.assert_allclose(halved.N_opt, plain.N_opt, rtol=1e-10)
    np.testing.assert_allclose(doubled.N_opt, plain.N_opt, rtol=1e-10)
    # Zero weight on the 3 largest sizes of the first budget moves its minimum.
    weight = np.ones(len(runs))
    weight[6:9] = 0.0
    moved = fit_isoflop(Runs(N=runs.N, flops=runs.flops, loss=runs.loss, weight=weight))
    assert moved.N_opt[0] != pytest.approx(plain.N_opt[0], rel=1e-6)
    np.testing.assert_allclose(moved.N_opt[1:], plain.N_opt[1:], rtol=1e-12)


# ----------------------------------------------------------------------------------
# grouping


def test_grouping_by_label_matches_clustering_and_names_groups():
    runs = profiles(rough_guess(BUDGETS))
    labels = np.repeat(np.arange(10, 19), 9)
    labelled = fit_isoflop(Runs(N=runs.N, flops=runs.flops, loss=runs.loss, group=labels))
    clustered = fit_isoflop(runs)
    np.testing.assert_allclose(labelled.N_opt, clustered.N_opt, rtol=1e-12)
    assert float(labelled.a) == pytest.approx(float(clustered.a), abs=1e-12)
    # Labels win over FLOPs: two budgets 0.02 dex apart are one cluster, two groups.
    close = np.repeat([1e19, 1.05e19, 1e21], 9)
    N = np.tile(np.logspace(-1, 1, 9), 3) * np.sqrt(close / 120)
    loss = np.asarray(LAW.loss(N, close / (6 * N)))
    with pytest.warns(RuntimeWarning, match="line through 2 points, which has no uncertainty"):
        merged = fit_isoflop(Runs(N=N, flops=close, loss=loss))
    assert len(merged.budgets) == 2 and merged.n_runs[0] == 18 and np.isnan(merged.a_se)
    split = fit_isoflop(Runs(N=N, flops=close, loss=loss, group=np.repeat([4, 5, 6], 9)))
    np.testing.assert_allclose(split.budgets, [1e19, 1.05e19, 1e21], rtol=1e-12)
    # A group with too few sizes is reported by its label; the budget is its geometric mean.
    group = np.repeat([4, 5, 6], 9)
    group[:2] = 7
    few = fit_isoflop(Runs(N=N, flops=close * np.r_[[1.0, 4.0], np.ones(25)], loss=loss, group=group))
    ((budget, reason),) = few.skipped
    assert budget == pytest.approx(np.sqrt(1e19 * 4e19), rel=1e-12)
    assert reason.startswith("group 7:") and "2 distinct size(s)" in reason


def test_explicit_budgets_assign_to_nearest_within_tolerance():
    runs = profiles(rough_guess(BUDGETS))
    given = BUDGETS * 10**0.02  # the nominal budgets differ a little from the real FLOPs
    fit = fit_isoflop(runs, budgets=np.r_[given, 1e25])
    np.testing.assert_allclose(fit.budgets, given, rtol=1e-12)
    np.testing.assert_allclose(fit.run_budget, np.repeat(given, 9), rtol=1e-12)
    assert fit.skipped == ((1e25, "no runs within tolerance_dex=0.05"),)
    assert float(fit.a) == pytest.approx(A_TRUE, abs=2e-3)
    # Runs farther than the tolerance from every budget stay out (run_budget NaN).
    some = fit_isoflop(runs, budgets=BUDGETS[:4])
    assert np.isnan(some.run_budget[36:]).all() and not np.isnan(some.run_budget[:36]).any()


def test_clustering_of_jittered_flops():
    # FLOPs jittered by up to +-0.03 dex around each budget cluster into 9 groups.
    runs = profiles(rough_guess(BUDGETS))
    jitter = 10 ** np.random.default_rng(3).uniform(-0.03, 0.03, len(runs))
    shaken = Runs(N=runs.N, flops=runs.flops * jitter, loss=runs.loss)
    fit = fit_isoflop(shaken)
    assert fit.skipped == () and np.all(fit.n_runs == 9)
    np.testing.assert_allclose(np.log10(fit.budgets), np.log10(BUDGETS), atol=0.03)
    assert np.all(np.abs(np.log10(shaken.flops / fit.run_budget)) <= 0.05)


def test_skipped_groups_are_reported_with_reasons():
    x = np.log10(np.array([1e8, 2e8, 4e8, 8e8]))
    good = [(C, 10 ** (x + 0.5 * np.log10(C / 1e19)), 3.0 + (x - x.mean()) ** 2) for C in (1e19, 1e20, 1e21)]
    concave = (1e22, 10**x, 3.0 - (x - x.mean()) ** 2)
    outside = (1e23, 10**x, 3.0 - 0.1 * x + 0.01 * (x - x.mean()) ** 2)  # minimum at 5 dex
    two_sizes = (1e24, np.array([1e9, 1e9, 2e9]), np.array([2.5, 2.6, 2.4]))
    parts = good + [concave, outside, two_sizes]
    runs = Runs(
        N=np.concatenate([N for _, N, _ in parts]),
        flops=np.concatenate([np.full(len(N), C) for C, N, _ in parts]),
        loss=np.concatenate([loss for _, _, loss in parts]),
    )
    fit = fit_isoflop(runs)
    np.testing.assert_allclose(fit.budgets, [1e19, 1e20, 1e21], rtol=1e-12)
    assert float(fit.a) == pytest.approx(0.5, abs=1e-10)
    (C1, concave), (C2, outside), (C3, few) = fit.skipped
    np.testing.assert_allclose([C1, C2, C3], [1e22, 1e23, 1e24], rtol=1e-12)
    assert "opens downward or is flat (curvature -1 loss per dex^2)" in concave
    assert "minimum N=" in outside and "outside the group's sizes 1e+08 to 8e+08" in outside
    assert "2 distinct size(s)" in few and "min_sizes=3" in few
    assert not np.isnan(fit.run_budget).any()


# ----------------------------------------------------------------------------------
# bootstrap


def test_bootstrap_is_reproducible_and_contains_the_estimate():
    runs = profiles(rough_guess(BUDGETS), n=12, noise=0.003, seed=4)
    one = fit_isoflop(runs, key=jax.random.key(7), n_bootstrap=300)
    again = fit_isoflop(runs, key=jax.random.key(7), n_bootstrap=300)
    other = fit_isoflop(runs, key=jax.random.key(8), n_bootstrap=300)
    legacy = fit_isoflop(runs, key=jax.random.PRNGKey(7), n_bootstrap=300)
    assert one.a_samples.shape == one.b_samples.shape == (300,)
    np.testing.assert_array_equal(one.a_samples, again.a_samples)
    np.testing.assert_array_equal(one.a_interval, again.a_interval)
    assert not np.array_equal(one.a_samples, other.a_samples)
    assert not np.allclose(one.a_interval, other.a_interval, rtol=1e-9)
    assert one.bootstrap_kept.shape == (9,) and np.all(one.bootstrap_kept > 0.9)
    assert np.isfinite(legacy.a_interval).all()
    for fit in (one, other):
        assert fit.a_interval[0] < float(fit.a) < fit.a_interval[1]
        assert fit.b_interval[0] < float(fit.b) < fit.b_interval[1]
        np.testing.assert_allclose(fit.a_samples + fit.b_samples, 1.0, atol=1e-12)
    # The point estimate is the same with or without the bootstrap.
    assert float(fit_isoflop(runs).a) == float(one.a)
    assert fit_isoflop(runs).a_interval is None
    # A wider level gives a wider interval from the same draws.
    wide = fit_isoflop(runs, key=jax.random.key(7), n_bootstrap=300, level=0.99)
    assert wide.a_interval[0] <= one.a_interval[0] and wide.a_interval[1] >= one.a_interval[1]


def test_bootstrap_spread_matches_noise():
    # More noise, wider intervals. Without noise the resamples differ only through the
    # parabola approximation on the sizes they happen to draw: within 1e-2 of a.
    quiet = fit_isoflop(profiles(rough_guess(BUDGETS)), key=jax.random.key(0), n_bootstrap=200)
    np.testing.assert_allclose(quiet.a_samples, float(quiet.a), atol=1e-2)
    widths = []
    for noise in (0.001, 0.01):
        runs = profiles(rough_guess(BUDGETS), n=12, noise=noise, seed=5)
        low, high = fit_isoflop(runs, key=jax.random.key(0), n_bootstrap=300).a_interval
        widths.append(high - low)
    assert widths[1] > 3 * widths[0]


# ----------------------------------------------------------------------------------
# Approach 1


def checkpoints(n_sizes=41):
    """Training curves: each size evaluated at 161 log-spaced FLOPs, group = run id."""
    sizes = np.geomspace(3e7, 3e10, n_sizes)  # brackets N* for 1e18..1e22 FLOPs
    N, flops = np.meshgrid(sizes, np.geomspace(1e18, 1e22, 161), indexing="ij")
    loss = np.asarray(LAW.loss(N, flops / (6 * N)))
    return Runs(N=N.ravel(), flops=flops.ravel(), loss=loss.ravel(), group=np.repeat(np.arange(n_sizes), 161))


def test_envelope_recovers_exponent_from_checkpoints():
    runs = checkpoints()
    fit = fit_envelope(runs)
    assert isinstance(fit, EnvelopeFit)
    # Envelope sizes are quantised to the 0.075-dex size grid: within half a step of N*.
    ratio = fit.N / optimum(fit.flops)
    assert np.all(np.abs(np.log10(ratio)) <= 0.075 / 2 + 1e-9)
    assert float(fit.a) == pytest.approx(A_TRUE, abs=5e-3)
    assert float(fit.a + fit.b) == pytest.approx(1.0, abs=1e-12)
    # The envelope is Pareto-optimal: loss strictly decreasing with FLOPs.
    assert np.all(np.diff(fit.flops) > 0) and np.all(np.diff(fit.loss) < 0)
    np.testing.assert_array_equal(fit.N, runs.N[fit.group * 161])
    # Fewer bins thin the envelope to one point per bin, keeping the exponent.
    thin = fit_envelope(runs, n_bins=40)
    assert len(thin.flops) == 40 and float(thin.a) == pytest.approx(A_TRUE, abs=5e-3)


def test_envelope_of_final_points_is_the_pareto_set():
    runs = profiles(rough_guess(BUDGETS), noise=0.002, seed=6)
    fit = fit_envelope(runs, n_bins=None)
    best = [np.min(runs.loss[runs.flops <= f]) for f in fit.flops]
    np.testing.assert_array_equal(fit.loss, best)
    for i in range(len(runs)):  # every run off the envelope has a cheaper, better run
        on = np.any((fit.flops == runs.flops[i]) & (fit.N == runs.N[i]))
        dominated = np.any((runs.flops <= runs.flops[i]) & (runs.loss < runs.loss[i]))
        assert on != dominated
    assert fit.group is None


def test_predict_is_jit_vmap_and_grad_friendly():
    fit = fit_isoflop(profiles(rough_guess(BUDGETS)))
    eager = fit.predict(BUDGETS)
    jitted = jax.jit(lambda f, c: f.predict(c))(fit, BUDGETS)
    mapped = jax.vmap(fit.predict)(jnp.asarray(BUDGETS))
    for got in (jitted, mapped):
        np.testing.assert_allclose(got[0], eager[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], eager[1], rtol=1e-12)
    # d log N / d log C = a.
    slope = jax.grad(lambda logc: jnp.log(fit.predict(jnp.exp(logc))[0]))(jnp.log(1e20))
    assert float(slope) == pytest.approx(float(fit.a), rel=1e-10)
    leaves, tree = jax.tree_util.tree_flatten(fit)
    assert jax.tree_util.tree_unflatten(tree, leaves).skipped == fit.skipped


# ----------------------------------------------------------------------------------
# real data: 245 points digitised from Hoffmann et al. Figure 4 (Besiroglu et al. 2024)


def test_real_data_clusters_find_the_isoflop_budgets():
    runs = real_runs()
    assert len(runs) == 245
    fit = fit_isoflop(runs)
    # At 0.05 dex the densest-first clustering makes 43 groups: the 9 IsoFLOP budgets of
    # Figure 3, a tenth dense one near 1.8e20 and stray runs that Figure 4 also shows. The
    # one near 1.8e20 has no clear minimum (curvature 0.23 +- 0.18 loss per dex^2): skipped.
    assert len(fit.budgets) + len(fit.skipped) == 43
    big = fit.budgets[fit.n_runs >= 9]
    assert len(big) == 9
    (reason,) = [reason for budget, reason in fit.skipped if abs(np.log10(budget / 1.8e20)) < 0.02]
    assert "is not significantly positive: no clear minimum" in reason
    # Each paper budget has a cluster within 0.05 dex (digitised FLOPs read ~0.01-0.04
    # dex low).
    offsets = np.log10(big)[None, :] - np.log10(PAPER_BUDGETS)[:, None]
    nearest = offsets[np.arange(9), np.abs(offsets).argmin(1)]
    assert np.all((nearest < 0.0) & (nearest > -0.05))
    # All 15 usable clusters: a = 0.529 +- 0.025, within Hoffmann's 0.49 +- 0.04.
    assert float(fit.a) == pytest.approx(0.49, abs=0.04)
    assert float(fit.a + fit.b) == pytest.approx(1.0, abs=1e-12)


def test_real_data_approach_2_near_hoffmann():
    runs = real_runs()
    fit = fit_isoflop(runs, budgets=PAPER_BUDGETS, key=jax.random.key(0), n_bootstrap=2000, level=0.8)
    # Every run within 0.05 dex of a Figure-3 budget: all 9 parabolas usable.
    assert fit.skipped == () and fit.n_runs.sum() == 139
    # Hoffmann et al. Table 2: a = 0.49 (0.462-0.534), b = 0.51 (0.483-0.529). We get
    # a = 0.502, b = 0.498, 80% interval for a 0.482-0.522 (key 0).
    assert float(fit.a) == pytest.approx(0.49, abs=0.02)
    assert float(fit.b) == pytest.approx(0.51, abs=0.02)
    assert 0.462 - 0.02 < fit.a_interval[0] < float(fit.a) < fit.a_interval[1] < 0.534 + 0.02
    # N_opt at 1e21 FLOPs within 20% of Figure 3's ~2.8e9 parameters on the fitted line.
    assert float(fit.predict(1e21)[0]) == pytest.approx(2.8e9, rel=0.2)


def test_real_data_approach_1_near_hoffmann():
    fit = fit_envelope(real_runs())
    # Final points only: the envelope is the 68 Pareto-optimal runs. a = 0.507 against
    # Hoffmann's 0.50 (0.488-0.502) from full training curves; the digitised losses are
    # quantised by the colour scale and the runs are sparse, so allow +-0.03.
    assert len(fit.flops) == 68
    assert float(fit.a) == pytest.approx(0.50, abs=0.03)
    assert float(fit.b) == pytest.approx(0.50, abs=0.03)


# ----------------------------------------------------------------------------------
# bad input


def test_bad_input():
    runs = profiles(rough_guess(BUDGETS))
    for tolerance in (0.0, -0.05, float("nan"), float("inf"), "0.05"):
        with pytest.raises(ValueError, match="tolerance_dex"):
            fit_isoflop(runs, tolerance_dex=tolerance)
    with pytest.raises(ValueError, match=r"budgets\[1\]=-1"):
        fit_isoflop(runs, budgets=[1e19, -1.0])
    with pytest.raises(ValueError, match="budgets must be a non-empty 1-D"):
        fit_isoflop(runs, budgets=[])
    with pytest.raises(ValueError, match="min_sizes=2"):
        fit_isoflop(runs, min_sizes=2)
    with pytest.raises(ValueError, match="needs key"):
        fit_isoflop(runs, n_bootstrap=10)
    with pytest.raises(ValueError, match="n_bootstrap=-1"):
        fit_isoflop(runs, n_bootstrap=-1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="level=1.5"):
        fit_isoflop(runs, level=1.5)
    with pytest.raises(ValueError, match="n_bins=0"):
        fit_envelope(runs, n_bins=0)
    with pytest.raises(ValueError, match="runs must be"):
        fit_isoflop({"N": runs.N})
    same = Runs(N=np.full(5, 1e9), flops=np.geomspace(1e19, 1e21, 5), loss=np.linspace(3, 2, 5))
    for fit in (fit_isoflop, fit_envelope):
        with pytest.raises(ValueError, match=r"^fit_\w+: all 5 runs have the same size N=1e\+09 parameters"):
            fit(same)
    # One usable budget: the error lists the skipped groups and why.
    one = runs.select(np.arange(9))
    extra = Runs(N=np.r_[one.N, 1e9, 2e9], flops=np.r_[one.flops, 1e21, 1e21], loss=np.r_[one.loss, 2.5, 2.4])
    with pytest.raises(ValueError, match=r"at least 2 usable budgets.*got 1.*C=1e\+21: 2 distinct size"):
        fit_isoflop(extra)
    with pytest.raises(ValueError, match="no runs within tolerance_dex=0.03"):
        fit_isoflop(runs, budgets=BUDGETS[:4] * 10**0.04, tolerance_dex=0.03)
