"""Kaplan vs Chinchilla: two compute-optimal model sizes, and the embeddings between them.

Kaplan et al. 2020 told us to grow models fast (N_opt ~ C^0.73), Hoffmann et al. 2022
(Chinchilla) to grow N and D about equally (N_opt ~ C^0.5). This script

1. prints the compute-optimal N* at 1e19 ... 1e25 FLOPs under Kaplan's joint law
   (``sl.KAPLAN_2020``; its N counts non-embedding parameters), Hoffmann et al.'s law and
   Besiroglu et al.'s refit, with each law's exponent d log N* / d log C (by ``jax.grad``).
   Kaplan's joint law under C = 6 N D gives 0.575, not the 0.73 they reported, which came
   from a different procedure (fixed training steps at the critical batch size);
2. counts parameters with and without embeddings for a few model shapes
   (``sl.transformer_params``): embeddings are a third of a 124M model, nothing of a 175B one;
3. reproduces the core of Pearce & Song 2024: take Chinchilla's law, which counts all
   parameters, and measure its optimal models the way Kaplan did, without embeddings. At
   small budgets, where Kaplan's runs were, the non-embedding count grows much faster than
   C^0.46, because the embedding share shrinks as models grow: that tilts a fitted
   exponent towards Kaplan's.

Run: python examples/kaplan_vs_chinchilla.py
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

LAWS = {"Kaplan 2020 (non-emb.)": sl.KAPLAN_2020, "Hoffmann 2022": sl.HOFFMANN_2022, "Epoch 2024": sl.EPOCH_2024}
budgets = jnp.geomspace(1e19, 1e25, 7)


@jax.jit
def exponent(law, flops):
    """a = d log N* / d log C at a budget (FLOPs), by automatic differentiation."""
    return jax.grad(lambda log_c: jnp.log(sl.compute_optimal(law, jnp.exp(log_c)).N))(jnp.log(flops))


# 1. N* per budget and each law's exponent a in N* ~ C^a.
print(f"{'compute-optimal N*':<22}" + "".join(f"{float(c):>9.0e}" for c in budgets) + "   exponent a")
for name, law in LAWS.items():
    plan = sl.compute_optimal(law, budgets)
    print(f"{name:<22}" + "".join(f"{float(n):9.2g}" for n in plan.N) + f"   {float(exponent(law, 1e22)):.3f}")
print("(Kaplan et al. reported N_opt ~ C^0.73 from their own procedure; their joint law under 6ND gives 0.575)")

# 2. Embedding share of a few shapes (vocabulary 50257, learned positions, tied output layer).
SHAPES = {  # name: (layers, d_model, context)
    "GPT-2 124M": (12, 768, 1024),
    "GPT-2 355M": (24, 1024, 1024),
    "GPT-2 1.5B": (48, 1600, 1024),
    "GPT-3 13B": (40, 5140, 2048),
    "GPT-3 175B": (96, 12288, 2048),
}
layers, widths, contexts = (jnp.array(column) for column in zip(*SHAPES.values()))
total = sl.transformer_params(layers, widths, 50257, contexts)  # elementwise over the shapes
core = sl.transformer_params(layers, widths, 50257, contexts, embeddings=False)
print(f"\n{'shape':<12} {'layers':>6} {'d_model':>7} {'total':>9} {'non-emb.':>9} {'embeddings':>10}")
for i, name in enumerate(SHAPES):
    print(f"{name:<12} {int(layers[i]):6d} {int(widths[i]):7d} {float(total[i]):9.3g} {float(core[i]):9.3g} "
          f"{float(1 - core[i] / total[i]):10.1%}")

# 3. Pearce & Song: Chinchilla-optimal models (total N*), counted without embeddings. Each
# N* becomes a shape with d_model = 64 x layers (GPT-2 small's aspect ratio) by inverting
# the parameter count on a grid of widths.
VOCAB, CONTEXT, ASPECT = 50257, 1024, 64
grid = jnp.geomspace(16.0, 1e5, 4000)  # d_model
totals = sl.transformer_params(grid / ASPECT, grid, VOCAB, CONTEXT)


def log_core(log_c):
    """log non-embedding parameters of the Chinchilla-optimal model at log budget."""
    n_star = sl.compute_optimal(sl.HOFFMANN_2022, jnp.exp(log_c)).N
    width = jnp.exp(jnp.interp(jnp.log(n_star), jnp.log(totals), jnp.log(grid)))
    return jnp.log(sl.transformer_params(width / ASPECT, width, VOCAB, CONTEXT, embeddings=False))


small = jnp.geomspace(1e16, 1e25, 10)
n_star = sl.compute_optimal(sl.HOFFMANN_2022, small).N
# log of the non-embedding count and its local exponent, one compiled program for all budgets
log_counts, slope = jax.jit(jax.vmap(jax.value_and_grad(log_core)))(jnp.log(small))
core = jnp.exp(log_counts)
print(f"\nHoffmann 2022's optimal models counted Kaplan's way (d_model = {ASPECT} x layers, vocabulary {VOCAB})")
print(f"{'FLOPs':>7} {'N* total':>9} {'non-emb.':>9} {'embeddings':>10} {'local exponent, non-emb.':>25}")
for c, n, k, s in zip(small, n_star, core, slope):
    print(f"{float(c):7.0e} {float(n):9.3g} {float(k):9.3g} {float(1 - k / n):10.1%} {float(s):25.2f}")
fitted = jnp.polyfit(jnp.log(small[:4]), log_counts[:4], 1)[0]  # a power law through 1e16 ... 1e19
print(f"The total count grows as C^{float(exponent(sl.HOFFMANN_2022, 1e22)):.3f} everywhere; the non-embedding\n"
      "count grows faster where embeddings are a large share. A power law fitted to it over\n"
      f"1e16 ... 1e19 FLOPs, small budgets like Kaplan et al.'s, has exponent {float(fitted):.2f}, close to their\n"
      "0.73 (the number moves with the range and the aspect ratio; Pearce & Song 2024 simulate\n"
      "Kaplan's study in full).")
