"""The forecast check: fit on the small runs, predict the large ones.

A law is used to extrapolate, so the test that matters is extrapolation: fit on the runs
below a compute (or size) cut and measure the error on the runs above it.

Units: N in parameters, D in tokens, flops in FLOPs, loss in nats per token.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..laws import ComputeLaw
from .huber import HuberFit, fit_huber
from .runs import Runs


@dataclasses.dataclass(frozen=True, eq=False)
class ForecastCheck:
    """Errors of a law fitted below a cut, on the runs above it.

    Attributes:
        fit: the fit on the runs below the cut.
        train: the runs fitted; held_out: the runs predicted.
        predicted: the predicted loss of each held-out run.
        relative_error: (predicted - observed) / observed for each held-out run.
    """

    fit: HuberFit
    train: Runs
    held_out: Runs
    predicted: np.ndarray
    relative_error: np.ndarray

    @property
    def mean_abs_error(self) -> float:
        """Mean absolute relative error over the held-out runs."""
        return float(np.mean(np.abs(self.relative_error)))

    @property
    def median_abs_error(self) -> float:
        """Median absolute relative error over the held-out runs."""
        return float(np.median(np.abs(self.relative_error)))

    @property
    def max_abs_error(self) -> float:
        """Largest absolute relative error over the held-out runs."""
        return float(np.max(np.abs(self.relative_error)))

    @property
    def bias(self) -> float:
        """Mean signed relative error: > 0 when the law forecasts too high a loss."""
        return float(np.mean(self.relative_error))

    def __repr__(self) -> str:
        return (f"ForecastCheck(fitted on {len(self.train)} runs, {len(self.held_out)} held out: "
                f"mean |error| {self.mean_abs_error:.2%}, median {self.median_abs_error:.2%}, "
                f"max {self.max_abs_error:.2%}, bias {self.bias:+.2%})")


def extrapolation_error(runs: Runs, *, max_flops=None, max_N=None, family=None, **fit_options) -> ForecastCheck:
    """Fit on the runs at or below a cut and report the forecast error on the rest.

    Args:
        runs: the training runs.
        max_flops: fit on runs with at most this training compute (FLOPs); or
        max_N: fit on runs with at most this many parameters.
        family: the law family (default ``Chinchilla``), as for ``fit_huber``.
        **fit_options: passed to ``fit_huber`` (``fixed``, ``bounds``, ``grid``,
            ``delta``, or ``loss_fn`` with ``names``).

    Returns:
        ``ForecastCheck`` with the per-run relative errors and their summaries.

    References: Hoffmann et al. 2022, sec. 3 (forecasting the 70B Chinchilla run);
    Besiroglu et al. 2024.
    """
    if (max_flops is None) == (max_N is None):
        raise ValueError("give exactly one cut: max_flops (FLOPs) or max_N (parameters)")
    column, cut, name = (runs.flops, max_flops, "max_flops") if max_N is None else (runs.N, max_N, "max_N")
    if not (np.isfinite(cut) and cut > 0):
        raise ValueError(f"{name} must be finite and positive, got {cut!r}")
    below = column <= cut
    if below.all() or not below.any():
        raise ValueError(f"{name}={cut:.4g} leaves no runs on one side: the runs span "
                         f"{column.min():.4g} to {column.max():.4g}")
    train, held_out = runs.select(below), runs.select(~below)
    options = dict(fit_options)
    if family is not None:
        options["family"] = family
    fit = fit_huber(train, **options)
    predicted = np.asarray(_predict(fit, held_out, options.get("loss_fn")))
    return ForecastCheck(fit=fit, train=train, held_out=held_out, predicted=predicted,
                         relative_error=predicted / held_out.loss - 1.0)


def _predict(fit: HuberFit, runs: Runs, loss_fn):
    if fit.law is None:
        return loss_fn(np.array(list(fit.params.values())), runs.N, runs.D)
    if isinstance(fit.law, ComputeLaw):
        return fit.law.loss(runs.flops)
    return fit.law.loss(runs.N, runs.D)
