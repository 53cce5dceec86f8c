"""Figures of laws, fits and plans, drawn with matplotlib.

matplotlib is imported when a figure is first drawn, never by ``import scalinglaws_jax``.
Every function returns the ``matplotlib.figure.Figure`` it drew on: a new 6.4 x 4.8 in
figure with constrained layout when ``ax`` is None, else the figure of ``ax`` (the
figures of several panels, ``posterior_pairs`` and ``calibration``, take ``axes``). Numbers
are computed in float64 (a local x64 region, as in the fits), whatever the caller's
setting.

Laws may be given as laws or as results holding one in ``.law`` (``HuberFit``); ``draws``
is a batched law (every parameter with a leading draw axis), such as ``Bootstrap.law`` or
``Posterior.law``, or the ``Bootstrap`` / ``Posterior`` itself.

Units: N in parameters, D and inference volumes in tokens, compute in FLOPs, loss in
nats per token.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .allocate import compute_optimal, inference_optimal
from .fit.backtest import Backtest
from .fit.isoflop import IsoFLOPFit
from .fit.runs import Runs
from .laws import ComputeLaw

__all__ = [
    "EMERGENCE_LAW",
    "HOFFMANN_2022_TABLE_3",
    "calibration",
    "emergence",
    "inference_tradeoff",
    "isoflop_profiles",
    "ladder_forecast",
    "loss_surface",
    "loss_vs_compute",
    "optimal_allocation",
    "posterior_pairs",
]

_FIGSIZE = (6.4, 4.8)
"""Size of a new figure (inches); saved at dpi 150 it is 960 x 720 pixels."""

HOFFMANN_2022_TABLE_3 = (
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
)
"""Hoffmann et al. 2022, Table 3 (Approach 1 projections): rows of (parameters, FLOPs, tokens)."""

EMERGENCE_LAW = ComputeLaw(E=0.005, C0=3e19, alpha=0.35)
"""Default law of ``emergence``: a task's per-token loss L(C) = 0.005 + (3e19 FLOPs / C)^0.35.

Its per-token probability exp(-L) rises smoothly from 0.04 at 1e18 FLOPs to 0.99 at
1e26 FLOPs, approaching exp(-0.005) = 0.995; exact match over 64 tokens stays below 1%
until about 1e22 FLOPs and reaches 0.5 at 1e26."""

_TRADEOFF_FLOPS = 1e23
"""Budget (FLOPs) whose compute-optimal loss is ``inference_tradeoff``'s default target."""

_LOG_SCALE = frozenset({"A", "B", "N_c", "D_c", "C_c", "C0"})
"""Parameters drawn on log axes by ``posterior_pairs``: the scales of the law families."""

_SYMBOLS = {
    "E": "$E$", "A": "$A$", "B": "$B$", "alpha": r"$\alpha$", "beta": r"$\beta$",
    "N_c": "$N_c$", "D_c": "$D_c$", "C_c": "$C_c$", "C0": "$C_0$", "alpha_N": r"$\alpha_N$",
    "alpha_D": r"$\alpha_D$", "alpha_C": r"$\alpha_C$", "R_D": "$R_D^*$", "R_N": "$R_N^*$",
    "sigma": r"$\sigma$", "nu": r"$\nu$",
}
"""How ``posterior_pairs`` labels the parameters of the law families."""


# ----------------------------------------------------------------------------------
# argument checks and shared pieces


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _canvas(ax):
    """(figure, axes): a new _FIGSIZE figure with constrained layout when ``ax`` is None."""
    if ax is None:
        return _pyplot().subplots(figsize=_FIGSIZE, layout="constrained")
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise ValueError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def _unwrap(value):
    """The law itself, or the law a result holds in ``.law`` (HuberFit, Bootstrap, Posterior)."""
    if hasattr(value, "loss") or getattr(value, "law", None) is None:
        return value
    return value.law


def _loss_inputs(law, name: str) -> str:
    """What ``law.loss`` takes, ``"N, D"`` or ``"flops"``; ValueError for anything else."""
    loss = getattr(law, "loss", None)
    if not callable(loss):
        raise ValueError(f"{name} must be a law with a loss method (e.g. sl.EPOCH_2024), got {type(law).__name__}")
    try:
        signature = inspect.signature(loss)
    except (TypeError, ValueError):
        return "N, D"
    for inputs, count in (("N, D", 2), ("flops", 1)):
        try:
            signature.bind(*range(count))
        except TypeError:
            continue
        return inputs
    hint = f"; for repeated data pass {name}.chinchilla (unlimited data)" if hasattr(law, "chinchilla") else ""
    raise ValueError(f"{name}.loss must take (N, D) or (flops), got {type(law).__name__}.loss{signature}{hint}")


def _law_of_N_D(value, name: str = "law"):
    """One law with ``loss(N, D)``, from a law or a result holding one."""
    law = _single(_unwrap(value), name)
    if _loss_inputs(law, name) != "N, D":
        raise ValueError(
            f"{name} must be a law of N and D with loss(N, D) (e.g. sl.Chinchilla), "
            f"got {type(law).__name__}, whose loss takes only flops"
        )
    return law


def _single(law, name: str):
    shapes = sorted({np.shape(leaf) for leaf in jax.tree_util.tree_leaves(law)})
    if any(shape != () for shape in shapes):
        raise ValueError(
            f"{name} must be one law (scalar parameters), got parameter shapes {shapes}; "
            "pass a batch of laws as draws="
        )
    return law


def _draws(value, law_inputs: str):
    """A batched law and its number of draws, with the same kind of loss as the law."""
    draws = _unwrap(value)
    shapes = sorted({np.shape(leaf) for leaf in jax.tree_util.tree_leaves(draws)})
    if len(shapes) != 1 or len(shapes[0]) != 1 or shapes[0][0] < 2:
        raise ValueError(
            "draws must be a batched law, every parameter of shape (draws,) with at least 2 draws "
            f"(e.g. a Bootstrap's or a Posterior's .law), got parameter shapes {shapes}"
        )
    if _loss_inputs(draws, "draws") != law_inputs:
        raise ValueError(f"draws must be laws of {law_inputs} like law, got {type(draws).__name__}")
    return draws, shapes[0][0]


def _level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got level={level!r}")
    return float(level)


def _positive(name: str, values, minimum: int = 2) -> np.ndarray:
    """``values`` as a sorted 1-D float64 array of at least ``minimum`` finite positive numbers."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold numbers: {error}") from None
    if array.ndim != 1 or array.size < minimum:
        raise ValueError(f"{name} must be a 1-D array of at least {minimum} values, got shape {array.shape}")
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite and positive, got {name}[{i}]={array[i].item()!r}")
    return np.sort(array)


def _span(name: str, value) -> tuple[float, float]:
    """A (low, high) range with 0 < low < high < inf."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {name}={value!r}") from None
    if not (0 < low < high < np.inf):
        raise ValueError(f"{name} must satisfy 0 < low < high < inf, got {name}={value!r}")
    return low, high


def _frontier_loss(law, flops):
    """Loss on the compute-optimal frontier at ``flops``: L(N*(C), D*(C)), or L(C) for a law of compute."""
    if _loss_inputs(law, "law") == "flops":
        return law.loss(flops)
    return compute_optimal(law, flops).loss


def _is_posterior(value) -> bool:
    from .fit.bayes import Posterior

    return isinstance(value, Posterior)


def _frontier_forecast(post, flops: np.ndarray) -> np.ndarray:
    """Posterior-predictive losses (draws, budgets) of a run on each draw's own compute-optimal frontier."""
    if _loss_inputs(post.law, "draws") == "flops":
        return post.predict(np.broadcast_to(flops, (post.num_draws, flops.size)), paired=True,
                            form_error=post.form_error is not None)
    plans = jax.vmap(compute_optimal, (0, None))(post.law, jnp.asarray(flops))
    ok = np.asarray(plans.status) == 0
    N, D = (np.where(ok, np.asarray(x), 1.0) for x in (plans.N, plans.D))
    draws = post.predict(N, D, paired=True, form_error=post.form_error is not None)
    return np.where(ok, draws, np.nan)


def _band(values: np.ndarray, level: float) -> np.ndarray:
    """The central ``level`` interval over the draws (axis 0); failed draws (NaN) left out."""
    tail = 0.5 * (1.0 - level)
    return np.nanquantile(values, [tail, 1.0 - tail], axis=0)


def _power_of_ten(value: float) -> str:
    exponent = np.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return f"$10^{{{round(exponent)}}}$"
    mantissa, power = f"{value:.2e}".split("e")
    return rf"${float(mantissa):g} \times 10^{{{int(power)}}}$"


# ----------------------------------------------------------------------------------
# figures


def loss_vs_compute(runs: Runs, law, draws=None, *, level: float = 0.9, flops=None, ax=None):
    """Training runs' loss against their compute, with the law's compute-optimal frontier.

    The runs are a log-log scatter of loss against training FLOPs, coloured by model size
    (colour bar); the frontier is L(N*(C), D*(C)) from ``sl.compute_optimal`` (or L(C) for a
    law of compute such as ``sl.ComputeLaw``). With ``draws`` a ``Posterior``, the central
    ``level`` forecast interval of a run's loss on each draw's frontier is shaded: the
    posterior predictive with the runs' noise and the law's form error beyond the runs
    (``Posterior.predict``); with a batched law (a ``Bootstrap``'s refits, ``Posterior.law``),
    the band of the frontier over the draws, the parameters' uncertainty alone.

    Args:
        runs: the training runs (N in parameters, flops in FLOPs, loss in nats per token).
        law: a law with ``loss(N, D)`` or ``loss(flops)``, or a fit holding one in ``.law``.
        draws: a ``Posterior`` (calibrated forecast band), a batched law of the same kind
            (bootstrap resamples, posterior draws: a parameter-only band), or None.
        level: coverage of the band, in (0, 1).
        flops: budgets at which to draw the frontier (FLOPs); default 200 from the
            cheapest run to 100x the most expensive.
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument.

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    Figure 1 and appendix A; Kaplan et al. 2020, Figure 1.
    """
    if not isinstance(runs, Runs):
        raise ValueError(f"runs must be a Runs, got {type(runs).__name__}")
    law = _single(_unwrap(law), "law")
    inputs = _loss_inputs(law, "law")
    level = _level(level)
    posterior = draws if _is_posterior(draws) else None
    if draws is not None:
        draws, count = _draws(draws, inputs)
    default = np.geomspace(runs.flops.min(), runs.flops.max() * 100.0, 200)
    flops = _positive("flops", default if flops is None else flops)
    with jax.enable_x64(True):
        frontier = np.asarray(_frontier_loss(law, jnp.asarray(flops)))
        if posterior is not None:
            per_draw = _frontier_forecast(posterior, flops)
        elif draws is not None:
            per_draw = np.asarray(jax.vmap(_frontier_loss, (0, None))(draws, jnp.asarray(flops)))

    from matplotlib.colors import LogNorm

    fig, ax = _canvas(ax)
    points = ax.scatter(runs.flops, runs.loss, c=runs.N, norm=LogNorm(), cmap="viridis", s=16, alpha=0.85,
                        edgecolors="none", label=f"training runs ({len(runs)})")
    fig.colorbar(points, ax=ax, label="model size N (parameters)")
    if draws is not None:
        low, high = _band(per_draw, level)
        if posterior is None:
            label = f"{level:.0%} band over {count} draws (parameters only)"
        else:
            missing = "" if posterior.form_error is not None else ", without the form error"
            label = f"{level:.0%} forecast interval ({count} posterior draws{missing})"
        ax.fill_between(flops, low, high, color="C3", alpha=0.25, linewidth=0, label=label)
    ax.plot(flops, frontier, color="C3", linewidth=2, label="compute-optimal frontier of the law")
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="loss (nats per token)",
           title="Loss against training compute")
    if max(runs.loss.max(), np.nanmax(frontier)) < 10 * min(runs.loss.min(), np.nanmin(frontier)):
        _loss_ticks(ax.yaxis)
    ax.legend(loc="upper right")
    return fig


def _loss_ticks(axis) -> None:
    """Plain numbers on a log axis of losses, which spans less than a decade."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def isoflop_profiles(fit: IsoFLOPFit, runs: Runs | None = None, *, ax=None):
    """IsoFLOP profiles (Approach 2): each budget's runs, its parabola in log N, its minimum.

    With ``runs`` (the runs ``fit`` was fitted to), each used budget's runs are drawn as
    loss against N and its weighted least-squares parabola in log10 N (the one
    ``sl.fit_isoflop`` fits) over the span of its sizes; runs in skipped budgets (or in
    none) are grey crosses. The minimum (N_opt, loss_opt) of every used budget is a star. Colour
    encodes the budget (colour bar).

    Args:
        fit: the result of ``sl.fit_isoflop``.
        runs: the runs ``fit`` was fitted to, or None to draw only the minima.
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``fit`` is not an ``IsoFLOPFit``, or ``runs`` are not the ones it was
            fitted to (a different number of runs).

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    sec. 3.2 and Figure 3 (left).
    """
    if not isinstance(fit, IsoFLOPFit):
        raise ValueError(f"fit must be an IsoFLOPFit (from sl.fit_isoflop), got {type(fit).__name__}")
    if runs is not None:
        if not isinstance(runs, Runs):
            raise ValueError(f"runs must be a Runs or None, got {type(runs).__name__}")
        if len(runs) != len(fit.run_budget):
            raise ValueError(
                f"runs must be the runs fit was fitted to: got {len(runs)} runs, fit has {len(fit.run_budget)}"
            )

    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.lines import Line2D

    fig, ax = _canvas(ax)
    norm = LogNorm(fit.budgets.min(), fit.budgets.max())
    cmap = ListedColormap(matplotlib.colormaps["plasma"](np.linspace(0.0, 0.85, 256)))  # no pale yellow end
    handles = []
    if runs is not None:
        used = np.zeros(len(runs), bool)
        for budget in fit.budgets:
            member = np.isclose(fit.run_budget, budget, rtol=1e-9)
            used |= member
            log_N = np.log10(runs.N[member])
            centre = log_N.mean()
            coefficients = np.polyfit(log_N - centre, runs.loss[member], 2, w=np.sqrt(runs.weight[member]))
            grid = np.linspace(log_N.min(), log_N.max(), 100)
            ax.plot(10.0**grid, np.polyval(coefficients, grid - centre), color=cmap(norm(budget)), linewidth=1.3)
        ax.scatter(runs.N[used], runs.loss[used], c=fit.run_budget[used], norm=norm, cmap=cmap, s=14,
                   edgecolors="none", alpha=0.8, label="runs")
        handles += [Line2D([], [], marker="o", linestyle="", color="0.35", markersize=4, label="runs"),
                    Line2D([], [], color="0.35", label="parabola in log N")]
        if not used.all():
            ax.scatter(runs.N[~used], runs.loss[~used], marker="x", color="0.6", s=14, linewidths=0.8,
                       label="runs outside the fitted budgets")
            handles.append(Line2D([], [], marker="x", linestyle="", color="0.6", markersize=5,
                                  label=f"runs outside the fitted budgets ({int((~used).sum())})"))
    ax.scatter(fit.N_opt, fit.loss_opt, c=fit.budgets, norm=norm, cmap=cmap, marker="*", s=120,
               edgecolors="black", linewidths=0.6, zorder=3, label="minima")
    handles.append(Line2D([], [], marker="*", linestyle="", color="0.35", markeredgecolor="black",
                          markersize=11, label=r"minimum ($N_{opt}$, $L_{opt}$)"))
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label="IsoFLOP budget C (FLOPs)")
    ax.set(xscale="log", xlabel="model size N (parameters)", ylabel="loss (nats per token)",
           title=rf"IsoFLOP profiles: $N_{{opt}} \propto C^{{{float(fit.a):.3f}}}$ over {len(fit.budgets)} budgets")
    ax.legend(handles=handles, loc="lower left")
    return fig


def loss_surface(law, *, N=(1e7, 1e12), D=(1e8, 1e14), flops=None, ax=None):
    """The loss L(N, D) over model size and data, with iso-FLOP lines and the optimal path.

    Filled contours of the loss over log N x log D (colour bar), dashed iso-FLOP lines
    6 N D = C labelled with their budgets, and the compute-optimal path N*(C), D*(C) of
    ``sl.compute_optimal``, which meets every iso-FLOP line where it touches a loss
    contour (dots).

    Args:
        law: a law with ``loss(N, D)``, or a fit holding one in ``.law``.
        N: the range of model sizes (parameters).
        D: the range of training tokens (tokens).
        flops: budgets of the iso-FLOP lines (FLOPs), inside 6 N D of the box; default
            every second power of ten at least 1.5 decades inside it (at most 5).
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument.

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    Figure 2 and eq. (4); Kaplan et al. 2020, Figure 3.
    """
    law = _law_of_N_D(law)
    N_span, D_span = _span("N", N), _span("D", D)
    lowest, highest = 6.0 * N_span[0] * D_span[0], 6.0 * N_span[1] * D_span[1]
    if flops is None:
        flops = _iso_flop_budgets(lowest, highest)
    flops = _positive("flops", flops, minimum=1)
    outside = (flops <= lowest) | (flops >= highest)
    if outside.any():
        raise ValueError(
            f"flops must lie inside 6 N D of the box ({lowest:.3g}, {highest:.3g}) FLOPs, "
            f"got {flops[outside][0]:.3g}"
        )
    grid_N, grid_D = np.geomspace(*N_span, 300), np.geomspace(*D_span, 300)
    path_flops = np.geomspace(lowest, highest, 400)
    with jax.enable_x64(True):
        loss = np.asarray(law.loss(jnp.asarray(grid_N)[None, :], jnp.asarray(grid_D)[:, None]))
        path = compute_optimal(law, jnp.asarray(path_flops))
        optima = compute_optimal(law, jnp.asarray(flops))
        path_N, path_D, optimum_N, optimum_D = map(np.asarray, (path.N, path.D, optima.N, optima.D))

    from matplotlib.lines import Line2D

    fig, ax = _canvas(ax)
    # Levels evenly spaced in log(L - floor), just below the lowest loss: the low losses,
    # where the optimum lives, get as many colours as the high ones.
    low, high = np.nanmin(loss), np.nanmax(loss)
    floor = low - 0.02 * (high - low)
    levels = floor + np.geomspace(low - floor, high - floor, 21)
    filled = ax.contourf(grid_N, grid_D, loss, levels=levels, cmap="viridis")
    colorbar = fig.colorbar(filled, ax=ax, label="loss L(N, D) (nats per token)", format="%.2f")
    colorbar.set_ticks(levels[::4])
    for budget, (N_label, D_label) in zip(flops, _label_positions(optimum_N, flops, N_span, D_span)):
        ax.plot(grid_N, budget / (6.0 * grid_N), color="white", linestyle="--", linewidth=1.0)
        ax.text(N_label, D_label, f"{_power_of_ten(budget)} FLOPs", color="white", fontsize=8, ha="center",
                va="center", bbox={"facecolor": "black", "alpha": 0.45, "edgecolor": "none",
                                   "boxstyle": "round,pad=0.2"})
    ax.plot(path_N, path_D, color="C3", linewidth=2.2, label="compute-optimal N*(C), D*(C)")
    ax.plot(optimum_N, optimum_D, "o", color="C3", markeredgecolor="white", markersize=6,
            label="optimum at each budget")
    ax.set(xscale="log", yscale="log", xlim=N_span, ylim=D_span, xlabel="model size N (parameters)",
           ylabel="training data D (tokens)", title="Loss surface L(N, D)")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.4", linestyle="--", label="iso-FLOP line 6ND = C"))
    ax.legend(handles=handles, loc="lower right", fontsize=8, facecolor="white", framealpha=0.9)
    return fig


def _iso_flop_budgets(lowest: float, highest: float) -> np.ndarray:
    """Up to 5 powers of ten, every second one, at least 1.5 decades inside (lowest, highest)."""
    powers = np.arange(np.ceil(np.log10(lowest) + 1.5), np.floor(np.log10(highest) - 1.5) + 1)
    if powers.size == 0:
        return np.array([np.sqrt(lowest * highest)])
    step = max(2, int(np.ceil(powers.size / 5)))
    return 10.0 ** powers[(powers.size - 1) % step // 2 :: step]


def _label_positions(optimum_N, flops, N_span, D_span):
    """Where to label each iso-FLOP line: half-way (in log N) from where it enters the box
    at the top or left to its compute-optimal point, or to the box's far side."""
    positions = []
    for N_opt, budget in zip(optimum_N, flops):
        enter = max(N_span[0], budget / (6.0 * D_span[1]))
        leave = min(N_span[1], budget / (6.0 * D_span[0]))
        N = np.sqrt(enter * (N_opt if enter < N_opt < leave else leave))
        positions.append((N, budget / (6.0 * N)))
    return positions


def optimal_allocation(law, draws=None, *, flops=None, level: float = 0.9, ax=None):
    """Compute-optimal model size N* and data D* against compute, with references.

    Log-log lines of N*(C) and D*(C) from ``sl.compute_optimal``, shaded with the central
    ``level`` band over ``draws`` when given, against the rule of 20 tokens per parameter
    (N = sqrt(C / 120), D = 20 N, dashed) and Hoffmann et al.'s Table 3 projections
    (``HOFFMANN_2022_TABLE_3``, markers; the rows inside the range of ``flops``).

    Args:
        law: a law with ``loss(N, D)``, or a fit holding one in ``.law``.
        draws: a batched law (bootstrap resamples, posterior draws), or None.
        flops: budgets (FLOPs); default 200 from 1e18 to 1e27.
        level: coverage of the band, in (0, 1).
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument.

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    Table 3 and Figure 1.
    """
    law = _law_of_N_D(law)
    level = _level(level)
    if draws is not None:
        draws, count = _draws(draws, "N, D")
    flops = _positive("flops", np.geomspace(1e18, 1e27, 200) if flops is None else flops)
    with jax.enable_x64(True):
        plan = compute_optimal(law, jnp.asarray(flops))
        N, D = np.asarray(plan.N), np.asarray(plan.D)
        bands = (None, None)
        if draws is not None:
            plans = jax.vmap(compute_optimal, (0, None))(draws, jnp.asarray(flops))
            bands = (_band(np.asarray(plans.N), level), _band(np.asarray(plans.D), level))

    fig, ax = _canvas(ax)
    handles, labels = [], []
    for values, band, colour, name, unit in ((N, bands[0], "C0", "N*", "parameters"),
                                             (D, bands[1], "C1", "D*", "tokens")):
        line, = ax.plot(flops, values, color=colour, linewidth=2, label=f"{name} of the law ({unit})")
        if band is not None:
            patch = ax.fill_between(flops, *band, color=colour, alpha=0.25, linewidth=0,
                                    label=f"{name}: {level:.0%} band over {count} draws")
            handles.append((patch, line))
            labels.append(f"{name} of the law, {level:.0%} band over {count} draws")
        else:
            handles.append(line)
            labels.append(line.get_label())
    rule_N = np.sqrt(flops / 120.0)
    for values, colour, label in ((rule_N, "C0", r"20 tokens/param: $N = \sqrt{C / 120}$"),
                                  (20.0 * rule_N, "C1", "20 tokens/param: $D = 20 N$")):
        line, = ax.plot(flops, values, color=colour, linestyle="--", linewidth=1.2, label=label)
        handles.append(line)
        labels.append(label)
    table = np.array(HOFFMANN_2022_TABLE_3)
    shown = table[(table[:, 1] >= flops[0]) & (table[:, 1] <= flops[-1])]
    for values, colour, marker, name in ((shown[:, 0], "C0", "s", "N"), (shown[:, 2], "C1", "^", "D")):
        label = f"Hoffmann et al. 2022 Table 3: {name}"
        points, = ax.plot(shown[:, 1], values, marker=marker, linestyle="", color=colour, markeredgecolor="black",
                          markersize=7, label=label)
        handles.append(points)
        labels.append(label)
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)",
           ylabel="N* (parameters), D* (tokens)", title="Compute-optimal model size and data")
    ax.legend(handles, labels, loc="upper left", fontsize=8)
    return fig


def posterior_pairs(post_or_samples, *, names=None, axes=None, max_draws: int = 2000):
    """Corner plot of the draws of a law's parameters: histograms and pairwise scatter.

    The diagonal holds each parameter's histogram; below it, a scatter of every pair
    (``max_draws`` evenly spaced draws, translucent) with the correlation coefficient on
    the axes' scales (rho; none when a parameter is constant); the upper triangle is hidden. Scale parameters (A, B, and the
    N_c, D_c, C_c, C0 of the other families) are on log axes.

    Args:
        post_or_samples: a ``Posterior`` (its sampled law parameters by default), a mapping
            name -> 1-D draws (e.g. ``{"alpha": ..., "beta": ...}``), or a batched law
            (e.g. ``Bootstrap.law``, or the ``Bootstrap``).
        names: the parameters to show, in order; default E, A, B, alpha, beta for a
            Chinchilla law (every parameter of the law or mapping whose draws vary).
        axes: a (k, k) array of Axes for k names, or None for a new figure.
        max_draws: the most draws drawn in each scatter (histograms use them all).

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument (an unknown name, draws that are not 1-D,
            of unequal lengths or not finite, a scale parameter that is not positive).

    References: Foreman-Mackey 2016, "corner.py: Scatterplot matrices in Python" (the
    layout); Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", Figure 5.
    """
    lookup, available, default = _named_draws(post_or_samples)
    names = default if names is None else list(names)
    unknown = [name for name in names if name not in available]
    if unknown or not names:
        raise ValueError(f"names must be among {available}, got names={names!r}")
    if isinstance(max_draws, bool) or not isinstance(max_draws, numbers.Integral) or max_draws < 2:
        raise ValueError(f"max_draws must be an integer >= 2, got max_draws={max_draws!r}")
    values = {name: _draws_of(name, lookup(name)) for name in names}
    lengths = {name: len(value) for name, value in values.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"post_or_samples: the draws of {names} differ in length: {lengths}")
    count = lengths[names[0]]
    shown = np.unique(np.linspace(0, count - 1, min(count, max_draws)).round().astype(int))
    k = len(names)
    if axes is None:
        side = max(_FIGSIZE[0], 1.4 * k)
        fig, axes = _pyplot().subplots(k, k, figsize=(side, side), layout="constrained", squeeze=False)
        fig.suptitle(f"Joint distribution of the law's parameters ({count} draws)")
    else:
        axes = np.asarray(axes, dtype=object)
        if axes.shape != (k, k):
            raise ValueError(f"axes must be a ({k}, {k}) array of Axes for names {names}, got shape {axes.shape}")
        from matplotlib.axes import Axes

        strangers = [type(ax).__name__ for ax in axes.flat if not isinstance(ax, Axes)]
        if strangers:
            raise ValueError(f"axes must hold matplotlib Axes, got {strangers[0]}")
        fig = axes[0, 0].figure

    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

    log = [name in _LOG_SCALE for name in names]
    limits = [_limits(values[name], is_log) for name, is_log in zip(names, log)]
    for i, row_name in enumerate(names):
        for j, column_name in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            x = values[column_name]
            if i == j:
                bins = np.geomspace(*limits[j], 31) if log[j] else np.linspace(*limits[j], 31)
                ax.hist(x, bins=bins, color="C0", alpha=0.75)
                ax.yaxis.set_major_locator(NullLocator())
            else:
                y = values[row_name]
                ax.scatter(x[shown], y[shown], s=3, alpha=0.3, color="C0", edgecolors="none", rasterized=True)
                scaled = (np.log(x) if log[j] else x, np.log(y) if log[i] else y)
                if np.ptp(scaled[0]) > 0 and np.ptp(scaled[1]) > 0:
                    ax.text(0.04, 0.96, rf"$\rho$ = {np.corrcoef(*scaled)[0, 1]:.2f}", transform=ax.transAxes,
                            fontsize=7, va="top", ha="left")
                ax.set_yscale("log" if log[i] else "linear")
                ax.set_ylim(limits[i])
            ax.set_xscale("log" if log[j] else "linear")
            ax.set_xlim(limits[j])
            for axis, is_log in ((ax.xaxis, log[j]), (ax.yaxis, log[i] and i != j)):
                if is_log:
                    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
                    axis.set_major_formatter(FormatStrFormatter("%g"))
                    axis.set_minor_formatter(NullFormatter())
                elif i != j or axis is ax.xaxis:
                    axis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=7, labelbottom=i == k - 1, labelleft=j == 0 and i > 0)
            ax.tick_params(axis="x", labelrotation=45)
            if i == k - 1:
                ax.set_xlabel(_SYMBOLS.get(column_name, column_name))
            if j == 0 and i > 0:
                ax.set_ylabel(_SYMBOLS.get(row_name, row_name))
    return fig


def _lengths(lengths) -> list[int]:
    """``lengths`` as sorted distinct positive integers."""
    try:
        items = list(lengths)
    except TypeError:
        items = []
    if not items or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and k > 0 for k in items):
        raise ValueError(f"lengths must be a non-empty sequence of positive integers, got lengths={lengths!r}")
    return sorted({int(k) for k in items})


def _named_draws(source):
    """(lookup name -> draws, available names, default names) for ``posterior_pairs``."""
    if callable(getattr(source, "draws", None)) and hasattr(source, "samples"):
        fields = [field.name for field in dataclasses.fields(source.law)]
        return source.draws, list(source.samples), [name for name in source.free if name in fields]
    if isinstance(source, Mapping):
        available = list(source)
        return (lambda name: source[name]), available, [name for name in available if _varies(source[name])]
    law = _unwrap(source)
    if dataclasses.is_dataclass(law) and hasattr(law, "loss") and not isinstance(law, type):
        available = [field.name for field in dataclasses.fields(law)]
        return ((lambda name: getattr(law, name)), available,
                [name for name in available if _varies(getattr(law, name))])
    raise ValueError(
        "post_or_samples must be a Posterior, a mapping name -> 1-D draws or a batched law, "
        f"got {type(source).__name__}"
    )


def _varies(values) -> bool:
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return array.ndim == 1 and finite.size > 1 and np.ptp(finite) > 0


def _draws_of(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    where = f"post_or_samples: the draws of {name!r}"
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"{where} must be 1-D with at least 2, got shape {array.shape}")
    if not np.isfinite(array).all():
        i = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{where} must be finite, got {name}[{i}]={array[i].item()!r}")
    if name in _LOG_SCALE and not (array > 0).all():
        raise ValueError(f"{where} (log scale) must be positive, got min {array.min().item()!r}")
    return array


def _limits(values: np.ndarray, log: bool) -> tuple[float, float]:
    """The draws' range with a 5% margin (in log space for log axes); a point gets a width."""
    low, high = (np.log(values.min()), np.log(values.max())) if log else (values.min(), values.max())
    margin = 0.05 * (high - low) if high > low else 0.05 * max(abs(low), 1e-12)
    low, high = low - margin, high + margin
    return (float(np.exp(low)), float(np.exp(high))) if log else (float(low), float(high))


def inference_tradeoff(law, *, loss=None, inference_tokens=None, ax=None):
    """Inference-aware sizing: the smaller model that reaches a loss with the least lifetime compute.

    Against the lifetime inference volume (log x): the inference-optimal N from
    ``sl.inference_optimal`` (minimising 6 N D + 2 N x tokens at the target loss, left
    axis, with the compute-optimal N and its training tokens for reference) and, on the
    right axis, the lifetime FLOPs it saves relative to serving the compute-optimal model
    of the same loss (%).

    Args:
        law: a Chinchilla-form law (Chinchilla, Kaplan, DataConstrained with unlimited
            data), or a fit holding one in ``.law``.
        loss: the target loss (nats per token), above the law's E; default the loss of the
            compute-optimal model at 1e23 FLOPs.
        inference_tokens: lifetime inference volumes (tokens, > 0); default 200 spanning
            the powers of ten around 0.01x to 10,000x the compute-optimal model's training tokens.
        ax: the Axes to draw on (a twin y axis is added), or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument (e.g. a loss at or below E).

    References: Sardana et al. 2023, "Beyond Chinchilla-Optimal: Accounting for Inference
    in Language Model Scaling Laws", sec. 2 and Figure 1.
    """
    law = _law_of_N_D(law)
    if loss is not None and (isinstance(loss, bool) or np.ndim(loss) != 0):
        raise ValueError(f"loss must be one target loss (a number), got loss={loss!r}")
    with jax.enable_x64(True):
        target = float(compute_optimal(law, _TRADEOFF_FLOPS).loss) if loss is None else float(loss)
        reference = inference_optimal(law, target)
        if inference_tokens is None:
            tokens_at = float(reference.D)
            low, high = np.floor(np.log10(1e-2 * tokens_at)), np.ceil(np.log10(1e4 * tokens_at))
            inference_tokens = np.logspace(low, high, 200)
        tokens = _positive("inference_tokens", inference_tokens)
        plans = inference_optimal(law, target, jnp.asarray(tokens))
        baseline = reference.training_flops + 2.0 * reference.N * jnp.asarray(tokens)
        saved = 100.0 * np.asarray(1.0 - plans.lifetime_flops / baseline)
        N, N_reference, D_reference = np.asarray(plans.N), float(reference.N), float(reference.D)

    fig, ax = _canvas(ax)
    ax.plot(tokens, N, color="C0", linewidth=2, label="inference-optimal N")
    ax.axhline(N_reference, color="C0", linestyle=":", linewidth=1.5,
               label=f"compute-optimal N = {N_reference:.3g} (no inference)")
    ax.axvline(D_reference, ymax=0.72, color="0.5", linestyle="--", linewidth=1.0,
               label=f"its training tokens D = {D_reference:.3g}")
    # Both curves in the lower 70% of the axes, the legend above them.
    bottom = min(float(np.nanmin(N)), N_reference) / 1.15
    ax.set(xscale="log", yscale="log", ylim=(bottom, bottom * (N_reference / bottom) ** (1 / 0.7)),
           xlabel="lifetime inference tokens (tokens)", ylabel="model size N (parameters)",
           title=f"Inference-aware sizing at loss {target:.3f} nats per token")
    ax.tick_params(axis="y", which="both", colors="C0")
    ax.yaxis.label.set_color("C0")
    twin = ax.twinx()
    twin.plot(tokens, saved, color="C1", linewidth=2, label="lifetime FLOPs saved vs the compute-optimal model")
    top = max(10.0, float(np.nanmax(saved))) / 0.7
    twin.set(ylabel="lifetime FLOPs saved (%)", ylim=(0.0, top), yticks=np.arange(0.0, min(top, 100.0) + 1, 20.0))
    twin.tick_params(axis="y", colors="C1")
    twin.yaxis.label.set_color("C1")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", fontsize=9)
    return fig


def emergence(law=None, *, flops=None, lengths=(1, 4, 16, 64), ax=None):
    """Emergence as an artefact of the metric: exact match over k tokens, p(C)^k.

    A task's per-token loss L(C) falls smoothly with compute (dashed, right axis), and the
    per-token probability p = exp(-L) rises smoothly. Exact match over k tokens,
    p^k = exp(-k L), stays near 0 while k L exceeds a few nats and rises as the loss falls
    below 1/k nats: measured on a few models, it looks like an ability emerging at a
    scale, while the loss improves steadily throughout. For a power law in C the p^k curves have one shape, shifted by
    log10(k) / alpha decades, and the irreducible loss caps them at exp(-k E).

    Args:
        law: a law of compute (``loss(flops)``, e.g. ``sl.ComputeLaw``) giving the task's
            per-token loss, or a law of N and D (its compute-optimal frontier);
            default ``EMERGENCE_LAW``, L(C) = 0.005 + (3e19 / C)^0.35.
        flops: training compute (FLOPs); default 300 from 1e18 to 1e26.
        lengths: the numbers of tokens k that must all be right (positive integers; 1 is
            the per-token probability).
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument.

    References: Schaeffer et al. 2023, "Are Emergent Abilities of Large Language Models a
    Mirage?", NeurIPS, Figure 2; Wei et al. 2022, "Emergent Abilities of Large Language Models".
    """
    law = EMERGENCE_LAW if law is None else _single(_unwrap(law), "law")
    _loss_inputs(law, "law")
    flops = _positive("flops", np.geomspace(1e18, 1e26, 300) if flops is None else flops)
    lengths = _lengths(lengths)
    with jax.enable_x64(True):
        loss = np.asarray(_frontier_loss(law, jnp.asarray(flops)))
    probability = np.exp(-loss)

    import matplotlib

    fig, ax = _canvas(ax)
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, len(lengths)))
    for k, colour in zip(lengths, colours):
        label = "per-token probability p = exp(-L)" if k == 1 else f"exact match over {k} tokens, $p^{{{k}}}$"
        ax.plot(flops, probability**k, color=colour, linewidth=2, label=label)
    ax.set(xscale="log", ylim=(0.0, 1.0), xlabel="training compute C (FLOPs)",
           ylabel="probability correct", title="Emergence as an artefact of the metric")
    twin = ax.twinx()
    twin.plot(flops, loss, color="0.45", linestyle="--", linewidth=1.5,
              label="per-token loss L(C), right axis")
    twin.set(yscale="log", ylabel="per-token loss L (nats per token)")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=2, fontsize=8, frameon=False)
    return fig


def ladder_forecast(ladder, rung: int | None = None, *, ax=None):
    """A scaling ladder's forecast of one rung, made before the rung was trained, against its measurement.

    Loss against training tokens (log-log): the final held-out loss of every run of the
    rungs the law was fitted to, coloured by model size, with the fitted law L(N, D) at
    each of their sizes (posterior median); for the forecast rung, the posterior-predictive
    band at its size (the ladder's level, observation noise included), the median
    forecast, the stored interval of each planned run, and the losses measured after.

    Args:
        ladder: a ``Ladder`` (``sl.ladder``).
        rung: the rung forecast (default the last rung with a forecast).
        ax: the Axes to draw on, or None for a new figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: a rung without a forecast, or a ladder without the posterior it used.

    References: Hoffmann et al. 2022 (the law); the forecast-then-check protocol of
    scaling ladders, e.g. Bhagia et al. 2024, "Establishing Task Scaling Laws via
    Compute-Efficient Model Ladders".
    """
    from matplotlib.colors import LogNorm

    forecasts = getattr(ladder, "forecasts", None)
    if forecasts is None or not hasattr(ladder, "plan"):
        raise ValueError(f"ladder must be a Ladder (sl.ladder), got {type(ladder).__name__}")
    if not forecasts:
        raise ValueError("the ladder holds no forecast yet: its runs identify the law only after a few rungs")
    rung = max(forecasts) if rung is None else rung
    if rung not in forecasts:
        raise ValueError(f"rung {rung!r} has no forecast; rungs with one: {sorted(forecasts)}")
    forecast = forecasts[rung]
    fitted = forecast.fitted_rungs[-1]
    post = ladder.posteriors.get(fitted)
    if post is None:
        raise ValueError(f"the ladder holds no posterior after rung {fitted}, which the forecast of rung {rung} used")
    runs = ladder.runs(rungs=forecast.fitted_rungs)
    sizes = np.unique(runs.N)
    D = np.geomspace(min(runs.D.min(), forecast.D.min()) / 1.5, max(runs.D.max(), forecast.D.max()) * 1.5, 100)
    N = float(forecast.N[0])
    with jax.enable_x64(True):
        law = post.law
        curves = np.asarray(jax.vmap(lambda one: one.loss(jnp.asarray(sizes)[:, None], jnp.asarray(D)))(law))
        log_loss = np.log(np.asarray(jax.vmap(lambda one: one.loss(N, jnp.asarray(D)))(law)))
    median_curves = np.nanmedian(curves, axis=0)
    centre = np.exp(np.nanmedian(log_loss, axis=0))
    # the posterior predictive with one noise draw per posterior draw, shared along D:
    # each D's marginal is the predictive distribution, and the band is a smooth curve
    noise = np.random.default_rng(0)
    t = (noise.standard_t(post.draws("nu")) if post.likelihood == "student_t"
         else noise.standard_normal(post.num_draws))
    low, high = _band(np.exp(log_loss + (post.draws("sigma") * t)[:, None]), forecast.level)

    fig, ax = _canvas(ax)
    norm = LogNorm(sizes.min(), max(sizes.max(), N))
    cmap = _pyplot().get_cmap("viridis")
    for size, curve in zip(sizes, median_curves):
        ax.plot(D, curve, color=cmap(norm(size)), linewidth=1, alpha=0.8)
    points = ax.scatter(runs.D, runs.loss, c=runs.N, norm=norm, cmap=cmap, s=28, edgecolors="none", zorder=3,
                        label=f"runs of rungs {forecast.fitted_rungs[0]}-{fitted} ({len(runs)}), law fitted to them")
    fig.colorbar(points, ax=ax, label=f"model size N (parameters, {ladder.count.replace('_', '-')})")
    ax.fill_between(D, low, high, color="C3", alpha=0.2, linewidth=0,
                    label=f"forecast for N = {N:.3g}: {forecast.level:.0%} predictive band")
    ax.plot(D, centre, color="C3", linestyle="--", linewidth=1.5)
    ax.errorbar(forecast.D, forecast.median, yerr=[forecast.median - forecast.low, forecast.high - forecast.median],
                fmt="none", ecolor="C3", capsize=4, linewidth=1.5, zorder=4)
    trained = np.isfinite(forecast.measured)
    if trained.any():
        inside = int(forecast.inside[trained].sum())
        ax.scatter(forecast.D[trained], forecast.measured[trained], marker="*", s=160, color="C3",
                   edgecolors="black", linewidths=0.8, zorder=5,
                   label=f"measured after the forecast ({inside}/{int(trained.sum())} inside)")
    ax.set(xscale="log", yscale="log", xlabel="training tokens D (tokens)", ylabel="held-out loss (nats per token)",
           title=f"Ladder forecast of rung {rung} (N = {N:.3g}) from rungs {forecast.fitted_rungs[0]}-{fitted}")
    values = np.concatenate([runs.loss, low, high, forecast.measured[trained]])
    if np.nanmax(values) < 10 * np.nanmin(values):
        _loss_ticks(ax.yaxis)
    ax.legend(loc="upper right", fontsize="small")
    return fig


_BAND = 0.95
"""Coverage of the binomial bands ``calibration`` draws."""


def _binomial_quantiles(count: int, p, quantiles) -> np.ndarray:
    """Quantiles of Binomial(count, p): for each q the least k with P(X <= k) >= q.

    Shape (len(quantiles), len(p)); exact sums of the probability mass, in float64.
    """
    from math import lgamma

    k = np.arange(count + 1, dtype=np.float64)
    log_choose = np.array([lgamma(count + 1) - lgamma(j + 1) - lgamma(count - j + 1) for j in range(count + 1)])
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mass = (log_choose + np.where(k > 0, k * np.log(p), 0.0)
                    + np.where(k < count, (count - k) * np.log1p(-p), 0.0))
    cdf = np.cumsum(np.exp(log_mass), axis=1)
    cdf /= cdf[:, -1:]
    # the least k with cdf >= q, allowing for the rounding of the sums
    return np.array([(cdf < q * (1.0 - 1e-12)).sum(axis=1) for q in quantiles], dtype=np.float64)


def _pair_of_axes(axes):
    """(figure, left, right, new) for ``calibration``: a new figure (new True), or the two Axes given."""
    if axes is None:
        fig, (left, right) = _pyplot().subplots(1, 2, figsize=(2 * _FIGSIZE[0], _FIGSIZE[1]), layout="constrained")
        return fig, left, right, True
    from matplotlib.axes import Axes

    items = list(axes.flat) if isinstance(axes, np.ndarray) else (list(axes) if isinstance(axes, (list, tuple))
                                                                  else None)
    if items is None or len(items) != 2:
        shape = np.shape(axes) if isinstance(axes, (np.ndarray, list, tuple)) else type(axes).__name__
        raise ValueError(f"axes must be a pair (left, right) of matplotlib Axes or None, got {shape}")
    strangers = [type(ax).__name__ for ax in items if not isinstance(ax, Axes)]
    if strangers:
        raise ValueError(f"axes must hold matplotlib Axes, got {strangers[0]}")
    left, right = items
    if left.figure is not right.figure:
        raise ValueError("axes must be two Axes of one figure, got Axes of two figures")
    return left.figure, left, right, False


def calibration(backtest: Backtest, *, bins: int | None = None, axes=None):
    """Calibration of a backtest's forecasts: interval coverage and the PIT histogram.

    Left: the nominal level of each central interval the backtest scored
    (``backtest.levels``) against its empirical coverage, the fraction of the measured
    losses inside it (``backtest.coverage()``), with the diagonal of perfect calibration
    and the central 95% band of Binomial(M, level) / M, the spread of the coverage of M
    independent calibrated forecasts. Points below the diagonal are intervals too narrow.

    Right: the histogram of the probability integral transform (``backtest.pit``, each
    forecast's probability of a loss at or below the measured one), with the count a
    uniform PIT expects in each bin and the central 95% band of Binomial(M, 1 / bins).
    A U shape means intervals too narrow, a hump too wide, mass piled on one side a
    biased median (on the right: losses forecast too low).

    Both bands treat the M forecasts as independent. They are not: the forecasts of one
    cut share one fit, and neighbouring cuts share most of their training runs, so the
    errors are correlated and the bands are optimistic (too narrow).

    Args:
        backtest: the result of ``sl.backtest`` (a ``Backtest``) with at least one forecast.
        bins: the number of equal bins of the PIT on [0, 1] (a positive integer); default
            M // 5 clipped to 2-10.
        axes: a pair (left, right) of Axes of one figure to draw on, or None for a new
            12.8 x 4.8 in figure with constrained layout.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: naming the bad argument (not a Backtest, no forecasts or no finite
            PIT, bad ``bins`` or ``axes``).

    References: Gneiting, Balabdaoui & Raftery 2007, "Probabilistic forecasts,
    calibration and sharpness", J. R. Stat. Soc. B (PIT histograms, coverage); Dawid 1984,
    "Statistical theory: the prequential approach" (PIT).
    """
    if not isinstance(backtest, Backtest):
        raise ValueError(f"backtest must be a Backtest (from sl.backtest), got {type(backtest).__name__}")
    if len(backtest) == 0:
        raise ValueError("backtest holds no forecasts: every cut left no runs to forecast")
    pit = np.asarray(backtest.pit, dtype=np.float64)
    pit = pit[np.isfinite(pit)]
    if pit.size == 0:
        raise ValueError(f"backtest has no finite PIT among its {len(backtest)} forecasts")
    if bins is None:
        bins = int(np.clip(pit.size // 5, 2, 10))
    elif isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be a positive integer or None, got bins={bins!r}")
    bins = int(bins)
    fig, left, right, new = _pair_of_axes(axes)

    count = len(backtest)
    levels = np.asarray(backtest.levels, dtype=np.float64)
    coverage = np.asarray(backtest.coverage(), dtype=np.float64)
    tail = 0.5 * (1.0 - _BAND)
    grid = np.linspace(0.0, 1.0, 1001)
    low, high = _binomial_quantiles(count, grid, (tail, 1.0 - tail)) / count
    left.fill_between(grid, low, high, color="0.85", linewidth=0,
                      label=f"{_BAND:.0%} binomial band ({count} independent forecasts)")
    left.plot([0.0, 1.0], [0.0, 1.0], color="0.35", linestyle="--", linewidth=1.2, label="perfect calibration")
    left.plot(levels, coverage, marker="o", color="C3", linewidth=1.5,
              label=f"coverage of the {backtest.method} forecasts")
    values = "\n".join(f"{level:g}: {value:.2f}" for level, value in zip(levels, coverage))
    left.text(0.03, 0.97, f"coverage\n{values}", transform=left.transAxes, va="top", ha="left", fontsize=8,
              color="C3", family="monospace")
    left.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0), aspect="equal", xlabel="nominal level of the central interval",
             ylabel="fraction of measured losses inside", title="Coverage of the central intervals")
    left.legend(loc="best", fontsize=8)

    edges = np.linspace(0.0, 1.0, bins + 1)
    expected = pit.size / bins
    band_low, band_high = _binomial_quantiles(pit.size, [1.0 / bins], (tail, 1.0 - tail))[:, 0]
    right.axhspan(band_low, band_high, color="0.85", linewidth=0, zorder=0,
                  label=f"{_BAND:.0%} binomial band per bin")
    for edge in (band_low, band_high):  # the band's edges, visible in front of the bars
        right.axhline(edge, color="0.55", linewidth=0.8, zorder=3)
    right.hist(pit, bins=edges, color="C0", edgecolor="white",
               label=f"PIT of {pit.size} forecasts" + (f" ({count - pit.size} without one)"
                                                       if pit.size < count else ""))
    right.axhline(expected, color="0.35", linestyle="--", linewidth=1.2, label="uniform (calibrated)")
    right.set(xlim=(0.0, 1.0), xlabel="PIT: forecast probability of a loss at or below the measured one",
              ylabel="forecasts per bin", title="Probability integral transform")
    right.set_ylim(0.0, 1.25 * max(band_high, right.get_ylim()[1]))
    right.legend(loc="upper center", fontsize=8, ncol=3)
    if new:
        form = "with the form error" if backtest.form_error else "parameter uncertainty only"
        cut = "training compute" if backtest.by == "flops" else "model size"
        fig.suptitle(f"Backtest calibration: {backtest.method} forecasts ({form}), cut by {cut} at "
                     f"{len(backtest.cuts)} cuts, {count} forecasts")
    return fig
