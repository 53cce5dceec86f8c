"""Fits refuse designs that cannot identify the law, warn when the fit is ill-determined,
and never return a law the library's own check_law rejects (scalinglaws_jax/fit/design.py).

Reference: DESIGN.md, "Known traps": runs at one tokens-per-parameter ratio (D = k N)
cannot separate alpha from beta.
"""

import warnings

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import _validate
from scalinglaws_jax.fit import design
from scalinglaws_jax.fit.isoflop import fit_envelope, fit_isoflop

LAW = sl.EPOCH_2024


def _collinear(noise=0.0, ratio=20.0, n=20, seed=0):
    N = np.geomspace(1e8, 1e11, n)
    D = ratio * N
    loss = np.asarray(LAW.loss(N, D)) * np.exp(noise * np.random.default_rng(seed).standard_normal(n))
    return sl.Runs(N=N, D=D, loss=loss)


def _spread(low, high, n=60, noise=0.005, seed=0, law=LAW):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e8), np.log(1e11), n))
    D = N * np.exp(rng.uniform(np.log(low), np.log(high), n))
    return sl.Runs(N=N, D=D, loss=np.asarray(law.loss(N, D)) * np.exp(noise * rng.standard_normal(n)))


def _runtime_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(item.message) for item in caught if issubclass(item.category, RuntimeWarning)]


@pytest.mark.parametrize("noise", [0.0, 0.005])
def test_single_tokens_per_parameter_ratio_is_refused(noise):
    runs = _collinear(noise)
    with pytest.raises(ValueError) as raised:
        sl.fit_huber(runs)
    message = str(raised.value)
    assert "all 20 runs have the same tokens per parameter D/N=20" in message
    assert "alpha and beta are not separately identified" in message
    assert "add runs at other tokens-per-parameter ratios, or fix alpha or beta" in message
    with pytest.raises(ValueError, match="D/N=20"):
        sl.bootstrap(runs, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match="alpha_N and alpha_D are not separately identified"):
        sl.fit_huber(runs, sl.Kaplan)


def test_single_ratio_with_a_fixed_exponent_is_fitted_and_judged():
    # With beta pinned the design is no longer refused; whether A/N^alpha and B'/N^beta
    # separate along D = 20 N depends on alpha - beta, which the conditioning judges: here
    # alpha is close to beta, and alpha is not significantly positive.
    fit, messages = _runtime_warnings(lambda: sl.fit_huber(_collinear(), fixed={"beta": float(LAW.beta)}))
    _validate.check_law(fit.law)
    assert "beta" not in fit.conditioning.names
    (message,) = [m for m in messages if "do not determine" in m]
    assert "alpha = " in message and "is not significantly positive" in message
    assert "least determined direction mixes" in message and "add runs at other tokens-per-parameter ratios" in message


def test_narrow_ratio_spread_gives_no_valid_law_and_is_refused():
    # D/N in 19-21 (0.04 dex): the best fit has alpha < 0, which no solver accepts.
    with pytest.raises(ValueError) as raised:
        sl.fit_huber(_spread(19.0, 21.0))
    message = str(raised.value)
    assert message.startswith("fit_huber: the best fit is not a valid law (Chinchilla.alpha must be finite and "
                              "positive")
    assert "D/N 19" in message and "add runs at other tokens-per-parameter ratios" in message


def test_ill_determined_fit_warns_and_names_what_is_missing():
    runs = _spread(12.0, 30.0, n=40, noise=0.02)
    fit, messages = _runtime_warnings(lambda: sl.fit_huber(runs))
    _validate.check_law(fit.law)
    assert fit.conditioning.problems
    (message,) = [m for m in messages if "do not determine" in m]
    assert "beta = " in message and "is not significantly positive" in message
    assert "the compute-optimal exponent a = " in message and "not significantly between 0 and 1" in message
    assert "least determined direction mixes beta" in message
    assert "D/N 12" in message and message.endswith("add runs at other tokens-per-parameter ratios")


def test_good_design_has_no_conditioning_warning():
    fit, messages = _runtime_warnings(lambda: sl.fit_huber(_spread(2.0, 200.0)))
    assert messages == [] and fit.conditioning.problems == ()
    a, error = fit.conditioning.split
    assert a == pytest.approx(float(LAW.beta / (LAW.alpha + LAW.beta)), abs=0.05) and 0 < error < 0.05
    assert set(fit.conditioning.standard_errors) == set(fit.names)
    assert fit.conditioning.condition > 1


@pytest.mark.parametrize("kind", ["constant", "rising"])
def test_losses_that_do_not_fall_never_give_an_invalid_law(kind):
    rng = np.random.default_rng(1)
    N = np.exp(rng.uniform(np.log(1e8), np.log(1e10), 40))
    D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), 40))
    loss = np.full(40, 3.0) if kind == "constant" else 3.0 * (N / 1e8) ** 0.02
    try:
        fit, messages = _runtime_warnings(lambda: sl.fit_huber(sl.Runs(N=N, D=D, loss=loss)))
    except ValueError as error:
        assert "not a valid law" in str(error) or "do not determine" in str(error)
        return
    _validate.check_law(fit.law)  # a law is returned only when the solvers accept it
    assert any("do not determine" in m for m in messages)


def test_bootstrap_with_no_converged_refit_is_refused():
    runs = _spread(2.0, 200.0)
    fit = sl.fit_huber(runs)
    with pytest.raises(ValueError, match="none of the 20 refits converged"):
        sl.bootstrap(runs, 20, key=jax.random.key(0), fit=fit, steps=0)


def test_bootstrap_intervals_use_the_converged_refits_and_say_so():
    runs = _spread(2.0, 200.0)
    fit = sl.fit_huber(runs)
    boot, messages = _runtime_warnings(lambda: sl.bootstrap(runs, 40, key=jax.random.key(0), fit=fit, steps=1,
                                                            flops=[1e22]))
    used = int(boot.used.sum())
    assert 0 < used < 40
    (message,) = [m for m in messages if m.startswith("bootstrap:")]
    assert f"{40 - used} of 40 refits did not converge; the intervals use the {used} that did" in message
    assert boot.law.alpha.shape == (used,)
    _validate.check_law(boot.law)
    alpha = boot.params[boot.used, 3]
    np.testing.assert_allclose(boot.intervals["alpha"], np.percentile(alpha, [2.5, 97.5]), rtol=1e-12)


def test_isoflop_on_pure_noise_is_not_silent():
    rng = np.random.default_rng(2)
    budgets = np.geomspace(1e18, 1e22, 6)
    N = np.concatenate([np.sqrt(C / 120) * np.logspace(-1, 1, 9) for C in budgets])
    runs = sl.Runs(N=N, flops=np.repeat(budgets, 9), loss=3.0 + 0.01 * rng.standard_normal(len(N)))
    try:
        fit, messages = _runtime_warnings(lambda: fit_isoflop(runs))
    except ValueError as error:
        assert "usable budgets" in str(error)
        return
    assert any("not significantly" in m or "no uncertainty" in m for m in messages), messages


def test_isoflop_reports_the_uncertainty_of_its_exponent():
    budgets = np.geomspace(1e18, 1e22, 9)
    N = np.concatenate([np.sqrt(C / 120) * np.logspace(-1, 1, 9) for C in budgets])
    flops = np.repeat(budgets, 9)
    loss = np.asarray(sl.HOFFMANN_2022.loss(N, flops / (6 * N)))
    loss = loss + 0.003 * np.random.default_rng(4).standard_normal(len(N))
    fit, messages = _runtime_warnings(lambda: fit_isoflop(sl.Runs(N=N, flops=flops, loss=loss)))
    assert messages == []
    assert 0 < float(fit.a_se) < 0.05 and float(fit.b_se) == pytest.approx(float(fit.a_se))
    # Noisy profiles: a group whose curvature is not significantly positive is skipped.
    flat = sl.Runs(N=N[:9], flops=flops[:9], loss=3.0 + 0.01 * np.random.default_rng(0).standard_normal(9))
    runs = sl.Runs(N=np.r_[N, flat.N], flops=np.r_[flops, flat.flops * 1e5], loss=np.r_[loss, flat.loss])
    fit, _ = _runtime_warnings(lambda: fit_isoflop(runs))
    assert len(fit.budgets) == 9


def test_envelope_of_a_few_overtrained_runs_warns():
    # Seven runs, each larger budget spent on a smaller model trained longer: the envelope
    # is not the frontier, and its exponents are outside (0, 1).
    N = np.geomspace(1e9, 2e8, 7)
    D = np.geomspace(2e10, 4e12, 7)
    runs = sl.Runs(N=N, D=D, loss=np.asarray(LAW.loss(N, D)))
    fit, messages = _runtime_warnings(lambda: fit_envelope(runs))
    assert len(fit.flops) >= 3 and float(fit.a) < 0 and np.isfinite(fit.a_se)
    (message,) = messages
    assert message.startswith("fit_envelope: a = ") and "is not significantly between 0 and 1" in message
    _, messages = _runtime_warnings(lambda: fit_envelope(runs.select(np.array([0, 6]))))
    assert any("line through 2 points" in m for m in messages)


def test_check_spread_names_each_quantity():
    one_budget = sl.Runs(N=np.geomspace(1e8, 1e9, 5), flops=np.full(5, 1e20), loss=np.linspace(3, 2.5, 5))
    with pytest.raises(ValueError, match=r"fit_isoflop: all 5 runs have the same budget C=1e\+20 FLOPs"):
        fit_isoflop(one_budget)
    with pytest.raises(ValueError, match="add runs at other compute budgets"):
        sl.fit_huber(one_budget, sl.ComputeLaw)
    nearly = sl.Runs(N=np.geomspace(1e8, 1e9, 5) * [1, 1.001, 1, 1, 1], D=np.geomspace(1e8, 1e9, 5) * 20,
                     loss=np.linspace(3, 2.5, 5))
    with pytest.raises(ValueError, match=r"D/N=20 \(within 0.01 dex\)"):
        design.check_spread(nearly, ("tokens_per_param",), n_free=1, caller="x", exponents=("alpha", "beta"))
    assert design.t_quantile(1) == pytest.approx(12.706)
    assert design.t_quantile(1000) == pytest.approx(1.962, abs=1e-3)


def test_fit_bayes_refuses_a_single_ratio_in_the_same_words():
    N = np.geomspace(1e8, 1e10, 20)
    runs = sl.Runs(N=N, D=20 * N, loss=np.asarray(sl.EPOCH_2024.loss(N, 20 * N)))
    with pytest.raises(ValueError, match=r"fit_bayes: all 20 runs have the same tokens per parameter D/N=20 \(within 0.01 dex\): "
                                         r"alpha and beta are not separately identified"):
        sl.fit_bayes(runs, key=jax.random.key(0), method="laplace")
