"""Held-out extrapolation on real data: the NUTS posterior predictive against the bootstrap.

The question a user asks of an interval: does the loss of a bigger run land inside it as
often as the interval says? The problem (issue 4): on the Chinchilla runs with the 5
highest-loss rows dropped (``sl.datasets.chinchilla(drop_highest=5)``, 240 runs; Hoffmann
et al. 2022, digitised by Besiroglu et al. 2024), fit on the runs with C <= 1e21 FLOPs and
predict the losses of the rest (the 23 runs above the cut). For each method: the fraction of
held-out losses inside the central (equal-tailed) 50% and 90% predictive intervals, the
median width of the 90% interval relative to the observed loss, and the relative error
(predicted median / observed - 1) of the predictive median: median and mean of its absolute
value, and its mean (bias; > 0 predicts too high a loss).

Methods, all fitted on the same runs below the cut:

1. NUTS posterior predictive: ``sl.fit_bayes(train, key=jax.random.key(0))`` (4 chains x
   1000 warm-up + 1000 draws, the defaults), then ``post.predict(N, D, key=...)``: each
   draw's law plus its own Student-t observation noise (sigma, nu = 4) on log loss.
2. NUTS, law only: the posterior of the law's loss, ``vmap(law.loss)(post.law)``, without
   the noise: how much of the coverage the parameter uncertainty alone buys.
3. Bootstrap, law only: ``sl.bootstrap(train, --bootstrap, key=jax.random.key(0),
   fit=...)`` refits the Huber law on resamples of the runs; the predictive distribution is
   each converged refit's law's loss at (N, D). This is what users get from the bootstrap
   intervals of Besiroglu et al. 2024: parameter uncertainty only.
4. Bootstrap + residuals: a bootstrap prediction interval (Davison & Hinkley 1997,
   "Bootstrap Methods and their Application", sec. 6.3.3): each refit's prediction times
   exp(r), r drawn with replacement from the log-loss residuals (observed - predicted) of
   the Huber fit on the training runs, one independent draw per refit and held-out run.
   Without it, the bootstrap's interval is for the law's mean, not for a new run's loss,
   and the comparison with a posterior predictive would be unfair; both are shown.
5. Point Huber fit: ``sl.extrapolation_error(runs, max_flops=1e21)`` (its fit is the one
   the bootstrap starts from); no interval.

Fixed seeds throughout. With 23 held-out runs a coverage has a binomial standard error of
about 0.10 (50%) and 0.06 (90%) even for independent runs, and these runs are not
independent (a few model sizes per budget; any misfit of the law is shared), so read the
coverages as coarse. The process asks XLA for 4 CPU devices (as ``scalinglaws fit --bayes``
does) so the 4 chains run in parallel; the draws depend on that layout.

Run:  python benchmarks/heldout.py                        # ~1 min
      python benchmarks/heldout.py --bootstrap 1000 --per-run
Options: --bootstrap (resamples, default 4000), --seed (default 0), --max-flops (default
1e21), --per-run (print each held-out run's observed loss and the intervals).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402


def interval(draws, level):
    return sl.Posterior.interval(draws, level)


def rank_correlation(x, y) -> float:
    """Spearman's rank correlation (no ties expected)."""
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def scores(draws, observed) -> dict:
    """Coverage, interval width and errors of predictive draws (draws, runs) against the observed losses."""
    row = {}
    for level in (0.5, 0.9):
        low, high = interval(draws, level)
        row[f"cover{int(level * 100)}"] = float(np.mean((low <= observed) & (observed <= high)))
    low, high = interval(draws, 0.9)
    row["width90"] = float(np.median((high - low) / observed))
    error = np.median(draws, axis=0) / observed - 1.0
    row.update(median_abs=float(np.median(np.abs(error))), mean_abs=float(np.mean(np.abs(error))),
               bias=float(np.mean(error)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples (default: 4000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every PRNG key (default: 0)")
    parser.add_argument("--max-flops", type=float, default=1e21, help="fit on runs at or below (default: 1e21)")
    parser.add_argument("--per-run", action="store_true", help="also print each held-out run")
    args = parser.parse_args()
    keys = jax.random.split(jax.random.key(args.seed), 4)
    print(f"held-out extrapolation: nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, "
          f"{jax.local_device_count()} CPU devices, jax {jax.__version__}")

    runs = sl.datasets.chinchilla(drop_highest=5)
    start = time.perf_counter()
    check = sl.extrapolation_error(runs, max_flops=args.max_flops)
    huber_seconds = time.perf_counter() - start
    train, held = check.train, check.held_out
    observed = held.loss
    print(f"data: chinchilla, {len(runs)} runs (5 highest-loss dropped); fit on {len(train)} runs with "
          f"C <= {args.max_flops:.3g} FLOPs, predict {len(held)} runs with C in "
          f"[{held.flops.min():.3g}, {held.flops.max():.3g}], N in [{held.N.min():.3g}, {held.N.max():.3g}]")

    # 1, 2: NUTS
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = sl.fit_bayes(train, key=keys[0])
    nuts_seconds = time.perf_counter() - start
    for item in caught:
        print(f"warning: {' '.join(str(item.message).split())}")
    table = post.summary()
    print(f"NUTS: {post!r}, {post.info['chain_method']}, {nuts_seconds:.1f} s; max R-hat "
          f"{max(table[name]['r_hat'] for name in post.free):.4f}, min bulk ESS "
          f"{min(table[name]['ess_bulk'] for name in post.free):.0f}; medians "
          + ", ".join(f"{name} {table[name]['median']:.4g}" for name in post.free))
    predictive = post.predict(held.N, held.D, key=keys[1])
    law_only = np.asarray(jax.vmap(lambda law: law.loss(jnp.asarray(held.N), jnp.asarray(held.D)))(post.law))

    # 3, 4: bootstrap of the Huber fit
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boot = sl.bootstrap(train, args.bootstrap, key=keys[2], fit=check.fit)
    boot_seconds = time.perf_counter() - start
    for item in caught:
        print(f"warning: {' '.join(str(item.message).split())}")
    laws = boot.law  # the refits that converged to a valid law (boot.used)
    boot_law = np.asarray(jax.vmap(lambda law: law.loss(jnp.asarray(held.N), jnp.asarray(held.D)))(laws))
    residuals = np.log(train.loss) - np.log(np.asarray(check.fit.law.loss(train.N, train.D)))
    picks = jax.random.randint(keys[3], boot_law.shape, 0, len(residuals))
    boot_noise = boot_law * np.exp(residuals[np.asarray(picks)])
    print(f"bootstrap: {args.bootstrap} resamples, {int(boot.converged.sum())} converged, {boot_seconds:.1f} s; "
          f"Huber fit {huber_seconds:.1f} s: " + ", ".join(f"{name} {float(getattr(check.fit.law, name)):.4g}"
                                                          for name in ("E", "A", "B", "alpha", "beta"))
          + f"; training residuals: sd {residuals.std(ddof=1):.2e}, median |r| {np.median(np.abs(residuals)):.2e}")

    rows = [
        ("NUTS predictive", scores(predictive, observed)),
        ("NUTS law only", scores(law_only, observed)),
        ("bootstrap + residuals", scores(boot_noise, observed)),
        ("bootstrap law only", scores(boot_law, observed)),
    ]
    point = {"cover50": None, "cover90": None, "width90": None, "median_abs": check.median_abs_error,
             "mean_abs": check.mean_abs_error, "bias": check.bias}
    rows.append(("Huber point fit", point))

    def cell(value, pattern):
        return "-" if value is None else format(value, pattern)

    print()
    header = f"{'method':<22} {'in 50%':>7} {'in 90%':>7} {'90% width':>10} {'median |err|':>13} " \
             f"{'mean |err|':>11} {'bias':>8}"
    print(header)
    for name, row in rows:
        print(f"{name:<22} {cell(row['cover50'], '.2f'):>7} {cell(row['cover90'], '.2f'):>7} "
              f"{cell(row['width90'], '.2%'):>10} {cell(row['median_abs'], '.3%'):>13} "
              f"{cell(row['mean_abs'], '.3%'):>11} {cell(row['bias'], '+.3%'):>8}")
    print(f"({len(held)} held-out runs; coverage = fraction of observed losses inside the central interval; "
          "width and errors relative to the observed loss; bias > 0: predicts too high)")

    # where the errors are: along the IsoFLOP profiles (tokens per parameter)
    ratio, error = held.D / held.N, check.relative_error
    groups = []
    for low, high, name in ((0, 10, "D/N < 10"), (10, 30, "10-30"), (30, np.inf, ">= 30")):
        mask = (ratio >= low) & (ratio < high)
        if mask.any():
            groups.append(f"{name}: {error[mask].mean():+.2%} ({int(mask.sum())} runs)")
    print(f"Huber point fit's mean error by tokens/param: {', '.join(groups)}; Spearman rank correlation of "
          f"log(D/N) and error {rank_correlation(np.log(ratio), error):.2f}")

    if args.per_run:
        print()
        print(f"{'C':>9} {'N':>9} {'D':>9} {'loss':>7}  {'NUTS 90%':>17}  {'boot+res 90%':>17}  {'boot 90%':>17}  "
              f"{'Huber':>7}")
        intervals = [interval(draws, 0.9) for draws in (predictive, boot_noise, boot_law)]
        for i in np.argsort(held.flops):
            cells = "  ".join(f"[{low[i]:.4f}, {high[i]:.4f}]" for low, high in intervals)
            print(f"{held.flops[i]:9.3g} {held.N[i]:9.3g} {held.D[i]:9.3g} {observed[i]:7.4f}  {cells}  "
                  f"{check.predicted[i]:7.4f}")


if __name__ == "__main__":
    main()
