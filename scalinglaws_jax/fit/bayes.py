"""Bayesian fits of scaling laws with NumPyro: NUTS (or an SVI / Laplace approximation) -> Posterior.

The model, on log loss, for a law family (``Chinchilla``, ``Kaplan``, ``ComputeLaw`` or
``DataConstrained``) whose log loss is ``huber.Family.log_loss`` (the same definition the
Huber fit uses, e.g. for Chinchilla the log-sum-exp form of Hoffmann et al.'s approach 3):

    mu_i      = log L(theta; run i)       e.g. LSE(a - alpha log N_i,  b - beta log D_i,  e)
    log L_i   ~ StudentT(nu, mu_i, sigma)                        (or Normal(mu_i, sigma))

with fixed, data-independent priors on the law's parameters in its own units
(``default_priors``; simulation-based calibration needs priors that do not look at the
data), each overridable by name or pinned to a value.

Sampler coordinates. In (a, alpha) the posterior is a thin ridge: a change in alpha is
compensated by a change of a by alpha times a typical log N. NUTS instead samples the log
of each scale term at a reference size c (the mean of the term's feature over the runs),
which is nearly uncorrelated with the exponent, and uses a dense mass matrix for what
correlation is left:

    Chinchilla-type terms  A / N^alpha:        log_A_ref = log A - alpha c_N        (unit Jacobian)
    Kaplan-type terms      (N_c / N)^alpha_N:  log_N_c_ref = alpha_N (log N_c - c_N)

(B / D^beta, and DataConstrained's A and B, like A; Kaplan's D_c with alpha_D and
ComputeLaw's C0 with alpha on log C like N_c). The reference depends on the data, but only
as a change of variables whose Jacobian (1, or d N_c / d ref = N_c / alpha_N) enters the
prior factor: the target density is the stated prior on (A, alpha) or (N_c, alpha_N)
times the likelihood, so the prior does not depend on the data.

A posterior is a batched law: ``Posterior.law`` is a law of the fitted family whose leaves
have a leading draw axis, so ``jax.vmap(sl.compute_optimal, (0, None))(post.law, flops)``
is the posterior of the compute-optimal allocation of a Chinchilla fit.

Units: N in parameters, D and unique tokens in tokens, flops in FLOPs, loss in nats per
token.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
import time
import warnings
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate
from .._files import atomic_write
from ..domain import Domain
from ..laws import Chinchilla, ComputeLaw, DataConstrained, Kaplan
from . import form_error as _form_error
from . import huber
from .runs import Runs

NOISE_PARAMS = ("sigma", "nu")
"""The likelihood's parameters: scale of the log-loss residuals, Student-t degrees of freedom."""

DEFAULT_NU = 4.0
"""Student-t degrees of freedom unless ``priors`` or ``fixed`` name ``nu``."""

RHAT_MAX = 1.01
ESS_MIN = 400.0
"""Thresholds beyond which ``fit_bayes`` warns (Vehtari et al. 2021)."""

_METHODS = ("nuts", "svi", "laplace")
_LIKELIHOODS = ("student_t", "normal")
_CHAIN_METHODS = ("parallel", "vectorized", "sequential")
_FORMAT = "scalinglaws_jax.Posterior/1"


# ----------------------------------------------------------------------------------
# families


@dataclasses.dataclass(frozen=True, eq=False)
class _Spec:
    """A law family as the Bayesian model sees it.

    Attributes:
        fit: the Huber fitter's ``Family`` (its ``log_loss`` and ``natural`` maps).
        inputs: the arguments of the law's ``loss``, as ``Posterior.predict`` takes them.
        features: the run features (``huber._features``) that ``fit.log_loss`` reads.
        terms: scale parameter -> (its exponent, the feature, ``"shift"`` or
            ``"product"``): the scale is sampled as log X - exponent c (shift) or
            exponent (log X - c) (product), c the feature's mean over the runs.
        log: parameter -> True when its coordinate in ``fit`` is log X, False when X.
    """

    fit: huber.Family
    inputs: tuple[str, ...]
    features: tuple[str, ...]
    terms: dict
    log: dict

    @property
    def params(self) -> tuple[str, ...]:
        """The fitted parameters in the order of the law's fields."""
        return tuple(self.fit.natural)


def _is_log(name: str, transform) -> bool:
    probe = np.array([0.5, 2.0, 7.0])
    if np.allclose(transform(probe), np.log(probe), rtol=0, atol=1e-15):
        return True
    if np.array_equal(transform(probe), probe):
        return False
    raise ValueError(f"the map of {name} to its fitted coordinate is neither log nor the identity")


def _spec_of(family: huber.Family, inputs, features, terms) -> _Spec:
    log = {name: _is_log(name, transform) for name, (_, transform) in family.natural.items()}
    for scale, (exponent, _, _) in terms.items():
        if not log[scale] or log[exponent]:
            raise ValueError(f"the term of {scale} needs log {scale} and a plain {exponent} as coordinates")
    return _Spec(fit=family, inputs=inputs, features=features, terms=terms, log=log)


_CHINCHILLA_TERMS = {"A": ("alpha", "log_N", "shift"), "B": ("beta", "log_D", "shift")}

_SPECS = {
    Chinchilla: _spec_of(huber.CHINCHILLA, ("N", "D"), ("log_N", "log_D"), _CHINCHILLA_TERMS),
    Kaplan: _spec_of(huber.KAPLAN, ("N", "D"), ("log_N", "log_D"),
                     {"N_c": ("alpha_N", "log_N", "product"), "D_c": ("alpha_D", "log_D", "product")}),
    ComputeLaw: _spec_of(huber.COMPUTE, ("flops",), ("log_flops",), {"C0": ("alpha", "log_flops", "product")}),
    DataConstrained: _spec_of(huber.DATA_CONSTRAINED, ("N", "D", "unique_tokens"), ("log_N", "log_D", "log_U"),
                              _CHINCHILLA_TERMS),
}
_BY_NAME = {family.__name__: family for family in _SPECS}


def _resolve(family) -> _Spec:
    if not (isinstance(family, type) and family in _SPECS):
        raise ValueError(f"family must be one of {', '.join(_BY_NAME)}, got {family!r}")
    return _SPECS[family]


TERM_SIZES = {"A": 1e9, "B": 2e10}
"""The fixed sizes at which the default priors state the terms of Chinchilla's (and
DataConstrained's) A and B: N = 1e9 parameters, and D = 2e10 tokens (20 per parameter)."""


@functools.cache
def _log_term_normal() -> type:
    """The class ``LogTermNormal``, built on first use (NumPyro is imported lazily)."""
    import numpyro.distributions as dist

    class LogTermNormal(dist.Normal):
        """Prior of a scale X through its term at a fixed size: log(X / size^exponent) ~ Normal(loc, scale).

        For Chinchilla's A (the term A / N^alpha): log A - alpha log(size) ~ Normal(loc,
        scale) independently of alpha, i.e. the term at N = size, in nats per token, is
        LogNormal(loc, scale) whatever the exponent; the joint prior of (A, alpha) is this
        times alpha's own prior. Likewise B / D^beta with size in tokens. The object is a
        Normal distribution of that log term (``sample`` draws it); ``fit_bayes`` applies
        it to the scales of Chinchilla-type terms (A and B of ``Chinchilla`` and
        ``DataConstrained``) only.

        Args:
            loc, scale: mean and standard deviation of the log of the term at ``size``
                (log nats per token).
            size: the fixed size: parameters for A, tokens for B.

        References: Hoffmann et al. 2022, eq. (2) (the terms A / N^alpha, B / D^beta).
        """

        arg_constraints = {**dist.Normal.arg_constraints, "size": dist.constraints.positive}
        pytree_data_fields = ("size",)

        def __init__(self, loc=0.0, scale=1.0, size=1.0, *, validate_args=None):
            self.size = size
            super().__init__(loc, scale, validate_args=validate_args)

    LogTermNormal.__module__ = __name__
    LogTermNormal.__qualname__ = "LogTermNormal"
    return LogTermNormal


def __getattr__(name):
    if name == "LogTermNormal":
        return _log_term_normal()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_priors(family=Chinchilla) -> dict:
    """The default priors of ``family``'s parameters and sigma, by name (fresh distribution objects).

    All are fixed, weakly informative distributions in the law's own units; none looks
    at the data (override any with ``fit_bayes(priors=...)`` for runs on another scale).

    ``Chinchilla`` (L = E + A / N^alpha + B / D^beta):

    - ``E`` ~ Uniform(0.5, 3): irreducible loss in nats per token, bounded away from 0
      and below the losses of typical language-model runs.
    - ``alpha``, ``beta`` ~ LogNormal(-1.2, 0.6): median e^-1.2 = 0.30, 95% between 0.09
      and 0.98, 99% between 0.06 and 1.4. Fitted language-model exponents lie in about
      0.05-1 (Hoffmann et al. 0.34 and 0.28, Besiroglu et al. 0.35 and 0.37, Muennighoff
      et al. 0.35); the density vanishes at 0, where a term is a constant that E absorbs.
    - ``A``, ``B``: each through its term at a fixed size (``TERM_SIZES``; the class
      ``LogTermNormal``): log(A / 1e9^alpha) ~ Normal(-1, 1.5), the term A / N^alpha at
      N = 1e9 parameters, and log(B / 2e10^beta) ~ Normal(-1, 1.5), B / D^beta at D =
      2e10 tokens, each independent of its exponent. A term is then e^-1 = 0.37 nats at
      that size (Hoffmann et al. 0.36 and 0.48, Besiroglu et al. 0.36 and 0.36), between
      0.02 and 7 nats at +-2 standard deviations, whatever the exponent. A prior on A
      alone cannot do this: the term is A / N^alpha, so with A independent of alpha its
      log at N = 1e9 spreads by 20.7 times alpha's spread. The Uniform(0, 2) exponents
      and LogNormal(5, 5) scales these priors replace made it smaller than 1e-4 nats in
      66% of draws, a term whose exponent no runs can measure, and NUTS failed on such
      posteriors (``benchmarks/sbc.py``); the exponents above with an independent A ~
      LogNormal(6, 2.5) still leave it below 0.01 or above 100 nats in 31%.
      Implied marginals: log A from -0.2 to 19.5 (median 5.4), log B from 0.2 to 22.4
      (median 6.3), at 95%. ``priors={"A": dist.LogNormal(6, 2)}`` sets a prior on A
      alone, as for any parameter.

    ``Kaplan`` (L = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D):

    - ``N_c``, ``D_c`` ~ LogNormal(30, 10): log N_c = log N + log L / alpha_N, which for
      runs of 1e6-1e11 parameters, losses of 2-4 nats and exponents of 0.05-0.3 lies
      between about 15 and 50 (Kaplan et al.: 31.8 and 30.5); +-2 standard deviations
      span e^10 to e^50.
    - ``alpha_N``, ``alpha_D`` ~ Uniform(0, 1): without an irreducible term the loss
      falls slowly, and Kaplan et al. measured 0.05-0.1.
    - ``C_c`` and ``alpha_C`` are not fitted: (N, D, loss) do not determine them.

    ``ComputeLaw`` (L = E + (C0 / C)^alpha):

    - ``E`` ~ Uniform(0.5, 3), as for Chinchilla.
    - ``C0`` ~ LogNormal(35, 15): log C0 = log C + log(L - E) / alpha ranges from about 5
      to 65 for budgets of 1e18-1e24 FLOPs, reducible losses of 0.3-1.5 nats and
      exponents of 0.03-0.5; +-2 standard deviations span e^5 to e^65.
    - ``alpha`` ~ Uniform(0, 2).

    ``DataConstrained`` (Muennighoff et al.): Chinchilla's, and

    - ``R_D`` ~ LogNormal(log 15.4, 1.5), ``R_N`` ~ LogNormal(log 5.3, 1.5): centred on
      Muennighoff et al.'s fit, a factor of 20 either way at +-2 standard deviations.
      Runs without repeated epochs (or without excess parameters) leave them at the
      prior.

    Every family: ``sigma`` ~ HalfNormal(0.05), the scale of the log-loss residuals (a
    few 1e-3 on Chinchilla); ``nu`` fixed at 4 (a robust Student-t likelihood), or give
    it a prior, e.g. ``priors={"nu": dist.Gamma(2, 0.1)}``, to learn it.

    Simulation-based calibration of the Chinchilla priors: ``benchmarks/sbc.py``.

    References: Hoffmann et al. 2022; Kaplan et al. 2020, Table 2; Muennighoff et al.
    2023, eqs. (5)-(7); Besiroglu et al. 2024; Talts et al. 2018 (simulation-based
    calibration).
    """
    import numpyro.distributions as dist

    _resolve(family)
    if family is Kaplan:
        priors = {"N_c": dist.LogNormal(30.0, 10.0), "D_c": dist.LogNormal(30.0, 10.0),
                  "alpha_N": dist.Uniform(0.0, 1.0), "alpha_D": dist.Uniform(0.0, 1.0)}
    elif family is ComputeLaw:
        priors = {"E": dist.Uniform(0.5, 3.0), "C0": dist.LogNormal(35.0, 15.0), "alpha": dist.Uniform(0.0, 2.0)}
    else:
        term = _log_term_normal()
        priors = {
            "E": dist.Uniform(0.5, 3.0),
            "A": term(-1.0, 1.5, TERM_SIZES["A"]),
            "B": term(-1.0, 1.5, TERM_SIZES["B"]),
            "alpha": dist.LogNormal(-1.2, 0.6),
            "beta": dist.LogNormal(-1.2, 0.6),
        }
        if family is DataConstrained:
            priors.update(R_D=dist.LogNormal(math.log(15.4), 1.5), R_N=dist.LogNormal(math.log(5.3), 1.5))
    priors["sigma"] = dist.HalfNormal(0.05)
    return priors


# ----------------------------------------------------------------------------------
# the model


def _scale(name, exponent, reference, kind, prior):
    """log X of a scale parameter, sampled as the log of its term at the reference size."""
    import numpyro
    import numpyro.distributions as dist

    ref = numpyro.sample(f"log_{name}_ref", dist.ImproperUniform(dist.constraints.real, (), ()))
    if isinstance(prior, _log_term_normal()):
        if kind != "shift":
            raise ValueError(f"priors[{name!r}]: a LogTermNormal is the prior of a term X / size^exponent "
                             f"(A and B of Chinchilla and DataConstrained), not of {name}")
        # log X - exponent log(size) = ref + exponent (c - log size): unit Jacobian given the exponent
        log_x = ref + exponent * reference
        numpyro.factor(f"prior_{name}", prior.log_prob(log_x - exponent * jnp.log(prior.size)))
        numpyro.deterministic(name, jnp.exp(log_x))
        return log_x
    if kind == "shift":
        # ref = log X - exponent c: density of (ref | exponent) = p_X(x) |dx/dlog x|
        log_x = ref + exponent * reference
        log_jacobian = log_x
    else:
        # ref = exponent (log X - c): dx/dref = x / exponent
        log_x = reference + ref / exponent
        log_jacobian = log_x - jnp.log(exponent)
    x = jnp.exp(log_x)
    numpyro.factor(f"prior_{name}", jnp.where(prior.support(x), prior.log_prob(x) + log_jacobian, -jnp.inf))
    numpyro.deterministic(name, x)
    return log_x


def _model(spec, likelihood, data):
    """NumPyro model of the runs in ``data`` (see ``_data``): features, log loss, weights,
    the complete and disjoint priors and fixed values (``_complete``), the references."""
    import numpyro
    import numpyro.distributions as dist

    features, log_loss, weight = data["features"], data["log_loss"], data["weight"]
    priors, fixed, references = data["priors"], data["fixed"], data["references"]

    def draw(name):
        if name in fixed:
            return fixed[name]
        if isinstance(priors[name], _log_term_normal()):
            raise ValueError(f"priors[{name!r}]: a LogTermNormal is the prior of a term X / size^exponent "
                             f"(A and B of Chinchilla and DataConstrained), not of {name}")
        return numpyro.sample(name, priors[name])

    coordinates = {}
    for name in spec.params:
        if name not in spec.terms:
            value = draw(name)
            coordinates[name] = jnp.log(value) if spec.log[name] else value
    for name, (exponent, feature, kind) in spec.terms.items():
        if name in fixed:
            coordinates[name] = jnp.log(fixed[name])
        else:
            coordinates[name] = _scale(name, coordinates[exponent], references[feature], kind, priors[name])
    order = {spec.fit.natural[name][0]: name for name in spec.params}
    theta = jnp.stack([coordinates[order[coordinate]] for coordinate in spec.fit.names])
    mu = spec.fit.log_loss(theta, features)
    sigma = draw("sigma")
    if likelihood == "student_t":
        noise = dist.StudentT(draw("nu"), mu, sigma)
    else:
        noise = dist.Normal(mu, sigma)
    with numpyro.plate("runs", log_loss.shape[0]), numpyro.handlers.scale(scale=weight):
        numpyro.sample("log_loss", noise, obs=log_loss)


# ----------------------------------------------------------------------------------
# diagnostics


def _z_scores(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    ranks = np.empty(flat.size)
    order = np.argsort(flat, kind="stable")
    ranks[order] = np.arange(1, flat.size + 1)
    # average ranks of ties
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    p = (ranks - 0.375) / (flat.size + 0.25)
    with jax.enable_x64(True):
        z = np.asarray(jax.scipy.special.ndtri(jnp.asarray(p, jnp.float64)))
    return z.reshape(x.shape)


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def diagnostics(x) -> dict[str, float]:
    """Rank-normalised split R-hat, bulk ESS and tail ESS of draws ``x`` of shape (chains, draws).

    R-hat is the larger of the bulk and folded (|x - median|) rank-normalised split R-hats;
    bulk ESS is the ESS of the rank-normalised split chains; tail ESS the smaller ESS of the
    indicators of the 5% and 95% quantiles. The autocorrelation sums are
    ``numpyro.diagnostics``'; the rank normalisation is Vehtari et al.'s (ArviZ's defaults).

    References: Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021, "Rank-normalization,
    folding, and localization: An improved R-hat for assessing convergence of MCMC".
    """
    from numpyro.diagnostics import effective_sample_size, gelman_rubin

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 4:
        raise ValueError(f"x must have shape (chains, draws) with draws >= 4, got {x.shape}")
    if np.ptp(x) == 0 or not np.isfinite(x).all():
        return {"r_hat": math.nan, "ess_bulk": math.nan, "ess_tail": math.nan}
    split = _split(x)
    bulk = _z_scores(split)
    folded = _z_scores(np.abs(split - np.median(split)))
    r_hat = max(float(gelman_rubin(bulk)), float(gelman_rubin(folded)))
    ess_bulk = float(effective_sample_size(bulk))
    tails = []
    for q in (0.05, 0.95):
        indicator = (split <= np.quantile(split, q)).astype(np.float64)
        tails.append(float(effective_sample_size(indicator)) if np.ptp(indicator) > 0 else math.nan)
    return {"r_hat": r_hat, "ess_bulk": ess_bulk, "ess_tail": float(np.nanmin(tails))}


# ----------------------------------------------------------------------------------
# the posterior


def _describe(distribution, exact: bool = False) -> str:
    """``Uniform(low=0.5, high=3)``: a distribution as text, for summaries and files.

    ``exact`` writes every parameter in full precision (``Uniform(low=0.5, high=3.0)``)
    and adds the base distribution and the transforms of one whose parameters do not
    determine them (``TransformedDistribution``, truncations): text that tells apart any
    two priors that differ.
    """
    if isinstance(distribution, str):
        return distribution
    number = repr if exact else "{:g}".format
    args = {name: _value_text(value, number) for name, value in _parameters_of(distribution).items()}
    base = getattr(distribution, "base_dist", None)
    if exact and base is not None:
        inherited = {name: _value_text(value, number) for name, value in _parameters_of(base).items()}
        if any(args.get(name) != text for name, text in inherited.items()) or not inherited:
            args["base_dist"] = _describe(base, exact=True)
            transforms = getattr(distribution, "transforms", ())
            if transforms:
                args["transforms"] = f"[{', '.join(_transform_text(t) for t in transforms)}]"
    return f"{type(distribution).__name__}({', '.join(f'{name}={text}' for name, text in args.items())})"


def _parameters_of(distribution) -> dict:
    return {name: getattr(distribution, name) for name in getattr(distribution, "arg_constraints", {})
            if getattr(distribution, name, None) is not None}


def _transform_text(transform) -> str:
    """``AffineTransform(loc=1.0, scale=2.0)``: a transform and its numbers, in full."""
    values = {name: value for name, value in sorted(vars(transform).items())
                if isinstance(value, (numbers.Number, np.ndarray, jax.Array))}
    return f"{type(transform).__name__}({', '.join(f'{k}={_value_text(v, repr)}' for k, v in values.items())})"


def _value_text(value, number) -> str:
    value = np.asarray(value, dtype=np.float64)
    return number(value.item()) if value.size == 1 else str(value.tolist())


@functools.partial(jax.jit, static_argnames="paired")
def _predict(law, sigma, nu, inputs, key, paired=False):
    """exp(mu + sigma t): posterior-predictive draws, shape (draws, *broadcast(*inputs).shape);
    ``paired``: the inputs' leading axis is the draws' (each draw at its own inputs)."""
    shape = jnp.broadcast_shapes(*(x.shape for x in inputs))
    if paired:
        inputs = tuple(jnp.broadcast_to(x, shape) for x in inputs)
        mu = jax.vmap(lambda one, *own: jnp.log(one.loss(*own)))(law, *inputs)
        shape = shape[1:]
    else:
        mu = jax.vmap(lambda one: jnp.log(one.loss(*inputs)))(law)
    column = (-1,) + (1,) * len(shape)
    draws_shape = (sigma.shape[0], *shape)
    if nu is None:
        noise = jax.random.normal(key, draws_shape, dtype=jnp.float64)
    else:
        noise = jax.random.t(key, nu.reshape(column), draws_shape, dtype=jnp.float64)
    return jnp.exp(mu + sigma.reshape(column) * noise)


def _key(key):
    if key is None:
        return jax.random.key(0)
    return key


@dataclasses.dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior draws of a law and of the noise of the runs around it.

    Attributes:
        law: a law of the fitted family (``Chinchilla``, ``Kaplan``, ``ComputeLaw`` or
            ``DataConstrained``) whose leaves have shape (draws,), draws = chains x
            samples (chain-major); ``jax.vmap(f, (0, ...))(post.law, ...)`` pushes it
            through ``f``. Parameters the data do not determine (Kaplan's C_c, alpha_C)
            are NaN.
        samples: parameter name -> float64 array of shape (chains, samples) for the
            law's fitted parameters (``parameters``), sigma and (Student-t) nu; pinned
            parameters are constant.
        method: ``"nuts"`` (exact up to Monte Carlo error), or ``"svi"`` / ``"laplace"``
            (approximate: see ``fit_bayes``).
        likelihood: ``"student_t"`` or ``"normal"`` (on log loss).
        priors: parameter name -> the prior as text (e.g. ``"Uniform(low=0, high=2)"``),
            for the parameters that were sampled.
        fixed: parameter name -> the value it was pinned to.
        diverging: bool array (chains, samples): NUTS divergent transitions (all False
            for the approximations).
        num_steps: int array (chains, samples): leapfrog steps per NUTS iteration (zeros
            for the approximations).
        info: plain-data metadata (data hash, reference sizes, timings, versions, ...).
        domain: the ranges of N, D, compute and tokens per parameter of the runs the law
            was fitted on (``Domain``), to tell a forecast inside them from an
            extrapolation; None for a file saved without it.
        form_error: the law's form error learned leave-future-out on the runs
            (``FormError``), which ``predict`` adds beyond them; None when fitted with
            ``form_error=False`` or loaded from a file saved without it.
    """

    law: Chinchilla | Kaplan | ComputeLaw | DataConstrained
    samples: dict
    method: str
    likelihood: str
    priors: dict
    fixed: dict
    diverging: np.ndarray
    num_steps: np.ndarray
    info: dict
    domain: Domain | None = None
    form_error: _form_error.FormError | None = None

    @property
    def family(self) -> type:
        """The law's class, e.g. ``Chinchilla``."""
        return type(self.law)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The law's fitted parameters, in the order of its fields (e.g. E, A, B, alpha, beta)."""
        return _SPECS[self.family].params

    @property
    def approximate(self) -> bool:
        """True for the SVI and Laplace approximations (not calibrated; see ``fit_bayes``)."""
        return self.method != "nuts"

    @property
    def num_chains(self) -> int:
        return int(self.samples["sigma"].shape[0])

    @property
    def num_draws(self) -> int:
        """Total draws, chains x samples."""
        return int(self.samples["sigma"].size)

    @property
    def divergences(self) -> int:
        return int(np.sum(self.diverging))

    @property
    def free(self) -> tuple[str, ...]:
        """The parameters that were sampled (not pinned)."""
        return tuple(name for name in (*self.parameters, *NOISE_PARAMS)
                     if name in self.samples and name not in self.fixed)

    def draws(self, name: str) -> np.ndarray:
        """Draws of ``name`` flattened over chains, shape (chains x samples,)."""
        return self.samples[name].reshape(-1)

    def __repr__(self) -> str:
        flag = ", approximate" if self.approximate else ""
        return (f"Posterior({self.family.__name__}, {self.method}{flag}, {self.num_chains} chains x "
                f"{self.samples['sigma'].shape[1]} draws, {self.likelihood}, {self.divergences} divergences)")

    # -- prediction -------------------------------------------------------------

    def predict(self, *inputs, key=None, form_error: bool = True, paired: bool = False):
        """Posterior-predictive draws of the loss at the law's inputs, calibrated for extrapolation.

        The inputs are those of the law's ``loss``: ``(N, D)`` for Chinchilla and Kaplan
        (parameters, training tokens), ``(flops,)`` for ComputeLaw (training FLOPs),
        ``(N, D, unique_tokens)`` for DataConstrained; arrays broadcast together.
        Each draw is exp(mu + sigma t + delta): mu the law's log loss, t a Student-t(nu)
        (or standard normal) draw of the runs' noise, and delta the law's form error
        (``FormError``: kappa sqrt(d) times a Student-t(4) draw at distance d in decades
        beyond the runs fitted, 0 inside them), drawn independently per draw and input. For the law's
        loss without noise use ``jax.vmap(lambda law: law.loss(N, D))(post.law)``.

        Args:
            *inputs: the law's loss inputs, positionally.
            key: JAX PRNG key; default a fixed key, so repeated calls agree.
            form_error: include the form error (default); False gives the
                parameter-only predictive (parameters and noise), which under-covers
                beyond the runs.
            paired: the inputs' leading axis is the draws' (length ``num_draws``): each
                draw is evaluated at its own inputs, e.g. at its own compute-optimal
                ``N, D`` from ``jax.vmap(sl.compute_optimal, (0, None))(post.law, flops)``.

        Returns:
            float64 array of shape (draws, *broadcast(*inputs).shape), or the inputs'
            broadcast shape when ``paired``.

        Raises:
            TypeError: the wrong number of inputs for the family.
            ValueError: an input not finite and positive, or shapes that do not broadcast;
                ``form_error=True`` for a posterior without one.
        """
        names = _SPECS[self.family].inputs
        if len(inputs) != len(names):
            raise TypeError(f"predict of a {self.family.__name__} posterior takes ({', '.join(names)}), "
                            f"got {len(inputs)} input(s)")
        if form_error and self.form_error is None:
            raise ValueError("this posterior has no form error (fitted with form_error=False, or loaded from a file "
                             "saved without one): pass form_error=False for the parameter-only predictive")
        named = dict(zip(names, inputs))
        for name, value in named.items():
            _validate.check_positive(name, value)
        _validate.check_broadcastable(**named)
        if paired:
            shape = np.broadcast_shapes(*(np.shape(x) for x in inputs))
            if not shape or shape[0] != self.num_draws:
                raise ValueError(f"paired=True needs inputs whose leading axis is the {self.num_draws} draws, "
                                 f"got shape {shape}")
        with jax.enable_x64(True):
            nu = jnp.asarray(self.draws("nu")) if self.likelihood == "student_t" else None
            law = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float64), self.law)
            arrays = tuple(jnp.asarray(x, jnp.float64) for x in inputs)
            key = _key(key)
            draws = _predict(law, jnp.asarray(self.draws("sigma")), nu, arrays, key, paired=paired)
            if form_error:
                draws = draws * jnp.exp(_form_error.sample(self.form_error, jax.random.fold_in(key, 1),
                                                           draws.shape, *arrays))
            return np.asarray(draws)

    @staticmethod
    def interval(values, level: float = 0.9):
        """Equal-tailed interval of draws along axis 0: ``(low, high)`` at ``level``."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        values = np.asarray(values)
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(values, [tail, 1.0 - tail], axis=0)
        return low, high

    def predict_interval(self, *inputs, level: float = 0.9, key=None, form_error: bool = True):
        """``(median, low, high)`` of the posterior-predictive loss at the law's inputs (see ``predict``)."""
        draws = self.predict(*inputs, key=key, form_error=form_error)
        low, high = self.interval(draws, level)
        return np.median(draws, axis=0), low, high

    # -- summaries ---------------------------------------------------------------

    def summary(self) -> dict:
        """Per parameter: mean, sd, median, 2.5/5/95/97.5% quantiles, R-hat, bulk and tail ESS.

        Returns a dict ``{name: {...}}`` for the law's parameters (``parameters``), sigma
        and nu, plus ``"divergences"`` (int), ``"method"`` and ``"approximate"``. R-hat and
        ESS are rank-normalised (see ``diagnostics``); NaN for pinned parameters and for the
        approximations (independent draws, where they carry no information).
        """
        out = {}
        for name in (*self.parameters, *NOISE_PARAMS):
            if name not in self.samples:
                continue
            x = self.samples[name]
            flat = x.reshape(-1)
            q = np.quantile(flat, [0.025, 0.05, 0.5, 0.95, 0.975])
            row = {"mean": float(flat.mean()), "sd": float(flat.std(ddof=1)) if flat.size > 1 else 0.0,
                   "median": float(q[2]), "q2.5": float(q[0]), "q5": float(q[1]), "q95": float(q[3]),
                   "q97.5": float(q[4])}
            if name in self.fixed or self.approximate:
                row.update(r_hat=math.nan, ess_bulk=math.nan, ess_tail=math.nan)
            else:
                row.update(diagnostics(x))
            row["fixed"] = name in self.fixed
            out[name] = row
        out["divergences"] = self.divergences
        out["method"] = self.method
        out["approximate"] = self.approximate
        return out

    def format_summary(self) -> str:
        """The summary as a text table."""
        table = self.summary()
        lines = [f"{self!r}",
                 f"{'':>7} {'mean':>10} {'median':>10} {'2.5%':>10} {'97.5%':>10} {'r_hat':>7} {'ess_bulk':>9}"]
        for name in (*self.parameters, *NOISE_PARAMS):
            if name not in table:
                continue
            row = table[name]
            note = "  (fixed)" if row["fixed"] else ""
            lines.append(f"{name:>7} {row['mean']:10.5g} {row['median']:10.5g} {row['q2.5']:10.5g} "
                         f"{row['q97.5']:10.5g} {row['r_hat']:7.4f} {row['ess_bulk']:9.0f}{note}")
        if self.approximate:
            lines.append(f"{self.method} is an approximation: its intervals are not calibrated (see fit_bayes).")
        return "\n".join(lines)

    def to_arviz(self):
        """An ``arviz.InferenceData`` with the draws and the NUTS sample stats.

        Raises:
            ImportError: when arviz is not installed (``pip install arviz``).
        """
        try:
            import arviz
        except ImportError as error:
            raise ImportError("Posterior.to_arviz needs arviz, an optional dependency: "
                              "pip install arviz (or the extra: scalinglaws-jax[arviz])") from error
        return arviz.from_dict(
            posterior={name: np.asarray(value) for name, value in self.samples.items() if name not in self.fixed},
            sample_stats={"diverging": self.diverging, "n_steps": self.num_steps},
            attrs={"law": self.family.__name__, "method": self.method, "likelihood": self.likelihood,
                   **{f"prior_{k}": v for k, v in self.priors.items()}},
        )

    # -- files -------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the draws to ``path`` (``.npz``, one array per parameter) and a JSON sidecar.

        The sidecar (same name, ``.json``) holds the law family, likelihood, priors as
        text, pinned values, the data hash and domain of the runs, the library version,
        the chains and draws, and the SHA-256 of the ``.npz``. Both files are written
        atomically (temporary file, then ``os.replace``). ``.npz`` is appended to ``path``
        when missing.

        Returns:
            the path of the ``.npz`` file.
        """
        npz_path, json_path = _paths(path)
        arrays = {name: np.asarray(value, np.float64) for name, value in self.samples.items()}
        arrays["diverging"] = np.asarray(self.diverging, bool)
        arrays["num_steps"] = np.asarray(self.num_steps, np.int64)
        atomic_write(npz_path, lambda handle: np.savez(handle, **arrays))
        blob = npz_path.read_bytes()
        meta = {
            "format": _FORMAT,
            "law": self.family.__name__,
            "parameters": list(self.samples),
            "method": self.method,
            "approximate": self.approximate,
            "likelihood": self.likelihood,
            "priors": dict(self.priors),
            "fixed": {name: float(value) for name, value in self.fixed.items()},
            "num_chains": self.num_chains,
            "num_samples": int(self.samples["sigma"].shape[1]),
            "npz_sha256": hashlib.sha256(blob).hexdigest(),
            **({} if self.domain is None else {"domain": self.domain.to_dict()}),
            **({} if self.form_error is None else {"form_error": self.form_error.to_json()}),
            **{key: value for key, value in self.info.items() if key not in _SIDECAR_FIELDS},
        }
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=True)
        atomic_write(json_path, lambda handle: handle.write(text.encode("utf-8")))
        return npz_path

    @classmethod
    def load(cls, path) -> Posterior:
        """Read a posterior written by ``save`` (never unpickles: ``allow_pickle=False``).

        Everything is checked before it is used: the sidecar is a JSON object of this
        format whose law family is known, whose parameters are exactly the family's and
        the likelihood's (each with a prior or a fixed value), and whose checksum matches
        the ``.npz``; the ``.npz`` holds exactly those arrays, all of the sidecar's chains
        x samples, the draws finite (sigma, nu and the scale parameters positive, pinned
        parameters at their value), and the domain, when there is one, is valid. A
        sidecar without ``law`` holds a Chinchilla posterior; one without ``domain``
        loads with ``domain`` None.

        Raises:
            ValueError: naming the file and what is wrong with it.
        """
        npz_path, json_path = _paths(path)
        meta = _read_sidecar(npz_path, json_path)
        family = _BY_NAME.get(meta.get("law", "Chinchilla"))
        if family is None:
            raise ValueError(f"{json_path}: law must be one of {', '.join(_BY_NAME)}, got {meta['law']!r}")
        spec = _SPECS[family]
        method = _choice(json_path, meta, "method", _METHODS)
        likelihood = _choice(json_path, meta, "likelihood", _LIKELIHOODS)
        if "approximate" in meta and meta["approximate"] != (method != "nuts"):
            raise ValueError(f"{json_path}: approximate={meta['approximate']!r} contradicts method={method!r}")
        names = _parameters(json_path, meta, family, spec, likelihood)
        priors, fixed = _priors_and_fixed(json_path, meta, names)
        layout = tuple(_count(json_path, meta, name) for name in ("num_chains", "num_samples"))
        digest = _field(json_path, meta, "npz_sha256", str)
        domain = None
        if "domain" in meta:
            try:
                domain = Domain.from_dict(meta["domain"])
            except ValueError as error:
                raise ValueError(f"{json_path}: {error}") from None
        form_error = None
        if "form_error" in meta:
            try:
                form_error = _form_error.FormError.from_json(meta["form_error"])
            except (ValueError, TypeError, KeyError) as error:
                raise ValueError(f"{json_path}: form_error is not valid ({error})") from None
            wanted = _form_error.distance_inputs(family)
            if form_error.inputs != wanted:
                raise ValueError(f"{json_path}: form_error is measured in {list(form_error.inputs)}, but a "
                                 f"{family.__name__} law's in {list(wanted)}")
        if hashlib.sha256(npz_path.read_bytes()).hexdigest() != digest:
            raise ValueError(f"{npz_path}: its SHA-256 does not match the one in {json_path.name}")
        arrays = _read_draws(npz_path, names, layout)
        for name in names:
            values = arrays[name]
            if not np.isfinite(values).all():
                raise ValueError(f"{npz_path}: array {name!r} holds non-finite draws")
            if (name in NOISE_PARAMS or name in spec.terms) and not (values > 0).all():
                raise ValueError(f"{npz_path}: array {name!r} holds draws that are not positive")
            if name in fixed and not (values == fixed[name]).all():
                raise ValueError(f"{npz_path}: array {name!r} is not the fixed value {fixed[name]!r} "
                                 f"of {json_path.name}")
        if (arrays["num_steps"] < 0).any():
            raise ValueError(f"{npz_path}: array 'num_steps' holds negative step counts")
        samples = {name: arrays[name] for name in names}
        info = {key: value for key, value in meta.items() if key not in _SIDECAR_FIELDS}
        return cls(law=_to_law(family, samples), samples=samples, method=method, likelihood=likelihood,
                   priors=priors, fixed=fixed, diverging=arrays["diverging"], num_steps=arrays["num_steps"],
                   info=info, domain=domain, form_error=form_error)


_SIDECAR_FIELDS = ("format", "law", "parameters", "method", "approximate", "likelihood", "priors", "fixed",
                   "num_chains", "num_samples", "npz_sha256", "domain", "form_error")
"""The sidecar's fields that ``Posterior`` holds itself; the others are its ``info``."""


def _read_sidecar(npz_path: Path, json_path: Path) -> dict:
    """The sidecar's JSON object, after checking both files exist and the format tag."""
    for file in (npz_path, json_path):
        if file.is_dir():
            raise ValueError(f"{file}: is a directory, not a saved posterior's file")
    if not npz_path.exists():
        raise ValueError(f"{npz_path}: no such file")
    if not json_path.exists():
        raise ValueError(f"{npz_path}: no JSON sidecar {json_path.name} beside it")
    try:
        meta = json.loads(json_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{json_path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{json_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{json_path}: not a JSON object but a {type(meta).__name__}")
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{json_path}: not a scalinglaws_jax posterior (format {meta.get('format')!r})")
    return meta


def _field(json_path: Path, meta: dict, name: str, kind):
    if name not in meta:
        raise ValueError(f"{json_path}: no {name!r} field")
    value = meta[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{json_path}: {name!r} must be a {kind.__name__}, got {value!r}")
    return value


def _choice(json_path: Path, meta: dict, name: str, choices) -> str:
    value = _field(json_path, meta, name, str)
    if value not in choices:
        raise ValueError(f"{json_path}: {name} must be one of {choices}, got {value!r}")
    return value


def _count(json_path: Path, meta: dict, name: str) -> int:
    value = _field(json_path, meta, name, int)
    if value < 1:
        raise ValueError(f"{json_path}: {name!r} must be >= 1, got {value!r}")
    return value


def _parameters(json_path: Path, meta: dict, family, spec: _Spec, likelihood: str) -> list[str]:
    """The sidecar's parameter names, which must be the family's and the likelihood's."""
    names = _field(json_path, meta, "parameters", list)
    expected = [*spec.params, "sigma", *(("nu",) if likelihood == "student_t" else ())]
    if not all(isinstance(name, str) for name in names) or sorted(names) != sorted(expected):
        missing = [name for name in expected if name not in names]
        unexpected = [name for name in names if name not in expected]
        raise ValueError(f"{json_path}: parameters {names!r} are not those of a {family.__name__} posterior with "
                         f"a {likelihood} likelihood ({', '.join(expected)}): missing {missing}, "
                         f"unexpected {unexpected}")
    return expected


def _priors_and_fixed(json_path: Path, meta: dict, names) -> tuple[dict, dict]:
    """The priors (as text) and the fixed values: together, each parameter exactly once."""
    priors = _field(json_path, meta, "priors", dict)
    fixed = _field(json_path, meta, "fixed", dict)
    for name, text in priors.items():
        if name not in names or not isinstance(text, str):
            raise ValueError(f"{json_path}: priors must map parameters {names} to text, got {name!r}: {text!r}")
    for name, value in fixed.items():
        if name not in names or isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not (math.isfinite(value) and value > 0):
            raise ValueError(f"{json_path}: fixed must map parameters {names} to finite positive numbers, "
                             f"got {name!r}: {value!r}")
    both = sorted(set(priors) & set(fixed))
    if both:
        raise ValueError(f"{json_path}: {both} have both a prior and a fixed value")
    neither = [name for name in names if name not in priors and name not in fixed]
    if neither:
        raise ValueError(f"{json_path}: {neither} have neither a prior nor a fixed value")
    return dict(priors), {name: float(value) for name, value in fixed.items()}


def _read_draws(npz_path: Path, names, layout: tuple[int, int]) -> dict:
    """The arrays of the ``.npz``: exactly ``names``, diverging and num_steps, each of shape
    ``layout`` (chains, samples) and its kind."""
    kinds = {**{name: ("f", "float") for name in names}, "diverging": ("b", "bool"),
             "num_steps": ("iu", "integer")}
    try:
        data = np.load(npz_path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{npz_path}: not a readable .npz archive ({error})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{npz_path}: holds one array, not an .npz archive of draws")
    with data:
        missing = [name for name in kinds if name not in data.files]
        unexpected = [name for name in data.files if name not in kinds]
        if missing or unexpected:
            raise ValueError(f"{npz_path}: missing arrays {missing}, unexpected arrays {unexpected}")
        arrays = {}
        for name, (kind, description) in kinds.items():
            try:
                value = np.array(data[name])
            except (ValueError, zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
                if "allow_pickle" in str(error):
                    raise ValueError(f"{npz_path}: refusing to load pickled objects in {name!r} ({error})") from None
                raise ValueError(f"{npz_path}: array {name!r} is damaged ({error})") from None
            if value.dtype.kind not in kind:
                raise ValueError(f"{npz_path}: array {name!r} has dtype {value.dtype}, expected {description}")
            if value.shape != layout:
                raise ValueError(f"{npz_path}: array {name!r} has shape {value.shape}, the sidecar says "
                                 f"{layout[0]} chain(s) x {layout[1]} samples")
            arrays[name] = value
    return arrays


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return path, path.with_suffix(".json")


def _to_law(family, samples):
    """The family's law with a leading draw axis. Kaplan's C_c and alpha_C, not fitted, are
    each draw's own compute frontier (``huber.kaplan_frontier``)."""
    with jax.enable_x64(True):
        fields = {name: jnp.asarray(samples[name].reshape(-1), jnp.float64)
                  for name in (field.name for field in dataclasses.fields(family)) if name in samples}
        if family is Kaplan:
            fields["C_c"], fields["alpha_C"] = huber.kaplan_frontier(
                fields["N_c"], fields["D_c"], fields["alpha_N"], fields["alpha_D"])
        return family(**fields)


def data_hash(runs: Runs) -> str:
    """SHA-256 over the runs' N, D, loss, flops, weight and, when given, unique_tokens
    (float64, little-endian, in that order)."""
    digest = hashlib.sha256()
    names = ("N", "D", "loss", "flops", "weight") + (("unique_tokens",) if runs.unique_tokens is not None else ())
    for name in names:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(getattr(runs, name), dtype="<f8").tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------
# the fit


def _complete(family, spec, priors, fixed, likelihood):
    """Complete priors and fixed values, checked; returns (priors, fixed)."""
    import numpyro.distributions as dist

    names = (*spec.params, *NOISE_PARAMS)
    user_priors = dict(priors or {})
    user_fixed = dict(fixed or {})
    unfitted = [field.name for field in dataclasses.fields(family) if field.name not in spec.params]
    for argument, given in (("priors", user_priors), ("fixed", user_fixed)):
        unknown = sorted(set(given) - set(names))
        if unknown:
            note = (f" ({', '.join(unfitted)} are not fitted: (N, D, loss) do not determine them)"
                    if set(unknown) & set(unfitted) else "")
            raise ValueError(f"{argument} may name {list(names)} for a {family.__name__} law, "
                             f"got unknown name(s) {unknown}{note}")
        if likelihood == "normal" and "nu" in given:
            raise ValueError(f"{argument} names nu, but likelihood='normal' has no degrees of freedom")
    both = sorted(set(user_priors) & set(user_fixed))
    if both:
        raise ValueError(f"priors and fixed both name {both}: give a prior or a value, not both")
    for name, prior in user_priors.items():
        if not isinstance(prior, dist.Distribution):
            raise ValueError(f"priors[{name!r}] must be a numpyro distribution, got {type(prior).__name__}")
        if prior.batch_shape or prior.event_shape:
            raise ValueError(f"priors[{name!r}] must be a scalar distribution, got batch shape "
                             f"{prior.batch_shape} and event shape {prior.event_shape}")
    checked = {}
    for name, value in user_fixed.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) and np.ndim(value) != 0:
            raise ValueError(f"fixed[{name!r}] must be a number, got {value!r}")
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"fixed[{name!r}] must be finite and positive, got {value!r}")
        checked[name] = value
    full = default_priors(family)
    full.update(user_priors)
    if likelihood == "student_t" and "nu" not in user_priors and "nu" not in checked:
        checked["nu"] = DEFAULT_NU
    full = {name: prior for name, prior in full.items() if name not in checked}
    if likelihood == "normal":
        full.pop("nu", None)
    return full, checked


def _check_identifiable(runs: Runs, family, spec: _Spec, free, fixed) -> None:
    """The design checks of ``fit_huber`` (``huber.check_design``: several sizes, token
    counts and tokens per parameter, unique tokens where needed), and more runs than free
    parameters, the noise's included."""
    if len(runs) <= len(free):
        raise ValueError(f"runs has {len(runs)} runs, too few for {len(free)} free parameters {free}")
    huber.check_design(runs, family, fixed={name: value for name, value in fixed.items() if name in spec.params},
                       caller="fit_bayes")


def default_chain_method(num_chains: int) -> str:
    """One chain per device when there are several chains and enough devices; else
    vectorised on accelerators, one after another on CPUs (see ``fit_bayes``)."""
    if 1 < num_chains <= jax.local_device_count():
        return "parallel"
    return "sequential" if jax.default_backend() == "cpu" else "vectorized"


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_settings(family, *, num_chains, num_warmup, num_samples, method, priors, fixed, likelihood,
                    chain_method, num_steps):
    """``fit_bayes``'s checks of its settings (all but the runs, the key and dense_mass; a
    ladder checks its refits' settings with it before it trains). Returns the family's spec, the complete
    priors and fixed values, and (num_chains, num_warmup, num_samples, num_steps) as ints."""
    spec = _resolve(family)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if likelihood not in _LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {_LIKELIHOODS}, got {likelihood!r}")
    counts = (_check_int("num_chains", num_chains, 1), _check_int("num_warmup", num_warmup, 1),
              _check_int("num_samples", num_samples, 4), _check_int("num_steps", num_steps, 1))
    if chain_method is not None and chain_method not in _CHAIN_METHODS:
        raise ValueError(f"chain_method must be None or one of {_CHAIN_METHODS}, got {chain_method!r}")
    full_priors, full_fixed = _complete(family, spec, priors, fixed, likelihood)
    return spec, full_priors, full_fixed, counts


def fit_bayes(runs: Runs, family=Chinchilla, *, key, num_chains: int = 4, num_warmup: int = 1000,
              num_samples: int = 1000, method: str = "nuts", priors: dict | None = None,
              fixed: dict | None = None, likelihood: str = "student_t", dense_mass: bool = True,
              chain_method: str | None = None, num_steps: int = 4000, form_error: bool = True) -> Posterior:
    """Posterior of a law (default Chinchilla, L = E + A / N^alpha + B / D^beta) given training runs.

    Model (on log loss, in float64): mu_i = the family's log loss at run i, as the Huber
    fit computes it (``huber.Family.log_loss``; for Chinchilla LSE(a - alpha log N_i,
    b - beta log D_i, e) with a = log A, b = log B, e = log E); log L_i ~ StudentT(nu,
    mu_i, sigma) (default) or Normal(mu_i, sigma); each run's log-likelihood is multiplied
    by its weight.

    Priors (fixed, do not depend on the data; see ``default_priors``), for Chinchilla:
    E ~ Uniform(0.5, 3), alpha, beta ~ LogNormal(-1.2, 0.6), A and B through their terms
    at fixed sizes, log(A / 1e9^alpha) ~ Normal(-1, 1.5) and log(B / 2e10^beta) ~
    Normal(-1, 1.5) (``LogTermNormal``), sigma ~ HalfNormal(0.05), nu = 4 fixed (pass a
    prior for nu to learn it). Priors on scales (A, B, N_c, D_c, C0) are best left with
    support on all positive reals: a bounded one works, but the sampler meets its bounds
    as divergences.

    NUTS samples each scale as the log of its term at the reference size c (the runs'
    mean log N, log D or log C): log A - alpha c_N for Chinchilla-type terms (and B, and
    DataConstrained's), alpha_N (log N_c - c_N) for Kaplan's (and D_c, and ComputeLaw's
    C0), with the change of variables' Jacobian in the prior factor so the prior stays as
    stated; with a dense mass matrix by default. Chains run in parallel, one per device,
    when ``1 < num_chains <= jax.local_device_count()`` (the library never calls
    ``numpyro.set_host_device_count``; a program may, before JAX starts); otherwise one
    after another on a CPU and vectorised on accelerators. (On the 240 Chinchilla runs,
    4 x (1000 + 1000) on this 2-core CPU: vectorised chains took 15 s to trace and compile
    and 6.4 s to run, chains one after another 7 s and 5 s; a vectorised step waits for
    the slowest chain's trajectory.) The sampler is compiled once per family, settings and
    bucket of run counts (the runs are padded to a power of two at weight 0): a refit on
    other runs, or with other prior parameters, reuses it.

    After NUTS, an R-hat above 1.01, a bulk ESS below 400 or any divergence produces a
    ``RuntimeWarning`` that says what to try.

    ``method="svi"`` (a full-rank Gaussian on the sampler's unconstrained coordinates,
    the family of NumPyro's ``AutoMultivariateNormal``, fitted by ``num_steps`` Adam
    steps on the ELBO) and ``method="laplace"`` (a Gaussian at the posterior mode with the
    inverse Hessian as covariance) are fast approximations, returning
    ``num_chains * num_samples`` independent draws as one chain with ``Posterior.method``
    saying so (see ``_approximate``). They are NOT equivalent to NUTS. On the Chinchilla
    runs (240; 5 keys, against NUTS 4 x 1000) both put every median within 5% of NUTS's
    95% interval width of NUTS's median, but the SVI 95% intervals were 1.6x (alpha),
    1.8x (E) and 2.2x (beta) narrower: 4000 steps at a constant step size stop short of
    the ELBO's optimum (40,000 steps of 8 draws reached standard deviations of 0.65-0.95
    of NUTS's). The Laplace intervals came within 2-8% of NUTS's there, but its Hessian
    can be singular elsewhere. Use them for a first look, not for decisions.

    Args:
        runs: the training runs (N in parameters, D in tokens, loss in nats per token;
            FLOPs for ComputeLaw; ``unique_tokens`` for DataConstrained).
        family: the law's class: ``Chinchilla`` (default), ``Kaplan`` (N_c, D_c,
            alpha_N, alpha_D; its C_c and alpha_C are not determined by (N, D, loss) and
            come out NaN), ``ComputeLaw`` (E, C0, alpha on the runs' FLOPs) or
            ``DataConstrained`` (Chinchilla's and R_D, R_N).
        key: JAX PRNG key.
        num_chains, num_warmup, num_samples: as in ``numpyro.infer.MCMC``.
        method: ``"nuts"`` (default), ``"svi"`` or ``"laplace"``.
        priors: ``{name: numpyro distribution}`` replacing default priors of the law's
            parameters (each in its own units, e.g. E, A, B, alpha, beta), sigma or nu.
        fixed: ``{name: value}`` pinning parameters, e.g. ``{"E": 1.69}``.
        likelihood: ``"student_t"`` (default) or ``"normal"``.
        dense_mass: dense (default) or diagonal NUTS mass matrix.
        chain_method: ``"parallel"``, ``"vectorized"`` or ``"sequential"``; default as above.
        num_steps: optimisation steps for ``method="svi"``.
        form_error: learn the law's form error from the runs (``form_error.learn``:
            Huber refits below the runs' own budgets and sizes, a few seconds), which
            ``Posterior.predict`` adds to forecasts beyond the runs; False leaves
            ``Posterior.form_error`` None (parameter-only forecasts).

    Returns:
        ``Posterior``.

    Raises:
        ValueError: naming the bad argument; for names in ``priors`` or ``fixed`` that
            are not the family's, listing its names.
        RuntimeError: an approximation with non-finite draws (a singular Hessian).

    References: Hoffmann et al. 2022, sec. 3.3 (the law and the log-sum-exp form);
    Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt"; Kaplan et al.
    2020; Muennighoff et al. 2023; Hoffman & Gelman 2014 (NUTS); Kucukelbir et al. 2017
    (ADVI); Vehtari et al. 2021 (R-hat, ESS).
    """
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    spec, full_priors, full_fixed, (num_chains, num_warmup, num_samples, num_steps) = _check_settings(
        family, num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples, method=method,
        priors=priors, fixed=fixed, likelihood=likelihood, chain_method=chain_method, num_steps=num_steps)
    free = [name for name in (*spec.params, *NOISE_PARAMS) if name in full_priors]
    _check_identifiable(runs, family, spec, free, full_fixed)

    features = huber._features(runs)
    references = {feature: float(features[feature].mean()) for _, feature, _ in spec.terms.values()}
    info = {
        "data_hash": data_hash(runs),
        "num_runs": len(runs),
        "version": _version(),
        "numpyro_version": _numpyro_version(),
        **{f"reference_{feature}": value for feature, value in references.items()},
        "dense_mass": bool(dense_mass),
        "num_warmup": num_warmup if method == "nuts" else 0,
    }
    start = time.perf_counter()
    with jax.enable_x64(True):
        data = _data(spec, runs, features, full_priors, full_fixed, references)
        if method == "nuts":
            if chain_method is None:
                chain_method = default_chain_method(num_chains)
            elif chain_method == "parallel" and jax.local_device_count() < num_chains:
                raise ValueError(f"chain_method='parallel' runs one chain per device, but num_chains={num_chains} "
                                 f"and JAX has {jax.local_device_count()} local devices; "
                                 "use 'sequential' or 'vectorized'")
            info["chain_method"] = chain_method
            raw, diverging, steps = _sample_nuts(key, spec, likelihood, data, num_chains, num_warmup,
                                                 num_samples, dense_mass, chain_method)
        else:
            raw, diverging, steps = _sample_approximation(key, spec, likelihood, data, method,
                                                          num_chains * num_samples, num_steps)
            info["num_steps"] = num_steps
    info["seconds"] = time.perf_counter() - start
    # the law's and the noise's parameters in order, fitted or fixed (not the log_X_ref sites)
    samples = {name: (np.full(diverging.shape, full_fixed[name]) if name in full_fixed
                      else np.asarray(raw[name], np.float64))
               for name in (*spec.params, *NOISE_PARAMS) if name in raw or name in full_fixed}
    for value in samples.values():
        value.flags.writeable = False
    law = _to_law(family, samples)
    invalid = int(np.count_nonzero(_validate.invalid_law(law)))
    if invalid:  # a Gaussian approximation's tail, in floating point: exp of a very negative number
        raise RuntimeError(f"fit_bayes(method={method!r}): {invalid} of {diverging.size} draws are not valid "
                           f"{family.__name__} laws (a parameter underflowed to 0 or left its range): the "
                           "approximation does not fit this posterior; use method='nuts'")
    discrepancy = None
    if form_error:
        start = time.perf_counter()
        discrepancy = _form_error.learn(runs, family, fixed={name: value for name, value in full_fixed.items()
                                                            if name in spec.params})
        info["form_error_seconds"] = time.perf_counter() - start
    post = Posterior(law=law, samples=samples, method=method, likelihood=likelihood,
                     priors={name: _describe(prior) for name, prior in full_priors.items()},
                     fixed=full_fixed, diverging=diverging, num_steps=steps, info=info,
                     domain=Domain.from_runs(runs), form_error=discrepancy)
    if method == "nuts":
        _warn_if_doubtful(post, num_warmup, num_samples)
    return post


def _data(spec: _Spec, runs: Runs, features, priors, fixed, references) -> dict:
    """The model's inputs as one pytree of arrays (and distributions), the runs padded.

    Everything that differs between fits of one family is an argument of the compiled
    programs, not a constant in them: the runs (padded to ``huber._bucket`` size at weight
    0, as the Huber fit pads them), the priors' parameters, the fixed values and the
    references. A refit on other runs of a similar count, another ladder rung, a
    calibration replicate or another prior of the same kind reuses the compiled sampler.
    """
    columns, log_loss, weight = huber._padded({name: features[name] for name in spec.features},
                                              np.log(runs.loss), runs.weight)
    array = lambda x: jnp.asarray(x, jnp.float64)  # noqa: E731
    return {"features": {name: array(value) for name, value in columns.items()},
            "log_loss": array(log_loss), "weight": array(weight), "priors": priors,
            "fixed": {name: array(value) for name, value in fixed.items()},
            "references": {name: array(value) for name, value in references.items()}}


def _sites(spec: _Spec, priors) -> list[str]:
    """The sampled sites in the model's order; a scale X is sampled as ``log_X_ref``."""
    return [f"log_{name}_ref" if name in spec.terms else name
            for name in (*spec.params, *NOISE_PARAMS) if name in priors]


def _potential(spec, likelihood, data, z):
    """Potential energy (negative log density) at unconstrained coordinates ``z``."""
    from numpyro.infer.util import potential_energy

    return potential_energy(functools.partial(_model, spec, likelihood), (data,), {}, z)


def _constrain(spec, likelihood, data, z):
    """The law's and the noise's parameters (and each scale's ``log_X_ref``) at ``z``."""
    from numpyro.infer.util import constrain_fn

    return constrain_fn(functools.partial(_model, spec, likelihood), (data,), {}, z, return_deterministic=True)


@functools.partial(jax.jit, static_argnames=("spec", "likelihood", "num_warmup", "num_samples", "dense_mass",
                                             "chain_method"))
def _nuts(keys, z0, data, *, spec, likelihood, num_warmup, num_samples, dense_mass, chain_method):
    """NUTS chains from ``z0`` (leading axis: chains) as one program: initialisation,
    adaptation, sampling and constraining.

    The chains are NumPyro's ``MCMC(NUTS(...))`` chains, built from its functional
    ``hmc`` kernel with the data as an argument (``potential_fn_gen``): the same
    initialisation and transitions from the same keys, but compiled once per family,
    settings and bucket of run counts instead of once per data set. ``chain_method``:
    ``"parallel"`` one chain per local device (``shard_map``), ``"sequential"``
    ``lax.map``, ``"vectorized"`` ``vmap``. Returns (constrained draws, diverging, leapfrog
    steps), each with leading axes (chains, draws).
    """
    from jax.sharding import PartitionSpec as P
    from numpyro.infer.hmc import hmc

    def chain(key, z, data):
        init_kernel, sample_kernel = hmc(
            potential_fn_gen=lambda data: functools.partial(_potential, spec, likelihood, data), algo="NUTS")
        init_key, _ = jax.random.split(key)  # as NumPyro's HMC.init splits the chain's key
        state = init_kernel(z, num_warmup, dense_mass=dense_mass, trajectory_length=None,
                            model_args=(data,), rng_key=init_key)

        def transition(state, _):
            state = sample_kernel(state, model_args=(data,))
            return state, (state.z, state.diverging, state.num_steps)

        # one loop through warm-up and sampling (two loops would compile the kernel twice)
        _, trace = jax.lax.scan(transition, state, length=num_warmup + num_samples)
        z, diverging, steps = jax.tree_util.tree_map(lambda x: x[num_warmup:], trace)
        return jax.vmap(functools.partial(_constrain, spec, likelihood, data))(z), diverging, steps

    def one_by_one(keys, z0, data):
        return jax.lax.map(lambda one: chain(*one, data), (keys, z0))

    if chain_method == "vectorized":
        return jax.vmap(chain, (0, 0, None))(keys, z0, data)
    if chain_method == "parallel":
        mesh = jax.sharding.Mesh(np.array(jax.local_devices()[: keys.shape[0]]), ("chains",))
        # NumPyro's kernel mixes per-chain and shared values in its conds: no replication check
        one_by_one = jax.shard_map(one_by_one, mesh=mesh, in_specs=(P("chains"), P("chains"), P()),
                                   out_specs=P("chains"), check_vma=False)
    return one_by_one(keys, z0, data)


def _sample_nuts(key, spec, likelihood, data, num_chains, num_warmup, num_samples, dense_mass, chain_method):
    """NUTS from NumPyro's ``init_to_uniform`` start: constrained draws (chains, draws), diverging, steps."""
    init_key, run_key = jax.random.split(key)
    keys = jax.random.split(run_key, num_chains) if num_chains > 1 else run_key[None]
    # NumPyro's init_to_uniform: every unconstrained coordinate uniform on (-2, 2). On
    # a scale's log_X_ref that is a term between e^-2 and e^2 nats at the reference size.
    sites = _sites(spec, data["priors"])
    site_keys = jax.random.split(init_key, len(sites))
    z0 = {name: jax.random.uniform(k, (num_chains,), jnp.float64, -2.0, 2.0) for name, k in zip(sites, site_keys)}
    raw, diverging, steps = _nuts(keys, z0, data, spec=spec, likelihood=likelihood, num_warmup=num_warmup,
                                  num_samples=num_samples, dense_mass=bool(dense_mass), chain_method=chain_method)
    return raw, np.asarray(diverging, bool), np.asarray(steps, np.int64)


_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
"""XLA options for the approximations' one program, whose compilation dominates their time:
without LLVM optimisation the SVI program compiled in about half the time (4.0 -> 2.1 s)
and ran in 4x (0.08 -> 0.33 s for 4000 steps and 4000 draws on the 240 Chinchilla runs)."""


_MODE_ITERATIONS = 100
"""Levenberg-Marquardt iterations of the approximations' search for the posterior mode."""

MODE_DECREMENT = 1e-2
"""Largest Newton decrement g^T H^-1 g at which the Laplace approximation's search counts as
having reached the mode: the squared distance, in posterior standard deviations, to where
one more Newton step would go (1e-2: within 0.1 of them)."""



def _mode(potential, z, iterations):
    """A mode of ``potential`` and its Hessian, by Levenberg-Marquardt from ``z``.

    Each iteration evaluates one trial point and keeps it if it lowers the potential;
    the Hessian is the central difference of the gradient (one vectorised evaluation of
    2 x size + 1 gradients; JAX's BFGS and exact Hessian compile several times slower,
    and BFGS's line search stalls on this problem from most starts). Returns
    ``(mode, Hessian, Newton decrement g^T H^-1 g there)``: the decrement is twice the
    potential a Newton step would still gain, ~0 at a mode.
    """
    size = z.shape[0]

    def evaluate(z):
        step = 1e-5 * (1.0 + jnp.abs(z))
        points = jnp.concatenate([z[None], z + jnp.diag(step), z - jnp.diag(step)])
        values, grads = jax.vmap(jax.value_and_grad(potential))(points)
        hessian = (grads[1 : size + 1] - grads[size + 1 :]) / (2.0 * step[:, None])
        return values[0], grads[0], 0.5 * (hessian + hessian.T)

    def iteration(_, state):
        trial, z, f, g, hessian, lam = state
        f_trial, g_trial, hessian_trial = evaluate(trial)
        better = f_trial < f
        z, f = jnp.where(better, trial, z), jnp.where(better, f_trial, f)
        g, hessian = jnp.where(better, g_trial, g), jnp.where(better, hessian_trial, hessian)
        lam = jnp.where(better, jnp.maximum(lam * 0.3, 1e-12), jnp.minimum(lam * 8.0, 1e12))
        damped = hessian + lam * jnp.diag(jnp.abs(jnp.diagonal(hessian)) + 1e-12)
        return z - jnp.linalg.solve(damped, g), z, f, g, hessian, lam

    first = (z, z, jnp.inf, jnp.zeros_like(z), jnp.eye(size, dtype=z.dtype), jnp.asarray(1e-3, z.dtype))
    _, z, _, g, hessian, _ = jax.lax.fori_loop(0, iterations + 1, iteration, first)
    return z, hessian, g @ jnp.linalg.solve(hessian, g)


@functools.partial(jax.jit, static_argnames=("spec", "likelihood", "method", "draws", "num_steps"),
                   compiler_options=_COMPILER_OPTIONS)
def _approximate(key, data, *, spec, likelihood, method, draws, num_steps):
    """SVI or Laplace: a Gaussian on the unconstrained coordinates, fitted and sampled in one program.

    Both start at the centre of NumPyro's initialisation box: every unconstrained
    coordinate 0 (each scale term 1 nat at its reference size). SVI: a full-rank Gaussian
    (the family of NumPyro's ``AutoMultivariateNormal``) with loc and a lower Cholesky
    factor diag(softplus(s)) x (unit lower triangle), initially 0.1 I, fitted by
    ``num_steps`` Adam steps (step 0.01) on the one-draw reparameterised ELBO with the
    Gaussian's entropy in closed form. Laplace: the posterior mode by Levenberg-Marquardt
    (``_mode``) and the inverse Hessian there as covariance. Returns the constrained
    draws, each of shape (draws,), and the Newton decrement at the mode (0 for SVI).

    References: Kucukelbir et al. 2017, "Automatic Differentiation Variational Inference".
    """
    import numpyro.optim

    sites = _sites(spec, data["priors"])
    size = len(sites)
    eye = jnp.eye(size, dtype=jnp.float64)
    origin = jnp.zeros(size, jnp.float64)

    def potential(z):
        return _potential(spec, likelihood, data, dict(zip(sites, z)))

    def cholesky(params):
        raw = params["scale"]
        return jax.nn.softplus(jnp.diag(raw))[:, None] * (jnp.tril(raw, -1) + eye)

    def negative_elbo(params, eps):
        factor = cholesky(params)
        return potential(params["loc"] + factor @ eps) - jnp.sum(jnp.log(jnp.diag(factor)))

    fit_key, draw_key = jax.random.split(key)
    noise = jax.random.normal(draw_key, (draws, size), jnp.float64)
    if method == "svi":
        optimizer = numpyro.optim.Adam(0.01)
        initial = {"loc": origin, "scale": jnp.diag(jnp.full(size, math.log(math.expm1(0.1))))}

        def step(state, eps):
            return optimizer.update(jax.grad(negative_elbo)(optimizer.get_params(state), eps), state), None

        state, _ = jax.lax.scan(step, optimizer.init(initial),
                                jax.random.normal(fit_key, (num_steps, size), jnp.float64))
        params = optimizer.get_params(state)
        z = params["loc"] + noise @ cholesky(params).T
        decrement = jnp.zeros((), jnp.float64)
    else:
        mode, hessian, decrement = _mode(potential, origin, _MODE_ITERATIONS)
        # covariance T T^T = hessian^-1; NaN where the Hessian is not positive definite
        T = jax.scipy.linalg.solve_triangular(jnp.linalg.cholesky(hessian), eye, lower=True, trans="T")
        z = mode + noise @ T.T
    return jax.vmap(lambda one: _constrain(spec, likelihood, data, dict(zip(sites, one))))(z), decrement


def _sample_approximation(key, spec, likelihood, data, method, draws, num_steps):
    """``_approximate``'s draws as one chain: constrained draws (1, draws), diverging, steps."""
    raw, decrement = _approximate(key, data, spec=spec, likelihood=likelihood, method=method, draws=draws,
                                  num_steps=num_steps)
    if not all(np.isfinite(np.asarray(value)).all() for value in raw.values()):
        raise RuntimeError(f"fit_bayes(method={method!r}) produced non-finite draws (the Hessian at the posterior "
                           "mode is not positive definite); use method='nuts'")
    if not float(decrement) <= MODE_DECREMENT:
        raise RuntimeError(f"fit_bayes(method='laplace') did not reach the posterior mode in {_MODE_ITERATIONS} "
                           f"iterations (Newton decrement {float(decrement):.3g} > {MODE_DECREMENT:g}); "
                           "use method='nuts'")
    shape = (1, draws)
    return {name: value[None] for name, value in raw.items()}, np.zeros(shape, bool), np.zeros(shape, np.int64)


def _warn_if_doubtful(post: Posterior, num_warmup: int, num_samples: int) -> None:
    problems = []
    table = post.summary()
    high = [f"{name} {table[name]['r_hat']:.3f}" for name in post.free
            if not table[name]["r_hat"] <= RHAT_MAX]
    low = [f"{name} {table[name]['ess_bulk']:.0f}" for name in post.free
           if not table[name]["ess_bulk"] >= ESS_MIN]
    if high:
        problems.append(f"R-hat above {RHAT_MAX} ({', '.join(high)}): the chains disagree")
    if low:
        problems.append(f"bulk ESS below {ESS_MIN:.0f} ({', '.join(low)})")
    if post.divergences:
        problems.append(f"{post.divergences} divergent transitions: the sampler missed part of the posterior")
    if not problems:
        return
    advice = (f"raise num_warmup (now {num_warmup}) and num_samples (now {num_samples}) or num_chains; keep "
              "dense_mass=True; check that the priors (and any fixed values) suit the data, e.g. an E prior "
              "below the lowest loss; inspect the draws per chain (Posterior.samples, to_arviz())")
    warnings.warn(f"fit_bayes: {'; '.join(problems)}. Do not trust these intervals yet: {advice}.",
                  RuntimeWarning, stacklevel=3)


def _version() -> str:
    from .. import __version__

    return __version__


def _numpyro_version() -> str:
    import numpyro

    return numpyro.__version__
