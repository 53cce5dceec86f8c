"""The law's form error: how far its forecasts drift once they leave the runs it was fitted on.

A fitted law's parameter uncertainty says how well the runs pin the parameters within one
functional form; it says nothing about the form itself, which is wrong by a percent or two
where a law is extrapolated (Chinchilla's forecast errors track tokens per parameter). The
model here adds a discrepancy to the log loss of a forecast,

    log L(x) = mu(theta; x) + delta(x),   delta(x) = kappa sqrt(d(x)) t,   t ~ StudentT(4),

where d(x) is the distance in decades of x = (log10 N, log10 D) (log10 flops for a
``ComputeLaw``) from the convex hull of the runs fitted. Inside the runs d = 0 and the
forecast is the fit's own; beyond them the squared scale grows in proportion to the
distance, as a random walk's variance does, so the scale grows as its square root.

kappa is learned leave-future-out inside the runs (``learn``): cut the runs at their own
budgets and sizes, refit the law (Huber) on the runs at or below each cut, and measure its
log-loss errors on the runs above, at their distances from the smaller runs' hull; kappa
maximises the Student-t(4) likelihood of those errors with squared scale
s_k^2 + v_k(x) + kappa^2 d, s_k the robust residual scale of cut k's fit and v_k(x) the
delta-method variance of its forecast (the parameters' share of the error, which the
posterior or the bootstrap adds on its own), each cut weighted equally (its forecasts
share one fit).

How the choices were made. The sqrt growth: the root-mean-square of the internal errors
divided by sqrt(d) is about constant in d on the Chinchilla, Sardana and Gadre et al.
ladders (``python benchmarks/heldout.py --shape``); a growth linear in d was also measured
and held fewer held-out runs at the 90% level. The Student-t(4): the likelihood's own
degrees of freedom (``fit_bayes``), preferred to a normal discrepancy by the pooled interval
score on the held-out splits of ``benchmarks/heldout.py`` (a normal one covered more at 50%
and scored worse). Those splits are the evidence reported for the model; nothing in it was
fitted to them beyond these two choices.

Units: N in parameters, D in tokens, flops in FLOPs, distances in decades (log10), kappa
in log loss per sqrt(decade).

References: Kennedy & O'Hagan 2001, "Bayesian calibration of computer models" (model
discrepancy); Hoffmann et al. 2022, sec. 3; Besiroglu et al. 2024.
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ..laws import ComputeLaw, DataConstrained
from .runs import Runs

MIN_SIZES = 3
"""An internal cut needs runs of at least this many distinct sizes (budgets, for a
``ComputeLaw``) below it, so that each exponent is measured on more than two points."""

MIN_FRACTION = 0.3
"""An internal cut needs at least this fraction of the runs (and 10 of them) below it."""

MAX_CUTS = 8
"""At most this many internal cuts per axis (evenly spread over the eligible ones)."""

SAME_DEX = 0.05
"""Budgets (or sizes) within this many decades of each other are one value (``distinct``)."""

FALLBACK_SCALE = 0.05
"""kappa when the runs are too few to learn it (with a warning): about the largest value
learned on the public ladders (0.01-0.06 per sqrt(decade))."""

INSIDE = 1e-9
"""Decades of rounding: a point this close to the hull's boundary is on it (distance 0), and a
point counts as inside only when it lies further than this inside every edge."""

NU = 4.0
"""Degrees of freedom of the discrepancy's Student-t (the likelihood's ``DEFAULT_NU``)."""

_SCALES = np.geomspace(1e-4, 1.0, 1601)
"""The kappa values the likelihood is maximised over (steps of 0.25%)."""


class FormErrorWarning(UserWarning):
    """The form error could not be learned from the runs, and a fallback scale was used."""


@dataclasses.dataclass(frozen=True, eq=False)
class FormError:
    """A learned form-error model: delta(x) = scale sqrt(d(x)) t, t ~ StudentT(``NU``), on log loss.

    Attributes:
        scale: kappa, the scale of the log-loss discrepancy one decade beyond the runs
            (log loss per sqrt(decade)).
        inputs: the law inputs the distance is measured in: ``("N", "D")`` or ``("flops",)``.
        hull: the vertices of the runs' convex hull in log10 of ``inputs``, shape (V, 2)
            counter-clockwise, or (2, 1) (the lowest and highest log10 flops).
        cuts: the internal cuts kappa was learned from (0 when it is the fallback).
        forecasts: the internal forecasts behind it.

    References: Kennedy & O'Hagan 2001.
    """

    scale: float
    inputs: tuple[str, ...]
    hull: np.ndarray
    cuts: int
    forecasts: int

    @property
    def learned(self) -> bool:
        """False when ``scale`` is ``FALLBACK_SCALE`` because the runs were too few to learn it."""
        return self.cuts > 0

    def distance(self, *inputs):
        """The distance in decades of the inputs (those of the law's loss) from the runs' hull.

        Args:
            *inputs: ``N, D`` (parameters, tokens; a DataConstrained law's unique tokens
                may follow and are ignored) or ``flops`` (FLOPs), arrays that broadcast.

        Returns:
            array of the broadcast shape: 0 inside the hull. Traceable (jit, vmap).
        """
        points = [jnp.log10(jnp.asarray(x)) for x in inputs[:len(self.inputs)]]
        return hull_distance(jnp.stack(jnp.broadcast_arrays(*points), axis=-1), jnp.asarray(self.hull))

    def sd(self, *inputs):
        """The scale of the log-loss discrepancy at the inputs: scale sqrt(distance) (0 inside the runs)."""
        return self.scale * jnp.sqrt(self.distance(*inputs))

    def to_json(self) -> dict:
        return {"scale": self.scale, "inputs": list(self.inputs), "hull": self.hull.tolist(),
                "cuts": self.cuts, "forecasts": self.forecasts}

    @classmethod
    def from_json(cls, data: dict) -> FormError:
        """The ``FormError`` of ``to_json``'s plain data, checked (``ValueError`` naming the field)."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        scale, inputs = data.get("scale"), data.get("inputs")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        if inputs not in (["N", "D"], ["flops"]):
            raise ValueError(f"inputs must be ['N', 'D'] or ['flops'], got {inputs!r}")
        inputs = tuple(inputs)
        try:
            hull = np.asarray(data.get("hull"), dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"hull must be a list of points, got {data.get('hull')!r}") from None
        wanted = (2, 1) if inputs == ("flops",) else None
        if hull.ndim != 2 or not np.isfinite(hull).all() or (wanted and hull.shape != wanted) or \
                (not wanted and (hull.shape[1] != 2 or hull.shape[0] < 1)):
            raise ValueError(f"hull must be finite points of {len(inputs)} coordinates, got shape {hull.shape}")
        if wanted and hull[0, 0] > hull[1, 0]:
            raise ValueError(f"hull must be the interval [low, high] of log10 flops, got {hull.tolist()}")
        if not wanted and len(hull) >= 3:
            edge = np.roll(hull, -1, axis=0) - hull
            turn = edge[:, 0] * np.roll(edge, -1, axis=0)[:, 1] - edge[:, 1] * np.roll(edge, -1, axis=0)[:, 0]
            if not np.all(turn > 0):
                raise ValueError("hull must be a convex polygon's vertices in counter-clockwise order")
        counts = [data.get(name) for name in ("cuts", "forecasts")]
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise ValueError(f"cuts and forecasts must be integers >= 0, got {counts}")
        return cls(scale=float(scale), inputs=inputs, hull=hull, cuts=counts[0], forecasts=counts[1])

    def __repr__(self) -> str:
        source = f"learned on {self.cuts} cuts, {self.forecasts} forecasts" if self.learned else "fallback"
        return f"FormError(scale {self.scale:.4g} per sqrt(decade), {source})"


def hull_distance(points, vertices):
    """Euclidean distance of points from a convex polygon (0 inside), or from an interval in 1-D.

    Args:
        points: shape (..., k), k = 1 or 2.
        vertices: shape (V, 2), counter-clockwise (``convex_hull``; one or two vertices are a
            point or a segment); for k = 1, shape (2, 1): the interval's ends.

    Returns:
        distances, shape (...). Traceable (jit, vmap, grad).
    """
    return _hull_distance(jnp, jnp.asarray(points), jnp.asarray(vertices))


def _hull_distance(xp, points, vertices):
    """``hull_distance`` with the array module ``xp`` (numpy on the host, jax.numpy traced)."""
    if vertices.shape[-1] == 1:
        x = points[..., 0]
        return xp.maximum(xp.maximum(vertices[0, 0] - x, x - vertices[1, 0]), 0.0)
    a = vertices
    edge = xp.roll(vertices, -1, axis=0) - a
    p = points[..., None, :]
    length2 = xp.sum(edge * edge, axis=-1)
    t = xp.clip(xp.sum((p - a) * edge, axis=-1) / xp.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    gap = p - (a + t[..., None] * edge)
    to_edges = xp.sqrt(xp.sum(gap * gap, axis=-1))
    nearest = xp.min(to_edges, axis=-1)
    nearest = xp.where(nearest <= INSIDE, 0.0, nearest)  # on the boundary, up to rounding
    if vertices.shape[0] < 3:  # a point or a segment: nothing is inside
        return nearest
    # inside a counter-clockwise polygon: on the left of every edge (by more than INSIDE decades,
    # so that a sliver of nearly collinear vertices contains nothing)
    cross = edge[..., 0] * (p[..., 1] - a[..., 1]) - edge[..., 1] * (p[..., 0] - a[..., 0])
    inside = xp.all(cross > INSIDE * xp.sqrt(length2), axis=-1)
    return xp.where(inside, 0.0, nearest)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of 2-D points, counter-clockwise, by Andrew's monotone chain.

    Degenerate sets (one point, or all on a line) give their extreme points.
    """
    unique = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(unique) <= 2:
        return unique

    def half(sequence):
        chain = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(unique), half(unique[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def distance_inputs(family) -> tuple[str, ...]:
    """The law inputs a family's form error is measured in: ``("flops",)`` for a ComputeLaw, else ``("N", "D")``."""
    return ("flops",) if family is ComputeLaw else ("N", "D")


def _coordinates(runs: Runs, inputs) -> np.ndarray:
    return np.stack([np.log10(getattr(runs, name)) for name in inputs], axis=-1)


def hull_of(runs: Runs, family) -> np.ndarray:
    """The hull vertices of ``runs`` in log10 of ``family``'s distance inputs (see ``FormError.hull``)."""
    points = _coordinates(runs, distance_inputs(family))
    if points.shape[1] == 1:
        return np.array([[points.min()], [points.max()]])
    return convex_hull(points)


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of ``values`` up to ``SAME_DEX`` decades: the largest of each cluster, ascending."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    ends = [ordered[0]]
    for value in ordered[1:]:
        if np.log10(value) - np.log10(ends[-1]) > SAME_DEX:
            ends.append(value)
        else:
            ends[-1] = value
    return np.array(ends)


def eligible_cuts(runs: Runs, by: str, family, *, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """The cut values of ``runs`` along ``by`` (``"flops"`` or ``"N"``) that leave enough runs to fit.

    A cut c fits on the runs with ``by`` <= c and forecasts the rest (``at_or_below``); the
    candidates are the distinct values of ``by`` (``distinct``) but the largest. A cut is
    eligible when the runs it fits on have ``MIN_SIZES`` distinct sizes (budgets for a
    ``ComputeLaw``) and number at least 10 and ``min_fraction`` of all the runs.
    """
    column = getattr(runs, by)
    cuts = [value for value in distinct(column)[:-1]
            if enough_to_fit(runs, at_or_below(column, value), family, min_fraction=min_fraction)]
    return np.array(cuts)


def sizes_below(runs: Runs, below: np.ndarray, family) -> int:
    """The number of distinct sizes (budgets for a ``ComputeLaw``) among the runs ``below``."""
    size = runs.flops if family is ComputeLaw else runs.N
    return len(distinct(size[below])) if below.any() else 0


def enough_to_fit(runs: Runs, below: np.ndarray, family, *, min_fraction: float = MIN_FRACTION) -> bool:
    """Whether the runs ``below`` (a mask) can be fitted at a cut: at least 10 of them and
    ``min_fraction`` of all the runs, of ``MIN_SIZES`` distinct sizes."""
    return bool(below.sum() >= max(10, min_fraction * len(runs)) and sizes_below(runs, below, family) >= MIN_SIZES)


def at_or_below(column: np.ndarray, cut: float) -> np.ndarray:
    """The runs a cut fits on: ``column <= cut``."""
    return column <= cut


def _spread(cuts: np.ndarray, most: int) -> np.ndarray:
    if len(cuts) <= most:
        return cuts
    return cuts[np.unique(np.round(np.linspace(0, len(cuts) - 1, most)).astype(int))]


def law_log_loss(law, runs: Runs) -> np.ndarray:
    """log loss of a fitted law at the runs (the inputs its family takes)."""
    return np.asarray(_law_log_loss(law, runs))


def _law_log_loss(law, runs: Runs):
    if isinstance(law, ComputeLaw):
        return jnp.log(law.loss(runs.flops))
    if isinstance(law, DataConstrained):
        return jnp.log(law.loss(runs.N, runs.D, runs.unique_tokens))
    return jnp.log(law.loss(runs.N, runs.D))


def residual_scale(residuals: np.ndarray) -> float:
    """The robust scale of log-loss residuals: 1.4826 x their median absolute value."""
    return float(1.4826 * np.median(np.abs(residuals)))


def internal_forecasts(runs: Runs, family, *, fixed=None, fit=None) -> dict[str, np.ndarray] | None:
    """The leave-future-out forecasts inside ``runs`` that ``learn`` learns kappa from.

    Cuts the runs at up to ``MAX_CUTS`` of their own budgets and up to ``MAX_CUTS`` of
    their model sizes (``eligible_cuts``), refits the law on the runs at or below each cut
    (all cuts in one batch, warm-started from the full fit's minima, as ``bootstrap``
    refits; a refit that does not converge is replaced by ``fit_huber`` on the cut's runs,
    and left out if that refuses them) and forecasts the runs above.

    Args:
        runs, family, fixed: as for ``learn``.
        fit: the Huber fit on all of ``runs`` (computed when None).

    Returns:
        None when no cut is eligible, else arrays over the forecasts: ``error`` (forecast
        minus observed log loss), ``noise`` (the robust residual scale of the cut's fit on
        its own runs), ``parameter`` (the delta-method variance of the forecast from the
        cut's fit, ``huber.prediction_variance``), ``distance`` (decades from the cut's runs'
        hull), ``weight`` (1 / the cut's number of forecasts) and ``cut`` (the cut's index).
    """
    from .huber import fit_huber, prediction_variance, refit_weighted

    inputs = distance_inputs(family)
    axes = ("flops",) if family is ComputeLaw else ("flops", "N")
    masks = [at_or_below(getattr(runs, by), cut) for by in axes
             for cut in _spread(eligible_cuts(runs, by, family), MAX_CUTS)]
    if not masks:
        return None
    if fit is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_huber(runs, family, fixed=fixed)
    laws, converged, params = refit_weighted(runs, np.array(masks, dtype=np.float64), fit=fit, family=family,
                                             fixed=fixed)
    residuals = np.array(jax.vmap(lambda law: _law_log_loss(law, runs))(laws)) - np.log(runs.loss)
    params = np.array(params)
    for k in np.flatnonzero(~np.asarray(converged)):
        # a warm start that stopped short: the full multi-start fit of the cut's runs instead
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                own = fit_huber(runs.select(masks[k]), family, fixed=fixed)
        except ValueError:
            residuals[k] = np.nan
            continue
        params[k] = [own.params[name] for name in own.names]
        residuals[k] = _law_log_loss(own.law, runs) - np.log(runs.loss)
    points = _coordinates(runs, inputs)
    columns = {name: [] for name in ("error", "noise", "parameter", "distance", "weight", "cut")}
    for k, (below, residual) in enumerate(zip(masks, residuals)):
        if not np.isfinite(residual).all():  # a refit that failed
            continue
        error, noise = residual[~below], residual_scale(residual[below])
        columns["error"].append(error)
        columns["noise"].append(np.full(error.shape, noise))
        columns["parameter"].append(prediction_variance(runs.select(below), runs.select(~below), params[k],
                                                        family=family, fixed=fixed, noise=noise))
        columns["distance"].append(_hull_distance(np, points[~below], hull_of(runs.select(below), family)))
        columns["weight"].append(np.full(error.shape, 1.0 / error.size))
        columns["cut"].append(np.full(error.shape, k))
    if not columns["error"]:
        return None
    return {name: np.concatenate(values) for name, values in columns.items()}


def learn(runs: Runs, family, *, fixed=None, fit=None) -> FormError:
    """Learn the form error of ``family`` from ``runs`` by leave-future-out inside them.

    kappa maximises the likelihood of the internal forecasts' errors
    (``internal_forecasts``) under a Student-t(``NU``) of squared scale
    s_k^2 + v_k + kappa^2 d (v_k the forecast's delta-method parameter variance), each cut
    weighted equally
    (see the module docstring). Runs too few for any cut give ``FALLBACK_SCALE`` and a
    ``FormErrorWarning``.

    Args:
        runs: the runs the law is fitted on.
        family: the law family (``Chinchilla``, ``Kaplan``, ``ComputeLaw``, ``DataConstrained``).
        fixed: parameters pinned to a value, as for ``fit_huber``.
        fit: the Huber fit on all of ``runs`` (computed when None).

    Returns:
        ``FormError`` whose hull is that of ``runs``.

    References: Kennedy & O'Hagan 2001; Gneiting & Raftery 2007 (leave-future-out scoring).
    """
    inputs, hull = distance_inputs(family), hull_of(runs, family)
    try:
        forecasts = internal_forecasts(runs, family, fixed=fixed, fit=fit)
        why = (f"no cut leaves 10 runs of {MIN_SIZES} sizes and {MIN_FRACTION:.0%} of the runs at or below it, "
               "or no refit below a cut succeeded")
    except ValueError as error:  # the Huber fit on all the runs refused them
        forecasts, why = None, f"the Huber fit the refits start from failed: {error}"
    if forecasts is None:
        warnings.warn(f"the form error of the {family.__name__} law cannot be learned from {len(runs)} runs "
                      f"({why}): forecasts beyond the runs use the fallback scale {FALLBACK_SCALE} per "
                      "sqrt(decade)", FormErrorWarning, stacklevel=3)
        return FormError(FALLBACK_SCALE, inputs, hull, 0, 0)
    error, distance, weight = forecasts["error"], forecasts["distance"], forecasts["weight"]
    variance = (forecasts["noise"] ** 2 + forecasts["parameter"])[None, :] + _SCALES[:, None] ** 2 * distance[None, :]
    nll = np.sum(weight * (0.5 * np.log(variance) + 0.5 * (NU + 1) * np.log1p(error ** 2 / (NU * variance))),
                 axis=1)
    return FormError(float(_SCALES[np.argmin(nll)]), inputs, hull, int(np.unique(forecasts["cut"]).size),
                     int(error.size))


def sample(form_error: FormError | None, key, shape, *inputs):
    """Draws of the log-loss discrepancy at the inputs, shape ``shape`` (draws, *broadcast shape); 0 without one."""
    if form_error is None:
        return jnp.zeros(shape)
    sd = form_error.sd(*inputs)
    return sd * jax.random.t(key, NU, shape, dtype=sd.dtype)
