"""sl.plot.calibration: the coverage points, the PIT histogram and their binomial bands are the backtest's.

The backtests here are built from numpy arrays: Gaussian forecasts of known spread, so
the coverage and the PIT of each are known without a fit. The binomial quantiles are
checked against scipy.stats.binom.ppf.
"""

import io
import math

import matplotlib
import numpy as np
import pytest
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax import plot  # noqa: E402
from scalinglaws_jax.fit.backtest import Backtest  # noqa: E402

LEVELS = (0.5, 0.8, 0.9, 0.95)


def make_backtest(count=120, spread=1.0, seed=0, levels=LEVELS, pit_nan=0, method="huber", form_error=True):
    """A backtest of ``count`` Gaussian forecasts (in loss) whose intervals are ``spread`` times
    too wide (< 1: too narrow) for losses drawn around their medians, on two cuts."""
    rng = np.random.default_rng(seed)
    median = 2.0 + 0.1 * rng.uniform(size=count)
    scale = 0.02 * median
    observed = median + scale * rng.standard_normal(count)
    N = np.geomspace(1e8, 1e11, max(count, 3))
    runs = sl.Runs(N=N, D=20.0 * N, loss=np.r_[observed, np.full(max(3 - count, 0), 2.0)])
    z = np.array([stats.norm.ppf(0.5 + 0.5 * level) for level in levels])
    half = spread * scale[:, None] * z
    pit = stats.norm.cdf((observed - median) / (spread * scale))
    pit[:pit_nan] = np.nan
    cut = (np.arange(count) >= count // 2).astype(int)
    return Backtest(method=method, by="flops", cuts=np.array([1e20, 1e21]), levels=tuple(levels),
                    form_error=form_error, runs=runs, train_count=np.array([40, 80]), cut=cut,
                    run=np.arange(count), observed=observed, median=median, low=median[:, None] - half,
                    high=median[:, None] + half, pit=pit,
                    log_density=stats.norm.logpdf(observed, median, spread * scale), huber=median,
                    distance=np.zeros(count))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def line(ax, label):
    (found,) = [candidate for candidate in ax.get_lines() if candidate.get_label() == label]
    return found


def bars(ax):
    (histogram,) = ax.containers
    return list(histogram.patches)


def binomial_band(count, p):
    return stats.binom.ppf(0.025, count, p), stats.binom.ppf(0.975, count, p)


# ----------------------------------------------------------------------------------
# the left panel: coverage


@pytest.mark.parametrize("spread", [0.6, 1.0, 1.5])
def test_the_coverage_points_are_the_backtests(spread):
    backtest = make_backtest(spread=spread)
    fig = plot.calibration(backtest)
    left, right = fig.axes
    x, y = line(left, "coverage of the huber forecasts").get_data()
    np.testing.assert_array_equal(x, LEVELS)
    np.testing.assert_array_equal(y, backtest.coverage())
    # what the points mean: the fraction of observed losses inside each interval
    inside = (backtest.low <= backtest.observed[:, None]) & (backtest.observed[:, None] <= backtest.high)
    np.testing.assert_allclose(y, inside.mean(axis=0))
    (text,) = left.texts
    assert text.get_text().splitlines() == ["coverage", *(f"{level:g}: {value:.2f}"
                                                         for level, value in zip(LEVELS, backtest.coverage()))]
    x, y = line(left, "perfect calibration").get_data()
    np.testing.assert_array_equal(x, [0.0, 1.0]) and np.testing.assert_array_equal(y, [0.0, 1.0])
    assert left.get_xlim() == (0.0, 1.0) and left.get_ylim() == (0.0, 1.0)


def test_too_narrow_intervals_fall_below_the_band_and_calibrated_ones_inside():
    count = 400
    for spread, inside_band in ((0.5, False), (1.0, True)):
        backtest = make_backtest(count=count, spread=spread, seed=3)
        low, high = binomial_band(count, np.asarray(LEVELS))
        within = (low / count <= backtest.coverage()) & (backtest.coverage() <= high / count)
        assert within.all() == inside_band, (spread, backtest.coverage())


def test_the_coverage_band_is_the_central_95_percent_of_the_binomial():
    count = 37
    backtest = make_backtest(count=count)
    left = plot.calibration(backtest).axes[0]
    (band,) = [c for c in left.collections if isinstance(c, PolyCollection)]
    assert band.get_label() == f"95% binomial band ({count} independent forecasts)"
    vertices = band.get_paths()[0].vertices
    for p in (0.0, 0.1, 0.5, 0.8, 0.9, 0.95, 1.0):
        at = vertices[np.isclose(vertices[:, 0], p, atol=1e-12), 1]
        low, high = binomial_band(count, p)
        np.testing.assert_allclose(sorted(set(at.round(12))), sorted({round(low / count, 12), round(high / count, 12)}))


@pytest.mark.parametrize("count", [1, 2, 23, 240, 1000])
def test_binomial_quantiles_equal_scipys(count):
    p = np.array([0.0, 1e-3, 0.05, 0.1, 0.25, 0.5, 0.8, 0.9, 0.95, 0.999, 1.0])
    quantiles = (0.025, 0.5, 0.975)
    expected = np.array([stats.binom.ppf(q, count, p) for q in quantiles])
    np.testing.assert_array_equal(plot._binomial_quantiles(count, p, quantiles), expected)


# ----------------------------------------------------------------------------------
# the right panel: the PIT histogram


@pytest.mark.parametrize("bins", [None, 4, 7])
def test_the_histogram_counts_the_pit_in_equal_bins(bins):
    count = 120
    backtest = make_backtest(count=count, spread=0.7)
    right = plot.calibration(backtest, bins=bins).axes[1]
    k = 10 if bins is None else bins  # 120 // 5 clipped to 10
    heights = [patch.get_height() for patch in bars(right)]
    lefts = [patch.get_x() for patch in bars(right)]
    expected, edges = np.histogram(backtest.pit, bins=np.linspace(0.0, 1.0, k + 1))
    np.testing.assert_array_equal(heights, expected)
    np.testing.assert_allclose(lefts, edges[:-1], atol=1e-15)
    assert sum(heights) == count
    _, y = line(right, "uniform (calibrated)").get_data()
    np.testing.assert_allclose(y, count / k)
    (band,) = [patch for patch in right.patches if patch.get_label() == "95% binomial band per bin"]
    low, high = binomial_band(count, 1.0 / k)
    np.testing.assert_allclose([band.get_y(), band.get_y() + band.get_height()], [low, high])


def test_too_narrow_intervals_give_a_u_shaped_pit():
    right = plot.calibration(make_backtest(count=400, spread=0.5, seed=1), bins=10).axes[1]
    heights = np.array([patch.get_height() for patch in bars(right)])
    low, high = binomial_band(400, 0.1)
    assert heights[0] > high and heights[-1] > high and heights[3:7].mean() < low


@pytest.mark.parametrize("count, bins", [(3, 2), (12, 2), (27, 5), (49, 9), (50, 10), (5000, 10)])
def test_the_default_bins_are_a_fifth_of_the_forecasts_clipped_to_2_to_10(count, bins):
    right = plot.calibration(make_backtest(count=count)).axes[1]
    assert len(bars(right)) == bins


def test_forecasts_without_a_pit_are_left_out_of_the_histogram_and_named():
    backtest = make_backtest(count=60, pit_nan=5)
    right = plot.calibration(backtest).axes[1]
    heights = [patch.get_height() for patch in bars(right)]
    assert sum(heights) == 55 and len(heights) == 10 and math.isclose(line(right, "uniform (calibrated)")
                                                                         .get_ydata()[0], 5.5)
    assert "PIT of 55 forecasts (5 without one)" in [text.get_text() for text in right.get_legend().get_texts()]


# ----------------------------------------------------------------------------------
# the figure


def test_a_new_figure_has_two_panels_titled_by_the_backtest():
    fig = plot.calibration(make_backtest(method="bayes", form_error=False))
    assert len(fig.axes) == 2 and tuple(fig.get_size_inches()) == (12.8, 4.8)
    title = fig._suptitle.get_text()
    assert "bayes forecasts (parameter uncertainty only)" in title and "2 cuts, 120 forecasts" in title
    left, right = fig.axes
    assert left.get_xlabel() == "nominal level of the central interval"
    assert right.get_ylabel() == "forecasts per bin"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("wrap", [tuple, list, np.array])
def test_it_draws_into_the_given_pair_of_axes(wrap):
    fig, axes = plt.subplots(1, 3)
    backtest = make_backtest(levels=(0.5, 0.9))
    assert plot.calibration(backtest, axes=wrap([axes[2], axes[0]])) is fig
    assert plt.get_fignums() == [fig.number]
    assert not axes[1].has_data() and axes[0].has_data() and axes[2].has_data()
    np.testing.assert_array_equal(line(axes[2], "coverage of the huber forecasts").get_ydata(), backtest.coverage())
    assert len(bars(axes[0])) == 10
    assert fig._suptitle is None  # the caller's figure keeps its own title


def test_it_rejects_bad_arguments():
    backtest = make_backtest()
    with pytest.raises(ValueError, match="backtest must be a Backtest .from sl.backtest., got dict"):
        plot.calibration(backtest.summary())
    empty = make_backtest(count=0)
    with pytest.raises(ValueError, match="backtest holds no forecasts"):
        plot.calibration(empty)
    with pytest.raises(ValueError, match="backtest has no finite PIT among its 4 forecasts"):
        plot.calibration(make_backtest(count=4, pit_nan=4))
    for bins in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match=f"bins must be a positive integer or None, got bins={bins!r}"):
            plot.calibration(backtest, bins=bins)
    fig, axes = plt.subplots(2, 2)
    with pytest.raises(ValueError, match=r"axes must be a pair \(left, right\) of matplotlib Axes or None, "
                                         r"got \(2, 2\)$"):
        plot.calibration(backtest, axes=axes)
    with pytest.raises(ValueError, match="axes must be a pair .* got Axes"):
        plot.calibration(backtest, axes=axes[0, 0])
    with pytest.raises(ValueError, match="axes must hold matplotlib Axes, got str"):
        plot.calibration(backtest, axes=[axes[0, 0], "right"])
    other = plt.subplots()[1]
    with pytest.raises(ValueError, match="axes must be two Axes of one figure"):
        plot.calibration(backtest, axes=(axes[0, 0], other))
    assert not axes[0, 0].has_data()  # nothing drawn before the arguments were checked


def test_the_figure_of_a_real_backtest():
    runs = sl.datasets.chinchilla(drop_highest=5)
    backtest = sl.backtest(runs, method="huber", cuts=[1e21], form_error=False)
    fig = plot.calibration(backtest)
    left, right = fig.axes
    np.testing.assert_array_equal(line(left, "coverage of the huber forecasts").get_ydata(), backtest.coverage())
    heights = [patch.get_height() for patch in bars(right)]
    assert len(heights) == 4 and sum(heights) == len(backtest) == 23  # the runs above 1e21 FLOPs
    np.testing.assert_array_equal(heights, np.histogram(backtest.pit, bins=np.linspace(0, 1, 5))[0])


def test_calibration_is_in_the_plot_namespace():
    assert "calibration" in plot.__all__ and sl.plot.calibration is plot.calibration
