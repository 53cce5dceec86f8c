"""From a dollar budget to a compute-optimal training plan.

Dollars buy GPU-hours, GPU-hours at a model FLOPs utilisation (MFU) buy FLOPs, and a law
turns FLOPs into the compute-optimal model size N*, token count D* and predicted loss
(Besiroglu et al.'s refit of Chinchilla, ``sl.EPOCH_2024``). Perplexity is exp(loss) with
the loss in nats per token; like the loss it refers to the data and tokenizer the law was
fitted on (MassiveText), so compare it between budgets, not with other models' numbers.

Run: python examples/dollars_to_plan.py [--mfu 0.4] [--price 2.0]
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

dollars = jnp.array([1e4, 1e5, 1e6, 1e7])
flops = sl.dollars_to_flops(dollars, sl.H100, mfu=args.mfu, price_per_hour=args.price)
hours = sl.flops_to_gpu_hours(flops, sl.H100, args.mfu)
plan = sl.compute_optimal(sl.EPOCH_2024, flops)  # batched over the budgets

print(f"H100s at {args.mfu:.0%} MFU and ${args.price:.2f}/GPU-hour; law sl.EPOCH_2024 (Besiroglu et al. 2024)\n")
print(f"{'budget':>11} {'FLOPs':>9} {'H100-hours':>11} {'N* params':>10} {'D* tokens':>10} "
      f"{'tokens/param':>12} {'loss':>7} {'perplexity':>10}")
for i in range(len(dollars)):
    budget = f"${float(dollars[i]):,.0f}"
    print(f"{budget:>11} {float(flops[i]):9.3g} {float(hours[i]):11,.0f} {float(plan.N[i]):10.3g} "
          f"{float(plan.D[i]):10.3g} {float(plan.tokens_per_param[i]):12.1f} {float(plan.loss[i]):7.4f} "
          f"{float(jnp.exp(plan.loss[i])):10.3f}")
print("\nloss in nats per token; perplexity = exp(loss)")
