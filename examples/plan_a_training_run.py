"""Plan a training run: compute-optimal size, the effect of inference, and the cost.

Run: python examples/plan_a_training_run.py
"""

import jax

jax.config.update("jax_enable_x64", True)

import scalinglaws_jax as sl  # noqa: E402

law = sl.EPOCH_2024
budget = sl.dollars_to_flops(1e6, sl.H100, mfu=0.4, price_per_hour=2.0)
print(f"$1M on H100s at 40% MFU and $2/GPU-hour buys {float(budget):.3g} FLOPs")

plan = sl.compute_optimal(law, budget)
print(f"compute-optimal: N = {float(plan.N):.3g} parameters, D = {float(plan.D):.3g} tokens, "
      f"{float(plan.tokens_per_param):.1f} tokens/param, loss {float(plan.loss):.4f}")

# Serving 1e13 tokens over the model's life: the least lifetime compute for the same loss.
served = sl.inference_optimal(law, plan.loss, inference_tokens=1e13)
saved = 1 - float(served.lifetime_flops) / (float(plan.training_flops) + float(sl.inference_flops(plan.N, 1e13)))
print(f"inference-aware: N = {float(served.N):.3g}, D = {float(served.D):.3g} "
      f"({float(served.tokens_per_param):.0f} tokens/param), lifetime FLOPs {saved:.1%} lower")

# How sensitive is N* to the exponents? Implicit gradients through the solver.
dlogN = jax.grad(lambda law: jax.numpy.log(sl.compute_optimal(law, budget).N))(law)
print(f"d log N* / d alpha = {float(dlogN.alpha):.2f}, d log N* / d beta = {float(dlogN.beta):.2f}")
