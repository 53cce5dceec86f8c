"""The ``scalinglaws`` command: results equal the library's, bad input exits 2 in one line.

Published numbers: Hoffmann et al. 2022 (N* ~ 40.4e9 at 5.76e23 FLOPs with their
approach-3 law); GPT-3's training compute 6 x 175e9 x 300e9 = 3.15e23 FLOPs (Brown et
al. 2020).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli
from scalinglaws_jax.flops import ACCELERATORS, dollars_to_flops

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys, *argv):
    status, out, err = run(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


def column(result, name, rows="rows"):
    rows = result[rows] if rows == "rows" else result[rows]["rows"]
    return np.array([row[name] for row in rows], dtype=float)


def assert_close(actual, expected, rtol=1e-12):
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=float), rtol=rtol)


# ----------------------------------------------------------------------------------
# parse_values


def test_parse_values_single_and_list():
    assert_close(cli.parse_values("5.76e23"), [5.76e23])
    assert_close(cli.parse_values("1e21, 1e22,3"), [1e21, 1e22, 3.0])


def test_parse_values_range_is_inclusive_geomspace():
    values = cli.parse_values("1e19:1e25:7")
    assert values.shape == (7,)
    assert values[0] == 1e19 and values[-1] == 1e25
    assert_close(values, [10.0**k for k in range(19, 26)])


def test_parse_values_mixes_values_and_ranges_in_order():
    values = cli.parse_values("0,1e9:1e15:100")
    assert values.shape == (101,)
    assert values[0] == 0.0 and values[1] == 1e9 and values[-1] == 1e15
    assert np.all(np.diff(values[1:]) > 0)
    assert_close(np.diff(np.log(values[1:])), np.full(99, np.log(1e6) / 99))


def test_parse_values_descending_range():
    assert_close(cli.parse_values("1e15:1e9:3"), [1e15, 1e12, 1e9])


@pytest.mark.parametrize(
    "text",
    [
        "", " ", "1e21,", ",1e21", "1e21,,1e22",  # empty list or item
        "abc", "1e21x", "nan", "inf", "-inf",  # not a finite number
        "1:10", "1:10:3:4", ":10:3", "1::3",  # not start:stop:num
        "nan:10:3", "1:inf:3", "0:10:3", "-1:10:3", "1:-10:3",  # bad endpoints
        "1:10:0", "1:10:1", "1:10:-3", "1:10:2.5", "1:10:x",  # bad count
        f"1:10:{cli.MAX_RANGE_POINTS + 1}",
    ],
)
def test_parse_values_rejects(text):
    with pytest.raises(ValueError):
        cli.parse_values(text)


# ----------------------------------------------------------------------------------
# plan: budget


def test_readme_command_default_law(capsys):
    status, out, err = run(capsys, "plan", "--flops", "5.76e23")
    assert status == 0 and err == ""
    plan = sl.compute_optimal(sl.EPOCH_2024, 5.76e23)
    assert "law: epoch-2024" in out
    data_line = out.strip().splitlines()[-1].split()
    assert data_line == [
        "5.76e+23", cli.engineering(float(plan.N)), cli.engineering(float(plan.D)),
        f"{float(plan.tokens_per_param):.1f}", f"{float(plan.loss):.4f}", "ok",
    ]


def test_hoffmann_plan_json_matches_library_and_paper(capsys):
    result = run_json(capsys, "plan", "--flops", "5.76e23", "--law", "hoffmann-2022")
    plan = sl.compute_optimal(sl.HOFFMANN_2022, 5.76e23)
    (row,) = result["rows"]
    assert_close(row["N"], plan.N)
    assert_close(row["D"], plan.D)
    assert_close(row["loss"], plan.loss)
    assert_close(row["tokens_per_param"], plan.tokens_per_param)
    assert row["N"] == pytest.approx(4.036e10, rel=1e-3)  # Hoffmann et al.: ~40B
    assert row["status"] == 0
    assert result["law"]["name"] == "hoffmann-2022"
    assert result["law"]["family"] == "Chinchilla"
    assert result["law"]["parameters"]["E"] == sl.HOFFMANN_2022.E
    assert all(type(value) in (float, int) for value in row.values())


def test_hoffmann_plan_text_shows_engineering_notation(capsys):
    status, out, _ = run(capsys, "plan", "--flops", "5.76e23", "--law", "hoffmann-2022")
    assert status == 0
    assert "40.4B" in out and "2.38T" in out and "5.76e+23" in out and "1.9184" in out


def test_default_law_is_epoch_2024(capsys):
    result = run_json(capsys, "plan", "--flops", "1e22")
    assert result["law"]["name"] == "epoch-2024"
    assert_close(column(result, "N"), sl.compute_optimal(sl.EPOCH_2024, 1e22).N)


@pytest.mark.parametrize("name", sorted(sl.PRESETS))
def test_every_law_plans(capsys, name):
    result = run_json(capsys, "plan", "--flops", "1e21:1e25:5", "--law", name)
    plan = sl.compute_optimal(sl.PRESETS[name], np.geomspace(1e21, 1e25, 5))
    assert_close(column(result, "N"), plan.N)
    assert_close(column(result, "loss"), plan.loss)


def test_kaplan_notes_non_embedding_parameters(capsys):
    status, out, _ = run(capsys, "plan", "--flops", "1e22", "--law", "kaplan-2020")
    assert status == 0 and "without embedding parameters" in out
    notes = run_json(capsys, "plan", "--flops", "1e22", "--law", "kaplan-2020")["notes"]
    assert any("embedding" in note for note in notes)


def test_several_budgets_give_one_row_each(capsys):
    result = run_json(capsys, "plan", "--flops", "1e21,1e22")
    assert_close(column(result, "flops"), [1e21, 1e22])
    assert_close(column(result, "N"), sl.compute_optimal(sl.EPOCH_2024, np.array([1e21, 1e22])).N)
    status, out, _ = run(capsys, "plan", "--flops", "1e21,1e22,1e23")
    assert status == 0 and len(out.strip().split("\n\n")[-1].splitlines()) == 1 + 3


def test_dollars_mode_equals_dollars_to_flops(capsys):
    result = run_json(capsys, "plan", "--dollars", "1e6,2e6")
    flops = np.asarray(dollars_to_flops(np.array([1e6, 2e6]), ACCELERATORS["h100"], 0.4, 2.0))
    assert_close(column(result, "flops"), flops)
    assert_close(column(result, "dollars"), [1e6, 2e6])
    assert_close(column(result, "N"), sl.compute_optimal(sl.EPOCH_2024, flops).N)
    assert result["purchase"] == {
        "gpu": "h100", "peak_flops_per_s": 989e12, "price_per_hour": 2.0, "mfu": 0.4
    }


def test_dollars_mode_options(capsys):
    result = run_json(
        capsys, "plan", "--dollars", "5e5", "--gpu", "a100", "--price-per-hour", "1.2", "--mfu", "0.35"
    )
    assert_close(column(result, "flops"), dollars_to_flops(5e5, ACCELERATORS["a100"], 0.35, 1.2))
    default_price = run_json(capsys, "plan", "--dollars", "5e5", "--gpu", "h200")
    assert default_price["purchase"]["price_per_hour"] == cli.PRICE_PER_GPU_HOUR["h200"]


def test_inference_tokens_plan_equals_lifetime_solver(capsys):
    result = run_json(capsys, "plan", "--flops", "1e24", "--inference-tokens", "0,1e12,1e13")
    served = np.array([0.0, 1e12, 1e13])
    plan = sl.compute_optimal(sl.EPOCH_2024, 1e24, inference_tokens=served)
    assert_close(column(result, "N"), plan.N)
    assert_close(column(result, "D"), plan.D)
    assert_close(column(result, "loss"), plan.loss)
    assert_close(column(result, "inference_flops"), plan.inference_flops)
    assert_close(column(result, "training_flops") + column(result, "inference_flops"), np.full(3, 1e24))
    # The comparison: the compute-optimal model reaching the same loss, serving as much.
    same_loss = sl.inference_optimal(sl.EPOCH_2024, plan.loss, 0.0)
    assert_close(column(result, "N", rows="comparison"), same_loss.N)
    assert_close(column(result, "loss", rows="comparison"), plan.loss)
    lifetime = column(result, "lifetime_flops", rows="comparison")
    assert_close(lifetime, same_loss.training_flops + 2 * same_loss.N * served)
    assert np.all(lifetime[1:] > 1e24) and lifetime[0] == pytest.approx(1e24)


def test_inference_tokens_text_shows_comparison(capsys):
    status, out, _ = run(capsys, "plan", "--flops", "1e24", "--inference-tokens", "1e13")
    assert status == 0 and "for comparison" in out and "10T" in out


def test_loss_mode_equals_inference_optimal(capsys):
    result = run_json(
        capsys, "plan", "--loss", "2.0,2.1", "--inference-tokens", "2e12", "--law", "hoffmann-2022"
    )
    plan = sl.inference_optimal(sl.HOFFMANN_2022, np.array([2.0, 2.1]), 2e12)
    assert_close(column(result, "N"), plan.N)
    assert_close(column(result, "D"), plan.D)
    assert_close(column(result, "lifetime_flops"), plan.lifetime_flops)
    no_inference = run_json(capsys, "plan", "--loss", "2.0")
    assert_close(column(no_inference, "N"), sl.inference_optimal(sl.EPOCH_2024, 2.0, 0.0).N)


def test_unique_tokens_equals_data_constrained_optimal(capsys):
    result = run_json(
        capsys, "plan", "--law", "muennighoff-2023", "--flops", "1e23", "--unique-tokens", "1e10,1e11"
    )
    plan = sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, 1e23, np.array([1e10, 1e11]))
    assert_close(column(result, "N"), plan.N)
    assert_close(column(result, "epochs"), plan.epochs)
    assert_close(column(result, "loss"), plan.loss)


def test_flat_data_constrained_loss_is_reported(capsys):
    # Muennighoff et al.'s law with 25e9 unique tokens: from ~1e26 FLOPs every N from
    # ~1.2e11 on has the same loss; the plan is the smallest such model.
    argv = ("plan", "--law", "muennighoff-2023", "--flops", "1e24,1e26,1e28", "--unique-tokens", "25e9")
    status, out, err = run(capsys, *argv, "--json")
    result = json.loads(out)
    plan = sl.data_constrained_optimal(sl.MUENNIGHOFF_2023, np.array([1e24, 1e26, 1e28]), 25e9)
    assert_close(column(result, "N"), plan.N)
    assert_close(column(result, "N_flat_max"), plan.N_flat_max)
    flat = [note for note in result["notes"] if "the loss is flat" in note]
    assert len(flat) == 2 and flat[0].startswith("row 2 (C = 1e26, U = 2.5e10): the loss is flat from N = 116B to N = 2.58T")
    assert "more compute buys nothing with 25B unique tokens" in flat[1]
    status, out, err = run(capsys, *argv)
    assert "note: row 3 (C = 1e28, U = 2.5e10): the loss is flat from N = 116B to N = 258T" in out
    assert "flat up to" in out
    # 1e28 FLOPs on 25e9 tokens is 5.7e5 epochs, D 1.6e4x beyond Muennighoff et al.'s runs.
    assert status == 1 and "row 3 (C = 1e28, U = 2.5e10) lies far outside" in err


def test_muennighoff_without_unique_tokens_is_its_chinchilla_form(capsys):
    result = run_json(capsys, "plan", "--law", "muennighoff-2023", "--flops", "1e23")
    assert_close(column(result, "N"), sl.compute_optimal(sl.MUENNIGHOFF_2023.chinchilla, 1e23).N)
    assert any("unlimited unique data" in note for note in result["notes"])


# ----------------------------------------------------------------------------------
# plan: calculator


def test_calculator_gpt3_flops_and_loss(capsys):
    result = run_json(capsys, "plan", "--params", "175e9", "--tokens", "300e9")
    (row,) = result["rows"]
    assert row["flops"] == pytest.approx(3.15e23, rel=1e-12)  # 6 x 175e9 x 300e9
    assert_close(row["loss"], sl.EPOCH_2024.loss(175e9, 300e9))
    status, out, _ = run(capsys, "plan", "--params", "175e9", "--tokens", "300e9")
    assert status == 0 and "3.15e+23" in out and "175B" in out and "300B" in out


@pytest.mark.parametrize(
    "given, missing, expected",
    [
        (("--flops", "3.15e23", "--params", "175e9"), "D", 300e9),
        (("--flops", "3.15e23", "--tokens", "300e9"), "N", 175e9),
        (("--flops", "3.15e23", "--params", "175e9", "--tokens", "300e9"), "N", 175e9),
    ],
)
def test_calculator_fills_the_third(capsys, given, missing, expected):
    result = run_json(capsys, "plan", *given, "--law", "hoffmann-2022")
    (row,) = result["rows"]
    assert row[missing] == pytest.approx(expected, rel=1e-12)
    assert_close(row["loss"], sl.HOFFMANN_2022.loss(175e9, 300e9))


def test_calculator_with_dollars_and_inference(capsys):
    result = run_json(capsys, "plan", "--dollars", "1e6", "--params", "7e9", "--inference-tokens", "1e12")
    flops = float(dollars_to_flops(1e6, ACCELERATORS["h100"], 0.4, 2.0))
    (row,) = result["rows"]
    assert_close(row["D"], flops / (6 * 7e9))
    assert_close(row["inference_flops"], 2 * 7e9 * 1e12)
    assert_close(row["lifetime_flops"], flops + 2 * 7e9 * 1e12)


def test_calculator_data_constrained_loss(capsys):
    # Muennighoff et al. 2023: L(N=6.34e9, D=242e9, U_D=25e9) = 2.2256.
    result = run_json(capsys, "plan", "--law", "muennighoff-2023", "--params", "6.34e9", "--tokens", "242e9",
                      "--unique-tokens", "25e9")
    (row,) = result["rows"]
    assert_close(row["loss"], sl.MUENNIGHOFF_2023.loss(6.34e9, 242e9, 25e9))
    assert row["loss"] == pytest.approx(2.2256, abs=5e-5)
    assert_close(row["epochs"], 242 / 25)


# ----------------------------------------------------------------------------------
# table


def test_table_default_has_seven_rows(capsys):
    result = run_json(capsys, "table")
    expected = sl.budget_table(sl.EPOCH_2024)
    assert len(result["rows"]) == 7
    for name in ("flops", "N", "D", "tokens_per_param", "loss"):
        assert_close(column(result, name), expected[name])
    status, out, err = run(capsys, "table")
    assert status == 0 and err == ""
    lines = out.strip().split("\n\n")[-1].splitlines()
    assert len(lines) == 1 + 7 and lines[1].split()[0] == "1.00e+19" and lines[-1].split()[0] == "1.00e+25"


def test_table_law_and_flops(capsys):
    result = run_json(capsys, "table", "--law", "hoffmann-2022", "--flops", "1e20:1e26:13")
    assert len(result["rows"]) == 13
    assert_close(column(result, "N"), sl.budget_table(sl.HOFFMANN_2022, np.geomspace(1e20, 1e26, 13))["N"])


# ----------------------------------------------------------------------------------
# errors, help, version


BAD_INPUTS = [
    (["plan", "--flops", "-1"], "--flops"),
    (["plan", "--flops", "0"], "--flops"),
    (["plan", "--flops", "nan"], "--flops"),
    (["plan", "--flops", "inf"], "--flops"),
    (["plan", "--flops", "1e21,,1e22"], "--flops"),
    (["plan", "--flops", "1e9:1e15"], "--flops"),
    (["plan", "--flops", "1e9:1e15:0"], "--flops"),
    (["plan", "--flops", "0:1e15:3"], "--flops"),
    (["plan", "--flops", "lots"], "--flops"),
    (["plan", "--dollars", "-5"], "--dollars"),
    (["plan", "--dollars", "1e6", "--mfu", "1.5"], "--mfu"),
    (["plan", "--dollars", "1e6", "--mfu", "0"], "--mfu"),
    (["plan", "--dollars", "1e6", "--price-per-hour", "0"], "--price-per-hour"),
    (["plan", "--dollars", "1e6", "--gpu", "tpu"], "--gpu"),
    (["plan", "--flops", "1e21", "--mfu", "0.5"], "--mfu"),
    (["plan", "--flops", "1e21", "--dollars", "1e6"], "--dollars"),
    (["plan", "--loss", "1.0"], "--loss"),
    (["plan", "--loss", "1.82"], "--loss"),
    (["plan", "--loss", "-2"], "--loss"),
    (["plan", "--loss", "2.0", "--flops", "1e21"], "--loss"),
    (["plan", "--flops", "1e21", "--inference-tokens", "-1"], "--inference-tokens"),
    (["plan", "--flops", "1e21,1e22", "--inference-tokens", "1,2,3"], "--inference-tokens"),
    (["plan", "--flops", "1e21", "--unique-tokens", "1e10"], "--unique-tokens"),
    (["plan", "--law", "muennighoff-2023", "--loss", "2.5", "--unique-tokens", "1e10"], "--unique-tokens"),
    (["plan", "--params", "-1", "--tokens", "1e9"], "--params"),
    (["plan", "--params", "1e9"], "--params"),
    (["plan", "--flops", "1e23", "--params", "1e9", "--tokens", "1e9"], "--flops"),
    (["plan"], "--flops"),
    (["plan", "--law", "gpt-4", "--flops", "1e21"], "--law"),
    (["plan", "--flops", "1e21", "--frobnicate"], "--frobnicate"),
    (["table", "--flops", "1e21:1e20:1"], "--flops"),
    (["table", "--law", "nope"], "--law"),
    (["launch"], "launch"),
]


@pytest.mark.parametrize("argv, option", BAD_INPUTS, ids=[" ".join(argv) for argv, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(capsys, argv, option):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("scalinglaws: error: ")
    assert option in err
    assert "Traceback" not in err


def test_no_subcommand_prints_help_and_exits_2(capsys):
    status, out, err = run(capsys)
    assert status == 2
    assert "usage: scalinglaws" in err and "plan" in err and "table" in err


def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"scalinglaws {sl.__version__}"


def _options(parser):
    strings = (option for action in parser._actions for option in action.option_strings)
    return {option for option in strings if option.startswith("--")}


def _subparsers():
    parser = cli.build_parser()
    (commands,) = [action for action in parser._actions if action.dest == "command"]
    return commands.choices


def test_plan_and_table_have_the_documented_options():
    commands = _subparsers()
    assert _options(commands["plan"]) == {
        "--help", "--flops", "--dollars", "--gpu", "--price-per-hour", "--mfu", "--params", "--tokens",
        "--loss", "--inference-tokens", "--unique-tokens", "--law", "--json",
    }
    assert _options(commands["table"]) == {"--help", "--flops", "--law", "--json"}


@pytest.mark.parametrize("command", [[], ["plan"], ["table"]])
def test_help_exits_0_and_mentions_every_option(capsys, command):
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0
    parser = _subparsers()[command[0]] if command else cli.build_parser()
    for option in _options(parser):
        assert option in out
    assert "example" in out
    if command:
        assert "default" in out and "FLOPs" in out


@pytest.mark.parametrize("command", [[], ["plan"], ["table"]])
def test_help_examples_run(capsys, command):
    _, out, _ = run(capsys, *command, "--help")
    examples = [line.split()[1:] for line in out.splitlines() if line.startswith("  scalinglaws ")]
    assert examples
    for argv in examples:
        status, _, err = run(capsys, *argv)
        assert status == 0, (argv, err)


def test_help_states_units_and_defaults(capsys):
    _, out, _ = run(capsys, "plan", "--help")
    expected = ("default: epoch-2024", "default: h100", "default: 0.4", "$2.00", "dollars per GPU-hour",
                "(FLOPs", "start:stop:num")
    for text in expected:
        assert text in out


# ----------------------------------------------------------------------------------
# plans beyond the range the law was fitted on


def test_plan_far_outside_the_fitted_range_warns_and_exits_1(capsys):
    # A 497K-parameter model at 40 million tokens per parameter (the fitted runs: 57M-16B
    # parameters, 0.46-341 tokens per parameter).
    status, out, err = run(capsys, "plan", "--flops", "1e22", "--inference-tokens", "1e16")
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scalinglaws: warning: row 1 (C = 1e22, T = 1e16) lies far outside")
    assert "N = 4.97e5 is 115x below the fitted range of N (5.73e7-1.62e10)" in lines[0]
    assert "D/N = 4.01e7 is 1.18e5x above the fitted range of D/N (0.456-341)" in lines[0]
    assert "(scalinglaws fit)" in lines[0]
    status, out, err = run(capsys, "plan", "--flops", "1e22", "--inference-tokens", "1e16", "--json")
    result = json.loads(out)
    assert status == 1 and result["warnings"] == [lines[0].removeprefix("scalinglaws: warning: ")]
    row = result["domain"]["rows"][0]
    assert row["row"] == 1 and row["far"] and row["extrapolation"]["tokens_per_param"] == pytest.approx(1.176e5, rel=1e-3)
    assert result["domain"]["ranges"] == sl.domain.PRESET_DOMAINS["epoch-2024"].to_dict()


def test_ordinary_extrapolation_is_a_note_and_exits_0(capsys):
    status, out, err = run(capsys, "plan", "--flops", "1e25")
    assert status == 0 and err == ""
    assert "note: row 1 (C = 1e25) extrapolates beyond the runs epoch-2024 was fitted on: N = 3.12e11 is 19.3x above" in out
    result = run_json(capsys, "table")
    assert result["warnings"] == [] and [row["row"] for row in result["domain"]["rows"]] == [5, 6, 7]
    assert not any(row["far"] for row in result["domain"]["rows"])


def test_many_rows_outside_are_counted_not_listed(capsys):
    status, out, err = run(capsys, "table", "--flops", "1e8:1e12:20")
    warnings = err.strip().splitlines()
    assert status == 1 and len(warnings) == cli._plan.MAX_DOMAIN_LINES + 1
    assert warnings[-1] == "scalinglaws: warning: and 15 more rows like these (see --json)"


def test_failed_row_exits_1_with_warning(capsys):
    result = {"rows": [{"status": 0}, {"status": 2}]}
    assert cli._exit_status(result) == 1
    assert "1 row(s) did not solve" in capsys.readouterr().err
    assert cli._exit_status({"rows": [{"status": 0}]}) == 0


def test_engineering_notation():
    assert cli.engineering(4.036e10) == "40.4B"
    assert cli.engineering(1.5e12) == "1.5T"
    assert cli.engineering(999.7e6) == "1B"
    assert cli.engineering(2.5e3) == "2.5K"
    assert cli.engineering(12.0) == "12"
    assert cli.engineering(3e16) == "3e+16"
    assert cli.engineering(None) == "nan"


# ----------------------------------------------------------------------------------
# subprocesses: the real command, fresh JAX (x64 is off until main turns it on)


def _subprocess(*argv):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=1800, check=False)


def test_module_runs_in_float64():
    done = _subprocess(sys.executable, "-m", "scalinglaws_jax.cli", "plan", "--flops", "5.76e23",
                       "--law", "hoffmann-2022", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["rows"]
    assert_close(row["N"], sl.compute_optimal(sl.HOFFMANN_2022, 5.76e23).N, rtol=1e-13)


def test_module_bad_input_has_no_traceback():
    done = _subprocess(sys.executable, "-m", "scalinglaws_jax.cli", "plan", "--loss", "1.0")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("scalinglaws: error: --loss")


def test_importing_does_not_enable_x64():
    code = "import jax, scalinglaws_jax, scalinglaws_jax.cli; print(jax.config.jax_enable_x64)"
    done = _subprocess(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _console_script():
    beside = Path(sys.executable).with_name("scalinglaws")
    return str(beside) if beside.exists() else shutil.which("scalinglaws")


@pytest.mark.skipif(_console_script() is None, reason="the scalinglaws console script is not installed")
def test_console_script_readme_command():
    done = _subprocess(_console_script(), "plan", "--flops", "5.76e23")
    assert done.returncode == 0, done.stderr
    assert "law: epoch-2024" in done.stdout and "5.76e+23" in done.stdout
    plan = sl.compute_optimal(sl.EPOCH_2024, 5.76e23)
    assert cli.engineering(float(plan.N)) in done.stdout
    table = _subprocess(_console_script(), "table")
    assert table.returncode == 0 and len(table.stdout.strip().split("\n\n")[-1].splitlines()) == 8
