"""sl.plot: every figure builds from real fits, with the artists, scales, labels and values it promises.

Published numbers: Hoffmann et al. 2022, Table 3 (approach 1 projections, DESIGN.md);
Sardana et al. 2023: with E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283, the target
loss 1.947 and 2e12 lifetime inference tokens, the lifetime-FLOPs-optimal model has
N = 2.418e10 parameters (DESIGN.md).
"""

import io
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax import plot  # noqa: E402

SARDANA = sl.Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)
LAW_PARAMS = ("E", "A", "B", "alpha", "beta")


@pytest.fixture(scope="module")
def runs():
    return sl.datasets.chinchilla(drop_highest=5)


@pytest.fixture(scope="module")
def fit(runs):
    return sl.fit_huber(runs)


@pytest.fixture(scope="module")
def boot(runs, fit):
    return sl.bootstrap(runs, 50, key=jax.random.key(0), fit=fit)


@pytest.fixture(scope="module")
def isoflop(runs):
    return sl.fit_isoflop(runs)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def line(ax, label):
    (found,) = [candidate for candidate in ax.get_lines() if candidate.get_label() == label]
    return found


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_importing_the_library_or_the_module_does_not_import_matplotlib():
    code = ("import sys, scalinglaws_jax as sl; sl.plot.loss_vs_compute; "
            "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules if 'matplotlib' in m)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------------
# loss_vs_compute


def test_loss_vs_compute_draws_runs_frontier_and_band(runs, fit, boot):
    fig = plot.loss_vs_compute(runs, fit.law, boot.law)
    ax, colorbar = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "FLOPs" in ax.get_xlabel() and "nats per token" in ax.get_ylabel()
    assert "parameters" in colorbar.get_ylabel()
    (points,) = [c for c in ax.collections if c.get_label().startswith("training runs")]
    np.testing.assert_array_equal(points.get_offsets(), np.column_stack([runs.flops, runs.loss]))
    np.testing.assert_array_equal(points.get_array(), runs.N)
    frontier = line(ax, "compute-optimal frontier of the law")
    flops, loss = frontier.get_data()
    assert flops[0] == runs.flops.min() and flops[-1] == pytest.approx(100 * runs.flops.max())
    np.testing.assert_allclose(loss, sl.compute_optimal(fit.law, jnp.asarray(flops)).loss, rtol=1e-12)
    (band,) = bands(ax)
    per_draw = jax.vmap(sl.compute_optimal, (0, None))(boot.law, jnp.asarray(flops)).loss
    low, high = np.quantile(per_draw, [0.05, 0.95], axis=0)
    vertices = band.get_paths()[0].vertices
    for x, y_low, y_high in zip(flops, low, high):
        edges = vertices[vertices[:, 0] == x, 1]
        assert (edges.min(), edges.max()) == (pytest.approx(y_low, rel=1e-12), pytest.approx(y_high, rel=1e-12))
    assert np.all(low < loss) and np.all(loss < high)
    assert legend_texts(ax) == ["training runs (240)", "90% band over 50 draws (parameters only)",
                                "compute-optimal frontier of the law"]


def test_loss_vs_compute_of_a_posterior_shades_its_calibrated_forecast(runs, fit):
    """With a Posterior the band is the forecast of a run on each draw's frontier (Posterior.predict,
    paired with the draw's own plan), which is wider than the parameters' band beyond the runs."""
    train = runs.select(runs.flops <= 1e21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a short chain: low ESS is expected
        post = sl.fit_bayes(train, key=jax.random.key(0), num_chains=1, num_warmup=100, num_samples=100)
    flops = np.geomspace(1e19, 1e24, 6)
    fig = plot.loss_vs_compute(train, fit.law, post, flops=flops)
    (band,) = bands(fig.axes[0])
    plans = jax.vmap(sl.compute_optimal, (0, None))(post.law, jnp.asarray(flops))
    forecast = post.predict(np.asarray(plans.N), np.asarray(plans.D), paired=True)
    low, high = np.quantile(forecast, [0.05, 0.95], axis=0)
    vertices = band.get_paths()[0].vertices
    for x, y_low, y_high in zip(flops, low, high):
        edges = vertices[vertices[:, 0] == x, 1]
        assert (edges.min(), edges.max()) == (pytest.approx(y_low, rel=1e-12), pytest.approx(y_high, rel=1e-12))
    law_low, law_high = np.quantile(plans.loss, [0.05, 0.95], axis=0)
    assert np.all((high - low)[-2:] > 2 * (law_high - law_low)[-2:])  # far beyond the runs: the form error
    assert legend_texts(fig.axes[0])[1] == "90% forecast interval (100 posterior draws)"


def test_loss_vs_compute_without_draws_has_no_band_and_takes_fit_results(runs, fit, boot):
    ax = plot.loss_vs_compute(runs, fit, flops=[1e19, 1e22]).axes[0]
    assert bands(ax) == []
    assert line(ax, "compute-optimal frontier of the law").get_xdata().tolist() == [1e19, 1e22]
    assert "50%" in " ".join(legend_texts(plot.loss_vs_compute(runs, fit, boot, level=0.5).axes[0]))


def test_loss_vs_compute_takes_a_law_of_compute(runs):
    law = sl.ComputeLaw(E=1.77, C0=2.4e19, alpha=0.17)
    flops, loss = line(plot.loss_vs_compute(runs, law).axes[0], "compute-optimal frontier of the law").get_data()
    np.testing.assert_allclose(loss, law.loss(jnp.asarray(flops)), rtol=1e-12)


def test_loss_vs_compute_rejects_bad_arguments(runs, fit, boot):
    with pytest.raises(ValueError, match="runs must be a Runs"):
        plot.loss_vs_compute(None, fit.law)
    with pytest.raises(ValueError, match="law must be one law"):
        plot.loss_vs_compute(runs, boot.law)
    with pytest.raises(ValueError, match="draws must be a batched law"):
        plot.loss_vs_compute(runs, fit.law, fit.law)
    with pytest.raises(ValueError, match="level must be a number in"):
        plot.loss_vs_compute(runs, fit.law, boot, level=1.0)
    with pytest.raises(ValueError, match=r"flops must be finite and positive, got flops\[0\]=-1"):
        plot.loss_vs_compute(runs, fit.law, flops=[-1.0, 1e20])
    with pytest.raises(ValueError, match="law must be a law with a loss method"):
        plot.loss_vs_compute(runs, "epoch-2024")


# ----------------------------------------------------------------------------------
# isoflop_profiles


def test_isoflop_profiles_draw_each_budget_parabola_and_minimum(runs, isoflop):
    fig = plot.isoflop_profiles(isoflop, runs)
    ax, colorbar = fig.axes
    assert ax.get_xscale() == "log" and "parameters" in ax.get_xlabel() and "nats per token" in ax.get_ylabel()
    assert "FLOPs" in colorbar.get_ylabel()
    parabolas = ax.get_lines()
    assert len(parabolas) == len(isoflop.budgets)
    for parabola, N_opt in zip(parabolas, isoflop.N_opt):
        N, loss = parabola.get_data()
        c2, c1, _ = np.polyfit(np.log10(N), loss, 2)
        assert 10 ** (-c1 / (2 * c2)) == pytest.approx(N_opt, rel=1e-6)
    by_label = {c.get_label(): c for c in ax.collections}
    np.testing.assert_allclose(by_label["minima"].get_offsets(), np.column_stack([isoflop.N_opt, isoflop.loss_opt]))
    skipped = ~np.isin(isoflop.run_budget, isoflop.budgets)
    assert skipped.sum() > 0
    assert len(by_label["runs outside the fitted budgets"].get_offsets()) == skipped.sum()
    assert len(by_label["runs"].get_offsets()) == len(runs) - skipped.sum()
    assert legend_texts(ax) == ["runs", "parabola in log N", f"runs outside the fitted budgets ({skipped.sum()})",
                                r"minimum ($N_{opt}$, $L_{opt}$)"]


def test_isoflop_profiles_without_runs_draw_only_the_minima(isoflop):
    ax = plot.isoflop_profiles(isoflop).axes[0]
    assert ax.get_lines() == [] and [c.get_label() for c in ax.collections] == ["minima"]


def test_isoflop_profiles_reject_bad_arguments(runs, fit, isoflop):
    with pytest.raises(ValueError, match="fit must be an IsoFLOPFit"):
        plot.isoflop_profiles(fit, runs)
    with pytest.raises(ValueError, match="runs must be the runs fit was fitted to: got 10 runs"):
        plot.isoflop_profiles(isoflop, runs.select(np.arange(10)))


# ----------------------------------------------------------------------------------
# loss_surface


def test_loss_surface_contours_iso_flop_lines_and_optimal_path(fit):
    law = fit.law
    fig = plot.loss_surface(law)
    ax, colorbar = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "parameters" in ax.get_xlabel() and "tokens" in ax.get_ylabel()
    assert "nats per token" in colorbar.get_ylabel()
    assert ax.get_xlim() == (1e7, 1e12) and ax.get_ylim() == (1e8, 1e14)
    (filled,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert filled.levels[0] == pytest.approx(float(law.loss(1e12, 1e14)), rel=1e-3)
    iso = [candidate for candidate in ax.get_lines() if candidate.get_linestyle() == "--"]
    budgets = [1e18, 1e20, 1e22, 1e24]
    assert len(iso) == len(budgets)
    for candidate, budget in zip(iso, budgets):
        N, D = candidate.get_data()
        np.testing.assert_allclose(6 * N * D, budget, rtol=1e-12)
    assert sorted(text.get_text() for text in ax.texts) == sorted(f"$10^{{{e}}}$ FLOPs" for e in (18, 20, 22, 24))
    N, D = line(ax, "compute-optimal N*(C), D*(C)").get_data()
    np.testing.assert_allclose(sl.compute_optimal(law, jnp.asarray(6 * N * D)).N, N, rtol=1e-10)
    N, D = line(ax, "optimum at each budget").get_data()
    np.testing.assert_allclose(6 * N * D, budgets, rtol=1e-10)
    assert legend_texts(ax) == ["compute-optimal N*(C), D*(C)", "optimum at each budget", "iso-FLOP line 6ND = C"]


def test_loss_surface_takes_budgets_and_ranges(fit):
    ax = plot.loss_surface(fit.law, N=(1e8, 1e10), D=(1e9, 1e12), flops=[1e20, 1e21]).axes[0]
    assert ax.get_xlim() == (1e8, 1e10)
    assert len([c for c in ax.get_lines() if c.get_linestyle() == "--"]) == 2


def test_loss_surface_rejects_bad_arguments(fit, boot):
    with pytest.raises(ValueError, match="law must be a law of N and D"):
        plot.loss_surface(sl.ComputeLaw(E=1.7, C0=1e19, alpha=0.2))
    with pytest.raises(ValueError, match=r"law.loss must take \(N, D\) or \(flops\).*law.chinchilla"):
        plot.loss_surface(sl.MUENNIGHOFF_2023)
    with pytest.raises(ValueError, match="law must be one law"):
        plot.loss_surface(boot.law)
    with pytest.raises(ValueError, match="N must satisfy 0 < low < high"):
        plot.loss_surface(fit.law, N=(1e12, 1e7))
    with pytest.raises(ValueError, match="D must be a pair"):
        plot.loss_surface(fit.law, D=1e9)
    with pytest.raises(ValueError, match="flops must lie inside 6 N D of the box"):
        plot.loss_surface(fit.law, flops=[1e30])


# ----------------------------------------------------------------------------------
# optimal_allocation


def test_optimal_allocation_lines_bands_rule_and_table_3(fit, boot):
    fig = plot.optimal_allocation(fit.law, boot)
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "FLOPs" in ax.get_xlabel() and "parameters" in ax.get_ylabel() and "tokens" in ax.get_ylabel()
    flops, N = line(ax, "N* of the law (parameters)").get_data()
    plan = sl.compute_optimal(fit.law, jnp.asarray(flops))
    np.testing.assert_allclose(N, plan.N, rtol=1e-12)
    np.testing.assert_allclose(line(ax, "D* of the law (tokens)").get_ydata(), plan.D, rtol=1e-12)
    np.testing.assert_allclose(line(ax, r"20 tokens/param: $N = \sqrt{C / 120}$").get_ydata(), np.sqrt(flops / 120))
    np.testing.assert_allclose(line(ax, "20 tokens/param: $D = 20 N$").get_ydata(), 20 * np.sqrt(flops / 120))
    table_3 = np.array(plot.HOFFMANN_2022_TABLE_3)[:-1]  # 10T at 1.3e28 FLOPs lies beyond the default 1e27
    points = line(ax, "Hoffmann et al. 2022 Table 3: N")
    np.testing.assert_array_equal(np.column_stack(points.get_data()), table_3[:, :2][:, ::-1])
    np.testing.assert_array_equal(line(ax, "Hoffmann et al. 2022 Table 3: D").get_ydata(), table_3[:, 2])
    assert len(bands(ax)) == 2
    assert legend_texts(ax) == [
        "N* of the law, 90% band over 50 draws", "D* of the law, 90% band over 50 draws",
        r"20 tokens/param: $N = \sqrt{C / 120}$", "20 tokens/param: $D = 20 N$",
        "Hoffmann et al. 2022 Table 3: N", "Hoffmann et al. 2022 Table 3: D",
    ]


def test_optimal_allocation_without_draws(fit):
    ax = plot.optimal_allocation(sl.HOFFMANN_2022, flops=np.geomspace(1e20, 1e24, 50)).axes[0]
    assert bands(ax) == []
    assert legend_texts(ax)[:2] == ["N* of the law (parameters)", "D* of the law (tokens)"]
    # Gopher's budget: approach 3 gives about 40.4e9 parameters (DESIGN.md), Table 3 67e9.
    flops, N = line(ax, "N* of the law (parameters)").get_data()
    assert np.interp(np.log(5.76e23), np.log(flops), np.log(N)) == pytest.approx(np.log(40.4e9), abs=2e-3)
    assert line(ax, "Hoffmann et al. 2022 Table 3: N").get_xdata().tolist() == [1.21e20, 1.23e22, 5.76e23]


def test_optimal_allocation_rejects_bad_arguments(fit, boot):
    one_draw = jax.tree_util.tree_map(lambda leaf: leaf[:1], boot.law)
    with pytest.raises(ValueError, match=r"draws must be a batched law.*\[\(1,\)\]"):
        plot.optimal_allocation(fit.law, one_draw)
    with pytest.raises(ValueError, match=r"draws must be a batched law.*\[\(\)\]"):
        plot.optimal_allocation(fit.law, fit.law)
    with pytest.raises(ValueError, match="level must be a number in"):
        plot.optimal_allocation(fit.law, boot, level=0)
    with pytest.raises(ValueError, match="flops must be a 1-D array of at least 2 values"):
        plot.optimal_allocation(fit.law, flops=1e20)


# ----------------------------------------------------------------------------------
# posterior_pairs


def test_posterior_pairs_of_a_dict_of_draws(boot):
    draws = {name: np.asarray(getattr(boot.law, name)) for name in LAW_PARAMS}
    fig = plot.posterior_pairs(draws, max_draws=20)
    axes = np.array(fig.axes).reshape(5, 5)
    visible = np.array([[ax.get_visible() for ax in row] for row in axes])
    np.testing.assert_array_equal(visible, np.tril(np.ones((5, 5), bool)))
    for i in range(5):
        assert len(axes[i, i].patches) == 30  # histogram bars
        for j in range(i):
            (scatter,) = axes[i, j].collections
            assert len(scatter.get_offsets()) == 20
            assert axes[i, j].get_xscale() == ("log" if LAW_PARAMS[j] in "AB" else "linear")
            assert axes[i, j].get_yscale() == ("log" if LAW_PARAMS[i] in "AB" else "linear")
    assert [ax.get_xlabel() for ax in axes[-1]] == ["$E$", "$A$", "$B$", r"$\alpha$", r"$\beta$"]
    assert [ax.get_ylabel() for ax in axes[1:, 0]] == ["$A$", "$B$", r"$\alpha$", r"$\beta$"]
    (rho,) = axes[3, 1].texts  # alpha against A: the a-alpha correlation of this model
    assert float(rho.get_text().split("=")[1]) > 0.9
    assert "50 draws" in fig._suptitle.get_text()


class PosteriorLike:
    """What posterior_pairs uses of a Posterior: law, samples (chains, draws), draws(), free."""

    def __init__(self, law):
        self.law = law
        self.samples = {name: np.asarray(getattr(law, name)).reshape(2, -1) for name in LAW_PARAMS}
        self.samples["E"] = np.full((2, 25), 1.69)
        self.samples["sigma"] = np.abs(np.asarray(law.alpha)).reshape(2, -1)
        self.free = ("A", "B", "alpha", "beta", "sigma")

    def draws(self, name):
        return self.samples[name].reshape(-1)


def test_posterior_pairs_of_a_posterior_shows_its_sampled_law_parameters(boot):
    fig = plot.posterior_pairs(PosteriorLike(boot.law))
    axes = np.array(fig.axes).reshape(4, 4)
    assert [ax.get_xlabel() for ax in axes[-1]] == ["$A$", "$B$", r"$\alpha$", r"$\beta$"]
    axes = np.array(plot.posterior_pairs(PosteriorLike(boot.law), names=["sigma", "E"]).axes).reshape(2, 2)
    assert len(axes[1, 0].texts) == 0  # E is pinned: no correlation to show


def test_posterior_pairs_of_a_batched_law_into_given_axes(boot):
    fig, axes = plt.subplots(2, 2)
    assert plot.posterior_pairs(boot, names=("alpha", "beta"), axes=axes) is fig
    assert not axes[0, 1].get_visible() and axes[1, 0].get_xlabel() == r"$\alpha$"
    assert len(np.array(plot.posterior_pairs(boot.law).axes)) == 25


def test_posterior_pairs_reject_bad_arguments(boot):
    draws = {name: np.asarray(getattr(boot.law, name)) for name in LAW_PARAMS}
    with pytest.raises(ValueError, match=r"names must be among \['E', 'A', 'B', 'alpha', 'beta'\]"):
        plot.posterior_pairs(draws, names=["gamma"])
    with pytest.raises(ValueError, match=r"axes must be a \(5, 5\) array of Axes"):
        plot.posterior_pairs(draws, axes=plt.subplots(2, 2)[1])
    with pytest.raises(ValueError, match="axes must hold matplotlib Axes, got str"):
        plot.posterior_pairs(draws, names=["alpha"], axes=[["not an Axes"]])
    with pytest.raises(ValueError, match="differ in length"):
        plot.posterior_pairs({"alpha": draws["alpha"], "beta": draws["beta"][:10]})
    with pytest.raises(ValueError, match=r"draws of 'A' must be finite, got A\[0\]=nan"):
        plot.posterior_pairs({"A": np.r_[np.nan, draws["A"][1:]], "beta": draws["beta"]})
    with pytest.raises(ValueError, match=r"draws of 'B' \(log scale\) must be positive"):
        plot.posterior_pairs({"B": -draws["B"], "beta": draws["beta"]})
    with pytest.raises(ValueError, match="max_draws must be an integer >= 2"):
        plot.posterior_pairs(draws, max_draws=1)
    with pytest.raises(ValueError, match="post_or_samples must be a Posterior"):
        plot.posterior_pairs(np.ones((5, 3)))


@pytest.mark.slow
def test_posterior_pairs_of_a_real_posterior(runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a short chain: low ESS is expected
        post = sl.fit_bayes(runs, key=jax.random.key(0), num_chains=1, num_warmup=50, num_samples=50)
    axes = np.array(plot.posterior_pairs(post).axes).reshape(5, 5)
    assert [ax.get_xlabel() for ax in axes[-1]] == ["$E$", "$A$", "$B$", r"$\alpha$", r"$\beta$"]
    np.testing.assert_array_equal(axes[1, 0].collections[0].get_offsets()[:, 1], post.draws("A"))


# ----------------------------------------------------------------------------------
# inference_tradeoff


def test_inference_tradeoff_size_and_savings(fit):
    law = fit.law
    fig = plot.inference_tradeoff(law)
    ax, twin = fig.axes
    target = float(sl.compute_optimal(law, 1e23).loss)
    assert f"{target:.3f}" in ax.get_title()
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "tokens" in ax.get_xlabel() and "parameters" in ax.get_ylabel() and "%" in twin.get_ylabel()
    tokens, N = line(ax, "inference-optimal N").get_data()
    plan = sl.inference_optimal(law, target, jnp.asarray(tokens))
    np.testing.assert_allclose(N, plan.N, rtol=1e-10)
    reference = sl.inference_optimal(law, target)
    saved = line(twin, "lifetime FLOPs saved vs the compute-optimal model").get_ydata()
    baseline = reference.training_flops + 2 * reference.N * tokens
    np.testing.assert_allclose(saved, 100 * (1 - plan.lifetime_flops / baseline), rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(saved) >= -1e-9) and 0 <= saved.min() < 1 and 50 < saved.max() < 100
    assert tokens[0] <= 1e-2 * float(reference.D) and tokens[-1] >= 1e4 * float(reference.D)
    assert len(legend_texts(ax)) == 4 and legend_texts(ax)[0] == "inference-optimal N"


def test_inference_tradeoff_reproduces_sardana():
    ax = plot.inference_tradeoff(SARDANA, loss=1.947, inference_tokens=[1e12, 2e12, 4e12]).axes[0]
    assert line(ax, "inference-optimal N").get_ydata()[1] == pytest.approx(2.418e10, rel=5e-4)


def test_inference_tradeoff_rejects_bad_arguments(fit):
    with pytest.raises(ValueError, match="loss must exceed the law's irreducible loss E"):
        plot.inference_tradeoff(fit.law, loss=1.5)
    with pytest.raises(ValueError, match="loss must be one target loss"):
        plot.inference_tradeoff(fit.law, loss=[2.0, 2.1])
    with pytest.raises(ValueError, match=r"inference_tokens must be finite and positive, got inference_tokens\[0\]=0"):
        plot.inference_tradeoff(fit.law, inference_tokens=[0.0, 1e12])
    with pytest.raises(ValueError, match="law must be a law of N and D"):
        plot.inference_tradeoff(plot.EMERGENCE_LAW)


# ----------------------------------------------------------------------------------
# emergence


def test_emergence_exact_match_is_a_power_of_the_per_token_probability():
    fig = plot.emergence()
    ax, twin = fig.axes
    assert ax.get_xscale() == "log" and twin.get_yscale() == "log"
    assert "FLOPs" in ax.get_xlabel() and "nats per token" in twin.get_ylabel()
    lines = ax.get_lines()
    assert len(lines) == 4
    flops = lines[0].get_xdata()
    assert (flops[0], flops[-1]) == (1e18, pytest.approx(1e26))
    p = np.exp(-np.asarray(plot.EMERGENCE_LAW.loss(jnp.asarray(flops))))
    for k, candidate in zip((1, 4, 16, 64), lines):
        np.testing.assert_allclose(candidate.get_ydata(), p**k, rtol=1e-12)
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), -np.log(p), rtol=1e-10)
    # As documented: p rises from 0.04 to 0.99; p^64 stays below 1% to 1e22 FLOPs, then reaches 0.5.
    assert p[0] == pytest.approx(0.04, abs=0.005) and p[-1] == pytest.approx(0.99, abs=0.005)
    assert np.interp(22, np.log10(flops), p**64) < 0.01 < 0.5 < (p**64)[-1]
    assert legend_texts(ax)[0] == "per-token probability p = exp(-L)"
    assert legend_texts(ax)[-1] == "per-token loss L(C), right axis"


def test_emergence_of_a_law_of_N_and_D_uses_its_frontier(fit):
    ax = plot.emergence(fit.law, flops=[1e20, 1e22], lengths=[3]).axes[0]
    (only,) = ax.get_lines()
    np.testing.assert_allclose(only.get_ydata(), np.exp(-3 * sl.compute_optimal(fit.law, jnp.array([1e20, 1e22])).loss))


@pytest.mark.parametrize("lengths", [(), (0, 4), (1.5,), "16", 4])
def test_emergence_rejects_bad_lengths(lengths):
    with pytest.raises(ValueError, match="lengths must be a non-empty sequence of positive integers"):
        plot.emergence(lengths=lengths)


# ----------------------------------------------------------------------------------
# every figure


FIGURES = {
    "loss_vs_compute": lambda ctx, ax: plot.loss_vs_compute(ctx["runs"], ctx["fit"], ctx["boot"], ax=ax),
    "isoflop_profiles": lambda ctx, ax: plot.isoflop_profiles(ctx["isoflop"], ctx["runs"], ax=ax),
    "loss_surface": lambda ctx, ax: plot.loss_surface(ctx["fit"], ax=ax),
    "optimal_allocation": lambda ctx, ax: plot.optimal_allocation(ctx["fit"], ctx["boot"], ax=ax),
    "inference_tradeoff": lambda ctx, ax: plot.inference_tradeoff(ctx["fit"], ax=ax),
    "emergence": lambda ctx, ax: plot.emergence(ax=ax),
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_draws_into_the_given_ax_and_renders(name, runs, fit, boot, isoflop):
    context = {"runs": runs, "fit": fit, "boot": boot, "isoflop": isoflop}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    assert FIGURES[name](context, right) is fig
    assert plt.get_fignums() == [fig.number]
    assert not left.has_data() and right.has_data()
    buffer = io.BytesIO()
    FIGURES[name](context, None).savefig(buffer, format="png", dpi=150)
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="ax must be a matplotlib Axes or None"):
        FIGURES[name](context, np.array([left, right]))
