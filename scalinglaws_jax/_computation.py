"""What a function computes, as a digest that is the same in every process.

Resumable outputs (sweeps, ladders) identify the functions behind their results by the
programs JAX traces from them (``jax.make_jaxpr``) and the values those programs close
over, so an edited function, another constant or another lambda is told apart from the
same function imported again, whatever its name.
"""

from __future__ import annotations

import hashlib
import re

import jax
import numpy as np
from jax.extend.core import ClosedJaxpr, Jaxpr

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def program_digest(closed: ClosedJaxpr) -> str:
    """SHA-256 of a traced program: its text (memory addresses removed: a host callback is
    known by its name) and the values of every constant it closes over, its sub-programs'
    included."""
    digest = hashlib.sha256(_ADDRESS.sub("0x", str(closed)).encode())
    for constant in constants(closed):
        digest.update(array_bytes(constant))
    return digest.hexdigest()


def constants(program):
    """The constants of a (closed) jaxpr and of every jaxpr in its equations' parameters (an
    inner ``jax.jit`` keeps its own)."""
    if isinstance(program, ClosedJaxpr):
        yield from program.consts
        program = program.jaxpr
    for equation in program.eqns:
        stack = list(equation.params.values())
        while stack:
            value = stack.pop()
            if isinstance(value, (ClosedJaxpr, Jaxpr)):
                yield from constants(value)
            elif isinstance(value, (list, tuple)):
                stack.extend(value)


def array_bytes(value) -> bytes:
    """dtype, shape and contents of an array (a PRNG key array by its key data)."""
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    array = np.asarray(value)
    contents = repr(array).encode() if array.dtype == object else np.ascontiguousarray(array).tobytes()
    return f"{array.dtype.str}{array.shape}".encode() + contents
