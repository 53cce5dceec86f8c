"""The suite passes or fails on what the code computes, never on how fast the machine is.

A subprocess time-out is a guard against a hang, set far beyond what a slow, loaded
machine needs (HANG_GUARD_SECONDS); Hypothesis runs without its per-example deadline.
"""

import ast
import pathlib

from hypothesis import HealthCheck, settings

HANG_GUARD_SECONDS = 1800
TESTS = pathlib.Path(__file__).resolve().parent


def _timeouts(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "timeout":
                    yield node.lineno, keyword.value


def test_every_subprocess_timeout_is_only_a_hang_guard():
    short = []
    for path in sorted(TESTS.glob("*.py")):
        for line, value in _timeouts(path):
            seconds = ast.literal_eval(value) if isinstance(value, ast.Constant) else None
            if seconds is None or seconds < HANG_GUARD_SECONDS:
                short.append(f"{path.name}:{line} timeout={ast.unparse(value)}")
    assert not short, f"time-outs below the {HANG_GUARD_SECONDS} s hang guard: {short}"


def test_hypothesis_has_no_deadline_and_no_speed_health_check():
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check
