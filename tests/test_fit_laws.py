"""A fitted law is always usable: it passes check_law and goes into the solvers eagerly and
under jit, for every family and for the bootstrap's batched laws; fits carry the Domain
of the runs they were fitted on.

Reference: Kaplan et al. 2020, eqs. (1.5)-(1.6) (the joint law L(N, D)); its
compute-efficient frontier under C = 6 N D is derived in ``huber.kaplan_frontier``.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import _validate
from scalinglaws_jax.domain import Domain
from scalinglaws_jax.fit.isoflop import fit_envelope, fit_isoflop


def _runs(law, n=120, seed=0, unique=False):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(5e7), np.log(2e10), n))
    D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), n))
    if unique:
        U = D / np.exp(rng.uniform(0.0, np.log(60.0), n))
        return sl.Runs(N=N, D=D, loss=np.asarray(law.loss(N, D, U)), unique_tokens=U)
    return sl.Runs(N=N, D=D, loss=np.asarray(law.loss(N, D)))


KAPLAN = sl.Kaplan(N_c=6.4e13, D_c=1.8e13, alpha_N=0.076, alpha_D=0.103, C_c=1.0, alpha_C=1.0)


@pytest.fixture(scope="module")
def kaplan_fit():
    return sl.fit_huber(_runs(KAPLAN), sl.Kaplan)


def test_fitted_kaplan_law_is_usable_outside_jit(kaplan_fit):
    law = kaplan_fit.law
    _validate.check_law(law)
    assert np.isfinite(float(law.loss(1e9, 1e11)))
    plan = sl.compute_optimal(law, 1e23)
    assert int(plan.status) == 0 and np.isfinite(float(plan.N))
    # C_c and alpha_C are those of the fitted joint law's own frontier under C = 6 N D.
    budgets = np.geomspace(1e19, 1e27, 5)
    frontier = np.asarray(sl.compute_optimal(law, budgets).loss)
    np.testing.assert_allclose(np.asarray(law.loss_C(budgets)), frontier, rtol=1e-10)
    ratio = float(law.alpha_N / law.alpha_D)
    assert float(law.alpha_C) == pytest.approx(float(law.alpha_D) * ratio / (1 + ratio), rel=1e-12)


def _families():
    return [
        ("Chinchilla", sl.Chinchilla, _runs(sl.EPOCH_2024)),
        ("Kaplan", sl.Kaplan, _runs(KAPLAN)),
        ("DataConstrained", sl.DataConstrained, _runs(sl.MUENNIGHOFF_2023, n=150, seed=3, unique=True)),
    ]


@pytest.mark.parametrize("name, family, runs", _families(), ids=[f[0] for f in _families()])
def test_fitted_laws_of_n_and_d_work_in_every_solver(name, family, runs):
    law = sl.fit_huber(runs, family).law
    _validate.check_law(law)
    eager = sl.compute_optimal(law, 1e23)
    jitted = jax.jit(sl.compute_optimal)(law, jnp.asarray(1e23))
    assert int(eager.status) == int(jitted.status) == 0
    np.testing.assert_allclose(float(jitted.N), float(eager.N), rtol=1e-10)
    target = float(eager.loss) * 1.01
    eager = sl.inference_optimal(law, target, 1e12)
    jitted = jax.jit(sl.inference_optimal)(law, jnp.asarray(target), jnp.asarray(1e12))
    assert int(eager.status) == int(jitted.status) == 0
    np.testing.assert_allclose(float(jitted.N), float(eager.N), rtol=1e-10)


def test_fitted_compute_law_works_eagerly_and_under_jit():
    compute = sl.ComputeLaw(E=1.7, C0=3e10, alpha=0.05)
    base = _runs(sl.HOFFMANN_2022)
    runs = sl.Runs(N=base.N, D=base.D, loss=np.asarray(compute.loss(base.flops)))
    law = sl.fit_huber(runs, sl.ComputeLaw).law
    _validate.check_law(law)
    assert float(law.flops_for_loss(2.0)) == pytest.approx(float(jax.jit(law.flops_for_loss)(2.0)), rel=1e-12)


@pytest.mark.parametrize("name, family, runs", _families()[:2], ids=["Chinchilla", "Kaplan"])
def test_bootstrap_laws_pass_check_law_and_go_into_the_solvers(name, family, runs):
    noise = np.exp(0.003 * np.random.default_rng(0).standard_normal(len(runs)))
    noisy = sl.Runs(N=runs.N, D=runs.D, loss=runs.loss * noise)
    boot = sl.bootstrap(noisy, 20, key=jax.random.key(0), family=family)
    _validate.check_law(boot.law)
    plans = sl.compute_optimal(boot.law, 1e23)  # a batch of laws broadcasts in the closed form
    assert np.all(np.asarray(plans.status) == 0)
    plans = jax.vmap(sl.compute_optimal, (0, None))(boot.law, 1e23)
    assert np.all(np.asarray(plans.status) == 0)


def test_fits_carry_the_domain_of_their_runs():
    runs = _runs(sl.EPOCH_2024)
    noise = np.exp(0.003 * np.random.default_rng(0).standard_normal(len(runs)))
    noisy = sl.Runs(N=runs.N, D=runs.D, loss=runs.loss * noise)
    fit = sl.fit_huber(noisy)
    assert fit.domain == Domain.from_runs(noisy)
    assert sl.bootstrap(noisy, 10, key=jax.random.key(0), fit=fit).domain == Domain.from_runs(noisy)
    budgets = np.geomspace(1e18, 1e21, 4)
    N = np.concatenate([np.sqrt(C / 120) * np.logspace(-1, 1, 9) for C in budgets])
    flops = np.repeat(budgets, 9)
    profiles = sl.Runs(N=N, flops=flops, loss=np.asarray(sl.HOFFMANN_2022.loss(N, flops / (6 * N))))
    assert fit_isoflop(profiles).domain == Domain.from_runs(profiles)
    envelope = fit_envelope(profiles)
    points = sl.Runs(N=envelope.N, D=envelope.D, loss=envelope.loss)
    assert envelope.domain == Domain.from_runs(points)
    assert Domain.from_dict(fit.domain.to_dict()) == fit.domain


def _noisy_kaplan_runs():
    exact = _runs(KAPLAN, n=60)
    return sl.Runs(N=exact.N, D=exact.D, loss=exact.loss * np.exp(0.01 * np.random.default_rng(1).standard_normal(60)))


def test_an_approximate_posterior_of_invalid_laws_is_refused():
    # Laplace's Gaussian on log D_c and alpha_D is far too wide here: its tail underflows D_c to 0.
    with pytest.raises(RuntimeError, match=r"of 800 draws are not valid Kaplan laws .* use method='nuts'"):
        sl.fit_bayes(_noisy_kaplan_runs(), sl.Kaplan, key=jax.random.key(0), method="laplace", num_samples=200)


@pytest.mark.slow
def test_a_kaplan_posterior_law_is_usable_outside_jit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # short chains: R-hat and ESS are not the point here
        post = sl.fit_bayes(_noisy_kaplan_runs(), sl.Kaplan, key=jax.random.key(0), num_chains=2, num_warmup=300,
                            num_samples=300)
    law = post.law
    _validate.check_law(law)
    C_c, alpha_C = sl.fit.huber.kaplan_frontier(law.N_c, law.D_c, law.alpha_N, law.alpha_D)
    np.testing.assert_allclose(law.C_c, C_c, rtol=1e-12)
    np.testing.assert_allclose(law.alpha_C, alpha_C, rtol=1e-12)
    plans = jax.vmap(sl.compute_optimal, (0, None))(law, 1e23)
    assert np.all(np.asarray(plans.status) == 0)
    np.testing.assert_allclose(law.loss_C(1e23), plans.loss, rtol=1e-9)
