"""Input checks at the Python boundary.

Public functions call these first. With concrete inputs (Python numbers, NumPy or JAX
arrays) a bad value raises ``ValueError`` naming the argument and the value; with
tracers (under ``jit``, ``vmap`` or ``grad``) the checks are skipped and the numeric code
reports bad items as NaN plus a status code instead.
"""

from __future__ import annotations

import enum

import jax
import jax.numpy as jnp
import numpy as np


class Status(enum.IntEnum):
    """Status codes carried by every solver result (``Allocation.status``).

    OK: the optimality condition was checked at the answer. INFEASIBLE: no plan exists
    (target loss at or below E, or an optimum needing less than one parameter or one
    token). NOT_CONVERGED: no answer could be verified (the search failed, or a value left
    the dtype's range). INVALID_INPUT: NaN, infinite or non-positive input.
    """

    OK = 0
    INFEASIBLE = 1
    NOT_CONVERGED = 2
    INVALID_INPUT = 3


OK, INFEASIBLE, NOT_CONVERGED, INVALID_INPUT = (int(status) for status in Status)


def is_concrete(*trees) -> bool:
    """True when no leaf of ``trees`` is a JAX tracer, so values can be inspected."""
    return not any(
        isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(trees)
    )


def first_bad(name: str, values: np.ndarray, bad: np.ndarray) -> str:
    if values.ndim == 0:
        return f"{name}={values.item()!r}"
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{name}[{', '.join(map(str, index))}]={values[index].item()!r}"


def floats(**named):
    """The named values in the floating dtype JAX promotes them to (6ND overflows even int64).

    Python scalars become Python floats, so they stay weakly typed as in JAX arithmetic;
    lists and tuples become arrays. With concrete values, a finite value beyond the range
    of that dtype (1e39 with x64 off) raises ``ValueError`` naming the argument.
    """
    values = {
        name: np.asarray(value, dtype=float) if isinstance(value, (list, tuple)) else value
        for name, value in named.items()
    }
    dtype = jax.dtypes.canonicalize_dtype(jnp.result_type(*values.values(), float))
    largest = float(jnp.finfo(dtype).max)
    for name, value in values.items():
        if is_concrete(value):
            magnitude = np.abs(np.asarray(value, dtype=float))
            beyond = np.isfinite(magnitude) & (magnitude > largest)
            if beyond.any():
                raise ValueError(
                    f"{first_bad(name, np.asarray(value, dtype=float), beyond)} is beyond the {dtype.name} range "
                    f"(largest {largest:.3g}); enable float64 with jax.config.update('jax_enable_x64', True)"
                )
    return tuple(
        float(value) if isinstance(value, (int, float)) else jnp.asarray(value, dtype)
        for value in values.values()
    )


def check_representable(what: str, result, valid, **inputs) -> None:
    """Raise ``ValueError`` where ``result`` overflowed although its inputs were valid.

    ``what`` names the quantity (e.g. "training_flops = 6 N D"); ``valid`` masks the items
    whose inputs were valid. Tracers are not checked (the caller puts NaN there instead).
    """
    if not is_concrete(result, valid, *inputs.values()):
        return
    result = np.asarray(result)
    overflow = np.broadcast_to(np.asarray(valid), result.shape) & ~np.isfinite(result)
    if overflow.any():
        index = tuple(int(i) for i in np.argwhere(overflow)[0])
        given = ", ".join(
            f"{name}={np.broadcast_to(np.asarray(value, dtype=float), result.shape)[index].item():.6g}"
            for name, value in inputs.items()
        )
        largest = float(jnp.finfo(result.dtype).max)
        hint = ("; enable float64 with jax.config.update('jax_enable_x64', True)"
                if result.dtype != np.float64 else "")
        raise ValueError(f"{what} overflows {result.dtype.name} (largest {largest:.3g}) at {given}{hint}")


def check_positive(name: str, value, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` unless every element of ``value`` is finite and > 0.

    With ``allow_zero`` zero is accepted too. Tracers are not checked.
    """
    if not is_concrete(value):
        return
    values = np.asarray(value, dtype=float)
    ok = np.isfinite(values) & ((values >= 0) if allow_zero else (values > 0))
    if not ok.all():
        wanted = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{name} must be finite and {wanted}, got {first_bad(name, values, ~ok)}"
        )


def check_finite(name: str, value) -> None:
    """Raise ``ValueError`` unless every element of ``value`` is finite."""
    if not is_concrete(value):
        return
    values = np.asarray(value, dtype=float)
    ok = np.isfinite(values)
    if not ok.all():
        raise ValueError(f"{name} must be finite, got {first_bad(name, values, ~ok)}")


def check_broadcastable(**arrays) -> None:
    """Raise ``ValueError`` when the named arrays' shapes do not broadcast together."""
    shapes = {name: np.shape(value) for name, value in arrays.items()}
    try:
        np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes do not broadcast together: {listed}") from None


def check_law(law) -> None:
    """Check a law's parameters (see each law's ``_constraints``), naming the field.

    Laws defined outside the library (any pytree with a ``loss``) are not checked.
    """
    if not hasattr(law, "_constraints") or not is_concrete(law):
        return
    for field, allow_zero in law._constraints():
        check_positive(f"{type(law).__name__}.{field}", getattr(law, field), allow_zero=allow_zero)


def invalid(*values, allow_zero: bool = False) -> jax.Array:
    """Elementwise mask of items where any of ``values`` is NaN, infinite or <= 0.

    With ``allow_zero`` zero is valid too. Works on tracers; the mask broadcasts.
    """
    mask = jnp.asarray(False)
    for value in values:
        value = jnp.asarray(value)
        positive = (value >= 0) if allow_zero else (value > 0)
        mask = mask | ~(jnp.isfinite(value) & positive)
    return mask


def invalid_law(law) -> jax.Array:
    """Mask of the law's batch items with a parameter out of range (see ``check_law``)."""
    mask = jnp.asarray(False)
    for field, allow_zero in getattr(law, "_constraints", tuple)():
        mask = mask | invalid(getattr(law, field), allow_zero=allow_zero)
    return mask


def check_reachable(loss, E, name: str = "loss") -> None:
    """Raise ``ValueError`` where a target ``loss`` is at or below the irreducible E."""
    if not is_concrete(loss, E):
        return
    loss, E = np.broadcast_arrays(np.asarray(loss, float), np.asarray(E, float))
    bad = loss <= E
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must exceed the law's irreducible loss E, got {name}={loss[index].item()!r} "
            f"with E={E[index].item()!r}: no finite model reaches it"
        )
