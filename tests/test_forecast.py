"""The forecast check: fit below a cut, measure the error above it."""

import numpy as np
import pytest

import scalinglaws_jax as sl


def _runs_from(law, n=80, seed=0):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(5e7), np.log(2e10), n))
    D = N * np.exp(rng.uniform(np.log(5.0), np.log(100.0), n))
    return sl.Runs(N=N, D=D, loss=np.asarray(law.loss(N, D)))


def test_exact_law_forecasts_exactly():
    runs = _runs_from(sl.EPOCH_2024)
    check = sl.extrapolation_error(runs, max_flops=np.quantile(runs.flops, 0.7))
    assert len(check.train) + len(check.held_out) == len(runs)
    assert check.held_out.flops.min() > check.train.flops.max()
    assert check.max_abs_error < 1e-7


def test_chinchilla_forecast_from_small_runs():
    # Fit on runs up to 1e21 FLOPs and forecast the 23 larger ones: about 1% error.
    runs = sl.datasets.chinchilla(drop_highest=5)
    check = sl.extrapolation_error(runs, max_flops=1e21)
    assert len(check.held_out) == int(np.sum(runs.flops > 1e21))
    assert check.mean_abs_error < 0.02 and abs(check.bias) < 0.01
    np.testing.assert_allclose(check.predicted, check.fit.law.loss(check.held_out.N, check.held_out.D))
    assert "held out" in repr(check)


def test_size_cut_fixed_parameters_and_families():
    runs = sl.datasets.chinchilla(drop_highest=5)
    pinned = sl.extrapolation_error(runs, max_N=2e9, fixed={"E": 1.69})
    assert float(pinned.fit.law.E) == pytest.approx(1.69)
    assert pinned.held_out.N.min() > 2e9
    compute = sl.extrapolation_error(runs, max_flops=1e21, family=sl.ComputeLaw)
    np.testing.assert_allclose(compute.predicted, compute.fit.law.loss(compute.held_out.flops))

    def loss_fn(p, N, D):
        return p[0] + p[1] / N ** p[3] + p[2] / D ** p[4]

    user = sl.extrapolation_error(runs, max_flops=1e21, loss_fn=loss_fn, names=("E", "A", "B", "alpha", "beta"),
                                  grid=np.array([[1.8, 480.0, 2100.0, 0.35, 0.37]]))
    assert user.mean_abs_error == pytest.approx(sl.extrapolation_error(runs, max_flops=1e21).mean_abs_error, rel=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one cut"),
        (dict(max_flops=1e21, max_N=1e9), "exactly one cut"),
        (dict(max_flops=-1.0), "max_flops must be"),
        (dict(max_flops=1e30), "no runs on one side"),
        (dict(max_N=1.0), "no runs on one side"),
    ],
)
def test_bad_cuts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sl.extrapolation_error(sl.datasets.chinchilla(), **kwargs)
