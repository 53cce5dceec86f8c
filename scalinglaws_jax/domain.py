"""Domain: the region of (N, D) a law was fitted on, so a plan can say how far it
extrapolates.

A law is fitted on runs of a finite range of sizes and token counts, and used beyond it:
one or two orders of magnitude is what scaling laws are for, far beyond is a guess.
``Domain.extrapolation`` measures how many times beyond each range a plan lies,
``Domain.describe`` says it in words, and ``Domain.is_far`` marks plans beyond
``FAR_OUTSIDE``. ``PRESET_DOMAINS`` holds the published ranges of the preset laws; a fitted
law's domain is ``Domain.from_runs(runs)``.

Units: N in parameters, D in tokens, flops in FLOPs (C = 6 N D), tokens per parameter D/N.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

_RANGES = ("N", "D", "flops", "tokens_per_param")

_LABELS = {"N": "N", "D": "D", "flops": "C", "tokens_per_param": "D/N"}

FAR_OUTSIDE = {"N": 1e3, "D": 1e3, "flops": 1e6, "tokens_per_param": 10.0}
"""Factors beyond a range past which a plan is far outside the domain (a doubtful result,
not an ordinary extrapolation): N or D 1000x beyond the fitted runs (three orders of
magnitude; compute, C = 6 N D, 1e6x, the product of both), or tokens per parameter 10x
beyond (the law's form is least reliable there: its error tracks D/N)."""


def _span(name: str, values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"Domain.{name} needs finite positive values, got {values!r}")
    return float(values.min()), float(values.max())


def _quantities(N, D) -> dict[str, np.ndarray]:
    """The ranged quantities of plans (N, D): N, D, compute 6 N D and tokens per parameter."""
    N, D = np.broadcast_arrays(np.asarray(N, dtype=np.float64), np.asarray(D, dtype=np.float64))
    return {"N": N, "D": D, "flops": 6.0 * N * D, "tokens_per_param": D / N}


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

    def extrapolation(self, N, D) -> dict[str, np.ndarray]:
        """How many times beyond each range the plans (N, D) lie.

        Args:
            N: parameters (any shape; broadcast with D).
            D: training tokens.

        Returns:
            ``{"N": ..., "D": ..., "flops": ..., "tokens_per_param": ...}``, each a float
            array: value / highest above the range, value / lowest below it (< 1), 1
            inside, NaN where the plan is NaN.
        """
        factors = {}
        for name, value in _quantities(N, D).items():
            low, high = getattr(self, name)
            factor = np.where(value > high, value / high, np.where(value < low, value / low, 1.0))
            factors[name] = np.where(np.isnan(value), np.nan, factor)
        return factors

    def is_far(self, N, D) -> np.ndarray:
        """True where a plan lies beyond a range by more than its ``FAR_OUTSIDE`` factor."""
        far = np.zeros(np.broadcast_shapes(np.shape(N), np.shape(D)), bool)
        for name, factor in self.extrapolation(N, D).items():
            limit = FAR_OUTSIDE[name]
            far |= (factor > limit) | (factor < 1.0 / limit)
        return far

    def describe(self, N, D) -> list[str]:
        """One plan's extrapolation in words, a phrase per range it leaves (none inside).

        ``"N = 4.97e5 is 115x below the fitted range of N (5.73e7-1.62e10)"``.
        """
        values = _quantities(float(N), float(D))
        phrases = []
        for name, factor in self.extrapolation(N, D).items():
            factor = float(factor)
            if not np.isfinite(factor) or factor == 1.0:
                continue
            low, high = getattr(self, name)
            times, side = (factor, "above") if factor > 1 else (1.0 / factor, "below")
            phrases.append(f"{_LABELS[name]} = {short_number(float(values[name]))} is {short_number(times)}x {side} "
                           f"the fitted range of {_LABELS[name]} ({short_number(low)}-{short_number(high)})")
        return phrases

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


def short_number(x: float) -> str:
    """3 significant digits with a short exponent where one is needed: 1e22, 2.5e10, 341, 0.456."""
    mantissa, _, exponent = f"{x:.3g}".partition("e")
    return mantissa + (f"e{int(exponent)}" if exponent else "")


PRESET_DOMAINS = {
    # The Chinchilla runs as digitised by Besiroglu et al. 2024 (sl.datasets.chinchilla()):
    # all 245 for Hoffmann et al.'s fit ("over 400 models from 70 million to over 16
    # billion parameters on 5 to 500 billion tokens", sec. 3), the 240 without the 5
    # highest-loss runs for Besiroglu et al.'s (their replication's data).
    "hoffmann-2022": Domain(
        N=(57334197.40687078, 16183346310.730501),
        D=(245105957.9245427, 317754489343.9688),
        flops=(1.3972367362937152e18, 1.2956022673438285e22),
        tokens_per_param=(0.03606833029110803, 341.0964613180141),
    ),
    "epoch-2024": Domain(
        N=(57334197.40687078, 16183346310.730501),
        D=(818680776.817937, 317754489343.9688),
        flops=(1.3972367362937152e18, 1.2956022673438285e22),
        tokens_per_param=(0.45639240941944537, 341.0964613180141),
    ),
    # Kaplan et al. 2020, sec. 1: "models ranging in size from 768 to 1.5 billion
    # non-embedding parameters", "dataset sizes ranging from 22 million to 23 billion
    # tokens"; compute and tokens per parameter are the corners of that box.
    "kaplan-2020": Domain(
        N=(768.0, 1.5e9),
        D=(22e6, 23e9),
        flops=(6.0 * 768.0 * 22e6, 6.0 * 1.5e9 * 23e9),
        tokens_per_param=(22e6 / 1.5e9, 23e9 / 768.0),
    ),
    # Muennighoff et al. 2023, abstract: runs "up to 900 billion training tokens and 9
    # billion parameter models"; the smallest are 7M parameters (the first architecture of
    # their model configurations, utils/model_params.sh in github.com/huggingface/
    # datablations) and 100M unique tokens, trained for at least one epoch. Compute and
    # tokens per parameter are the corners of that box.
    "muennighoff-2023": Domain(
        N=(7e6, 9e9),
        D=(1e8, 9e11),
        flops=(6.0 * 7e6 * 1e8, 6.0 * 9e9 * 9e11),
        tokens_per_param=(1e8 / 9e9, 9e11 / 7e6),
    ),
}
"""The ranges each preset law was fitted on, by the preset's CLI name (see ``laws.PRESETS``)."""
