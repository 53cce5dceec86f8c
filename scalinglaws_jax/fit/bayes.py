"""Bayesian fits of the Chinchilla law with NumPyro: NUTS (or an SVI approximation) -> Posterior.

The model, on log loss (the log-sum-exp form of Hoffmann et al.'s approach 3):

    mu_i      = LSE(a - alpha log N_i,  b - beta log D_i,  e)      a = log A, b = log B, e = log E
    log L_i   ~ StudentT(nu, mu_i, sigma)                        (or Normal(mu_i, sigma))

with fixed, data-independent priors (``DEFAULT_PRIORS``; simulation-based calibration
needs priors that do not look at the data), each overridable by name or pinned to a value.

Sampler coordinates. In (a, alpha) the posterior is a thin ridge: a change in alpha is
compensated by a change of a by alpha times a typical log N. NUTS instead samples

    a_ref = a - alpha c_N,      b_ref = b - beta c_D

(the log of each term at a reference size c_N = mean log N of the runs, c_D = mean log D),
which are nearly uncorrelated with the exponents, and uses a dense mass matrix for what
correlation is left. The reference depends on the data, but only as a change of variables
with unit Jacobian, (a_ref, alpha) -> (a, alpha): the target density is the stated prior on
(A, alpha) times the likelihood, so the prior does not depend on the data.

A posterior is a batched law: ``Posterior.law`` is a ``Chinchilla`` whose leaves have a
leading draw axis, so ``jax.vmap(sl.compute_optimal, (0, None))(post.law, flops)`` is the
posterior of the compute-optimal allocation.

Units: N in parameters, D in tokens, loss in nats per token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
import tempfile
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate
from ..laws import Chinchilla
from .runs import Runs

LAW_PARAMS = ("E", "A", "B", "alpha", "beta")
"""The law's parameters, in the order of ``Chinchilla``'s fields."""

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


def default_priors() -> dict:
    """The default priors, by parameter name (fresh distribution objects).

    - ``E`` ~ Uniform(0.5, 3): irreducible loss in nats per token, bounded away from 0
      and below the losses of typical language-model runs (the priors cannot look at the
      data; override it for losses on another scale).
    - ``A``, ``B`` ~ LogNormal(5, 5): log A, log B ~ Normal(5, 5), i.e. A, B from about
      e^-5 to e^15 at +-2 standard deviations.
    - ``alpha``, ``beta`` ~ Uniform(0, 2).
    - ``sigma`` ~ HalfNormal(0.05): scale of the log-loss residuals (a few 1e-3 on
      Chinchilla).
    - ``nu``: fixed at 4 (a robust Student-t likelihood); give a prior, e.g.
      ``priors={"nu": dist.Gamma(2, 0.1)}``, to learn it.
    """
    import numpyro.distributions as dist

    return {
        "E": dist.Uniform(0.5, 3.0),
        "A": dist.LogNormal(5.0, 5.0),
        "B": dist.LogNormal(5.0, 5.0),
        "alpha": dist.Uniform(0.0, 2.0),
        "beta": dist.Uniform(0.0, 2.0),
        "sigma": dist.HalfNormal(0.05),
    }


# ----------------------------------------------------------------------------------
# the model


def _model(log_N, log_D, log_loss, weight, priors, fixed, c_N, c_D, likelihood):
    """NumPyro model; ``priors`` and ``fixed`` are complete and disjoint (see ``_spec``)."""
    import numpyro
    import numpyro.distributions as dist

    def draw(name):
        if name in fixed:
            return jnp.asarray(fixed[name])
        return numpyro.sample(name, priors[name])

    E, alpha, beta = draw("E"), draw("alpha"), draw("beta")

    def scale(name, exponent, reference):
        # the term's scale in sampler coordinates: log X - exponent * reference
        if name in fixed:
            return jnp.log(jnp.asarray(fixed[name]))
        ref = numpyro.sample(f"log_{name}_ref", dist.ImproperUniform(dist.constraints.real, (), ()))
        log_x = ref + exponent * reference
        x = jnp.exp(log_x)
        prior = priors[name]
        # density of (ref | exponent) = p_X(x) |dx/dlog x|, as the shift has unit Jacobian
        log_density = prior.log_prob(x) + log_x
        numpyro.factor(f"prior_{name}", jnp.where(prior.support(x), log_density, -jnp.inf))
        numpyro.deterministic(name, x)
        return log_x

    a = scale("A", alpha, c_N)
    b = scale("B", beta, c_D)
    sigma = draw("sigma")
    mu = jnp.logaddexp(jnp.logaddexp(a - alpha * log_N, b - beta * log_D), jnp.log(E))
    if likelihood == "student_t":
        noise = dist.StudentT(draw("nu"), mu, sigma)
    else:
        noise = dist.Normal(mu, sigma)
    with numpyro.plate("runs", log_N.shape[0]), numpyro.handlers.scale(scale=weight):
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


def _describe(distribution) -> str:
    """``Uniform(low=0.5, high=3.0)``: a distribution as text, for summaries and files."""
    if isinstance(distribution, str):
        return distribution
    args = []
    for name in getattr(distribution, "arg_constraints", {}):
        value = getattr(distribution, name, None)
        if value is None:
            continue
        value = np.asarray(value)
        args.append(f"{name}={value.item():g}" if value.size == 1 else f"{name}={value.tolist()}")
    return f"{type(distribution).__name__}({', '.join(args)})"


@jax.jit
def _predict(law, sigma, nu, N, D, key):
    """exp(mu + sigma t): posterior-predictive draws, shape (draws, *broadcast(N, D).shape)."""
    shape = jnp.broadcast_shapes(N.shape, D.shape)
    mu = jax.vmap(lambda one: jnp.log(one.loss(N, D)))(law)
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
    """Posterior draws of a Chinchilla law and of the noise of the runs around it.

    Attributes:
        law: ``Chinchilla`` whose leaves have shape (draws,), draws = chains x samples
            (chain-major); ``jax.vmap(f, (0, ...))(post.law, ...)`` pushes it through ``f``.
        samples: parameter name -> float64 array of shape (chains, samples) for E, A, B,
            alpha, beta, sigma and (Student-t) nu; pinned parameters are constant.
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
    """

    law: Chinchilla
    samples: dict
    method: str
    likelihood: str
    priors: dict
    fixed: dict
    diverging: np.ndarray
    num_steps: np.ndarray
    info: dict

    @property
    def approximate(self) -> bool:
        """True for the SVI and Laplace approximations (not calibrated; see ``fit_bayes``)."""
        return self.method != "nuts"

    @property
    def num_chains(self) -> int:
        return int(self.samples["E"].shape[0])

    @property
    def num_draws(self) -> int:
        """Total draws, chains x samples."""
        return int(self.samples["E"].size)

    @property
    def divergences(self) -> int:
        return int(np.sum(self.diverging))

    @property
    def free(self) -> tuple[str, ...]:
        """The parameters that were sampled (not pinned)."""
        return tuple(name for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in self.samples and name not in self.fixed)

    def draws(self, name: str) -> np.ndarray:
        """Draws of ``name`` flattened over chains, shape (chains x samples,)."""
        return self.samples[name].reshape(-1)

    def __repr__(self) -> str:
        flag = ", approximate" if self.approximate else ""
        return (f"Posterior({self.method}{flag}, {self.num_chains} chains x {self.samples['E'].shape[1]} draws, "
                f"{self.likelihood}, {self.divergences} divergences)")

    # -- prediction -------------------------------------------------------------

    def predict(self, N, D, key=None):
        """Posterior-predictive draws of the loss of N-parameter models trained on D tokens.

        Observation noise is included: each draw is exp(mu + sigma t) with mu the law's
        log loss and t a Student-t(nu) (or standard normal) draw. For the law's loss
        without noise use ``jax.vmap(lambda law: law.loss(N, D))(post.law)``.

        Args:
            N: parameters (array, broadcast against D).
            D: training tokens.
            key: JAX PRNG key; default a fixed key, so repeated calls agree.

        Returns:
            float64 array of shape (draws, *broadcast(N, D).shape).
        """
        _validate.check_positive("N", N)
        _validate.check_positive("D", D)
        _validate.check_broadcastable(N=N, D=D)
        with jax.enable_x64(True):
            nu = jnp.asarray(self.draws("nu")) if self.likelihood == "student_t" else None
            law = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float64), self.law)
            draws = _predict(law, jnp.asarray(self.draws("sigma")), nu, jnp.asarray(N, jnp.float64),
                             jnp.asarray(D, jnp.float64), _key(key))
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

    def predict_interval(self, N, D, level: float = 0.9, key=None):
        """``(median, low, high)`` of the posterior-predictive loss at (N, D)."""
        draws = self.predict(N, D, key=key)
        low, high = self.interval(draws, level)
        return np.median(draws, axis=0), low, high

    # -- summaries ---------------------------------------------------------------

    def summary(self) -> dict:
        """Per parameter: mean, sd, median, 2.5/5/95/97.5% quantiles, R-hat, bulk and tail ESS.

        Returns a dict ``{name: {...}}`` for E, A, B, alpha, beta, sigma (and a learned
        nu), plus ``"divergences"`` (int), ``"method"`` and ``"approximate"``. R-hat and ESS
        are rank-normalised (see ``diagnostics``); NaN for pinned parameters and for the
        approximations (independent draws, where they carry no information).
        """
        out = {}
        for name in (*LAW_PARAMS, *NOISE_PARAMS):
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
                 f"{'':>6} {'mean':>10} {'median':>10} {'2.5%':>10} {'97.5%':>10} {'r_hat':>7} {'ess_bulk':>9}"]
        for name in (*LAW_PARAMS, *NOISE_PARAMS):
            if name not in table:
                continue
            row = table[name]
            note = "  (fixed)" if row["fixed"] else ""
            lines.append(f"{name:>6} {row['mean']:10.5g} {row['median']:10.5g} {row['q2.5']:10.5g} "
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
            raise ImportError("Posterior.to_arviz needs arviz, an optional dependency: pip install arviz") from error
        return arviz.from_dict(
            posterior={name: np.asarray(value) for name, value in self.samples.items() if name not in self.fixed},
            sample_stats={"diverging": self.diverging, "n_steps": self.num_steps},
            attrs={"method": self.method, "likelihood": self.likelihood, **{f"prior_{k}": v for k, v in self.priors.items()}},
        )

    # -- files -------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the draws to ``path`` (``.npz``, one array per parameter) and a JSON sidecar.

        The sidecar (same name, ``.json``) holds the law family, likelihood, priors as
        text, pinned values, the data hash, the library version, the chains and draws, and
        the SHA-256 of the ``.npz``. Both files are written atomically (temporary file,
        then ``os.replace``). ``.npz`` is appended to ``path`` when missing.

        Returns:
            the path of the ``.npz`` file.
        """
        npz_path, json_path = _paths(path)
        arrays = {name: np.asarray(value, np.float64) for name, value in self.samples.items()}
        arrays["diverging"] = np.asarray(self.diverging, bool)
        arrays["num_steps"] = np.asarray(self.num_steps, np.int64)
        blob = _atomic_write(npz_path, lambda handle: np.savez(handle, **arrays))
        meta = {
            "format": _FORMAT,
            "law": "Chinchilla",
            "parameters": list(self.samples),
            "method": self.method,
            "approximate": self.approximate,
            "likelihood": self.likelihood,
            "priors": dict(self.priors),
            "fixed": {name: float(value) for name, value in self.fixed.items()},
            "num_chains": self.num_chains,
            "num_samples": int(self.samples["E"].shape[1]),
            "npz_sha256": hashlib.sha256(blob).hexdigest(),
            **{key: value for key, value in self.info.items() if key not in ("npz_sha256",)},
        }
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=True)
        _atomic_write(json_path, lambda handle: handle.write(text.encode("utf-8")))
        return npz_path

    @classmethod
    def load(cls, path) -> Posterior:
        """Read a posterior written by ``save`` (never unpickles: ``allow_pickle=False``).

        Raises:
            ValueError: a missing or mismatched sidecar, an unknown format, missing
                arrays, or arrays holding Python objects.
        """
        npz_path, json_path = _paths(path)
        if not json_path.exists():
            raise ValueError(f"{npz_path}: no JSON sidecar {json_path.name} beside it")
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT or meta.get("law") != "Chinchilla":
            raise ValueError(f"{json_path}: not a scalinglaws_jax Chinchilla posterior (format {meta.get('format')!r})")
        blob = npz_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("npz_sha256"):
            raise ValueError(f"{npz_path}: its SHA-256 does not match the one in {json_path.name}")
        names = list(meta["parameters"])
        try:
            with np.load(npz_path, allow_pickle=False) as data:
                arrays = {name: np.array(data[name]) for name in (*names, "diverging", "num_steps")}
        except KeyError as error:
            raise ValueError(f"{npz_path}: missing array {error}") from None
        except ValueError as error:
            raise ValueError(f"{npz_path}: refusing to load pickled objects ({error})") from None
        for name in names:
            if arrays[name].dtype.kind != "f":
                raise ValueError(f"{npz_path}: array {name!r} has dtype {arrays[name].dtype}, expected floats")
        samples = {name: arrays[name] for name in names}
        info = {key: value for key, value in meta.items()
                if key not in ("format", "law", "parameters", "method", "approximate", "likelihood", "priors",
                               "fixed", "num_chains", "num_samples")}
        return cls(law=_to_law(samples), samples=samples, method=meta["method"], likelihood=meta["likelihood"],
                   priors=dict(meta["priors"]), fixed=dict(meta["fixed"]), diverging=arrays["diverging"],
                   num_steps=arrays["num_steps"], info=info)


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return path, path.with_suffix(".json")


def _atomic_write(path: Path, write) -> bytes:
    """Write via ``write(handle)`` to a temporary file beside ``path``, then rename; return the bytes."""
    directory = path.parent if str(path.parent) else Path(".")
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
        blob = Path(handle.name).read_bytes()
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return blob


def _to_law(samples) -> Chinchilla:
    with jax.enable_x64(True):
        return Chinchilla(**{name: jnp.asarray(samples[name].reshape(-1), jnp.float64) for name in LAW_PARAMS})


def data_hash(runs: Runs) -> str:
    """SHA-256 over the runs' N, D, loss, flops and weight (float64, little-endian, in that order)."""
    digest = hashlib.sha256()
    for name in ("N", "D", "loss", "flops", "weight"):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(getattr(runs, name), dtype="<f8").tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------
# the fit


def _spec(priors, fixed, likelihood):
    """Complete priors and fixed values, checked; returns (priors, fixed)."""
    import numpyro.distributions as dist

    names = (*LAW_PARAMS, *NOISE_PARAMS)
    user_priors = dict(priors or {})
    user_fixed = dict(fixed or {})
    for argument, given in (("priors", user_priors), ("fixed", user_fixed)):
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ValueError(f"{argument} may name {list(names)}, got unknown name(s) {unknown}")
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
    full = default_priors()
    full.update(user_priors)
    if likelihood == "student_t" and "nu" not in user_priors and "nu" not in checked:
        checked["nu"] = DEFAULT_NU
    full = {name: prior for name, prior in full.items() if name not in checked}
    if likelihood == "normal":
        full.pop("nu", None)
    return full, checked


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def fit_bayes(runs: Runs, *, key, num_chains: int = 4, num_warmup: int = 1000, num_samples: int = 1000,
              method: str = "nuts", priors: dict | None = None, fixed: dict | None = None,
              likelihood: str = "student_t", dense_mass: bool = True, chain_method: str | None = None,
              progress_bar: bool = False, num_steps: int = 4000) -> Posterior:
    """Posterior of a Chinchilla law L = E + A / N^alpha + B / D^beta given training runs.

    Model (on log loss, in float64): mu_i = LSE(a - alpha log N_i, b - beta log D_i, e)
    with a = log A, b = log B, e = log E; log L_i ~ StudentT(nu, mu_i, sigma) (default) or
    Normal(mu_i, sigma); each run's log-likelihood is multiplied by its weight.

    Priors (fixed, do not depend on the data; see ``default_priors``): E ~ Uniform(0.5, 3),
    A, B ~ LogNormal(5, 5) (log A, log B ~ Normal(5, 5)), alpha, beta ~ Uniform(0, 2),
    sigma ~ HalfNormal(0.05), nu = 4 fixed (pass a prior for nu to learn it). Priors on A
    and B are best left with support on all positive reals: a bounded one works, but the
    sampler meets its bounds as divergences.

    NUTS samples a_ref = a - alpha c_N and b_ref = b - beta c_D (c_N, c_D: mean log N, log D
    of the runs; a unit-Jacobian change of variables that leaves the prior as stated) with a
    dense mass matrix by default. Chains run in parallel when
    ``jax.local_device_count() >= num_chains``, vectorised otherwise (the library never
    calls ``numpyro.set_host_device_count``; a program may, before JAX starts).

    After NUTS, an R-hat above 1.01, a bulk ESS below 400 or any divergence produces a
    ``RuntimeWarning`` that says what to try.

    ``method="svi"`` (an ``AutoMultivariateNormal`` guide, ``num_steps`` Adam steps) and
    ``method="laplace"`` (a Gaussian at the MAP) are fast approximations, returning
    ``num_chains * num_samples`` independent draws as one chain with ``Posterior.method``
    saying so. They are NOT equivalent to NUTS: on the Chinchilla runs (240) this guide's
    95% intervals were 2.5x (alpha), 3.6x (beta) and 2.7x (E) narrower than NUTS's (an
    earlier parameterisation measured about 7x for alpha, DESIGN.md); the Laplace
    approximation in the sampler coordinates came within 10-15% of NUTS there, but its
    Hessian can be singular elsewhere. Use them for a first look, not for decisions.

    Args:
        runs: the training runs (N in parameters, D in tokens, loss in nats per token).
        key: JAX PRNG key.
        num_chains, num_warmup, num_samples: as in ``numpyro.infer.MCMC``.
        method: ``"nuts"`` (default), ``"svi"`` or ``"laplace"``.
        priors: ``{name: numpyro distribution}`` replacing default priors of E, A, B,
            alpha, beta (each in its own units), sigma or nu.
        fixed: ``{name: value}`` pinning parameters, e.g. ``{"E": 1.69}``.
        likelihood: ``"student_t"`` (default) or ``"normal"``.
        dense_mass: dense (default) or diagonal NUTS mass matrix.
        chain_method: ``"parallel"``, ``"vectorized"`` or ``"sequential"``; default as above.
        progress_bar: NumPyro's progress bar.
        num_steps: optimisation steps for ``method="svi"``.

    Returns:
        ``Posterior``.

    Raises:
        ValueError: naming the bad argument.

    References: Hoffmann et al. 2022, sec. 3.3 (the law and the log-sum-exp form);
    Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt"; Hoffman & Gelman
    2014 (NUTS); Vehtari et al. 2021 (R-hat, ESS).
    """
    if not isinstance(runs, Runs):
        raise TypeError(f"runs must be a Runs, got {type(runs).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if likelihood not in _LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {_LIKELIHOODS}, got {likelihood!r}")
    num_chains = _check_int("num_chains", num_chains, 1)
    num_warmup = _check_int("num_warmup", num_warmup, 1)
    num_samples = _check_int("num_samples", num_samples, 4)
    num_steps = _check_int("num_steps", num_steps, 1)
    if chain_method is not None and chain_method not in _CHAIN_METHODS:
        raise ValueError(f"chain_method must be None or one of {_CHAIN_METHODS}, got {chain_method!r}")
    full_priors, full_fixed = _spec(priors, fixed, likelihood)
    free = [name for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in full_priors]
    if len(runs) <= len(free):
        raise ValueError(f"runs has {len(runs)} runs, too few for {len(free)} free parameters {free}")

    log_N, log_D = np.log(runs.N), np.log(runs.D)
    c_N, c_D = float(log_N.mean()), float(log_D.mean())
    info = {
        "data_hash": data_hash(runs),
        "num_runs": len(runs),
        "version": _version(),
        "numpyro_version": _numpyro_version(),
        "reference_log_N": c_N,
        "reference_log_D": c_D,
        "dense_mass": bool(dense_mass),
        "num_warmup": num_warmup if method == "nuts" else 0,
    }
    start = time.perf_counter()
    with jax.enable_x64(True):
        args = (jnp.asarray(log_N), jnp.asarray(log_D), jnp.asarray(np.log(runs.loss)),
                jnp.asarray(runs.weight), full_priors, full_fixed, c_N, c_D, likelihood)
        if method == "nuts":
            if chain_method is None:
                chain_method = "parallel" if jax.local_device_count() >= num_chains else "vectorized"
            info["chain_method"] = chain_method
            samples, diverging, steps = _nuts(key, args, num_chains, num_warmup, num_samples, dense_mass,
                                              chain_method, progress_bar)
        else:
            samples, diverging, steps = _approximate(key, args, method, num_chains * num_samples, num_steps)
            info["num_steps"] = num_steps
    info["seconds"] = time.perf_counter() - start
    for name, value in full_fixed.items():
        samples[name] = np.full(diverging.shape, value)
    order = [name for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in samples]
    samples = {name: samples[name] for name in order}
    for value in samples.values():
        value.flags.writeable = False
    post = Posterior(law=_to_law(samples), samples=samples, method=method, likelihood=likelihood,
                     priors={name: _describe(prior) for name, prior in full_priors.items()},
                     fixed=full_fixed, diverging=diverging, num_steps=steps, info=info)
    if method == "nuts":
        _warn_if_doubtful(post, num_warmup, num_samples)
    return post


def _closed_model(args):
    """The model with its data and priors closed over, so it traces under ``jit`` as constants."""

    def model():
        _model(*args)

    return model


def _nuts(key, args, num_chains, num_warmup, num_samples, dense_mass, chain_method, progress_bar):
    """NUTS on the unconstrained coordinates; initialisation and post-processing are jitted.

    NumPyro's model-based kernel runs its initialisation op by op, and every op compiles
    on first use (about 10 s here); tracing it once under ``jit`` costs one compile.
    """
    from numpyro.infer import MCMC, NUTS
    from numpyro.infer.util import constrain_fn, potential_energy

    model = _closed_model(args)
    init_key, run_key = jax.random.split(key)

    @jax.jit
    def potential(z):
        return potential_energy(model, (), {}, z)

    @jax.jit
    def constrain(z):
        return jax.vmap(lambda one: constrain_fn(model, (), {}, one, return_deterministic=True))(z)

    # NumPyro's init_to_uniform: every unconstrained coordinate uniform on (-2, 2). On
    # a_ref, b_ref that is a term between e^-2 and e^2 nats at the reference size.
    shape = (num_chains,) if num_chains > 1 else ()
    sites = [name for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in args[4]]
    sites = [f"log_{name}_ref" if name in ("A", "B") else name for name in sites]
    keys = jax.random.split(init_key, len(sites))
    z0 = {name: jax.random.uniform(k, shape, jnp.float64, -2.0, 2.0) for name, k in zip(sites, keys)}
    kernel = NUTS(potential_fn=potential, dense_mass=dense_mass)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=chain_method, progress_bar=progress_bar)
    with warnings.catch_warnings():
        # NumPyro warns when parallel chains fall back to sequential; we chose the method.
        warnings.filterwarnings("ignore", message="There are not enough devices", category=UserWarning)
        mcmc.run(run_key, init_params=z0, extra_fields=("diverging", "num_steps"))
    z = mcmc.get_samples(group_by_chain=True)
    flat = jax.tree_util.tree_map(lambda leaf: leaf.reshape((-1,) + leaf.shape[2:]), z)
    raw = constrain(flat)
    shape = (num_chains, num_samples)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    samples = {name: np.asarray(raw[name], np.float64).reshape(shape)
               for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in raw}
    return (samples, np.asarray(extra["diverging"], bool).reshape(shape),
            np.asarray(extra["num_steps"], np.int64).reshape(shape))


def _approximate(key, args, method, draws, num_steps):
    """SVI (AutoMultivariateNormal, Adam) or Laplace (MAP by BFGS), traced once under ``jit``."""
    import numpyro.optim
    from numpyro.infer import SVI, Trace_ELBO, autoguide, init_to_median

    model = _closed_model(args)
    if method == "svi":
        guide = autoguide.AutoMultivariateNormal(model, init_loc_fn=init_to_median)
        optimizer, steps = numpyro.optim.Adam(0.01), num_steps
    else:
        guide = autoguide.AutoLaplaceApproximation(model, init_loc_fn=init_to_median)
        optimizer, steps = numpyro.optim.Minimize(method="BFGS"), 1
    svi = SVI(model, guide, optimizer, Trace_ELBO())

    @jax.jit
    def run(key):
        fit_key, draw_key = jax.random.split(key)
        state = svi.init(fit_key)
        state, losses = jax.lax.scan(lambda s, _: svi.update(s), state, None, length=steps)
        params = svi.get_params(state)
        return guide.sample_posterior(draw_key, params, sample_shape=(draws,)), losses

    raw, losses = run(key)
    if not all(np.isfinite(np.asarray(value)).all() for value in raw.values()):
        raise RuntimeError(f"fit_bayes(method={method!r}) produced non-finite draws (for the Laplace "
                           "approximation: the Hessian at the MAP is singular); use method='nuts'")
    samples = {name: np.asarray(raw[name], np.float64)[None] for name in (*LAW_PARAMS, *NOISE_PARAMS) if name in raw}
    shape = (1, draws)
    return samples, np.zeros(shape, bool), np.zeros(shape, np.int64)


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
