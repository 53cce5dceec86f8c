"""Every example script runs on its own, from another directory, and prints what it promises.

Each script runs in a subprocess with its working directory in a temporary folder, with
``--quick`` when it takes that flag (tiny sizes) and ``--out`` pointing into the temporary
folder when it writes a figure. The scripts of this module run four at a time, started
when the first test asks for them, so that their JAX compilations overlap; XLA's backend
optimisation is turned off for them (their programs run for microseconds and compile for
seconds: this saves about a fifth of the CPU time). Expected text is what each script
computes, including published numbers (cited where they appear).
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))

EXPECTED = {
    "flops_calculator.py": [
        "3.15e+23",  # GPT-3, 6 x 175e9 x 300e9 (DESIGN.md; Brown et al. 2020: 3.14e23, 3640 PF-days)
        "5.88e+23",  # Chinchilla, 6 x 70e9 x 1.4e12 (DESIGN.md)
        "3,646",  # GPT-3 in PF-days
        "221,183",  # GPT-3 H100-hours at 40% MFU: 3.15e23 / (989e12 x 0.4) / 3600
        "$  0.44M",  # ... at $2 per hour
        "285.7 (14.3x)",  # LLaMA-2 7B tokens per parameter
        "MFU of 41% (7B) and 43% (70B)",  # from Touvron et al.'s reported A100-hours
    ],
    "fit_compute_law.py": [
        "245 runs, 68 on the loss-FLOPs frontier",
        "L(C) = 1.7686 + (2.36e+19 FLOPs / C)^0.1708",
        "58x more",  # 2^(1 / 0.1708)
    ],
    "dollars_to_plan.py": [
        "$1,000,000  7.12e+23     500,000   8.05e+10   1.47e+12         18.3  1.9714      7.181",
        "$10,000  7.12e+21       5,000",  # 1e4 / 2 x 3600 x 989e12 x 0.4 FLOPs
    ],
    "inference_aware_sizing.py": [
        # Sardana et al. 2023 (DESIGN.md): N = 2.418e10, D = 2.657e12 at loss 1.947, 2e12 tokens
        "loss 1.94700 with 2e12 inference tokens: N = 2.418e+10, D = 2.657e+12",
        "loss 1.94727 with 2e12 inference tokens: N = 2.409e+10, D = 2.650e+12",
        "N = 3.408e+10 params, D = 1.81e+12 tokens",
        "61.7%",  # lifetime saving at 1e14 inference tokens
    ],
    "data_constrained.py": [
        "unique 25e9) = 2.2256",  # Muennighoff et al. 2023 (DESIGN.md)
        "1e+24  5.54e+10  3.01e+12  120.3 2.1559 |  9.22e+10  1.81e+12 2.0107 |   1.8%",
        "     4                                82%              93%",
    ],
    "kaplan_vs_chinchilla.py": [
        "Kaplan 2020 (non-emb.)  4.4e+08",
        "   0.575",  # alpha_D / (alpha_N + alpha_D) of Kaplan's joint law
        "   0.457",  # Hoffmann et al.: beta / (alpha + beta) (DESIGN.md: 0.457 unrounded)
        "   0.513",
        "GPT-2 124M       12     768  1.24e+08  8.49e+07      31.7%",
        "has exponent 0.72",
    ],
    "fit_your_csv.py": ["Runs(48 runs", "(50 resamples, 50 converged)", "(true 2.94e+10)"],
    "jax_research_code.py": [
        "1e+24 FLOPs: N*  9.59e+10 params",  # sl.EPOCH_2024's compute-optimal N* at 1e24
        "50 converged bootstrap refits: alpha has shape (50,)",
        "shape (4, 4, 3)",
        "status 0 everywhere: True",
    ],
    "plan_a_training_run.py": ["buys 7.12e+23 FLOPs", "compute-optimal: N = 8.05e+10"],
    "scaling_ladder.py": [
        "Ladder(3 rungs, 12/12 runs trained, 1 forecasts, N counted total)",
        "forecast of the largest rung (width 16, N = 11,904 parameters) from rungs 0-1, made before training it:",
        "the law fitted to every run (Huber), by how N counts parameters:",
    ],
}

NUMBER = r"[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?"


def check_fit_compute_law(out):
    # C * 2^(1/alpha) and law.flops_for_loss agree to rounding.
    assert float(re.search(rf"relative difference ({NUMBER})", out).group(1)) < 1e-10


def check_fit_your_csv(out):
    # The interval on N* covers the law the runs were generated from.
    low, high, true = map(float, re.search(rf"interval ({NUMBER}) \.\. ({NUMBER}) \(true ({NUMBER})\)", out).groups())
    assert low < true < high


def check_jax_research_code(out):
    # Implicit and closed-form gradients agree with central differences.
    pair = rf"\(\s*({NUMBER}),\s*({NUMBER})\)"
    pairs = re.findall(rf"grad {pair}\s+finite difference {pair}", out)
    assert len(pairs) == 2
    for g_alpha, g_beta, fd_alpha, fd_beta in pairs:
        assert float(g_alpha) == pytest.approx(float(fd_alpha), rel=1e-4)
        assert float(g_beta) == pytest.approx(float(fd_beta), rel=1e-4)


def check_scaling_ladder(out):
    # Every forecast interval holds its median; the verdict counts the runs marked inside.
    rows = re.findall(rf"forecast ({NUMBER}), 90% interval \[({NUMBER}), ({NUMBER})\]; measured ({NUMBER}) \((inside|OUTSIDE)",
                      out)
    assert len(rows) == 4
    for median, low, high, measured, verdict in rows:
        median, low, high, measured = map(float, (median, low, high, measured))
        assert low < median < high and (verdict == "inside") == (low <= measured <= high)
    inside = sum(verdict == "inside" for *_, verdict in rows)
    assert f"{inside}/4 measured losses inside their 90% intervals" in out
    # the parameter table: total = blocks + embeddings, embeddings 576 x width... here 1-layer, context 32
    for width, params, embedding in re.findall(r"^\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s+\d+%", out, re.M):
        assert int(embedding.replace(",", "")) == (256 + 32 + 256) * int(width)
    exponents = dict(re.findall(rf"(total|non_embedding): alpha = ({NUMBER})", out))
    assert set(exponents) == {"total", "non_embedding"} and exponents["total"] != exponents["non_embedding"]


CHECKS = {
    "scaling_ladder.py": check_scaling_ladder,
    "fit_compute_law.py": check_fit_compute_law,
    "fit_your_csv.py": check_fit_your_csv,
    "jax_research_code.py": check_jax_research_code,
}


def _command(script: pathlib.Path, directory: pathlib.Path) -> list[str]:
    source = script.read_text()
    command = [sys.executable, str(script)]
    if "--quick" in source:
        command.append("--quick")
    if '"--out"' in source:
        command += ["--out", str(directory / "figure.png")]
    return command


def _run(script: pathlib.Path, directory: pathlib.Path) -> subprocess.CompletedProcess:
    directory.mkdir()
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0"}
    return subprocess.run(_command(script, directory), cwd=directory, env=env, capture_output=True, text=True,
                          timeout=1800)


@pytest.fixture(scope="module")
def started(request, tmp_path_factory):
    """The selected scripts, running a few at a time: name -> (future, working directory)."""
    selected = {item.callspec.params["script"].name for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    # Scripts that fit laws compile the most: start them first.
    order = sorted((s for s in EXAMPLES if s.name in selected), key=lambda s: "sl.fit_" not in s.read_text())
    root = tmp_path_factory.mktemp("examples")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    futures = {s.name: (pool.submit(_run, s, root / s.stem), root / s.stem) for s in order}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, started):
    future, directory = started[script.name]
    done = future.result()
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr, done.stderr  # no doubtful fits or solves
    out = done.stdout
    assert out.strip()
    for text in EXPECTED.get(script.name, []):
        assert text in out, f"{text!r} not in the output of {script.name}:\n{out}"
    if script.name in CHECKS:
        CHECKS[script.name](out)
    if '"--out"' in script.read_text():
        figure = directory / "figure.png"
        assert figure.exists() and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{script.name}: no PNG at --out"
    stray = sorted(p.name for p in directory.iterdir() if p.name != "figure.png")
    assert not stray, f"{script.name} wrote {stray} into its working directory"


def test_every_example_is_checked():
    """A new example needs its expected output here (not just a non-empty one)."""
    unchecked = {s.name for s in EXAMPLES} - set(EXPECTED) - {"compute_optimal_table.py"}
    assert not unchecked, f"add expected output for {sorted(unchecked)} to EXPECTED"


def test_examples_document_how_to_run():
    for script in EXAMPLES:
        source = script.read_text()
        assert source.startswith('"""') and f"Run: python examples/{script.name}" in source, script.name
        assert 'jax.config.update("jax_enable_x64", True)' in source, script.name
        if "--quick" in source:
            assert "--quick" in source.split('"""')[1], f"{script.name} takes --quick: document it"
