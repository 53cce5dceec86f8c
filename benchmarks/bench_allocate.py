"""Benchmark: inference-aware allocation, "minimise lifetime FLOPs at a target loss".

The problem (Sardana et al. 2023, "Beyond Chinchilla-Optimal", sec. 2): for a law
L(N, D) = E + A / N^alpha + B / D^beta, a target loss and D_inf lifetime inference
tokens, find the model size N (and tokens D) reaching the target with the least lifetime
compute 6 N D + 2 N D_inf. The same random scenarios are solved, in one process and one
run, by:

1. ``sl.inference_optimal(law, loss, inference_tokens)`` in float64 on the full arrays
   (the public eager call, which also runs the NumPy input checks, and the same function
   under ``jax.jit``, where the checks are skipped), after a warm-up; compile time is
   reported separately; the float32 path (inputs and law leaves cast to float32); and
   the common case of one law (``HOFFMANN_2022``) with the same reducible losses and
   inference volumes, where the law's own logarithms are computed once. The library
   variants are timed interleaved (one of each per repetition).
2. a vectorised NumPy golden-section search over log N on the iso-loss curve, all
   scenarios at once, until the bracket is below 1e-7 in log N;
3. ``scipy.optimize.minimize_scalar(method="bounded")`` in a Python loop over a random
   subset, extrapolated to solves/s.

Also timed, as a reference rather than a competitor: a vectorised NumPy bisection on the
sign of d f / d log N, accurate to ~1e-14 in log N, which tells the golden search's own
error (~1e-7, bracket width and flatness of f near its minimum) from the library's.
The NumPy and scipy searches work in t = log N - log N_min, where A N_min^-alpha = R, so
the data term on the iso-loss curve is y = -R expm1(-alpha t) with no cancellation; the
bracket is t in [1e-6, log 1e6] and the optimum is checked to be interior.

Scenarios (fixed seed): one law per scenario, drawn around published fits: E ~ U[1.6, 1.9],
A ~ U[300, 600], B ~ U[300, 2500], alpha, beta ~ U[0.25, 0.4]. The target loss is the loss
of that law's compute-optimal model (Hoffmann et al. closed form) at a budget C drawn
log-uniform in [1e18, 1e26] FLOPs, redrawn where the reducible loss R = loss - E would
exceed 3 nats (about 7% of first draws, mostly large B with small beta at small C), so
targets are realistic for every law (R from ~0.01 to 3, median ~0.6). D_inf is
log-uniform in [1e6, 1e15] tokens, with 10% exact zeros (pure compute-optimal).

Accuracy is |Delta log N| against the golden search, against the bisection reference, and
(float32) against the float64 library result. Every speed is a median over repetitions
(the minimum is shown too): machines are shared and noisy; quote medians. Each timing
line also shows process CPU time / wall time: XLA on CPU may use more than one core,
NumPy and scipy use one, so ratios are per process, not per core. This is a benchmark,
not a test: nothing here asserts a time.

Run:  python benchmarks/bench_allocate.py              # 1,000,000 scenarios
      python benchmarks/bench_allocate.py --n 10000    # quick
Options: --n, --subset (scipy loop size, default 2000), --reps (library, default 7),
--np-reps (NumPy, default 3), --seed.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.optimize  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402

INVPHI = (math.sqrt(5.0) - 1.0) / 2.0
LO_OFFSET = 1e-6  # bracket starts this far (in log N) above the feasibility bound N_min
SPAN = math.log(1e6)  # ... and ends at N_min * 1e6
GOLDEN_WIDTH = 1e-7  # golden-section stops when the log-N bracket is narrower than this
MAX_REDUCIBLE = 3.0  # nats; targets further above E than this are redrawn


# ----------------------------------------------------------------------------------
# scenarios


def make_scenarios(n: int, seed: int) -> dict[str, np.ndarray]:
    """Random laws, realistic target losses and inference tokens (float64 NumPy arrays)."""
    rng = np.random.default_rng(seed)
    E = rng.uniform(1.6, 1.9, n)
    A = rng.uniform(300.0, 600.0, n)
    B = rng.uniform(300.0, 2500.0, n)
    alpha = rng.uniform(0.25, 0.4, n)
    beta = rng.uniform(0.25, 0.4, n)
    # Target: loss of the law's compute-optimal model at C ~ log-uniform [1e18, 1e26].
    # Budgets whose target has a reducible loss above MAX_REDUCIBLE nats (~7% of first
    # draws: large B, small beta, small C) are redrawn, so every target is plausible.
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    C = np.empty(n)
    redraw = np.ones(n, bool)
    while redraw.any():
        C[redraw] = 10.0 ** rng.uniform(18.0, 26.0, int(redraw.sum()))
        N_c = G * (C / 6.0) ** (beta / (alpha + beta))
        D_c = (C / 6.0) ** (alpha / (alpha + beta)) / G
        reducible = A * N_c**-alpha + B * D_c**-beta
        redraw = reducible > MAX_REDUCIBLE
    loss = E + reducible
    D_inf = 10.0 ** rng.uniform(6.0, 15.0, n)
    D_inf[rng.random(n) < 0.10] = 0.0
    return dict(E=E, A=A, B=B, alpha=alpha, beta=beta, loss=loss, D_inf=D_inf, C=C, R=reducible)


# ----------------------------------------------------------------------------------
# NumPy objective in t = log N - log N_min (N_min: A N^-alpha = R, the feasibility bound)
#
# On the iso-loss curve A N^-alpha = R e^-(alpha t), so the data term is
# y = R - A N^-alpha = -R expm1(-alpha t) and D = (B / y)^(1/beta). Lifetime FLOPs are
# f = 6 N D + 2 N D_inf = N_min * g(t) with g(t) = e^t (6 D + 2 D_inf): same argmin.


def _g(t, R, B, alpha, beta, D_inf):
    y = -R * np.expm1(-alpha * t)
    D = (B / y) ** (1.0 / beta)
    return np.exp(t) * (6.0 * D + 2.0 * D_inf)


def golden_numpy(s) -> np.ndarray:
    """Vectorised golden-section minimisation of g(t); returns t (all scenarios at once)."""
    R, B, alpha, beta, D_inf = s["R"], s["B"], s["alpha"], s["beta"], s["D_inf"]
    a = np.full_like(R, LO_OFFSET)
    b = np.full_like(R, SPAN)
    c = b - INVPHI * (b - a)
    d = a + INVPHI * (b - a)
    fc = _g(c, R, B, alpha, beta, D_inf)
    fd = _g(d, R, B, alpha, beta, D_inf)
    # Every bracket has the same width, so the iteration count is the same for all.
    while (b[0] - a[0]) > GOLDEN_WIDTH:
        left = fc < fd  # minimum in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        x = np.where(left, b - INVPHI * (b - a), a + INVPHI * (b - a))
        fx = _g(x, R, B, alpha, beta, D_inf)
        c, d, fc, fd = (
            np.where(left, x, d),
            np.where(left, c, x),
            np.where(left, fx, fd),
            np.where(left, fc, fx),
        )
    return 0.5 * (a + b)


def bisection_reference(s, iterations: int = 56) -> np.ndarray:
    """t where d g / d t = 0, by bisection on its sign (monotone): precise to ~1e-14.

    d g / dt has the sign of 6 D (beta y - alpha x) + 2 beta y D_inf, x = R e^-(alpha t).
    This uses the first-order condition (the same one the library solves), so it checks
    the library's numerics, not its derivation; the golden search checks the derivation.
    """
    R, B, alpha, beta, D_inf = s["R"], s["B"], s["alpha"], s["beta"], s["D_inf"]
    lo = np.full_like(R, LO_OFFSET)
    hi = np.full_like(R, SPAN)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        x = R * np.exp(-alpha * mid)
        y = -R * np.expm1(-alpha * mid)
        D = (B / y) ** (1.0 / beta)
        rising = 6.0 * D * (beta * y - alpha * x) + 2.0 * beta * y * D_inf > 0
        hi = np.where(rising, mid, hi)
        lo = np.where(rising, lo, mid)
    return 0.5 * (lo + hi)


def scipy_loop(s, idx: np.ndarray) -> tuple[np.ndarray, int]:
    """minimize_scalar(bounded) per scenario in a Python loop; returns t and failures."""
    out = np.empty(len(idx))
    failures = 0
    for j, i in enumerate(idx):
        R, B, alpha, beta, D_inf = (float(s[k][i]) for k in ("R", "B", "alpha", "beta", "D_inf"))
        inv_beta = 1.0 / beta

        def g(t):
            y = -R * math.expm1(-alpha * t)
            return math.exp(t) * (6.0 * (B / y) ** inv_beta + 2.0 * D_inf)

        res = scipy.optimize.minimize_scalar(
            g, bounds=(LO_OFFSET, SPAN), method="bounded", options={"xatol": 1e-9}
        )
        failures += not res.success
        out[j] = res.x
    return out, failures


# ----------------------------------------------------------------------------------
# helpers


def timed(fn, reps: int, block=jax.block_until_ready, cpu: dict | None = None, key: str = ""):
    """Run ``fn`` ``reps`` times; return (sorted wall times in s, last result).

    With ``cpu``, ``cpu[key]`` gets the process CPU time / wall time ratio (> 1: threads).
    """
    times, out, cpu_total = [], None, 0.0
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        out = block(fn())
        times.append(time.perf_counter() - t0)
        cpu_total += time.process_time() - c0
    if cpu is not None:
        cpu[key] = cpu_total / sum(times)
    return sorted(times), out


def _identity(x):
    return x


def stats(delta: np.ndarray) -> tuple[float, float]:
    """(max, median) of |delta| over finite items."""
    delta = np.abs(delta[np.isfinite(delta)])
    return float(delta.max()), float(np.median(delta))


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:.3e}"


def describe(s, i: int, extra: str = "") -> str:
    return (
        f"  E={s['E'][i]:.4f} A={s['A'][i]:.1f} B={s['B'][i]:.1f} alpha={s['alpha'][i]:.4f} "
        f"beta={s['beta'][i]:.4f} loss={s['loss'][i]:.6f} (R={s['R'][i]:.4g}, C={s['C'][i]:.3g}) "
        f"D_inf={s['D_inf'][i]:.4g}{extra}"
    )


# ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="scenarios (default 1e6)")
    parser.add_argument("--subset", type=int, default=2000, help="scipy loop size (default 2000)")
    parser.add_argument("--reps", type=int, default=7, help="library repetitions (>= 5)")
    parser.add_argument("--np-reps", type=int, default=3, help="NumPy repetitions (>= 3)")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()
    n, subset = args.n, min(args.subset, args.n)

    print("== bench_allocate: inference_optimal, minimise 6ND + 2N*D_inf at a target loss ==")
    print(
        f"host: {platform.node()}  nproc={os.cpu_count()}  loadavg={os.getloadavg()}  "
        f"python {platform.python_version()}  jax {jax.__version__}  numpy {np.__version__}  "
        f"scipy {scipy.__version__}  device {jax.devices()[0]}"
    )
    s = make_scenarios(n, args.seed)
    q = np.quantile
    print(
        f"scenarios: n={n:,} seed={args.seed}; reducible loss R quantiles (0, 50, 100%): "
        f"{q(s['R'], 0):.3f} {q(s['R'], 0.5):.3f} {q(s['R'], 1):.3f}; "
        f"D_inf == 0: {np.mean(s['D_inf'] == 0):.1%}"
    )


    # --- 1. library: float64 and float32, eager and under jax.jit ---------------
    # Warm-ups (first calls, which trace and compile) run first; then the four variants
    # are timed interleaved, one of each per repetition, so all see the same load.
    law64 = sl.Chinchilla(*(jnp.asarray(s[k]) for k in ("E", "A", "B", "alpha", "beta")))
    loss64, dinf64 = jnp.asarray(s["loss"]), jnp.asarray(s["D_inf"])
    law32 = sl.Chinchilla(*(jnp.asarray(s[k], jnp.float32) for k in ("E", "A", "B", "alpha", "beta")))
    loss32, dinf32 = jnp.asarray(s["loss"], jnp.float32), jnp.asarray(s["D_inf"], jnp.float32)
    jitted = jax.jit(sl.inference_optimal)
    # The common planning case: one law, many (target, inference volume) scenarios, with
    # the same reducible losses; its law work is done once rather than per scenario.
    one_law, one_loss = sl.HOFFMANN_2022, jnp.asarray(sl.HOFFMANN_2022.E + s["R"])
    variants = {
        "eager64": lambda: sl.inference_optimal(law64, loss64, dinf64),
        "jit64": lambda: jitted(law64, loss64, dinf64),
        "eager32": lambda: sl.inference_optimal(law32, loss32, dinf32),
        "jit32": lambda: jitted(law32, loss32, dinf32),
        "jit64_one": lambda: jitted(one_law, one_loss, dinf64),
    }
    first = {}
    for name in ("eager64", "eager32"):
        t0 = time.perf_counter()
        jax.block_until_ready(variants[name]())
        first[name] = time.perf_counter() - t0
    first64, first32 = first["eager64"], first["eager32"]
    t0 = time.perf_counter()
    lowered = jitted.lower(law64, loss64, dinf64)
    t_lower = time.perf_counter() - t0
    t0 = time.perf_counter()
    lowered.compile()
    t_compile = time.perf_counter() - t0
    for name in ("jit64", "jit32", "jit64_one"):
        jax.block_until_ready(variants[name]())  # warm the jit call path
    times = {name: [] for name in variants}
    cpu_times = {name: 0.0 for name in variants}
    plans = {}
    for _ in range(args.reps):
        for name, fn in variants.items():
            c0, t0 = time.process_time(), time.perf_counter()
            plans[name] = jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
            cpu_times[name] += time.process_time() - c0
    cpu = {name: cpu_times[name] / sum(times[name]) for name in variants}
    overhead64 = float(np.median(np.subtract(times["eager64"], times["jit64"])))
    overhead32 = float(np.median(np.subtract(times["eager32"], times["jit32"])))
    times64, times64j, times32, times32j, times64_one = (sorted(times[k]) for k in variants)
    plan64, plan64j, plan32, plan32j, plan64_one = (plans[k] for k in variants)

    logN64 = np.log(np.asarray(plan64.N))
    status64 = np.asarray(plan64.status)
    same_jit = np.array_equal(np.asarray(plan64j.N), np.asarray(plan64.N), equal_nan=True)
    same_jit32 = np.array_equal(np.asarray(plan32j.N), np.asarray(plan32.N), equal_nan=True)
    # float64 solve of the float32-rounded inputs: separates solver error in float32 from
    # the rounding of the inputs themselves (R = loss - E loses digits when R is small).
    law_r = sl.Chinchilla(*(jnp.asarray(leaf, jnp.float64) for leaf in jax.tree_util.tree_leaves(law32)))
    plan_r = sl.inference_optimal(law_r, jnp.asarray(loss32, jnp.float64), jnp.asarray(dinf32, jnp.float64))
    logN_r = np.log(np.asarray(plan_r.N))
    dtype32 = plan32.N.dtype
    logN32 = np.log(np.asarray(plan32.N, dtype=np.float64))
    status32 = np.asarray(plan32.status)

    # --- 2. NumPy golden section; bisection reference ----------------------------
    times_gold, t_gold = timed(lambda: golden_numpy(s), args.np_reps, _identity, cpu, "golden")
    times_bis, t_ref = timed(lambda: bisection_reference(s), args.np_reps, _identity, cpu, "bisect")
    log_N_min = np.log(s["A"] / s["R"]) / s["alpha"]
    logN_gold = log_N_min + t_gold
    logN_ref = log_N_min + t_ref
    margin = 10 * GOLDEN_WIDTH
    not_interior = int(np.sum((t_gold < LO_OFFSET + margin) | (t_gold > SPAN - margin)))

    # --- 3. scipy loop on a subset -----------------------------------------------
    idx = np.sort(np.random.default_rng(args.seed + 1).choice(n, subset, replace=False))
    times_sp, (t_sp, sp_failures) = timed(lambda: scipy_loop(s, idx), args.np_reps, _identity, cpu, "scipy")
    logN_sp = log_N_min[idx] + t_sp

    # --- report --------------------------------------------------------------------
    def line(name, times, count, key):
        med, lo = float(np.median(times)), times[0]
        print(
            f"{name:<44s} median {med * 1e3:9.2f} ms  min {lo * 1e3:9.2f} ms  "
            f"({len(times)} reps, {count:,} items)  -> {fmt_rate(count, med)} solves/s (median), "
            f"{fmt_rate(count, lo)} (min); CPU/wall {cpu[key]:.2f}"
        )
        return med

    print("\n-- timings (CPU/wall: process CPU time over wall time; above 1 means more than one thread) --")
    med64 = line("sl.inference_optimal float64 (eager call)", times64, n, "eager64")
    med64j = line("jax.jit(sl.inference_optimal) float64", times64j, n, "jit64")
    med32 = line("sl.inference_optimal float32 (eager call)", times32, n, "eager32")
    med32j = line("jax.jit(sl.inference_optimal) float32", times32j, n, "jit32")
    med64_one = line("jax.jit(sl.inference_optimal) f64, one law", times64_one, n, "jit64_one")
    medg = line("numpy golden section (vectorised)", times_gold, n, "golden")
    medb = line("numpy bisection on f'=0 (reference)", times_bis, n, "bisect")
    meds = line("scipy minimize_scalar bounded (loop)", times_sp, subset, "scipy")
    print(
        f"compile: first eager call float64 {first64 * 1e3:.1f} ms, float32 {first32 * 1e3:.1f} ms "
        f"(trace + compile + checks + one run); jax.jit AOT float64: lower {t_lower * 1e3:.1f} ms "
        f"+ compile {t_compile * 1e3:.1f} ms"
    )
    print(
        f"eager-call overhead over the jitted call (NumPy input checks on {n:,} items; median of "
        f"paired differences): float64 {overhead64 * 1e3:.1f} ms, float32 {overhead32 * 1e3:.1f} ms"
    )

    print("\n-- accuracy (|Delta log N|, max / median over items with status 0) --")
    ok64 = status64 == 0
    d_gold = np.where(ok64, logN64 - logN_gold, np.nan)
    d_ref = np.where(ok64, logN64 - logN_ref, np.nan)
    d_gold_ref = logN_gold - logN_ref
    d_sp_gold = logN_sp - logN_gold[idx]
    d_sp_ref = logN_sp - logN_ref[idx]
    ok32 = (status32 == 0) & ok64
    d_32 = np.where(ok32, logN32 - logN64, np.nan)
    d_32r = np.where(ok32, logN32 - logN_r, np.nan)
    acc = {}
    for name, delta in [
        ("library f64 vs golden", d_gold),
        ("library f64 vs bisection reference", d_ref),
        ("golden vs bisection reference", d_gold_ref),
        (f"scipy vs golden (subset {subset:,})", d_sp_gold),
        ("scipy vs bisection reference (subset)", d_sp_ref),
        ("library f32 vs library f64", d_32),
        ("library f32 vs f64 on the f32-rounded inputs", d_32r),
    ]:
        acc[name] = stats(delta)
        print(f"{name:<44s} max {acc[name][0]:.3e}  median {acc[name][1]:.3e}")
    print(f"fraction of items with |library f64 - golden| > 1e-6: {np.nanmean(np.abs(d_gold) > 1e-6):.2e}")
    g = lambda t: _g(t, s["R"], s["B"], s["alpha"], s["beta"], s["D_inf"])  # noqa: E731
    excess = g(np.where(ok64, logN64 - log_N_min, 1.0)) / g(t_gold) - 1.0
    excess = excess[ok64]
    print(
        f"lifetime FLOPs, library / golden - 1: max {excess.max():.2e}, min {excess.min():.2e}, "
        f"median {np.median(excess):.2e} (negative: the library's plan is cheaper)"
    )
    print(
        f"library statuses float64: {dict(zip(*np.unique(status64, return_counts=True)))} "
        f"(nonzero: {int(np.sum(status64 != 0))}); float32 ({dtype32}): "
        f"{dict(zip(*np.unique(status32, return_counts=True)))} (nonzero: {int(np.sum(status32 != 0))})"
    )
    print(f"jax.jit result identical to eager result (N): float64 {same_jit}, float32 {same_jit32}")
    print(
        f"golden optimum within {margin:g} of the bracket ends (not interior): {not_interior}; "
        f"scipy failures: {sp_failures}; optimum t = log(N / N_min) range "
        f"[{t_ref.min():.3g}, {t_ref.max():.3g}] inside [{LO_OFFSET:g}, {SPAN:.3g}]"
    )
    for label, delta in [("library f64 vs golden", d_gold), ("library f64 vs reference", d_ref),
                         ("library f32 vs f64", d_32),
                         ("library f32 vs f64 (same rounded inputs)", d_32r)]:
        i = int(np.nanargmax(np.abs(delta)))
        print(f"worst {label}: item {i}, |Delta log N| = {abs(delta[i]):.3e}, N = {np.exp(logN64[i]):.4g}, "
              f"t = {t_ref[i]:.4g}")
        print(describe(s, i))
    bad = np.flatnonzero(status64 != 0)[:5]
    for i in bad:
        print(f"nonzero status {status64[i]} at item {i}:")
        print(describe(s, int(i)))
    bad32 = np.flatnonzero(status32 != 0)
    if bad32.size:
        print(f"float32 nonzero statuses: {bad32.size}; first items:")
        for i in bad32[:3]:
            print(describe(s, int(i), f"  status {status32[i]}"))

    print("\n-- summary (solves/s are medians; ratio vs numpy golden section) --")
    print(f"{'method':<40s} {'solves/s':>11s} {'x numpy':>9s}  accuracy |Delta log N| max / median")
    table = [
        ("sl.inference_optimal f64 (eager)", n / med64, f"vs golden {acc['library f64 vs golden'][0]:.1e} / "
         f"{acc['library f64 vs golden'][1]:.1e}; vs ref {acc['library f64 vs bisection reference'][0]:.1e} / "
         f"{acc['library f64 vs bisection reference'][1]:.1e}"),
        ("jax.jit(sl.inference_optimal) f64", n / med64j, "identical to eager" if same_jit else "DIFFERS from eager"),
        ("sl.inference_optimal f32 (eager)", n / med32, f"vs f64 {acc['library f32 vs library f64'][0]:.1e} / "
         f"{acc['library f32 vs library f64'][1]:.1e}; same inputs "
         f"{acc['library f32 vs f64 on the f32-rounded inputs'][0]:.1e} / "
         f"{acc['library f32 vs f64 on the f32-rounded inputs'][1]:.1e}"),
        ("jax.jit(sl.inference_optimal) f32", n / med32j, "identical to eager" if same_jit32 else "DIFFERS from eager"),
        ("jax.jit(sl.inference_optimal) f64, one law", n / med64_one,
         f"statuses != 0: {int(np.sum(np.asarray(plan64_one.status) != 0))}"),
        ("numpy golden section", n / medg, f"vs ref {acc['golden vs bisection reference'][0]:.1e} / "
         f"{acc['golden vs bisection reference'][1]:.1e}"),
        ("numpy bisection on f'=0 (reference)", n / medb, "reference (~1e-14)"),
        (f"scipy bounded loop ({subset:,})", subset / meds,
         f"vs golden {acc[f'scipy vs golden (subset {subset:,})'][0]:.1e} / "
         f"{acc[f'scipy vs golden (subset {subset:,})'][1]:.1e}; vs ref "
         f"{acc['scipy vs bisection reference (subset)'][0]:.1e} / {acc['scipy vs bisection reference (subset)'][1]:.1e}"),
    ]
    for name, rate, accuracy in table:
        print(f"{name:<40s} {rate:11.3e} {rate / (n / medg):9.2f}  {accuracy}")
    print(f"loadavg at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
