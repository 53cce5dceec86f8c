"""fit_huber's memory does not grow with starts x runs: the runs are scanned in chunks, the
starts of a large fit are screened on a subsample, and what cannot fit is refused before
it is allocated."""

import json
import subprocess
import sys

import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax.fit import huber


def _runs(n, seed=0, noise=0.005):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e11), n))
    D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), n))
    return sl.Runs(N=N, D=D, loss=np.asarray(sl.EPOCH_2024.loss(N, D)) * np.exp(noise * rng.standard_normal(n)))


def test_shared_and_per_start_weights_and_chunk_sizes_give_the_same_moments():
    runs = _runs(500)
    features = huber._padded(huber._features(runs), np.log(runs.loss), runs.weight)
    theta = np.random.default_rng(1).uniform([4, 5, 0.3, 0.2, 0.2], [9, 10, 0.8, 0.5, 0.5], size=(6, 5))
    shared = huber._chinchilla_moments(features[0], features[1], 1e-3)(theta, features[2], True)
    per_start = huber._chinchilla_moments(features[0], features[1], 1e-3)(theta, np.tile(features[2], (6, 1)), True)
    for a, b in zip(shared, per_start):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    coarse = huber._chinchilla_moments(features[0], features[1], 1e-3, chunk=256)(theta, features[2], True)
    for a, b in zip(shared, coarse):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_screening_on_a_subsample_reaches_the_full_fit(monkeypatch):
    runs = _runs(3000)
    full = sl.fit_huber(runs)
    monkeypatch.setattr(huber, "SCREEN_RUNS", 512)
    screened = sl.fit_huber(runs)
    assert screened.objective == pytest.approx(full.objective, rel=1e-10)
    for name in ("E", "A", "B", "alpha", "beta"):
        assert float(getattr(screened.law, name)) == pytest.approx(float(getattr(full.law, name)), rel=1e-6)
    assert screened.converged[screened.best] and screened.screened_on == 512
    assert full.screened_on == len(runs)
    # only the best few distinct minima are polished, and evaluated, on all runs
    evaluated = ~np.isnan(screened.end_objectives)
    assert 1 <= evaluated.sum() <= huber.FULL_POLISH and not np.isnan(full.end_objectives).any()
    assert screened.n_at_best >= 1


def test_what_cannot_fit_is_refused_before_it_is_allocated(monkeypatch):
    monkeypatch.setattr(huber, "host_available_bytes", lambda: 2**30)
    grid = np.tile(huber.CHINCHILLA.grid, (300, 1))  # 1.35 million starts
    with pytest.raises(ValueError, match=r"fit_huber: .* starts .* need about .* GiB .* more than the 1 GiB"):
        sl.fit_huber(_runs(200), grid=grid)


_CHILD = """
import json, resource, numpy as np, jax
jax.config.update("jax_enable_x64", True)
import scalinglaws_jax as sl
rng = np.random.default_rng(0)
n = {n}
N = np.exp(rng.uniform(np.log(1e7), np.log(1e11), n))
D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), n))
runs = sl.Runs(N=N, D=D, loss=np.asarray(sl.EPOCH_2024.loss(N, D)) * np.exp(0.005 * rng.standard_normal(n)))
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fit = sl.fit_huber(runs)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"start_mib": start / 1024, "peak_mib": peak / 1024, "alpha": float(fit.law.alpha),
                   "converged": bool(fit.converged[np.nanargmin(fit.end_objectives)])}}))
"""


@pytest.mark.slow
def test_peak_memory_of_a_large_fit_stays_bounded():
    # 20,000 runs: 4500 starts x 32768 padded runs in float64 would be 1.1 GiB per array.
    done = subprocess.run([sys.executable, "-c", _CHILD.format(n=20_000)], capture_output=True, text=True,
                          timeout=3600, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["converged"] and result["alpha"] == pytest.approx(0.3478, abs=0.01)
    assert result["peak_mib"] - result["start_mib"] < 1024, result
