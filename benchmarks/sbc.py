"""Simulation-based calibration of ``sl.fit_bayes`` (NUTS) on the Chinchilla-law model.

The check (Talts, Betancourt, Simpson, Vehtari, Gelman 2018, "Validating Bayesian
Inference Algorithms with Simulation-Based Calibration", arXiv:1804.06788): if data are
simulated from parameters drawn from the prior, and the sampler is right, then the rank of
each true parameter among L posterior draws is uniform on {0, ..., L}, and every central
posterior interval covers the truth at its nominal rate. For each replicate:

1. theta ~ prior: E, A, B, alpha, beta, sigma drawn from ``fit_bayes``'s own priors
   (``default_priors()``, the objects the library uses; NumPyro's ``Predictive`` cannot
   sample them because A and B are improper sites reweighted by factors). A scale whose
   prior is a ``LogTermNormal`` (the default A and B) is drawn through its term: the log
   of A / size^alpha from that prior, then A = exp(that + alpha log size), alpha drawn
   first. nu fixed at ``DEFAULT_NU`` (4), as the library fixes it.
2. runs on a fixed IsoFLOP-like design (``design()``, the same for every replicate): 9
   budgets log-spaced from 1e18 to 1e22 FLOPs, at each 9 model sizes log-spaced over
   +-0.5 dex around the 20-tokens-per-parameter size N = sqrt(C / 120), D = C / (6 N):
   81 runs, N from 2.9e7 to 2.9e10 parameters, D from 5.8e8 to 5.8e11 tokens.
   log L_i ~ StudentT(nu, mu_i(theta), sigma), the model's own likelihood, with
   mu_i = LSE(log A - alpha log N_i, log B - beta log D_i, log E).
3. ``sl.fit_bayes(runs, key=..., num_chains, num_warmup, num_samples, form_error=False)``
   with the default priors, likelihood and dense mass matrix. The form error (learned by
   Huber refits for forecasts, no part of the parameters' posterior) is not what this
   checks, and is not learned.
4. The rank of each true quantity among L draws thinned evenly from the chains x samples
   draws (L = 99 by default, so ranks take 100 values and 10 bins hold 10 values each);
   ties (none expected) are broken at random. Coverage of the central 50% and 90%
   intervals uses all the draws (equal-tailed quantiles).

Quantities: the six parameters, and two functions of them a user acts on (SBC holds for
any function of theta): ``a_opt`` = beta / (alpha + beta), the exponent of N* ~ C^a_opt,
and ``L_ext``, the noise-free loss at N = 7e10, D = 1.4e12 (Chinchilla's own size,
5.9e23 FLOPs, 1.8 dex beyond the design's largest budget).

The simulation runs in log space, so no prior draw overflows or underflows: log L is at
least about log 0.5 minus the noise, and log A, log B stay below about 80 even with the
exponent 4 prior SDs high. SBC tests the sampler on the model as defined, so nothing is
rejected. The priors state each term's size at a fixed N or D (``default_priors``), so a
term too small for the runs to measure its exponent is rare (its variation over the
design below 0.3 noise SDs in 3% of the draws, for either term in 5%); losses exceed 10
nats in about a quarter of the replicates, where a large term or a large exponent meets
the design's smallest runs. Under the former priors (alpha, beta ~ Uniform(0, 2), A, B ~
LogNormal(5, 5) independent of them) each term was that small in three quarters of the
draws; NUTS diverged in 99% of those fits, and where a term was partly visible it missed
the part of the posterior in which a small exponent makes the term a near-constant
traded against E (on two such replicates NUTS at a 0.99 target acceptance put 4-5% of
the posterior below the true alpha, the library's sampler 0-1% even with 4 x (3000 +
3000) draws): truths fell below alpha's posterior. A replicate whose simulated losses
are not finite and positive, or whose fit raises, would be counted and reported as
degenerate or failed and left out (which would bias the check); none were expected and
the output says how many there were.

Printed: per quantity the 10-bin rank histogram (counts), the chi-square test of
uniformity (p-value), and the coverage of the central 50% and 90% intervals with their
binomial standard errors; the fits' divergences, R-hat and bulk ESS; the simulated losses'
range; the wall time with the share spent compiling (``fit_bayes`` compiles its sampler
once per process: every replicate has the same number of runs). Replicate i uses ``jax.random.fold_in(jax.random.key(seed), i)``,
so the figures do not depend on ``--workers``. This is a benchmark, not a test: it asserts
nothing (``tests/test_sbc.py`` runs a small version with checks). Read the eight p-values
and sixteen coverages together: with an exact posterior (the conjugate normal model, 8
correlated quantities, 200 replicates, 400 runs of the check) some p-value fell below
0.05 in 36% of runs, and some coverage lay more than 2 binomial SEs from nominal in 41%.

Run:  python benchmarks/sbc.py                       # 200 replicates, 2 x (300 + 300)
      python benchmarks/sbc.py --replicates 20 --warmup 150 --samples 150   # quick
Options: --replicates (200), --seed (0), --chains (2), --warmup (300), --samples (300),
--draws (L, 99), --workers (processes, 2; each fit uses about one core; 0 = this process),
--save PATH (per-replicate truths, draws and
diagnostics as .npz).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import math
import multiprocessing
import os
import platform
import sys
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax.fit import bayes  # noqa: E402

PARAMS = ("E", "A", "B", "alpha", "beta", "sigma")
"""Parameters drawn from the prior and fitted (nu is fixed, as in the library)."""

QUANTITIES = (*PARAMS, "a_opt", "L_ext")
"""What ranks are recorded for: the parameters and two derived quantities."""

EXTRAPOLATION = (7e10, 1.4e12)
"""(N, D) of ``L_ext``: Chinchilla's size, 5.9e23 FLOPs, beyond the design's 1e22."""

BINS = 10
LEVELS = (0.5, 0.9)


# ----------------------------------------------------------------------------------
# simulation


def design(budgets: int = 9, sizes: int = 9, low: float = 1e18, high: float = 1e22,
           spread: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A fixed IsoFLOP-like design: ``(N, D)`` in parameters and tokens, budgets x sizes runs.

    ``budgets`` FLOP budgets log-spaced from ``low`` to ``high``; at each, ``sizes`` model
    sizes log-spaced over +-``spread`` dex around N = sqrt(C / 120) (20 tokens per
    parameter), and D = C / (6 N).
    """
    flops = np.repeat(np.geomspace(low, high, budgets), sizes)
    offsets = np.tile(np.logspace(-spread, spread, sizes), budgets)
    N = np.sqrt(flops / 120.0) * offsets
    return N, flops / (6.0 * N)


def draw_theta(key, priors: dict | None = None) -> dict[str, float]:
    """One draw of E, A, B, alpha, beta, sigma from ``priors`` (default: the library's)."""
    # jitted: NumPyro's samplers run op by op otherwise, each op compiling on first use
    draw = _draw_default if priors is None else jax.jit(functools.partial(_draw, priors))
    with jax.enable_x64(True):
        return {name: float(value) for name, value in draw(key).items()}


TERMS = {"A": "alpha", "B": "beta"}
"""Each scale and its exponent: a ``LogTermNormal`` prior on the scale is drawn given it."""


def _draw(priors, key):
    keys = jax.random.split(key, len(PARAMS))
    theta = {name: priors[name].sample(k) for name, k in zip(PARAMS, keys)}
    for scale, exponent in TERMS.items():
        if isinstance(priors[scale], bayes.LogTermNormal):  # the draw is log(scale / size^exponent)
            theta[scale] = jnp.exp(theta[scale] + theta[exponent] * jnp.log(priors[scale].size))
    return theta


_draw_default = jax.jit(lambda key: _draw(bayes.default_priors(), key))


def mean_log_loss(theta: dict, N, D) -> np.ndarray:
    """mu = LSE(log A - alpha log N, log B - beta log D, log E): the model's mean log loss."""
    terms = np.logaddexp(np.log(theta["A"]) - theta["alpha"] * np.log(N),
                         np.log(theta["B"]) - theta["beta"] * np.log(D))
    return np.logaddexp(terms, np.log(theta["E"]))


def simulate(key, theta: dict, N, D, nu: float = bayes.DEFAULT_NU) -> np.ndarray:
    """Losses (nats per token) of runs (N, D): exp of log L ~ StudentT(nu, mu(theta), sigma)."""
    mu = mean_log_loss(theta, N, D)
    with jax.enable_x64(True):
        log_loss = _student_t(key, jnp.float64(nu), jnp.asarray(mu, jnp.float64), jnp.float64(theta["sigma"]))
        return np.exp(np.asarray(log_loss, np.float64))


@jax.jit
def _student_t(key, nu, mu, sigma):
    import numpyro.distributions as dist

    return dist.StudentT(nu, mu, sigma).sample(key)


def derived(values: dict) -> dict:
    """The quantities in ``QUANTITIES`` from parameter values (scalars or arrays of draws)."""
    E, A, B = (np.asarray(values[name], np.float64) for name in ("E", "A", "B"))
    alpha, beta = np.asarray(values["alpha"], np.float64), np.asarray(values["beta"], np.float64)
    N, D = EXTRAPOLATION
    out = {name: np.asarray(values[name], np.float64) for name in PARAMS}
    out["a_opt"] = beta / (alpha + beta)
    out["L_ext"] = E + A * N ** -alpha + B * D ** -beta
    return out


# ----------------------------------------------------------------------------------
# one replicate


class _CompileClock:
    """Seconds JAX spends tracing, lowering and compiling (summed from its monitoring events)."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")
    seconds = 0.0
    _registered = False

    @classmethod
    def start(cls) -> float:
        if not cls._registered:
            jax.monitoring.register_event_duration_secs_listener(cls._listen)
            cls._registered = True
        return cls.seconds

    @classmethod
    def _listen(cls, event, duration_secs, **kwargs):
        if event in cls.EVENTS:
            cls.seconds += duration_secs


def replicate(index: int, *, seed: int = 0, chains: int = 2, warmup: int = 300, samples: int = 300,
              design_N=None, design_D=None) -> dict:
    """Draw theta, simulate the design's runs, fit with ``sl.fit_bayes``; the plain-data record.

    Returns a dict: ``index``; ``truth`` {quantity: float}; ``draws`` {quantity: float64
    array (chains x samples,)}; ``divergences``; ``r_hat_max`` and ``ess_bulk_min`` over the
    free parameters; ``warnings`` (fit_bayes's RuntimeWarnings, as text); ``loss_min``,
    ``loss_max`` of the simulated runs; ``mean_steps`` (leapfrog steps per iteration);
    ``seconds`` and ``compile_seconds``; ``status`` "ok", "degenerate" (simulated losses
    not finite and positive) or "failed" (fit_bayes raised; ``error`` holds the message).
    """
    N, D = design() if design_N is None else (np.asarray(design_N), np.asarray(design_D))
    theta_key, noise_key, fit_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), index), 3)
    theta = draw_theta(theta_key)
    record = {"index": index, "truth": {k: float(v) for k, v in derived(theta).items()}, "status": "ok"}
    loss = simulate(noise_key, theta, N, D)
    record["loss_min"], record["loss_max"] = float(np.min(loss)), float(np.max(loss))
    if not (np.all(np.isfinite(loss)) and np.all(loss > 0)):
        record["status"] = "degenerate"
        return record
    runs = sl.Runs(N=N, D=D, loss=loss)
    compile_start = _CompileClock.start()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            post = sl.fit_bayes(runs, key=fit_key, num_chains=chains, num_warmup=warmup, num_samples=samples,
                                form_error=False)
    except Exception as error:  # noqa: BLE001 - a failed fit is counted, not fatal
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        return record
    record["seconds"] = time.perf_counter() - start
    record["compile_seconds"] = _CompileClock.seconds - compile_start
    record["warnings"] = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    record["draws"] = derived({name: post.draws(name) for name in PARAMS})
    table = post.summary()
    record["divergences"] = post.divergences
    record["r_hat_max"] = float(np.nanmax([table[name]["r_hat"] for name in post.free]))
    record["ess_bulk_min"] = float(np.nanmin([table[name]["ess_bulk"] for name in post.free]))
    record["mean_steps"] = float(np.mean(post.num_steps))
    return record


# ----------------------------------------------------------------------------------
# ranks, coverage, uniformity


def thin(draws: np.ndarray, L: int) -> np.ndarray:
    """``L`` draws evenly spaced along the last axis (chain-major flattened draws)."""
    size = draws.shape[-1]
    if L > size:
        raise ValueError(f"cannot thin {size} draws to L={L}")
    return draws[..., np.round(np.linspace(0, size - 1, L)).astype(int)]


def ranks(truth: np.ndarray, draws: np.ndarray, L: int, rng: np.random.Generator) -> np.ndarray:
    """Rank of each truth among ``L`` thinned draws: #{draws < truth}, ties split at random.

    ``truth`` has shape (R,), ``draws`` (R, S); returns ints in {0, ..., L}, shape (R,).
    """
    thinned = thin(np.asarray(draws), L)
    truth = np.asarray(truth)[:, None]
    below = np.sum(thinned < truth, axis=1)
    ties = np.sum(thinned == truth, axis=1)
    return below + rng.integers(0, ties + 1)


def covered(truth: np.ndarray, draws: np.ndarray, level: float) -> np.ndarray:
    """Whether each truth lies in the central ``level`` interval (equal-tailed) of its draws."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(draws), [tail, 1.0 - tail], axis=1)
    truth = np.asarray(truth)
    return (low <= truth) & (truth <= high)


def histogram(rank: np.ndarray, L: int, bins: int = BINS) -> np.ndarray:
    """Counts of ranks (0..L) in ``bins`` equal bins of the L + 1 rank values."""
    edges = np.linspace(0, L + 1, bins + 1)
    return np.histogram(rank, bins=edges)[0]


def chi2_pvalue(counts: np.ndarray, L: int) -> float:
    """p-value of Pearson's chi-square test that ``counts`` (from ``histogram``) are uniform ranks.

    Each bin's expected count is proportional to the rank values (0..L) it holds: equal
    when L + 1 is a multiple of the number of bins (L = 99 and 10 bins).
    """
    from scipy import stats

    counts = np.asarray(counts, np.float64)
    values = histogram(np.arange(L + 1), L, counts.size)
    expected = counts.sum() * values / values.sum()
    return float(stats.chisquare(counts, expected).pvalue)


def assess(truths: dict, draws: dict, L: int, seed: int = 0) -> dict:
    """Per quantity: ranks, histogram, chi-square p-value, coverage at each of ``LEVELS``.

    Args:
        truths: {quantity: array (R,)} true values.
        draws: {quantity: array (R, S)} posterior draws, S >= L.
        L: draws kept per replicate for the ranks.
        seed: for random tie-breaking.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name in truths:
        truth, sample = np.asarray(truths[name]), np.asarray(draws[name])
        rank = ranks(truth, sample, L, rng)
        counts = histogram(rank, L)
        out[name] = {"ranks": rank, "histogram": counts, "p_value": chi2_pvalue(counts, L),
                     **{f"coverage{round(100 * level)}": float(np.mean(covered(truth, sample, level)))
                        for level in LEVELS}}
    return out


def gross_problems(assessment: dict, L: int, low90: float = 0.75, high90: float = 0.99,
                   end_fraction: float = 0.1, end_share: float = 0.75) -> list[str]:
    """Gross miscalibration: what is wrong, as text (empty when nothing is).

    - the 90% intervals' coverage pooled over all quantities outside [low90, high90];
    - any quantity with more than ``end_share`` of its ranks in the lowest or the highest
      ``end_fraction`` of the rank range (uniform ranks put ``end_fraction`` there).
    """
    problems = []
    pooled = float(np.mean([a["coverage90"] for a in assessment.values()]))
    if not low90 <= pooled <= high90:
        problems.append(f"pooled 90% coverage {pooled:.3f} outside [{low90}, {high90}]")
    edge = end_fraction * (L + 1)
    for name, a in assessment.items():
        rank = np.asarray(a["ranks"])
        for side, share in (("lowest", np.mean(rank < edge)), ("highest", np.mean(rank >= L + 1 - edge))):
            if share > end_share:
                problems.append(f"{name}: {share:.0%} of ranks in the {side} {end_fraction:.0%}")
    return problems


def collect(records: list[dict]) -> tuple[dict, dict]:
    """``(truths, draws)`` stacked over the records with status "ok", for ``assess``."""
    ok = [r for r in records if r["status"] == "ok"]
    truths = {name: np.array([r["truth"][name] for r in ok]) for name in QUANTITIES}
    draws = {name: np.stack([r["draws"][name] for r in ok]) for name in QUANTITIES}
    return truths, draws


def run(replicates: int, *, seed: int = 0, chains: int = 2, warmup: int = 300, samples: int = 300,
        workers: int = 0, progress=None) -> list[dict]:
    """``replicate(i)`` for i < ``replicates``: in this process (``workers=0``) or in
    ``workers`` spawned processes (JAX is not fork-safe), each compiling the sampler once.

    ``progress(done, record)`` is called after each replicate, in completion order; the
    returned records are in index order.
    """
    settings = dict(seed=seed, chains=chains, warmup=warmup, samples=samples)
    records = []

    def done(record):
        records.append(record)
        if progress:
            progress(len(records), record)

    if workers <= 0:
        for i in range(replicates):
            done(replicate(i, **settings))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(replicate, i, **settings) for i in range(replicates)]
            for future in concurrent.futures.as_completed(futures):
                done(future.result())
    return sorted(records, key=lambda r: r["index"])


# ----------------------------------------------------------------------------------
# report


def _quantiles(values, qs=(0.5, 0.9, 1.0)) -> str:
    values = np.asarray(values, np.float64)
    return " / ".join(f"{v:.4g}" for v in np.quantile(values, qs))


def report(records: list[dict], L: int, wall: float, settings: dict) -> str:
    ok = [r for r in records if r["status"] == "ok"]
    degenerate = [r for r in records if r["status"] == "degenerate"]
    failed = [r for r in records if r["status"] == "failed"]
    R = len(ok)
    lines = [f"replicates: {len(records)} run, {R} fitted, {len(degenerate)} degenerate simulations "
             f"(left out), {len(failed)} failed fits (left out)"]
    for r in failed[:5]:
        lines.append(f"  failed replicate {r['index']}: {r['error'][:200]}")
    if R == 0:
        return "\n".join(lines)
    assessment = assess(*collect(records), L, seed=settings["seed"])
    se = {level: math.sqrt(level * (1 - level) / R) for level in LEVELS}
    lines += ["",
              f"ranks of the truth among L={L} thinned draws (0..{L}), {BINS} bins of {(L + 1) / BINS:g} values; "
              f"uniform = {R / BINS:g} per bin",
              f"coverage of the central intervals: nominal 0.50 (binomial SE {se[0.5]:.3f}) and 0.90 "
              f"(SE {se[0.9]:.3f})",
              f"{'quantity':>8}  {'rank histogram (counts, low -> high)':<44} {'chi2 p':>7} {'cov50':>6} {'cov90':>6}"]
    for name in QUANTITIES:
        a = assessment[name]
        counts = " ".join(f"{c:3d}" for c in a["histogram"])
        lines.append(f"{name:>8}  {counts:<44} {a['p_value']:7.3f} {a['coverage50']:6.3f} {a['coverage90']:6.3f}")
    pooled = {level: np.mean([assessment[n][f"coverage{round(100 * level)}"] for n in QUANTITIES]) for level in LEVELS}
    lines.append(f"{'pooled':>8}  {'':<44} {'':>7} {pooled[0.5]:6.3f} {pooled[0.9]:6.3f}")
    problems = gross_problems({n: assessment[n] for n in QUANTITIES}, L)
    lines.append(f"gross miscalibration check (as tests/test_sbc.py): {'; '.join(problems) or 'none'}")

    divergences = np.array([r["divergences"] for r in ok])
    r_hat = np.array([r["r_hat_max"] for r in ok])
    ess = np.array([r["ess_bulk_min"] for r in ok])
    draws_total = settings["chains"] * settings["samples"]
    lines += ["",
              f"fits: {settings['chains']} chains x ({settings['warmup']} warm-up + {settings['samples']} draws) = "
              f"{draws_total} draws each, thinned to L={L} for the ranks",
              f"divergences: {int(np.sum(divergences > 0))}/{R} fits with any, {int(divergences.sum())} in all "
              f"({divergences.sum() / (R * draws_total):.2%} of draws); per fit median / 90% / max: "
              f"{_quantiles(divergences)}",
              f"max R-hat over the free parameters, median / 90% / max: {_quantiles(r_hat)}; "
              f"> 1.01 in {int(np.sum(r_hat > 1.01))}/{R} fits, > 1.05 in {int(np.sum(r_hat > 1.05))}, "
              f"> 1.1 in {int(np.sum(r_hat > 1.1))}",
              f"min bulk ESS over the free parameters, 10% / median / 90%: {_quantiles(ess, (0.1, 0.5, 0.9))}; "
              f"below L={L} (thinned draws not independent) in {int(np.sum(ess < L))}/{R} fits",
              f"fit_bayes warned in {sum(bool(r['warnings']) for r in ok)}/{R} fits",
              f"leapfrog steps per iteration, mean over a fit, median / 90% / max: "
              f"{_quantiles([r['mean_steps'] for r in ok])}"]
    truths, draws = collect(records)
    clean = np.array([r["divergences"] == 0 and r["r_hat_max"] <= 1.01 for r in ok])
    for label, mask in (("clean fits (no divergence, R-hat <= 1.01)", clean), ("the other fits", ~clean)):
        if mask.any():
            cov = {level: np.mean([np.mean(covered(truths[n][mask], draws[n][mask], level)) for n in QUANTITIES])
                   for level in LEVELS}
            lines.append(f"  pooled coverage 50% / 90% over {label}: {cov[0.5]:.3f} / {cov[0.9]:.3f} "
                         f"({int(mask.sum())} fits; conditioning on diagnostics is not SBC, only a hint)")

    loss_min = np.array([r["loss_min"] for r in records])
    loss_max = np.array([r["loss_max"] for r in records])
    lines += ["",
              f"simulated losses (nats per token): smallest over all runs {loss_min.min():.3g}, largest "
              f"{loss_max.max():.3g}; replicates with a loss above 10: {int(np.sum(loss_max > 10))}/{len(records)}, "
              f"with the loss varying less than 1% over the design: "
              f"{int(np.sum(loss_max / loss_min < 1.01))}/{len(records)}"]
    fit_seconds = np.array([r["seconds"] for r in ok])
    compile_seconds = np.array([r["compile_seconds"] for r in ok])
    where = f"{settings['workers']} worker processes" if settings["workers"] > 0 else "this process"
    lines += [f"wall time {wall:.0f} s ({wall / 60:.1f} min) in {where}; "
              f"per fit median {np.median(fit_seconds):.1f} s, of which compiling (trace + lower + XLA) "
              f"median {np.median(compile_seconds):.1f} s ({compile_seconds.sum() / fit_seconds.sum():.0%} of "
              f"fit time)"]
    return "\n".join(lines)


def save(path: str, records: list[dict]) -> None:
    """Per-replicate truths, draws and diagnostics of the fitted replicates, as .npz (no pickles)."""
    ok = [r for r in records if r["status"] == "ok"]
    truths, draws = collect(records)
    arrays = {"index": np.array([r["index"] for r in ok])}
    arrays.update({f"truth_{name}": value for name, value in truths.items()})
    arrays.update({f"draws_{name}": value for name, value in draws.items()})
    for key in ("divergences", "r_hat_max", "ess_bulk_min", "seconds", "compile_seconds", "mean_steps", "loss_min",
                "loss_max"):
        arrays[key] = np.array([r[key] for r in ok])
    np.savez(path, **arrays)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--draws", type=int, default=99, help="L: thinned draws per replicate for the ranks")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes (each fit uses about one core); 0 runs in this process")
    parser.add_argument("--save", default=None, help="write per-replicate records to this .npz")
    args = parser.parse_args(argv)
    if args.draws > args.chains * args.samples:
        parser.error(f"--draws {args.draws} exceeds chains x samples = {args.chains * args.samples}")
    settings = dict(seed=args.seed, chains=args.chains, warmup=args.warmup, samples=args.samples)
    N, D = design()
    print(f"SBC of sl.fit_bayes (NUTS), scalinglaws_jax {sl.__version__}, jax {jax.__version__}, "
          f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"priors: {', '.join(f'{k} ~ {bayes._describe(v)}' for k, v in bayes.default_priors().items())}, "
          f"nu = {bayes.DEFAULT_NU:g} fixed")
    print(f"design: {len(N)} runs, N {N.min():.3g}-{N.max():.3g} parameters, D {D.min():.3g}-{D.max():.3g} "
          f"tokens, C {np.min(6 * N * D):.3g}-{np.max(6 * N * D):.3g} FLOPs; L_ext at N={EXTRAPOLATION[0]:g}, "
          f"D={EXTRAPOLATION[1]:g}")
    print(f"replicates {args.replicates}, seed {args.seed}, {args.chains} chains x ({args.warmup} + {args.samples}), "
          f"L={args.draws}, workers {args.workers}", flush=True)
    start = time.perf_counter()

    def progress(done, record):
        if done % 10 == 0 or done == args.replicates:
            print(f"  {done}/{args.replicates} replicates, {time.perf_counter() - start:.0f} s", file=sys.stderr,
                  flush=True)

    records = run(args.replicates, workers=args.workers, progress=progress, **settings)
    wall = time.perf_counter() - start
    print()
    print(report(records, args.draws, wall, {**settings, "workers": args.workers}))
    print(f"load at end {os.getloadavg()[0]:.2f}")
    if args.save:
        save(args.save, records)
        print(f"records written to {args.save}")


if __name__ == "__main__":
    main()
