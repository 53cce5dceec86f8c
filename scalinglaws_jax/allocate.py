"""Allocation solvers: how big a model, on how many tokens, for a budget or a target.

Every solver is elementwise: law leaves, budgets and targets broadcast by NumPy rules,
and a law with a leading batch axis works through ``vmap``. Results are ``Allocation``
pytrees with a ``status`` array of the broadcast shape (0 ok, 1 infeasible, 2 not
converged, 3 invalid input); failed items hold NaN. Called eagerly with bad input, a
solver raises ``ValueError`` naming the argument; under ``jit``/``vmap`` it never raises.

Gradients with respect to the law and the budget are implicit: each solution is the root
of a stationarity condition, differentiated once at the root with
``jax.lax.custom_root`` (one scalar division per item), never through the iterations.

Laws of the Chinchilla form (``Chinchilla``; ``Kaplan``, whose loss is a monotone map of
one; ``DataConstrained`` with unlimited data) use closed forms, or a fixed few Newton or
Halley steps on a bracketed monotone 1-D condition (one compiled, branch-free program for
any batch). Any other law with ``loss(N, D)`` goes through a safeguarded Newton-bisection
search over log N.

Units: N in parameters, D and inference tokens in tokens, compute in FLOPs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from ._validate import INFEASIBLE, INVALID_INPUT, NOT_CONVERGED, OK
from .laws import ComputeLaw, DataConstrained


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Allocation:
    """A training plan: model size, tokens, predicted loss and its compute.

    Attributes:
        N: parameters.
        D: training tokens.
        loss: predicted loss of the plan.
        training_flops: 6 N D (FLOPs).
        inference_flops: 2 N per inference token (FLOPs; 0 without inference).
        status: 0 ok, 1 infeasible, 2 not converged, 3 invalid input.
    """

    N: jax.Array
    D: jax.Array
    loss: jax.Array
    training_flops: jax.Array
    inference_flops: jax.Array
    status: jax.Array

    @property
    def tokens_per_param(self) -> jax.Array:
        """Training tokens per parameter, D / N."""
        return self.D / self.N

    @property
    def lifetime_flops(self) -> jax.Array:
        """Training plus inference FLOPs."""
        return self.training_flops + self.inference_flops


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RepeatedDataAllocation(Allocation):
    """An ``Allocation`` under a unique-data limit, with ``epochs`` = D / unique tokens."""

    epochs: jax.Array


DEFAULT_BUDGETS = tuple(10.0**k for k in range(19, 26))
"""Budgets of the compute-optimal table, 1e19 ... 1e25 FLOPs."""


def _chinchilla_form(law, solver: str):
    if not hasattr(law, "_chinchilla_form"):
        if isinstance(law, ComputeLaw):
            raise TypeError(
                f"{solver} needs a law of N and D; a ComputeLaw fixes only the compute. "
                "Use law.loss(flops) or sl.flops_for_loss(law, loss)."
            )
        raise TypeError(f"{solver} needs a Chinchilla, Kaplan or DataConstrained law, got {type(law).__name__}")
    return law._chinchilla_form()


def _elementwise_root(condition, guess, solve):
    """Root of an elementwise ``condition`` with implicit derivatives (diagonal Jacobian)."""
    return jax.lax.custom_root(condition, guess, solve, lambda jvp, y: y / jvp(jnp.ones_like(y)))


def _fill(status, **fields):
    """Put NaN in every field where ``status`` is not OK."""
    bad = status != OK
    return {name: jnp.where(bad, jnp.nan, value) for name, value in fields.items()}


def _status(invalid, infeasible, unconverged):
    shape = jnp.broadcast_shapes(jnp.shape(invalid), jnp.shape(infeasible), jnp.shape(unconverged))
    status = jnp.where(unconverged, NOT_CONVERGED, OK)
    status = jnp.where(infeasible, INFEASIBLE, status)
    return jnp.broadcast_to(jnp.where(invalid, INVALID_INPUT, status), shape).astype(jnp.int32)


def _eps(x) -> float:
    return float(jnp.finfo(jnp.result_type(x)).eps)


def _tolerance(x) -> float:
    """Step size at which the iterative searches stop (relative, in log space)."""
    return 64 * _eps(x)


_STATUS_TOLERANCE = 1024
"""Residual of a stationarity condition, in machine epsilons of its largest term, above
which an item is reported as not converged (status 2)."""


# ----------------------------------------------------------------------------------
# compute budget -> best loss


def compute_optimal(law, flops, inference_tokens=None, *, method: str = "auto") -> Allocation:
    """The plan with the lowest loss for a compute budget.

    Minimises ``law.loss(N, D)`` subject to 6 N D + 2 N inference_tokens = flops. With no
    inference tokens this is the Chinchilla compute-optimal split, in closed form for
    Chinchilla-form laws: N* = G (C/6)^a, D* = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta / (alpha + beta), b = alpha / (alpha + beta). With inference tokens the budget
    is a lifetime budget and the solution is a few Newton steps on a monotone condition.

    Args:
        law: a law with ``loss(N, D)`` (Chinchilla, Kaplan, DataConstrained with
            unlimited data, or any pytree with such a method for ``method="numeric"``).
        flops: compute budget (FLOPs), training only or training plus inference.
        inference_tokens: tokens the model will serve over its lifetime (>= 0), or None.
        method: "auto" (closed form where one exists), "closed" or "numeric" (the
            generic search over log N, for any law; inference tokens not supported).

    Returns:
        ``Allocation`` with the broadcast shape of the law's leaves and the inputs.

    References: Hoffmann et al. 2022, appendix A; Sardana et al. 2023, "Beyond
    Chinchilla-Optimal", sec. 2.
    """
    if method not in ("auto", "closed", "numeric"):
        raise ValueError(f"method must be 'auto', 'closed' or 'numeric', got {method!r}")
    _validate.check_law(law)
    _validate.check_positive("flops", flops)
    if inference_tokens is not None:
        _validate.check_positive("inference_tokens", inference_tokens, allow_zero=True)
        _validate.check_broadcastable(flops=flops, inference_tokens=inference_tokens)
        if method == "numeric":
            raise ValueError("method='numeric' does not take inference_tokens")
        _chinchilla_form(law, "compute_optimal with inference_tokens")
        return _lifetime_optimal(law, *_validate.floats(flops, inference_tokens))
    (flops,) = _validate.floats(flops)
    if method == "closed" or (method == "auto" and hasattr(law, "_chinchilla_form")):
        _chinchilla_form(law, "compute_optimal(method='closed')")
        return _compute_optimal_closed(law, flops)
    return _compute_optimal_numeric(law, flops)


@jax.jit
def _compute_optimal_closed(law, flops):
    form, _, from_reduced = law._chinchilla_form()
    alpha, beta = form.alpha, form.beta
    G = jnp.power(alpha * form.A / (beta * form.B), 1.0 / (alpha + beta))
    half = flops / 6.0
    N = G * jnp.power(half, beta / (alpha + beta))
    D = jnp.power(half, alpha / (alpha + beta)) / G
    reduced = form.E + form.A * jnp.power(N, -alpha) + form.B * jnp.power(D, -beta)
    invalid = _validate.invalid_law(law) | _validate.invalid(flops)
    status = _status(invalid, False, False)
    return Allocation(
        **_fill(status, N=N, D=D, loss=from_reduced(reduced), training_flops=6.0 * N * D),
        inference_flops=jnp.zeros_like(N),
        status=status,
    )


@jax.jit
def _lifetime_optimal(law, flops, inference_tokens):
    # Stationarity of L on 6 N D + 2 N D_inf = C, in w = log D with N = C / (6 (D + d)),
    # d = D_inf / 3: h(w) = c + (1 + beta) w + (alpha - 1) log(e^w + d) = 0, where
    # c = log(alpha A / (beta B)) + alpha log(6 / C). h is increasing; it is concave for
    # alpha < 1 and convex for alpha > 1, and w0 = max of the roots of its two linear
    # asymptotes is on the side from which Newton converges monotonically.
    form, _, from_reduced = law._chinchilla_form()
    alpha, beta, A, B = form.alpha, form.beta, form.A, form.B
    d = inference_tokens / 3.0
    serves = d > 0
    log_d = jnp.where(serves, jnp.log(jnp.where(serves, d, 1.0)), -jnp.inf)
    c = jnp.log(alpha * A / (beta * B)) + alpha * jnp.log(6.0 / flops)

    def condition(w):
        return c + (1.0 + beta) * w + (alpha - 1.0) * jnp.logaddexp(w, log_d)

    def solve(condition, w):
        def newton(_, w):
            slope = (1.0 + beta) + (alpha - 1.0) * jax.nn.sigmoid(w - log_d)
            return w - condition(w) / slope

        return jax.lax.fori_loop(0, 8, newton, w)

    guess_far = -c / (alpha + beta)
    guess_near = jnp.where(serves, -(c + (alpha - 1.0) * jnp.where(serves, log_d, 0.0)) / (1.0 + beta), -jnp.inf)
    guess = jax.lax.stop_gradient(jnp.maximum(guess_far, guess_near))
    w = _elementwise_root(condition, guess, solve)
    D = jnp.exp(w)
    N = flops / (6.0 * (D + d))
    reduced = form.E + A * jnp.power(N, -alpha) + B * jnp.power(D, -beta)
    scale = 1.0 + jnp.abs(c) + (1.0 + beta) * jnp.abs(w) + jnp.abs((alpha - 1.0) * jnp.logaddexp(w, log_d))
    residual = jnp.abs(condition(w)) / scale
    invalid = _validate.invalid_law(law) | _validate.invalid(flops) | _validate.invalid(inference_tokens, allow_zero=True)
    status = _status(invalid, False, ~(residual <= _STATUS_TOLERANCE * _eps(w)))
    return Allocation(
        **_fill(
            status,
            N=N,
            D=D,
            loss=from_reduced(reduced),
            training_flops=6.0 * N * D,
            inference_flops=2.0 * N * inference_tokens,
        ),
        status=status,
    )


@jax.jit
def _compute_optimal_numeric(law, flops):
    def loss_at(log_N):
        N = jnp.exp(log_N)
        return law.loss(N, flops / (6.0 * N))

    log_N, unconverged = _argmin_log_N(loss_at, law, flops)
    N = jnp.exp(log_N)
    D = flops / (6.0 * N)
    status = _status(_validate.invalid_law(law) | _validate.invalid(flops), False, unconverged)
    return Allocation(
        **_fill(status, N=N, D=D, loss=loss_at(log_N), training_flops=6.0 * N * D),
        inference_flops=jnp.zeros_like(N),
        status=status,
    )


# ----------------------------------------------------------------------------------
# target loss -> least lifetime compute


def inference_optimal(law, loss, inference_tokens=0.0) -> Allocation:
    """The plan reaching ``loss`` with the least lifetime compute, training plus inference.

    Minimises 6 N D + 2 N inference_tokens subject to ``law.loss(N, D) = loss``. With the
    law's terms x = A / N^alpha, y = B / D^beta and R = loss - E, the optimum satisfies
    alpha x = beta y (1 + inference_tokens / (3 D)): a few bracketed Newton steps on
    log y. With zero inference tokens it is the compute-optimal plan for that loss.

    Args:
        law: a Chinchilla-form law (Chinchilla, Kaplan, DataConstrained with unlimited data).
        loss: target loss (must exceed the law's irreducible loss E).
        inference_tokens: tokens served over the model's lifetime (>= 0).

    Returns:
        ``Allocation``; status 1 (infeasible) where loss <= E.

    References: Sardana et al. 2023, "Beyond Chinchilla-Optimal: Accounting for Inference
    in Language Model Scaling Laws", sec. 2.
    """
    form, _, from_reduced = _chinchilla_form(law, "inference_optimal")
    _validate.check_law(law)
    _validate.check_positive("loss", loss)
    _validate.check_positive("inference_tokens", inference_tokens, allow_zero=True)
    _validate.check_broadcastable(loss=loss, inference_tokens=inference_tokens)
    if _validate.is_concrete(law):
        _validate.check_reachable(loss, from_reduced(form.E))
    return _inference_optimal(law, *_validate.floats(loss, inference_tokens))


@jax.jit
def _inference_optimal(law, loss, inference_tokens):
    # With y = B / D^beta, u = log y and d = D_inf / 3, the optimum is the root of
    # f(u) = alpha R e^-u - (alpha + beta) - beta k e^(u / beta), k = d / B^(1/beta),
    # decreasing in u. Its root lies in [u_lo, u_hi]:
    # u_hi = min(log(alpha R / (alpha + beta)), beta / (1 + beta) log(alpha R / (beta k)))
    # bounds it above (f <= 0 there) and u_lo = log(alpha R / (alpha + beta + beta k
    # e^(u_hi / beta))) below; the bracket is tight at both extremes of k. Three Halley
    # steps from u_hi reach float64 round-off. Work is in logs: pow costs a log and an exp.
    form, to_reduced, _ = law._chinchilla_form()
    alpha, beta = form.alpha, form.beta
    R = to_reduced(loss) - form.E
    feasible = R > 0
    R = jnp.where(feasible, R, 1.0)
    d = inference_tokens / 3.0
    total = alpha + beta
    aR = alpha * R
    inv_beta = 1.0 / beta
    log_B = jnp.log(form.B)

    def condition(u):
        k = d * jnp.exp(-log_B * inv_beta)
        return aR * jnp.exp(-u) - total - beta * k * jnp.exp(u * inv_beta)

    log_k = jnp.log(d) - log_B * inv_beta  # -inf without inference

    def solve(condition, u_hi):
        u_lo = jnp.log(aR / (total + beta * jnp.exp(log_k + u_hi * inv_beta)))
        u = u_hi
        for _ in range(3):
            p = aR * jnp.exp(-u)
            q = jnp.exp(log_k + u * inv_beta)
            f, f1, f2 = p - total - beta * q, -p - q, p - q * inv_beta
            u = jnp.clip(u - 2.0 * f * f1 / (2.0 * f1 * f1 - f * f2), u_lo, u_hi)
        return u

    u_far = (jnp.log(aR / beta) - log_k) * (beta / (1.0 + beta))
    u_hi = jax.lax.stop_gradient(jnp.minimum(jnp.log(aR / total), u_far))
    u = _elementwise_root(condition, u_hi, solve)
    y = jnp.exp(u)
    D = jnp.exp((log_B - u) * inv_beta)
    N = jnp.exp((jnp.log(form.A) - jnp.log(R - y)) / alpha)
    # f(u) from y and D (beta k e^(u / beta) = beta d / D): no further exp or log.
    scale = aR / y + total
    unconverged = ~(jnp.abs(aR / y - total - beta * d / D) <= _STATUS_TOLERANCE * _eps(u) * scale)
    invalid = _validate.invalid_law(law) | _validate.invalid(loss) | _validate.invalid(inference_tokens, allow_zero=True)
    status = _status(invalid, ~feasible, unconverged)
    return Allocation(
        **_fill(
            status,
            N=N,
            D=D,
            loss=loss + jnp.zeros_like(N),
            training_flops=6.0 * N * D,
            inference_flops=2.0 * N * inference_tokens,
        ),
        status=status,
    )


def flops_for_loss(law, loss):
    """Training FLOPs a compute-optimal run needs to reach ``loss`` (NaN if unreachable).

    Args:
        law: a ComputeLaw, or a Chinchilla-form law (then 6 N* D* of ``inference_optimal``
            with no inference).
        loss: target loss, above the law's irreducible loss.

    References: Hoffmann et al. 2022, sec. 3.4.
    """
    if isinstance(law, ComputeLaw):
        return law.flops_for_loss(loss)
    return inference_optimal(law, loss).training_flops


# ----------------------------------------------------------------------------------
# unique-data limit


def data_constrained_optimal(law: DataConstrained, flops, unique_tokens) -> RepeatedDataAllocation:
    """The plan with the lowest loss for a budget when only ``unique_tokens`` exist.

    Minimises ``law.loss(N, C / (6 N), unique_tokens)`` over N, so that D = C / (6 N)
    may repeat the unique data for ``epochs`` = D / unique_tokens.

    Args:
        law: a ``DataConstrained`` law.
        flops: training compute (FLOPs).
        unique_tokens: unique tokens available (tokens).

    Returns:
        ``RepeatedDataAllocation`` (an ``Allocation`` with ``epochs``).

    References: Muennighoff et al. 2023, "Scaling Data-Constrained Language Models",
    sec. 3.3 and Figure 3.
    """
    if not isinstance(law, DataConstrained):
        raise TypeError(f"data_constrained_optimal needs a DataConstrained law, got {type(law).__name__}")
    _validate.check_law(law)
    _validate.check_positive("flops", flops)
    _validate.check_positive("unique_tokens", unique_tokens)
    _validate.check_broadcastable(flops=flops, unique_tokens=unique_tokens)
    return _data_constrained_optimal(law, *_validate.floats(flops, unique_tokens))


@jax.jit
def _data_constrained_optimal(law, flops, unique_tokens):
    def loss_at(log_N):
        N = jnp.exp(log_N)
        return law.loss(N, flops / (6.0 * N), unique_tokens)

    log_N, unconverged = _argmin_log_N(loss_at, law, flops, unique_tokens)
    N = jnp.exp(log_N)
    D = flops / (6.0 * N)
    invalid = _validate.invalid_law(law) | _validate.invalid(flops, unique_tokens)
    status = _status(invalid, False, unconverged)
    return RepeatedDataAllocation(
        **_fill(status, N=N, D=D, loss=loss_at(log_N), training_flops=6.0 * N * D, epochs=D / unique_tokens),
        inference_flops=jnp.zeros_like(N),
        status=status,
    )


def _argmin_log_N(loss_at, law, flops, *others):
    """Minimise the elementwise ``loss_at(log N)`` over 1 <= N <= flops / 6 (D >= 1).

    Safeguarded Newton on the derivative inside a bracket kept by its sign, falling back
    to bisection; at most 200 steps, stopping once every item has settled. Returns log N
    with implicit derivatives, and a mask of items that did not reach an interior optimum.
    """
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in jax.tree_util.tree_leaves((law, flops, others))))
    log_hi = jnp.broadcast_to(jnp.log(flops / 6.0), shape)
    log_lo = jnp.zeros_like(log_hi)

    def slope(log_N):
        return jax.jvp(loss_at, (log_N,), (jnp.ones_like(log_N),))[1]

    def solve(slope, log_N):
        tol = _tolerance(log_N)

        def step(state):
            s, lo, hi, i, _ = state
            g, h = jax.jvp(slope, (s,), (jnp.ones_like(s),))
            lo = jnp.where(g < 0, s, lo)
            hi = jnp.where(g > 0, s, hi)
            newton = s - g / h
            inside = (h > 0) & (newton > lo) & (newton < hi)
            s_new = jnp.where(inside, newton, 0.5 * (lo + hi))
            width = tol * (1.0 + jnp.abs(s))
            settled = (g == 0) | (jnp.abs(s_new - s) <= width) | (hi - lo <= width) | ~jnp.isfinite(g)
            return jnp.where(settled, s, s_new), lo, hi, i + 1, settled

        def unsettled(state):
            return (state[3] < 200) & ~jnp.all(state[4])

        first = (log_N, log_lo, log_hi, 0, jnp.zeros(shape, bool))
        return jax.lax.while_loop(unsettled, step, first)[0]

    guess = jax.lax.stop_gradient(0.5 * (log_lo + log_hi))
    log_N = _elementwise_root(slope, guess, solve)
    # Stopping against N = 1 parameter or D = 1 token means no interior optimum was found.
    edge = (log_N <= log_lo + 1e-6) | (log_N >= log_hi - 1e-6)
    return log_N, edge | ~jnp.isfinite(log_N)


def budget_table(law, flops=DEFAULT_BUDGETS, inference_tokens=None) -> dict[str, np.ndarray]:
    """The compute-optimal table: N*, D*, tokens per parameter and loss per budget.

    Args:
        law: as for ``compute_optimal``.
        flops: budgets (FLOPs); default 1e19 ... 1e25.
        inference_tokens: lifetime inference tokens, or None.

    Returns:
        Columns as NumPy arrays: ``flops``, ``N``, ``D``, ``tokens_per_param``, ``loss``
        and ``status`` (ready for ``pandas.DataFrame``).

    References: Hoffmann et al. 2022, Table 3.
    """
    plan = compute_optimal(law, jnp.asarray(np.asarray(flops, dtype=float)), inference_tokens)
    return {
        "flops": np.asarray(flops, dtype=float),
        "N": np.asarray(plan.N),
        "D": np.asarray(plan.D),
        "tokens_per_param": np.asarray(plan.tokens_per_param),
        "loss": np.asarray(plan.loss),
        "status": np.asarray(plan.status),
    }
