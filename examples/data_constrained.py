"""Training with limited unique data (Muennighoff et al. 2023): when does repeating pay?

With only U unique tokens, a budget that calls for more tokens must repeat them, and a
repeated token is worth less than a fresh one. Muennighoff et al.'s law (``sl.MUENNIGHOFF_2023``)
counts D tokens drawn from U as D' = U + U R_D* (1 - exp(-(D/U - 1) / R_D*)) effective
tokens (R_D* = 15.4 epochs), with a similar decay for parameters beyond what the data can
use. ``sl.data_constrained_optimal`` finds the best N and D for a budget under that limit.

For each budget the script prints the best plan with 25e9 and 100e9 unique tokens next to
the unlimited-data plan, and the "effective compute": the share of the budget an
unlimited-data run would need to reach the same loss. Then it shows what a repeated token
is worth epoch by epoch: close to a fresh one for the first ~4 epochs, little after ~16.

Run: python examples/data_constrained.py
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

law = sl.MUENNIGHOFF_2023
unlimited = law.chinchilla  # the same law with unlimited unique data
print(f"check: L(N=6.34e9, D=242e9, unique 25e9) = {float(law.loss(6.34e9, 242e9, 25e9)):.4f} "
      "(Muennighoff et al., DESIGN.md: 2.2256)")

budgets = jnp.array([1e21, 1e22, 1e23, 1e24])
free = sl.compute_optimal(unlimited, budgets)
for unique in (25e9, 100e9):
    plan = sl.data_constrained_optimal(law, budgets, unique_tokens=unique)
    effective = sl.flops_for_loss(unlimited, plan.loss) / budgets
    print(f"\n{unique / 1e9:.0f}e9 unique tokens{'':24}| unlimited data")
    print(f"{'FLOPs':>7} {'N params':>9} {'D tokens':>9} {'epochs':>6} {'loss':>6} | {'N params':>9} "
          f"{'D tokens':>9} {'loss':>6} | effective compute")
    for i in range(len(budgets)):
        print(f"{float(budgets[i]):7.0e} {float(plan.N[i]):9.3g} {float(plan.D[i]):9.3g} "
              f"{float(plan.epochs[i]):6.1f} {float(plan.loss[i]):6.4f} | {float(free.N[i]):9.3g} "
              f"{float(free.D[i]):9.3g} {float(free.loss[i]):6.4f} | {float(effective[i]):6.1%}")

# The value of repetition, straight from the law: in epoch e a token is worth
# exp(-(e - 1) / R_D*) of a fresh one, and e epochs of U tokens count as D' effective tokens.
epochs = jnp.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
unique = 25e9
worth = jnp.exp(-(epochs - 1) / law.R_D)
effective_share = law.effective_tokens(epochs * unique, unique) / (epochs * unique)
print(f"\n{'epochs':>6} {'a token of the last epoch is worth':>35} {'D_effective / D':>16}")
for e, w, s in zip(epochs, worth, effective_share):
    print(f"{float(e):6.0f} {float(w):34.0%}  {float(s):15.0%}")
print("Up to ~4 epochs a repeated token is worth over 80% of a fresh one; by 16 epochs under 40%,\n"
      "and with 25e9 unique tokens the best loss hardly improves beyond 1e23 FLOPs however\n"
      "much compute is added. Effective compute = the FLOPs an unlimited-data run needs for the\n"
      "same loss, over the budget: a small gap in loss is a large gap in compute.")
