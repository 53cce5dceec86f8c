"""A real scaling ladder: byte-level transformers on the Python standard library's source.

``sl.ladder`` trains a ladder of model sizes, fits L(N, D) = E + A / N^alpha + B / D^beta
after each size (a rung) and forecasts the next rung's losses, with intervals, before
training it. Here the family is a small decoder-only transformer in plain JAX and optax,
trained byte by byte (a 256-symbol vocabulary) on the ``.py`` files of this Python's
standard library (the same text on every machine with this Python version; the test
suite is left out, as some distributions do not ship it). Every 20th file is held out,
and every loss is the mean next-byte loss on a fixed set of held-out windows, in nats
per byte. Each size is trained at several token budgets (IsoFLOP-style: D = r N for a
few ratios r), and each run has its own warm-up and cosine schedule planned for its
budget, so every (N, D) point is the end of a schedule, never a checkpoint from the
middle of one.

At the end the script prints the forecast of the largest rung made before it was
trained, next to its measured losses, and the law fitted with both parameter counts:
with the embeddings (all parameters) and without (the transformer blocks only; Kaplan
et al.'s convention). At these sizes the embeddings are a large share of the model, so
the two conventions give different exponents (Pearce & Song 2024).

The default ladder (6 sizes, 16k to 136k parameters, x 3 budgets of 8, 24 and 72 bytes per
parameter) takes about 15 minutes on a 2-core CPU; ``--quick`` trains 3 tiny sizes at
4 budgets each in under a minute, fitting with the Laplace approximation instead of NUTS
(what the test suite runs).
``--dir DIR`` makes the ladder resumable: run the same command again after an
interruption and the finished runs are kept. ``--out FILE.png`` writes the figure of the
forecast against the measurement.

Run: python examples/scaling_ladder.py [--quick] [--dir ladder-run] [--out ladder.png]

References: Hoffmann et al. 2022; Kaplan et al. 2020; Pearce & Song 2024, "Reconciling
Kaplan and Chinchilla Scaling Laws".
"""

import argparse
import math
import pathlib
import sysconfig
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

VOCAB = 256  # bytes
HELD_OUT_EVERY = 20  # every 20th file of the corpus is held out

LADDERS = {
    # widths (d_model) of the rungs, layers, context, batch, tokens per parameter, held-out windows
    "default": dict(widths=(16, 24, 32, 40, 48, 64), layers=2, context=64, batch=16, ratios=(8, 24, 72),
                    windows=1024, bayes={"num_chains": 4, "num_warmup": 1000, "num_samples": 1000}),
    "quick": dict(widths=(8, 12, 16), layers=1, context=32, batch=8, ratios=(4, 10, 25, 60), windows=128,
                  bayes={"method": "laplace", "num_chains": 1, "num_samples": 4000}),
}
LR_WIDTH = 0.64
"""Peak learning rate x width: 4e-2 at width 16, 1e-2 at width 64. At 24 tokens per
parameter, of peaks 1e-3 ... 4e-2 the best were 4e-2 at width 16 (held-out loss 2.187;
1e-2: 2.314) and 1e-2 at width 64 (1.323; 2e-2: 1.386, 3e-3: 1.432)."""
WARMUP = 0.05  # of the steps
FINAL_LR = 0.1  # of the peak, at the end of the cosine
WEIGHT_DECAY = 0.1


# ----------------------------------------------------------------------------------
# the corpus


def corpus() -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) bytes of the standard library's .py files, outside its test suite."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py")
                   if not {"test", "tests", "site-packages", "idle_test"} & set(p.relative_to(root).parts))
    parts = ([], [])
    for index, path in enumerate(files):
        parts[index % HELD_OUT_EVERY == 0].append(path.read_bytes())
    train, held_out = (np.frombuffer(b"\n".join(p), np.uint8) for p in parts)
    return train, held_out


# ----------------------------------------------------------------------------------
# the model: a pre-LayerNorm decoder-only transformer


def init_params(key, width: int, layers: int, context: int) -> dict:
    """float32 parameters: untied token embedding and unembedding, learned positions."""
    keys = iter(jax.random.split(key, 3 + 4 * layers))

    def normal(shape, scale):
        return scale * jax.random.normal(next(keys), shape, jnp.float32)

    def ones(n):
        return jnp.ones(n, jnp.float32)

    def zeros(n):
        return jnp.zeros(n, jnp.float32)

    blocks = [{"ln1": ones(width), "ln2": ones(width),
               "qkv": normal((width, 3 * width), width ** -0.5),
               "proj": normal((width, width), (2 * layers * width) ** -0.5),
               "up": normal((width, 4 * width), width ** -0.5), "up_bias": zeros(4 * width),
               "down": normal((4 * width, width), (8 * layers * width) ** -0.5), "down_bias": zeros(width)}
              for _ in range(layers)]
    embeddings = {"tokens": normal((VOCAB, width), 1.0), "positions": normal((context, width), 0.1),
                  "unembed": normal((width, VOCAB), width ** -0.5)}
    return {"embeddings": embeddings, "blocks": blocks, "ln_final": ones(width)}


def layer_norm(x, scale):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(variance + 1e-5) * scale


def next_byte_loss(params, window, heads: int):
    """Mean next-byte cross-entropy (nats) of windows of shape (batch, context + 1)."""
    x, y = window[:, :-1], window[:, 1:]
    batch, length = x.shape
    emb = params["embeddings"]
    h = emb["tokens"][x] + emb["positions"][:length]
    width = h.shape[-1]
    causal = jnp.tril(jnp.ones((length, length), bool))
    for block in params["blocks"]:
        q, k, v = jnp.split(layer_norm(h, block["ln1"]) @ block["qkv"], 3, axis=-1)
        q, k, v = (t.reshape(batch, length, heads, width // heads) for t in (q, k, v))
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(width // heads)
        attention = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)
        h = h + jnp.einsum("bhqk,bkhd->bqhd", attention, v).reshape(batch, length, width) @ block["proj"]
        u = jax.nn.gelu(layer_norm(h, block["ln2"]) @ block["up"] + block["up_bias"])
        h = h + u @ block["down"] + block["down_bias"]
    logits = layer_norm(h, params["ln_final"]) @ emb["unembed"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def learning_rate(i, num_steps, width: int):
    """Linear warm-up over WARMUP of the run, then a cosine to FINAL_LR of the peak at its end."""
    i, n = jnp.asarray(i, jnp.float32), jnp.asarray(num_steps, jnp.float32)
    warm = jnp.maximum(1.0, jnp.round(WARMUP * n))
    progress = jnp.clip((i - warm) / jnp.maximum(1.0, n - warm), 0.0, 1.0)
    cosine = FINAL_LR + (1.0 - FINAL_LR) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
    return LR_WIDTH / width * jnp.where(i < warm, (i + 1.0) / warm, cosine)


def transformer_family(train, held_out, *, layers, context, batch, windows):
    """``family(width) -> sl.LadderModel``: the transformer at one width, its training and evaluation."""
    train_data = jnp.asarray(train)
    starts = np.linspace(0, len(held_out) - context - 2, windows).astype(np.int64)
    eval_windows = jnp.asarray(np.stack([held_out[s : s + context + 1] for s in starts]).astype(np.int32))
    offsets = jnp.arange(context + 1)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(b1=0.9, b2=0.95))

    def family(width: int) -> sl.LadderModel:
        heads = max(1, width // 16)

        def loss(params, window):
            return next_byte_loss(params, window, heads)

        def init(key):
            params = init_params(key, width, layers, context)
            return params, optimizer.init(params), jax.random.fold_in(key, 1)

        @jax.jit
        def step(state, i, num_steps):
            params, opt_state, key = state
            first = jax.random.randint(jax.random.fold_in(key, i), (batch,), 0, train_data.shape[0] - context - 1)
            window = train_data[first[:, None] + offsets].astype(jnp.int32)
            grads = jax.grad(loss)(params, window)
            updates, opt_state = optimizer.update(grads, opt_state)
            rate = learning_rate(i, num_steps, width)
            # AdamW: decoupled weight decay on the matrices only
            params = jax.tree_util.tree_map(
                lambda p, u: p - rate * (u + (WEIGHT_DECAY * p if p.ndim == 2 else 0.0)), params, updates)
            return params, opt_state, key

        @jax.jit
        def evaluate(state):
            return jnp.mean(jax.lax.map(lambda w: loss(state[0], w[None]), eval_windows))

        shapes = jax.eval_shape(lambda: init_params(jax.random.key(0), width, layers, context))
        embedding = sum(x.size for x in jax.tree_util.tree_leaves(shapes["embeddings"]))
        total = sum(x.size for x in jax.tree_util.tree_leaves(shapes))
        return sl.LadderModel(init=init, step=step, evaluate=evaluate,
                              params=total - embedding, embedding_params=embedding,
                              tokens_per_step=batch * context)

    return family


# ----------------------------------------------------------------------------------
# the report


def exponents(runs: sl.Runs) -> tuple[float, float, float]:
    """alpha, beta and a = beta / (alpha + beta) of the Huber fit (N* ~ C^a)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a start on a bound of the grid
        fit = sl.fit_huber(runs)
    alpha, beta = float(fit.law.alpha), float(fit.law.beta)
    return alpha, beta, beta / (alpha + beta)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 tiny sizes, about a minute (the tests)")
    parser.add_argument("--dir", default=None, help="directory that makes the ladder resumable")
    parser.add_argument("--out", default=None, help="write the forecast figure to this PNG")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setting = LADDERS["quick" if args.quick else "default"]

    train, held_out = corpus()
    print(f"corpus: {len(train) / 1e6:.1f} MB of Python standard-library source to train on, "
          f"{len(held_out) / 1e6:.2f} MB held out (every {HELD_OUT_EVERY}th file)")
    family = transformer_family(train, held_out, layers=setting["layers"], context=setting["context"],
                                batch=setting["batch"], windows=setting["windows"])
    started = time.perf_counter()
    ladder = sl.ladder(family, setting["widths"], key=jax.random.key(args.seed), tokens_per_param=setting["ratios"],
                       bayes=setting["bayes"], out=args.dir, progress=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"\n{ladder}: {np.nansum(ladder.seconds) / 60:.1f} min of training, {minutes:.1f} min in all")

    print(f"\n{'width':>5} {'params':>9} {'embedding':>9} {'share':>6} {'tokens':>10} {'loss':>7}")
    for run, loss in zip(ladder.plan, ladder.loss):
        share = run.embedding_params / (run.params + run.embedding_params)
        print(f"{run.size:>5} {run.params:9,d} {run.embedding_params:9,d} {share:6.0%} {run.D:10.3g} {loss:7.4f}")

    last = max(ladder.forecasts)
    forecast = ladder.forecasts[last]
    print(f"\nforecast of the largest rung (width {ladder.plan[forecast.runs[0]].size}, N = {forecast.N[0]:,.0f} "
          f"parameters) from rungs {forecast.fitted_rungs[0]}-{forecast.fitted_rungs[-1]}, made before training it:")
    for D, median, low, high, measured, inside in zip(forecast.D, forecast.median, forecast.low, forecast.high,
                                                      forecast.measured, forecast.inside):
        print(f"  D = {D:9.3g} tokens: forecast {median:.4f}, {forecast.level:.0%} interval [{low:.4f}, {high:.4f}]; "
              f"measured {measured:.4f} ({'inside' if inside else 'OUTSIDE'}, error {(median - measured) / measured:+.2%})")
    print(f"  {int(forecast.inside.sum())}/{len(forecast.runs)} measured losses inside their {forecast.level:.0%} "
          "intervals")

    print("\nthe law fitted to every run (Huber), by how N counts parameters:")
    for count in sl.LADDER_COUNTS:
        alpha, beta, a = exponents(ladder.runs(count))
        print(f"  {count:>13}: alpha = {alpha:.3f}, beta = {beta:.3f}, N* ~ C^{a:.3f}")

    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        sl.plot.ladder_forecast(ladder).savefig(args.out, dpi=150, bbox_inches="tight")
        print(f"\nfigure: {args.out}")


if __name__ == "__main__":
    main()
