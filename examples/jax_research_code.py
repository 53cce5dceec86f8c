"""Scaling laws inside JAX research code: grad, jit, vmap, and uncertainty through a solver.

Laws are pytrees and solvers are pure JAX functions, so they compose with JAX's
transformations:

1. ``jax.grad`` of log N*(C) with respect to the law's exponents alpha and beta, through
   ``sl.compute_optimal`` (closed form without inference; with inference tokens, a Newton
   solve differentiated implicitly at its root), checked against central differences;
2. ``jax.jit`` and ``jax.vmap`` of a solver over budgets;
3. a bootstrap of the Chinchilla runs (``sl.bootstrap``; with ``--bayes`` the NUTS
   posterior of ``sl.fit_bayes`` instead) is a batched law: one leading draw axis on
   every parameter. ``jax.vmap(sl.compute_optimal, (0, None))(draws, flops)`` pushes it
   through the solver, giving an interval on N*;
4. ``sl.sweep`` solves every (budget, inference volume) scenario for every draw and keeps
   quantiles per scenario.

Run: python examples/jax_research_code.py [--quick] [--bayes]
(--quick: 8 starts near typical values instead of Hoffmann et al.'s 4500 and 50
resamples instead of 1000; with --bayes, 2 chains x (500 + 500) instead of 4 x (1000 + 1000))
"""

import argparse
import dataclasses

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--quick", action="store_true", help="small sizes, for a fast check")
parser.add_argument("--bayes", action="store_true", help="NUTS posterior draws instead of the bootstrap")
args = parser.parse_args()

FLOPS = 1e24  # FLOPs
ALPHA, BETA = 0.3478, 0.3658  # sl.EPOCH_2024's exponents


# 1. Gradients of the optimum with respect to the law, checked by central differences.
def log_n_star(alpha, beta, inference_tokens=None):
    law = dataclasses.replace(sl.EPOCH_2024, alpha=alpha, beta=beta)  # laws are frozen dataclasses
    return jnp.log(sl.compute_optimal(law, FLOPS, inference_tokens).N)


print(f"d log N* / d(alpha, beta) at {FLOPS:.0e} FLOPs, sl.EPOCH_2024")
for tokens in (None, 1e13):
    grad = jax.jit(jax.grad(log_n_star, argnums=(0, 1)), static_argnums=2)(ALPHA, BETA, tokens)
    h = 1e-6
    fd = ((log_n_star(ALPHA + h, BETA, tokens) - log_n_star(ALPHA - h, BETA, tokens)) / (2 * h),
          (log_n_star(ALPHA, BETA + h, tokens) - log_n_star(ALPHA, BETA - h, tokens)) / (2 * h))
    label = "no inference (closed form)" if tokens is None else f"{tokens:.0e} inference tokens (implicit)"
    print(f"  {label:<38} grad ({float(grad[0]):8.4f}, {float(grad[1]):8.4f})   "
          f"finite difference ({float(fd[0]):8.4f}, {float(fd[1]):8.4f})")


# 2. jit and vmap over budgets: one compiled program for the whole frontier.
@jax.jit
def frontier(law, budgets):
    return jax.vmap(lambda flops: sl.compute_optimal(law, flops))(budgets)


budgets = jnp.geomspace(1e21, 1e25, 5)
plans = frontier(sl.EPOCH_2024, budgets)
print("\njit(vmap(compute_optimal)) over budgets, sl.EPOCH_2024")
for c, n, d, loss in zip(budgets, plans.N, plans.D, plans.loss):
    print(f"  {float(c):7.0e} FLOPs: N* {float(n):9.3g} params, D* {float(d):9.3g} tokens, loss {float(loss):.4f}")

# 3. A batched law from the data: bootstrap resamples (or posterior draws) of Chinchilla's runs.
runs = sl.datasets.chinchilla(drop_highest=5)  # Besiroglu et al.'s 240 runs
if args.bayes:
    sizes = dict(num_chains=2, num_warmup=500, num_samples=500) if args.quick else {}
    post = sl.fit_bayes(runs, key=jax.random.key(0), **sizes)
    draws, source = post.law, f"{post.num_draws} NUTS posterior draws"
else:
    # --quick: 8 starts (a = log A, b = log B, e = log E, alpha, beta) near typical values.
    # For a real fit keep the default, Hoffmann et al.'s 4500 starts (slower to compile).
    quick_grid = [(a, b, 0.5, x, x) for a in (5.0, 7.0) for b in (6.0, 8.0) for x in (0.3, 0.4)]
    fit = sl.fit_huber(runs, grid=np.array(quick_grid) if args.quick else None)
    # steps=64 refit iterations per resample (default 16): fewer unconverged refits to warn about.
    boot = sl.bootstrap(runs, 50 if args.quick else 1000, key=jax.random.key(0), fit=fit, steps=64)
    draws, source = boot.law, f"{int(boot.used.sum())} converged bootstrap refits"
print(f"\n{source}: alpha has shape {jnp.shape(draws.alpha)}")

n_star = jax.vmap(sl.compute_optimal, (0, None))(draws, FLOPS).N  # one N* per draw
low, median, high = np.nanquantile(np.asarray(n_star), [0.05, 0.5, 0.95])
print(f"N* at {FLOPS:.0e} FLOPs: median {median:.3g} params, 90% interval {low:.3g} .. {high:.3g}")

# 4. Every budget x inference volume x draw, reduced to quantiles per scenario on the device.
result = sl.sweep(sl.compute_optimal, draws, flops=jnp.geomspace(1e22, 1e25, 4),
                  inference_tokens=jnp.array([0.0, 1e12, 1e13, 1e14]), quantiles=(0.05, 0.5, 0.95))
print(f"\nsl.sweep: N* median [5%, 95%] for lifetime budgets x inference tokens; shape {result['N'].shape}")
print(f"{'FLOPs':>7}" + "".join(f"{f'{v:g} inference tokens':>30}" for v in result.axes["inference_tokens"]))
for i, c in enumerate(result.axes["flops"]):
    cells = (f"{q[1]:.3g} [{q[0]:.2g}, {q[2]:.2g}]" for q in result["N"][i])
    print(f"{c:7.0e}" + "".join(f"{cell:>30}" for cell in cells))
print(f"(status 0 everywhere: {bool((result['status'] == 0).all())}; "
      f"{result.info['solves']:,} solves in {result.info['seconds']:.2f} s)")
