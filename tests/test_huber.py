"""Approach 3: the batched Huber fit and the bootstrap, against published numbers and scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import scalinglaws_jax as sl
from scalinglaws_jax.fit import huber


@pytest.fixture(scope="module")
def chinchilla_runs():
    return sl.datasets.chinchilla(drop_highest=5)


@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla_runs):
    return sl.fit_huber(chinchilla_runs)


def test_reproduces_besiroglu_fit(chinchilla_fit):
    # Besiroglu et al. 2024: Huber objective ~1.01827e-3 at E=1.8172, A=477.8, B=2143.9,
    # alpha=0.3473, beta=0.3672 (DESIGN.md) from Hoffmann's 4500-point grid.
    fit = chinchilla_fit
    law = fit.law
    assert fit.objective <= 1.01828e-3
    assert float(law.E) == pytest.approx(1.8172, abs=1e-3)
    assert float(law.alpha) == pytest.approx(0.3473, abs=2e-3)
    assert float(law.beta) == pytest.approx(0.3672, abs=2e-3)
    assert float(law.A) == pytest.approx(477.8, rel=0.02)
    assert float(law.B) == pytest.approx(2143.9, rel=0.02)
    assert fit.starts.shape == fit.end_points.shape == (4500, 5)
    assert fit.n_converged >= 1 and fit.n_at_best >= 1 and fit.converged[np.argmin(fit.end_objectives)]
    assert fit.grad_norm < 1e-6 and fit.at_bound == ()


def _objective(theta, runs, delta=1e-3):
    a, b, e, alpha, beta = theta
    z = np.stack([a - alpha * np.log(runs.N), b - beta * np.log(runs.D), np.full(len(runs), e)])
    top = z.max(axis=0)
    s = np.exp(z - top)
    r = top + np.log(s.sum(axis=0)) - np.log(runs.loss)
    p = s / s.sum(axis=0)
    psi = np.clip(r, -delta, delta)
    f = np.sum(runs.weight * np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)))
    w = runs.weight * psi
    grad = np.array([w @ p[0], w @ p[1], w @ p[2], -(w * np.log(runs.N)) @ p[0], -(w * np.log(runs.D)) @ p[1]])
    return f, grad


def test_matches_scipy_lbfgsb_on_a_small_grid(chinchilla_runs):
    grid = np.array([[a, b, e, al, be] for a in (5.0, 10.0) for b in (5.0, 10.0) for e in (0.0, 0.5)
                     for al in (0.5, 1.0) for be in (0.5,)])
    ours = sl.fit_huber(chinchilla_runs, grid=grid)
    results = [optimize.minimize(_objective, start, args=(chinchilla_runs,), jac=True, method="L-BFGS-B",
                                 options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12}) for start in grid]
    best = min(results, key=lambda result: result.fun)
    assert ours.objective <= best.fun * (1 + 1e-9)
    # Where scipy found the same minimum, the two agree on the parameters.
    if best.fun <= ours.objective * (1 + 1e-7):
        np.testing.assert_allclose(list(ours.params.values()), best.x, atol=5e-3)
    # Our objective at our optimum equals the independent NumPy objective there.
    assert _objective(np.array(list(ours.params.values())), chinchilla_runs)[0] == pytest.approx(ours.objective, rel=1e-12)


def test_hand_derived_moments_equal_autodiff(chinchilla_runs):
    features = {k: jnp.asarray(v) for k, v in huber._features(chinchilla_runs).items()}
    observed = jnp.log(chinchilla_runs.loss)
    fast = huber._chinchilla_moments(features, observed, 1e-3)
    generic = huber._generic_moments(huber.CHINCHILLA, features, observed, 1e-3)
    rng = np.random.default_rng(0)
    theta = jnp.asarray(rng.uniform([4, 5, 0.3, 0.2, 0.2], [9, 10, 0.8, 0.5, 0.5], size=(7, 5)))
    weight = jnp.asarray(rng.integers(0, 3, size=(7, len(chinchilla_runs))).astype(float))
    for exact in (True, False):
        for a, b in zip(fast(theta, weight, exact), generic(theta, weight, exact)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _synthetic_runs(law, noise, seed=0, n=120):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(5e7), np.log(2e10), n))
    D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), n))
    loss = np.asarray(law.loss(N, D)) * np.exp(noise * rng.standard_normal(n))
    return sl.Runs(N=N, D=D, loss=loss)


def test_recovers_a_known_law_from_noisy_runs():
    truth = sl.Chinchilla(E=1.8, A=450.0, B=1900.0, alpha=0.34, beta=0.37)
    fit = sl.fit_huber(_synthetic_runs(truth, noise=0.003))
    assert float(fit.law.E) == pytest.approx(1.8, abs=0.03)
    assert float(fit.law.alpha) == pytest.approx(0.34, abs=0.02)
    assert float(fit.law.beta) == pytest.approx(0.37, abs=0.02)
    noiseless = sl.fit_huber(_synthetic_runs(truth, noise=0.0))
    for name in ("E", "A", "B", "alpha", "beta"):
        assert float(getattr(noiseless.law, name)) == pytest.approx(getattr(truth, name), rel=1e-6)


def test_fixed_and_bounded_parameters(chinchilla_runs, chinchilla_fit):
    pinned = sl.fit_huber(chinchilla_runs, fixed={"E": 1.69})
    assert float(pinned.law.E) == pytest.approx(1.69, rel=1e-14)
    assert pinned.objective >= chinchilla_fit.objective
    assert len(pinned.starts) == 900  # the grid's e column collapses to the fixed value
    with pytest.warns(RuntimeWarning, match="bound of alpha"):
        bounded = sl.fit_huber(chinchilla_runs, bounds={"alpha": (0.1, 0.3)})
    assert float(bounded.law.alpha) == pytest.approx(0.3)
    assert bounded.at_bound == ("alpha",)


def test_other_families_recover_known_laws():
    kaplan = sl.Kaplan(N_c=6.4e13, D_c=1.8e13, alpha_N=0.076, alpha_D=0.103, C_c=1.0, alpha_C=1.0)
    fit = sl.fit_huber(_synthetic_runs(kaplan, noise=0.0), sl.Kaplan)
    assert float(fit.law.alpha_N) == pytest.approx(0.076, rel=1e-4)
    assert float(fit.law.D_c) == pytest.approx(1.8e13, rel=1e-3)
    compute = sl.ComputeLaw(E=1.7, C0=3e10, alpha=0.05)
    runs = _synthetic_runs(sl.HOFFMANN_2022, noise=0.0)
    runs = sl.Runs(N=runs.N, D=runs.D, loss=np.asarray(compute.loss(runs.flops)))
    fit = sl.fit_huber(runs, sl.ComputeLaw)
    assert float(fit.law.alpha) == pytest.approx(0.05, rel=1e-4)
    assert float(fit.law.E) == pytest.approx(1.7, rel=1e-4)


def test_user_supplied_loss_function(chinchilla_runs, chinchilla_fit):
    def loss_fn(params, N, D):
        E, A, B, alpha, beta = params
        return E + A / N**alpha + B / D**beta

    grid = np.array([[1.5, 300.0, 1000.0, 0.3, 0.3], [2.0, 600.0, 3000.0, 0.4, 0.4]])
    fit = sl.fit_huber(chinchilla_runs, loss_fn=loss_fn, names=("E", "A", "B", "alpha", "beta"), grid=grid)
    assert fit.law is None
    assert fit.objective == pytest.approx(chinchilla_fit.objective, rel=1e-8)
    assert fit.params["alpha"] == pytest.approx(float(chinchilla_fit.law.alpha), abs=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(delta=0.0), "delta"),
        (dict(fixed={"Q": 1.0}), "not a parameter"),
        (dict(fixed={"E": -1.0}), "E must be"),
        (dict(bounds={"alpha": (0.5, 0.2)}), "low < high"),
        (dict(grid=np.zeros((3, 4))), "grid must have shape"),
        (dict(loss_fn=lambda p, N, D: p[0] + 0 * N), "names"),
    ],
)
def test_bad_arguments(chinchilla_runs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sl.fit_huber(chinchilla_runs, **kwargs)


def test_non_identifiable_runs():
    one_size = sl.Runs(N=np.full(10, 1e9), D=np.geomspace(1e10, 1e12, 10), loss=np.linspace(3.0, 2.5, 10))
    with pytest.raises(ValueError, match="all 10 runs have the same size N=1e"):
        sl.fit_huber(one_size)
    too_few = sl.Runs(N=[1e8, 1e9, 1e10], D=[1e9, 1e10, 1e11], loss=[3.0, 2.6, 2.3])
    with pytest.raises(ValueError, match="fit_huber: 3 runs are too few to determine 5 free parameters"):
        sl.fit_huber(too_few)
    with pytest.raises(TypeError, match="Runs"):
        sl.fit_huber({"N": [1.0]})


@pytest.mark.slow
def test_bootstrap_reproduces_besiroglu_intervals(chinchilla_runs, chinchilla_fit):
    # Besiroglu et al. 2024, 4000 resamples, 95% intervals: E 1.769-1.871,
    # alpha 0.317-0.373, beta 0.331-0.415 (DESIGN.md); endpoints within 15% of the width.
    boot = sl.bootstrap(chinchilla_runs, 4000, key=jax.random.key(0), fit=chinchilla_fit, flops=[5.76e23])
    published = {"E": (1.769, 1.871), "alpha": (0.317, 0.373), "beta": (0.331, 0.415)}
    for name, (low, high) in published.items():
        width = high - low
        ours = boot.intervals[name]
        assert abs(ours[0] - low) <= 0.15 * width and abs(ours[1] - high) <= 0.15 * width, (name, ours)
    assert boot.converged.mean() > 0.99
    assert boot.law.alpha.shape == (4000,)
    (low,), (high,) = boot.intervals["N*"]
    assert low < float(sl.compute_optimal(chinchilla_fit.law, 5.76e23).N) < high
    assert boot.intervals["a"][0] < 0.5 < boot.intervals["a"][1]


def test_bootstrap_is_reproducible(chinchilla_runs, chinchilla_fit):
    first = sl.bootstrap(chinchilla_runs, 50, key=jax.random.key(1), fit=chinchilla_fit)
    again = sl.bootstrap(chinchilla_runs, 50, key=jax.random.key(1), fit=chinchilla_fit)
    other = sl.bootstrap(chinchilla_runs, 50, key=jax.random.key(2), fit=chinchilla_fit)
    np.testing.assert_array_equal(first.params, again.params)
    assert not np.array_equal(first.params, other.params)
    # A batched law goes straight into the solvers.
    plans = jax.vmap(sl.compute_optimal, (0, None))(first.law, 1e23)
    assert plans.N.shape == (50,)
    with pytest.raises(ValueError, match="n must be"):
        sl.bootstrap(chinchilla_runs, 1, key=jax.random.key(0), fit=chinchilla_fit)
    with pytest.raises(ValueError, match="level"):
        sl.bootstrap(chinchilla_runs, 10, key=jax.random.key(0), fit=chinchilla_fit, level=1.5)


def test_data_constrained_family_recovers_muennighoff():
    truth = sl.MUENNIGHOFF_2023
    rng = np.random.default_rng(3)
    N = np.exp(rng.uniform(np.log(1e8), np.log(1e10), 150))
    D = N * np.exp(rng.uniform(np.log(5.0), np.log(400.0), 150))
    unique = D / np.exp(rng.uniform(0.0, np.log(60.0), 150))  # 1 to 60 epochs
    runs = sl.Runs(N=N, D=D, loss=np.asarray(truth.loss(N, D, unique)), unique_tokens=unique)
    fit = sl.fit_huber(runs, sl.DataConstrained)
    assert isinstance(fit.law, sl.DataConstrained)
    for name in ("E", "alpha", "R_D"):
        assert float(getattr(fit.law, name)) == pytest.approx(getattr(truth, name), rel=1e-3), name
    with pytest.raises(ValueError, match="unique_tokens"):
        sl.fit_huber(sl.Runs(N=N, D=D, loss=np.asarray(truth.loss(N, D, unique))), sl.DataConstrained)


def test_fits_of_similar_sizes_share_one_compiled_program(chinchilla_runs):
    """Runs are padded to a power of two at weight 0: a fit below a new cut does not recompile."""
    sl.fit_huber(chinchilla_runs)  # 240 runs: the 256 bucket
    before = huber._fit_program._cache_size()
    below = chinchilla_runs.select(chinchilla_runs.flops <= 1e21)  # 217 runs, the same bucket
    fit = sl.fit_huber(below)
    assert huber._fit_program._cache_size() == before
    # and the padding changes nothing: the same fit on the runs padded by hand with zero weights
    extra = sl.Runs(N=np.concatenate([below.N, below.N[:3]]), D=np.concatenate([below.D, below.D[:3]]),
                    loss=np.concatenate([below.loss, below.loss[:3]]),
                    weight=np.concatenate([np.ones(len(below)), np.zeros(3)]))
    np.testing.assert_allclose(sl.fit_huber(extra).objective, fit.objective, rtol=1e-12)
