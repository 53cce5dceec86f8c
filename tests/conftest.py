"""Test start-up: float64 on, as the library's accuracy contract assumes, and one JAX
compilation cache shared by the test processes.

Many tests fit the same runs with the same programs (the Chinchilla runs alone are fitted
in a dozen modules, by the library, the CLI and the examples' subprocesses); JAX's
persistent cache, keyed by the compiled program, lets each compile once per session.
The cache lives in .pytest_cache (ignored by git; a fresh clone starts empty) and is
inherited by subprocesses through the environment, set before JAX is imported.

Hypothesis runs without its deadline (see tests/test_speed_independence.py).
"""

import os
import pathlib

os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(pathlib.Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax-compilation-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

import jax  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)

# No test may pass or fail on the machine's speed: Hypothesis's per-example deadline and
# its too-slow health check both would (the first call of a jitted function compiles).
settings.register_profile("speed-independent", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("speed-independent")
