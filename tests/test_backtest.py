"""sl.backtest and Backtest: the scores by hand, the rows each cut forecasts, the Huber
method's intervals by hand, coverage on ladders simulated from the law fitted (near nominal)
and from another law (the parameter-only intervals under-cover; the calibrated ones cover
far better), the bootstrap and Bayesian methods, the errors, and the forecast checks of the
former sl.extrapolation_error (Chinchilla cut at 1e21 FLOPs, a size cut with a pinned E, a
ComputeLaw).

The synthetic ladders are module-scoped fixtures: each cut of a backtest is one Huber fit
and one form-error fit (a batch of refits). The backtests of all eight ladders, of the
Chinchilla runs and the Bayesian one are marked slow.

References: Gneiting & Raftery 2007, "Strictly Proper Scoring Rules, Prediction, and
Estimation", eq. (43) (interval score); Hoffmann et al. 2022, sec. 3; Besiroglu et al. 2024.
"""

import json
import math
import re
import warnings

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from synthetic_ladders import LAW, chinchilla_law, kaplan_law, ladder
from scalinglaws_jax.fit import backtest as backtest_module
from scalinglaws_jax.fit import form_error as fe


def quiet(function, *args, **kwargs):
    """Call without the fits' RuntimeWarnings (doubtful small fits are part of a backtest)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", fe.FormErrorWarning)
        return function(*args, **kwargs)


# ----------------------------------------------------------------------------------
# the scores, by hand

LEVELS = (0.5, 0.9)
OBSERVED = np.array([2.0, 2.5, 3.0, 2.2, 2.8])
LOW = np.array([[1.9, 1.8], [2.55, 2.4], [2.9, 2.8], [2.0, 1.9], [2.7, 2.5]])
HIGH = np.array([[2.1, 2.2], [2.7, 2.9], [2.95, 3.2], [2.15, 2.3], [2.9, 3.0]])
MEDIAN = np.array([2.02, 2.6, 2.93, 2.1, 2.75])
HUBER = np.array([2.01, 2.62, 2.9, 2.05, 2.8])


def handmade():
    runs = sl.Runs(N=np.geomspace(1e8, 1e9, 8), D=np.geomspace(1e9, 1e10, 8), loss=np.linspace(3.2, 2.0, 8))
    return sl.Backtest(method="huber", by="flops", cuts=np.array([1e19, 3e19, 5e19]), levels=LEVELS,
                       form_error=True, runs=runs, train_count=np.array([3, 5, 7]), cut=np.array([0, 0, 0, 1, 1]),
                       run=np.array([3, 4, 5, 5, 6]), observed=OBSERVED, median=MEDIAN, low=LOW, high=HIGH,
                       pit=np.array([0.4, 0.1, 0.8, 0.7, 0.6]), log_density=np.array([1.0, -2.0, 0.5, 1.5, 0.0]),
                       huber=HUBER, distance=np.array([0.1, 0.2, 0.3, 0.1, 0.2]))


def covered_by_hand(rows):
    return np.array([[LOW[i, j] <= OBSERVED[i] <= HIGH[i, j] for j in range(len(LEVELS))] for i in rows], float)


def interval_score_by_hand(rows):
    """Gneiting & Raftery 2007, eq. (43): S = (u - l) + (2 / a) (l - y) 1{y < l} + (2 / a) (y - u) 1{y > u}
    for the central (1 - a) interval [l, u]."""
    scores = []
    for i in rows:
        y, row = OBSERVED[i], []
        for j, level in enumerate(LEVELS):
            a, l, u = 1.0 - level, LOW[i, j], HIGH[i, j]
            score = u - l
            if y < l:
                score += 2.0 / a * (l - y)
            if y > u:
                score += 2.0 / a * (y - u)
            row.append(score)
        scores.append(row)
    return np.array(scores)


def test_coverage_by_hand():
    bt = handmade()
    # at 50%, row 1 lies below the low (2.5 < 2.55), rows 2 and 3 above the high (3.0 > 2.95,
    # 2.2 > 2.15); every 90% interval holds its row
    np.testing.assert_array_equal(bt.covered, covered_by_hand(range(5)).astype(bool))
    np.testing.assert_allclose(bt.coverage(), [2 / 5, 5 / 5])
    np.testing.assert_allclose(bt.coverage(bt.cut == 0), covered_by_hand([0, 1, 2]).mean(axis=0))
    np.testing.assert_allclose(bt.coverage(np.array([1, 2])), [0.0, 1.0])
    assert np.isnan(bt.coverage(bt.cut == 2)).all()


def test_interval_score_by_hand():
    bt = handmade()
    np.testing.assert_allclose(bt.interval_score(), interval_score_by_hand(range(5)).mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(bt.interval_score(bt.cut == 1), interval_score_by_hand([3, 4]).mean(axis=0),
                               rtol=1e-14)
    # row 1 at 50%: width 0.15 plus (2 / 0.5) x 0.05 below the low
    assert interval_score_by_hand([1])[0, 0] == pytest.approx(0.15 + 4 * 0.05)


def test_width_and_errors_by_hand():
    bt = handmade()
    np.testing.assert_allclose(bt.width(), np.median((HIGH - LOW) / OBSERVED[:, None], axis=0))
    np.testing.assert_allclose(bt.width(bt.cut == 0), np.median(((HIGH - LOW) / OBSERVED[:, None])[:3], axis=0))
    np.testing.assert_allclose(bt.relative_error, MEDIAN / OBSERVED - 1)
    np.testing.assert_allclose(bt.huber_error, HUBER / OBSERVED - 1)
    assert len(bt) == 5


def test_summary_by_hand():
    bt = handmade()
    summary = bt.summary()
    figures = {"forecasts", "coverage", "interval_score", "width", "log_density", "median_abs_error",
               "huber_median_abs_error", "bias"}
    assert set(summary) == figures | {"method", "by", "form_error", "levels", "cuts"}
    assert (summary["method"], summary["by"], summary["form_error"], summary["levels"]) == \
           ("huber", "flops", True, [0.5, 0.9])
    assert summary["forecasts"] == 5
    assert summary["coverage"] == pytest.approx({"0.5": 0.4, "0.9": 1.0})
    assert summary["log_density"] == pytest.approx(0.2)
    assert summary["median_abs_error"] == pytest.approx(np.median(np.abs(MEDIAN / OBSERVED - 1)))
    assert summary["huber_median_abs_error"] == pytest.approx(np.median(np.abs(HUBER / OBSERVED - 1)))
    assert summary["bias"] == pytest.approx(np.mean(MEDIAN / OBSERVED - 1))
    cuts = summary["cuts"]
    assert [(c["cut"], c["train"], c["forecasts"]) for c in cuts] == [(1e19, 3, 3), (3e19, 5, 2), (5e19, 7, 0)]
    assert all(set(c) == figures | {"cut", "train"} for c in cuts)
    assert cuts[1]["interval_score"] == pytest.approx(dict(zip(("0.5", "0.9"),
                                                               interval_score_by_hand([3, 4]).mean(axis=0))))
    empty = cuts[2]
    assert all(math.isnan(value) for value in [*empty["coverage"].values(), *empty["width"].values(),
                                               empty["log_density"], empty["bias"], empty["median_abs_error"]])
    json.dumps(summary)  # plain data


def test_repr_by_hand():
    error = np.median(np.abs(MEDIAN / OBSERVED - 1))
    assert repr(handmade()) == (f"Backtest(huber, by flops, 3 cuts, 5 forecasts; coverage 0.5: 0.40, 0.9: 1.00; "
                                f"median |error| {error:.2%})")


def test_level_index():
    bt = handmade()
    assert bt._level_index(0.9) == 1 and bt._level_index(0.5) == 0
    assert bt._level_index(0.9 + 1e-12) == 1
    with pytest.raises(ValueError, match=r"level 0\.8 .*\(0\.5, 0\.9\)"):
        bt._level_index(0.8)


# ----------------------------------------------------------------------------------
# ladders from the law fitted and from another law

SEEDS = range(4)


@pytest.fixture(scope="module")
def ladders():
    return {(name, seed): ladder(law, seed) for name, law in (("chinchilla", chinchilla_law), ("kaplan", kaplan_law))
            for seed in SEEDS}


def huber_backtests(ladders, keys):
    """The Huber backtests of the ladders ``keys`` at their default cuts, with and without
    form error (the same key, so the draws differ only by the form error)."""
    return {(name, seed, flag): quiet(sl.backtest, ladders[name, seed], method="huber", key=jax.random.key(seed),
                                      form_error=flag)
            for name, seed in keys for flag in (True, False)}


@pytest.fixture(scope="module")
def first(ladders):
    """The Huber backtests of the first Chinchilla-law ladder."""
    return huber_backtests(ladders, [("chinchilla", 0)])


@pytest.fixture(scope="module")
def backtests(ladders):
    """The Huber backtests of all eight ladders."""
    return huber_backtests(ladders, list(ladders))


def test_default_cuts_are_the_eligible_ones(ladders, first):
    runs = ladders["chinchilla", 0]
    for flag in (True, False):
        bt = first["chinchilla", 0, flag]
        np.testing.assert_array_equal(bt.cuts, fe.eligible_cuts(runs, "flops", sl.Chinchilla, min_fraction=0.0))
        assert len(bt.cuts) >= 4


def test_each_cut_forecasts_the_runs_above_it(ladders, first):
    runs, bt = ladders["chinchilla", 0], first["chinchilla", 0, True]
    assert (bt.method, bt.by, bt.form_error, bt.levels) == ("huber", "flops", True, backtest_module.LEVELS)
    for k, cut in enumerate(bt.cuts):
        rows = bt.cut == k
        below = runs.flops <= cut
        assert bt.train_count[k] == below.sum()
        np.testing.assert_array_equal(np.sort(bt.run[rows]), np.flatnonzero(~below))
        np.testing.assert_array_equal(bt.observed[rows], runs.loss[bt.run[rows]])
        hull = fe.hull_of(runs.select(below), sl.Chinchilla)
        expected = fe.hull_distance(np.log10(np.stack([runs.N, runs.D], axis=1))[bt.run[rows]], hull)
        np.testing.assert_allclose(bt.distance[rows], expected, rtol=1e-12)
    assert np.all(bt.distance > 0)  # with flops = 6 N D, every run above a budget is outside the runs below it
    assert len(bt) == sum(int((runs.flops > cut).sum()) for cut in bt.cuts)


def test_scores_are_well_formed(first):
    for bt in first.values():
        assert np.all((bt.pit >= 0) & (bt.pit <= 1))
        assert np.all(np.isfinite(bt.log_density))
        assert np.all(bt.low < bt.median[:, None]) and np.all(bt.median[:, None] < bt.high)
        assert np.all(np.diff(bt.low, axis=1) < 0) and np.all(np.diff(bt.high, axis=1) > 0)  # nested intervals
        np.testing.assert_array_equal(bt.covered.mean(axis=0), bt.coverage())


def test_the_form_error_widens_the_intervals(first):
    calibrated, parametric = first["chinchilla", 0, True], first["chinchilla", 0, False]
    np.testing.assert_array_equal(calibrated.huber, parametric.huber)
    ratio = (calibrated.high - calibrated.low) / (parametric.high - parametric.low)
    assert np.median(ratio) > 1.0


def delta_method_variance(fit, train, held, noise):
    """The variance of the Chinchilla fit's log-loss forecasts from its parameters, by hand:
    log L = logsumexp(a - alpha log N, b - beta log D, e) in the coordinates of the fit, J its
    gradient (p0, p1, p2, -p0 log N, -p1 log D, p the softmax weights of the three terms), and
    var_i = noise^2 J_i (J_f^T J_f)^-1 J_i^T over the runs fitted (Seber & Wild 1989, 5.1)."""
    a, b, e, alpha, beta = (fit.params[name] for name in ("a", "b", "e", "alpha", "beta"))

    def jacobian(runs):
        terms = np.stack([a - alpha * np.log(runs.N), b - beta * np.log(runs.D), np.full(len(runs), e)], axis=1)
        p = np.exp(terms - terms.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return np.stack([p[:, 0], p[:, 1], p[:, 2], -p[:, 0] * np.log(runs.N), -p[:, 1] * np.log(runs.D)], axis=1)

    rows, target = jacobian(train), jacobian(held)
    covariance = noise ** 2 * np.linalg.pinv(rows.T @ rows, hermitian=True)
    return np.einsum("ip,pq,iq->i", target, covariance, target)


def test_huber_intervals_by_hand(ladders, first):
    """The Huber method's forecast is exp(mu + sqrt(s^2 + v) z + delta): mu the fit's log
    loss, s the robust scale of its residuals, v the delta-method variance of mu, z
    standard normal, delta the form error (learned on the cut's runs). Its quantiles, by
    hand, from 100,000 independent draws."""
    runs = ladders["chinchilla", 0]
    for flag in (False, True):
        bt = first["chinchilla", 0, flag]
        k = len(bt.cuts) - 2
        rows = bt.cut == k
        below = runs.flops <= bt.cuts[k]
        train, held = runs.select(below), runs.select(bt.run[rows])
        fit = quiet(sl.fit_huber, train)
        assert fit.names == ("a", "b", "e", "alpha", "beta")
        mu = np.log(np.asarray(fit.law.loss(held.N, held.D)))
        np.testing.assert_allclose(bt.huber[rows], np.exp(mu), rtol=1e-12)
        s = 1.4826 * np.median(np.abs(np.log(np.asarray(fit.law.loss(train.N, train.D))) - np.log(train.loss)))
        sd = np.sqrt(s ** 2 + delta_method_variance(fit, train, held, s))
        key = jax.random.key(123)
        draws = sd * np.asarray(jax.random.normal(key, (100_000, len(held))))
        if flag:
            error = quiet(fe.learn, train, sl.Chinchilla, fit=fit)
            draws = draws + np.asarray(fe.sample(error, jax.random.fold_in(key, 1), draws.shape, held.N, held.D))
        spread = np.std(draws, axis=0)
        for j, level in enumerate(bt.levels):
            low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
            # 4000 draws put the 2.5% quantile of a normal within 0.04 sd (one standard error)
            assert np.all(np.abs(np.log(bt.low[rows, j]) - mu - low) < 0.2 * spread), level
            assert np.all(np.abs(np.log(bt.high[rows, j]) - mu - high) < 0.2 * spread), level
        assert np.all(np.abs(np.log(bt.median[rows]) - mu) < 0.1 * spread)


def pooled_coverage(backtests, name, flag):
    """Coverage per level pooled over the seeds' forecasts, and the number of (ladder, cut) pairs."""
    chosen = [backtests[name, seed, flag] for seed in SEEDS]
    return np.concatenate([bt.covered for bt in chosen]).mean(axis=0), sum(len(bt.cuts) for bt in chosen)


@pytest.mark.slow
def test_coverage_is_near_nominal_on_ladders_from_the_law_fitted(backtests):
    # The forecasts of one cut share one fit, and nested cuts share runs: they are far from
    # independent. Counting each (ladder, cut) pair as ONE forecast bounds the noise from
    # above: 3 binomial standard errors of a coverage over 4 x 5 = 20 pairs are 0.34 at
    # 50%, 0.27 at 80%, 0.20 at 90% and 0.15 at 95%.
    # Measured (seeds 0-3, fixed keys, each cut at a run's own budget): with the form error
    # 0.65, 0.95, 0.97, 0.99 at 50, 80, 90, 95%; parameter-only (the point fit's noise and
    # delta-method variance) 0.40, 0.70, 0.84, 0.91. On the law fitted the form error
    # over-covers; its 90% interval score is 1.5 times the parameter-only one (0.127 vs
    # 0.084). A form error 3 times as large covers 0.91 at 50% (interval score 3.8 times),
    # the fallback scale 1.00: both fail here.
    coverage, pairs = pooled_coverage(backtests, "chinchilla", True)
    for j, level in enumerate(backtest_module.LEVELS):
        tolerance = 3 * math.sqrt(level * (1 - level) / pairs)
        assert abs(coverage[j] - level) <= tolerance, (level, coverage[j], tolerance)
    level = backtest_module.LEVELS.index(0.9)
    calibrated = np.mean([backtests["chinchilla", seed, True].interval_score()[level] for seed in SEEDS])
    parametric = np.mean([backtests["chinchilla", seed, False].interval_score()[level] for seed in SEEDS])
    assert calibrated < 2.5 * parametric


@pytest.mark.slow
def test_calibrated_intervals_cover_far_better_on_ladders_from_another_law(backtests):
    # Ladders from Kaplan's law fitted with a Chinchilla law. Measured (seeds 0-3): at 90%,
    # parameter-only 0.17, calibrated 0.64; at 50%, 0.06 and 0.21. The sqrt(d) growth
    # learned inside the runs under-states this law's error further out, but the
    # calibrated intervals hold about four times as many of the observed losses.
    calibrated, _ = pooled_coverage(backtests, "kaplan", True)
    parametric, _ = pooled_coverage(backtests, "kaplan", False)
    level = backtest_module.LEVELS.index(0.9)
    assert parametric[level] < 0.3
    assert calibrated[level] > parametric[level] + 0.3
    assert np.all(calibrated > parametric)
    for seed in SEEDS:
        better = backtests["kaplan", seed, True].interval_score()
        assert np.all(better < backtests["kaplan", seed, False].interval_score())


def test_the_key_decides_the_draws(ladders, first):
    runs, whole = ladders["chinchilla", 0], first["chinchilla", 0, True]
    cut = whole.cuts[-1]
    again = quiet(sl.backtest, runs, method="huber", cuts=[cut], key=jax.random.key(0))
    other = quiet(sl.backtest, runs, method="huber", cuts=[cut], key=jax.random.key(2))
    rows = whole.cut == len(whole.cuts) - 1
    # cut k draws from fold_in(key, k): a one-cut backtest of the last cut uses fold_in(key, 0)
    assert not np.array_equal(again.low, whole.low[rows])
    np.testing.assert_array_equal(again.huber, whole.huber[rows])
    repeat = quiet(sl.backtest, runs, method="huber", cuts=[cut], key=jax.random.key(0))
    np.testing.assert_array_equal(repeat.low, again.low)
    assert not np.array_equal(other.low, again.low)


def shifted_compute_runs():
    """A ladder whose five middle sizes at the third budget (1e19 FLOPs) spent 1000 times
    6 N D FLOPs (given explicitly): a flops cut holds them out although their (N, D) lie
    among the runs fitted, between the second and fourth budgets'."""
    runs = ladder(chinchilla_law, 0)
    flops = runs.flops.copy()
    flops[2 * 7 + 1:2 * 7 + 6] *= 1000.0
    return sl.Runs(N=runs.N, D=runs.D, flops=flops, loss=runs.loss)


def test_forecasts_inside_the_runs_have_the_parameter_only_intervals():
    # By construction: the form error's sd is kappa sqrt(0) = 0 at distance 0 and the other
    # draws come from the same key.
    runs = shifted_compute_runs()
    calibrated = quiet(sl.backtest, runs, method="huber", cuts=[1.5e20], key=jax.random.key(5))
    parametric = quiet(sl.backtest, runs, method="huber", cuts=[1.5e20], key=jax.random.key(5), form_error=False)
    inside = calibrated.distance == 0
    assert inside.sum() == 5 and (~inside).sum() >= 10
    for field in ("low", "high", "median", "pit", "log_density"):
        np.testing.assert_array_equal(getattr(calibrated, field)[inside], getattr(parametric, field)[inside])
    assert np.all(calibrated.high[~inside] != parametric.high[~inside])


# ----------------------------------------------------------------------------------
# the bootstrap and Bayesian methods


@pytest.fixture(scope="module")
def bootstraps(ladders):
    runs = ladders["chinchilla", 0]
    cuts = fe.eligible_cuts(runs, "flops", sl.Chinchilla, min_fraction=0.0)[-2:]
    return {flag: quiet(sl.backtest, runs, method="bootstrap", cuts=cuts, n=100, key=jax.random.key(0),
                        form_error=flag) for flag in (True, False)}


def test_bootstrap_backtest(ladders, bootstraps):
    runs = ladders["chinchilla", 0]
    calibrated, parametric = bootstraps[True], bootstraps[False]
    assert calibrated.method == "bootstrap" and len(calibrated) == int((runs.flops > calibrated.cuts[0]).sum()) + \
        int((runs.flops > calibrated.cuts[1]).sum())
    for bt in (calibrated, parametric):
        assert np.all((bt.pit >= 0) & (bt.pit <= 1)) and np.all(np.isfinite(bt.log_density))
        assert np.all(bt.low <= bt.high)
        # the refits scatter around the point fit
        np.testing.assert_allclose(bt.median, bt.huber, rtol=0.02)
    np.testing.assert_array_equal(calibrated.huber, parametric.huber)
    widths = (calibrated.high - calibrated.low) / (parametric.high - parametric.low)
    assert np.median(widths) > 1.0


@pytest.mark.slow
def test_bootstrap_backtest_on_ladders_from_another_law(ladders):
    # Measured (Kaplan ladder 0, 5 cuts, 100 refits, key 0): at 90%, 0.26 parameter-only
    # (refits and resampled residuals), 0.65 with the form error; at 95%, 0.28 and 0.80.
    runs = ladders["kaplan", 0]
    calibrated, parametric = (quiet(sl.backtest, runs, method="bootstrap", n=100, key=jax.random.key(0),
                                    form_error=flag) for flag in (True, False))
    level = backtest_module.LEVELS.index(0.9)
    assert parametric.coverage()[level] < 0.4
    assert calibrated.coverage()[level] > parametric.coverage()[level] + 0.25
    assert np.all(calibrated.interval_score() < parametric.interval_score())


@pytest.mark.slow
def test_bayes_backtest(ladders):
    # Measured (Kaplan ladder 0, its last 2 cuts, 2 chains x 200 draws, key 0): at 90%,
    # 0.43 parameter-only (the posterior predictive), 1.00 with the form error.
    runs = ladders["kaplan", 0]
    cuts = fe.eligible_cuts(runs, "flops", sl.Chinchilla, min_fraction=0.0)[-2:]
    options = dict(method="bayes", cuts=cuts, key=jax.random.key(0), num_warmup=200, num_samples=200, num_chains=2)
    calibrated = quiet(sl.backtest, runs, **options)
    parametric = quiet(sl.backtest, runs, form_error=False, **options)
    assert calibrated.method == "bayes" and len(calibrated) == sum(int((runs.flops > cut).sum()) for cut in cuts)
    np.testing.assert_array_equal(calibrated.train_count, [(runs.flops <= cut).sum() for cut in cuts])
    for bt in (calibrated, parametric):
        assert np.all((bt.pit >= 0) & (bt.pit <= 1)) and np.all(np.isfinite(bt.log_density))
        np.testing.assert_allclose(bt.median, bt.huber, rtol=0.03)
    np.testing.assert_array_equal(calibrated.huber, parametric.huber)
    # the same posterior draws, each times exp(its form error)
    assert np.median((calibrated.high - calibrated.low) / (parametric.high - parametric.low)) > 1.0
    level = backtest_module.LEVELS.index(0.9)
    assert calibrated.coverage()[level] > parametric.coverage()[level] + 0.3


# ----------------------------------------------------------------------------------
# errors


@pytest.fixture(scope="module")
def chinchilla():
    return sl.datasets.chinchilla(drop_highest=5)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(method="mcmc"), ValueError, "method must be one of 'bayes', 'bootstrap', 'huber', got 'mcmc'"),
    (dict(by="D"), ValueError, "by must be 'flops' or 'N', got 'D'"),
    (dict(levels=[0.5, 1.0]), ValueError, r"levels must be in \(0, 1\), got \[0.5, 1.0\]"),
    (dict(levels=[]), ValueError, "levels must be in"),
    (dict(levels=0.0), ValueError, "levels must be in"),
    (dict(levels=[float("nan")]), ValueError, "levels must be in"),
    (dict(cuts=[1e30]), ValueError, r"cut flops=1e\+30 leaves no run above it"),
    (dict(cuts=[1e21, 1e30]), ValueError, r"cut flops=1e\+30 leaves no run above it"),
    (dict(cuts=[-1.0]), ValueError, "each cut must be finite and positive"),
    (dict(cuts=[float("nan")]), ValueError, "each cut must be finite and positive"),
    (dict(cuts=[1e18]), ValueError, r"the cut flops=1e\+18 leaves 0 runs"),
    (dict(cuts=[1.0], by="N"), ValueError, "the cut N=1 leaves 0 runs"),
])
def test_bad_arguments(chinchilla, kwargs, error, message):
    with pytest.raises(error, match=message):
        sl.backtest(chinchilla, **{"method": "huber", **kwargs})


def test_levels_that_are_not_numbers():
    with pytest.raises(ValueError, match="levels"):
        sl.backtest(ladder(chinchilla_law, 0), method="huber", levels="high")


def test_a_cut_that_leaves_too_few_runs_names_it():
    runs = ladder(chinchilla_law, 0)
    # the smallest budget's 7 runs, of 7 sizes
    with pytest.raises(ValueError, match=r"the cut flops=1\.01e\+18 leaves 7 runs of 7 distinct sizes .*at least 10"):
        sl.backtest(runs, method="huber", cuts=[1.01e18])
    few_sizes = sl.Runs(N=np.repeat([1e8, 2e8, 1e9, 2e9, 4e9], 4), D=np.tile([1e9, 3e9, 1e10, 3e10], 5),
                        loss=np.linspace(3.5, 2.5, 20))
    # 8 runs of 2 sizes at or below N = 2e8: too few runs and too few sizes
    with pytest.raises(ValueError, match=r"the cut N=2e\+08 leaves 8 runs of 2 distinct sizes"):
        sl.backtest(few_sizes, method="huber", by="N", cuts=[2e8])


def test_every_candidate_cut_is_accepted_exactly_when_eligible():
    runs = ladder(chinchilla_law, 2)
    for by in ("flops", "N"):
        eligible = fe.eligible_cuts(runs, by, sl.Chinchilla, min_fraction=0.0)
        for value in fe.distinct(getattr(runs, by)):
            if np.isin(value, eligible):
                continue
            with pytest.raises(ValueError, match=re.escape(f"the cut {by}={value:.4g} leaves")):
                sl.backtest(runs, method="huber", by=by, cuts=[value])


def test_runs_too_few_for_any_cut():
    N = np.repeat([1e8, 3e8, 1e9], 3)
    runs = sl.Runs(N=N, D=N * np.tile([10.0, 20.0, 40.0], 3), loss=np.linspace(3.0, 2.5, 9))
    with pytest.raises(ValueError, match="no cut of the 9 runs by flops .* too few to backtest"):
        sl.backtest(runs, method="huber")


@pytest.mark.parametrize("runs", [None, {"N": [1e8], "D": [1e9], "loss": [3.0]}, np.ones((3, 3))])
def test_runs_that_are_not_runs(runs):
    with pytest.raises(TypeError, match="runs must be a Runs"):
        sl.backtest(runs, method="huber")


def test_unknown_fit_options_are_refused(chinchilla):
    # The Huber method passes only fixed, bounds, delta and grid on to fit_huber: any other
    # keyword (a typo, or extrapolation_error's loss_fn= for a user model, which backtest
    # does not support) would be dropped without a word.
    def loss_fn(p, N, D):
        return p[0] + p[1] / N ** p[3] + p[2] / D ** p[4]

    with pytest.raises(TypeError, match="loss_fn"):
        sl.backtest(chinchilla, method="huber", cuts=[1e21], loss_fn=loss_fn, names=("E", "A", "B", "alpha", "beta"))
    with pytest.raises(TypeError, match="fixd"):
        sl.backtest(chinchilla, method="huber", cuts=[1e21], fixd={"E": 1.69})


# ----------------------------------------------------------------------------------
# the forecast checks of sl.extrapolation_error, as backtests of one cut


def random_runs(law, n=80, seed=0):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(5e7), np.log(2e10), n))
    D = N * np.exp(rng.uniform(np.log(5.0), np.log(100.0), n))
    return sl.Runs(N=N, D=D, loss=np.asarray(law.loss(N, D)))


def test_exact_law_forecasts_exactly():
    runs = random_runs(LAW)
    cut = np.quantile(runs.flops, 0.7)
    bt = quiet(sl.backtest, runs, method="huber", cuts=[cut])
    assert bt.train_count[0] + len(bt) == len(runs)
    assert runs.flops[bt.run].min() > cut >= runs.flops[runs.flops <= cut].max()
    assert np.max(np.abs(bt.huber_error)) < 1e-7
    # the learned form error is the smallest kappa, so the forecasts' medians are the point fit's
    assert np.max(np.abs(bt.relative_error)) < 1e-4


@pytest.fixture(scope="module")
def chinchilla_at_1e21(chinchilla):
    return {flag: quiet(sl.backtest, chinchilla, method="huber", cuts=[1e21], form_error=flag)
            for flag in (True, False)}


@pytest.mark.slow
def test_chinchilla_forecast_from_small_runs(chinchilla, chinchilla_at_1e21):
    # Fit on the runs up to 1e21 FLOPs and forecast the 23 larger ones: about 1% error.
    bt = chinchilla_at_1e21[True]
    assert len(bt) == int(np.sum(chinchilla.flops > 1e21)) == 23
    assert np.mean(np.abs(bt.huber_error)) < 0.02 and abs(np.mean(bt.huber_error)) < 0.01
    train, held = chinchilla.select(chinchilla.flops <= 1e21), chinchilla.select(bt.run)
    law = quiet(sl.fit_huber, train).law
    np.testing.assert_allclose(bt.huber, law.loss(held.N, held.D), rtol=1e-12)
    assert "1 cuts, 23 forecasts" in repr(bt)


@pytest.mark.slow
def test_chinchilla_parameter_only_intervals_under_cover(chinchilla_at_1e21):
    # DESIGN.md's known trap: fitted below 1e21 FLOPs, the parameter-only intervals miss most
    # of the larger runs. Measured (key 0): at 90%, 0.30 without the form error, 0.91 with.
    calibrated, parametric = chinchilla_at_1e21[True], chinchilla_at_1e21[False]
    level = backtest_module.LEVELS.index(0.9)
    assert parametric.coverage()[level] < 0.5
    assert calibrated.coverage()[level] > parametric.coverage()[level] + 0.3
    assert np.all(calibrated.interval_score() < parametric.interval_score())


@pytest.mark.slow
def test_size_cut_with_a_pinned_parameter(chinchilla):
    bt = quiet(sl.backtest, chinchilla, method="huber", by="N", cuts=[2e9], fixed={"E": 1.69})
    held = chinchilla.select(bt.run)
    assert held.N.min() > 2e9 and bt.by == "N"
    pinned = quiet(sl.fit_huber, chinchilla.select(chinchilla.N <= 2e9), fixed={"E": 1.69}).law
    assert float(pinned.E) == pytest.approx(1.69)
    np.testing.assert_allclose(bt.huber, pinned.loss(held.N, held.D), rtol=1e-12)
    free = quiet(sl.fit_huber, chinchilla.select(chinchilla.N <= 2e9)).law
    assert np.max(np.abs(bt.huber / np.asarray(free.loss(held.N, held.D)) - 1)) > 1e-3  # the pin mattered


@pytest.mark.slow
def test_a_compute_law(chinchilla):
    bt = quiet(sl.backtest, chinchilla, method="huber", cuts=[1e21], family=sl.ComputeLaw)
    train, held = chinchilla.select(chinchilla.flops <= 1e21), chinchilla.select(bt.run)
    law = quiet(sl.fit_huber, train, sl.ComputeLaw).law
    np.testing.assert_allclose(bt.huber, law.loss(held.flops), rtol=1e-12)
    # the distance of a ComputeLaw is in log10 flops alone, from the largest budget fitted
    np.testing.assert_allclose(bt.distance, np.log10(held.flops) - np.log10(train.flops.max()), rtol=1e-12)
    assert np.all((bt.pit >= 0) & (bt.pit <= 1)) and np.all(np.isfinite(bt.log_density))
