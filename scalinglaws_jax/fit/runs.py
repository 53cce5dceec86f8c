"""Runs: the finished training runs a law is fitted to, as validated float64 arrays.

Units: N in parameters, D in training tokens, flops in FLOPs, loss in nats per token.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import numbers
import operator
from pathlib import Path

import numpy as np

_FIELDS = ("N", "D", "loss", "flops", "weight", "group", "unique_tokens")
_LABELS = "integer labels between -2^63 and 2^63 - 1"
"""What a group label must be: it is stored as int64."""


@dataclasses.dataclass(frozen=True)
class _Bad:
    """Where a ValueError from Runs came from: ``column[index] = value`` is not ``wanted``;
    a derived column names its ``formula`` and the columns it was computed from."""

    column: str
    index: int
    value: float
    wanted: str
    formula: str | None = None
    sources: tuple[str, ...] = ()


def _bad_value(column: str, index: int, value, wanted: str, formula=None, sources=()) -> ValueError:
    """A plain ValueError for users, carrying ``_Bad`` for from_csv / from_columns."""
    how = "" if formula is None else f" ({formula})"
    error = ValueError(f"{column} must be {wanted}{how}, got {column}[{index}]={value!r}")
    error.bad = _Bad(column, index, value, wanted, formula, sources)
    return error


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Runs:
    """Training runs (N, D, loss) with their compute, optional weights and groups.

    Give D or flops (the other follows from C = 6 N D), or both when the real compute
    differs from 6 N D. The arrays are 1-D float64 NumPy arrays of equal length, copied
    and made read-only on construction, after checking that N, D, loss and flops are
    finite and positive and weights finite and >= 0 with a positive sum. ``group`` is a
    read-only int64 array, or None.

    Args:
        N: parameters of each run.
        D: training tokens of each run.
        loss: final loss of each run (nats per token).
        flops: training compute of each run (FLOPs); default 6 N D.
        weight: weight of each run in a fit (default 1).
        group: an integer label per run (a run id for checkpoints, or an IsoFLOP budget),
            or None. Integer-valued floats are accepted; names are not (map them first,
            e.g. ``np.unique(names, return_inverse=True)[1]``).
        unique_tokens: the unique tokens each run's D was drawn from (tokens), for
            data-constrained fits; None when data was not repeated.

    Raises:
        ValueError: naming the column and the first offending index and value.

    References: Hoffmann et al. 2022, sec. 3 (the three fitting approaches use such runs).
    """

    N: np.ndarray
    D: np.ndarray | None = None
    loss: np.ndarray | None = None
    flops: np.ndarray | None = None
    weight: np.ndarray | None = None
    group: np.ndarray | None = None
    unique_tokens: np.ndarray | None = None

    def __post_init__(self):
        if self.loss is None:
            raise ValueError("loss is required: the final loss of each run")
        if self.D is None and self.flops is None:
            raise ValueError("give D (training tokens) or flops (training FLOPs) for each run")
        columns = {
            name: _column(name, getattr(self, name), allow_zero=name == "weight")
            for name in ("N", "D", "loss", "flops", "weight", "unique_tokens")
            if getattr(self, name) is not None
        }
        if self.group is not None:
            columns["group"] = _group(self.group)
        lengths = {name: len(value) for name, value in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"columns differ in length: {lengths}")
        if lengths["N"] == 0:
            raise ValueError("Runs needs at least one run, got none")
        N = columns["N"]
        if "weight" not in columns:
            columns["weight"] = np.ones_like(N)
        elif not columns["weight"].sum() > 0:
            raise ValueError("weight must have a positive sum, got all zeros")
        with np.errstate(over="ignore", under="ignore"):  # an overflow to inf is reported below
            if "D" not in columns:
                columns["D"] = _check("D", columns["flops"] / (6.0 * N), "finite and positive",
                                      formula="flops / 6N", sources=("flops", "N"))
            if "flops" not in columns:
                columns["flops"] = _check("flops", 6.0 * N * columns["D"], "finite and positive",
                                          formula="6 N D", sources=("N", "D"))
        for name, value in columns.items():
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.N)

    def __repr__(self) -> str:
        def span(values):
            return f"{values.min():.4g}..{values.max():.4g}"

        groups = "" if self.group is None else f", {len(np.unique(self.group))} groups"
        return (
            f"Runs({len(self)} runs, N {span(self.N)}, D {span(self.D)}, "
            f"flops {span(self.flops)}, loss {span(self.loss)}{groups})"
        )

    def select(self, mask) -> Runs:
        """The runs that ``mask`` (a boolean array of length ``len(self)``, or integer
        indices) selects, in that order."""
        index = np.asarray(mask)
        if index.dtype == bool and index.shape != (len(self),):
            raise ValueError(f"a boolean mask must have shape ({len(self)},), got {index.shape}")
        if index.dtype != bool and not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"mask must be booleans or integer indices, got dtype {index.dtype}")
        keep = {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}
        try:
            return Runs(**{name: value[index] for name, value in keep.items()})
        except IndexError as error:
            raise ValueError(f"mask does not select runs of these {len(self)}: {error}") from None

    def drop_highest(self, k: int) -> Runs:
        """The runs without the ``k`` highest-loss ones, in their original order.

        Besiroglu et al. 2024 drop the 5 highest-loss Chinchilla points. Among equal
        losses at the cut, the earlier rows are kept.
        """
        k = operator.index(k)
        if not 0 <= k < len(self):
            raise ValueError(f"k must be in [0, {len(self)}), got {k}")
        return self.select(np.sort(np.argsort(self.loss, kind="stable")[: len(self) - k]))

    @classmethod
    def from_columns(cls, table, columns: dict[str, str] | None = None) -> Runs:
        """Runs from a table indexable by column name (a pandas DataFrame, a dict of arrays).

        Args:
            table: a pandas (or polars) DataFrame, a mapping of names to sequences, or a
                NumPy structured array.
            columns: library names (N, D, loss, flops, weight, group, unique_tokens) to the table's
                column names; unmapped library names are looked up as themselves.

        Raises:
            ValueError: a mapped column that is missing or repeated, a required one that
                cannot be found, or a bad value (naming the table column and the row).
        """
        mapping = _mapping(columns)
        if hasattr(table, "columns"):
            names = list(table.columns)
        elif hasattr(table, "keys"):
            names = list(table.keys())
        elif getattr(getattr(table, "dtype", None), "names", None):
            names = list(table.dtype.names)
        else:
            raise TypeError(f"table must be a DataFrame, a mapping or a structured array, got {type(table).__name__}")
        sources = _locate(names, mapping, "table")
        values = {name: np.asarray(table[source]) for name, source in sources.items()}
        _require(values, names)
        try:
            return cls(**values)
        except ValueError as error:
            bad = getattr(error, "bad", None)
            if bad is None or sources.get(bad.column, bad.column) == bad.column:
                raise
            raise ValueError(
                f"column {sources[bad.column]!r} ({bad.column}) must be {bad.wanted}, "
                f"got {bad.value!r} at row {bad.index}"
            ) from None

    @classmethod
    def from_csv(cls, path, columns: dict[str, str] | None = None) -> Runs:
        """Runs from a CSV file (UTF-8, optional BOM) with a header row.

        Header names are stripped of surrounding spaces; blank lines are skipped.

        Args:
            path: the file.
            columns: library names to CSV headers, e.g. ``{"N": "Model Size",
                "flops": "Training FLOP", "loss": "loss"}``; unmapped names are looked
                up as themselves.

        Raises:
            ValueError: naming the file, and the line and column where there is one: a
                file that is not UTF-8, empty or without data rows; a missing or
                duplicate column; a row with the wrong number of fields, a field the
                ``csv`` module refuses, a value that is not a finite number (a group label
                that is not an integer within int64), or compute 6 N D that overflows.
        """
        mapping = _mapping(columns)
        data = Path(path).read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(_not_utf8(path, data, error.start)) from None
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            try:
                header = [name.strip() for name in next(reader)]
            except StopIteration:
                raise ValueError(f"{path}: the file is empty") from None
            located = _locate(header, mapping, "header", path)
            index = {name: header.index(source) for name, source in located.items()}
            _require(index, header, prefix=f"{path}: ")
            values = {name: [] for name in index}
            lines = []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise ValueError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
                for name, i in index.items():
                    parse = _label if name == "group" else _number
                    values[name].append(parse(path, line, header[i], row[i]))
                lines.append(line)
        except csv.Error as error:
            raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
        if not lines:
            raise ValueError(f"{path}: Runs needs at least one run; the file has a header and no data rows")
        try:
            return cls(**{name: np.asarray(column) for name, column in values.items()})
        except ValueError as error:
            bad = getattr(error, "bad", None)
            if bad is None:
                raise ValueError(f"{path}: {error}") from None
            if bad.formula is not None:
                names = ", ".join(repr(header[index[name]]) for name in bad.sources)
                raise ValueError(f"{path}, line {lines[bad.index]}: {bad.column} = {bad.formula} (columns {names}) "
                                 f"must be {bad.wanted}, got {bad.value!r}") from None
            raise ValueError(
                f"{path}, line {lines[bad.index]}: column {header[index[bad.column]]!r} ({bad.column}) "
                f"must be {bad.wanted}, got {bad.value!r}"
            ) from None


def _not_utf8(path, data: bytes, at: int) -> str:
    """The message for a file that is not UTF-8 at byte offset ``at``: its line and column."""
    line = data.count(b"\n", 0, at) + 1
    problem = f"is not UTF-8 text (byte 0x{data[at]:02x}); save the file as UTF-8"
    if line == 1:
        return f"{path}, line 1: the header {problem}"
    header = next(csv.reader([data[: data.index(b"\n")].decode("utf-8-sig", "replace")]), [])
    start = data.rfind(b"\n", 0, at) + 1
    field = len(next(csv.reader([data[start:at].decode("utf-8", "replace")]), [""])) - 1
    column = repr(header[field].strip()) if 0 <= field < len(header) else f"{field + 1}"
    return f"{path}, line {line}: column {column} {problem}"


def _locate(names: list[str], mapping: dict[str, str], where: str, path=None) -> dict[str, str]:
    """Library name -> source column for every field present once among ``names``.

    A column present more than once, or a mapped column that is absent, is an error.
    """
    prefix = f"{path}: " if path is not None else ""
    sources = {}
    for name in _FIELDS:
        source = mapping.get(name, name)
        count = names.count(source)
        if count > 1:
            raise ValueError(f"{prefix}column {source!r} (for {name}) appears {count} times in the {where}")
        if count == 1:
            sources[name] = source
        elif name in mapping:
            raise ValueError(f"{prefix}no column {source!r} (for {name}); the {where} has {names}")
    return sources


def _mapping(columns) -> dict[str, str]:
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(_FIELDS))
    if unknown:
        raise ValueError(f"columns may map {list(_FIELDS)}, got unknown name(s) {unknown}")
    sources = list(mapping.values())
    repeated = sorted({source for source in sources if sources.count(source) > 1})
    if repeated:
        raise ValueError(f"columns maps several names to the same column(s) {repeated}")
    return mapping


def _require(found, names, prefix: str = "") -> None:
    """Raise unless N, loss and D or flops were found among the table's ``names``."""
    missing = [name for name in ("N", "loss") if name not in found]
    if "D" not in found and "flops" not in found:
        missing.append("D or flops")
    if missing:
        raise ValueError(
            f"{prefix}no column for {', '.join(missing)}; the table has {list(names)}: "
            "map them with columns={'N': ..., 'loss': ..., 'D' or 'flops': ...}"
        )


def _number(path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: column {column!r} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}: column {column!r} must be finite, got {text!r}")
    return value


def _label(path, line: int, column: str, text: str) -> int:
    """A group label: an integer, or an integer-valued number, within int64."""
    try:
        value = int(text)  # every digit, also beyond float64's 2^53
    except ValueError:
        value = None
    if value is None:
        number = _number(path, line, column, text)
        if not number.is_integer():
            raise ValueError(f"{path}, line {line}: column {column!r} must be an integer label, got {text!r}")
        value = int(number)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{path}, line {line}: column {column!r} must be an integer label "
                         f"between -2^63 and 2^63 - 1, got {text!r}")
    return value


def _column(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{name} must hold numbers: {error}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    wanted = "finite and non-negative" if allow_zero else "finite and positive"
    return _check(name, array, wanted, allow_zero=allow_zero)


def _check(name: str, array: np.ndarray, wanted: str, *, allow_zero: bool = False, formula=None,
           sources=()) -> np.ndarray:
    ok = np.isfinite(array) & ((array >= 0) if allow_zero else (array > 0))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise _bad_value(name, i, array[i].item(), wanted, formula, sources)
    return array


def _group(value) -> np.ndarray:
    array = np.array(value)  # dtype object for Python ints beyond 64 bits
    if array.ndim != 1:
        raise ValueError(f"group must be a 1-D array of integer labels, got shape {array.shape}")
    if array.dtype == object and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in array):
        inside = np.array([-(2**63) <= v < 2**63 for v in array], bool)
    elif np.issubdtype(array.dtype, np.integer):
        inside = array <= np.iinfo(np.int64).max if array.dtype == np.uint64 else np.ones(array.shape, bool)
    elif np.issubdtype(array.dtype, np.floating):
        ok = np.isfinite(array)
        ok[ok] = array[ok] == np.round(array[ok])
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise _bad_value("group", i, array[i].item(), "integer labels")
        inside = np.abs(array) < 2.0**63
    else:
        example = f" (group[0]={_plain(array[0])!r})" if len(array) else ""
        raise ValueError(
            f"group must hold integer labels, got dtype {array.dtype}{example}; "
            "map names to integers first, e.g. np.unique(names, return_inverse=True)[1]"
        )
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise _bad_value("group", i, _plain(array[i]), _LABELS)
    return array.astype(np.int64)


def _plain(value):
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value
