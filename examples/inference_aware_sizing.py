"""Inference-aware model sizing (Sardana et al. 2023): smaller models trained for longer.

A model that will serve many tokens should be smaller than the Chinchilla-optimal one
and trained on more tokens: it reaches the same loss with more training compute but
costs less per served token (2 N FLOPs). ``sl.inference_optimal`` finds the plan with the
least lifetime compute, 6 N D + 2 N x (inference tokens), at a target loss. This script
compares it with the compute-optimal plan at the same loss, for lifetime inference volumes
from 0 to 1e14 tokens, and reproduces Sardana et al.'s example (DESIGN.md). It also
writes a figure of both curves against the inference volume.

The law is the one Sardana et al. use: Hoffmann et al.'s approach-3 fit with their
rounding, E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283 (``sl.HOFFMANN_2022`` holds
the unrounded alpha=0.339, beta=0.285, which moves N by about a percent).

Run: python examples/inference_aware_sizing.py [--loss 1.947] [--out FILE.png]
(the figure goes to --out, by default inference_aware_sizing.png in the current directory;
it is drawn with matplotlib's Agg backend, so no display is needed)
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # headless: write a file, open no window
import matplotlib.pyplot as plt  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="inference_aware_sizing.png", help="PNG to write (default: %(default)s)")
parser.add_argument("--loss", type=float, default=1.947, help="target loss, nats/token (default: %(default)s)")
args = parser.parse_args()

law = sl.Chinchilla(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)
target = args.loss


def plans(inference_tokens):
    """The inference-aware plan, the compute-optimal plan and the latter's lifetime FLOPs."""
    aware = sl.inference_optimal(law, target, inference_tokens)
    chinchilla = sl.inference_optimal(law, target)  # no inference: the compute-optimal plan
    return aware, chinchilla, chinchilla.training_flops + sl.inference_flops(chinchilla.N, inference_tokens)


volumes = jnp.array([0.0, 1e10, 1e11, 1e12, 2e12, 1e13, 1e14])
aware, chinchilla, chinchilla_lifetime = plans(volumes)
saving = 1 - aware.lifetime_flops / chinchilla_lifetime
print(f"target loss {target} nats/token; law E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283")
print(f"compute-optimal: N = {float(chinchilla.N):.4g} params, D = {float(chinchilla.D):.4g} tokens "
      f"({float(chinchilla.tokens_per_param):.0f} tokens/param), {float(chinchilla.training_flops):.3g} FLOPs\n")
print(f"{'inference tokens':>16} {'N params':>10} {'D tokens':>10} {'tokens/param':>12} "
      f"{'lifetime FLOPs':>14} {'compute-opt. model':>18} {'saving':>7}")
for i in range(len(volumes)):
    print(f"{float(volumes[i]):16.3g} {float(aware.N[i]):10.4g} {float(aware.D[i]):10.4g} "
          f"{float(aware.tokens_per_param[i]):12.0f} {float(aware.lifetime_flops[i]):14.4g} "
          f"{float(chinchilla_lifetime[i]):18.4g} {float(saving[i]):7.1%}")
print("lifetime FLOPs = 6 N D + 2 N x inference tokens, for each plan; the saving is relative to\n"
      "training and serving the compute-optimal model instead")

# Sardana et al.'s example (DESIGN.md): this law gives L(70e9, 1e12) = 1.94727, which they
# round to 1.947; serving 2e12 tokens, the lifetime-optimal model for 1.947 is N = 2.418e10
# trained on D = 2.657e12 tokens (at 1.94727 exactly, 2.409e10 and 2.650e12).
print()
for loss in (1.947, law.loss(70e9, 1e12)):
    plan = sl.inference_optimal(law, loss, inference_tokens=2e12)
    print(f"Sardana et al., loss {float(loss):.5f} with 2e12 inference tokens: "
          f"N = {float(plan.N):.3e}, D = {float(plan.D):.3e}")
print("published (DESIGN.md): N = 2.418e10, D = 2.657e12 at 1.947; 2.409e10, 2.650e12 at 1.94727")

# The figure: a fine grid of volumes, solved in one batched call.
grid = jnp.geomspace(1e9, 1e15, 200)
aware, chinchilla, chinchilla_lifetime = plans(grid)
saving = 1 - aware.lifetime_flops / chinchilla_lifetime
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.loglog(grid, aware.N, label="inference-optimal N")
left.axhline(float(chinchilla.N), color="gray", ls="--", label="compute-optimal N")
left.set(xlabel="lifetime inference tokens", ylabel="parameters", title=f"model size at loss {target}")
left.legend()
right.semilogx(grid, 100 * saving)
right.set(xlabel="lifetime inference tokens", ylabel="lifetime FLOPs saved (%)",
          title="saving vs the compute-optimal model")
fig.savefig(args.out, dpi=120)
print(f"\nwrote {args.out}")
