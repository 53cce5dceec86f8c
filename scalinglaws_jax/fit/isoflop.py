"""Approaches 1 and 2 of Hoffmann et al. 2022: compute-optimal N and D as power laws of C.

Both end with N_opt = k_N C^a and D_opt = k_D C^b, fitted by least squares on
log10 N_opt and log10 D_opt against log10 C (C in FLOPs, N in parameters, D in tokens).
They differ in how they find the compute-optimal runs:

* Approach 1 (:func:`fit_envelope`): the lower envelope of loss against FLOPs.
* Approach 2 (:func:`fit_isoflop`): a parabola of loss against log10 N per IsoFLOP budget.

Both fits run on the host in NumPy float64 (they are not jit-able; JAX only draws the
bootstrap's random numbers); their results are pytrees whose ``predict`` is jnp code.

Both report the standard errors of their exponents and warn (``RuntimeWarning``) when a
line through 2 points leaves them untested or when they are not significantly inside
(0, 1); runs that do not vary in size or in compute are refused (``design.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ..domain import Domain
from . import design
from .runs import Runs

__all__ = ["EnvelopeFit", "IsoFLOPFit", "fit_envelope", "fit_isoflop"]


class _PowerLaws:
    """``predict`` for results holding a, b, k_N, k_D."""

    def predict(self, flops):
        """(N_opt, D_opt) = (k_N C^a, k_D C^b) for a budget ``flops`` (FLOPs; any shape)."""
        flops = jnp.asarray(flops)
        return self.k_N * flops**self.a, self.k_D * flops**self.b


def _result(cls, meta=("domain",)):
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    data = [name for name in fields if name not in meta]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=list(meta))


@_result
class EnvelopeFit(_PowerLaws):
    """Approach 1: power laws fitted to the runs on the lower loss-FLOPs envelope.

    Attributes:
        a, b: exponents of N_opt = k_N C^a and D_opt = k_D C^b.
        k_N, k_D: their prefactors (parameters / FLOPs^a, tokens / FLOPs^b).
        a_se, b_se: the standard errors of a and b from the residuals of the lines
            (NaN with 2 points).
        flops, N, D, loss: the envelope points, by increasing FLOPs (FLOPs, parameters,
            tokens, loss).
        group: the ``runs.group`` label (run id) of each envelope point, or None.
        domain: the ranges of N, D, compute and tokens per parameter of the envelope points.
    """

    a: np.ndarray
    b: np.ndarray
    k_N: np.ndarray
    k_D: np.ndarray
    a_se: np.ndarray
    b_se: np.ndarray
    flops: np.ndarray
    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    group: np.ndarray | None
    domain: Domain


@functools.partial(_result, meta=("skipped", "domain"))
class IsoFLOPFit(_PowerLaws):
    """Approach 2: power laws fitted to the minima of per-budget IsoFLOP parabolas.

    Attributes:
        a, b: exponents of N_opt = k_N C^a and D_opt = k_D C^b (a + b = 1 up to rounding,
            since D_opt = C / (6 N_opt)).
        k_N, k_D: their prefactors (parameters / FLOPs^a, tokens / FLOPs^b; k_D = 1/(6 k_N)).
        a_se, b_se: the standard error of a (= that of b) from the residuals of the line
            through the minima (NaN with 2 budgets).
        budgets: the budgets used, increasing (FLOPs).
        N_opt, D_opt: each budget's parabola minimiser (parameters) and C / (6 N_opt) (tokens).
        loss_opt: the parabola's value at its minimum.
        n_runs: the number of runs in each used budget's group.
        run_budget: per run, the budget of the group it was assigned to (FLOPs; NaN when
            no group took it, e.g. too far from every explicit budget).
        skipped: ``(budget, reason)`` for each group left out of the power-law fit.
        domain: the ranges of N, D, compute and tokens per parameter of the runs in the
            budgets used.
        a_interval, b_interval: percentile bootstrap intervals ``[low, high]``, or None.
        a_samples, b_samples: the bootstrap draws (NaN where a resample left fewer than
            2 usable budgets), or None.
        bootstrap_kept: per budget, the fraction of resamples in which its parabola
            passed the checks and entered the fit, or None.
    """

    a: np.ndarray
    b: np.ndarray
    k_N: np.ndarray
    k_D: np.ndarray
    a_se: np.ndarray
    b_se: np.ndarray
    budgets: np.ndarray
    N_opt: np.ndarray
    D_opt: np.ndarray
    loss_opt: np.ndarray
    n_runs: np.ndarray
    run_budget: np.ndarray
    skipped: tuple
    domain: Domain
    a_interval: np.ndarray | None = None
    b_interval: np.ndarray | None = None
    a_samples: np.ndarray | None = None
    b_samples: np.ndarray | None = None
    bootstrap_kept: np.ndarray | None = None


def fit_envelope(runs: Runs, *, n_bins: int | None = 1500) -> EnvelopeFit:
    """Approach 1: fit N_opt(C) and D_opt(C) to the lower envelope of loss against FLOPs.

    "For each FLOP count, which run achieves the lowest loss": the FLOPs range of the
    runs is cut into ``n_bins`` log-spaced bins; in each bin the point (a final run or a
    checkpoint) with the lowest loss is an envelope point if its loss is below that of
    every cheaper point, so the envelope is the set of points that are Pareto-optimal in
    (FLOPs, loss), thinned to one per bin so that densely sampled FLOPs do not dominate
    the fit. Then log10 N and log10 D of the envelope points are fitted linearly against
    log10 C (unweighted; runs with zero weight are left out).

    What it needs to be meaningful: the envelope stands for the compute-optimal frontier
    only if, near every FLOP count, some run is close to compute-optimal. Hoffmann et al.
    used every run's whole training curve (checkpoints of runs with several cosine
    schedules and sizes, 1500 FLOP values); pass checkpoints as points (``group`` = run
    id, reported back per envelope point). With final points only, the envelope is just
    the Pareto-optimal runs: fine for a dense sweep such as IsoFLOP profiles, biased
    towards the sizes that happened to be trained when sizes are sparse. The sizes must
    also bracket the optimum: where the best size lies beyond the largest (or smallest)
    one trained, the envelope sticks to that size and a comes out too low (by 0.02 for
    Hoffmann et al.'s law with the FLOPs range two decades too wide). Points are
    observed, not interpolated along each curve as Hoffmann et al. did.

    Args:
        runs: the runs or checkpoints (N in parameters, D in tokens, flops in FLOPs).
        n_bins: number of log-spaced FLOPs bins (Hoffmann et al. used 1500 FLOP values);
            None keeps every Pareto-optimal point.

    Returns:
        :class:`EnvelopeFit` with ``a, b, k_N, k_D``, the envelope points and ``predict``.

    Warns (``RuntimeWarning``) when a or b is not significantly inside (0, 1) (95%,
    Student's t on the residuals of the lines) or comes from 2 points.

    Raises:
        ValueError: ``runs`` all at one size or one budget, or fewer than 2 envelope
            points at distinct FLOPs, or a bad ``n_bins``.

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    sec. 3.1 (Approach 1), Table 2 (a = 0.50, b = 0.50).
    """
    _check_runs(runs, "fit_envelope")
    if n_bins is not None and (not _is_int(n_bins) or n_bins < 1):
        raise ValueError(f"n_bins must be a positive integer or None, got n_bins={n_bins!r}")
    keep = runs.weight > 0
    order = np.flatnonzero(keep)[np.lexsort((runs.loss[keep], runs.flops[keep]))]
    loss = runs.loss[order]
    best_before = np.concatenate([[np.inf], np.minimum.accumulate(loss)[:-1]])
    order = order[loss < best_before]  # Pareto-optimal: below every cheaper point
    if n_bins is not None and len(order) > 1:
        x = np.log10(runs.flops[order])
        span = np.log10(runs.flops[keep])
        edges = np.linspace(span.min(), span.max(), n_bins + 1)
        bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n_bins - 1)
        order = order[np.append(bins[1:] != bins[:-1], True)]  # lowest loss = last in bin
    flops, N, D = runs.flops[order], runs.N[order], runs.D[order]
    if len(np.unique(flops)) < 2:
        raise ValueError(
            f"the loss envelope has {len(order)} point(s) at {len(np.unique(flops))} distinct FLOPs; "
            f"a power law needs at least 2 (n_bins={n_bins!r})"
        )
    a, log_kN = _line(np.log10(flops), np.log10(N))
    b, log_kD = _line(np.log10(flops), np.log10(D))
    a_se, b_se = _slope_error(np.log10(flops), np.log10(N)), _slope_error(np.log10(flops), np.log10(D))
    for name, value, error in (("a", a, a_se), ("b", b, b_se)):
        problem = design.exponent_problem(float(value), float(error), len(flops), name=name,
                                          what="how the compute-optimal size and data grow with compute")
        if problem:
            warnings.warn(f"fit_envelope: {problem}; the envelope of {len(flops)} points may not be the "
                          "compute-optimal frontier: add runs (sizes on both sides of the optimum at every budget, "
                          "or checkpoints)", RuntimeWarning, stacklevel=2)
            break
    return EnvelopeFit(
        a=a, b=b, k_N=10.0**log_kN, k_D=10.0**log_kD, a_se=a_se, b_se=b_se, flops=flops, N=N, D=D,
        loss=runs.loss[order], group=None if runs.group is None else runs.group[order],
        domain=Domain.from_runs(runs.select(order)),
    )


def fit_isoflop(
    runs: Runs,
    *,
    budgets=None,
    tolerance_dex: float = 0.05,
    min_sizes: int = 3,
    key=None,
    n_bootstrap: int = 0,
    level: float = 0.95,
) -> IsoFLOPFit:
    """Approach 2: fit N_opt(C) and D_opt(C) to the minima of IsoFLOP profiles.

    Grouping, by precedence:

    * ``budgets`` given: each run joins the nearest budget in log10 FLOPs if it lies
      within ``tolerance_dex`` of it; the group's C is that budget.
    * ``runs.group`` given: one group per label; C = the geometric mean of its FLOPs.
    * otherwise: clusters in log10 FLOPs, densest first: the window of half-width
      ``tolerance_dex`` holding the most unassigned runs is moved to the mean of its runs
      until it settles, its runs become a group, and so on until every run has one.
      C = the group's geometric-mean FLOPs (each run lies within ``tolerance_dex`` of it).

    In each group a parabola loss = c0 + c1 x + c2 x^2, x = log10 N, is fitted by weighted
    least squares (``runs.weight``; all groups' 3x3 normal equations solved at once); its
    minimiser is N_opt, D_opt = C / (6 N_opt). A group is skipped, with its reason, when it
    has fewer than ``min_sizes`` distinct sizes, when its parabola opens downward or its
    curvature is not significantly positive (95%, Student's t on the parabola's residuals,
    where it has more runs than 3), or when the minimum lies outside the group's sizes.
    Then log10 N_opt and log10 D_opt are fitted linearly against log10 C (unweighted), so
    a + b = 1; ``a_se`` is the standard error of a, and a warning says when a is not
    significantly inside (0, 1) or comes from 2 budgets.

    The parabola is only an approximation of an IsoFLOP profile: for L = E + A/N^alpha +
    B/D^beta the profile in log N is asymmetric unless alpha = beta. Its shape is the same
    at every budget, so sizes at the same offsets around the optimum bias every N_opt by
    the same factor (k_N, not a): for Hoffmann et al.'s law, +0.9%, +2% and +3.6% for
    sizes spanning +-0.5, +-0.75 and +-1 dex. Sizes off-centre by amounts varying with C
    also bias a, by about -1e-3 for +-1 dex (measured in tests/test_isoflop.py).

    Bootstrap (``n_bootstrap > 0``): every resample draws, within each used group, as many
    runs as it has with replacement (budgets C fixed), refits every parabola and the power
    laws; a group whose resampled parabola fails the checks above drops out of that
    resample (``bootstrap_kept`` says how often each budget stayed). Groups of a few runs
    drop out often, so with many of them the draws describe fits on fewer budgets and
    the interval can miss the point estimate: raise ``min_sizes`` to keep only well
    sampled budgets. Intervals are the percentiles ``50 (1 ± level)`` of the finite
    draws. All resamples and groups are solved in one batched NumPy computation.

    Args:
        runs: runs with N (parameters), flops (FLOPs), loss, weight, optional group.
        budgets: IsoFLOP budgets (FLOPs) to assign runs to, or None.
        tolerance_dex: the half-width in log10 FLOPs of a group (> 0; unused with groups).
        min_sizes: distinct sizes a group needs (>= 3, a parabola's parameters).
        key: JAX PRNG key for the bootstrap.
        n_bootstrap: number of bootstrap resamples (0: none).
        level: coverage of the bootstrap intervals, in (0, 1).

    Returns:
        :class:`IsoFLOPFit` with ``a, b, k_N, k_D``, per-budget minima, skipped groups
        with reasons, bootstrap intervals and ``predict``.

    Raises:
        ValueError: bad arguments (named with their value), all runs at one size or one
            budget, or fewer than 2 usable budgets (the message lists every skipped group
            and why).

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    sec. 3.2 (Approach 2), Figure 3, Table 2 (a = 0.49, b = 0.51).
    """
    _check_runs(runs, "fit_isoflop")
    if not (isinstance(tolerance_dex, numbers.Real) and 0 < tolerance_dex < np.inf):
        raise ValueError(
            f"tolerance_dex must be finite and positive (log10 FLOPs), got tolerance_dex={tolerance_dex!r}"
        )
    if not _is_int(min_sizes) or min_sizes < 3:
        raise ValueError(
            f"min_sizes must be an integer >= 3 (a parabola has 3 parameters), got min_sizes={min_sizes!r}"
        )
    if not _is_int(n_bootstrap) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got n_bootstrap={n_bootstrap!r}")
    if n_bootstrap and key is None:
        raise ValueError(f"n_bootstrap={n_bootstrap} needs key, a JAX PRNG key (randomness is explicit)")
    if not (isinstance(level, numbers.Real) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got level={level!r}")

    logC = np.log10(runs.flops)
    if budgets is not None:
        given = np.log10(_budgets(budgets))
        distance = np.abs(logC[:, None] - given[None, :])
        labels = np.where(distance.min(1) <= tolerance_dex, distance.argmin(1), -1)
        centres = given
        how = f"tolerance_dex={tolerance_dex}"
    else:
        if runs.group is not None:
            names, labels = np.unique(runs.group, return_inverse=True)
        else:
            labels = _cluster(logC, tolerance_dex)
        centres = np.array([logC[labels == g].mean() for g in range(labels.max() + 1)])
        how = "group" if runs.group is not None else f"tolerance_dex={tolerance_dex}"
    G = len(centres)
    run_budget = np.where(labels >= 0, 10.0 ** centres[np.maximum(labels, 0)], np.nan)

    # Pad the groups to one (G, n_max) table; padded slots have weight 0.
    members = [np.flatnonzero(labels == g) for g in range(G)]
    n_max = max(1, max(len(m) for m in members))
    index = np.zeros((G, n_max), int)
    present = np.zeros((G, n_max), bool)
    for g, m in enumerate(members):
        index[g, : len(m)], present[g, : len(m)] = m, True
    logN = np.log10(runs.N)[index]
    centre_N = np.array([logN[g, present[g]].mean() if present[g].any() else 0.0 for g in range(G)])
    x = np.where(present, logN - centre_N[:, None], 0.0)
    y = np.where(present, runs.loss[index], 0.0)
    w = np.where(present, runs.weight[index], 0.0)
    sizes = _size_onehot(x, present)

    x_opt, loss_opt, ok, why = _vertices(x, y, w, sizes, min_sizes)
    skipped = []
    for g in np.flatnonzero(~ok):
        name = f"group {names[g]}: " if budgets is None and runs.group is not None else ""
        reason = "no runs within " + how if not members[g].size else why(g, centre_N[g])
        skipped.append((float(10.0 ** centres[g]), name + reason))
    used = np.flatnonzero(ok)
    used = used[np.argsort(centres[used])]
    if len(np.unique(centres[used])) < 2:
        listed = "; ".join(f"C={c:.3g}: {r}" for c, r in sorted(skipped)) or "none"
        raise ValueError(
            f"fit_isoflop needs at least 2 usable budgets to fit a power law, got {len(used)} "
            f"(grouped by {how}, {G} group(s); skipped: {listed})"
        )

    C = 10.0 ** centres[used]
    N_opt = 10.0 ** (x_opt[used] + centre_N[used])
    D_opt = C / (6.0 * N_opt)
    a, log_kN = _line(np.log10(C), np.log10(N_opt))
    b, log_kD = _line(np.log10(C), np.log10(D_opt))
    a_se = _slope_error(np.log10(C), np.log10(N_opt))
    problem = design.exponent_problem(float(a), float(a_se), len(C), what="how N* grows with compute")
    if problem:
        warnings.warn(f"fit_isoflop: {problem}; add sizes around each budget's optimum, or more budgets",
                      RuntimeWarning, stacklevel=2)
    in_used = np.isin(labels, used) & (runs.weight > 0)
    fit = dict(
        a=a, b=b, k_N=10.0**log_kN, k_D=10.0**log_kD, a_se=a_se, b_se=a_se, budgets=C, N_opt=N_opt, D_opt=D_opt,
        loss_opt=loss_opt[used], n_runs=present[used].sum(1), run_budget=run_budget,
        skipped=tuple(sorted(skipped)), domain=Domain.from_runs(runs.select(in_used)),
    )
    if n_bootstrap:
        sub = (x[used], y[used], w[used], sizes[used], present[used])
        a_s, b_s, kept = _bootstrap(key, n_bootstrap, *sub, np.log10(C), centre_N[used], min_sizes)
        tails = 50.0 * np.array([1.0 - level, 1.0 + level])
        fit.update(
            a_samples=a_s, b_samples=b_s, bootstrap_kept=kept,
            a_interval=_percentiles(a_s, tails), b_interval=_percentiles(b_s, tails),
        )
    return IsoFLOPFit(**fit)


def _vertices(x, y, w, sizes, min_sizes):
    """Batched weighted parabola fits along the last axis of ``x, y, w`` (..., n).

    ``sizes`` (..., n, U) one-hot encodes each slot's distinct size. Returns the
    minimiser, the minimum, a validity mask and ``why(index, centre)``, the reason an
    invalid item failed.
    """
    moments = np.stack([np.sum(w * x**k, -1) for k in range(5)], -1)
    rhs = np.stack([np.sum(w * x**k * y, -1) for k in range(3)], -1)
    normal = moments[..., np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])]
    counted = w > 0
    n_sizes = (np.matmul(w[..., None, :], sizes)[..., 0, :] > 0).sum(-1)
    enough = n_sizes >= min_sizes
    normal = np.where(enough[..., None, None], normal, np.eye(3))  # singular otherwise
    c0, c1, c2 = np.moveaxis(np.linalg.solve(normal, rhs[..., None])[..., 0], -1, 0)
    # Standard error of the curvature from the residuals, where there are more runs than 3.
    fitted = c0[..., None] + c1[..., None] * x + c2[..., None] * x**2
    dof = counted.sum(-1) - 3
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.sum(w * (y - fitted) ** 2, -1) / dof
        c2_se = np.sqrt(np.maximum(variance * np.linalg.inv(normal)[..., 2, 2], 0.0))
        x_opt = -c1 / (2.0 * c2)
        loss_opt = c0 - c1**2 / (4.0 * c2)
    t = np.vectorize(design.t_quantile, otypes=[float])(np.maximum(dof, 0))
    clear = (dof < 1) | (c2 - t * c2_se > 0)
    lo = np.where(counted, x, np.inf).min(-1)
    hi = np.where(counted, x, -np.inf).max(-1)
    ok = enough & (c2 > 0) & clear & (x_opt >= lo) & (x_opt <= hi)

    def why(i, centre):
        if not enough[i]:
            return f"{n_sizes[i]} distinct size(s) with positive weight, need min_sizes={min_sizes}"
        if not c2[i] > 0:
            return f"the parabola opens downward or is flat (curvature {c2[i]:.3g} loss per dex^2)"
        if not clear[i]:
            return (f"the curvature {c2[i]:.3g} +- {c2_se[i]:.2g} loss per dex^2 (standard error) is not "
                    "significantly positive: no clear minimum")
        return (
            f"the parabola's minimum N={10 ** (x_opt[i] + centre):.3g} lies outside the group's "
            f"sizes {10 ** (lo[i] + centre):.3g} to {10 ** (hi[i] + centre):.3g}"
        )

    return x_opt, loss_opt, ok, why


def _bootstrap(key, n, x, y, w, sizes, present, logC, centre_N, min_sizes):
    """a, b for ``n`` resamples of runs within each group (groups on axis 0), and the
    fraction of resamples keeping each group."""
    G, n_max = x.shape
    with jax.enable_x64(True):
        u = np.asarray(jax.random.uniform(key, (n, G, n_max), dtype=jnp.float64))
    n_g = present.sum(1)
    draws = np.minimum((u * n_g[:, None]).astype(int), n_g[:, None] - 1)  # slot per draw
    counts = np.zeros((n, G, n_max))
    b_idx, g_idx = np.meshgrid(np.arange(n), np.arange(G), indexing="ij")
    np.add.at(counts, (b_idx[..., None], g_idx[..., None], draws), present[None].astype(float))
    x_opt, _, ok, _ = _vertices(x, y, counts * w, sizes, min_sizes)
    logN = x_opt + centre_N
    a, _ = _line(np.broadcast_to(logC, ok.shape), logN, ok)
    b, _ = _line(np.broadcast_to(logC, ok.shape), logC - np.log10(6.0) - logN, ok)
    return a, b, ok.mean(0)


def _line(x, y, mask=None):
    """Least-squares slope and intercept of y on x along the last axis (NaN if < 2 points)."""
    m = np.ones(np.shape(y), bool) if mask is None else mask
    k = m.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.where(m, x, 0).sum(-1) / k
        my = np.where(m, y, 0).sum(-1) / k
        dx = np.where(m, x - mx[..., None], 0)
        slope = (dx * np.where(m, y - my[..., None], 0)).sum(-1) / (dx**2).sum(-1)
    slope = np.where(k >= 2, slope, np.nan)
    return slope, my - slope * mx


def _slope_error(x, y):
    """The standard error of the least-squares slope of y on x (NaN with 2 points)."""
    if len(x) < 3:
        return np.float64(np.nan)
    slope, intercept = _line(x, y)
    residuals = y - (slope * x + intercept)
    return np.sqrt(np.sum(residuals**2) / (len(x) - 2) / np.sum((x - x.mean()) ** 2))


def _cluster(logC, tolerance):
    """Labels 0, 1, ... of densest-first clusters of half-width ``tolerance`` in logC."""
    order = np.argsort(logC, kind="stable")
    xs = logC[order]
    labels = np.full(len(xs), -1)
    label = 0
    while (labels < 0).any():
        free = np.concatenate([[0], np.cumsum(labels < 0)])
        above = free[np.searchsorted(xs, xs + tolerance, "right")]
        count = above - free[np.searchsorted(xs, xs - tolerance, "left")]
        centre = xs[np.argmax(np.where(labels < 0, count, -1))]
        taken = (labels < 0) & (np.abs(xs - centre) <= tolerance)
        for _ in range(100):  # mean shift: move the window to the mean of its runs
            moved = (labels < 0) & (np.abs(xs - xs[taken].mean()) <= tolerance)
            if not moved.any() or (moved == taken).all():
                break
            taken = moved
        labels[taken] = label
        label += 1
    out = np.empty_like(labels)
    out[order] = labels
    return out


def _size_onehot(x, present):
    """(G, n, U) one-hot of each slot's distinct size (exact log10 N value) in its group."""
    onehot = np.zeros(x.shape + (x.shape[-1],))
    for g in range(x.shape[0]):
        ids = np.unique(x[g, present[g]], return_inverse=True)[1]
        onehot[g, np.flatnonzero(present[g]), ids] = 1.0
    return onehot


def _percentiles(samples, tails):
    finite = samples[np.isfinite(samples)]
    return np.percentile(finite, tails) if finite.size else np.full(2, np.nan)


def _budgets(budgets):
    values = np.asarray(budgets, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"budgets must be a non-empty 1-D array of FLOPs, got shape {values.shape}")
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"budgets must be finite and positive (FLOPs), got budgets[{i}]={values[i].item()!r}")
    return values


def _check_runs(runs, caller):
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a scalinglaws_jax Runs, got {type(runs).__name__}")
    design.check_spread(runs, ("N", "flops"), n_free=1, caller=caller)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
