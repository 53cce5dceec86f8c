"""``scalinglaws fit --bayes``: its JSON equals ``sl.fit_bayes`` on the same key; ``--save``
writes what ``sl.Posterior.load`` reads; doubtful diagnostics are one-line warnings and exit
status 1; bad combinations of options exit 2 with one line.

Each NUTS fit compiles for several seconds, so the sampler settings are small (2 chains x
200 warm-up + 200 draws) and the CLI's fit is a module-scoped fixture. Diagnostics of so
few draws may warn (bulk ESS below 400): the tests expect exit status 1 exactly when the
library warned.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli
from scalinglaws_jax.cli import _fit
from scalinglaws_jax.fit.bayes import data_hash

REPO = Path(__file__).resolve().parents[1]
BUDGETS = [1e22, 5.76e23]
SMALL = ("--chains", "2", "--warmup", "200", "--samples", "200", "--seed", "3")
ARGV = ("fit", "chinchilla", "--drop-highest", "5", "--bayes", *SMALL, "--flops", "1e22,5.76e23")
HINT = " On the command line: raise --warmup and --samples, or --chains."


def call(*argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def assert_close(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol)


def assert_plain(value):
    """Only JSON's own types, recursively (no NumPy scalars, no NaN)."""
    if isinstance(value, dict):
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), (type(value), value)
        if type(value) is float:
            assert np.isfinite(value)


@pytest.fixture(scope="module")
def runs240():
    return sl.datasets.chinchilla(drop_highest=5)


@pytest.fixture(scope="module")
def save_path(tmp_path_factory):
    return tmp_path_factory.mktemp("bayes") / "posterior"


@pytest.fixture(scope="module")
def cli_run(save_path):
    status, out, err = call(*ARGV, "--save", str(save_path), "--json")
    return status, json.loads(out), err


@pytest.fixture(scope="module")
def library(runs240, cli_run):
    """The library's fit on the same key and chain layout, and its RuntimeWarnings."""
    chain_method = cli_run[1]["bayes"]["chain_method"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = sl.fit_bayes(runs240, key=jax.random.key(3), num_chains=2, num_warmup=200, num_samples=200,
                            chain_method=chain_method)
    messages = [" ".join(str(item.message).split()) for item in caught if issubclass(item.category, RuntimeWarning)]
    return post, messages


def draw_quantiles(values):
    """Median and 95% equal-tailed interval along the draws, as the library computes them."""
    low, high = sl.Posterior.interval(values, 0.95)
    return np.median(values, axis=0), low, high


# ----------------------------------------------------------------------------------
# the JSON against the library


@pytest.mark.slow
def test_json_summary_equals_library(cli_run, library):
    status, result, err = cli_run
    post, messages = library
    summary = post.summary()
    assert set(result["posterior"]) == {"E", "A", "B", "alpha", "beta", "sigma", "nu"}
    for name, row in result["posterior"].items():
        expected = summary[name]
        assert set(row) == set(expected)
        for key, value in row.items():
            if isinstance(expected[key], bool):
                assert value is expected[key]
            elif np.isnan(expected[key]):
                assert value is None, (name, key)
            else:
                assert_close(value, expected[key])
    assert result["posterior"]["nu"]["fixed"] is True and result["posterior"]["nu"]["median"] == 4.0
    for name in cli.LAW_PARAMETERS:
        assert_close(result["law"]["parameters"][name], summary[name]["median"])
        assert_close(result["intervals"][name], [summary[name]["q2.5"], summary[name]["q97.5"]])
    bayes = result["bayes"]
    assert bayes["chain_method"] == post.info["chain_method"]
    assert {key: bayes[key] for key in ("sampler", "chains", "warmup", "samples", "draws", "seed")} == {
        "sampler": "nuts", "chains": 2, "warmup": 200, "samples": 200, "draws": 400, "seed": 3}
    assert bayes["divergences"] == post.divergences
    assert bayes["likelihood"] == "student_t" and bayes["priors"] == post.priors and bayes["fixed"] == {"nu": 4.0}
    assert bayes["level"] == 0.95 and bayes["r_hat_max"] == 1.01 and bayes["ess_min"] == 400
    assert bayes["seconds"] > 0
    assert result["data"]["n_runs"] == 240 and result["approach"] == 3 and result["law"]["fixed"] == {}
    assert result["bootstrap"] is None
    assert_plain(result)
    # the library's diagnostics warnings, one line each; exit status 1 exactly when there are any
    assert result["warnings"] == [message + HINT for message in messages]
    assert status == (1 if messages else 0)
    assert err.splitlines() == [f"scalinglaws: warning: {message}" for message in result["warnings"]]


@pytest.mark.slow
def test_json_plans_equal_vmapped_compute_optimal(cli_run, library):
    _, result, _ = cli_run
    post, _ = library
    plans = jax.vmap(sl.compute_optimal, (0, None))(post.law, np.asarray(BUDGETS))
    assert np.all(np.asarray(plans.status) == 0)
    rows = result["rows"]
    assert [row["flops"] for row in rows] == BUDGETS
    # the loss is the forecast of a run at each draw's own plan: its law, the runs' noise and the form error
    forecast = post.predict(np.asarray(plans.N), np.asarray(plans.D), key=jax.random.key(3), paired=True)
    values = {"N": np.asarray(plans.N), "D": np.asarray(plans.D), "loss": forecast}
    for name, value in values.items():
        median, low, high = draw_quantiles(value)
        assert_close([row[name] for row in rows], median)
        assert_close([row[f"{name}_low"] for row in rows], low)
        assert_close([row[f"{name}_high"] for row in rows], high)
        assert all(row[f"{name}_low"] < row[name] < row[f"{name}_high"] for row in rows)
    ratio = np.median(np.asarray(plans.D) / np.asarray(plans.N), axis=0)
    assert_close([row["tokens_per_param"] for row in rows], ratio)
    assert [row["status"] for row in rows] == [0, 0]
    # the exponents of N* ~ C^a and D* ~ C^b, per draw
    alpha, beta = post.draws("alpha"), post.draws("beta")
    for name, values in (("a", beta / (alpha + beta)), ("b", alpha / (alpha + beta))):
        median, low, high = draw_quantiles(values)
        assert_close(result["power_laws"][name], median)
        assert_close(result["intervals"][name], [low, high])
    # N* = k_N C^a at the posterior medians of a and k_N is not the median N*; but each
    # draw's closed form is, so the medians of k_N and a bracket the right order of magnitude
    assert 0.1 < result["power_laws"]["k_N"] * 1e22 ** result["power_laws"]["a"] / rows[0]["N"] < 10


@pytest.mark.slow
def test_save_writes_what_posterior_load_reads(cli_run, library, save_path, runs240):
    _, result, _ = cli_run
    post, _ = library
    npz, sidecar = save_path.with_name("posterior.npz"), save_path.with_name("posterior.json")
    assert result["bayes"]["saved"] == {"npz": str(npz), "json": str(sidecar)}
    assert npz.is_file() and sidecar.is_file()
    loaded = sl.Posterior.load(save_path)
    assert loaded.method == "nuts" and loaded.num_chains == 2 and loaded.num_draws == 400
    assert loaded.info["data_hash"] == data_hash(runs240)
    assert set(loaded.samples) == set(post.samples)
    for name, values in loaded.samples.items():  # same key, same chain layout, same process
        np.testing.assert_array_equal(values, post.samples[name])
    np.testing.assert_array_equal(loaded.diverging, post.diverging)
    assert_close(loaded.summary()["E"]["median"], result["posterior"]["E"]["median"])
    assert json.loads(sidecar.read_text())["law"] == "Chinchilla"


@pytest.mark.slow
def test_text_rendering(cli_run):
    _, result, _ = cli_run
    text = cli.render(result)
    lines = text.splitlines()
    assert lines[0].startswith("data: chinchilla") and "240 runs of 245" in lines[0]
    assert lines[1].startswith("Bayesian fit: NUTS (NumPyro), 2 chains x (200 warm-up + 200 draws), seed 3")
    rows = {line.split()[0]: line for line in lines if line.split()[:1] and line.split()[0] in
            ("E", "A", "B", "alpha", "beta", "sigma", "nu", "a", "b")}
    assert set(rows) == {"E", "A", "B", "alpha", "beta", "sigma", "nu", "a", "b"}
    for name in ("E", "A", "B", "alpha", "beta", "sigma"):
        row = result["posterior"][name]
        words = rows[name].split()
        assert words[1] == f"{row['median']:.4g}"
        assert f"[{row['q2.5']:.4g}, {row['q97.5']:.4g}]" in rows[name]
        assert f"{row['r_hat']:.3f}" in words and f"{row['ess_bulk']:.0f}" in words
    assert "fixed" in rows["nu"]
    assert f"divergences: {result['bayes']['divergences']} of 400 draws" in text
    assert "wall time: " in text and f"saved: {result['bayes']['saved']['npz']}" in text
    table = text.strip().split("\n\n")[-1].splitlines()
    assert len(table) == 1 + 2
    for header in ("params 95%", "tokens 95%", "loss 95%", "tokens/param"):
        assert header in table[0]
    first = result["rows"][0]
    assert table[1].split()[:2] == ["1.00e+22", cli.engineering(first["N"])]
    assert f"[{first['loss_low']:.4f}, {first['loss_high']:.4f}]" in table[1] and table[1].endswith("ok")
    assert "\n\n\n" not in text


# ----------------------------------------------------------------------------------
# the real command: parallel chains, progress and warnings on stderr, exit status 1


@pytest.mark.slow
def test_console_script_parallel_chains_warn_and_exit_1(tmp_path):
    script = Path(sys.executable).with_name("scalinglaws")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "scalinglaws_jax.cli"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    # 2 chains x 10 draws: a bulk ESS of 400 is out of reach, so the diagnostics must warn
    done = subprocess.run([*command, "fit", "chinchilla", "--drop-highest", "5", "--bayes", "--chains", "2",
                           "--warmup", "30", "--samples", "10", "--seed", "1", "--flops", "5.76e23",
                           "--save", str(tmp_path / "tiny")],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=1800, check=False)
    assert done.returncode == 1, done.stderr
    err = done.stderr.splitlines()
    assert err[0] == ("sampling the posterior of 240 runs: NUTS, 2 chains x (30 warm-up + 10 draws), "
                      "in parallel on 2 of 2 CPU devices ...")
    assert len(err) >= 2 and "Traceback" not in done.stderr
    for line in err[1:]:
        assert line.startswith("scalinglaws: warning: fit_bayes: ") and line.endswith(HINT.strip())
    assert "bulk ESS below 400" in done.stderr
    assert "chains in parallel" in done.stdout and "diagnostics doubtful" in done.stdout
    loaded = sl.Posterior.load(tmp_path / "tiny.npz")
    assert loaded.num_chains == 2 and loaded.num_draws == 20


def test_host_devices_restores_xla_flags(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    _fit._host_devices(4)
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false"
    monkeypatch.delenv("XLA_FLAGS")
    _fit._host_devices(4)
    assert "XLA_FLAGS" not in os.environ


# ----------------------------------------------------------------------------------
# usage errors: before any sampling


BAD_ARGUMENTS = [
    (["--bayes", "--approach", "1"], "--approach 1"),
    (["--bayes", "--approach", "2"], "--approach 2"),
    (["--bayes", "--bootstrap", "10"], "--bootstrap"),
    (["--bayes", "--approach", "2", "--bootstrap", "10"], "--bayes"),
    (["--chains", "2"], "--chains"),
    (["--warmup", "100"], "--warmup"),
    (["--samples", "100"], "--samples"),
    (["--save", "posterior"], "--save"),
    (["--approach", "2", "--chains", "2"], "--chains"),
    (["--bayes", "--chains", "0"], "--chains"),
    (["--bayes", "--chains", str(cli.MAX_CHAINS + 1)], "--chains"),
    (["--bayes", "--chains", "2.5"], "--chains"),
    (["--bayes", "--warmup", "0"], "--warmup"),
    (["--bayes", "--samples", "3"], "--samples"),
    (["--bayes", "--samples", "many"], "--samples"),
    (["--bayes", "--seed", "-1"], "--seed"),
    (["--bayes", "--save", ""], "--save"),
    (["--bayes", "--save", "/no/such/directory/posterior"], "/no/such/directory"),
    (["--bayes", "--fix", "sigma=0.01"], "--fix"),
    (["--bayes", "--flops", "0"], "--flops"),
]


def assert_one_line_error(status, out, err, text):
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("scalinglaws: error: "), err
    assert text in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, text", BAD_ARGUMENTS, ids=[" ".join(argv) for argv, _ in BAD_ARGUMENTS])
def test_bad_combinations_exit_2_with_one_line(argv, text):
    assert_one_line_error(*call("fit", "chinchilla", *argv), text)


def test_save_onto_a_directory_exits_2(tmp_path):
    (tmp_path / "posterior.npz").mkdir()
    assert_one_line_error(*call("fit", "chinchilla", "--bayes", "--save", str(tmp_path / "posterior")),
                          "is a directory")


def test_too_few_runs_exit_2(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n1e8,1e9,3.0\n2e8,2e9,2.9\n4e8,4e9,2.8\n")
    # with --json: in text mode the progress line comes first, as for the Huber fit
    assert_one_line_error(*call("fit", str(path), "--bayes", "--json"), "too few")


# ----------------------------------------------------------------------------------
# help


def test_help_documents_bayes():
    status, out, _ = call("fit", "--help")
    assert status == 0
    out = " ".join(out.split())  # argparse wraps help lines at the terminal's width
    for text in ("--bayes", "--chains", "--warmup", "--samples", "--save", "NUTS", "R-hat", "bulk ESS",
                 "divergen", "Posterior.load", "PATH.npz", "default: 4", "default: 1000", "--seed",
                 "95% equal-tailed", "exit status", "--bayes --flops 5.76e23 --save"):
        assert text in out, text
