"""Scenario sweeps: a solver over the cartesian product of named axes, chunked and sharded.

``sweep(sl.compute_optimal, post.law, flops=budgets, inference_tokens=volumes)`` solves
every (budget, volume) scenario for every draw of a batched law and keeps, per
scenario, quantiles over the draws. The product of the axes is never built in memory:
the scenarios are numbered in row-major order (the last axis fastest) and cut into
fixed-size chunks; one compiled program turns a chunk's first index into its scenarios
on the device (mixed-radix arithmetic in int32, so 1e10 scenarios need no int64),
solves them, reduces over the draws and returns only the reduction.

Devices: a chunk is split across a one-axis ``Mesh`` of the local devices with
``shard_map``; scenarios are independent, so the devices never communicate. Several
processes (``jax.distributed.initialize``, one per host) share the chunks round-robin
and write them to one output directory on a filesystem all of them see; the result is
assembled once every process is done. Results do not depend on the number of devices or
processes.

Output on disk (``out=``): ``manifest.json``, what was swept, and one ``chunk-NNNNNNNN.npz``
per chunk, each written to a temporary name and renamed, so a sweep killed at any point and
started again skips the chunks it finished and gives the same result as an uninterrupted
run. The manifest records everything the results depend on: the swept function by its
computation (the digest of its jaxpr on one scenario, closed-over constants included, so
the same function resumes in a new process and an edited one does not), the axes, the law,
the reduction, the chunk size and the dtype, but not the devices. A directory holding
another sweep is refused, naming what differs. Each chunk carries a record of the sweep,
its index and the digest of its contents; one that is damaged, or copied from another
chunk or sweep, is named in a warning and computed again. Processes that share a directory
without ``jax.distributed`` (the same call started twice) are safe: each computes the
chunks it does not find and never removes a file another running process is writing.

Units are those of the swept function (FLOPs, tokens, parameters for the solvers).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._computation import array_bytes, program_digest
from ._files import atomic_write, stale_temporaries
from ._memory import host_available_bytes

REDUCTIONS = ("quantiles", "mean", "none")
"""Reductions over the law-draw axis: quantiles per scenario, the mean, or every draw."""

DEFAULT_QUANTILES = (0.05, 0.5, 0.95)

DEFAULT_CHUNK_ELEMENTS = 2**20
"""Solves per chunk (scenarios x draws) when ``chunk_size`` is not given."""

_FORMAT = "scalinglaws_jax.sweep/2"
_MANIFEST = "manifest.json"
_RECORD = "__sweep_chunk__"
"""The name, in each chunk file, of its record: the sweep's digest, its index, its contents' digest."""
_AXIS = "scenarios"
_MAX_AXIS = 2**30


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """What a sweep computed, per scenario.

    Attributes:
        fields: output name (e.g. ``"N"``, ``"loss"``, ``"status"``; ``"value"`` for a
            function returning one array) -> array of shape ``(*shape, *extra)``, where
            ``shape`` is the axes' lengths in order and ``extra`` is ``(len(quantiles),)``
            for ``reduce="quantiles"``, ``()`` for ``"mean"`` and ``(draws,)`` for
            ``"none"`` (nothing when the law has no draw axis). Integer fields (solver
            status) are reduced by their maximum over the draws: 0 means every draw solved.
        axes: axis name -> its values (1-D float array), in sweep order.
        reduce: the reduction over draws.
        quantiles: the quantile levels (``reduce="quantiles"``) in the order the last axis
            of each field holds them, else ().
        draws: number of law draws (0 when the law has no draw axis).
        info: chunks, chunk size, devices, processes, traces, seconds, resumed chunks.
    """

    fields: dict
    axes: dict
    reduce: str
    quantiles: tuple
    draws: int
    info: dict

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(values) for values in self.axes.values())

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]

    def __repr__(self) -> str:
        axes = ", ".join(f"{name}[{len(values)}]" for name, values in self.axes.items())
        return f"SweepResult({axes}; {self.reduce} over {self.draws} draws; fields {list(self.fields)})"


# ----------------------------------------------------------------------------------
# validation


def _check_axes(axes: dict) -> dict[str, np.ndarray]:
    if not axes:
        raise ValueError("sweep needs at least one named axis, e.g. flops=np.logspace(19, 26, 200)")
    checked = {}
    for name, values in axes.items():
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"axis {name} must be numbers, got {values!r}") from None
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim != 1:
            raise ValueError(f"axis {name} must be one-dimensional, got shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"axis {name} is empty")
        if array.size > _MAX_AXIS:
            raise ValueError(f"axis {name} has {array.size} values, more than {_MAX_AXIS}")
        bad = ~np.isfinite(array)
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(f"axis {name} must be finite, got {name}[{index}]={float(array[index])}")
        checked[name] = array
    return checked


def _draw_count(law) -> int:
    """0 for a single law (scalar leaves), K for a batched law (leaves of shape (K,))."""
    if law is None:
        return 0
    leaves = jax.tree_util.tree_leaves(law)
    if not leaves:
        raise ValueError(f"law has no array leaves: {law!r}")
    shapes = {np.shape(leaf) for leaf in leaves}
    if shapes == {()}:
        return 0
    if len(shapes) == 1:
        (shape,) = shapes
        if len(shape) == 1 and shape[0] > 0:
            return shape[0]
    raise ValueError(f"law leaves must all be scalars (one law) or all of shape (draws,) (a batch of laws), "
                     f"got shapes {sorted(shapes)}")


def _check_quantiles(quantiles) -> tuple[float, ...]:
    levels = tuple(float(q) for q in np.atleast_1d(np.asarray(quantiles, dtype=np.float64)))
    if not levels:
        raise ValueError("quantiles must not be empty")
    for q in levels:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantiles must lie in [0, 1], got {q!r}")
    return levels


# ----------------------------------------------------------------------------------
# the compiled chunk program


def _scenario_digits(start_digits, local, lengths):
    """Per-axis indices of the scenarios ``start + local`` and whether each exists.

    ``start_digits``: the chunk's first scenario as one index per axis (int32);
    ``local``: offsets from it (int32). Mixed-radix addition, last axis fastest.
    """
    digits = []
    carry = local
    for axis in range(len(lengths) - 1, 0, -1):
        total = start_digits[axis] + carry % lengths[axis]
        digits.append(total % lengths[axis])
        carry = carry // lengths[axis] + total // lengths[axis]
    first = start_digits[0] + carry
    digits.append(first)
    digits.reverse()
    exists = first < lengths[0]
    digits[0] = jnp.minimum(first, lengths[0] - 1)
    return digits, exists


def _leaf_name(path) -> str:
    parts = []
    for key in path:
        for attribute in ("name", "key", "idx"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
    return ".".join(parts) or "value"


def _reduce(leaf, reduce, quantiles):
    """Reduce (scenarios, draws) -> per scenario; integer leaves by their maximum."""
    if reduce == "none":
        return leaf
    if jnp.issubdtype(leaf.dtype, jnp.integer) or leaf.dtype == jnp.bool_:
        return jnp.max(leaf, axis=1)
    if reduce == "mean":
        return jnp.nanmean(leaf, axis=1)
    levels = jnp.asarray(quantiles, dtype=leaf.dtype)
    return jnp.moveaxis(jnp.nanquantile(leaf, levels, axis=1), 0, -1)


def _pick_best(leaves, names, key_name, goal, line, draws):
    """Every leaf at the best point of ``key_name`` along each line of ``line`` scenarios.

    ``leaves``: (rows x line, [draws]) arrays; returns (rows, [draws]) arrays and the index
    of the best point, NaN counting as worst.
    """
    if key_name not in names:
        raise ValueError(f"sweep: {goal}={key_name!r} is not an output of fn; its outputs are {names}")
    shaped = [leaf.reshape((-1, line) + leaf.shape[1:]) for leaf in leaves]
    key = shaped[names.index(key_name)]
    worst = jnp.inf if goal == "minimize" else -jnp.inf
    key = jnp.where(jnp.isnan(key), worst, key)
    index = jnp.argmin(key, axis=1) if goal == "minimize" else jnp.argmax(key, axis=1)
    picked = [jnp.take_along_axis(leaf, index[:, None], axis=1)[:, 0] for leaf in shaped]
    return picked, index


def _chunk_program(fn, names, lengths, rows, line, draws, reduce, quantiles, best, mesh, fields):
    """jit(shard_map(...)): (start digits, axis values, law) -> (reduced outputs, exists).

    Each device solves ``rows`` x ``line`` consecutive scenarios (``line`` = length of the
    last axis when ``best = (goal, field)`` selects the best point along it, else 1). The
    outputs are a tuple in ``fn``'s leaf order (then the best axis value); tracing fills
    ``fields`` with their names (once per trace, so its length counts the traces).
    """
    local_size = rows * line

    def local(start_digits, values, law):
        offset = jax.lax.axis_index(_AXIS) * local_size
        local_index = offset + jnp.arange(local_size, dtype=jnp.int32)
        digits, exists = _scenario_digits(start_digits, local_index, lengths)
        scenario = {name: values[k][digits[k]] for k, name in enumerate(names)}

        def one(scenario, law):
            return fn(law, **scenario) if law is not None else fn(**scenario)

        if draws:
            over_draws = jax.vmap(one, in_axes=(None, 0))
            outputs = jax.vmap(over_draws, in_axes=(0, None))(scenario, law)
        else:
            outputs = jax.vmap(one, in_axes=(0, None))(scenario, law)
        paths_leaves, _ = jax.tree_util.tree_flatten_with_path(outputs)
        output_names = [_leaf_name(path) for path, _ in paths_leaves]
        per_scenario = (local_size,) + ((draws,) if draws else ())
        leaves = []
        for name, (_, leaf) in zip(output_names, paths_leaves):
            leaf = jnp.asarray(leaf)
            if leaf.shape != per_scenario:
                raise ValueError(f"sweep: fn must return one number per scenario for each output, got "
                                 f"{name} with shape {leaf.shape[len(per_scenario) - 1:]} per scenario")
            leaves.append(leaf)
        if best is not None:
            goal, key_name = best
            leaves, index = _pick_best(leaves, output_names, key_name, goal, line, draws)
            leaves.append(values[-1][index])
            output_names.append(f"best_{names[-1]}")
            exists = exists.reshape(rows, line)[:, 0]
        fields.append(output_names)
        reduced = tuple(_reduce(leaf, reduce, quantiles) if draws else leaf for leaf in leaves)
        return reduced, exists

    P = jax.sharding.PartitionSpec
    sharded = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P()), out_specs=P(_AXIS))
    return jax.jit(sharded)


# ----------------------------------------------------------------------------------
# disk


def _spec(fn, axes, law, draws, reduce, quantiles, best, chunk, dtype) -> dict:
    """Everything the chunks depend on, as plain data: what the manifest records.

    ``fn`` is recorded by its computation (``_computation``); its name is kept for messages
    only, so a renamed function resumes and another function of the same name does not.
    """
    law_type = None if law is None else f"{type(law).__module__}.{type(law).__qualname__}"
    return {"fn": _describe(fn), "computation": _computation(fn, tuple(axes), law, dtype),
            "axes": [{"name": name, "size": int(v.size), "first": float(v[0]), "last": float(v[-1]),
                      "sha256": _array_digest(v)} for name, v in axes.items()],
            "law": None if law is None else [law_type, draws, _law_digest(law)],
            "reduce": reduce if draws else "none", "quantiles": list(quantiles) if draws else [],  # no draws to reduce
            "best": list(best) if best else None, "chunk_size": chunk, "dtype": np.dtype(dtype).name}


def _spec_digest(spec: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in spec.items() if k != "fn"}, sort_keys=True).encode()).hexdigest()


def _describe(fn) -> str:
    """``module.qualname`` of ``fn`` (of its function for a ``functools.partial``), for messages."""
    if isinstance(fn, functools.partial):
        return f"functools.partial({_describe(fn.func)}, ...)"
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    return f"{module}.{name}" if module and name else type(fn).__name__


def _computation(fn, names, law, dtype) -> str:
    """sha256 of the jaxpr of ``fn`` on one scenario and one law draw, and of the values of
    the constants it closes over: what ``fn`` computes, the same in every process.

    Python objects the jaxpr can only name (a host callback) are identified by their name:
    the memory addresses in their printed form are left out.
    """
    scalar = jax.ShapeDtypeStruct((), dtype)
    one_law = None if law is None else jax.tree_util.tree_map(lambda _: scalar, law)

    def one(scenario, law):
        return fn(law, **scenario) if law is not None else fn(**scenario)

    return program_digest(jax.make_jaxpr(one)({name: scalar for name in names}, one_law))


def _array_digest(values) -> str:
    return hashlib.sha256(array_bytes(np.asarray(values))).hexdigest()


def _law_digest(law) -> str:
    digest = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_leaves_with_path(law):
        digest.update(jax.tree_util.keystr(path).encode())
        digest.update(np.ascontiguousarray(np.asarray(leaf, np.float64), "<f8").tobytes())
    return digest.hexdigest()


def _differences(held: dict, spec: dict, where: str) -> list[str]:
    """In words, what differs between the sweep recorded in ``where`` (``held``) and this one."""
    found = []
    names, held_names = [a["name"] for a in spec["axes"]], [a.get("name") for a in held.get("axes") or []]
    if names != held_names:
        found.append(f"the axes differ ({', '.join(names)} here; {', '.join(map(str, held_names))} in {where})")
    else:
        for axis, held_axis in zip(spec["axes"], held["axes"]):
            here, there = _axis_text(axis), _axis_text(held_axis)
            if here != there:
                found.append(f"axis {axis['name']} differs ({here} here, {there} in {where})")
            elif axis != held_axis:
                found.append(f"axis {axis['name']} differs (other values; both are {here})")
    law, held_law = spec["law"], held.get("law")
    if law != held_law:
        if law is None or held_law is None or law[0] != held_law[0]:
            found.append(f"the law differs ({_law_text(law)} here, {_law_text(held_law)} in {where})")
        elif law[1] != held_law[1]:
            found.append(f"the law differs ({_draws_text(law[1])} here, {_draws_text(held_law[1])} in {where})")
        else:
            found.append("the law differs (same family and draws, other values)")
    for key in ("reduce", "quantiles", "best", "dtype"):
        if spec[key] != held.get(key):
            found.append(f"{key} differs ({spec[key]!r} here, {held.get(key)!r} in {where})")
    if spec["chunk_size"] != held.get("chunk_size"):
        found.append(f"chunk_size differs ({spec['chunk_size']} here, {held.get('chunk_size')} in {where}; "
                     "leave it out to resume)")
    if not found and spec["computation"] != held.get("computation"):
        written_by = f"; {where} was written by {held.get('fn')}" if held.get("fn") != spec["fn"] else ""
        found.append(f"the function differs from the one that wrote {where} (its computation changed: edited "
                     f"code, other constants, or another version of JAX or scalinglaws_jax{written_by})")
    return found or ["its manifest's digest does not match what it records"]


def _axis_text(axis: dict) -> str:
    size, first, last = axis.get("size"), axis.get("first"), axis.get("last")
    return f"{size} values from {first:.3g} to {last:.3g}" if size != 1 else f"the value {first:.3g}"


def _law_text(law) -> str:
    return "no law" if law is None else f"{law[0].rsplit('.', 1)[-1]}, {_draws_text(law[1])}"


def _draws_text(draws: int) -> str:
    return f"{draws} draws" if draws else "a single law"


def _recorded_chunk_size(out) -> int | None:
    """The chunk size of the sweep held in ``out``, if it holds a readable manifest."""
    if out is None:
        return None
    try:
        size = json.loads((Path(out) / _MANIFEST).read_bytes())["spec"]["chunk_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _open_directory(out, digest: str, spec: dict) -> Path:
    """Create ``out`` with a manifest, or check that it holds this very sweep.

    Several processes may open one directory at once: the manifest is created exclusively,
    and whoever does not create it checks the one that was.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"out={str(out)!r} is a file, not a directory")
    manifest = path / _MANIFEST
    if not _contents(path):
        path.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"format": _FORMAT, "digest": digest, "spec": spec}, indent=2).encode()
        try:
            atomic_write(manifest, lambda handle: handle.write(body), exclusive=True)
            return path
        except FileExistsError:  # another process created it first
            pass
    if not manifest.exists():
        raise ValueError(f"out={str(out)!r} is not empty and holds no sweep manifest; refusing to write into it")
    _check_manifest(out, manifest, digest, spec)
    return path


def _contents(path: Path) -> list[str]:
    """The names in ``path`` other than manifests still being written (none when it does not exist)."""
    if not path.exists():
        return []
    return [p.name for p in path.iterdir() if not (p.name.startswith(f".{_MANIFEST}.") and p.name.endswith(".tmp"))]


def _check_manifest(out, manifest: Path, digest: str, spec: dict) -> None:
    try:
        held = json.loads(manifest.read_bytes())
    except ValueError as error:
        raise ValueError(f"{manifest} is not a sweep manifest ({error}); choose another directory or delete "
                         "this one") from None
    if not isinstance(held, dict) or not isinstance(held.get("spec"), dict):
        raise ValueError(f"{manifest} is not a sweep manifest; choose another directory or delete this one")
    if held.get("format") != _FORMAT:
        raise ValueError(f"out={str(out)!r} holds a sweep of another version of scalinglaws_jax (format "
                         f"{held.get('format')!r}, this one writes {_FORMAT!r}); choose another directory or delete it")
    if held.get("digest") != digest:
        try:
            differences = "; ".join(_differences(held["spec"], spec, str(out)))
        except (AttributeError, KeyError, TypeError, ValueError):  # a manifest edited by hand
            differences = f"{manifest} does not record a sweep this version can read"
        raise ValueError(f"out={str(out)!r} holds a different sweep: {differences}; choose another directory or "
                         "delete this one")


def _open_shared_directory(out, digest: str, spec: dict) -> Path:
    """``_open_directory`` by process 0 first, then by the others (which then find its manifest)."""
    if jax.process_count() == 1:
        return _open_directory(out, digest, spec)
    from jax.experimental import multihost_utils

    if jax.process_index() == 0:
        directory = _open_directory(out, digest, spec)
    multihost_utils.sync_global_devices(f"scalinglaws_jax.sweep.open {digest}")
    if jax.process_index() != 0:
        directory = _open_directory(out, digest, spec)
    return directory


def _chunk_path(directory: Path, index: int) -> Path:
    return directory / f"chunk-{index:08d}.npz"


def _save_chunk(directory: Path, index: int, arrays: dict, digest: str) -> None:
    """The chunk's arrays and its record (sweep digest, index, contents digest), atomically."""
    record = json.dumps({"sweep": digest, "chunk": index, "sha256": _arrays_digest(arrays)})
    contents = {**arrays, _RECORD: np.asarray(record)}
    atomic_write(_chunk_path(directory, index), lambda handle: np.savez(handle, **contents))


def _arrays_digest(arrays: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(array_bytes(arrays[name]))
    return digest.hexdigest()


def _read_chunk(path: Path, index: int, digest: str) -> tuple[dict | None, str | None]:
    """A finished chunk's arrays, or None and why it cannot be used (None, None when absent)."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            return None, "is not an .npz archive"
        with data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        return None, f"is unreadable ({type(error).__name__}: {error})"
    try:
        record = json.loads(str(arrays.pop(_RECORD)))
        sweep, chunk, contents = record["sweep"], record["chunk"], record["sha256"]
    except (KeyError, TypeError, ValueError):
        return None, "has no chunk record"
    if sweep != digest:
        return None, "was written by another sweep"
    if chunk != index:
        return None, f"holds chunk {chunk} of this sweep, not chunk {index}"
    if contents != _arrays_digest(arrays):
        return None, "has contents that do not match their digest"
    return arrays, None


def _resumed_chunk(directory: Path, index: int, digest: str) -> dict | None:
    """A finished chunk's arrays; None when it is absent or unusable (then with a warning naming it)."""
    path = _chunk_path(directory, index)
    arrays, problem = _read_chunk(path, index, digest)
    if problem is not None:
        warnings.warn(f"sweep: {path} {problem}; computing it again", RuntimeWarning, stacklevel=3)
    return arrays


# ----------------------------------------------------------------------------------
# memory


def _available_bytes(device) -> int:
    """Device memory limit where the backend reports one, else the host's available memory."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return int(min(host_available_bytes(), 2.0**62))


def _check_memory(compiled, devices: int, device) -> int:
    """The chunk program's per-device memory need (bytes), refused beyond what is available."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return 0
    need = int(analysis.temp_size_in_bytes + analysis.argument_size_in_bytes + analysis.output_size_in_bytes)
    # CPU devices share the host's memory
    total = need * devices if device.platform == "cpu" else need
    available = _available_bytes(device)
    if total > available:
        raise ValueError(f"chunk_size too large: one chunk needs about {total / 2**30:.2f} GiB "
                         f"({need / 2**30:.2f} GiB per device x {devices} device(s)) and "
                         f"{available / 2**30:.2f} GiB is available; lower chunk_size")
    return total


# ----------------------------------------------------------------------------------
# the sweep


def sweep(fn: Callable, law=None, *, reduce: str = "quantiles", quantiles=DEFAULT_QUANTILES,
          minimize: str | None = None, maximize: str | None = None, over: str | None = None,
          chunk_size: int | None = None, out=None, progress: bool | None = None, dtype="float64",
          devices=None, **axes) -> SweepResult:
    """Evaluate ``fn`` on every scenario of the named axes, for every draw of ``law``.

    ``fn(law, **scenario)`` (or ``fn(**scenario)`` without a law) receives one law and one
    number per axis and returns an array or a pytree of arrays with one number each (a
    solver's ``Allocation``, for instance); it must be jit-able.

    Args:
        fn: e.g. ``sl.compute_optimal``, ``sl.inference_optimal`` or your own function.
        law: one law, or a batched law whose leaves have a leading draw axis (a
            ``Posterior.law`` or ``Bootstrap.law``), or None.
        reduce: over the draws: ``"quantiles"`` (default), ``"mean"`` or ``"none"`` (keep
            every draw). NaN draws (unsolvable scenarios) are left out of quantiles and
            means; integer outputs (status) are reduced by their maximum.
        quantiles: levels in [0, 1] for ``reduce="quantiles"``; the last axis of each
            output follows them in the order given (``SweepResult.quantiles``), as
            ``np.quantile`` does.
        minimize, maximize: the name of an output of ``fn``; with ``over``, the axis along
            which to find its smallest (largest) value. The result drops that axis: every
            output is taken at the best point, per draw and before the reduction over
            draws, and ``best_<over>`` holds the axis value there. NaN counts as worst.
        over: the axis name for ``minimize`` / ``maximize``.
        chunk_size: scenarios per chunk, rounded down to whole lines along ``over``;
            default that of the sweep being resumed in ``out``, else about
            ``DEFAULT_CHUNK_ELEMENTS`` solves per chunk. Refused when a chunk would not fit
            in the available memory.
        out: directory for the chunks and a manifest; re-running the same sweep there
            resumes, skipping finished chunks, on any number of devices. None keeps
            everything in memory.
        progress: a progress bar on stderr; default on when stderr is a terminal and the
            sweep has more than one chunk.
        dtype: ``"float64"`` (default) or ``"float32"`` (faster on accelerators; see the
            README for its measured error).
        devices: the local devices to shard over (default all of ``jax.local_devices()``).
        **axes: axis name -> 1-D values, passed to ``fn`` under that name.

    Returns:
        ``SweepResult``.

    Raises:
        ValueError: naming the bad argument (empty or non-finite axis, unknown
            reduction or output, an ``out`` holding another sweep or other files, a chunk
            too large).

    Warns:
        RuntimeWarning: naming a chunk file in ``out`` that was damaged or misplaced, and
            is computed again.

    References: Sardana et al. 2023 (the inference-aware scenarios this is built for);
    JAX's ``shard_map`` and multi-process documentation.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
    if dtype not in ("float64", "float32", np.float64, np.float32):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    dtype = np.dtype(dtype)
    levels = _check_quantiles(quantiles) if reduce == "quantiles" else ()
    values = _check_axes(axes)
    best = _check_best(minimize, maximize, over, values)
    draws = _draw_count(law)
    shape = tuple(int(v.size) for v in values.values())
    if over is not None:  # the axis searched for the best point goes last: a chunk holds whole lines
        values = {**{k: v for k, v in values.items() if k != over}, over: values[over]}
    names = tuple(values)
    lengths = tuple(int(v.size) for v in values.values())
    line = lengths[-1] if over is not None else 1
    total_rows = math.prod(lengths) // line
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must not be empty")
    if chunk_size is None:
        chunk_size = _recorded_chunk_size(out) or DEFAULT_CHUNK_ELEMENTS // max(draws, 1)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    # the chunks do not depend on the devices, so a sweep resumes on any number of them; each
    # device solves rows_per_device rows, and the rows past the chunk's end are dropped
    chunk_rows = min(total_rows, max(1, chunk_size // line))
    rows_per_device = -(-chunk_rows // len(devices))
    if rows_per_device * len(devices) * line >= 2**31 - max(lengths):
        raise ValueError(f"chunk_size must be below 2**31, got {chunk_size}")
    chunks = -(-total_rows // chunk_rows)
    if out is None and jax.process_count() > 1:
        raise ValueError("a sweep over several processes needs out= on a filesystem every process sees")

    traces = []
    mesh = jax.sharding.Mesh(np.array(devices), (_AXIS,))
    with jax.enable_x64(dtype == np.float64):
        directory = digest = None
        if out is not None:  # only a sweep on disk is identified (its function traced and hashed)
            spec = _spec(fn, values, law, draws, reduce, levels, best, chunk_rows * line, dtype)
            digest = _spec_digest(spec)
            directory = _open_shared_directory(out, digest, spec)
        law_cast = None if law is None else jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, dtype), law)
        axis_values = tuple(jax.device_put(v.astype(dtype)) for v in values.values())
        program = _chunk_program(fn, names, lengths, rows_per_device, line, draws, reduce, levels, best, mesh,
                                 traces)
        compiled = program.lower(np.zeros(len(lengths), np.int32), axis_values, law_cast).compile()
        memory = _check_memory(compiled, len(devices), devices[0])

        mine = range(jax.process_index(), chunks, jax.process_count())
        results = {}
        if directory is not None:
            for path in stale_temporaries(directory):
                path.unlink(missing_ok=True)
            for c in mine:
                arrays = _resumed_chunk(directory, c, digest)
                if arrays is not None:
                    results[c] = arrays
        todo = [c for c in mine if c not in results]
        resumed = len(results)
        bar = _progress_bar(progress, len(mine), resumed)
        started = time.perf_counter()

        def start(c):
            first = np.array(np.unravel_index(c * chunk_rows * line, lengths), np.int32)
            return compiled(first, axis_values, law_cast)

        def finish(c, pending):
            outputs, exists = pending
            keep = np.asarray(exists)[:chunk_rows]
            arrays = {name: np.asarray(value)[:chunk_rows][keep] for name, value in zip(traces[-1], outputs)}
            if directory is not None:
                _save_chunk(directory, c, arrays, digest)
            results[c] = arrays
            if bar is not None:
                bar.update(1)

        # one chunk in flight while the previous one is copied out and written
        previous = None
        for c in todo:
            pending = start(c)
            if previous is not None:
                finish(*previous)
            previous = (c, pending)
        if previous is not None:
            finish(*previous)
        seconds = time.perf_counter() - started
        if bar is not None:
            bar.close()
            bar = None

        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"scalinglaws_jax.sweep.done {digest}")
        for c in range(chunks):  # the other processes' chunks
            if c not in results:
                arrays = _resumed_chunk(directory, c, digest)
                if arrays is None:
                    finish(c, start(c))
                else:
                    results[c] = arrays

    result_axes = {name: v.astype(dtype) for name, v in values.items() if name != over}
    result_shape = tuple(int(v.size) for v in result_axes.values())
    fields = {name: np.concatenate([results[c][name] for c in range(chunks)]) for name in traces[-1]}
    fields = {name: array.reshape(result_shape + array.shape[1:]) for name, array in fields.items()}
    scenarios = math.prod(shape)
    info = {"chunks": chunks, "chunk_size": chunk_rows * line, "devices": len(devices),
            "processes": jax.process_count(), "traces": len(traces), "seconds": seconds, "resumed_chunks": resumed,
            "scenarios": scenarios, "solves": scenarios * max(draws, 1), "chunk_bytes": memory, "dtype": dtype.name}
    if best is not None:
        info["best"] = {"goal": best[0], "output": best[1], "over": over}
    return SweepResult(fields=fields, axes=result_axes, reduce=reduce if draws else "none",
                       quantiles=levels if draws else (), draws=draws, info=info)


def _check_best(minimize, maximize, over, axes) -> tuple[str, str] | None:
    """``("minimize" | "maximize", output name)`` or None, checked against the axes."""
    if minimize is not None and maximize is not None:
        raise ValueError("give minimize= or maximize=, not both")
    goal = "minimize" if minimize is not None else "maximize" if maximize is not None else None
    if goal is None:
        if over is not None:
            raise ValueError(f"over={over!r} needs minimize= or maximize= (the output to optimise along it)")
        return None
    if over is None:
        raise ValueError(f"{goal}= needs over=, the axis along which to find the best point")
    if over not in axes:
        raise ValueError(f"over={over!r} is not one of the axes {list(axes)}")
    key = minimize if minimize is not None else maximize
    if not isinstance(key, str):
        raise ValueError(f"{goal} must be the name of an output of fn, got {key!r}")
    return goal, key


def _progress_bar(progress: bool | None, total: int, done: int):
    if progress is None:
        progress = sys.stderr.isatty() and total > 1
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="chunk", desc="sweep", file=sys.stderr)
