"""``scalinglaws backtest``: its figures are sl.backtest's; bad input exits 2 in one line, a
doubtful computation 1.

The Huber backtests are module-scoped fixtures (each cut is one fit); the Bayesian one is
a single cut with few draws, marked slow.
"""

import contextlib
import csv
import io
import json
import math
import re
import warnings

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli
from scalinglaws_jax.cli import _backtest
from scalinglaws_jax.fit.form_error import FormErrorWarning


def call(*argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def call_json(*argv):
    status, out, err = call(*argv, "--json")
    assert status == 0, err
    assert err == "", "--json keeps stderr free of progress"
    return json.loads(out)


def plain(value):
    """A summary as JSON has it: NaN as None."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def assert_summary_equal(printed, summary):
    expected = plain(summary)
    for key, value in expected.items():
        assert key in printed, key
        if key == "cuts":
            assert len(printed["cuts"]) == len(value)
            for got, want in zip(printed["cuts"], value):
                assert got.keys() == want.keys()
                for name in want:
                    np.testing.assert_allclose(_flat(got[name]), _flat(want[name]), rtol=1e-12)
        elif isinstance(value, (int, float, dict)) and not isinstance(value, bool):
            np.testing.assert_allclose(_flat(printed[key]), _flat(value), rtol=1e-12)
        else:
            assert printed[key] == value, key


def _flat(value):
    values = list(value.values()) if isinstance(value, dict) else [value]
    return np.array([np.nan if item is None else item for item in values], dtype=float)


@pytest.fixture(scope="module")
def runs240():
    return sl.datasets.chinchilla(drop_highest=5)


CUTS = "1e20,1e21"
"""Two cuts of the Chinchilla runs (127 forecasts): each cut is a Huber fit and the form error's
own internal fits, so the default (every budget, 15 cuts) is left to the library's tests."""


@pytest.fixture(scope="module")
def huber_json():
    return call_json("backtest", "chinchilla", "--drop-highest", "5", "--method", "huber", "--cuts", CUTS)


@pytest.fixture(scope="module")
def huber_library(runs240):
    return sl.backtest(runs240, method="huber", cuts=[1e20, 1e21], key=jax.random.key(0))


@pytest.fixture(scope="module")
def parameter_only_text():
    return call("backtest", "chinchilla", "--drop-highest", "5", "--method", "huber", "--cuts", CUTS,
                "--parameter-only")


@pytest.fixture(scope="module")
def parameter_only_library(runs240):
    return sl.backtest(runs240, method="huber", cuts=[1e20, 1e21], key=jax.random.key(0), form_error=False)


def test_json_is_the_librarys_summary(huber_json, huber_library):
    assert_summary_equal(huber_json, huber_library.summary())
    assert huber_json["method"] == "huber" and huber_json["by"] == "flops" and huber_json["form_error"] is True
    assert huber_json["command"] == "backtest"
    assert huber_json["data"]["n_runs"] == 240 and huber_json["settings"]["family"] == "chinchilla"
    assert huber_json["levels"] == [0.5, 0.8, 0.9, 0.95]
    assert [cut["cut"] for cut in huber_json["cuts"]] == [1e20, 1e21]
    assert huber_json["warnings"] == [] and huber_json["rows"] == []


def test_text_has_one_row_per_cut_and_a_pooled_row(parameter_only_text, parameter_only_library):
    status, text, err = parameter_only_text
    assert status == 0, err
    assert err == "backtest: huber forecasts of 240 runs, cut by flops at 2 cuts ...\n"
    huber_library = parameter_only_library
    summary = huber_library.summary()
    lines = text.splitlines()
    assert lines[0].startswith("data: chinchilla") and "huber forecasts (parameter uncertainty only" in lines[1]
    (head,) = [i for i, line in enumerate(lines) if line.startswith("cut (FLOPs)")]
    assert lines[head].split()[:9] == ["cut", "(FLOPs)", "train", "forecasts", "50%", "80%", "90%", "95%",
                                       "median"]
    for line, cut in zip(lines[head + 1:], summary["cuts"]):
        cells = line.split()
        assert float(cells[0]) == pytest.approx(cut["cut"], rel=5e-3)
        assert int(cells[1]) == cut["train"] and int(cells[2]) == cut["forecasts"]
        assert cells[3:7] == [f"{cut['coverage'][str(level)]:.2f}" for level in (0.5, 0.8, 0.9, 0.95)]
        assert cells[7:9] == [f"{100 * cut['median_abs_error']:.2f}%", f"{100 * cut['huber_median_abs_error']:.2f}%"]
    pooled = lines[head + 1 + len(summary["cuts"])].split()
    assert pooled[0] == "pooled" and int(pooled[1]) == len(huber_library)
    assert pooled[2:6] == [f"{value:.2f}" for value in huber_library.coverage()]
    assert pooled[6] == f"{100 * np.median(np.abs(huber_library.relative_error)):.2f}%"
    score = re.search(r"interval score \(nats\) 0\.5: (\S+),", text).group(1)
    assert float(score) == pytest.approx(huber_library.interval_score()[0], abs=5e-5)


def test_the_form_error_widens_the_intervals(huber_library, parameter_only_library):
    assert (huber_library.width() > parameter_only_library.width()).all()


def test_parameter_only_cuts_levels_and_by(runs240):
    printed = call_json("backtest", "chinchilla", "--drop-highest", "5", "--method", "huber", "--by", "N",
                        "--cuts", "1e9,2e9", "--levels", "0.6,0.9", "--parameter-only")
    library = sl.backtest(runs240, method="huber", by="N", cuts=[1e9, 2e9], levels=(0.6, 0.9),
                          key=jax.random.key(0), form_error=False)
    assert_summary_equal(printed, library.summary())
    assert printed["form_error"] is False and printed["by"] == "N" and printed["levels"] == [0.6, 0.9]
    assert [cut["cut"] for cut in printed["cuts"]] == [1e9, 2e9]


def test_a_csv_file_with_columns_backtests_as_the_dataset(tmp_path, runs240):
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Model Size", "Training FLOP", "final loss"])
        writer.writerows(zip(runs240.N, runs240.flops, runs240.loss))
    printed = call_json("backtest", str(path), "--columns", 'N="Model Size",flops="Training FLOP",loss="final loss"',
                        "--method", "huber", "--cuts", "1e21", "--parameter-only", "--seed", "7")
    library = sl.backtest(sl.Runs.from_csv(path, {"N": "Model Size", "flops": "Training FLOP",
                                                  "loss": "final loss"}),
                          method="huber", cuts=[1e21], key=jax.random.key(7), form_error=False)
    assert_summary_equal(printed, library.summary())
    assert printed["data"]["kind"] == "file"


@pytest.fixture
def captured(monkeypatch, huber_library):
    """The arguments the command passes to sl.backtest (which then returns huber_library)."""
    calls = []

    def record(runs, **kwargs):
        calls.append((runs, kwargs))
        return huber_library

    monkeypatch.setattr(_backtest, "backtest", record)
    return calls


@pytest.mark.parametrize("argv, expected", [
    ([], {"method": "bayes", "by": "flops", "cuts": None, "levels": (0.5, 0.8, 0.9, 0.95), "family": sl.Chinchilla,
          "form_error": True}),
    (["--chains", "2", "--warmup", "30", "--samples", "40"],
     {"method": "bayes", "num_chains": 2, "num_warmup": 30, "num_samples": 40}),
    (["--method", "bootstrap", "--resamples", "50", "--by", "N", "--family", "kaplan"],
     {"method": "bootstrap", "n": 50, "by": "N", "family": sl.Kaplan}),
    (["--method", "huber", "--family", "compute-law", "--parameter-only", "--levels", "0.9", "--cuts", "1e20:1e21:3"],
     {"method": "huber", "family": sl.ComputeLaw, "form_error": False, "levels": (0.9,),
      "cuts": [1e20, 10**20.5, 1e21]}),
])
def test_options_reach_the_library(captured, runs240, argv, expected):
    status, _, err = call("backtest", "chinchilla", "--drop-highest", "5", *argv)
    assert status == 0, err
    ((runs, kwargs),) = captured
    np.testing.assert_array_equal(runs.loss, runs240.loss)
    for name, value in expected.items():
        if name == "cuts" and value is not None:
            np.testing.assert_allclose(kwargs[name], value, rtol=1e-12)
        else:
            assert kwargs[name] == value, name
    fit_settings = {"num_chains", "num_warmup", "num_samples", "n"}
    assert {name for name in kwargs if name in fit_settings} == {name for name in expected if name in fit_settings}
    assert jax.random.key_data(kwargs["key"]).tolist() == jax.random.key_data(jax.random.key(0)).tolist()


@pytest.mark.parametrize("argv, option", [
    (["--method", "lasso"], "--method"),
    (["--by", "D"], "--by"),
    (["--levels", "0.5,1.5"], "--levels"),
    (["--levels", "0.9,0.9"], "--levels"),
    (["--cuts", "0,1e21"], "--cuts"),
    (["--family", "gpt"], "--family"),
    (["--method", "huber", "--chains", "2"], "--chains"),
    (["--method", "bootstrap", "--samples", "100"], "--samples"),
    (["--resamples", "100"], "--resamples"),
    (["--method", "bootstrap", "--resamples", "1"], "--resamples"),
    (["--columns", "N=size"], "--columns"),
    (["--seed", "-1"], "--seed"),
    (["--method", "huber", "--cuts", "1e15"], "1e+15"),
])
def test_bad_usage_exits_2_in_one_line(argv, option):
    status, out, err = call("backtest", "chinchilla", "--drop-highest", "5", *argv)
    assert status == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("scalinglaws: error: "), err
    assert option in err
    assert "Traceback" not in err


def test_runs_too_few_for_any_cut_exit_2(tmp_path, runs240):
    path = tmp_path / "few.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["N", "D", "loss"])
        writer.writerows(list(zip(runs240.N, runs240.D, runs240.loss))[:9])
    status, out, err = call("backtest", str(path), "--method", "huber")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("scalinglaws: error: backtest: no cut of the 9 runs by flops"), err


@pytest.mark.slow
def test_a_bootstrap_backtest_equals_the_library(runs240):
    printed = call_json("backtest", "chinchilla", "--drop-highest", "5", "--method", "bootstrap", "--resamples", "20",
                        "--cuts", "1e21", "--parameter-only", "--seed", "2")
    library = sl.backtest(runs240, method="bootstrap", cuts=[1e21], key=jax.random.key(2), form_error=False, n=20)
    assert_summary_equal(printed, library.summary())
    assert printed["method"] == "bootstrap" and printed["settings"]["n"] == 20


def test_a_missing_file_exits_2(tmp_path):
    status, out, err = call("backtest", str(tmp_path / "nothing.csv"), "--method", "huber")
    assert status == 2 and out == "" and "neither a dataset" in err and err.count("\n") == 1


@pytest.mark.parametrize("category, message", [
    (RuntimeWarning, "fit_huber: the best start did not converge"),
    (FormErrorWarning, "the form error of the Chinchilla law cannot be learned from 12 runs\n (no cut ...)"),
])
def test_a_doubtful_computation_prints_its_result_and_exits_1(monkeypatch, huber_library, category, message):
    def doubtful(*args, **kwargs):
        warnings.warn(message, category)
        warnings.warn(message, category)
        return huber_library

    monkeypatch.setattr(_backtest, "backtest", doubtful)
    status, out, err = call("backtest", "chinchilla", "--drop-highest", "5", "--method", "huber", "--json")
    assert status == 1
    line = " ".join(message.split()) + " (2 times)"
    assert json.loads(out)["warnings"] == [line]
    assert err == f"scalinglaws: warning: {line}\n"


def test_failed_forecasts_are_a_warning_and_exit_1(monkeypatch, huber_library):
    import dataclasses

    median = huber_library.median.copy()
    median[:3] = np.nan
    failed = dataclasses.replace(huber_library, median=median)
    monkeypatch.setattr(_backtest, "backtest", lambda *args, **kwargs: failed)
    status, out, err = call("backtest", "chinchilla", "--drop-highest", "5", "--method", "huber")
    assert status == 1
    assert f"3 of {len(failed)} forecasts failed" in err and "pooled" in out


def test_help_mentions_every_option():
    status, out, _ = call("backtest", "--help")
    assert status == 0
    parser = _subparser()
    options = {option for action in parser._actions for option in action.option_strings if option.startswith("--")}
    assert options == {"--help", "--columns", "--drop-highest", "--method", "--by", "--cuts", "--levels", "--family",
                       "--parameter-only", "--chains", "--warmup", "--samples", "--resamples", "--seed", "--json"}
    for option in options:
        assert option in out
    assert "examples:" in out and "exit status" in out


def _subparser():
    parser = cli.build_parser()
    (commands,) = [action for action in parser._actions if action.dest == "command"]
    return commands.choices["backtest"]


@pytest.mark.slow
def test_bayes_backtest_equals_the_library(runs240):
    settings = ["--chains", "1", "--warmup", "200", "--samples", "200", "--seed", "3"]
    status, out, err = call("backtest", "chinchilla", "--drop-highest", "5", "--cuts", "1e21", *settings, "--json")
    printed = json.loads(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the same short chain's diagnostics, as the command warns
        library = sl.backtest(runs240, method="bayes", cuts=[1e21], key=jax.random.key(3), num_chains=1,
                              num_warmup=200, num_samples=200)
    assert_summary_equal(printed, library.summary())
    assert printed["method"] == "bayes" and printed["settings"]["num_samples"] == 200
    # a short chain may be doubtful: then it says so, as 'fit --bayes' does, and exits 1
    assert status == (1 if printed["warnings"] else 0)
    for warning in printed["warnings"]:
        assert warning.startswith("fit_bayes:") and warning.endswith("raise --warmup and --samples, or --chains.")
