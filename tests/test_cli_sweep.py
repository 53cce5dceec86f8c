"""``scalinglaws sweep``: its rows equal the library's solvers, a saved posterior is swept
with quantiles over its draws, --out resumes, and bad input is one line with exit status 2."""

import contextlib
import io
import json
import re
import warnings

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli


def call(*argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def posterior_path(tmp_path_factory):
    """A small NUTS posterior of the Chinchilla runs, saved as ``fit --bayes --save`` does."""
    runs = sl.datasets.chinchilla(drop_highest=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # so few draws may have a low ESS
        post = sl.fit_bayes(runs, key=jax.random.key(0), num_chains=2, num_warmup=150, num_samples=100)
    path = tmp_path_factory.mktemp("posterior") / "posterior.npz"
    post.save(path)
    return path


def test_preset_rows_equal_the_solver():
    status, out, err = call("sweep", "--law", "hoffmann-2022", "--flops", "1e19:1e25:13",
                            "--inference-tokens", "0,1e10:1e14:5", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["law"] == {"name": "hoffmann-2022", "family": "Chinchilla", "draws": 0}
    assert result["info"]["scenarios"] == 13 * 6
    assert len(result["rows"]) == 7 * 2
    assert {row["inference_tokens"] for row in result["rows"]} == {0.0, 1e14}
    for row in result["rows"]:
        plan = sl.compute_optimal(sl.HOFFMANN_2022, row["flops"], row["inference_tokens"])
        for name in ("N", "D", "loss", "training_flops"):
            np.testing.assert_allclose(row[name], float(getattr(plan, name)), rtol=1e-12, err_msg=name)
        assert row["status"] == 0


def test_text_output_names_the_grid_and_timing():
    status, out, _ = call("sweep", "--flops", "1e19:1e26:200", "--inference-tokens", "0,1e9:1e15:100")
    assert status == 0
    assert out.startswith("law: epoch-2024 (Chinchilla)")
    assert "20,200 scenarios (200 x 101) x 1 law draw(s) = 20,200 solves" in out
    assert "solves/s" in out
    header = [line for line in out.splitlines() if line.startswith("FLOPs")]
    assert header and "params" in header[0] and "status" in header[0]


def test_target_losses_and_unreachable_ones():
    status, out, err = call("sweep", "--law", "hoffmann-2022", "--loss", "1.6,1.9:2.5:4", "--inference-tokens",
                            "0,1e12", "--json")
    assert status == 1
    assert "did not solve" in err
    rows = json.loads(out)["rows"]
    unreachable = [row for row in rows if row["loss"] is None or row["status"] != 0]
    assert unreachable and all(row["status"] == 1 for row in unreachable)  # 1.6 < E = 1.69
    reachable = [row for row in rows if row["status"] == 0]
    for row in reachable:
        plan = sl.inference_optimal(sl.HOFFMANN_2022, row["loss"], row["inference_tokens"])
        np.testing.assert_allclose(row["N"], float(plan.N), rtol=1e-12)


def test_a_saved_posterior_is_swept_with_quantiles_and_resumes(posterior_path, tmp_path):
    out_dir = tmp_path / "sweep"
    argv = ("sweep", "--law", str(posterior_path), "--flops", "1e20:1e24:5", "--inference-tokens", "0,1e12",
            "--quantiles", "0.1,0.5,0.9", "--out", str(out_dir), "--json")
    status, out, err = call(*argv)
    assert status == 0, err
    result = json.loads(out)
    post = sl.Posterior.load(posterior_path)
    assert result["law"]["draws"] == post.num_draws == 200
    assert result["quantiles"] == [0.1, 0.5, 0.9]
    expected = sl.sweep(sl.compute_optimal, post.law, flops=np.geomspace(1e20, 1e24, 5),
                        inference_tokens=np.array([0.0, 1e12]), quantiles=(0.1, 0.5, 0.9))
    saved = np.load(out_dir / "result.npz")
    np.testing.assert_array_equal(saved["N"], expected["N"])
    np.testing.assert_array_equal(saved["axis_flops"], np.geomspace(1e20, 1e24, 5))
    first = result["rows"][0]
    np.testing.assert_allclose(first["N_quantiles"], expected["N"][0, 0], rtol=1e-15)
    assert first["N_quantiles"][0] < first["N"] < first["N_quantiles"][2]

    status, again, _ = call(*argv)
    assert status == 0
    assert "resumed: 1 chunk(s)" in " ".join(json.loads(again)["notes"])
    status, text, _ = call(*argv[:-1])
    assert "values: median [0.1, 0.9 quantiles] over the draws" in text
    assert "200 draws of a Chinchilla posterior" in text


@pytest.mark.parametrize("argv, message", [
    (("--flops", "1e26:1e19:10"), r"--flops must increase, got 1e\+26 then"),
    (("--flops", "1e20,1e20"), "--flops must increase"),
    (("--flops", "1e20", "--inference-tokens", "1e12,0"), "--inference-tokens must increase"),
    (("--flops", "nan:1e20:3"), "values must be finite"),
    (("--flops", "1e20", "--quantiles", "0.5,1.5"), r"quantiles must lie in \[0, 1\], got 1.5"),
    (("--flops", "1e20", "--law", "no-such-law"), "--law: 'no-such-law' is neither a preset"),
    (("--flops", "1e20", "--loss", "2.0"), "not allowed with argument"),
    ((), "one of the arguments --flops --loss is required"),
    (("--flops", "1e20", "--chunk-size", "0"), "must be an integer >= 1"),
    (("--flops", "1e20", "--out", "/no/such/dir/sweep"), "--out: the directory '/no/such/dir' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message):
    status, out, err = call("sweep", *argv)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_a_directory_holding_another_sweep_is_refused(tmp_path):
    out_dir = tmp_path / "sweep"
    assert call("sweep", "--flops", "1e20:1e22:3", "--out", str(out_dir))[0] == 0
    before = sorted(p.name for p in out_dir.iterdir())
    status, _, err = call("sweep", "--flops", "1e20:1e22:4", "--out", str(out_dir))
    assert status == 2
    assert "holds a different sweep" in err
    assert sorted(p.name for p in out_dir.iterdir()) == before


def test_help_is_complete():
    status, out, _ = call("sweep", "--help")
    assert status == 0
    for option in ("--law", "--flops", "--loss", "--inference-tokens", "--quantiles", "--out", "--chunk-size",
                   "--float32", "--no-progress", "--json", "examples:", "exit status"):
        assert option in out
    status, out, _ = call("--help")
    assert "sweep" in out


@pytest.mark.parametrize("asked", ["0.05,0.95", "0.95,0.05", "0.95,0.5,0.05,0.05"])
def test_the_median_is_shown_whatever_quantiles_are_asked(posterior_path, asked):
    post = sl.Posterior.load(posterior_path)
    expected = sl.sweep(sl.compute_optimal, post.law, flops=np.array([1e23]), inference_tokens=np.zeros(1),
                        quantiles=(0.05, 0.5, 0.95))
    status, out, err = call("sweep", "--law", str(posterior_path), "--flops", "1e23", "--quantiles", asked, "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["quantiles"] == [0.05, 0.5, 0.95]
    (row,) = result["rows"]
    for name in ("N", "D", "loss", "training_flops"):
        np.testing.assert_allclose(row[name], expected[name][0, 0, 1], rtol=1e-15, err_msg=name)
        np.testing.assert_allclose(row[f"{name}_quantiles"], expected[name][0, 0], rtol=1e-15, err_msg=name)
    status, text, _ = call("sweep", "--law", str(posterior_path), "--flops", "1e23", "--quantiles", asked)
    assert "values: median [0.05, 0.95 quantiles] over the draws" in text


def test_infeasible_rows_show_the_target_loss_asked():
    status, out, _ = call("sweep", "--law", "hoffmann-2022", "--loss", "1.5:2.5:5", "--json")
    assert status == 1
    rows = json.loads(out)["rows"]
    np.testing.assert_allclose([row["loss"] for row in rows], np.geomspace(1.5, 2.5, 5), rtol=1e-15)
    assert rows[0]["status"] == 1  # below E = 1.69
    status, text, _ = call("sweep", "--law", "hoffmann-2022", "--loss", "1.5:2.5:5")
    table = text.split("\n\n")[-1].splitlines()
    assert table[0].split()[:2] == ["target", "loss"] and table[0].count("loss") == 1
    assert [line.split()[0] for line in table[1:]] == [f"{v:.4f}" for v in np.geomspace(1.5, 2.5, 5)]
    assert table[1].split()[-1] == "infeasible"


def test_quantiles_with_a_preset_law_are_refused():
    status, out, err = call("sweep", "--law", "hoffmann-2022", "--flops", "1e23", "--quantiles", "0.05,0.95")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--quantiles: only used with a posterior" in err


def test_a_damaged_chunk_is_a_note_not_a_traceback(tmp_path):
    out_dir = tmp_path / "sweep"
    argv = ("sweep", "--flops", "1e20:1e24:9", "--chunk-size", "2", "--out", str(out_dir), "--json")
    assert call(*argv)[0] == 0
    (out_dir / "chunk-00000001.npz").write_bytes(b"")
    status, out, err = call(*argv)
    assert status == 0, err
    assert err == ""
    result = json.loads(out)
    assert any("chunk-00000001.npz" in note and "computing it again" in note for note in result["notes"])
    assert "resumed: 4 chunk(s)" in " ".join(result["notes"])


def test_scenarios_beyond_the_fitted_runs_are_counted():
    status, out, err = call("sweep", "--flops", "1e19:1e26:7", "--inference-tokens", "0,1e16", "--json")
    assert status == 0, err
    result = json.loads(out)
    N = np.array([row["N"] for row in result["rows"]])
    D = np.array([row["D"] for row in result["rows"]])
    domain = sl.domain.PRESET_DOMAINS["epoch-2024"]
    assert result["domain"]["ranges"] == domain.to_dict()
    assert 0 < result["domain"]["far"] < result["domain"]["beyond"] <= 14
    assert result["domain"]["far"] == int(domain.is_far(N, D).sum())  # the summary rows are the whole grid here
    assert any(re.match(r"\d+ of 14 scenario\(s\) extrapolate epoch-2024 beyond the runs it was fitted on, "
                        r"\d+ of them far outside", note) for note in result["notes"]), result["notes"]


def test_a_posterior_sweep_is_measured_against_its_own_runs(posterior_path):
    status, out, err = call("sweep", "--law", str(posterior_path), "--flops", "1e20,1e29", "--json")
    assert status == 0, err
    result = json.loads(out)
    runs = sl.datasets.chinchilla(drop_highest=5)
    assert result["domain"]["ranges"] == sl.domain.Domain.from_runs(runs).to_dict()
    assert result["domain"]["beyond"] == 1 and result["domain"]["far"] == 1  # 1e29 FLOPs is 8e6x the runs' compute
