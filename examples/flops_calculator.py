"""The 6ND calculator: training FLOPs, PF-days, GPU-hours and dollars of known models.

Training a dense transformer with N parameters on D tokens costs C = 6 N D FLOPs (2 N D
forward, 4 N D backward). This script prices GPT-3, Chinchilla and LLaMA-2 on H100s at a
stated model FLOPs utilisation (MFU) and hourly price, and compares each model's tokens
per parameter with the ~20 that is compute-optimal under Chinchilla's law.

Run: python examples/flops_calculator.py [--mfu 0.4] [--price 2.0]
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--mfu", type=float, default=0.4, help="achieved fraction of the H100's dense bf16 peak")
parser.add_argument("--price", type=float, default=2.0, help="dollars per H100-hour")
args = parser.parse_args()

MODELS = {  # name: (parameters, training tokens)
    "GPT-3 175B": (175e9, 300e9),
    "Chinchilla 70B": (70e9, 1.4e12),
    "LLaMA-2 7B": (7e9, 2e12),
    "LLaMA-2 70B": (70e9, 2e12),
}
N = jnp.array([n for n, _ in MODELS.values()])
D = jnp.array([d for _, d in MODELS.values()])

flops = sl.training_flops(N, D)  # 6 N D, elementwise
pf_days = sl.flops_to_pf_days(flops)  # 1 PF-day = 8.64e19 FLOPs
hours = sl.flops_to_gpu_hours(flops, sl.H100, args.mfu)
dollars = sl.flops_to_dollars(flops, sl.H100, args.mfu, args.price)

print(f"H100 at {sl.H100.peak_flops_per_s / 1e12:.0f} TFLOP/s dense bf16 peak, {args.mfu:.0%} MFU, "
      f"${args.price:.2f} per GPU-hour\n")
print(f"{'model':<15} {'params':>8} {'tokens':>8} {'FLOPs':>9} {'PF-days':>8} {'H100-hours':>11} "
      f"{'cost':>8} {'tokens/param (vs 20)':>21}")
for i, name in enumerate(MODELS):
    tpp = float(D[i] / N[i])
    print(f"{name:<15} {float(N[i]):8.3g} {float(D[i]):8.3g} {float(flops[i]):9.3g} {float(pf_days[i]):8,.0f} "
          f"{float(hours[i]):11,.0f} ${float(dollars[i]) / 1e6:6.2f}M {tpp:13.1f} ({tpp / 20:4.1f}x)")

# Published checks (DESIGN.md): GPT-3 3.15e23 FLOPs (Brown et al. report 3.14e23, 3640
# PF-days) and Chinchilla 5.88e23 FLOPs.
assert abs(float(flops[0]) / 3.15e23 - 1) < 1e-3 and abs(float(flops[1]) / 5.88e23 - 1) < 1e-3
print(f"\ncheck: GPT-3 {float(flops[0]):.3g} FLOPs (DESIGN.md 3.15e23), "
      f"Chinchilla {float(flops[1]):.3g} FLOPs (DESIGN.md 5.88e23)")

# The other way round: Touvron et al. 2023 report 184,320 and 1,720,320 A100-hours for
# LLaMA-2 7B and 70B. The FLOPs those hours give at 100% MFU say what MFU they reached.
reported = jnp.array([184_320.0, 1_720_320.0])
mfu = flops[2:] / sl.gpu_hours_to_flops(reported, sl.A100, 1.0)
print(f"LLaMA-2's reported A100-hours imply an MFU of {float(mfu[0]):.0%} (7B) and {float(mfu[1]):.0%} (70B)")
