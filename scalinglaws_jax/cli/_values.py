"""Value lists, ranges and ``NAME=VALUE`` pairs as the command reads them from text.

Each parser raises ValueError with a message fit for the command line; the argparse
types in ``_arguments`` turn those into usage errors.
"""

from __future__ import annotations

import math

import numpy as np

MAX_RANGE_POINTS = 1_000_000
"""Most points one ``start:stop:num`` range may ask for."""

RUN_COLUMNS = ("N", "D", "loss", "flops", "weight", "group")
"""Library names that ``--columns`` maps to CSV headers (see ``Runs.from_csv``)."""

LAW_PARAMETERS = ("E", "A", "B", "alpha", "beta")
"""The fitted parameters of L = E + A / N^alpha + B / D^beta, the names ``--fix`` takes."""


def parse_values(text: str) -> np.ndarray:
    """Parse a comma-separated list of numbers and log-spaced ranges into a float array.

    Each item is a number (``1e21``) or a range ``start:stop:num``: ``num`` log-spaced
    points from ``start`` to ``stop``, both included (``np.geomspace``). ``num`` is an
    integer >= 2; ``start`` and ``stop`` are finite and positive, and ``stop < start``
    gives a descending range. Items keep their order: ``"0,1e9:1e15:100"`` is 0 followed
    by 100 points. Signs are not checked for plain numbers (callers decide whether 0 or a
    negative value is allowed), but every number must be finite.

    Raises:
        ValueError: on an empty list or item, an unparsable number, NaN or infinity, a
            range without exactly three parts, non-positive endpoints, or a bad ``num``.
    """
    items = text.split(",")
    if not text.strip() or any(not item.strip() for item in items):
        raise ValueError(f"empty value in {text!r}")
    return np.concatenate([_parse_range(item) if ":" in item else [_parse_number(item)] for item in items])


def _parse_number(text: str) -> float:
    """A finite float from ``text``."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"values must be finite, got {text.strip()!r}")
    return value


def _parse_range(text: str) -> np.ndarray:
    """The points of one ``start:stop:num`` range (see ``parse_values``)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"a range is start:stop:num, got {text.strip()!r}")
    start, stop = _parse_number(parts[0]), _parse_number(parts[1])
    if start <= 0 or stop <= 0:
        raise ValueError(f"range endpoints must be positive (log-spaced), got {text.strip()!r}")
    try:
        num = int(parts[2])
    except ValueError:
        raise ValueError(f"the number of points must be an integer, got {parts[2].strip()!r}") from None
    if not 2 <= num <= MAX_RANGE_POINTS:
        raise ValueError(f"the number of points must be between 2 and {MAX_RANGE_POINTS}, got {num}")
    return np.geomspace(start, stop, num)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Parse ``name=value`` pairs separated by commas, values optionally quoted.

    Quotes work as in a shell: ``N="Model Size",loss=loss`` gives ``[("N", "Model
    Size"), ("loss", "loss")]``; a quoted value may hold commas and ``=``. Names and
    values are stripped of surrounding spaces.

    Raises:
        ValueError: an unclosed quote, an empty item, an item without ``=``, or an empty
            name or value.
    """
    items, item, quote = [], [], None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
            else:
                item.append(char)
        elif char in "\"'":
            quote = char
        elif char == ",":
            items.append("".join(item))
            item = []
        else:
            item.append(char)
    if quote is not None:
        raise ValueError(f"unclosed {quote} quote in {text!r}")
    items.append("".join(item))
    pairs = []
    for item in items:
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not item.strip():
            raise ValueError(f"empty item in {text!r}: give NAME=VALUE pairs separated by commas")
        if not equals:
            raise ValueError(f"{item.strip()!r} is not NAME=VALUE")
        if not name or not value:
            raise ValueError(f"{item.strip()!r}: both NAME and VALUE must be non-empty")
        pairs.append((name, value))
    return pairs


def parse_columns(text: str) -> dict[str, str]:
    """``--columns``: library names (N, D, loss, flops, weight, group) to CSV headers.

    ``'N="Model Size",flops="Training FLOP",loss=loss'`` gives ``{"N": "Model Size",
    "flops": "Training FLOP", "loss": "loss"}`` (see ``parse_pairs`` for the syntax).

    Raises:
        ValueError: malformed pairs, an unknown or repeated name, or one header mapped
            from two names.
    """
    mapping = {}
    for name, header in parse_pairs(text):
        if name not in RUN_COLUMNS:
            raise ValueError(f"unknown name {name!r}: map {', '.join(RUN_COLUMNS)} to CSV headers")
        if name in mapping:
            raise ValueError(f"{name} is mapped twice")
        if header in mapping.values():
            raise ValueError(f"header {header!r} is mapped from two names")
        mapping[name] = header
    return mapping


def parse_fixed(text: str) -> dict[str, float]:
    """``--fix``: law parameters pinned to values, ``"E=1.69,alpha=0.34"``.

    Names are those of L = E + A / N^alpha + B / D^beta; every value must be finite and
    positive.

    Raises:
        ValueError: malformed pairs, an unknown or repeated name, or a bad value.
    """
    fixed = {}
    for name, value in parse_pairs(text):
        if name not in LAW_PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}: the law's parameters are {', '.join(LAW_PARAMETERS)}")
        if name in fixed:
            raise ValueError(f"{name} is fixed twice")
        number = _parse_number(value)
        if number <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        fixed[name] = number
    return fixed
