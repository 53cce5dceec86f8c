"""benchmarks/bench_sweep.py --quick runs end to end, prints every part and finds no mismatch."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "bench_sweep.py"

EXPECTED_LINES = (
    "sl.sweep float64, per call",
    "sl.sweep float32, chunk loop",
    "numpy golden section + np.quantile",
    "sweep float64 vs numpy golden section, N quantiles",
    "float32 vs float64 sweep: statuses differ in",
    "peak resident memory of the process:",
    "devices 8:",
)


@pytest.mark.slow
def test_quick_run_prints_every_part_and_agrees():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    for expected in EXPECTED_LINES:
        assert expected in done.stdout, f"missing {expected!r} in:\n{done.stdout}"
    assert done.stdout.count("bit-identical to 1 device") == 4
    assert "MISMATCH" not in done.stdout, done.stdout
