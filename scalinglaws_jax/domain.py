"""Domain: the region of (N, D) a law was fitted on, so a plan can say how far it
extrapolates.

Units: N in parameters, D in tokens, flops in FLOPs (C = 6 N D), tokens per parameter D/N.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

_RANGES = ("N", "D", "flops", "tokens_per_param")


def _span(name: str, values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"Domain.{name} needs finite positive values, got {values!r}")
    return float(values.min()), float(values.max())


@dataclasses.dataclass(frozen=True)
class Domain:
    """The ranges of the runs behind a law: each a ``(lowest, highest)`` pair.

    Attributes:
        N: parameters.
        D: training tokens.
        flops: training compute (FLOPs).
        tokens_per_param: D / N.

    References: Hoffmann et al. 2022, sec. 3 (laws are fitted on a finite range of runs
    and extrapolated beyond it).
    """

    N: tuple[float, float]
    D: tuple[float, float]
    flops: tuple[float, float]
    tokens_per_param: tuple[float, float]

    def __post_init__(self):
        for name in _RANGES:
            low, high = _span(name, getattr(self, name))
            object.__setattr__(self, name, (low, high))

    @classmethod
    def from_runs(cls, runs) -> Domain:
        """The domain of a ``Runs``: the smallest and largest N, D, flops and D/N."""
        return cls(N=runs.N, D=runs.D, flops=runs.flops, tokens_per_param=runs.D / runs.N)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain JSON-ready ranges, ``{"N": [low, high], ...}``."""
        return {name: list(getattr(self, name)) for name in _RANGES}

    @classmethod
    def from_dict(cls, ranges) -> Domain:
        """The inverse of ``to_dict``; raises ValueError naming what is missing or wrong."""
        if not isinstance(ranges, dict):
            raise ValueError(f"a domain must be a mapping of {', '.join(_RANGES)}, got {ranges!r}")
        missing = [name for name in _RANGES if name not in ranges]
        if missing:
            raise ValueError(f"a domain needs the ranges {', '.join(missing)}")
        pairs = {}
        for name in _RANGES:
            pair = ranges[name]
            if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(
                    isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in pair) or pair[0] > pair[1]:
                raise ValueError(f"domain range {name} must be [low, high] with 0 < low <= high, got {pair!r}")
            pairs[name] = tuple(float(v) for v in pair)
        return cls(**pairs)
