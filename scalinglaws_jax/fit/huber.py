"""Approach 3: batched multi-start Huber fits of a law to runs, and the bootstrap.

The objective (Hoffmann et al. 2022, sec. 3.3) is the sum over runs of
weight * huber_delta(log predicted loss - log observed loss), huber_delta(r) = r^2 / 2 for
|r| <= delta and delta (|r| - delta / 2) otherwise. It is minimised from every point of a
starting grid at once by a batched Levenberg-Marquardt method with second-order steps:
the Hessian of this problem spans eleven decades (DESIGN.md, "Known traps"), where
first-order methods crawl. Far from the optimum the steps use the Gauss-Newton matrix of
the Huber weights (iteratively reweighted least squares, always positive semi-definite);
near it, the exact Hessian, which converges quadratically.

A vmapped loop runs until its slowest item finishes, so the starts are screened in
stages: every start takes a few cheap steps, the most promising continue, and the best
few are polished to convergence. Every start reports the point and objective where it
stopped and whether it converged there.

Units: N in parameters, D in tokens, flops in FLOPs, loss in nats per token.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import warnings
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..laws import Chinchilla, ComputeLaw, DataConstrained, Kaplan
from .runs import Runs

DELTA = 1e-3
"""Huber threshold on log-loss residuals (Hoffmann et al. 2022; Besiroglu et al. 2024)."""


# ----------------------------------------------------------------------------------
# families: what is fitted, in which coordinates


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A law family as the fitter sees it.

    Attributes:
        names: the fitted coordinates (e.g. ``("a", "b", "e", "alpha", "beta")``).
        log_loss: ``log_loss(theta, features) -> log predicted loss`` for one parameter
            vector ``theta`` (shape (P,)) and ``features`` (a dict of run columns, each
            shape (n,)); elementwise in the runs.
        to_law: ``theta -> law`` (works on a batch of thetas along a leading axis).
        natural: the law's parameters that ``fixed`` and ``bounds`` may name, each with
            its coordinate and the map from the law's units to it (e.g. E -> e = log E).
        grid: the default starting grid, shape (S, P), or None (then ``grid=`` is required).
    """

    names: tuple[str, ...]
    log_loss: Callable
    to_law: Callable
    natural: dict[str, tuple[str, Callable]]
    grid: np.ndarray | None = None


def _hoffmann_grid() -> np.ndarray:
    """Hoffmann et al.'s 4500 starts: alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1},
    a, b in {0, 5, ..., 25} (Besiroglu et al. 2024, sec. 2), as (a, b, e, alpha, beta)."""
    exponents = np.arange(0.0, 2.01, 0.5)
    scales = np.arange(0.0, 25.01, 5.0)
    offsets = np.arange(-1.0, 1.01, 0.5)
    return np.array(list(itertools.product(scales, scales, offsets, exponents, exponents)))


def _chinchilla_log_loss(theta, features):
    a, b, e, alpha, beta = theta
    return jnp.logaddexp(jnp.logaddexp(a - alpha * features["log_N"], b - beta * features["log_D"]), e)


def _chinchilla_law(theta):
    return Chinchilla(E=jnp.exp(theta[..., 2]), A=jnp.exp(theta[..., 0]), B=jnp.exp(theta[..., 1]),
                      alpha=theta[..., 3], beta=theta[..., 4])


def _same(value):
    return value


_CHINCHILLA_NATURAL = {"E": ("e", np.log), "A": ("a", np.log), "B": ("b", np.log),
                       "alpha": ("alpha", _same), "beta": ("beta", _same)}


CHINCHILLA = Family(
    names=("a", "b", "e", "alpha", "beta"),
    log_loss=_chinchilla_log_loss,
    to_law=_chinchilla_law,
    natural=_CHINCHILLA_NATURAL,
    grid=_hoffmann_grid(),
)
"""L = E + A / N^alpha + B / D^beta fitted as LSE(a - alpha log N, b - beta log D, e)."""


def _kaplan_log_loss(theta, features):
    log_N_c, log_D_c, alpha_N, alpha_D = theta
    parameter_term = (alpha_N / alpha_D) * (log_N_c - features["log_N"])
    return alpha_D * jnp.logaddexp(parameter_term, log_D_c - features["log_D"])


def _kaplan_law(theta):
    nan = jnp.full(theta.shape[:-1], jnp.nan)
    return Kaplan(N_c=jnp.exp(theta[..., 0]), D_c=jnp.exp(theta[..., 1]), alpha_N=theta[..., 2],
                  alpha_D=theta[..., 3], C_c=nan, alpha_C=nan)


KAPLAN = Family(
    names=("log_N_c", "log_D_c", "alpha_N", "alpha_D"),
    log_loss=_kaplan_log_loss,
    to_law=_kaplan_law,
    natural={"N_c": ("log_N_c", np.log), "D_c": ("log_D_c", np.log), "alpha_N": ("alpha_N", _same),
             "alpha_D": ("alpha_D", _same)},
    grid=np.array(list(itertools.product(np.arange(20.0, 41.0, 5.0), np.arange(20.0, 41.0, 5.0),
                                         (0.05, 0.1, 0.2, 0.4), (0.05, 0.1, 0.2, 0.4)))),
)
"""Kaplan et al.'s joint law; C_c and alpha_C are not identified by (N, D, loss) and are NaN."""


def _compute_log_loss(theta, features):
    e, log_C0, alpha = theta
    return jnp.logaddexp(e, alpha * (log_C0 - features["log_flops"]))


def _compute_law(theta):
    return ComputeLaw(E=jnp.exp(theta[..., 0]), C0=jnp.exp(theta[..., 1]), alpha=theta[..., 2])


COMPUTE = Family(
    names=("e", "log_C0", "alpha"),
    log_loss=_compute_log_loss,
    to_law=_compute_law,
    natural={"E": ("e", np.log), "C0": ("log_C0", np.log), "alpha": ("alpha", _same)},
    grid=np.array(list(itertools.product(np.arange(-1.0, 1.01, 0.5), np.arange(10.0, 61.0, 10.0),
                                         (0.02, 0.05, 0.1, 0.2, 0.4)))),
)
"""L(C) = E + (C0 / C)^alpha fitted as LSE(e, alpha (log C0 - log C))."""

def _data_constrained_law(theta):
    return DataConstrained(E=jnp.exp(theta[..., 2]), A=jnp.exp(theta[..., 0]), B=jnp.exp(theta[..., 1]),
                           alpha=theta[..., 3], beta=theta[..., 4], R_D=jnp.exp(theta[..., 5]),
                           R_N=jnp.exp(theta[..., 6]))


def _data_constrained_log_loss(theta, features):
    law = _data_constrained_law(theta)
    N, D, unique = (jnp.exp(features[name]) for name in ("log_N", "log_D", "log_U"))
    n_eff = law.effective_params(N, D, unique)
    d_eff = law.effective_tokens(D, unique)
    return jnp.logaddexp(jnp.logaddexp(theta[0] - theta[3] * jnp.log(n_eff), theta[1] - theta[4] * jnp.log(d_eff)),
                         theta[2])


DATA_CONSTRAINED = Family(
    names=("a", "b", "e", "alpha", "beta", "log_R_D", "log_R_N"),
    log_loss=_data_constrained_log_loss,
    to_law=_data_constrained_law,
    natural={**_CHINCHILLA_NATURAL, "R_D": ("log_R_D", np.log), "R_N": ("log_R_N", np.log)},
    grid=np.array(list(itertools.product((5.0, 7.0), (6.0, 8.0), (0.3, 0.7), (0.3, 0.5), (0.3, 0.5),
                                         np.log([3.0, 15.0, 60.0]), np.log([2.0, 5.0, 20.0])))),
)
"""Muennighoff et al.'s law; the runs need ``unique_tokens``. R_D and R_N are fitted as logs."""

FAMILIES = {Chinchilla: CHINCHILLA, Kaplan: KAPLAN, ComputeLaw: COMPUTE, DataConstrained: DATA_CONSTRAINED}


def _features(runs: Runs) -> dict[str, np.ndarray]:
    features = {"log_N": np.log(runs.N), "log_D": np.log(runs.D), "log_flops": np.log(runs.flops)}
    if runs.unique_tokens is not None:
        features["log_U"] = np.log(runs.unique_tokens)
    return features


# ----------------------------------------------------------------------------------
# objective, gradient and Hessian for a batch of starts


def _huber(r, delta):
    absolute = jnp.abs(r)
    return jnp.where(absolute <= delta, 0.5 * r * r, delta * (absolute - 0.5 * delta))


def _generic_moments(family: Family, features, log_loss_obs, delta):
    """Objective, gradient and Hessian by automatic differentiation, for any family."""

    def residuals(theta):
        return family.log_loss(theta, features) - log_loss_obs

    def one(theta, weight, exact):
        r = residuals(theta)
        J = jax.jacfwd(residuals)(theta)
        psi = jnp.clip(r, -delta, delta)
        curvature = (jnp.abs(r) <= delta) if exact else jnp.minimum(1.0, delta / jnp.abs(r))
        f = jnp.sum(weight * _huber(r, delta))
        g = J.T @ (weight * psi)
        H = J.T @ ((weight * curvature)[:, None] * J)
        if exact:
            H = H + jax.hessian(lambda t: jnp.sum(jax.lax.stop_gradient(weight * psi) * residuals(t)))(theta)
        return f, g, H

    def moments(theta, weight, exact):
        weight = jnp.broadcast_to(weight, (theta.shape[0], log_loss_obs.shape[0]))
        return jax.vmap(lambda t, w: one(t, w, exact))(theta, weight)

    return moments


_CHUNK = 16


def _zero(x) -> bool:
    return isinstance(x, float) and x == 0.0


def _chinchilla_moments(features, log_loss_obs, delta):
    """Hand-derived moments of the Chinchilla objective, accumulated over chunks of runs.

    With t1 = A N^-alpha, t2 = B D^-beta, t3 = E, s = t1 + t2 + t3, p_i = t_i / s and
    r = log s - log L: dr/d(a, b, e, alpha, beta) = (p1, p2, p3, -p1 log N, -p2 log D),
    and the Hessian of r is J^T (diag p - p p^T) J for the linear map J from the
    coordinates to the exponents. A scan over chunks of runs keeps every intermediate
    small (measured faster on CPU than one fused pass over all starts x runs).
    """
    n = log_loss_obs.shape[0]
    padded = -(-n // _CHUNK) * _CHUNK
    pad = lambda x: jnp.pad(jnp.asarray(x), (0, padded - n))  # noqa: E731  zero-weight runs
    columns = jnp.stack([pad(features["log_N"]), pad(features["log_D"]), pad(log_loss_obs)])
    columns = columns.reshape(3, padded // _CHUNK, _CHUNK).transpose(1, 0, 2)
    upper = np.triu_indices(5)

    def moments(theta, weight, exact):
        S = theta.shape[0]
        weight = jnp.broadcast_to(weight, (S, n))
        weight = jnp.pad(weight, ((0, 0), (0, padded - n))).reshape(S, padded // _CHUNK, _CHUNK).transpose(1, 0, 2)
        a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(5))
        t3 = jnp.exp(e)

        def chunk(total, inputs):
            (log_N, log_D, log_L), w = inputs
            t1 = jnp.exp(a - alpha * log_N)
            t2 = jnp.exp(b - beta * log_D)
            s = t1 + t2 + t3
            p1, p2, p3 = t1 / s, t2 / s, t3 / s
            r = jnp.log(s) - log_L
            gw = w * jnp.clip(r, -delta, delta)
            if exact:
                cw = w * (jnp.abs(r) <= delta)
            else:
                cw = w * jnp.minimum(1.0, delta / jnp.abs(r))
            v = (p1, p2, p3, -p1 * log_N, -p2 * log_D)
            # d z / d theta for the exponents z = (a - alpha log N, b - beta log D, e).
            dz = ((1.0, 0.0, 0.0, -log_N, 0.0), (0.0, 1.0, 0.0, 0.0, -log_D), (0.0, 0.0, 1.0, 0.0, 0.0))
            p = (p1, p2, p3)
            terms = [w * _huber(r, delta)] + [gw * vi for vi in v]
            for i, j in zip(*upper):
                term = cw * v[i] * v[j]
                if exact:  # + psi * (d2 log s / d z2 = diag p - p p^T) mapped by dz
                    for m, k in itertools.product(range(3), range(3)):
                        if _zero(dz[m][i]) or _zero(dz[k][j]):
                            continue
                        coupling = (p[m] if m == k else 0.0) - p[m] * p[k]
                        term = term + gw * coupling * dz[m][i] * dz[k][j]
                terms.append(term)
            return total + jnp.stack([jnp.sum(term, axis=1) for term in terms], axis=1), None

        total, _ = jax.lax.scan(chunk, jnp.zeros((S, 21), theta.dtype), (columns, weight))
        H = jnp.zeros((S, 5, 5), theta.dtype).at[:, upper[0], upper[1]].set(total[:, 6:])
        H = H.at[:, upper[1], upper[0]].set(total[:, 6:])
        return total[:, 0], total[:, 1:6], H

    return moments


# ----------------------------------------------------------------------------------
# batched Levenberg-Marquardt


def _lm_step(g, H, lam, free):
    """Marquardt step -(H + lam diag|H|)^-1 g in the free coordinates (0 in the others).

    ``free`` is a mask per coordinate, shape (P,) or per start (S, P).
    """
    eye = jnp.eye(H.shape[-1], dtype=H.dtype)
    scale = jnp.abs(jnp.diagonal(H, axis1=-2, axis2=-1)) + 1e-30
    A = H + lam[:, None, None] * scale[:, :, None] * eye
    both = free[..., :, None] & free[..., None, :]
    A = jnp.where(both, A, eye)
    return -jnp.linalg.solve(A, jnp.where(free, g, 0.0)[..., None])[..., 0]


def _lm(moments, theta, weight, steps, exact, free, lower, upper):
    """``steps`` Levenberg-Marquardt iterations of every start (a fixed count, batched).

    Each iteration evaluates one trial point and keeps it if it lowers the objective; the
    first trial is the start itself, so the loop holds the only call of ``moments``.
    """
    shape = theta.shape[:1]
    inf = jnp.full(shape, jnp.inf, theta.dtype)
    zeros = jnp.zeros_like(theta)
    first = (theta, theta, inf, zeros, jnp.zeros(shape + theta.shape[1:] * 2, theta.dtype), jnp.full(shape, 1e-3, theta.dtype))

    def iteration(_, state):
        trial, theta, f, g, H, lam = state
        f_trial, g_trial, H_trial = moments(trial, weight, exact)
        better = f_trial < f
        keep = lambda new, old: jnp.where(better.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
        theta, f, g, H = keep(trial, theta), keep(f_trial, f), keep(g_trial, g), keep(H_trial, H)
        lam = jnp.where(better, jnp.maximum(lam * 0.3, 1e-12), jnp.minimum(lam * 8.0, 1e12))
        # A coordinate on a bound whose gradient pushes it outwards stays put (active set).
        blocked = ((theta <= lower) & (g > 0)) | ((theta >= upper) & (g < 0))
        trial = jnp.clip(theta + _lm_step(g, H, lam, free & ~blocked), lower, upper)
        return trial, theta, f, g, H, lam

    _, theta, f, *_ = jax.lax.fori_loop(0, steps + 1, iteration, first)
    return theta, f


def _optimality(moments, theta, weight, free, lower, upper):
    """Objective, gradient norm and a convergence flag at each point.

    Converged: the exact Hessian in the free, unbounded coordinates is positive definite
    and the Newton decrement g^T H^-1 g / 2, the decrease a further step predicts, is
    below 1e-10 of the objective (plus 1e-24 per run, for data a law fits exactly).
    """
    f, g, H = moments(theta, weight, True)
    at_bound = (theta <= lower) | (theta >= upper)
    active = free[None, :] & ~at_bound
    eye = jnp.eye(H.shape[-1], dtype=H.dtype)
    both = active[:, :, None] & active[:, None, :]
    g_active = jnp.where(active, g, 0.0)
    chol = jnp.linalg.cholesky(jnp.where(both, H, eye))
    solved = jax.scipy.linalg.cho_solve((chol, True), g_active[..., None])[..., 0]
    decrement = 0.5 * jnp.sum(g_active * solved, axis=-1)
    # Relative to the objective, with a floor for exact data (residuals of 1e-12 in log loss).
    floor = 1e-24 * jnp.sum(weight, axis=-1)
    converged = jnp.all(jnp.isfinite(chol), axis=(-2, -1)) & (decrement <= 1e-10 * f + floor)
    return f, jnp.linalg.norm(g_active, axis=-1), converged


@dataclasses.dataclass(frozen=True)
class _Schedule:
    """How many starts go on at each stage, and how many steps each stage takes."""

    screen_steps: int = 6
    keep: int = 256
    refine_steps: int = 16
    polish: int = 32
    polish_steps: int = 40


def _multistart(moments, starts, weight, free, lower, upper, schedule: _Schedule):
    """Screen every start, refine the best, polish the best of those (static sizes)."""
    theta, f = _lm(moments, starts, weight, schedule.screen_steps, False, free, lower, upper)
    for keep, steps in ((schedule.keep, schedule.refine_steps), (schedule.polish, schedule.polish_steps)):
        keep = min(keep, theta.shape[0])
        best = jnp.argsort(jnp.where(jnp.isnan(f), jnp.inf, f))[:keep]
        refined, f_refined = _lm(moments, theta[best], weight[best], steps, True, free, lower, upper)
        theta, f = theta.at[best].set(refined), f.at[best].set(f_refined)
    return theta


# ----------------------------------------------------------------------------------
# the public fit


@dataclasses.dataclass(frozen=True, eq=False)
class HuberFit:
    """The result of ``fit_huber``.

    Attributes:
        law: the best fit as a law of the family (None for a user-supplied model).
        params: the best fit in the fitted coordinates, by name (e.g. a = log A).
        objective: the Huber objective at the best fit.
        grad_norm: norm of the gradient in the free coordinates at the best fit.
        names: the fitted coordinates, in the order of the arrays below.
        starts: every start, shape (S, P).
        end_points: where each start stopped, shape (S, P).
        end_objectives: the objective there, shape (S,).
        converged: whether each start stopped at a verified local minimum, shape (S,).
        at_bound: names of the coordinates that sit on a bound at the best fit.
    """

    law: object
    params: dict[str, float]
    objective: float
    grad_norm: float
    names: tuple[str, ...]
    starts: np.ndarray
    end_points: np.ndarray
    end_objectives: np.ndarray
    converged: np.ndarray
    at_bound: tuple[str, ...]

    @property
    def n_converged(self) -> int:
        """How many starts stopped at a verified local minimum."""
        return int(self.converged.sum())

    @property
    def n_at_best(self) -> int:
        """How many starts reached the best objective (within 1e-9 relative)."""
        return int(np.sum(self.end_objectives <= self.objective * (1 + 1e-9)))

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value:.6g}" for name, value in self.params.items())
        return (f"HuberFit({params}; objective={self.objective:.8g}, grad_norm={self.grad_norm:.2g}, "
                f"{self.n_converged}/{len(self.converged)} starts converged, {self.n_at_best} at the best)")


def _resolve(family, loss_fn, names, grid):
    """The Family to fit: a law class, or a user model ``loss_fn(params, N, D)``."""
    if loss_fn is not None:
        if names is None or grid is None:
            raise ValueError("a user-supplied loss_fn needs names= (its parameters) and grid= (starts)")

        def log_loss(theta, features):
            return jnp.log(loss_fn(theta, jnp.exp(features["log_N"]), jnp.exp(features["log_D"])))

        return Family(names=tuple(names), log_loss=log_loss, to_law=lambda theta: None,
                      natural={name: (name, _same) for name in names})
    if family not in FAMILIES:
        known = ", ".join(cls.__name__ for cls in FAMILIES)
        raise ValueError(f"family must be one of {known} (or pass loss_fn=), got {family!r}")
    return FAMILIES[family]


def _constraints(family: Family, fixed, bounds):
    """Free mask and lower/upper bounds in the fitted coordinates."""
    P = len(family.names)
    free = np.ones(P, bool)
    lower, upper = np.full(P, -np.inf), np.full(P, np.inf)
    fixed_values = {}
    for name, value in (fixed or {}).items():
        coordinate, value = _coordinate(family, name, value)
        i = family.names.index(coordinate)
        free[i], lower[i], upper[i] = False, value, value
        fixed_values[i] = value
    for name, (low, high) in (bounds or {}).items():
        coordinate, low = _coordinate(family, name, low)
        _, high = _coordinate(family, name, high)
        if not low < high:
            raise ValueError(f"bounds[{name!r}] must be (low, high) with low < high, got ({low}, {high})")
        i = family.names.index(coordinate)
        lower[i], upper[i] = max(lower[i], low), min(upper[i], high)
    return free, lower, upper


def _coordinate(family: Family, name: str, value):
    if name not in family.natural:
        raise ValueError(f"{name!r} is not a parameter of this law; fixed= and bounds= take {tuple(family.natural)}")
    coordinate, transform = family.natural[name]
    with np.errstate(all="ignore"):  # log of a non-positive value: reported below
        converted = transform(value)
    if not np.isfinite(converted):
        raise ValueError(f"{name} must be a finite value in range, got {value!r}")
    return coordinate, float(converted)


def _starts(family: Family, grid, free, lower, upper) -> np.ndarray:
    starts = np.asarray(family.grid if grid is None else grid, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[1] != len(family.names) or len(starts) == 0:
        raise ValueError(f"grid must have shape (starts, {len(family.names)}) for {family.names}, got {starts.shape}")
    if not np.isfinite(starts).all():
        raise ValueError("grid must be finite")
    starts = np.clip(starts, lower, upper)
    return np.unique(starts, axis=0) if not free.all() else starts


def _check_identifiable(runs: Runs, family: Family, free) -> None:
    if family is DATA_CONSTRAINED and runs.unique_tokens is None:
        raise ValueError("a DataConstrained fit needs runs.unique_tokens (the unique tokens behind each run's D)")
    n_free = int(free.sum())
    if len(runs) <= n_free:
        raise ValueError(f"{len(runs)} runs cannot determine {n_free} free parameters: give more runs than parameters")
    if family is not COMPUTE:
        for name, column in (("N", runs.N), ("D", runs.D)):
            if np.unique(column).size < 2:
                raise ValueError(f"all runs have the same {name}={column[0]:.4g}: the law's {name} term is not identifiable")


def fit_huber(runs: Runs, family=Chinchilla, *, delta: float = DELTA, grid=None, fixed=None, bounds=None,
              loss_fn=None, names=None) -> HuberFit:
    """Fit a law to runs by Huber regression on log loss from a grid of starts.

    Minimises sum_i w_i huber_delta(log L_hat(N_i, D_i) - log L_i) from every start of
    ``grid`` in one compiled, batched program (see the module docstring), in float64.

    Args:
        runs: the training runs (``Runs``); their weights weight the objective.
        family: ``Chinchilla`` (default; coordinates a = log A, b = log B, e = log E,
            alpha, beta), ``Kaplan`` (log N_c, log D_c, alpha_N, alpha_D), ``ComputeLaw``
            (e, log C0, alpha; uses the runs' FLOPs) or ``DataConstrained`` (Chinchilla's
            plus log R_D, log R_N; uses the runs' ``unique_tokens``).
        delta: Huber threshold on log-loss residuals (default 1e-3).
        grid: starts, shape (S, P), in the fitted coordinates; default Hoffmann et al.'s
            4500-point grid for Chinchilla (a, b in {0, 5, ..., 25}, e in {-1, ..., 1},
            alpha, beta in {0, 0.5, ..., 2}) and a coarse grid for the others.
        fixed: parameters pinned to a value, in the law's own units, e.g. ``{"E": 1.69}``.
        bounds: ``{name: (low, high)}`` in the law's own units, e.g. ``{"alpha": (0, 1)}``.
        loss_fn: instead of a family, a model ``loss_fn(params, N, D) -> loss`` with
            ``params`` a vector in the order of ``names``; needs ``names`` and ``grid``.
        names: the parameter names of ``loss_fn``.

    Returns:
        ``HuberFit``.

    References: Hoffmann et al. 2022, sec. 3.3 and appendix D.2; Besiroglu et al. 2024,
    "Chinchilla Scaling: A replication attempt".
    """
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be finite and positive, got {delta!r}")
    family_spec = _resolve(family, loss_fn, names, grid)
    free, lower, upper = _constraints(family_spec, fixed, bounds)
    _check_identifiable(runs, family_spec, free)
    starts = _starts(family_spec, grid, free, lower, upper)
    with jax.enable_x64(True):
        theta, f, grad_norm, converged = _fit(family_spec, _features(runs), np.log(runs.loss), runs.weight,
                                              starts, free, lower, upper, delta)
        f = np.where(np.isnan(f), np.inf, f)
        best = int(np.argmin(f))
        law = family_spec.to_law(jnp.asarray(theta[best]))
    at_bound = tuple(name for i, name in enumerate(family_spec.names)
                     if free[i] and (theta[best, i] <= lower[i] or theta[best, i] >= upper[i]))
    _warn_if_doubtful(f, converged[best], at_bound, grad_norm[best])
    return HuberFit(
        law=law,
        params=dict(zip(family_spec.names, map(float, theta[best]))),
        objective=float(f[best]),
        grad_norm=float(grad_norm[best]),
        names=family_spec.names,
        starts=starts,
        end_points=theta,
        end_objectives=f,
        converged=converged,
        at_bound=at_bound,
    )


def _warn_if_doubtful(objectives, best_converged, at_bound, grad_norm) -> None:
    """Say so when the fit may not be what it seems (never a silently doubtful answer)."""
    failed = np.mean(~np.isfinite(objectives))
    if failed > 0.5:
        warnings.warn(f"fit_huber: {failed:.0%} of the starts ended with a non-finite objective; "
                      "check the runs and the grid", RuntimeWarning, stacklevel=3)
    if not best_converged:
        warnings.warn(f"fit_huber: the best start did not reach a verified minimum (gradient norm "
                      f"{grad_norm:.3g}); the fit may be inaccurate", RuntimeWarning, stacklevel=3)
    if at_bound:
        warnings.warn(f"fit_huber: the best fit sits on a bound of {', '.join(at_bound)}", RuntimeWarning,
                      stacklevel=3)


_MIN_BUCKET = 16


def _bucket(n: int) -> int:
    """The padded number of runs: the next power of two, at least ``_MIN_BUCKET``."""
    return max(_MIN_BUCKET, 1 << (n - 1).bit_length())


def _padded(features, log_loss_obs, weight):
    """Runs padded to ``_bucket`` size with copies of the last run at weight 0.

    The programs compile once per family, number of starts and *bucket* of data sizes, not
    per data size (a forecast check at a new cut, a ladder's next refit, the runs of
    another user reuse the compiled program). Zero-weight runs add exact zeros to the
    objective and its derivatives; the price is at most twice the runs in execution, which
    is cheap next to a compilation (about 8 s here for the Chinchilla fit, 0.8 s to run).
    ``weight`` is padded along its last axis.
    """
    n = len(log_loss_obs)
    extra = _bucket(n) - n
    edge = lambda x: np.pad(np.asarray(x, np.float64), (0, extra), mode="edge")  # noqa: E731
    weight = np.asarray(weight, np.float64)
    weight = np.pad(weight, [(0, 0)] * (weight.ndim - 1) + [(0, extra)])
    return {name: edge(value) for name, value in features.items()}, edge(log_loss_obs), weight


def _fit(family, features, log_loss_obs, weight, starts, free, lower, upper, delta):
    weight = np.broadcast_to(weight, (len(starts), len(weight)))
    features, log_loss_obs, weight = _padded(features, log_loss_obs, weight)
    out = _fit_program(family, delta, features, log_loss_obs, starts, weight, free, lower, upper)
    return tuple(np.asarray(x) for x in out)


def _moments(family, features, log_loss_obs, delta):
    if family is CHINCHILLA:
        return _chinchilla_moments(features, log_loss_obs, delta)
    return _generic_moments(family, features, log_loss_obs, delta)


@functools.partial(jax.jit, static_argnames=("family", "delta", "schedule"))
def _fit_program(family, delta, features, log_loss_obs, starts, weight, free, lower, upper, schedule=_Schedule()):
    """One compiled program per family, bucket of data sizes (``_padded``) and number of starts."""
    moments = _moments(family, features, log_loss_obs, delta)
    theta = _multistart(moments, starts, weight, free, lower, upper, schedule)
    f, grad_norm, converged = _optimality(moments, theta, weight, free, lower, upper)
    return theta, f, grad_norm, converged


# ----------------------------------------------------------------------------------
# bootstrap


@dataclasses.dataclass(frozen=True, eq=False)
class Bootstrap:
    """Refits on resampled runs.

    Attributes:
        law: the refitted laws as one batched law (leading axis = resamples), or None
            for a user-supplied model.
        params: the refitted coordinates, shape (n, P), in the order of ``names``.
        names: the fitted coordinates.
        objective: each refit's Huber objective on its resample, shape (n,).
        converged: whether each refit stopped at a verified local minimum, shape (n,).
        level: the coverage of ``intervals`` (e.g. 0.95).
        intervals: percentile intervals ``{name: (low, high)}`` over the converged refits
            for the law's parameters (E, A, B, alpha, beta for Chinchilla), the
            compute-optimal exponents a and b (Chinchilla), and ``"N*"`` and ``"D*"``: arrays
            of lows and highs, one per budget in ``flops``. Fewer than 99% converged refits
            give a warning.
        flops: the budgets of the N* and D* intervals (FLOPs).
    """

    law: object
    params: np.ndarray
    names: tuple[str, ...]
    objective: np.ndarray
    converged: np.ndarray
    level: float
    intervals: dict[str, tuple]
    flops: np.ndarray


def bootstrap(runs: Runs, n: int = 1000, *, key, family=Chinchilla, fit: HuberFit | None = None, starts: int = 4,
              steps: int = 16, level: float = 0.95, flops=(), delta: float = DELTA, fixed=None, bounds=None) -> Bootstrap:
    """Percentile intervals from refitting the law on ``n`` resamples of the runs.

    Each resample draws len(runs) runs with replacement (as multinomial counts that
    multiply the runs' weights). All resamples are refitted together in one compiled
    program, each warm-started from the full-data optimum and the next best distinct
    local minima of ``fit`` (``starts`` in all), ``steps`` exact Levenberg-Marquardt
    iterations each; the best start per resample is kept.

    Args:
        runs: the training runs.
        n: number of resamples.
        key: a JAX PRNG key (``jax.random.key(0)``).
        family, delta, fixed, bounds: as for ``fit_huber``.
        fit: the full-data fit to start from (computed when None).
        starts: warm starts per resample.
        steps: iterations per resample.
        level: interval coverage, in (0, 1).
        flops: budgets (FLOPs) at which to give intervals for the compute-optimal N*, D*.

    Returns:
        ``Bootstrap``.

    References: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13;
    Besiroglu et al. 2024, sec. 3 (4000 resamples).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not isinstance(starts, int) or starts < 1:
        raise ValueError(f"starts must be a positive integer, got {starts!r}")
    family_spec = _resolve(family, None, None, None)
    free, lower, upper = _constraints(family_spec, fixed, bounds)
    if fit is None:
        fit = fit_huber(runs, family, delta=delta, fixed=fixed, bounds=bounds)
    warm = _distinct_minima(fit, starts)
    with jax.enable_x64(True):
        counts = _resample_counts(key, n, len(runs))
        weight = np.repeat(np.asarray(counts) * runs.weight, len(warm), axis=0)
        theta0 = np.tile(warm, (n, 1))
        theta, f, _, converged = _refit_program(
            family_spec, delta, steps, *_padded(_features(runs), np.log(runs.loss), weight), theta0, free, lower,
            upper)
        theta = np.asarray(theta).reshape(n, len(warm), -1)
        f = np.where(np.isnan(f), np.inf, np.asarray(f)).reshape(n, len(warm))
        best = np.argmin(f, axis=1)
        rows = np.arange(n)
        params, objective = theta[rows, best], f[rows, best]
        converged = np.asarray(converged).reshape(n, len(warm))[rows, best]
        law = family_spec.to_law(jnp.asarray(params))
        if converged.mean() < 0.99:
            warnings.warn(f"bootstrap: {int((~converged).sum())} of {n} refits did not converge; raise steps= "
                          "or starts=", RuntimeWarning, stacklevel=2)
        intervals = _intervals(family_spec, _take(law, converged), params[converged], level, flops)
    return Bootstrap(law=law, params=params, names=family_spec.names, objective=objective,
                     converged=converged, level=level, intervals=intervals,
                     flops=np.atleast_1d(np.asarray(flops, dtype=float)))


def _take(law, mask):
    return None if law is None else jax.tree_util.tree_map(lambda leaf: leaf[mask], law)


def _resample_counts(key, n: int, size: int):
    """Multinomial resampling counts, shape (n, size): each row sums to size."""
    picks = jax.random.randint(key, (n, size), 0, size)
    return jnp.zeros((n, size)).at[jnp.arange(n)[:, None], picks].add(1.0)


def _distinct_minima(fit: HuberFit, count: int) -> np.ndarray:
    """The best end point and the next best ones that differ from those already taken."""
    order = np.argsort(fit.end_objectives)
    chosen = [fit.end_points[order[0]]]
    for i in order[1:]:
        if len(chosen) == count or not np.isfinite(fit.end_objectives[i]):
            break
        if all(np.max(np.abs(fit.end_points[i] - c)) > 1e-3 for c in chosen):
            chosen.append(fit.end_points[i])
    while len(chosen) < count:  # fewer distinct minima than asked: repeat the best
        chosen.append(chosen[0])
    return np.array(chosen)


@functools.partial(jax.jit, static_argnames=("family", "delta", "steps"))
def _refit_program(family, delta, steps, features, log_loss_obs, weight, theta, free, lower, upper):
    moments = _moments(family, features, log_loss_obs, delta)
    theta, _ = _lm(moments, theta, weight, steps, True, free, lower, upper)
    return (theta, *_optimality(moments, theta, weight, free, lower, upper))


def _intervals(family: Family, law, params, level, flops) -> dict[str, tuple]:
    tails = (100 * (1 - level) / 2, 100 * (1 + level) / 2)

    def interval(values):
        """Percentiles of the finite draws along the first axis: floats, or arrays per budget."""
        values = np.asarray(values, dtype=float)
        low, high = np.nanpercentile(np.where(np.isfinite(values), values, np.nan), tails, axis=0)
        return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)

    if law is None:
        return {name: interval(params[:, i]) for i, name in enumerate(family.names)}
    fields = {field.name: np.asarray(getattr(law, field.name)) for field in dataclasses.fields(law)}
    out = {name: interval(values) for name, values in fields.items() if np.isfinite(values).any()}
    if family is CHINCHILLA:
        from ..allocate import compute_optimal

        alpha, beta = fields["alpha"], fields["beta"]
        out["a"] = interval(beta / (alpha + beta))
        out["b"] = interval(alpha / (alpha + beta))
        budgets = np.atleast_1d(np.asarray(flops, dtype=float))
        if budgets.size:
            plans = jax.vmap(compute_optimal, (0, None))(law, jnp.asarray(budgets))
            out["N*"], out["D*"] = interval(plans.N), interval(plans.D)
    return out
