"""Test start-up: float64 on, as the library's accuracy contract assumes."""

import jax

jax.config.update("jax_enable_x64", True)
