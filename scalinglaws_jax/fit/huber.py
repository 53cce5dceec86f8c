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

Memory does not grow with starts x runs: the runs are scanned in chunks (``_chunk``), all
starts share one weight vector, and a fit of more than ``SCREEN_RUNS`` runs screens the
starts on a fixed subsample of that many and polishes the best few on all runs. What
would not fit in memory is refused before it is allocated.

Every fit checks that the runs can identify the law and how well they determined it
(``design.py``): designs that cannot are refused, ill-determined fits are warned about,
and a best fit that is not a valid law is refused.

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

from .. import _validate
from .._memory import host_available_bytes
from ..domain import Domain
from ..laws import Chinchilla, ComputeLaw, DataConstrained, Kaplan
from . import design
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
        needs: the quantities the runs must vary in (``design.check_spread``).
        exponents: the coordinates that are exponents (must come out significantly positive).
        split: for a law of N and D, its (N, D) exponents, whose ratio sets the
            compute-optimal split N* ~ C^a, a = e_D / (e_N + e_D); or None.
    """

    names: tuple[str, ...]
    log_loss: Callable
    to_law: Callable
    natural: dict[str, tuple[str, Callable]]
    grid: np.ndarray | None = None
    needs: tuple[str, ...] = ("N", "D")
    exponents: tuple[str, ...] = ()
    split: tuple[str, str] | None = None


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
    needs=("N", "D", "tokens_per_param"),
    exponents=("alpha", "beta"),
    split=("alpha", "beta"),
)
"""L = E + A / N^alpha + B / D^beta fitted as LSE(a - alpha log N, b - beta log D, e)."""


def _kaplan_log_loss(theta, features):
    log_N_c, log_D_c, alpha_N, alpha_D = theta
    parameter_term = (alpha_N / alpha_D) * (log_N_c - features["log_N"])
    return alpha_D * jnp.logaddexp(parameter_term, log_D_c - features["log_D"])


def kaplan_frontier(N_c, D_c, alpha_N, alpha_D):
    """``(C_c, alpha_C)`` of the compute-efficient frontier of Kaplan's joint law under C = 6 N D.

    With r = alpha_N / alpha_D, minimising L(N, D) = [(N_c / N)^r + D_c / D]^alpha_D at
    6 N D = C gives N*^(1 + r) = r N_c^r C / (6 D_c) and L = (C_c / C)^alpha_C with
    alpha_C = alpha_D r / (1 + r) and C_c = 6 N_c D_c (1 + r)^(1 + 1/r) / r (FLOPs),
    computed in logs. This is the law's own frontier, not Kaplan et al.'s separately
    fitted L(C_min) (their C_min counts compute at the critical batch size).

    References: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", eqs.
    (1.5) and (1.3).
    """
    r = alpha_N / alpha_D
    log_C_c = (jnp.log(6.0) + jnp.log(N_c) + jnp.log(D_c) + (1.0 + 1.0 / r) * jnp.log1p(r) - jnp.log(r))
    return jnp.exp(log_C_c), alpha_D * r / (1.0 + r)


def _kaplan_law(theta):
    N_c, D_c, alpha_N, alpha_D = jnp.exp(theta[..., 0]), jnp.exp(theta[..., 1]), theta[..., 2], theta[..., 3]
    C_c, alpha_C = kaplan_frontier(N_c, D_c, alpha_N, alpha_D)
    return Kaplan(N_c=N_c, D_c=D_c, alpha_N=alpha_N, alpha_D=alpha_D, C_c=C_c, alpha_C=alpha_C)


KAPLAN = Family(
    names=("log_N_c", "log_D_c", "alpha_N", "alpha_D"),
    log_loss=_kaplan_log_loss,
    to_law=_kaplan_law,
    natural={"N_c": ("log_N_c", np.log), "D_c": ("log_D_c", np.log), "alpha_N": ("alpha_N", _same),
             "alpha_D": ("alpha_D", _same)},
    grid=np.array(list(itertools.product(np.arange(20.0, 41.0, 5.0), np.arange(20.0, 41.0, 5.0),
                                         (0.05, 0.1, 0.2, 0.4), (0.05, 0.1, 0.2, 0.4)))),
    needs=("N", "D", "tokens_per_param"),
    exponents=("alpha_N", "alpha_D"),
    split=("alpha_N", "alpha_D"),
)
"""Kaplan et al.'s joint law; C_c and alpha_C, not fitted, are its own compute-efficient
frontier under C = 6 N D (``kaplan_frontier``)."""


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
    needs=("flops",),
    exponents=("alpha",),
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
    needs=("N", "D", "tokens_per_param", "epochs"),
    exponents=("alpha", "beta"),
    split=("alpha", "beta"),
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


_CHUNK = 16
"""Runs per scan step of the moments, at least (measured faster on CPU than one fused pass
over all starts x runs)."""

_MAX_SCAN_STEPS = 1024
"""Scan steps over the runs, at most, while the chunks stay within ``_CHUNK_ELEMENTS``:
more runs make the chunks larger rather than the scan longer."""

_CHUNK_ELEMENTS = 2**18
"""Starts x runs in one chunk's intermediates, at most (unless the chunk is ``_CHUNK``)."""


def _chunk(starts: int, runs: int) -> int:
    """Runs per scan step for ``starts`` starts: ``_CHUNK`` up to 16384 runs, then larger
    chunks (a power of two) as long as starts x chunk stays within ``_CHUNK_ELEMENTS``."""
    size = _CHUNK
    while size * _MAX_SCAN_STEPS < runs and 2 * size * starts <= _CHUNK_ELEMENTS:
        size *= 2
    return size


def _wide_chunk(starts: int, runs: int) -> int:
    """Runs per scan step of the automatic-differentiation moments: as many as keep starts x
    chunk within ``_CHUNK_ELEMENTS / 4`` (their intermediates are P x P per run), at least
    ``_CHUNK``: few runs take one step, as one vectorised pass is fastest there."""
    size = _CHUNK
    while size < runs and 2 * size * starts <= _CHUNK_ELEMENTS // 4:
        size *= 2
    return size


def _scan_runs(term, columns, weight, starts, chunk, init):
    """Sum ``term(columns_chunk, weight_chunk)`` over chunks of runs with ``jax.lax.scan``.

    ``columns`` (k, n) are per-run inputs; ``weight`` is (n,), shared by every start, or
    (starts, n). The runs are padded with zeros at weight 0 to a multiple of the chunk.
    """
    n = columns.shape[-1]
    size = _chunk(starts, n) if chunk is None else chunk
    padded = -(-n // size) * size
    columns = jnp.pad(columns, ((0, 0), (0, padded - n))).reshape(columns.shape[0], padded // size, size)
    weight = jnp.pad(weight, [(0, 0)] * (weight.ndim - 1) + [(0, padded - n)])
    weight = jnp.moveaxis(weight.reshape(weight.shape[:-1] + (padded // size, size)), -2, 0)

    def step(total, inputs):
        return jax.tree_util.tree_map(jnp.add, total, term(*inputs)), None

    total, _ = jax.lax.scan(step, init, (columns.transpose(1, 0, 2), weight))
    return total


def _generic_moments(family: Family, features, log_loss_obs, delta, chunk=None):
    """Objective, gradient and Hessian by automatic differentiation, for any family,
    accumulated over chunks of runs."""
    names = tuple(features)
    columns = jnp.stack([jnp.asarray(features[name]) for name in names] + [jnp.asarray(log_loss_obs)])

    def one(theta, inputs, weight, exact):
        values = {name: inputs[i] for i, name in enumerate(names)}

        def residuals(t):
            return family.log_loss(t, values) - inputs[-1]

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
        S, P = theta.shape
        per_start = 0 if weight.ndim == 2 else None

        def term(inputs, w):
            return jax.vmap(lambda t, v: one(t, inputs, v, exact), (0, per_start))(theta, w)

        init = (jnp.zeros(S, theta.dtype), jnp.zeros((S, P), theta.dtype), jnp.zeros((S, P, P), theta.dtype))
        size = _wide_chunk(S, columns.shape[-1]) if chunk is None else chunk
        return _scan_runs(term, columns, weight, S, size, init)

    return moments


def _zero(x) -> bool:
    return isinstance(x, float) and x == 0.0


def _chinchilla_moments(features, log_loss_obs, delta, chunk=None):
    """Hand-derived moments of the Chinchilla objective, accumulated over chunks of runs.

    With t1 = A N^-alpha, t2 = B D^-beta, t3 = E, s = t1 + t2 + t3, p_i = t_i / s and
    r = log s - log L: dr/d(a, b, e, alpha, beta) = (p1, p2, p3, -p1 log N, -p2 log D),
    and the Hessian of r is J^T (diag p - p p^T) J for the linear map J from the
    coordinates to the exponents. A scan over chunks of runs (``_chunk``) keeps every
    intermediate small, whatever the number of runs.
    """
    columns = jnp.stack([jnp.asarray(features["log_N"]), jnp.asarray(features["log_D"]), jnp.asarray(log_loss_obs)])
    upper = np.triu_indices(5)

    def moments(theta, weight, exact):
        S = theta.shape[0]
        a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(5))
        t3 = jnp.exp(e)

        def term(inputs, w):
            log_N, log_D, log_L = inputs
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
                entry = cw * v[i] * v[j]
                if exact:  # + psi * (d2 log s / d z2 = diag p - p p^T) mapped by dz
                    for m, k in itertools.product(range(3), range(3)):
                        if _zero(dz[m][i]) or _zero(dz[k][j]):
                            continue
                        coupling = (p[m] if m == k else 0.0) - p[m] * p[k]
                        entry = entry + gw * coupling * dz[m][i] * dz[k][j]
                terms.append(entry)
            return jnp.stack([jnp.sum(entry, axis=1) for entry in terms], axis=1)

        total = _scan_runs(term, columns, weight, S, chunk, jnp.zeros((S, 21), theta.dtype))
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
        refined, f_refined = _lm(moments, theta[best], weight if weight.ndim == 1 else weight[best], steps, True, free,
                                 lower, upper)
        theta, f = theta.at[best].set(refined), f.at[best].set(f_refined)
    return theta


# ----------------------------------------------------------------------------------
# the public fit


@dataclasses.dataclass(frozen=True, eq=False)
class HuberFit:
    """The result of ``fit_huber``.

    Attributes:
        law: the best fit as a law of the family (None for a user-supplied model); it
            always passes the law's own checks (a fit that would not is refused).
        params: the best fit in the fitted coordinates, by name (e.g. a = log A).
        objective: the Huber objective at the best fit.
        grad_norm: norm of the gradient in the free coordinates at the best fit.
        names: the fitted coordinates, in the order of the arrays below.
        starts: every start, shape (S, P).
        end_points: where each start stopped, shape (S, P).
        end_objectives: the objective on all runs there, shape (S,): inf where the start
            failed, NaN where it was screened on the subsample only (fits of more than
            ``screened_on`` runs polish only the best few starts on all runs).
        converged: whether each start stopped at a verified local minimum of the
            objective on all runs, shape (S,).
        at_bound: names of the coordinates that sit on a bound at the best fit.
        screened_on: the number of runs the starts were screened on (all of them, up to
            ``SCREEN_RUNS``).
        conditioning: how well the runs determined the fit (``design.Conditioning``:
            standard errors, the least determined direction, the problems found).
        domain: the ranges of N, D, compute and tokens per parameter of the runs fitted.
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
    screened_on: int
    conditioning: design.Conditioning
    domain: Domain

    @property
    def best(self) -> int:
        """The index of the best start."""
        return int(np.nanargmin(self.end_objectives))

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


def _needs(family: Family, free) -> tuple[str, ...]:
    """What the runs must vary in: the family's ``needs``, less the tokens per parameter
    when an exponent of the split is fixed (then a single ratio identifies the law)."""
    if family.split and not all(free[family.names.index(name)] for name in family.split):
        return tuple(name for name in family.needs if name != "tokens_per_param")
    return family.needs


def _check_identifiable(runs: Runs, family: Family, free, caller: str = "fit_huber") -> None:
    if family is DATA_CONSTRAINED and runs.unique_tokens is None:
        raise ValueError("a DataConstrained fit needs runs.unique_tokens (the unique tokens behind each run's D)")
    design.check_spread(runs, _needs(family, free), n_free=int(free.sum()), caller=caller,
                        exponents=family.split or ())


def check_design(runs: Runs, family=Chinchilla, *, fixed=None, caller: str = "fit_huber") -> None:
    """Refuse runs that cannot identify ``family`` with ``fixed`` parameters (``ValueError``).

    The check ``fit_huber`` and ``bootstrap`` make before fitting (see ``design.py``): more
    runs than free parameters, several sizes N and token counts D (or budgets, for a
    ``ComputeLaw``), several tokens per parameter D / N unless an exponent is fixed, and
    for a ``DataConstrained`` law unique tokens and several numbers of epochs.
    ``caller`` starts the message.
    """
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    family_spec = _resolve(family, None, None, None)
    free, _, _ = _constraints(family_spec, fixed, None)
    _check_identifiable(runs, family_spec, free, caller)


def fit_huber(runs: Runs, family=Chinchilla, *, delta: float = DELTA, grid=None, fixed=None, bounds=None,
              loss_fn=None, names=None) -> HuberFit:
    """Fit a law to runs by Huber regression on log loss from a grid of starts.

    Minimises sum_i w_i huber_delta(log L_hat(N_i, D_i) - log L_i) from every start of
    ``grid`` in one compiled, batched program (see the module docstring), in float64.
    Fits of more than ``SCREEN_RUNS`` runs screen the starts on a fixed subsample of that
    many runs and polish the best ``FULL_POLISH`` distinct minima on all of them.

    What the fit refuses and warns about (``design.py``): runs that cannot identify the
    law (e.g. all at one tokens-per-parameter ratio with both exponents free) and a best
    fit that is not a valid law raise ``ValueError``; exponents not significantly
    positive, or a compute-optimal exponent not significantly inside (0, 1), give a
    ``RuntimeWarning`` naming the least determined direction and what the runs lack.

    Args:
        runs: the training runs (``Runs``); their weights weight the objective.
        family: ``Chinchilla`` (default; coordinates a = log A, b = log B, e = log E,
            alpha, beta), ``Kaplan`` (log N_c, log D_c, alpha_N, alpha_D; C_c and alpha_C
            are the fitted law's own compute-efficient frontier, ``kaplan_frontier``),
            ``ComputeLaw`` (e, log C0, alpha; uses the runs' FLOPs) or ``DataConstrained``
            (Chinchilla's plus log R_D, log R_N; uses the runs' ``unique_tokens``).
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
    features = _features(runs)
    with jax.enable_x64(True):
        theta, f, grad_norm, converged, screened_on = _fit(family_spec, features, np.log(runs.loss), runs.weight,
                                                           starts, free, lower, upper, delta)
        best = int(np.nanargmin(f))
        law = family_spec.to_law(jnp.asarray(theta[best]))
        on_bound = (theta[best] <= lower) | (theta[best] >= upper)
        detail = (f"; the runs span {design.spans(runs, family_spec.needs)}; check that the losses fall as the "
                  f"runs grow, or {design.narrowest(runs, family_spec.needs)}")
        if law is not None:
            design.check_fitted_law(law, caller="fit_huber", detail=detail)
        conditioning = _conditioning(family_spec, features, np.log(runs.loss), runs.weight, theta[best],
                                     free & ~on_bound)
    at_bound = tuple(name for i, name in enumerate(family_spec.names) if free[i] and on_bound[i])
    _warn_if_doubtful(f, converged[best], at_bound, grad_norm[best])
    if conditioning.problems:
        weakest = conditioning.describe_weakest()
        direction = f" The least determined direction mixes {weakest}." if weakest else ""
        warnings.warn(f"fit_huber: the runs do not determine the law: {'; '.join(conditioning.problems)}."
                      f"{direction} The runs span {design.spans(runs, family_spec.needs)}; "
                      f"{design.narrowest(runs, family_spec.needs)}", RuntimeWarning, stacklevel=2)
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
        screened_on=screened_on,
        conditioning=conditioning,
        domain=Domain.from_runs(runs.select(runs.weight > 0)),
    )


def _conditioning(family: Family, features, log_loss_obs, weight, theta, assessed) -> design.Conditioning:
    """``design.conditioning`` of a fit at ``theta``, in the coordinates ``assessed``."""
    features = {name: jnp.asarray(value) for name, value in features.items()}
    theta = jnp.asarray(theta)
    index = np.flatnonzero(assessed)

    def log_loss(coordinates):
        return family.log_loss(theta.at[index].set(coordinates), features)

    values = theta[index]
    jacobian = jax.jacfwd(log_loss)(values)
    residuals = log_loss(values) - log_loss_obs
    names = tuple(family.names[i] for i in index)
    return design.conditioning(np.asarray(jacobian), np.asarray(residuals), weight, names, np.asarray(values),
                               exponents=family.exponents, split=family.split)


def _warn_if_doubtful(objectives, best_converged, at_bound, grad_norm) -> None:
    """Say so when the fit may not be what it seems (never a silently doubtful answer)."""
    evaluated = objectives[~np.isnan(objectives)]
    failed = np.mean(~np.isfinite(evaluated))
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


SCREEN_RUNS = 4096
"""Fits of more runs than this screen their starts on a fixed subsample of this many runs."""

FULL_POLISH = 8
"""The distinct minima of the subsample fit polished on all runs."""

FULL_POLISH_STEPS = 24
"""Exact Levenberg-Marquardt iterations of that polish (from near the optimum)."""


def _fit(family, features, log_loss_obs, weight, starts, free, lower, upper, delta):
    """End points, objectives on all runs, gradient norms, convergence flags, and the
    number of runs the starts were screened on."""
    _check_memory(len(starts), _bucket(len(log_loss_obs)), len(family.names))
    positive = np.flatnonzero(weight > 0)
    if len(positive) <= SCREEN_RUNS:
        padded_features, padded_loss, padded_weight = _padded(features, log_loss_obs, weight)
        out = _fit_program(family, delta, padded_features, padded_loss, starts, padded_weight, free, lower, upper)
        theta, f, grad_norm, converged = (np.asarray(x) for x in out)
        return theta, np.where(np.isnan(f), np.inf, f), grad_norm, converged, len(log_loss_obs)
    sample = np.sort(np.random.default_rng(0).choice(positive, SCREEN_RUNS, replace=False))
    sample_features, sample_loss, sample_weight = _padded({name: value[sample] for name, value in features.items()},
                                                          log_loss_obs[sample], weight[sample])
    out = _fit_program(family, delta, sample_features, sample_loss, starts, sample_weight, free, lower, upper)
    theta, f_sample, _, _ = (np.asarray(x) for x in out)
    chosen = _distinct(theta, np.where(np.isnan(f_sample), np.inf, f_sample), FULL_POLISH)
    polished, f, grad_norm, converged = (np.asarray(x) for x in _refit_program(
        family, delta, FULL_POLISH_STEPS, *_padded(features, log_loss_obs, weight), theta[chosen], free, lower,
        upper))
    theta = theta.copy()
    theta[chosen] = polished
    out_f, out_grad = np.full(len(starts), np.nan), np.full(len(starts), np.nan)
    out_converged = np.zeros(len(starts), bool)
    out_f[chosen], out_grad[chosen], out_converged[chosen] = np.where(np.isnan(f), np.inf, f), grad_norm, converged
    return theta, out_f, out_grad, out_converged, SCREEN_RUNS


def _distinct(points, objectives, count: int) -> np.ndarray:
    """Indices of the best point and the next best ones that differ from those taken
    (by more than 1e-3 in some coordinate), at most ``count``."""
    order = np.argsort(objectives)
    chosen = [order[0]]
    for i in order[1:]:
        if len(chosen) == count or not np.isfinite(objectives[i]):
            break
        if all(np.max(np.abs(points[i] - points[c])) > 1e-3 for c in chosen):
            chosen.append(i)
    return np.array(chosen)


def _check_memory(starts: int, runs: int, parameters: int) -> None:
    """Refuse a fit whose working set (float64) would not fit in the memory available.

    The moments of one scan step hold about 48 arrays of starts x chunk, the batched
    Levenberg-Marquardt state about 20 of starts x P x P; the runs' columns about 16 of runs.
    """
    chunk = _chunk(starts, runs)
    need = 8.0 * (starts * (48 * chunk + 20 * parameters * parameters) + 16 * runs)
    available = host_available_bytes()
    if need > available:
        advice = "use fewer starts (grid=)" if starts * chunk * 48 > 16 * runs else "use fewer runs"
        raise ValueError(f"fit_huber: {starts} starts x {runs} runs (padded) need about {need / 2**30:.3g} GiB in "
                         f"float64, more than the {available / 2**30:.3g} GiB available; {advice}")


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


class RefitWarning(RuntimeWarning):
    """Some bootstrap refits did not converge to a valid law; the intervals use the others."""


class NoRefitConverged(ValueError):
    """No bootstrap refit converged to a valid law: there are no intervals."""


@dataclasses.dataclass(frozen=True, eq=False)
class Bootstrap:
    """Refits on resampled runs.

    Attributes:
        law: the refits that converged to a valid law (``used``), as one batched law
            (leading axis = those refits), or None for a user-supplied model. It always
            passes the law's own checks.
        params: every refit's coordinates, shape (n, P), in the order of ``names``.
        names: the fitted coordinates.
        objective: each refit's Huber objective on its resample, shape (n,).
        converged: whether each refit stopped at a verified local minimum, shape (n,).
        used: the refits behind ``law`` and ``intervals``: converged, with every
            parameter in range, shape (n,).
        level: the coverage of ``intervals`` (e.g. 0.95).
        intervals: percentile intervals ``{name: (low, high)}`` over the ``used`` refits
            for the law's parameters (E, A, B, alpha, beta for Chinchilla), the
            compute-optimal exponents a and b (Chinchilla), and ``"N*"`` and ``"D*"``: arrays
            of lows and highs, one per budget in ``flops``. Fewer than 99% used refits
            give a ``RefitWarning``; none is refused (``NoRefitConverged``).
        flops: the budgets of the N* and D* intervals (FLOPs).
        domain: the ranges of N, D, compute and tokens per parameter of the runs.
        residuals: the full-data fit's log-loss residuals (observed - predicted) on the
            runs of positive weight, which ``predict`` resamples as the runs' noise; None
            for a user-supplied model.
        form_error: the law's form error learned leave-future-out on the runs
            (``FormError``), which ``predict`` adds beyond them; None with
            ``form_error=False`` or a user-supplied model.
    """

    law: object
    params: np.ndarray
    names: tuple[str, ...]
    objective: np.ndarray
    converged: np.ndarray
    used: np.ndarray
    level: float
    intervals: dict[str, tuple]
    flops: np.ndarray
    domain: Domain
    residuals: np.ndarray | None = None
    form_error: object = None

    def predict(self, *inputs, key=None, form_error: bool = True):
        """Bootstrap predictive draws of a run's loss at the law's inputs, calibrated for extrapolation.

        Each used refit's log loss at the inputs plus a residual of the full-data fit drawn
        with replacement (a bootstrap prediction interval, Davison & Hinkley 1997, sec.
        6.3.3) plus the law's form error (``FormError``, 0 inside the runs), drawn
        independently per refit and input.

        Args:
            *inputs: the law's loss inputs (``N, D``; ``flops`` for a ComputeLaw;
                ``N, D, unique_tokens`` for a DataConstrained law), arrays that broadcast.
            key: JAX PRNG key; default a fixed key, so repeated calls agree.
            form_error: include the form error (default); False: parameters and noise only.

        Returns:
            float64 array (used refits, *broadcast(*inputs).shape).

        Raises:
            ValueError: a user-supplied model (no law), bad inputs, or ``form_error=True``
                for a bootstrap without one.

        References: Davison & Hinkley 1997, "Bootstrap Methods and their Application";
        Efron & Tibshirani 1993.
        """
        from . import form_error as _form_error

        if self.law is None or self.residuals is None:
            raise ValueError("predict needs a law family's bootstrap (a user-supplied loss_fn has no law)")
        if form_error and self.form_error is None:
            raise ValueError("this bootstrap has no form error (form_error=False): pass form_error=False for the "
                             "parameter-only predictive")
        for index, value in enumerate(inputs):
            _validate.check_positive(f"inputs[{index}]", value)
        with jax.enable_x64(True):
            arrays = tuple(jnp.asarray(x, jnp.float64) for x in inputs)
            shape = jnp.broadcast_shapes(*(x.shape for x in arrays))
            key = jax.random.key(0) if key is None else key
            noise_key, form_key = jax.random.split(key)
            log_loss = jax.vmap(lambda law: jnp.log(law.loss(*arrays)))(self.law)
            draws_shape = (log_loss.shape[0], *shape)
            picks = jax.random.randint(noise_key, draws_shape, 0, self.residuals.size)
            log_loss = jnp.broadcast_to(log_loss, draws_shape) + jnp.asarray(self.residuals)[picks]
            if form_error:
                log_loss = log_loss + _form_error.sample(self.form_error, form_key, draws_shape, *arrays)
            return np.asarray(jnp.exp(log_loss))


_BLOCK_ELEMENTS = 2**24
"""Refits x padded runs per block of resamples: bootstraps larger than this run in blocks of
equal size (one compiled program), so that memory stays bounded."""


def bootstrap(runs: Runs, n: int = 1000, *, key, family=Chinchilla, fit: HuberFit | None = None, starts: int = 4,
              steps: int = 16, level: float = 0.95, flops=(), delta: float = DELTA, fixed=None, bounds=None,
              form_error: bool = True) -> Bootstrap:
    """Percentile intervals from refitting the law on ``n`` resamples of the runs.

    Each resample draws len(runs) runs with replacement (as multinomial counts that
    multiply the runs' weights). The resamples are refitted together in one compiled
    program (in equal blocks when refits x runs exceed ``_BLOCK_ELEMENTS``; block i draws
    its resamples from ``jax.random.fold_in(key, i)``), each warm-started from the
    full-data optimum and the next best distinct local minima of ``fit`` (``starts`` in
    all), ``steps`` exact Levenberg-Marquardt iterations each; the best start per resample
    is kept, and one that has not converged goes on for 4 x ``steps`` and then 16 x
    ``steps`` more iterations (``ESCALATION``; ill-conditioned fits need them). The
    intervals and ``law`` use only the refits that converged to a valid law; a warning
    says how many did not, and a bootstrap where none did is refused.

    Args:
        runs: the training runs.
        n: number of resamples.
        key: a JAX PRNG key (``jax.random.key(0)``).
        family, delta, fixed, bounds: as for ``fit_huber``.
        fit: the full-data fit to start from (computed when None).
        starts: warm starts per resample.
        steps: iterations per resample (before ``ESCALATION``).
        level: interval coverage, in (0, 1).
        flops: budgets (FLOPs) at which to give intervals for the compute-optimal N*, D*.
        form_error: learn the law's form error from the runs (``form_error.learn``, a few
            seconds), which ``Bootstrap.predict`` adds to forecasts beyond the runs.

    Returns:
        ``Bootstrap``.

    Raises:
        ValueError: bad arguments, runs that cannot identify the law (as ``fit_huber``),
            or ``NoRefitConverged``.

    References: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13;
    Besiroglu et al. 2024, sec. 3 (4000 resamples).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not isinstance(starts, int) or starts < 1:
        raise ValueError(f"starts must be a positive integer, got {starts!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    family_spec = _resolve(family, None, None, None)
    free, lower, upper = _constraints(family_spec, fixed, bounds)
    _check_identifiable(runs, family_spec, free, caller="bootstrap")
    if fit is None:
        fit = fit_huber(runs, family, delta=delta, fixed=fixed, bounds=bounds)
    warm = _distinct_minima(fit, starts)
    block = max(1, _BLOCK_ELEMENTS // (len(warm) * _bucket(len(runs))))
    with jax.enable_x64(True):
        if n <= block:
            params, objective, converged = _refit_block(family_spec, delta, steps, runs,
                                                        _resample_counts(key, n, len(runs)), warm, free, lower, upper)
        else:
            parts = [_refit_block(family_spec, delta, steps, runs,
                                  _resample_counts(jax.random.fold_in(key, i), block, len(runs)), warm, free, lower,
                                  upper) for i in range(-(-n // block))]
            params, objective, converged = (np.concatenate(arrays)[:n] for arrays in zip(*parts))
        law = family_spec.to_law(jnp.asarray(params))
        valid = np.isfinite(params).all(axis=1) if law is None else ~np.asarray(_validate.invalid_law(law))
        used = converged & np.broadcast_to(valid, converged.shape)
        if not used.any():
            raise NoRefitConverged(
                f"bootstrap: none of the {n} refits converged to a valid law ({int(converged.sum())} converged), so "
                "there are no intervals; the runs may not determine the law (see fit_huber's warnings), or raise "
                "steps= or starts=")
        if used.mean() < 0.99:
            warnings.warn(f"bootstrap: {int((~used).sum())} of {n} refits did not converge; the intervals use the "
                          f"{int(used.sum())} that did; raise steps= or starts=", RefitWarning, stacklevel=2)
        law = _take(law, used)
        intervals = _intervals(family_spec, law, params[used], level, flops)
    fitted = runs.select(runs.weight > 0)
    residuals = discrepancy = None
    if fit.law is not None:
        from . import form_error as _form_error

        residuals = np.log(fitted.loss) - _form_error.law_log_loss(fit.law, fitted)
        if form_error:
            discrepancy = _form_error.learn(fitted, family, fixed=fixed, fit=fit)
    return Bootstrap(law=law, params=params, names=family_spec.names, objective=objective,
                     converged=converged, used=used, level=level, intervals=intervals,
                     flops=np.atleast_1d(np.asarray(flops, dtype=float)),
                     domain=Domain.from_runs(fitted), residuals=residuals, form_error=discrepancy)


def refit_weighted(runs: Runs, weights, *, fit: HuberFit, family=Chinchilla, starts: int = 4, steps: int = 16,
                   delta: float = DELTA, fixed=None, bounds=None):
    """Refits of ``fit``'s law with other run weights, in one compiled batch, as ``bootstrap`` refits.

    Args:
        runs: the runs ``fit`` was fitted on.
        weights: shape (r, len(runs)): each row multiplies the runs' weights for one refit
            (e.g. 0 for the runs a refit leaves out).
        fit: the full-data fit whose distinct minima are the warm starts.
        family, starts, steps, delta, fixed, bounds: as for ``bootstrap``.

    Returns:
        ``(law, converged, params)``: the refits as one batched law (leading axis r; NaN
        where a refit failed), whether each converged to a verified minimum, shape (r,),
        and their coordinates, shape (r, P) in the order of the family's names.
    """
    family_spec = _resolve(family, None, None, None)
    free, lower, upper = _constraints(family_spec, fixed, bounds)
    warm = _distinct_minima(fit, starts)
    with jax.enable_x64(True):
        params, _, converged = _refit_block(family_spec, delta, steps, runs, np.asarray(weights, dtype=np.float64),
                                            warm, free, lower, upper)
        return family_spec.to_law(jnp.asarray(params)), converged, params


def prediction_variance(fitted: Runs, at: Runs, params, *, family=Chinchilla, fixed=None, noise: float):
    """The delta-method variance of a fit's log-loss prediction at runs ``at``, from the runs it was fitted on.

    With J the Jacobian of the log loss in the free coordinates at ``params``:
    var_i = noise^2 J_i (J_f^T W J_f)^+ J_i^T, J_f the fitted runs' rows and W their
    weights (a pseudo-inverse where the runs leave a direction undetermined, which
    then adds no variance along it).

    Args:
        fitted: the runs the fit was made on.
        at: the runs (inputs) to predict.
        params: the fit's coordinates, shape (P,), in the order of the family's names.
        family, fixed: as for ``fit_huber``.
        noise: the residual scale of the fit on log loss.

    Returns:
        float64 array (len(at),).

    References: Seber & Wild 1989, "Nonlinear Regression", sec. 5.1 (the delta method).
    """
    family_spec = _resolve(family, None, None, None)
    free, _, _ = _constraints(family_spec, fixed, None)

    def jacobian(runs):
        features = _features(runs)
        with jax.enable_x64(True):
            theta = jnp.asarray(params, jnp.float64)
            return np.asarray(jax.jacfwd(lambda t: family_spec.log_loss(t, features))(theta))[:, np.asarray(free)]

    rows = jacobian(fitted) * np.sqrt(fitted.weight)[:, None]
    covariance = noise ** 2 * np.linalg.pinv(rows.T @ rows, hermitian=True)
    target = jacobian(at)
    return np.einsum("ip,pq,iq->i", target, covariance, target)


ESCALATION = (4, 16)
"""Bootstrap refits that did not converge in ``steps`` iterations go on from where they
stopped for this many times ``steps`` more, round after round, until they converge."""


def _refit_block(family, delta, steps, runs, counts, warm, free, lower, upper):
    """Refits of the resamples ``counts`` (r, runs) from every warm start, the best start
    of each resample kept; those that did not converge continue (``ESCALATION``). Returns
    the coordinates (r, P), objectives (r,; inf where failed) and convergence flags (r,)."""
    r = counts.shape[0]
    features, log_loss_obs = _features(runs), np.log(runs.loss)

    def refit(steps, weight, theta):
        out = _refit_program(family, delta, steps, *_padded(features, log_loss_obs, weight), theta, free, lower, upper)
        theta, f, _, converged = (np.asarray(x) for x in out)
        return theta, np.where(np.isnan(f), np.inf, f), converged

    weight = np.repeat(np.asarray(counts) * runs.weight, len(warm), axis=0)
    theta, f, converged = refit(steps, weight, np.tile(warm, (r, 1)))
    theta, f, converged = theta.reshape(r, len(warm), -1), f.reshape(r, len(warm)), converged.reshape(r, len(warm))
    best = np.argmin(f, axis=1)
    rows = np.arange(r)
    params, objective, converged = theta[rows, best], f[rows, best], converged[rows, best]
    for factor in ESCALATION:
        failed = np.flatnonzero(~converged)
        if not failed.size or not steps:
            break
        again = np.resize(failed, _bucket(failed.size))  # padded to a bucket: few programs to compile
        theta, f, done = refit(factor * steps, np.asarray(counts)[again] * runs.weight, params[again])
        k = failed.size
        params[failed], objective[failed], converged[failed] = theta[:k], f[:k], done[:k]
    return params, objective, converged


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
