"""Scaling laws as immutable pytrees with pure loss functions.

Every law is a frozen dataclass registered as a JAX pytree: its fields are the leaves,
so a law passes through ``jit``, ``vmap`` and ``grad`` like an array, and a law whose
leaves carry a leading axis (bootstrap resamples, posterior draws) is a batch of laws.
Loss functions broadcast the law's leaves against their inputs by NumPy rules.

Units everywhere: N in parameters, D and unique tokens in tokens, compute in FLOPs.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from . import _validate

PF_DAY = 8.64e19
"""FLOPs in one petaflop/s-day (1e15 FLOP/s for 86,400 s)."""


def _law(cls):
    """Make ``cls`` a frozen dataclass whose fields are pytree leaves."""
    return jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True)(cls))


def _masked(value, *inputs):
    """``value`` with NaN wherever an input is NaN, infinite or non-positive."""
    return jnp.where(_validate.invalid(*inputs), jnp.nan, value)


def _checked(law, **inputs):
    """Eager checks shared by every ``loss``: law parameters, inputs, shapes; returns the
    inputs as floating values (lists become arrays)."""
    _validate.check_law(law)
    for name, value in inputs.items():
        _validate.check_positive(name, value)
    _validate.check_broadcastable(**inputs)
    values = _validate.floats(**inputs)
    return values if len(values) > 1 else values[0]


@_law
class Chinchilla:
    """L(N, D) = E + A / N^alpha + B / D^beta.

    Args:
        E: irreducible loss (nats per token).
        A, alpha: scale and exponent of the parameter term (N in parameters).
        B, beta: scale and exponent of the data term (D in training tokens).

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    eq. (2).
    """

    E: jax.Array | float
    A: jax.Array | float
    B: jax.Array | float
    alpha: jax.Array | float
    beta: jax.Array | float

    def loss(self, N, D):
        """Loss of a model with N parameters trained on D tokens (NaN where invalid)."""
        N, D = _checked(self, N=N, D=D)
        value = self.E + self.A * jnp.power(N, -self.alpha) + self.B * jnp.power(D, -self.beta)
        return _masked(value, N, D)

    def _constraints(self):
        return (("E", True), ("A", False), ("B", False), ("alpha", False), ("beta", False))

    def _chinchilla_form(self):
        return self, _identity, _identity


def _identity(x):
    return x


@_law
class Kaplan:
    """Kaplan et al.'s power laws, with N counted without embedding parameters.

    Joint law L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D; its limits
    L(N) = (N_c / N)^alpha_N (data unlimited) and L(D) = (D_c / D)^alpha_D (model
    unlimited); and L(C_min) = (C_c / C_min)^alpha_C on the compute-efficient frontier.

    Args:
        N_c: parameter scale (non-embedding parameters).
        D_c: data scale (tokens).
        alpha_N, alpha_D: exponents of the parameter and data terms.
        C_c: compute scale (FLOPs; Kaplan et al. quote PF-days, see ``PF_DAY``).
        alpha_C: compute exponent.

    References: Kaplan et al. 2020, "Scaling Laws for Neural Language Models",
    eqs. (1.1)-(1.5) and Table 2.
    """

    N_c: jax.Array | float
    D_c: jax.Array | float
    alpha_N: jax.Array | float
    alpha_D: jax.Array | float
    C_c: jax.Array | float
    alpha_C: jax.Array | float

    def loss(self, N, D):
        """Joint loss of a model with N non-embedding parameters trained on D tokens."""
        N, D = _checked(self, N=N, D=D)
        inner = jnp.power(self.N_c / N, self.alpha_N / self.alpha_D) + self.D_c / D
        return _masked(jnp.power(inner, self.alpha_D), N, D)

    def loss_N(self, N):
        """Loss of N non-embedding parameters trained to convergence (no data limit)."""
        N = _checked(self, N=N)
        return _masked(jnp.power(self.N_c / N, self.alpha_N), N)

    def loss_D(self, D):
        """Loss after D tokens for a model large enough not to limit it."""
        D = _checked(self, D=D)
        return _masked(jnp.power(self.D_c / D, self.alpha_D), D)

    def loss_C(self, flops):
        """Loss on the compute-efficient frontier at ``flops`` (C_min, FLOPs)."""
        flops = _checked(self, flops=flops)
        return _masked(jnp.power(self.C_c / flops, self.alpha_C), flops)

    def _constraints(self):
        return tuple((name, False) for name in ("N_c", "D_c", "alpha_N", "alpha_D", "C_c", "alpha_C"))

    def _chinchilla_form(self):
        # L^(1/alpha_D) = N_c^a N^-a + D_c D^-1 with a = alpha_N / alpha_D: a Chinchilla law
        # with E = 0 in the transformed loss, so every Chinchilla solver applies exactly.
        a = self.alpha_N / self.alpha_D
        form = Chinchilla(E=0.0, A=jnp.power(self.N_c, a), B=self.D_c, alpha=a, beta=1.0)
        return (
            form,
            lambda loss: jnp.power(loss, 1.0 / self.alpha_D),
            lambda reduced: jnp.power(reduced, self.alpha_D),
        )


@_law
class ComputeLaw:
    """L(C) = E + (C0 / C)^alpha: loss as a function of training compute alone.

    Args:
        E: irreducible loss.
        C0: compute scale (FLOPs).
        alpha: compute exponent.

    References: Kaplan et al. 2020, eq. (1.3); Hoffmann et al. 2022, Figure A5.
    """

    E: jax.Array | float
    C0: jax.Array | float
    alpha: jax.Array | float

    def loss(self, flops):
        """Loss reached with ``flops`` of training compute (FLOPs)."""
        flops = _checked(self, flops=flops)
        return _masked(self.E + jnp.power(self.C0 / flops, self.alpha), flops)

    def flops_for_loss(self, loss):
        """Training FLOPs needed to reach ``loss``; NaN where loss <= E (unreachable).

        A budget beyond the dtype's range raises ``ValueError`` with concrete inputs and is
        NaN under a transformation."""
        loss = _checked(self, loss=loss)
        _validate.check_reachable(loss, self.E)
        reducible = loss - self.E
        flops = self.C0 * jnp.power(jnp.where(reducible > 0, reducible, jnp.nan), -1.0 / self.alpha)
        _validate.check_representable("ComputeLaw.flops_for_loss", flops, reducible > 0, loss=loss)
        return _masked(jnp.where(jnp.isfinite(flops), flops, jnp.nan), loss)

    def _constraints(self):
        return (("E", True), ("C0", False), ("alpha", False))


def _excess_ratio(x, part):
    """x / part - 1 for 0 < part <= x, formed in logs: its derivative never multiplies
    x by d part (which overflows float32 for x ~ 1e23)."""
    return jnp.expm1(jnp.log(x) - jnp.log(part))


@_law
class DataConstrained:
    """Chinchilla law with repeated data (Muennighoff et al.'s effective data and size).

    L = E + A / N'^alpha + B / D'^beta, where with U_D = min(unique_tokens, D) and
    R_D = D / U_D - 1 repeated epochs, D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)); and
    with U_N = min(N, N_opt(U_D)) (the compute-optimal size for U_D tokens on this law's
    frontier) and R_N = N / U_N - 1, N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)).

    Args:
        E, A, B, alpha, beta: the underlying Chinchilla law.
        R_D: decay constant of repeated tokens (epochs; R_D* in the paper).
        R_N: decay constant of excess parameters (R_N* in the paper).

    References: Muennighoff et al. 2023, "Scaling Data-Constrained Language Models",
    eqs. (5)-(7).
    """

    E: jax.Array | float
    A: jax.Array | float
    B: jax.Array | float
    alpha: jax.Array | float
    beta: jax.Array | float
    R_D: jax.Array | float
    R_N: jax.Array | float

    @property
    def chinchilla(self) -> Chinchilla:
        """The law with unlimited unique data."""
        return Chinchilla(E=self.E, A=self.A, B=self.B, alpha=self.alpha, beta=self.beta)

    def effective_tokens(self, D, unique_tokens):
        """D': the unique-data equivalent of D tokens drawn from ``unique_tokens``."""
        unique = jnp.minimum(unique_tokens, D)
        repeats = _excess_ratio(D, unique)
        return unique - unique * self.R_D * jnp.expm1(-repeats / self.R_D)

    def effective_params(self, N, D, unique_tokens):
        """N': the parameters that D' tokens can use, with the excess decaying."""
        G = jnp.power(self.alpha * self.A / (self.beta * self.B), 1.0 / (self.alpha + self.beta))
        unique_D = jnp.minimum(unique_tokens, D)
        n_opt = G * jnp.power(G * unique_D, self.beta / self.alpha)
        unique = jnp.minimum(N, n_opt)
        excess = _excess_ratio(N, unique)
        return unique - unique * self.R_N * jnp.expm1(-excess / self.R_N)

    def loss(self, N, D, unique_tokens):
        """Loss of N parameters trained on D tokens drawn from ``unique_tokens`` tokens."""
        N, D, unique_tokens = _checked(self, N=N, D=D, unique_tokens=unique_tokens)
        n_eff = self.effective_params(N, D, unique_tokens)
        d_eff = self.effective_tokens(D, unique_tokens)
        value = self.E + self.A * jnp.power(n_eff, -self.alpha) + self.B * jnp.power(d_eff, -self.beta)
        return _masked(value, N, D, unique_tokens)

    def _constraints(self):
        return (
            ("E", True), ("A", False), ("B", False), ("alpha", False), ("beta", False),
            ("R_D", False), ("R_N", False),
        )

    def _chinchilla_form(self):
        return self.chinchilla, _identity, _identity


HOFFMANN_2022 = Chinchilla(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083)
"""Hoffmann et al. 2022 approach 3, unrounded (E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)."""

EPOCH_2024 = Chinchilla(E=1.82, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
"""Besiroglu et al. 2024 ("Chinchilla Scaling: A replication attempt") estimates."""

KAPLAN_2020 = Kaplan(
    N_c=6.4e13, D_c=1.8e13, alpha_N=0.076, alpha_D=0.103, C_c=3.1e8 * PF_DAY, alpha_C=0.050
)
"""Kaplan et al. 2020 joint L(N, D) fit (Table 2) and their L(C_min) fit (3.1e8 PF-days).

Its ``loss_N`` and ``loss_D`` are the joint law's limits; the separately fitted
single-variable laws are ``KAPLAN_2020_SINGLE``."""

KAPLAN_2020_SINGLE = Kaplan(
    N_c=8.8e13, D_c=5.4e13, alpha_N=0.076, alpha_D=0.095, C_c=3.1e8 * PF_DAY, alpha_C=0.050
)
"""Kaplan et al. 2020 single-variable fits L(N), L(D), L(C_min) (eqs. 1.1-1.3)."""

MUENNIGHOFF_2023 = DataConstrained(
    E=math.exp(0.6254804),
    A=math.exp(6.255414),
    B=math.exp(7.3049974),
    alpha=0.3526596,
    beta=0.3526596,
    R_D=15.387756,
    R_N=5.309743,
)
"""Muennighoff et al. 2023 data-constrained fit (E=1.8691, A=520.82, B=1487.72)."""

PRESETS = {
    "hoffmann-2022": HOFFMANN_2022,
    "epoch-2024": EPOCH_2024,
    "kaplan-2020": KAPLAN_2020,
    "muennighoff-2023": MUENNIGHOFF_2023,
}
"""Published laws by their CLI names."""
