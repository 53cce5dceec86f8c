"""Whether runs can determine a fit, and how well a fit determined what it reports.

Every fit runs these checks (``fit_huber``, ``bootstrap``, ``fit_isoflop``,
``fit_envelope``; ``scalinglaws fit`` runs the design check before it starts, whatever
the approach). What is refused and what is warned:

Refused, with a ``ValueError`` that says what is missing:

* a design that cannot identify the fit at all (:func:`check_spread`): fewer runs than
  free parameters, or a single value (within ``SAME_DEX``) of a quantity the fit is
  measured on: the sizes N, the token counts D, the budgets (FLOPs), the epochs D / U of
  a data-constrained law, and for a law of N and D with both exponents free the tokens
  per parameter D / N. Along one ratio D = k N both terms A / N^alpha and B / (k N)^beta
  are powers of N alone: alpha and beta are not separately identified, and how the loss
  trades N against D, the compute-optimal split, is not measured at all.
* a fit whose best law the library's own solvers would reject (:func:`check_fitted_law`):
  a parameter infinite, NaN or out of range (a negative exponent, B = inf).
* a bootstrap in which no refit converged to a valid law.

Warned (``RuntimeWarning``), the result returned:

* a fit that leaves a direction of its parameters undetermined, whose exponents are not
  significantly positive, or whose compute-optimal exponent is not significantly inside
  (0, 1) (:func:`conditioning`): the warning gives the standard errors, the least
  determined direction and the spans of the runs, and says what to add.
* a bootstrap in which some refits did not converge: its intervals use the others.
* a power law of the compute-optimal size against compute (approaches 1 and 2) through
  2 points, which has no uncertainty, or whose exponent is not significantly inside
  (0, 1) (:func:`exponent_problem`). An IsoFLOP parabola whose curvature is not
  significantly positive is skipped, with its reason.

"Significantly" means the 95% interval, value +- t standard errors (Student's t with the
fit's residual degrees of freedom), lies inside the range.

Units: N in parameters, D in tokens, flops in FLOPs, loss in nats per token.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._validate import check_law

SAME_DEX = 0.01
"""Runs whose values of a quantity span less than this (log10) count as one value."""

NOISE_FLOOR = 1e-3
"""The least residual scale (log loss, i.e. 0.1% of the loss) the standard errors assume,
so that exact synthetic data are judged by what real measurements would allow."""

_LABELS = {
    "N": ("size", "N", "parameters", "add runs of other sizes"),
    "D": ("token count", "D", "tokens", "add runs on other numbers of tokens"),
    "flops": ("budget", "C", "FLOPs", "add runs at other compute budgets"),
    "tokens_per_param": ("tokens per parameter", "D/N", "", "add runs at other tokens-per-parameter ratios"),
    "epochs": ("epochs", "D/U", "", "add runs that repeat their unique data a different number of times"),
}

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile(dof: float) -> float:
    """The 97.5% quantile of Student's t with ``dof`` degrees of freedom (NaN below 1).

    Tabulated to 30 degrees of freedom; beyond, the normal quantile with the first two
    terms of its expansion in 1/dof (Abramowitz & Stegun 26.7.5).
    """
    if not dof >= 1:
        return float("nan")
    if dof <= len(_T975):
        return _T975[int(dof) - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)


def columns(runs) -> dict[str, np.ndarray]:
    """The quantities a design is judged on, per run with positive weight."""
    keep = runs.weight > 0
    out = {"N": runs.N[keep], "D": runs.D[keep], "flops": runs.flops[keep],
           "tokens_per_param": runs.D[keep] / runs.N[keep]}
    if runs.unique_tokens is not None:
        out["epochs"] = runs.D[keep] / np.minimum(runs.unique_tokens[keep], runs.D[keep])
    return out


def spans(runs, names) -> str:
    """``"N 1e+08 to 1e+11 (3 dex), D/N 20 to 20 (0 dex)"`` for the quantities ``names``."""
    values = columns(runs)
    parts = []
    for name in names:
        low, high = float(values[name].min()), float(values[name].max())
        parts.append(f"{_LABELS[name][1]} {low:.3g} to {high:.3g} ({np.log10(high / low):.2g} dex)")
    return ", ".join(parts)


def narrowest(runs, names) -> str:
    """What to add to the runs: the advice for the quantity of ``names`` with the least spread."""
    values = columns(runs)
    name = min(names, key=lambda n: np.ptp(np.log10(values[n])))
    return _LABELS[name][3]


def check_spread(runs, needs, *, n_free: int, caller: str, exponents=()) -> None:
    """Refuse a design that cannot identify the fit (``ValueError``, saying what is missing).

    Args:
        runs: the runs (only those with positive weight count).
        needs: the quantities that must take more than one value: any of ``"N"``,
            ``"D"``, ``"flops"``, ``"tokens_per_param"``, ``"epochs"``.
        n_free: the number of free parameters (the runs must outnumber them).
        caller: the function's name, which starts the message.
        exponents: the law's exponents whose separation needs several ``"tokens_per_param"``
            (named in that message).
    """
    values = columns(runs)
    count = len(values["N"])
    if count <= n_free:
        unweighted = " (runs of weight 0 do not count)" if count < len(runs) else ""
        raise ValueError(f"{caller}: {count} runs are too few to determine {n_free} free parameters{unweighted}: "
                         "give more runs than parameters")
    for name in needs:
        column = values[name]
        if np.ptp(np.log10(column)) >= SAME_DEX:
            continue
        label, symbol, unit, advice = _LABELS[name]
        value = float(np.exp(np.mean(np.log(column))))
        within = "" if np.ptp(column) == 0 else f" (within {SAME_DEX} dex)"
        unit = f" {unit}" if unit else ""
        if name == "tokens_per_param":
            pair = " and ".join(exponents) if exponents else "the exponents of N and D"
            fix = f", or fix {' or '.join(exponents)}" if exponents else ""
            consequence = (f"{pair} are not separately identified, nor is the compute-optimal split of "
                           f"compute between N and D; {advice}{fix}")
        else:
            consequence = f"the loss's dependence on {symbol} is not measured; {advice}"
        raise ValueError(f"{caller}: all {count} runs have the same {label} {symbol}={value:.4g}{unit}{within}: "
                         f"{consequence}")


def check_fitted_law(law, *, caller: str, detail: str = "") -> None:
    """Refuse a fitted law that the library's solvers would reject (``ValueError``).

    ``detail`` (e.g. the spans of the runs and what to add) ends the message.
    """
    try:
        check_law(law)
    except ValueError as error:
        raise ValueError(f"{caller}: the best fit is not a valid law ({error}): the runs do not determine "
                         f"it{detail}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class Conditioning:
    """How well the runs determined a fit, at its optimum.

    Attributes:
        names: the coordinates assessed (free and not on a bound), in the fit's coordinates.
        values: their fitted values.
        eigenvalues: of the Gauss-Newton matrix J^T W J of the log-loss residuals in
            those coordinates, ascending.
        weakest: the least determined direction: the eigenvector of the smallest
            eigenvalue of that matrix scaled to unit diagonal (a correlation-like matrix,
            so coordinates of different scales compare), by coordinate, unit length. The
            fit is singular when that eigenvalue is below 1e-12 of the largest.
        noise: the residual scale assumed (log loss): 1.4826 x the median absolute
            residual, at least ``NOISE_FLOOR``.
        standard_errors: noise x sqrt(diag((J^T W J)^-1)), by coordinate.
        split: ``(a, standard error)`` of the compute-optimal exponent a = e_D / (e_N + e_D)
            of a law of N and D with exponents e_N, e_D, or None.
        dof: residual degrees of freedom (weighted runs minus coordinates).
        problems: what is not determined, in words (empty when all is well).
    """

    names: tuple[str, ...]
    values: np.ndarray
    eigenvalues: np.ndarray
    weakest: dict[str, float]
    noise: float
    standard_errors: dict[str, float]
    split: tuple[float, float] | None
    dof: float
    problems: tuple[str, ...]

    @property
    def condition(self) -> float:
        """Largest over smallest eigenvalue (inf when singular)."""
        low = self.eigenvalues[0] if len(self.eigenvalues) else 1.0
        return float(self.eigenvalues[-1] / low) if low > 0 else float("inf")

    def describe_weakest(self) -> str:
        """``"alpha (+0.71), beta (-0.70)"``: the coordinates of the weakest direction above 0.1."""
        parts = sorted(self.weakest.items(), key=lambda item: -abs(item[1]))
        return ", ".join(f"{name} ({value:+.2f})" for name, value in parts if abs(value) >= 0.1)


def conditioning(jacobian, residuals, weight, names, values, *, exponents=(), split=None) -> Conditioning:
    """The conditioning of a fit of log loss at its optimum.

    Args:
        jacobian: d(log predicted loss)/d(coordinates) per run, shape (n, P), in the
            coordinates ``names`` (free and not on a bound).
        residuals: log predicted - log observed loss, shape (n,).
        weight: the runs' weights, shape (n,).
        names, values: the coordinates and their fitted values.
        exponents: coordinates that must be significantly positive.
        split: ``(e_N, e_D)``, the coordinates whose ratio sets the compute-optimal
            exponent a = e_D / (e_N + e_D), which must be significantly inside (0, 1); or None.

    Returns:
        ``Conditioning``; its ``problems`` say what is not significant.

    References: Huber 1981, "Robust Statistics", sec. 7.6 (the covariance of M-estimates);
    Hoffmann et al. 2022, appendix D.2 (a = beta / (alpha + beta)).
    """
    J = np.asarray(jacobian, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    names = tuple(names)
    values = np.asarray(values, dtype=np.float64)
    keep = w > 0
    dof = float(np.sum(keep) - len(names))
    scale = 1.4826 * float(np.median(np.abs(r[keep]))) * np.sqrt(max(np.sum(keep), 1) / max(dof, 1.0))
    noise = max(scale, NOISE_FLOOR) if np.isfinite(scale) else float("inf")
    gram = J.T @ (w[:, None] * J)
    finite = np.isfinite(gram).all()
    eigenvalues = np.linalg.eigvalsh(gram) if finite else np.full(len(names), np.nan)
    singular = True
    weakest = np.full(len(names), np.nan)
    covariance = np.full(gram.shape, np.inf)
    if not names:
        singular = False
    elif finite and np.all(np.diag(gram) > 0):
        diagonal = np.sqrt(np.diag(gram))
        scaled, vectors = np.linalg.eigh(gram / np.outer(diagonal, diagonal))
        weakest = vectors[:, 0] * np.sign(vectors[np.argmax(np.abs(vectors[:, 0])), 0])
        singular = not scaled[0] > 1e-12 * scaled[-1]  # judged scale-free: unit diagonal
        if not singular:
            covariance = noise**2 * np.linalg.inv(gram)
    errors = np.sqrt(np.abs(np.diag(covariance)))
    t = t_quantile(dof)
    problems = []
    if singular:
        problems.append("the runs leave a direction of the parameters undetermined (the Gauss-Newton matrix "
                        "is singular)")
    weak = [f"{name} = {values[names.index(name)]:.3g} +- {errors[names.index(name)]:.2g}" for name in exponents
            if name in names and not values[names.index(name)] - t * errors[names.index(name)] > 0]
    if weak:
        problems.append(f"{' and '.join(weak)} (standard error) {'is' if len(weak) == 1 else 'are'} not "
                        "significantly positive")
    split_value = None
    if split is not None and split[0] in names and split[1] in names:
        i, j = names.index(split[0]), names.index(split[1])
        e_N, e_D = values[i], values[j]
        a = e_D / (e_N + e_D)
        gradient = np.zeros(len(names))
        gradient[i], gradient[j] = -e_D / (e_N + e_D) ** 2, e_N / (e_N + e_D) ** 2
        with np.errstate(invalid="ignore"):
            error = float(np.sqrt(abs(gradient @ covariance @ gradient))) if not singular else float("inf")
        split_value = (float(a), error)
        if not (a - t * error > 0 and a + t * error < 1):
            problems.append(f"the compute-optimal exponent a = {a:.3g} +- {error:.2g} of N* ~ C^a is not "
                            "significantly between 0 and 1")
    return Conditioning(names=names, values=values, eigenvalues=eigenvalues,
                        weakest=dict(zip(names, map(float, weakest))), noise=float(noise),
                        standard_errors=dict(zip(names, map(float, errors))), split=split_value, dof=dof,
                        problems=tuple(problems))


def exponent_problem(value: float, error: float, points: int, *, name: str = "a", what: str) -> str | None:
    """What is wrong with a power-law exponent fitted through ``points`` points, or None.

    ``value`` must be significantly inside (0, 1) (95%, Student's t with ``points - 2``
    degrees of freedom); with 2 points there is no uncertainty to judge. ``what`` says what
    the exponent measures, e.g. ``"how N* grows with compute"``.
    """
    if points < 3:
        return (f"{name} = {value:.3g} comes from a line through {points} points, which has no uncertainty: "
                f"{what} is not tested")
    t = t_quantile(points - 2)
    if value - t * error > 0 and value + t * error < 1:
        return None
    return (f"{name} = {value:.3g} +- {error:.2g} (standard error over {points} points; 95% interval "
            f"{value - t * error:.3g} to {value + t * error:.3g}) is not significantly between 0 and 1: the runs "
            f"do not determine {what}")
