"""Fit a scaling law to your own runs from a CSV file, with bootstrap intervals.

The script writes a small CSV of runs (losses generated from a known law, ``sl.EPOCH_2024``,
with 0.5% noise, so you can see whether the fit recovers it) into a temporary directory,
reads it back with ``sl.Runs.from_csv`` mapping its headers to the library's names, fits
L(N, D) = E + A / N^alpha + B / D^beta by Huber regression (``sl.fit_huber``), and
bootstraps the runs (``sl.bootstrap``) for 95% intervals on the law and on the
compute-optimal N* at a budget. For your own file, change PATH and COLUMNS.

The same from the command line:

    scalinglaws fit runs.csv --columns N=params,D=tokens,loss=final_loss --bootstrap 1000 --flops 1e23

Run: python examples/fit_your_csv.py [--quick]
(--quick: 50 resamples instead of 1000, and 8 starts near typical values instead of
Hoffmann et al.'s grid of 4500: a fast check, not for your real fit. Either way the CSV
lives in a temporary directory that is removed at the end.)
"""

import argparse
import csv
import pathlib
import tempfile

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--quick", action="store_true", help="a small starting grid and 50 resamples")
args = parser.parse_args()

TRUE = sl.EPOCH_2024  # the law behind the made-up runs
BUDGET = 1e23  # FLOPs at which to report N*
COLUMNS = {"N": "params", "D": "tokens", "loss": "final_loss"}  # library name -> CSV header

# Made-up runs: 8 sizes x 6 token counts (5 to 160 tokens per parameter), loss with 0.5% noise.
rng = np.random.default_rng(0)
N, tokens_per_param = np.meshgrid(np.geomspace(5e7, 3e9, 8), [5.0, 10.0, 20.0, 40.0, 80.0, 160.0])
N, D = N.ravel(), (N * tokens_per_param).ravel()
loss = np.asarray(TRUE.loss(N, D)) * np.exp(0.005 * rng.standard_normal(N.size))

with tempfile.TemporaryDirectory() as tmp:
    PATH = pathlib.Path(tmp) / "runs.csv"
    with open(PATH, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "params", "tokens", "final_loss"])
        for i in range(len(N)):
            writer.writerow([f"run-{i}", f"{N[i]:.6g}", f"{D[i]:.6g}", f"{loss[i]:.6f}"])
    runs = sl.Runs.from_csv(PATH, columns=COLUMNS)  # unmapped columns ("run") are ignored
print(runs)

# --quick: 8 starts (a = log A, b = log B, e = log E, alpha, beta) near typical values.
# For a real fit keep the default, Hoffmann et al.'s 4500 starts (slower to compile).
quick_grid = [(a, b, 0.5, x, x) for a in (5.0, 7.0) for b in (6.0, 8.0) for x in (0.3, 0.4)]
fit = sl.fit_huber(runs, grid=np.array(quick_grid) if args.quick else None)
# steps=64 refit iterations per resample: the default 16 leaves a fraction of the refits of a
# data set this small unconverged (bootstrap warns when more than 1% are).
boot = sl.bootstrap(runs, 50 if args.quick else 1000, key=jax.random.key(0), fit=fit, flops=[BUDGET], steps=64)

print(f"\nfit: Huber objective {fit.objective:.4g}, {fit.n_at_best} of {len(fit.starts)} starts at the best")
print(f"{'':6} {'fit':>9} {'95% bootstrap interval':>24} {'true':>9}")
for name in ("E", "A", "B", "alpha", "beta"):
    low, high = boot.intervals[name]
    print(f"{name:6} {float(getattr(fit.law, name)):9.4g} {low:11.4g} .. {high:<10.4g} {getattr(TRUE, name):9.4g}")

plan = sl.compute_optimal(fit.law, BUDGET)
low, high = boot.intervals["N*"]
true_N = float(sl.compute_optimal(TRUE, BUDGET).N)
print(f"\nN* at {BUDGET:.0e} FLOPs: {float(plan.N):.3g} parameters, 95% interval {low[0]:.3g} .. {high[0]:.3g} "
      f"(true {true_N:.3g}); D* = {float(plan.D):.3g} tokens")
print(f"({len(boot.converged)} resamples, {int(boot.converged.sum())} converged)")
