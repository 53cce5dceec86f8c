"""Fit L(C) = E + (C0 / C)^alpha to the compute-optimal frontier of real training runs.

Which runs: L(C) is the loss of the *best* model a budget C can train, so it is fitted to
the frontier, not to every run. Most of Hoffmann et al.'s runs are deliberately too big or
too small for their budget (IsoFLOP profiles); they sit above the frontier, and a fit to
all of them describes an average run and flattens alpha. The frontier used here is the
lower envelope of loss against FLOPs: the runs whose loss is below that of every cheaper
run (Approach 1's envelope, ``sl.fit_envelope``).

Then: how much more compute halves the reducible loss L - E at a budget C? From
L - E = (C0 / C)^alpha, asking (C0 / C')^alpha = (C0 / C)^alpha / 2 gives
(C / C')^alpha = 1/2, so C' = C * 2^(1 / alpha), whatever the budget.

Run: python examples/fit_compute_law.py [--data chinchilla|sardana]
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import scalinglaws_jax as sl  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", choices=("chinchilla", "sardana"), default="chinchilla",
                    help="Hoffmann et al.'s 245 runs or Sardana et al.'s 47 (default: chinchilla)")
args = parser.parse_args()

runs = sl.datasets.chinchilla() if args.data == "chinchilla" else sl.datasets.sardana()
envelope = sl.fit_envelope(runs, n_bins=None)  # n_bins=None: every Pareto-optimal run
frontier = sl.Runs(N=envelope.N, D=envelope.D, loss=envelope.loss)
print(f"{args.data}: {len(runs)} runs, {len(frontier)} on the loss-FLOPs frontier "
      f"({frontier.flops.min():.2g} to {frontier.flops.max():.2g} FLOPs)")

fit = sl.fit_huber(frontier, sl.ComputeLaw)  # Huber on log loss, a grid of starts
law = fit.law
E, C0, alpha = float(law.E), float(law.C0), float(law.alpha)
print(f"L(C) = {E:.4f} + ({C0:.3g} FLOPs / C)^{alpha:.4f}   "
      f"(Huber objective {fit.objective:.3g}, {fit.n_at_best} starts at the best)")

budget = 5.88e23  # Chinchilla's training compute, 6 x 70e9 x 1.4e12
loss = float(law.loss(budget))
half = budget * 2 ** (1 / alpha)
check = float(law.flops_for_loss(E + (loss - E) / 2))  # the law's own inverse
print(f"\nat C = {budget:.3g} FLOPs: loss {loss:.4f} nats/token, reducible part {loss - E:.4f}")
print(f"halving the reducible loss (to {E + (loss - E) / 2:.4f}) needs C * 2^(1/alpha) = {half:.3g} FLOPs, "
      f"{2 ** (1 / alpha):.0f}x more")
print(f"law.flops_for_loss agrees: {check:.3g} FLOPs (relative difference {abs(check / half - 1):.1e})")
print(f"(an extrapolation: the frontier runs end at {frontier.flops.max():.2g} FLOPs)")
