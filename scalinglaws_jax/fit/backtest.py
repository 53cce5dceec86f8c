"""Backtesting: fit on the smaller runs, forecast the larger ones, score the forecasts.

A law is used to extrapolate, so the test that matters is leave-future-out: for each cut
(a training budget in FLOPs, or a model size in parameters), fit on the runs at or below
the cut and forecast every run above it. ``backtest`` does that for each cut with the
library's forecasts (the posterior predictive of ``fit_bayes``, the bootstrap, or the
Huber point fit with its residual noise) and scores each forecast against the measured
loss: relative error, coverage of central intervals, interval score, log predictive
density and probability integral transform (PIT).

Units: N in parameters, D in tokens, flops in FLOPs, loss in nats per token.

References: Gneiting & Raftery 2007, "Strictly Proper Scoring Rules, Prediction, and
Estimation" (interval score, log score); Dawid 1984 (PIT); Hoffmann et al. 2022, sec. 3.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .runs import Runs

LEVELS = (0.5, 0.8, 0.9, 0.95)
"""The default central-interval levels scored."""


@dataclasses.dataclass(frozen=True, eq=False)
class Backtest:
    """The scored forecasts of a backtest: one row per (cut, forecast run).

    Attributes:
        method: ``"bayes"``, ``"bootstrap"`` or ``"huber"``: what made the forecasts.
        by: ``"flops"`` or ``"N"``: the quantity the runs were cut at.
        cuts: the cut values, shape (K,) (FLOPs or parameters): cut k fits on the runs
            with ``by`` at or below ``cuts[k]`` and forecasts those above it.
        levels: the central-interval levels scored, e.g. (0.5, 0.8, 0.9, 0.95).
        form_error: whether the forecasts include the law's form error (``FormError``).
        runs: the runs backtested.
        train_count: the number of runs each cut fitted on, shape (K,).
        cut: the cut of each row, an index into ``cuts``, shape (M,).
        run: the forecast run of each row, an index into ``runs``, shape (M,).
        observed: the measured loss of each row's run, shape (M,).
        median: the median of the forecast, shape (M,).
        low, high: the central intervals, shape (M, len(levels)).
        pit: the probability integral transform, the forecast's probability of a loss
            at or below the observed one, shape (M,) (uniform on (0, 1) when calibrated).
        log_density: the log of the forecast's density at the observed loss (per nat),
            shape (M,).
        huber: the Huber point fit's forecast on the same cut, shape (M,).
        distance: how far each run lies outside its cut's training runs: the distance in
            decades from the convex hull of their (log10 N, log10 D) (log10 flops for a
            ``ComputeLaw``), shape (M,).

    References: Gneiting & Raftery 2007, eq. (43) (interval score).
    """

    method: str
    by: str
    cuts: np.ndarray
    levels: tuple[float, ...]
    form_error: bool
    runs: Runs
    train_count: np.ndarray
    cut: np.ndarray
    run: np.ndarray
    observed: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    pit: np.ndarray
    log_density: np.ndarray
    huber: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return int(self.observed.shape[0])

    def _level_index(self, level: float) -> int:
        for i, value in enumerate(self.levels):
            if math.isclose(value, level):
                return i
        raise ValueError(f"level {level!r} was not scored: the backtest has levels {self.levels}")

    @property
    def relative_error(self) -> np.ndarray:
        """(median - observed) / observed of each row: > 0 forecasts too high a loss."""
        return self.median / self.observed - 1.0

    @property
    def huber_error(self) -> np.ndarray:
        """(Huber forecast - observed) / observed of each row."""
        return self.huber / self.observed - 1.0

    @property
    def covered(self) -> np.ndarray:
        """Whether each row's observed loss lies inside each interval, bool (M, len(levels))."""
        observed = self.observed[:, None]
        return (self.low <= observed) & (observed <= self.high)

    def coverage(self, rows=None) -> np.ndarray:
        """The fraction of observed losses inside each level's interval, shape (len(levels),).

        Args:
            rows: a boolean mask or indices of the rows to pool (default: all).
        """
        return self._mean(self.covered, rows)

    def interval_score(self, rows=None) -> np.ndarray:
        """The mean interval score of each level, in nats (lower is better), shape (len(levels),).

        For the central interval [l, u] at level 1 - a and observed y:
        (u - l) + (2 / a) (l - y)+ + (2 / a) (y - u)+, a proper score of the interval.

        References: Gneiting & Raftery 2007, eq. (43).
        """
        alpha = 1.0 - np.asarray(self.levels)
        y = self.observed[:, None]
        score = (self.high - self.low) + 2.0 / alpha * (np.maximum(self.low - y, 0.0) + np.maximum(y - self.high, 0.0))
        return self._mean(score, rows)

    def width(self, rows=None) -> np.ndarray:
        """The median interval width relative to the observed loss, per level, shape (len(levels),)."""
        relative = (self.high - self.low) / self.observed[:, None]
        selected = relative if rows is None else relative[rows]
        return np.median(selected, axis=0)

    def _mean(self, values, rows):
        selected = values if rows is None else values[rows]
        if selected.shape[0] == 0:
            return np.full(len(self.levels), np.nan)
        return np.mean(selected, axis=0)

    def summary(self) -> dict:
        """Plain-data figures of the whole backtest and of each cut (for printing or JSON)."""
        def figures(rows):
            mask = np.zeros(len(self), bool) if rows is None else rows
            error, huber = self.relative_error[mask], self.huber_error[mask]
            return {
                "forecasts": int(mask.sum()),
                "coverage": dict(zip(map(str, self.levels), self.coverage(mask).tolist())),
                "interval_score": dict(zip(map(str, self.levels), self.interval_score(mask).tolist())),
                "width": dict(zip(map(str, self.levels), self.width(mask).tolist() if mask.any()
                                  else [math.nan] * len(self.levels))),
                "log_density": float(np.mean(self.log_density[mask])) if mask.any() else math.nan,
                "median_abs_error": float(np.median(np.abs(error))) if mask.any() else math.nan,
                "huber_median_abs_error": float(np.median(np.abs(huber))) if mask.any() else math.nan,
                "bias": float(np.mean(error)) if mask.any() else math.nan,
            }

        whole = figures(np.ones(len(self), bool))
        whole.update(method=self.method, by=self.by, form_error=self.form_error, levels=list(self.levels))
        whole["cuts"] = [dict(cut=float(value), train=int(self.train_count[k]), **figures(self.cut == k))
                         for k, value in enumerate(self.cuts)]
        return whole

    def __repr__(self) -> str:
        coverage = ", ".join(f"{level:g}: {value:.2f}" for level, value in zip(self.levels, self.coverage()))
        error = np.median(np.abs(self.relative_error)) if len(self) else math.nan
        return (f"Backtest({self.method}, by {self.by}, {len(self.cuts)} cuts, {len(self)} forecasts; "
                f"coverage {coverage}; median |error| {error:.2%})")


METHODS = ("bayes", "bootstrap", "huber")

HUBER_DRAWS = 4000
"""Predictive draws per forecast of ``method="huber"``."""
BY = ("flops", "N")


def backtest(runs: Runs, method: str = "bayes", by: str = "flops", cuts=None, levels=LEVELS, key=None, *,
             family=None, form_error: bool = True, **fit_kwargs) -> Backtest:
    """Leave-future-out evaluation of the library's forecasts on ``runs``.

    For each cut c: fit on the runs with ``by`` <= c, forecast every run above it with the
    method's predictive distribution, and score the forecasts (``Backtest``). Beside
    them, the Huber point fit on the same runs gives its own forecast.

    Methods (each with the law's form error, learned on the cut's own runs, unless
    ``form_error=False``):

    - ``"bayes"``: ``fit_bayes(train, family, key=..., **fit_kwargs)``, then
      ``Posterior.predict`` (the posterior predictive).
    - ``"bootstrap"``: ``bootstrap(train, n, key=..., family=...)`` (``n`` from
      ``fit_kwargs``, default 1000); each converged refit's loss times exp(r), r drawn
      from the Huber fit's log-loss residuals (a bootstrap prediction interval, Davison &
      Hinkley 1997, sec. 6.3.3).
    - ``"huber"``: the Huber point fit times exp(sqrt(s^2 + v) z), s the robust scale of
      its residuals, v the delta-method variance of its prediction
      (``huber.prediction_variance``) and z standard normal.

    Args:
        runs: the runs (N in parameters, D in tokens, loss in nats per token).
        method: ``"bayes"`` (default), ``"bootstrap"`` or ``"huber"``.
        by: cut at training compute ``"flops"`` (default) or model size ``"N"``.
        cuts: the cut values (FLOPs or parameters); default every distinct value of
            ``by`` but the largest whose runs at or below identify the law (at least 10
            runs of ``MIN_SIZES`` distinct sizes: ``form_error.eligible_cuts``).
        levels: the central-interval levels to score, each in (0, 1).
        key: JAX PRNG key (default ``jax.random.key(0)``); cut k uses ``fold_in(key, k)``.
        family: the law family (default ``Chinchilla``).
        form_error: include the law's form error in the forecasts (default); False
            scores the parameter-only forecasts.
        **fit_kwargs: passed to the method's fit (``fit_bayes``'s ``num_samples``,
            ``priors``, ...; ``bootstrap``'s ``n``, ``starts``, ...; ``fit_huber``'s ``fixed``, ...).

    Returns:
        ``Backtest``.

    Raises:
        TypeError: ``runs`` not a ``Runs``, or a fit option the method does not take.
        ValueError: an unknown method or ``by``, a level outside (0, 1), a cut that is not
            finite and positive, that leaves no run above it, or that leaves too few runs
            at or below it to fit the law.

    References: Gneiting & Raftery 2007; Davison & Hinkley 1997; Hoffmann et al. 2022.
    """
    import jax

    from ..laws import Chinchilla
    from . import form_error as _form_error

    family = Chinchilla if family is None else family
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if by not in BY:
        raise ValueError(f"by must be 'flops' or 'N', got {by!r}")
    levels = _levels(levels)
    _check_options(method, fit_kwargs)
    column = getattr(runs, by)
    unit = "FLOPs" if by == "flops" else "parameters"
    if cuts is None:
        cuts = _form_error.eligible_cuts(runs, by, family, min_fraction=0.0)
        if not len(cuts):
            raise ValueError(f"backtest: no cut of the {len(runs)} runs by {by} leaves at least 10 runs of "
                             f"{_form_error.MIN_SIZES} sizes at or below it and some above it: the runs are too "
                             "few to backtest")
    else:
        cuts = np.atleast_1d(np.asarray(cuts, dtype=np.float64))
        for cut in cuts:
            _check_cut(runs, column, float(cut), by, unit, family)
    key = jax.random.key(0) if key is None else key
    inputs = _input_names(family)
    rows = []
    for k, cut in enumerate(cuts):
        below = _form_error.at_or_below(column, cut)
        train, held = runs.select(below), runs.select(~below)
        try:
            draws, huber = _forecast(method, train, held, family, inputs, jax.random.fold_in(key, k), form_error,
                                     fit_kwargs)
        except (ValueError, RuntimeError) as error:
            raise type(error)(f"backtest: the fit at the cut {by}={cut:.4g} ({int(below.sum())} runs) failed: "
                              f"{error}") from error
        rows.append(_score(draws, held.loss, levels) + (huber, np.flatnonzero(~below), int(below.sum()),
                                                        _distance(train, held, family)))
    cut_index = np.concatenate([np.full(row[5].size, k) for k, row in enumerate(rows)])
    median, low, high, pit, log_density, huber, run, count, distance = (
        [row[i] for row in rows] for i in range(9))
    return Backtest(method=method, by=by, cuts=np.asarray(cuts, dtype=np.float64), levels=levels,
                    form_error=bool(form_error), runs=runs, train_count=np.array(count), cut=cut_index,
                    run=np.concatenate(run), observed=runs.loss[np.concatenate(run)],
                    median=np.concatenate(median), low=np.concatenate(low), high=np.concatenate(high),
                    pit=np.concatenate(pit), log_density=np.concatenate(log_density),
                    huber=np.concatenate(huber), distance=np.concatenate(distance))


def _levels(levels) -> tuple[float, ...]:
    try:
        values = tuple(float(level) for level in np.atleast_1d(np.asarray(levels, dtype=np.float64)))
    except (TypeError, ValueError):
        raise ValueError(f"levels must be numbers in (0, 1), got {levels!r}") from None
    if not values or not all(0 < level < 1 for level in values):
        raise ValueError(f"levels must be in (0, 1), got {levels!r}")
    return values


def _fit_options(method: str) -> tuple[str, ...]:
    """The ``fit_kwargs`` names ``method`` takes."""
    import inspect

    from .bayes import fit_bayes

    if method == "bayes":
        return tuple(name for name in inspect.signature(fit_bayes).parameters
                     if name not in ("runs", "family", "key", "form_error"))
    if method == "bootstrap":
        return ("n", "starts", "steps", "delta", "fixed", "bounds")
    return ("fixed", "bounds", "delta", "grid")


def _check_options(method: str, fit_kwargs: dict) -> None:
    unknown = sorted(set(fit_kwargs) - set(_fit_options(method)))
    if unknown:
        raise TypeError(f"backtest(method={method!r}) got unknown fit option(s) {unknown}; it takes "
                        f"{', '.join(_fit_options(method))}")


def _check_cut(runs: Runs, column, cut: float, by: str, unit: str, family) -> None:
    from . import form_error as _form_error

    if not (np.isfinite(cut) and cut > 0):
        raise ValueError(f"cuts: each cut must be finite and positive ({unit}), got {cut!r}")
    below = _form_error.at_or_below(column, cut)
    if below.all():
        raise ValueError(f"cuts: the cut {by}={cut:.4g} leaves no run above it (the runs' largest {by} is "
                         f"{column.max():.4g} {unit})")
    if not _form_error.enough_to_fit(runs, below, family, min_fraction=0.0):
        sizes = _form_error.sizes_below(runs, below, family)
        raise ValueError(f"cuts: the cut {by}={cut:.4g} leaves {int(below.sum())} runs of {sizes} distinct "
                         f"{'budgets' if family.__name__ == 'ComputeLaw' else 'sizes'} at or below it, too few to "
                         f"fit the law: a cut needs at least 10 runs of {_form_error.MIN_SIZES} sizes (the runs "
                         f"span {column.min():.4g} to {column.max():.4g} {unit})")


def _input_names(family) -> tuple[str, ...]:
    from .bayes import _resolve

    return _resolve(family).inputs


def _forecast(method, train: Runs, held: Runs, family, inputs, key, form_error: bool, fit_kwargs):
    """Predictive draws (draws, held) of the held-out losses, and the Huber point forecast (held,)."""
    import jax
    import jax.numpy as jnp

    from . import form_error as _form_error
    from .bayes import fit_bayes
    from .huber import bootstrap, fit_huber, prediction_variance

    arguments = [getattr(held, name) for name in inputs]
    fit_key, draw_key = jax.random.split(key)
    huber_options = {name: fit_kwargs[name] for name in _fit_options("huber") if name in fit_kwargs}
    fit = fit_huber(train, family, **huber_options)
    point = np.exp(_form_error.law_log_loss(fit.law, held))
    if method == "bayes":
        post = fit_bayes(train, family, key=fit_key, form_error=form_error, **fit_kwargs)
        return post.predict(*arguments, key=draw_key, form_error=form_error), point
    if method == "bootstrap":
        options = dict(fit_kwargs)
        n = options.pop("n", 1000)
        boot = bootstrap(train, n, key=fit_key, family=family, fit=fit, form_error=form_error, **options)
        return boot.predict(*arguments, key=draw_key, form_error=form_error), point
    # the Huber fit, with its residuals' robust scale as the runs' noise and its parameters'
    # delta-method variance
    predicted = _form_error.law_log_loss(fit.law, train)
    scale = _form_error.residual_scale(predicted - np.log(train.loss))
    variance = scale ** 2 + prediction_variance(train, held, np.array([fit.params[name] for name in fit.names]),
                                                family=family, fixed=fit_kwargs.get("fixed"), noise=scale)
    with jax.enable_x64(True):
        noise_key, form_key = jax.random.split(draw_key)
        log_loss = np.log(point)[None, :] + np.sqrt(variance)[None, :] * np.asarray(
            jax.random.normal(noise_key, (HUBER_DRAWS, len(held)), dtype=jnp.float64))
        if form_error:
            discrepancy = _form_error.learn(train, family, fixed=fit_kwargs.get("fixed"), fit=fit)
            log_loss = log_loss + np.asarray(_form_error.sample(
                discrepancy, form_key, log_loss.shape, *[jnp.asarray(x) for x in arguments]))
    return np.exp(log_loss), point


def _distance(train: Runs, held: Runs, family) -> np.ndarray:
    from . import form_error as _form_error

    names = _form_error.distance_inputs(family)
    return _form_error._hull_distance(np, _form_error._coordinates(held, names), _form_error.hull_of(train, family))


def _score(draws: np.ndarray, observed: np.ndarray, levels) -> tuple:
    """Median, interval bounds (runs, levels), PIT and log density of predictive draws (draws, runs)."""
    tails = np.concatenate([[(1 - level) / 2 for level in levels], [(1 + level) / 2 for level in levels]])
    quantiles = np.quantile(draws, tails, axis=0)
    low, high = quantiles[:len(levels)].T, quantiles[len(levels):].T
    pit = np.mean(draws <= observed[None, :], axis=0)
    return np.median(draws, axis=0), low, high, pit, _log_density(draws, observed)


def _log_density(draws: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """log p(observed) per nat of loss: a Gaussian kernel density of the log-loss draws
    (Silverman's bandwidth), less log(observed) for the change from log loss to loss."""
    logs = np.log(draws)
    count = logs.shape[0]
    spread = np.minimum(np.std(logs, axis=0, ddof=1),
                        (np.quantile(logs, 0.75, axis=0) - np.quantile(logs, 0.25, axis=0)) / 1.349)
    bandwidth = 0.9 * np.maximum(spread, 1e-12) * count ** -0.2
    z = (np.log(observed)[None, :] - logs) / bandwidth
    log_kernel = -0.5 * z ** 2 - 0.5 * np.log(2 * np.pi) - np.log(bandwidth)
    peak = np.max(log_kernel, axis=0)
    return peak + np.log(np.mean(np.exp(log_kernel - peak), axis=0)) - np.log(observed)
