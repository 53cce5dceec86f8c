"""Simulation-based calibration of ``fit_bayes`` (Talts et al. 2018, arXiv:1804.06788).

The machinery (prior draws, simulation, ranks, coverage, the gross-miscalibration check)
lives in ``benchmarks/sbc.py``, which runs 200 replicates and prints the full figures;
this file imports it from its path and runs a small version. With few replicates only
gross miscalibration is detectable: the pooled 90% coverage outside [0.75, 0.99], or a
quantity with more than 3/4 of its ranks in one outer tenth of the rank range. Each check
is shown to fail on a deliberately wrong posterior (draws shifted, or shrunk towards their
mean as an overconfident approximation would be).
"""

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "sbc.py"


@pytest.fixture(scope="module")
def sbc():
    spec = importlib.util.spec_from_file_location("sbc_benchmark", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shifted(draws: dict, sds: float) -> dict:
    """Each replicate's draws moved up by ``sds`` posterior SDs (in log space: all are positive)."""
    out = {}
    for name, value in draws.items():
        log = np.log(value)
        out[name] = np.exp(log + sds * log.std(axis=1, keepdims=True))
    return out


def _shrunk(draws: dict, factor: float) -> dict:
    """Each replicate's draws pulled towards their mean (log space): an overconfident posterior."""
    out = {}
    for name, value in draws.items():
        log = np.log(value)
        centre = log.mean(axis=1, keepdims=True)
        out[name] = np.exp(centre + factor * (log - centre))
    return out


# ----------------------------------------------------------------------------------
# the machinery, on an exact posterior (no fits)


def _conjugate(R=400, S=300, seed=0):
    """theta ~ N(0, 1), y ~ N(theta, 1): exact posterior N(y / 2, 1 / 2); exp() makes it positive."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=R)
    y = theta + rng.normal(size=R)
    draws = y[:, None] / 2 + np.sqrt(0.5) * rng.normal(size=(R, S))
    return {"x": np.exp(theta)}, {"x": np.exp(draws)}


def test_ranks_and_coverage_by_hand(sbc):
    truth = np.array([0.5, 10.0, -1.0, 3.0])
    draws = np.tile(np.arange(10.0), (4, 1))  # draws 0..9
    rank = sbc.ranks(truth, draws, 10, np.random.default_rng(0))
    # 0.5 is above one draw, 10 above all, -1 above none; 3.0 ties with the draw 3: rank 3 or 4
    assert rank[:3].tolist() == [1, 10, 0] and rank[3] in (3, 4)
    np.testing.assert_array_equal(sbc.thin(np.arange(600.0), 99)[[0, -1]], [0.0, 599.0])
    assert sbc.histogram(np.arange(100), 99).tolist() == [10] * 10
    assert sbc.covered(np.array([4.5, 0.1]), draws[:2], 0.5).tolist() == [True, False]
    assert sbc.chi2_pvalue(np.full(10, 20), 99) == pytest.approx(1.0)
    assert sbc.chi2_pvalue(np.array([110] + [10] * 9), 99) < 1e-10


def test_exact_posterior_passes_and_wrong_ones_fail(sbc):
    truths, draws = _conjugate()
    good = sbc.assess(truths, draws, 99)
    assert sbc.gross_problems(good, 99) == []
    assert good["x"]["p_value"] > 0.01
    assert abs(good["x"]["coverage50"] - 0.5) < 0.08 and abs(good["x"]["coverage90"] - 0.9) < 0.05
    shifted = sbc.gross_problems(sbc.assess(truths, _shifted(draws, 3.0), 99), 99)
    assert any("coverage" in p for p in shifted) and any("lowest" in p for p in shifted)
    narrow = sbc.assess(truths, _shrunk(draws, 0.3), 99)
    assert any("coverage" in p for p in sbc.gross_problems(narrow, 99))
    assert narrow["x"]["p_value"] < 1e-6  # ranks pile up at both ends


def test_simulation_uses_the_model(sbc):
    import jax

    N, D = sbc.design()
    assert len(N) == 81 and np.allclose(6 * N * D, np.repeat(np.geomspace(1e18, 1e22, 9), 9))
    theta = sbc.draw_theta(jax.random.key(0))
    assert set(theta) == set(sbc.PARAMS) and 0.5 < theta["E"] < 3 and theta["alpha"] > 0 and theta["A"] > 0
    law = dict(theta)
    mu = sbc.mean_log_loss(law, N, D)
    np.testing.assert_allclose(np.exp(mu), law["E"] + law["A"] * N ** -law["alpha"] + law["B"] * D ** -law["beta"],
                               rtol=1e-12)
    # with sigma tiny the simulated losses are the law's
    loss = sbc.simulate(jax.random.key(1), {**theta, "sigma": 1e-9}, N, D)
    np.testing.assert_allclose(np.log(loss), mu, atol=1e-7)
    residuals = np.log(sbc.simulate(jax.random.key(1), {**theta, "sigma": 0.05}, N, D)) - mu
    assert 0.02 < np.median(np.abs(residuals)) < 0.06  # Student-t(4) scale 0.05: median |r| ~ 0.037


def test_prior_draws_follow_the_library_priors(sbc):
    """400 draws: log alpha ~ Normal(-1.2, 0.6) and the term log A - alpha log 1e9 ~ Normal(-1, 1.5)
    independently of alpha (not log A itself), as ``default_priors`` states; likewise B at 2e10."""
    import jax
    from scipy import stats

    draws = [sbc.draw_theta(jax.random.key(i)) for i in range(400)]
    for scale, exponent, size in (("A", "alpha", 1e9), ("B", "beta", 2e10)):
        log_exponent = np.log([d[exponent] for d in draws])
        term = np.log([d[scale] for d in draws]) - np.exp(log_exponent) * np.log(size)
        assert stats.kstest(log_exponent, stats.norm(-1.2, 0.6).cdf).pvalue > 0.01, exponent
        assert stats.kstest(term, stats.norm(-1.0, 1.5).cdf).pvalue > 0.01, scale
        assert abs(np.corrcoef(term, log_exponent)[0, 1]) < 0.15, scale
        # log A itself carries the exponent: sd of alpha log 1e9 on top of the term's 1.5
        assert np.std(np.log([d[scale] for d in draws])) > 2.5, scale


# ----------------------------------------------------------------------------------
# the fits


@pytest.mark.slow
def test_fit_bayes_not_grossly_miscalibrated(sbc):
    """8 prior draws, fitted with 2 chains x (150 + 100): no gross miscalibration."""
    L = 19
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # short chains: fit_bayes warns about ESS
        records = sbc.run(8, seed=0, chains=2, warmup=150, samples=100)
    assert [r["status"] for r in records] == ["ok"] * 8, [r.get("error") for r in records]
    truths, draws = sbc.collect(records)
    assert all(draws[name].shape == (8, 200) for name in sbc.QUANTITIES)
    assessment = sbc.assess(truths, draws, L)
    for name, a in assessment.items():
        assert a["ranks"].min() >= 0 and a["ranks"].max() <= L and a["histogram"].sum() == 8, name
    problems = sbc.gross_problems(assessment, L)
    assert problems == [], problems
    # the same check fails on wrong posteriors built from these draws
    assert sbc.gross_problems(sbc.assess(truths, _shifted(draws, 3.0), L), L)
    assert sbc.gross_problems(sbc.assess(truths, _shrunk(draws, 0.3), L), L)
    # and the report prints
    text = sbc.report(records, L, wall=0.0, settings=dict(seed=0, chains=2, warmup=150, samples=100, workers=0))
    assert "chi2 p" in text and "divergences" in text
