"""Posterior.predict with the law's form error: the draws beyond the runs are the
parameter-only ones times exp(delta), delta ~ kappa sqrt(d) t; inside the runs they are the
parameter-only ones; form_error=False gives the draws the library gave before the form error;
Posterior.save / load carry the form error in the JSON sidecar and refuse a damaged one,
naming the file.

One short NUTS fit (1 chain, 200 + 200 iterations) of the Chinchilla runs up to 1e21 FLOPs
(Besiroglu et al.'s 240, 217 of them), with and without the form error.

References: Kennedy & O'Hagan 2001 (model discrepancy); Hoffmann et al. 2022; Besiroglu et
al. 2024.
"""

import dataclasses
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import scalinglaws_jax as sl
from scalinglaws_jax.fit import form_error as fe
from scalinglaws_jax.fit.bayes import Posterior, fit_bayes

SETTINGS = dict(num_chains=1, num_warmup=200, num_samples=200)

# forecasts beyond the runs (up to 1e21 FLOPs): Chinchilla itself, and a 10x larger model
N_OUT = np.array([7e10, 7e11])
D_OUT = np.array([1.4e12, 1.4e13])


@pytest.fixture(scope="module")
def runs():
    chinchilla = sl.datasets.chinchilla(drop_highest=5)
    return chinchilla.select(chinchilla.flops <= 1e21)


def fit(runs, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        return fit_bayes(runs, key=jax.random.key(0), **SETTINGS, **options)


@pytest.fixture(scope="module")
def post(runs):
    return fit(runs)


@pytest.fixture(scope="module")
def parametric(runs):
    return fit(runs, form_error=False)


@pytest.fixture
def saved(post, tmp_path):
    return post.save(tmp_path / "post")


def rewrite(path, meta):
    """Edit the sidecar of the posterior saved at ``path`` in place (``meta(dict)``)."""
    side = path.with_suffix(".json")
    stored = json.loads(side.read_text())
    meta(stored)
    side.write_text(json.dumps(stored))


def parameter_only_by_hand(post, N, D, key):
    """exp(mu + sigma t), t ~ Student-t(nu) per draw and input from ``key``: the posterior
    predictive as Posterior.predict drew it before the form error."""
    law = jax.tree_util.tree_map(jnp.asarray, post.law)
    mu = jax.vmap(lambda one: jnp.log(one.loss(jnp.asarray(N), jnp.asarray(D))))(law)
    sigma, nu = jnp.asarray(post.draws("sigma"))[:, None], jnp.asarray(post.draws("nu"))[:, None]
    noise = jax.random.t(key, nu, (post.num_draws, len(N)), dtype=jnp.float64)
    return np.asarray(jnp.exp(mu + sigma * noise))


# ----------------------------------------------------------------------------------
# the form error of a fit


def test_a_fit_learns_the_form_error_of_its_runs(post, parametric, runs):
    error = post.form_error
    assert isinstance(error, sl.FormError) and error.learned and error.inputs == ("N", "D")
    np.testing.assert_array_equal(error.hull, fe.hull_of(runs, sl.Chinchilla))
    assert 1e-3 < error.scale < 0.2
    assert parametric.form_error is None
    assert post.info["form_error_seconds"] > 0


def test_parameter_only_draws_are_the_ones_before_the_form_error(post, parametric):
    key = jax.random.key(3)
    expected = parameter_only_by_hand(post, N_OUT, D_OUT, key)
    np.testing.assert_allclose(post.predict(N_OUT, D_OUT, key=key, form_error=False), expected, rtol=1e-12)
    # the default key is jax.random.key(0); learning the form error draws no random numbers
    np.testing.assert_allclose(post.predict(N_OUT, D_OUT, form_error=False),
                               parameter_only_by_hand(post, N_OUT, D_OUT, jax.random.key(0)), rtol=1e-12)
    np.testing.assert_array_equal(parametric.predict(N_OUT, D_OUT, key=key, form_error=False),
                                  post.predict(N_OUT, D_OUT, key=key, form_error=False))
    median, low, high = post.predict_interval(N_OUT, D_OUT, key=key, form_error=False)
    np.testing.assert_array_equal(median, np.median(expected, axis=0))
    np.testing.assert_array_equal(np.stack([low, high]), np.quantile(expected, [0.05, 0.95], axis=0))


def test_inside_the_runs_the_form_error_adds_nothing(post, runs):
    N, D = runs.N[::9], runs.D[::9]
    assert np.all(post.form_error.distance(N, D) == 0)
    key = jax.random.key(4)
    np.testing.assert_array_equal(post.predict(N, D, key=key), post.predict(N, D, key=key, form_error=False))


def test_beyond_the_runs_the_draws_spread_by_kappa_sqrt_d(post):
    # 50 copies of one input 10x beyond Chinchilla: the log ratio of the calibrated to the
    # parameter-only draws (same key) is the form error itself, kappa sqrt(d) t, drawn
    # independently per draw and input.
    N, D = np.full(50, 7e11), np.full(50, 1.4e13)
    key = jax.random.key(5)
    delta = np.log(post.predict(N, D, key=key) / post.predict(N, D, key=key, form_error=False))
    scale = post.form_error.scale * np.sqrt(float(post.form_error.distance(7e11, 1.4e13)))
    assert float(post.form_error.distance(7e11, 1.4e13)) > 1.0
    quartile = stats.norm.ppf(0.75) if fe.NU is None else stats.t.ppf(0.75, fe.NU)
    spread = np.quantile(delta, 0.75) - np.quantile(delta, 0.25)
    assert spread == pytest.approx(2 * quartile * scale, rel=0.08)  # 10,000 draws: ~2% standard error
    assert abs(np.median(delta)) < 0.05 * scale
    assert abs(np.corrcoef(delta[:, 0], delta[:, 1])[0, 1]) < 0.25  # independent across inputs
    # and the calibrated interval holds the parameter-only one
    _, low, high = post.predict_interval(N_OUT, D_OUT, key=key)
    _, low0, high0 = post.predict_interval(N_OUT, D_OUT, key=key, form_error=False)
    assert np.all(low < low0) and np.all(high > high0)


def test_a_posterior_without_a_form_error_refuses_calibrated_forecasts(post, parametric):
    for without in (parametric, dataclasses.replace(post, form_error=None)):
        with pytest.raises(ValueError, match="no form error .*form_error=False"):
            without.predict(N_OUT, D_OUT)
        with pytest.raises(ValueError, match="no form error"):
            without.predict_interval(N_OUT, D_OUT)
        assert without.predict(N_OUT, D_OUT, form_error=False).shape == (200, 2)


# ----------------------------------------------------------------------------------
# files


def test_save_and_load_keep_the_form_error(post, saved):
    meta = json.loads(saved.with_suffix(".json").read_text())
    assert meta["form_error"] == json.loads(json.dumps(post.form_error.to_json()))
    loaded = Posterior.load(saved)
    error = loaded.form_error
    assert (error.scale, error.inputs, error.cuts, error.forecasts) == \
           (post.form_error.scale, post.form_error.inputs, post.form_error.cuts, post.form_error.forecasts)
    np.testing.assert_array_equal(error.hull, post.form_error.hull)
    assert "form_error" not in loaded.info
    key = jax.random.key(6)
    np.testing.assert_array_equal(loaded.predict(N_OUT, D_OUT, key=key), post.predict(N_OUT, D_OUT, key=key))


def test_a_file_without_a_form_error_loads_with_none(post, saved):
    rewrite(saved, lambda meta: meta.pop("form_error"))
    loaded = Posterior.load(saved)
    assert loaded.form_error is None
    with pytest.raises(ValueError, match="no form error"):
        loaded.predict(N_OUT, D_OUT)
    key = jax.random.key(7)
    np.testing.assert_array_equal(loaded.predict(N_OUT, D_OUT, key=key, form_error=False),
                                  post.predict(N_OUT, D_OUT, key=key, form_error=False))


def test_a_posterior_fitted_without_a_form_error_saves_none(parametric, tmp_path):
    path = parametric.save(tmp_path / "plain")
    assert "form_error" not in json.loads(path.with_suffix(".json").read_text())
    assert Posterior.load(path).form_error is None


@pytest.mark.parametrize("damage, problem", [
    (lambda e: e.update(scale=-0.01), "scale"),
    (lambda e: e.update(scale=float("nan")), "scale"),
    (lambda e: e.update(hull=[[8.0, float("nan")]] + e["hull"][1:]), "hull"),
    (lambda e: e.update(hull=[[1.0, 2.0, 3.0]]), "hull"),
    (lambda e: e.update(inputs=["D"]), "inputs"),
    (lambda e: e.update(inputs=None), "form_error"),
    (lambda e: e.update(cuts=True), "cuts"),
    (lambda e: e.pop("forecasts"), "forecasts"),
])
def test_a_damaged_form_error_is_refused_naming_the_file(saved, damage, problem):
    rewrite(saved, lambda meta: damage(meta["form_error"]))
    with pytest.raises(ValueError) as caught:
        Posterior.load(saved)
    message = str(caught.value)
    assert "post.json" in message and "form_error" in message and problem in message, message


@pytest.mark.parametrize("value", ["wide", [0.02], None])
def test_a_form_error_that_is_not_an_object_is_refused(saved, value):
    rewrite(saved, lambda meta: meta.update(form_error=value))
    with pytest.raises(ValueError, match="post.json.*form_error"):
        Posterior.load(saved)


def test_a_form_error_of_another_family_is_refused(saved):
    # A ComputeLaw's form error (an interval of log10 flops) in a Chinchilla posterior's
    # sidecar would measure log10 N against that interval: a forecast at N = 1e19 would
    # count as inside the runs.
    other = fe.FormError(scale=0.02, inputs=("flops",), hull=np.array([[18.0], [21.0]]), cuts=3, forecasts=30)
    rewrite(saved, lambda meta: meta.update(form_error=other.to_json()))
    with pytest.raises(ValueError, match=r"post.json.*form_error.*\['flops'\]"):
        Posterior.load(saved)
