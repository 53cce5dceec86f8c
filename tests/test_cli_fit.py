"""``scalinglaws fit``: its results equal the library's fits; bad input exits 2 in one line.

Published numbers: Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt"
(arXiv:2404.10102): the Huber fit of the 240 Chinchilla runs (5 highest-loss dropped)
from Hoffmann et al.'s 4500 starts reaches an objective of ~1.01827e-3 at E=1.8172,
A=477.8, B=2143.9, alpha=0.3473, beta=0.3672.

The first approach-3 fit in a process compiles for several seconds: the CLI results are
module-scoped fixtures, and the library's reference fits reuse the same compiled program.
"""

import contextlib
import csv
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli

REPO = Path(__file__).resolve().parents[1]
BUDGETS = np.asarray(sl.DEFAULT_BUDGETS)


def call(*argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr). Works in any fixture scope."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def call_json(*argv):
    status, out, err = call(*argv, "--json")
    assert status == 0, err
    assert err == "", "--json keeps stderr free of progress"
    return json.loads(out)


def column(rows, name):
    return np.array([row[name] for row in rows], dtype=float)


def assert_close(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol)


@pytest.fixture(scope="module")
def runs240():
    return sl.datasets.chinchilla(drop_highest=5)


@pytest.fixture(scope="module")
def default_json():
    return call_json("fit", "chinchilla", "--drop-highest", "5")


@pytest.fixture(scope="module")
def library_fit(runs240, default_json):  # after the CLI's fit: reuses its compiled program
    return sl.fit_huber(runs240)


# ----------------------------------------------------------------------------------
# approach 3


@pytest.mark.slow
def test_default_fit_equals_library_and_besiroglu(default_json, library_fit):
    result = default_json
    parameters = result["law"]["parameters"]
    law = library_fit.law
    for name in cli.LAW_PARAMETERS:
        assert_close(parameters[name], getattr(law, name))
    # Besiroglu et al. 2024, Huber fit on the 240 runs.
    assert parameters["E"] == pytest.approx(1.8172, abs=5e-5)
    assert parameters["alpha"] == pytest.approx(0.3473, abs=5e-5)
    assert parameters["beta"] == pytest.approx(0.3672, abs=5e-5)
    assert parameters["A"] == pytest.approx(477.8, rel=1e-3)
    assert parameters["B"] == pytest.approx(2143.9, rel=1e-3)
    fit = result["fit"]
    assert fit["objective"] == pytest.approx(1.01827e-3, rel=1e-5)
    assert_close(fit["objective"], library_fit.objective)
    assert fit["starts"] == 4500
    assert fit["converged"] == library_fit.n_converged >= 1
    assert fit["at_best"] == library_fit.n_at_best >= 1
    assert fit["best_converged"] is True and fit["grad_norm"] < 1e-6
    assert result["data"] == {"source": "chinchilla", "kind": "dataset", "reference": cli.DATASETS["chinchilla"][1],
                              "rows": 245, "drop_highest": 5, "n_runs": 240}
    assert result["approach"] == 3 and result["law"]["fixed"] == {}
    assert result["bootstrap"] is None and result["intervals"] is None and result["warnings"] == []


@pytest.mark.slow
def test_default_fit_exponents_and_table(default_json, library_fit):
    law = library_fit.law
    power_laws = default_json["power_laws"]
    assert_close(power_laws["a"], law.beta / (law.alpha + law.beta))
    assert_close(power_laws["b"], law.alpha / (law.alpha + law.beta))
    rows = default_json["rows"]
    table = sl.budget_table(law, BUDGETS)
    for name in ("flops", "N", "D", "tokens_per_param", "loss", "status"):
        assert_close(column(rows, name), table[name])
    # N* = k_N C^a and D* = k_D C^b reproduce the closed-form compute-optimal plan.
    assert_close(power_laws["k_N"] * BUDGETS ** power_laws["a"], table["N"], rtol=1e-10)
    assert_close(power_laws["k_D"] * BUDGETS ** power_laws["b"], table["D"], rtol=1e-10)
    assert all(type(value) in (float, int) for row in rows for value in row.values())


@pytest.mark.slow
def test_default_fit_text(default_json, library_fit):
    status, out, err = call("fit", "chinchilla", "--drop-highest", "5")
    assert status == 0
    assert err == "fitting 240 runs from 4500 starts ...\n"
    lines = out.splitlines()
    assert lines[0].startswith("data: chinchilla") and "240 runs of 245" in lines[0]
    law = library_fit.law
    words = {line.split()[0]: line.split()[1] for line in lines if line.split()[:1] and line.split()[0] in
             ("E", "A", "B", "alpha", "beta", "a", "b")}
    assert words == {
        "E": f"{float(law.E):.6g}", "A": f"{float(law.A):.6g}", "B": f"{float(law.B):.6g}",
        "alpha": f"{float(law.alpha):.6g}", "beta": f"{float(law.beta):.6g}",
        "a": f"{default_json['power_laws']['a']:.4f}", "b": f"{default_json['power_laws']['b']:.4f}",
    }
    assert f"starts: {library_fit.n_converged} of 4500 converged, {library_fit.n_at_best} at the best" in out
    assert f"objective: {library_fit.objective:.6e}" in out
    table = out.strip().split("\n\n")[-1].splitlines()
    assert len(table) == 1 + 7 and table[1].split()[0] == "1.00e+19" and table[-1].split()[-1] == "ok"
    assert table[1].split()[1] == cli.engineering(default_json["rows"][0]["N"])


@pytest.mark.slow
def test_csv_with_columns_equals_dataset_fit(tmp_path, default_json):
    runs = sl.datasets.chinchilla()
    path = tmp_path / "runs.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Params (N)", "Compute, FLOPs", "Final loss", "note"])
        for N, flops, loss in zip(runs.N, runs.flops, runs.loss):
            writer.writerow([repr(float(N)), repr(float(flops)), repr(float(loss)), "x"])
    result = call_json("fit", str(path), "--columns", 'N="Params (N)",flops="Compute, FLOPs",loss="Final loss"',
                       "--drop-highest", "5")
    assert result["data"]["kind"] == "file" and result["data"]["n_runs"] == 240
    assert result["data"]["columns"] == {"N": "Params (N)", "flops": "Compute, FLOPs", "loss": "Final loss"}
    for name in cli.LAW_PARAMETERS:
        assert_close(result["law"]["parameters"][name], default_json["law"]["parameters"][name])
    assert_close(column(result["rows"], "N"), column(default_json["rows"], "N"))


@pytest.mark.slow
def test_fix_pins_parameters(runs240, default_json):
    result = call_json("fit", "chinchilla", "--drop-highest", "5", "--fix", "E=1.69")
    assert result["law"]["fixed"] == {"E": 1.69}
    assert_close(result["law"]["parameters"]["E"], 1.69, rtol=1e-14)
    assert result["fit"]["starts"] == 900  # the grid's 5 values of e collapse to one
    reference = sl.fit_huber(runs240, fixed={"E": 1.69})
    for name in cli.LAW_PARAMETERS:
        assert_close(result["law"]["parameters"][name], getattr(reference.law, name))
    assert result["fit"]["objective"] > default_json["fit"]["objective"]  # a constrained optimum


@pytest.mark.slow
def test_bootstrap_intervals_equal_library_and_contain_estimates(runs240, default_json, library_fit):
    budgets = [1e22, 5.76e23]
    result = call_json("fit", "chinchilla", "--drop-highest", "5", "--bootstrap", "20", "--seed", "7",
                       "--flops", "1e22,5.76e23")
    assert result["bootstrap"] == {"resamples": 20, "seed": 7, "level": 0.95, "converged": 20}
    draws = sl.bootstrap(runs240, 20, key=jax.random.key(7), fit=library_fit, flops=budgets)
    intervals = result["intervals"]
    assert set(intervals) == {*cli.LAW_PARAMETERS, "a", "b"}
    estimates = {**result["law"]["parameters"], **result["power_laws"]}
    for name, (low, high) in intervals.items():
        assert_close([low, high], draws.intervals[name])
        assert low < estimates[name] < high, name
    for i, row in enumerate(result["rows"]):
        for name in ("N", "D"):
            low, high = row[f"{name}_low"], row[f"{name}_high"]
            assert_close([low, high], [bound[i] for bound in draws.intervals[f"{name}*"]])
            assert low < row[name] < high
    status, out, err = call("fit", "chinchilla", "--drop-highest", "5", "--bootstrap", "20", "--seed", "7")
    assert status == 0 and err.splitlines() == ["fitting 240 runs from 4500 starts ...", "bootstrap: 20 resamples ..."]
    low, high = intervals["E"]
    assert f"[{low:.4g}, {high:.4g}]" in out and "params 95%" in out and "tokens 95%" in out
    assert "bootstrap: 20 resamples (seed 7), 20 refits converged" in out


# ----------------------------------------------------------------------------------
# approaches 1 and 2


def test_approach_1_equals_fit_envelope_on_all_245_runs():
    result = call_json("fit", "chinchilla", "--approach", "1", "--flops", "1e21,1e23")
    envelope = sl.fit_envelope(sl.datasets.chinchilla())
    assert result["data"]["n_runs"] == 245 and result["data"]["drop_highest"] == 0
    assert any("--drop-highest 5" in note for note in result["notes"])
    assert result["approach"] == 1
    for name in ("a", "b", "k_N", "k_D"):
        assert_close(result["power_laws"][name], getattr(envelope, name))
    assert result["envelope_points"] == len(envelope.flops)
    N, D = envelope.predict(np.array([1e21, 1e23]))
    assert_close(column(result["rows"], "N"), N)
    assert_close(column(result["rows"], "D"), D)
    status, out, err = call("fit", "chinchilla", "--approach", "1")
    assert status == 0 and err == ""
    assert f"envelope points: {len(envelope.flops)}" in out and f"{float(envelope.a):.4f}" in out


def test_approach_2_equals_fit_isoflop_with_bootstrap(runs240):
    result = call_json("fit", "chinchilla", "--drop-highest", "5", "--approach", "2", "--bootstrap", "50",
                       "--seed", "3")
    isoflop = sl.fit_isoflop(runs240, key=jax.random.key(3), n_bootstrap=50)
    for name in ("a", "b", "k_N", "k_D"):
        assert_close(result["power_laws"][name], getattr(isoflop, name))
    assert_close(result["intervals"]["a"], isoflop.a_interval)
    assert_close(result["intervals"]["b"], isoflop.b_interval)
    minima = result["minima"]
    assert_close(column(minima, "flops"), isoflop.budgets)
    assert_close(column(minima, "N"), isoflop.N_opt)
    assert_close(column(minima, "D"), isoflop.D_opt)
    assert_close(column(minima, "loss"), isoflop.loss_opt)
    assert_close(column(minima, "kept"), isoflop.bootstrap_kept)
    assert [row["n_runs"] for row in minima] == isoflop.n_runs.tolist()
    assert [(item["flops"], item["reason"]) for item in result["skipped"]] == list(isoflop.skipped)
    assert result["bootstrap"]["resamples"] == 50 and result["bootstrap"]["seed"] == 3
    N, D = isoflop.predict(BUDGETS)
    assert_close(column(result["rows"], "N"), N)
    assert_close(column(result["rows"], "D"), D)


def test_approach_2_text_lists_minima_and_skipped_groups(runs240):
    status, out, err = call("fit", "chinchilla", "--drop-highest", "5", "--approach", "2")
    isoflop = sl.fit_isoflop(runs240)
    assert status == 0 and err == ""
    assert f"IsoFLOP minima: {len(isoflop.budgets)} budgets used, {len(isoflop.skipped)} skipped" in out
    budget, reason = isoflop.skipped[0]
    assert f"  C={budget:.3g}: {reason}" in out
    assert "\n\n\n" not in out


# ----------------------------------------------------------------------------------
# --columns and --fix parsing


def test_parse_columns_design_spelling():
    # DESIGN.md: --columns N="Model Size",flops="Training FLOP",loss=loss; the shell may or
    # may not have removed the quotes.
    expected = {"N": "Model Size", "flops": "Training FLOP", "loss": "loss"}
    assert cli.parse_columns('N="Model Size",flops="Training FLOP",loss=loss') == expected
    assert cli.parse_columns("N=Model Size,flops=Training FLOP,loss=loss") == expected
    assert cli.parse_columns("N='Model Size', flops = 'Training FLOP' ,loss=loss") == expected
    assert cli.parse_columns('loss="a, b=c"') == {"loss": "a, b=c"}


@pytest.mark.parametrize("text", ["", "N", "N=", "=x", "N=a,,loss=b", "N=a,", 'N="a', "X=a", "N=a,N=b",
                                  "N=a,loss=a", "alpha=1"])
def test_parse_columns_rejects(text):
    with pytest.raises(ValueError):
        cli.parse_columns(text)


def test_parse_fixed():
    assert cli.parse_fixed("E=1.69") == {"E": 1.69}
    assert cli.parse_fixed("alpha=0.34, beta=0.28") == {"alpha": 0.34, "beta": 0.28}
    for text in ("e=1", "a=0.5", "E", "E=x", "E=0", "E=-1", "E=nan", "E=1,E=2", "gamma=1"):
        with pytest.raises(ValueError):
            cli.parse_fixed(text)


# ----------------------------------------------------------------------------------
# errors


BAD_ARGUMENTS = [
    (["fit"], "DATA"),
    (["fit", "no-such-dataset"], "no-such-dataset"),
    (["fit", "chinchilla", "--columns", "N=a"], "--columns"),
    (["fit", "chinchilla", "--fix", "Q=1"], "--fix"),
    (["fit", "chinchilla", "--fix", "E=-1"], "--fix"),
    (["fit", "chinchilla", "--fix", "E=1.69,E=1.7"], "--fix"),
    (["fit", "chinchilla", "--approach", "1", "--fix", "E=1.69"], "--fix"),
    (["fit", "chinchilla", "--bootstrap", "1"], "--bootstrap"),
    (["fit", "chinchilla", "--bootstrap", "0"], "--bootstrap"),
    (["fit", "chinchilla", "--bootstrap", "2.5"], "--bootstrap"),
    (["fit", "chinchilla", "--bootstrap", str(cli.MAX_BOOTSTRAP + 1)], "--bootstrap"),
    (["fit", "chinchilla", "--approach", "1", "--bootstrap", "10"], "--bootstrap"),
    (["fit", "chinchilla", "--seed", "1"], "--seed"),
    (["fit", "chinchilla", "--bootstrap", "10", "--seed", "-1"], "--seed"),
    (["fit", "chinchilla", "--approach", "4"], "--approach"),
    (["fit", "chinchilla", "--drop-highest", "-1"], "--drop-highest"),
    (["fit", "chinchilla", "--drop-highest", "245"], "--drop-highest"),
    (["fit", "sardana", "--drop-highest", "x"], "--drop-highest"),
    (["fit", "chinchilla", "--flops", "0"], "--flops"),
    (["fit", "chinchilla", "--flops", "1e20:1e22"], "--flops"),
    (["fit", "chinchilla", "--frobnicate"], "--frobnicate"),
]


def assert_one_line_error(status, out, err, text):
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("scalinglaws: error: ")
    assert text in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, text", BAD_ARGUMENTS, ids=[" ".join(argv) for argv, _ in BAD_ARGUMENTS])
def test_bad_arguments_exit_2_with_one_line(argv, text):
    assert_one_line_error(*call(*argv), text)


BAD_FILES = [
    ("N,D,loss\n1e8,1e9,3.0\n2e8,abc,2.9\n", "line 3"),  # not a number
    ("N,D,loss\n1e8,1e9,3.0\n2e8,1e9\n", "line 3"),  # too few fields
    ("N,D,loss\n1e8,1e9,3.0\n\n2e8,1e9,-2.9\n", "line 4"),  # not positive (after a blank line)
    ("N,D\n1e8,1e9\n", "loss"),  # missing column
    ("params,tokens,loss\n1e8,1e9,3.0\n", "--columns"),  # unmapped headers: the hint names --columns
    ("", "empty"),
    ("N,D,loss\n", "at least one run"),
]


@pytest.mark.parametrize("content, text", BAD_FILES, ids=[text for _, text in BAD_FILES])
def test_bad_csv_exits_2_with_one_line(tmp_path, content, text):
    path = tmp_path / "runs.csv"
    path.write_text(content)
    assert_one_line_error(*call("fit", str(path), "--approach", "1"), text)


def test_csv_missing_mapped_column(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("size,tokens,loss\n1e8,1e9,3.0\n")
    assert_one_line_error(*call("fit", str(path), "--columns", "N=size,D=Tokens"), "'Tokens'")


def test_not_utf8_and_directory_exit_2(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_bytes(b"N,D,loss\n\xff\xfe,1,2\n")
    assert_one_line_error(*call("fit", str(path)), "UTF-8")
    assert_one_line_error(*call("fit", str(tmp_path)), str(tmp_path))


def test_os_errors_become_usage_errors(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n1e8,1e9,3.0\n")

    def denied(path, columns):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("scalinglaws_jax.cli._fit._read_csv", denied)
    assert_one_line_error(*call("fit", str(path)), f"{path}: Permission denied")


def test_warnings_exit_1():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli._exit_status({"rows": [{"status": 0}], "warnings": ["the best start did not converge"]}) == 1
    assert err.getvalue() == "scalinglaws: warning: the best start did not converge\n"


# ----------------------------------------------------------------------------------
# help


def _fit_parser():
    parser = cli.build_parser()
    (commands,) = [action for action in parser._actions if action.dest == "command"]
    return commands.choices["fit"]


def test_fit_help_mentions_every_option():
    parser = _fit_parser()
    options = {option for action in parser._actions for option in action.option_strings if option.startswith("--")}
    assert options == {"--help", "--columns", "--drop-highest", "--approach", "--bootstrap", "--seed", "--fix",
                       "--flops", "--json", "--bayes", "--chains", "--warmup", "--samples", "--save"}
    status, out, _ = call("fit", "--help")
    assert status == 0
    for option in options:
        assert option in out
    for text in ("DATA", "chinchilla", "sardana", "examples:", "exit status", "default: 0", "default: 3",
                 "(FLOPs", "tokens", "parameters", "nats per token", "Besiroglu", "start:stop:num"):
        assert text in out
    root = call("--help")[1]
    assert "fit" in root


def test_fit_help_examples_parse_and_the_quick_ones_run():
    _, out, _ = call("fit", "--help")
    examples = [shlex.split(line)[1:] for line in out.splitlines() if line.startswith("  scalinglaws fit ")]
    assert len(examples) >= 5
    parser = cli.build_parser()
    for argv in examples:
        parser.parse_args(argv)
        if "--approach" in argv and "3" not in argv:  # approaches 1 and 2 take a moment
            status, _, err = call(*argv)
            assert status == 0, (argv, err)


# ----------------------------------------------------------------------------------
# the real command in a fresh process


def test_console_script_fit():
    script = Path(sys.executable).with_name("scalinglaws")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "scalinglaws_jax.cli"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([*command, "fit", "sardana", "--approach", "1", "--json"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert_close(result["power_laws"]["a"], sl.fit_envelope(sl.datasets.sardana()).a)
    bad = subprocess.run([*command, "fit", "missing.csv"], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=1800, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith("scalinglaws: error: DATA: 'missing.csv'")


def test_library_warnings_from_the_huber_fit_exit_1(monkeypatch):
    # A doubtful fit (the library warns) is reported in one line and exits 1, not 0.
    from scalinglaws_jax.cli import _fit

    real = _fit.fit_huber

    def doubtful(*args, **kwargs):
        import warnings

        warnings.warn("fit_huber: the best start did not reach a verified minimum", RuntimeWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fit, "fit_huber", doubtful)
    status, out, err = call("fit", "chinchilla", "--drop-highest", "5", "--flops", "1e22")
    assert status == 1 and "Traceback" not in err
    assert "scalinglaws: warning: fit_huber: the best start did not reach a verified minimum" in err.splitlines()
    assert "E" in out


# ----------------------------------------------------------------------------------
# runs that cannot identify the law, doubtful fits and bootstraps


def _write_runs(path, N, D, loss):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["N", "D", "loss"])
        writer.writerows(zip(map(repr, map(float, N)), map(repr, map(float, D)), map(repr, map(float, loss))))
    return str(path)


def _spread_csv(path, low=2.0, high=200.0, n=60, noise=0.005, seed=0):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e8), np.log(1e11), n))
    D = N * np.exp(rng.uniform(np.log(low), np.log(high), n))
    loss = np.asarray(sl.EPOCH_2024.loss(N, D)) * np.exp(noise * rng.standard_normal(n))
    return _write_runs(path, N, D, loss)


@pytest.mark.parametrize("extra", [[], ["--bayes"], ["--bootstrap", "10"]], ids=["huber", "bayes", "bootstrap"])
def test_single_tokens_per_parameter_ratio_exits_2_naming_what_is_missing(tmp_path, extra):
    N = np.geomspace(1e8, 1e11, 20)
    path = _write_runs(tmp_path / "collinear.csv", N, 20 * N, np.asarray(sl.EPOCH_2024.loss(N, 20 * N)))
    status, out, err = call("fit", path, "--flops", "1e24", *extra)
    assert_one_line_error(status, out, err, "DATA: all 20 runs have the same tokens per parameter D/N=20")
    assert "alpha and beta are not separately identified" in err
    assert "add runs at other tokens-per-parameter ratios" in err


def test_fit_that_is_not_a_valid_law_exits_2(tmp_path):
    path = _spread_csv(tmp_path / "narrow.csv", low=19.0, high=21.0)
    status, out, err = call("fit", path, "--flops", "1e24", "--json")  # --json: no progress line
    assert_one_line_error(status, out, err, "fit_huber: the best fit is not a valid law")


def _fit_options():
    return {option for action in _fit_parser()._actions for option in action.option_strings}


def _warnings_name_only_cli_options(err):
    lines = [line for line in err.splitlines() if line.startswith("scalinglaws: warning: ")]
    for line in lines:
        assert not re.search(r"[A-Za-z_]=", line), line  # no library keyword argument such as steps=
        for word in line.split():
            if word.startswith("--"):
                assert word.strip(",.;:()") in _fit_options(), line
    return lines


def test_bootstrap_warning_says_what_the_intervals_use_and_names_only_cli_options(tmp_path, monkeypatch):
    import functools

    from scalinglaws_jax.cli import _fit

    monkeypatch.setattr(_fit, "bootstrap", functools.partial(sl.bootstrap, steps=1))  # some refits do not converge
    path = _spread_csv(tmp_path / "runs.csv")
    status, out, err = call("fit", path, "--bootstrap", "40", "--flops", "1e22")
    assert status == 1 and "Traceback" not in err
    (line,) = [line for line in _warnings_name_only_cli_options(err) if "bootstrap:" in line]
    with pytest.warns(RuntimeWarning, match="the intervals use the"):
        draws = sl.bootstrap(sl.Runs.from_csv(path), 40, key=jax.random.key(0), steps=1)
    used = int(draws.used.sum())
    assert 0 < used < 40
    assert f"{40 - used} of 40 refits did not converge to a valid law; the intervals use the {used} that did" in line
    result = json.loads(call("fit", path, "--bootstrap", "40", "--flops", "1e22", "--json")[1])
    assert result["bootstrap"]["converged"] == used
    assert_close(result["intervals"]["alpha"], draws.intervals["alpha"])


def test_bootstrap_with_no_converged_refit_exits_1_without_intervals(tmp_path, monkeypatch):
    import functools

    from scalinglaws_jax.cli import _fit

    monkeypatch.setattr(_fit, "bootstrap", functools.partial(sl.bootstrap, steps=0))
    path = _spread_csv(tmp_path / "runs.csv")
    status, out, err = call("fit", path, "--bootstrap", "20", "--json")
    assert status == 1 and "Traceback" not in err
    (line,) = [line for line in _warnings_name_only_cli_options(err) if "bootstrap:" in line]
    assert "none of the 20 refits converged to a valid law, so there are no intervals" in line
    result = json.loads(out)
    assert result["bootstrap"] is None and result["intervals"] is None and result["rows"]


def test_ill_determined_fit_exits_1_with_the_words(tmp_path):
    path = _spread_csv(tmp_path / "runs.csv", low=12.0, high=30.0, n=40, noise=0.02)
    status, out, err = call("fit", path)
    assert status == 1 and "Traceback" not in err and "E " in out
    lines = _warnings_name_only_cli_options(err)
    assert any("the runs do not determine the law" in line and "tokens-per-parameter ratios" in line for line in lines)


def test_envelope_outside_0_1_exits_1(tmp_path):
    N = np.geomspace(1e9, 2e8, 7)
    D = np.geomspace(2e10, 4e12, 7)
    path = _write_runs(tmp_path / "runs.csv", N, D, np.asarray(sl.EPOCH_2024.loss(N, D)))
    status, out, err = call("fit", path, "--approach", "1")
    assert status == 1 and "Traceback" not in err
    lines = _warnings_name_only_cli_options(err)
    (line,) = [line for line in lines if "fit_envelope" in line]  # the others: budgets far beyond these 7 runs
    assert line.startswith("scalinglaws: warning: fit_envelope: a = ") and "not significantly between 0 and 1" in line
    assert all("lies far outside the fitted runs" in other for other in lines if other != line)


@pytest.mark.slow
def test_json_carries_the_domain_and_the_standard_errors(default_json, runs240):
    from scalinglaws_jax.domain import Domain

    assert default_json["domain"]["ranges"] == Domain.from_runs(runs240).to_dict()
    errors = default_json["fit"]["standard_errors"]
    assert set(errors) == {*cli.LAW_PARAMETERS, "a"} and all(0 < value < np.inf for value in errors.values())
    assert errors["alpha"] < 0.02 and errors["a"] < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("approach", ["3", "2"])
def test_plans_far_beyond_the_fitted_runs_warn(approach):
    status, out, err = call("fit", "chinchilla", "--drop-highest", "5", "--approach", approach,
                            "--flops", "1e21,1e25,1e29", "--json")
    result = json.loads(out)
    assert status == 1 and "Traceback" not in err
    assert [row["row"] for row in result["domain"]["rows"]] == [2, 3]
    assert [row["far"] for row in result["domain"]["rows"]] == [False, True]
    (far,) = [w for w in result["warnings"] if "far outside" in w]
    assert far.startswith("row 3 (C = 1e29) lies far outside the fitted runs (") and "C = 1e29 is 7.72e6x above" in far
    assert far.endswith("a doubtful plan; add runs nearer to it before relying on it")
    assert any(note.startswith("row 2 (C = 1e25) extrapolates beyond the fitted runs: ") for note in result["notes"])
