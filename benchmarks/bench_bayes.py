"""Benchmark: ``sl.fit_bayes`` (NUTS, SVI, Laplace) against a plain NumPyro fit of the same model.

The problem (issue 4): the posterior of the Chinchilla law L = E + A / N^alpha + B / D^beta
on the 240 Chinchilla runs (``sl.datasets.chinchilla(drop_highest=5)``; Hoffmann et al.
2022 as digitised by Besiroglu et al. 2024), 4 chains x (1000 warm-up + 1000 draws).
Targets: NUTS in <= 60 s including compilation with R-hat <= 1.01, bulk ESS >= 400 and no
divergences; SVI in <= 5 s.

Side by side, in one process, each in its first call (compilation included, which is
what a user waits for) and, for NUTS, a second call with another key:

1. ``sl.fit_bayes(runs, key=...)``: the library's defaults (dense mass matrix, the scales
   sampled at a reference size, a jitted potential and start).
2. The way users write it today: the same priors and Student-t(4) likelihood as a NumPyro
   model in (E, A, B, alpha, beta), ``MCMC(NUTS(model))`` with NumPyro's defaults
   (diagonal mass matrix), the same chains and draws, ``chain_method`` as the library
   chose. R-hat and ESS of both from ``numpyro.diagnostics`` (split R-hat, ESS), so the
   two are measured alike.
3. ``sl.fit_bayes(..., method="svi")`` and ``method="laplace"``: wall time, and each
   parameter's 95% interval width as a fraction of NUTS's (approximations: they are not
   calibrated, and this shows by how much).

Chains run in parallel when the process has a CPU device per chain: the benchmark asks
XLA for 4 (as ``scalinglaws fit --bayes`` does); ``--one-device`` keeps one, where chains
run one after another. Machines are shared and noisy: the time of one fit is one sample; quote
ratios. Fixed seeds.

Run:  python benchmarks/bench_bayes.py              # about 2-3 minutes
      python benchmarks/bench_bayes.py --quick      # tiny settings, for the tests
Options: --chains (4), --warmup (1000), --samples (1000), --seed (0), --one-device.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "--one-device" not in sys.argv and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

import warnings  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

PARAMS = ("E", "A", "B", "alpha", "beta")


def plain_model(log_N, log_D, log_loss):
    """The library's model written directly in (E, A, B, alpha, beta)."""
    E = numpyro.sample("E", dist.Uniform(0.5, 3.0))
    alpha = numpyro.sample("alpha", dist.LogNormal(-1.2, 0.6))
    beta = numpyro.sample("beta", dist.LogNormal(-1.2, 0.6))
    # the default priors state each term at a fixed size: log(A / 1e9^alpha), log(B / 2e10^beta) ~ Normal(-1, 1.5)
    A = numpyro.deterministic("A", jnp.exp(numpyro.sample("log_A_term", dist.Normal(-1.0, 1.5)) + alpha * jnp.log(1e9)))
    B = numpyro.deterministic("B", jnp.exp(numpyro.sample("log_B_term", dist.Normal(-1.0, 1.5)) + beta * jnp.log(2e10)))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.05))
    mu = jnp.logaddexp(jnp.logaddexp(jnp.log(A) - alpha * log_N, jnp.log(B) - beta * log_D), jnp.log(E))
    with numpyro.plate("runs", log_N.shape[0]):
        numpyro.sample("log_loss", dist.StudentT(4.0, mu, sigma), obs=log_loss)


def diagnostics(samples: dict) -> tuple[float, float]:
    """(max split R-hat, min ESS) over E, A, B, alpha, beta; arrays of shape (chains, draws)."""
    r_hat = max(float(split_gelman_rubin(np.asarray(samples[name]))) for name in PARAMS)
    ess = min(float(effective_sample_size(np.asarray(samples[name]))) for name in PARAMS)
    return r_hat, ess


def widths(samples: dict) -> dict:
    return {name: float(np.subtract(*np.quantile(np.ravel(samples[name]), [0.975, 0.025]))) for name in PARAMS}


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 chains x (100 + 100), for the tests")
    parser.add_argument("--one-device", action="store_true", help="no forced host devices (chains one after another)")
    args = parser.parse_args()
    if args.quick:
        args.chains, args.warmup, args.samples = 2, 100, 100
    settings = dict(num_chains=args.chains, num_warmup=args.warmup, num_samples=args.samples)
    runs = sl.datasets.chinchilla(drop_highest=5)
    key = jax.random.key(args.seed)
    print(f"fit_bayes benchmark: {len(runs)} Chinchilla runs, {args.chains} chains x ({args.warmup} + {args.samples}), "
          f"{jax.local_device_count()} CPU devices, jax {jax.__version__}, numpyro {numpyro.__version__}, "
          f"load {os.getloadavg()[0]:.2f}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # diagnostics are printed below
        post, first = timed(lambda: sl.fit_bayes(runs, key=key, **settings))
        _, second = timed(lambda: sl.fit_bayes(runs, key=jax.random.fold_in(key, 1), **settings))
    ours = {name: post.samples[name] for name in PARAMS}
    r_hat, ess = diagnostics(ours)
    steps = float(np.mean(post.num_steps[:, :]))
    print(f"\nsl.fit_bayes (NUTS, dense mass, {post.info.get('chain_method')} chains):")
    print(f"  first call {first:.1f} s (compilation included; of which learning the form error "
          f"{post.info['form_error_seconds']:.1f} s: {post.form_error!r}), second call {second:.1f} s")
    print(f"  max R-hat {r_hat:.4f}, min ESS {ess:.0f}, divergences {post.divergences}, "
          f"{steps:.1f} leapfrog steps per draw")

    chain_method = post.info["chain_method"]
    with jax.enable_x64(True):
        data = (jnp.log(runs.N), jnp.log(runs.D), jnp.log(runs.loss))
        mcmc = MCMC(NUTS(plain_model), num_warmup=args.warmup, num_samples=args.samples, num_chains=args.chains,
                    chain_method=chain_method, progress_bar=False)
        _, plain_seconds = timed(lambda: mcmc.run(jax.random.fold_in(key, 2), *data,
                                                  extra_fields=("diverging", "num_steps")))
        plain = {name: np.asarray(value) for name, value in mcmc.get_samples(group_by_chain=True).items()}
        extra = mcmc.get_extra_fields(group_by_chain=True)
    plain_r_hat, plain_ess = diagnostics(plain)
    print(f"\nplain NumPyro MCMC(NUTS(model)) in (E, A, B, alpha, beta), diagonal mass, {chain_method} chains:")
    print(f"  one call {plain_seconds:.1f} s (compilation included)")
    print(f"  max R-hat {plain_r_hat:.4f}, min ESS {plain_ess:.0f}, divergences {int(np.sum(extra['diverging']))}, "
          f"{float(np.mean(extra['num_steps'])):.1f} leapfrog steps per draw")
    print(f"\nratio: plain NumPyro / sl.fit_bayes, wall time of the first call {plain_seconds / first:.1f}x; "
          f"min ESS per second {(ess / first) / max(plain_ess / plain_seconds, 1e-12):.1f}x")

    reference = widths(ours)
    for method in ("svi", "laplace"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            approx, seconds = timed(lambda: sl.fit_bayes(runs, key=key, method=method, **settings))
        ratio = widths({name: approx.samples[name] for name in PARAMS})
        print(f"\nsl.fit_bayes(method={method!r}): {seconds:.1f} s (first call, compilation included); "
              "95% interval width / NUTS's: "
              + ", ".join(f"{name} {ratio[name] / reference[name]:.2f}" for name in PARAMS))


if __name__ == "__main__":
    main()
