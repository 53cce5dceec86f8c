"""sl.ladder: plans, training order, forecasts made before each rung, resumption, and the figure.

The family here is synthetic: "training" counts steps, and the held-out loss is a known
Chinchilla law at the tokens seen, times exp(0.5% z) with z fixed by the run's key (a
seed-to-seed scatter). So the ladder's fits, forecasts and intervals can be checked
against the truth, in seconds.
"""

import json
import shutil
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

TRUTH = sl.Chinchilla(E=1.0, A=20.0, B=40.0, alpha=0.33, beta=0.30)
NOISE = 0.005
WIDTHS = (16, 24, 32, 48)
RATIOS = (4, 10, 25, 60)
TOKENS_PER_STEP = 1000
NUTS = {"num_chains": 2, "num_warmup": 400, "num_samples": 400}
LAPLACE = {"method": "laplace", "num_chains": 1, "num_samples": 4000}
"""The fits: NUTS where the forecasts are judged, the Laplace approximation (one compiled
program, a few seconds) where only the harness is."""


def params_of(width):
    """(non-embedding, embedding) parameters of a width: 12 w^2 and 512 w."""
    return 12 * width * width, 512 * width


class Synthetic:
    """A family whose runs follow TRUTH; it records every init, and can fail on purpose."""

    def __init__(self, fail_at_init: int | None = None, out=None):
        self.inits = []  # (width, forecast rungs on disk at that moment)
        self.fail_at_init = fail_at_init
        self.out = out

    def __call__(self, width):
        params, embedding = params_of(width)

        def init(key):
            if not isinstance(key, jax.core.Tracer):  # a run, not the ladder tracing the family
                if self.fail_at_init is not None and len(self.inits) == self.fail_at_init:
                    raise KeyboardInterrupt("killed")
                on_disk = None
                if self.out is not None and (self.out / "ladder.json").exists():
                    on_disk = sorted(int(k) for k in json.loads((self.out / "ladder.json").read_text())["forecasts"])
                self.inits.append((width, on_disk))
            return 0, jax.random.normal(key)

        def step(state, i, num_steps):
            assert 0 <= i < num_steps
            return state[0] + 1, state[1]

        def evaluate(state):
            with jax.enable_x64(True):
                return TRUTH.loss(params + embedding, state[0] * TOKENS_PER_STEP) * jnp.exp(NOISE * state[1])

        return sl.LadderModel(init, step, evaluate, params, embedding, TOKENS_PER_STEP)


def run_ladder(family, out=None, widths=WIDTHS, bayes=LAPLACE, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # doubtful diagnostics of the small fits are notes
        return sl.ladder(family, widths, key=jax.random.key(0), tokens_per_param=RATIOS, bayes=bayes, out=out,
                         **kwargs)


@pytest.fixture(scope="module")
def reference():
    """The ladder in memory, uninterrupted, fitted with NUTS."""
    family = Synthetic()
    return run_ladder(family, bayes=NUTS), family


@pytest.fixture(scope="module")
def uninterrupted():
    """The ladder in memory, fitted with the Laplace approximation."""
    return run_ladder(Synthetic())


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """The Laplace ladder on disk, killed at the first run of rung 3 (run 12) and started again."""
    out = tmp_path_factory.mktemp("ladder") / "run"
    first = Synthetic(fail_at_init=12, out=out)
    with pytest.raises(KeyboardInterrupt):
        run_ladder(first, out)
    stored = json.loads((out / "ladder.json").read_text())
    second = Synthetic(out=out)
    return run_ladder(second, out), first, second, stored, out


# ----------------------------------------------------------------------------------
# the plan


def test_plan_of_tokens_per_param(reference):
    ladder, family = reference
    assert len(ladder.plan) == len(WIDTHS) * len(RATIOS) and ladder.rungs == len(WIDTHS)
    for index, run in enumerate(ladder.plan):
        width = WIDTHS[run.rung]
        assert run.size == repr(width) and (run.params, run.embedding_params) == params_of(width)
        N = run.N("total")
        assert run.N("non_embedding") == run.params and N == sum(params_of(width))
        ratio = RATIOS[index % len(RATIOS)]
        assert run.num_steps == round(ratio * N / TOKENS_PER_STEP) and run.D == run.num_steps * TOKENS_PER_STEP
    # trained in order, one init per run
    assert [width for width, _ in family.inits] == [WIDTHS[run.rung] for run in ladder.plan]


def test_plan_of_isoflop_budgets():
    budgets = np.geomspace(1e11, 1e13, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ladder = sl.ladder(Synthetic(), (16, 32), key=jax.random.key(0), flops=budgets, ratio_range=(2, 200),
                           bayes=LAPLACE)
    for run in ladder.plan:
        N = run.N("total")
        C = [c for c in budgets if 2 <= c / (6 * N * N) <= 200]
        assert any(abs(run.D - c / (6 * N)) <= TOKENS_PER_STEP / 2 for c in C)
    assert {run.rung for run in ladder.plan} == {0, 1}
    counts = [sum(run.rung == r for run in ladder.plan) for r in (0, 1)]
    assert counts == [sum(2 <= c / (6 * sum(params_of(w)) ** 2) <= 200 for c in budgets) for w in (16, 32)]


def model(**changes):
    fields = dict(init=lambda key: 0, step=lambda s, i, n: s, evaluate=lambda s: 1.0, params=100,
                  embedding_params=10, tokens_per_step=10)
    return sl.LadderModel(**{**fields, **changes})


@pytest.mark.parametrize(
    "family, sizes, kwargs, match",
    [
        (Synthetic(), [], {"tokens_per_param": RATIOS}, "sizes is empty"),
        (Synthetic(), 16, {"tokens_per_param": RATIOS}, "sizes must be a list"),
        (Synthetic(), WIDTHS, {}, "tokens_per_param= .* or flops="),
        (Synthetic(), WIDTHS, {"tokens_per_param": RATIOS, "flops": [1e12]}, "not both"),
        (Synthetic(), WIDTHS, {"tokens_per_param": [5, -1]}, r"tokens_per_param\[1\]=-1.0"),
        (Synthetic(), WIDTHS, {"tokens_per_param": [5, float("nan")]}, "finite and positive"),
        (Synthetic(), WIDTHS, {"flops": [1.0]}, "no budget in flops="),
        (Synthetic(), WIDTHS, {"tokens_per_param": RATIOS, "count": "embedding"}, "count must be one of"),
        (Synthetic(), WIDTHS, {"tokens_per_param": RATIOS, "checkpoints": 0}, "checkpoints must be"),
        (Synthetic(), WIDTHS, {"tokens_per_param": RATIOS, "level": 1.5}, r"level must be in \(0, 1\)"),
        (Synthetic(), WIDTHS, {"tokens_per_param": RATIOS, "bayes": {"key": 1}}, "must not hold key"),
        (Synthetic(), (32, 16), {"tokens_per_param": RATIOS}, "sizes must grow"),
        (lambda size: model(params=0), [1], {"tokens_per_param": RATIOS}, r"family\(1\).params must be"),
        (lambda size: model(tokens_per_step=2.5), [1], {"tokens_per_param": RATIOS}, "tokens_per_step"),
    ],
)
def test_bad_input_raises_before_training(family, sizes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sl.ladder(family, sizes, key=jax.random.key(0), **kwargs)


def test_family_must_return_a_ladder_model():
    with pytest.raises(TypeError, match="must return a LadderModel"):
        sl.ladder(lambda size: (1, 2), [1], key=jax.random.key(0), tokens_per_param=RATIOS)


# ----------------------------------------------------------------------------------
# runs, checkpoints and forecasts


def test_runs_and_checkpoints(reference):
    ladder, _ = reference
    runs = ladder.runs()
    assert len(runs) == len(ladder.plan) and np.array_equal(runs.group, [run.rung for run in ladder.plan])
    np.testing.assert_array_equal(runs.N, [run.N("total") for run in ladder.plan])
    np.testing.assert_array_equal(ladder.runs("non_embedding").N, [run.params for run in ladder.plan])
    np.testing.assert_array_equal(runs.loss, ladder.loss)
    for index, run in enumerate(ladder.plan):
        tokens, losses = ladder.checkpoint_tokens[index], ladder.checkpoint_loss[index]
        assert len(tokens) == 4 and tokens[-1] == run.D and np.all(np.diff(tokens) > 0)
        assert losses[-1] == ladder.loss[index] and np.all(np.diff(losses) < 0)  # the synthetic loss falls
    checkpoints = ladder.checkpoints()
    assert len(checkpoints) == 4 * len(ladder.plan) and set(checkpoints.group) == set(range(len(ladder.plan)))
    assert len(ladder.runs(rungs=[0, 1])) == 2 * len(RATIOS)


def test_forecasts_start_once_the_runs_identify_the_law(reference):
    ladder, _ = reference
    # the 4 runs of rung 0 cannot determine E, A, B, alpha, beta and sigma
    assert sorted(ladder.forecasts) == [2, 3] and sorted(ladder.posteriors) == [1, 2, 3]
    assert ladder.notes[0] == "no fit after rung 0: 4 finished runs cannot determine 6 parameters"
    for rung, forecast in ladder.forecasts.items():
        assert forecast.fitted_rungs == tuple(range(rung))
        assert forecast.runs == tuple(i for i, run in enumerate(ladder.plan) if run.rung == rung)
        np.testing.assert_array_equal(forecast.measured, ladder.loss[list(forecast.runs)])
        assert np.all(forecast.low < forecast.median) and np.all(forecast.median < forecast.high)
        assert forecast.level == 0.9
        assert repr(forecast).startswith(f"LadderForecast(rung {rung} from rungs")


def test_forecasts_cover_the_truth(reference):
    """The law recovered from the smaller rungs forecasts the next one: the noise-free loss
    inside every 90% interval, the medians within 3% of the measurements (0.5% noise, one
    rung out), most measurements inside."""
    ladder, _ = reference
    for forecast in ladder.forecasts.values():
        with jax.enable_x64(True):
            clean = np.asarray(TRUTH.loss(forecast.N, forecast.D))
        assert np.all((forecast.low < clean) & (clean < forecast.high)), (forecast.low, clean, forecast.high)
        assert np.max(np.abs(forecast.relative_error)) < 0.03
        assert forecast.inside.sum() >= 3
    final = ladder.posteriors[3].summary()
    for name in ("alpha", "beta"):
        assert final[name]["q2.5"] < getattr(TRUTH, name) < final[name]["q97.5"]


# ----------------------------------------------------------------------------------
# on disk: forecasts before training, resumption


def test_every_forecast_is_on_disk_before_its_rung_trains(resumed):
    _, first, second, _, _ = resumed
    for width, on_disk in first.inits + second.inits:
        rung = WIDTHS.index(width)
        if rung >= 3:
            assert rung in on_disk, (width, on_disk)


def test_a_killed_ladder_resumes_without_retraining(resumed, uninterrupted):
    ladder, first, second, stored, out = resumed
    assert len(first.inits) == 12 and sorted(stored["runs"], key=int) == [str(i) for i in range(12)]
    assert sorted(stored["forecasts"]) == ["2", "3"]  # the forecast of rung 3 was made before the kill
    assert [width for width, _ in second.inits] == [WIDTHS[3]] * len(RATIOS)  # only the unfinished runs
    expected = uninterrupted
    np.testing.assert_array_equal(ladder.loss, expected.loss)
    for rung, forecast in expected.forecasts.items():
        np.testing.assert_allclose(ladder.forecasts[rung].median, forecast.median, rtol=1e-12)
        np.testing.assert_allclose(ladder.forecasts[rung].high, forecast.high, rtol=1e-12)
    assert sorted(ladder.posteriors) == [1, 2, 3]
    assert sorted(p.name for p in out.glob("posterior-after-rung-*.npz")) == [
        f"posterior-after-rung-{r}.npz" for r in (1, 2, 3)]
    # once done, the same call trains nothing and refits nothing
    third = Synthetic(out=out)
    again = run_ladder(third, out)
    assert third.inits == [] and np.array_equal(again.loss, ladder.loss)


def test_a_grown_ladder_trains_only_the_new_rung(resumed, tmp_path):
    *_, out = resumed
    copy = tmp_path / "grown"
    shutil.copytree(out, copy)
    family = Synthetic(out=copy)
    grown = run_ladder(family, copy, widths=(*WIDTHS, 64))
    assert [width for width, _ in family.inits] == [64] * len(RATIOS)
    assert sorted(grown.forecasts) == [2, 3, 4] and grown.forecasts[4].fitted_rungs == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"widths": (16, 24, 32, 40)}, "holds another ladder: its run 12"),
        ({"widths": (16, 24, 32)}, "holds a longer ladder"),
        ({"count": "non_embedding"}, "count='total'"),
        ({"checkpoints": 2}, "checkpoints=4"),
    ],
)
def test_a_directory_with_another_ladder_is_refused(resumed, change, match):
    *_, out = resumed
    before = (out / "ladder.json").read_bytes()
    with pytest.raises(ValueError, match=match):
        run_ladder(Synthetic(), out, **change)
    assert (out / "ladder.json").read_bytes() == before


def test_a_foreign_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no ladder.json"):
        run_ladder(Synthetic(), tmp_path)
    with pytest.raises(ValueError, match="another ladder|key"):
        sl.ladder(Synthetic(), WIDTHS, key=jax.random.key(1), tokens_per_param=RATIOS,
                  out=_first_run_dir(tmp_path / "other"))


def _first_run_dir(path):
    """A directory holding a ladder of key 0 whose first rung has trained."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sl.ladder(Synthetic(), WIDTHS[:1], key=jax.random.key(0), tokens_per_param=RATIOS, out=path)
    return path


# ----------------------------------------------------------------------------------
# the figure


def test_ladder_forecast_figure(reference):
    ladder, _ = reference
    fig = sl.plot.ladder_forecast(ladder)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "tokens" in ax.get_xlabel() and "nats" in ax.get_ylabel()
    assert "rung 3" in ax.get_title()
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the predictive band
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    inside = int(ladder.forecasts[3].inside.sum())
    assert f"measured after the forecast ({inside}/4 inside)" in labels
    assert any(label.startswith("forecast for N = ") and "90% predictive band" in label for label in labels)
    assert len(ax.get_lines()) >= 3 + 1  # the law at each fitted size, the median forecast
    plt.close(fig)
    fig, ax = plt.subplots()
    assert sl.plot.ladder_forecast(ladder, rung=2, ax=ax) is fig and "rung 2" in ax.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="rung 1 has no forecast"):
        sl.plot.ladder_forecast(ladder, rung=1)
    with pytest.raises(ValueError, match="must be a Ladder"):
        sl.plot.ladder_forecast(ladder.runs())
