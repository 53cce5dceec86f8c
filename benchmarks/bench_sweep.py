"""Benchmark: ``sl.sweep``, scenario grids x law draws reduced to quantiles, chunked and sharded.

Three measurements in one run:

1. Inference-aware solves per second. ``sl.sweep(sl.inference_optimal, law,
   loss=targets, inference_tokens=volumes, reduce="quantiles")`` (least lifetime FLOPs
   6 N D + 2 N D_inf at a target loss, Sardana et al. 2023) over a grid of target losses
   x inference volumes, for every draw of a batched law, keeping the 5/50/95% quantiles
   over the draws per scenario. Compared, on the same solves, with the vectorised NumPy
   golden-section search of ``bench_allocate.py`` (``golden_numpy``) followed by
   ``np.quantile`` over the draws; the NumPy baseline runs on an evenly spaced subset of
   the scenarios (all draws each) and its rate is extrapolated to the full grid. Also
   timed: the float32 sweep (its error against float64 on the same scenarios: relative
   error of the N, D and loss quantiles, and how many statuses differ), and, as a
   reference for the solver's own cost, one ``jax.jit(sl.inference_optimal)`` call on the
   broadcast (draws, targets, volumes) arrays that keeps every draw and reduces nothing.
   Every ``sl.sweep`` call compiles its chunk program, so its time is shown per call
   (what a caller waits for) and for its chunk loop alone (``info["seconds"]``). The
   variants run interleaved, one of each per repetition; medians over repetitions.
2. A 1e8-solve sweep: ``sl.sweep(sl.compute_optimal, law, flops=budgets,
   inference_tokens=volumes)`` (least loss for a lifetime budget) over 100 budgets
   1e19..1e26 FLOPs x 100 inference volumes (0 and 1e9..1e15 tokens) = 1e4 scenarios, for
   1e4 law draws, reduced to quantiles (0.05, 0.5, 0.95), with the library's default chunk
   size, once, in a fresh subprocess: wall time of that first call (compilation
   included), its chunk loop, the time outside the loop (tracing, compilation, assembly),
   solves/s, and the process's peak resident memory before and after the sweep. Target: at
   most 2 GiB. The peak is ``VmHWM`` of ``/proc/self/status`` (Linux), which belongs to the
   process image alone; ``getrusage(RUSAGE_SELF).ru_maxrss`` is shown too, but Linux carries
   it over from the parent across ``fork``/``exec``, so in a child it is at least the
   parent's peak at the time of the spawn.
3. The same kind of sweep (1e4 scenarios x 1e3 draws = 1e7 solves by default, as four
   1e8-solve sweeps take too long on 2 cores) on 1, 2, 4 and 8 forced host devices
   (``XLA_FLAGS=--xla_force_host_platform_device_count=8`` in a subprocess,
   ``devices=jax.local_devices()[:n]``), checking that every field is bit-identical to the
   one-device result. One host device runs the chunk program on about one core, so on 2
   cores 2 devices can be up to 2x faster and more devices add no cores (on a shared
   machine, more threads also take a larger share from the other jobs, so the timings say
   little): the point is that the program shards and the results do not change.

Law draws: ``HOFFMANN_2022`` with every parameter multiplied by 1 + 0.02 z, z standard
normal, independently per draw and parameter (fixed seed). These are posterior-like draws,
not a fitted posterior (``sl.fit_bayes`` is slow); the solvers take a fixed number of
Newton or Halley steps, so their cost does not depend on where the draws come from. Target
losses are HOFFMANN_2022's compute-optimal losses at budgets 1e19..1e25 FLOPs (about 2.92
down to 1.84 nats), 4 or more standard deviations of E above HOFFMANN_2022's E, so
every draw is feasible (the statuses are printed).

Machines are shared and noisy: quote medians and ratios. CPU/wall is process CPU time over
wall time (above 1: more than one thread). This is a benchmark, not a test: it asserts
nothing except that results agree where it says they do, and prints MISMATCH otherwise.

Run:  python benchmarks/bench_sweep.py             # about 10 minutes on a loaded 2-core machine
      python benchmarks/bench_sweep.py --quick     # tiny sizes, seconds
Options: --scenarios (grid size, default 10000), --draws (part 2, default 10000),
--solve-draws (part 1, default 1000), --device-draws (part 3, default 1000), --np-solves
(NumPy subset, default 1e6), --reps (part 1, default 5), --chunk-size (part 2, default:
the library's), --skip-devices, --seed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax._sweep import DEFAULT_CHUNK_ELEMENTS  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_allocate import fmt_rate, golden_numpy, timed  # noqa: E402

QUANTILES = (0.05, 0.5, 0.95)
DRAW_SCALE = 0.02  # relative standard deviation of every law parameter across draws
AGREEMENT = 1e-5  # relative: sweep vs NumPy golden section (whose own error is ~1e-7 in log N)
ROUNDING = 1e-12  # relative: sweep quantiles vs np.quantile of the same solves
DEVICE_COUNTS = (1, 2, 4, 8)
FORCED_DEVICES = "--xla_force_host_platform_device_count=8"


# ----------------------------------------------------------------------------------
# scenarios


def posterior_like_draws(draws: int, seed: int) -> sl.Chinchilla:
    """HOFFMANN_2022 with each parameter times (1 + DRAW_SCALE z) per draw: leaves of shape (draws,)."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda x: x * (1.0 + DRAW_SCALE * rng.standard_normal(draws)),
                                  sl.HOFFMANN_2022)


def grid_shape(scenarios: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid with about ``scenarios`` cells, at least 2 columns."""
    rows = max(1, math.isqrt(scenarios))
    return rows, max(2, scenarios // rows)


def inference_volumes(count: int) -> np.ndarray:
    """0 and ``count - 1`` log-spaced volumes from 1e9 to 1e15 (tokens)."""
    return np.concatenate([[0.0], np.logspace(9, 15, count - 1)])


def target_losses(count: int) -> np.ndarray:
    """HOFFMANN_2022's compute-optimal losses at ``count`` budgets 1e19..1e25 FLOPs (nats)."""
    return sl.budget_table(sl.HOFFMANN_2022, np.logspace(19, 25, count))["loss"]


# ----------------------------------------------------------------------------------
# measurement helpers


def peak_rss_mib() -> float:
    """Peak resident memory of this process image so far (MiB): VmHWM of /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line in /proc/self/status")


def maxrss_mib() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux) in MiB: includes the parent's peak at spawn."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def relative_error(approx: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(max, median) of |approx - exact| / |exact| over items finite in both."""
    approx, exact = np.asarray(approx, np.float64), np.asarray(exact, np.float64)
    finite = np.isfinite(approx) & np.isfinite(exact) & (exact != 0)
    error = np.abs(approx[finite] - exact[finite]) / np.abs(exact[finite])
    return (float(error.max()), float(np.median(error))) if error.size else (math.nan, math.nan)


def bit_identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (NaN payloads and signed zeros included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def timing_line(name: str, times: list[float], solves: int, cpu_per_wall: float) -> float:
    """Print median and minimum time (s) and solves/s; return the median (s)."""
    median, fastest = float(np.median(times)), min(times)
    print(f"{name:<58s} median {median:8.3f} s  min {fastest:8.3f} s  ({len(times)} reps, {solves:.3e} solves)"
          f"  -> {fmt_rate(solves, median)} solves/s (median); CPU/wall {cpu_per_wall:.2f}")
    return median


def numpy_golden_quantiles(law: sl.Chinchilla, losses: np.ndarray, volumes: np.ndarray) -> dict[str, np.ndarray]:
    """Every (scenario, draw) solved by ``golden_numpy``, then quantiles over the draws.

    ``losses`` and ``volumes`` (nats, tokens) are one value per scenario; returns N
    (parameters), D (tokens), loss, training and inference FLOPs, each (scenarios, quantiles).
    """
    E, A, B, alpha, beta = (np.asarray(leaf)[None, :] for leaf in jax.tree_util.tree_leaves(law))
    R = losses[:, None] - E
    shape = R.shape
    problems = {"R": R, "B": B, "alpha": alpha, "beta": beta, "D_inf": volumes[:, None]}
    problems = {name: np.broadcast_to(value, shape).ravel() for name, value in problems.items()}
    t = golden_numpy(problems).reshape(shape)
    N = np.exp(np.log(A / R) / alpha + t)
    D = (B / (-R * np.expm1(-alpha * t))) ** (1.0 / beta)
    fields = {"N": N, "D": D, "loss": np.broadcast_to(losses[:, None], shape), "training_flops": 6.0 * N * D,
              "inference_flops": 2.0 * N * volumes[:, None]}
    return {name: np.moveaxis(np.quantile(value, QUANTILES, axis=1), 0, -1) for name, value in fields.items()}


# ----------------------------------------------------------------------------------
# 1. inference-aware solves per second


def measure_solves(args) -> None:
    """Part 1: the inference-aware sweep in float64 and float32, its jitted reference and NumPy."""
    rows, cols = grid_shape(args.scenarios)
    losses, volumes = target_losses(rows), inference_volumes(cols)
    law = posterior_like_draws(args.solve_draws, args.seed)
    scenarios, draws = rows * cols, args.solve_draws
    solves = scenarios * draws
    subset = np.unique(np.linspace(0, scenarios - 1, max(1, min(scenarios, args.np_solves // draws))).astype(int))
    subset_losses, subset_volumes = losses[subset // cols], volumes[subset % cols]
    subset_solves = subset.size * draws
    print(f"\n-- 1. sl.sweep(sl.inference_optimal): {rows} target losses ({losses[0]:.3f}..{losses[-1]:.3f} nats) x "
          f"{cols} inference volumes (0, 1e9..1e15 tokens) = {scenarios:,} scenarios x {draws:,} draws = "
          f"{solves:.3e} solves, quantiles {QUANTILES} --")
    print(f"numpy baseline: golden_numpy + np.quantile on {subset.size:,} evenly spaced scenarios x {draws:,} draws "
          f"= {subset_solves:.3e} solves, rate extrapolated to the full grid")

    batched = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[:, None, None], law)
    grid_losses, grid_volumes = jnp.asarray(losses)[None, :, None], jnp.asarray(volumes)[None, None, :]
    solve_every_draw = jax.jit(sl.inference_optimal)
    loop_seconds = {"sweep64": [], "sweep32": []}

    def sweep(dtype, key):
        def run():
            result = sl.sweep(sl.inference_optimal, law, loss=losses, inference_tokens=volumes, quantiles=QUANTILES,
                              dtype=dtype, progress=False)
            loop_seconds[key].append(result.info["seconds"])
            return result
        return run

    variants = {
        "sweep64": sweep("float64", "sweep64"),
        "sweep32": sweep("float32", "sweep32"),
        "direct64": lambda: solve_every_draw(batched, grid_losses, grid_volumes),
        "numpy": lambda: numpy_golden_quantiles(law, subset_losses, subset_volumes),
    }
    t0 = time.perf_counter()
    jax.block_until_ready(variants["direct64"]())
    direct_first = time.perf_counter() - t0
    times = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    results = {}
    for _ in range(args.reps):
        for name, run in variants.items():
            ratio = {}
            (seconds,), results[name] = timed(run, 1, cpu=ratio, key=name)
            times[name].append(seconds)
            cpu[name].append(ratio[name])
    cpu = {name: float(np.median(values)) for name, values in cpu.items()}
    wide, narrow, direct, golden = (results[name] for name in variants)

    print(f"{'':<58s} (per call: trace, compile, chunk loop, assembly; chunk loop: info['seconds'])")
    call64 = timing_line("sl.sweep float64, per call", times["sweep64"], solves, cpu["sweep64"])
    loop64 = timing_line("sl.sweep float64, chunk loop", loop_seconds["sweep64"], solves, cpu["sweep64"])
    call32 = timing_line("sl.sweep float32, per call", times["sweep32"], solves, cpu["sweep32"])
    loop32 = timing_line("sl.sweep float32, chunk loop", loop_seconds["sweep32"], solves, cpu["sweep32"])
    direct_time = timing_line("jax.jit(sl.inference_optimal), every draw kept (reference)", times["direct64"],
                              solves, cpu["direct64"])
    numpy_time = timing_line("numpy golden_numpy + np.quantile (subset)", times["numpy"], subset_solves,
                             cpu["numpy"])
    numpy_rate = subset_solves / numpy_time
    outside = {key: float(np.median(np.subtract(times[key], loop_seconds[key]))) for key in loop_seconds}
    print(f"sweep: {wide.info['chunks']} chunks of {wide.info['chunk_size']} scenarios (default chunk size), "
          f"{wide.info['chunk_bytes'] / 2**20:.0f} MiB per chunk (float64), traces {wide.info['traces']}; "
          f"time outside the chunk loop (median): float64 {outside['sweep64']:.2f} s, "
          f"float32 {outside['sweep32']:.2f} s; first jitted reference call (compile + run) {direct_first:.2f} s")
    print(f"numpy extrapolated to the full grid: {solves / numpy_rate:.1f} s for {solves:.3e} solves")

    print("\n-- 1. agreement --")
    index = np.unravel_index(subset, (rows, cols))
    for name in ("N", "D"):
        worst, typical = relative_error(wide[name][index], golden[name])
        verdict = "agree" if worst <= AGREEMENT else "MISMATCH"
        print(f"sweep float64 vs numpy golden section, {name} quantiles: relative error max {worst:.2e}, "
              f"median {typical:.2e} ({verdict}: tolerance {AGREEMENT:g})")
    for name in ("N", "D", "loss"):
        every_draw = np.asarray(getattr(direct, name))
        reference = np.moveaxis(np.quantile(every_draw, QUANTILES, axis=0), 0, -1)
        worst, _ = relative_error(wide[name], reference)
        verdict = "agree" if worst <= ROUNDING else "MISMATCH"
        print(f"sweep float64 vs np.quantile of the jitted reference, {name}: relative error max {worst:.2e} "
              f"({verdict}: tolerance {ROUNDING:g})")
    statuses = dict(zip(*(values.tolist() for values in np.unique(wide["status"], return_counts=True))))
    print(f"sweep float64 statuses (max over draws) per scenario: {statuses}")
    for name in ("N", "D", "loss"):
        worst, typical = relative_error(narrow[name], wide[name])
        print(f"float32 vs float64 sweep, {name} quantiles: relative error max {worst:.2e}, median {typical:.2e}")
    differ = int(np.sum(narrow["status"] != wide["status"]))
    print(f"float32 vs float64 sweep: statuses differ in {differ} of {scenarios:,} scenarios")

    print("\n-- 1. summary (solves/s from medians; x numpy: ratio to the NumPy baseline's rate) --")
    for name, seconds in [("sl.sweep float64, per call", call64), ("sl.sweep float64, chunk loop", loop64),
                          ("sl.sweep float32, per call", call32), ("sl.sweep float32, chunk loop", loop32),
                          ("jax.jit(sl.inference_optimal), no reduction", direct_time)]:
        rate = solves / seconds
        print(f"{name:<46s} {rate:11.3e} solves/s  x numpy {rate / numpy_rate:7.2f}")
    print(f"{'numpy golden section + np.quantile':<46s} {numpy_rate:11.3e} solves/s  x numpy {1.0:7.2f}")


# ----------------------------------------------------------------------------------
# 2. the 1e8-solve sweep and its memory, 3. devices: each in a fresh subprocess


def lifetime_budget_sweep(scenarios: int, draws: int, seed: int, **options) -> sl.SweepResult:
    """``sl.sweep(sl.compute_optimal)`` over budgets 1e19..1e26 FLOPs x inference volumes (tokens)."""
    rows, cols = grid_shape(scenarios)
    return sl.sweep(sl.compute_optimal, posterior_like_draws(draws, seed), flops=np.logspace(19, 26, rows),
                    inference_tokens=inference_volumes(cols), quantiles=QUANTILES, progress=False, **options)


def memory_child(args) -> dict:
    """Part 2 in this process: one sweep, timed, with the peak resident memory around it."""
    before = peak_rss_mib()
    c0, t0 = time.process_time(), time.perf_counter()
    result = lifetime_budget_sweep(args.scenarios, args.draws, args.seed, chunk_size=args.chunk_size)
    wall = time.perf_counter() - t0
    return {"wall": wall, "cpu_per_wall": (time.process_time() - c0) / wall, "info": result.info,
            "rss_before_mib": before, "rss_peak_mib": peak_rss_mib(), "maxrss_mib": maxrss_mib(),
            "shape": list(result.shape), "failed_scenarios": int(np.sum(result["status"] != 0))}


def devices_child(args) -> dict:
    """Part 3 in this process: the same sweep on 1, 2, 4, 8 devices, compared with 1 device."""
    runs, first = [], None
    for count in DEVICE_COUNTS:
        c0, t0 = time.process_time(), time.perf_counter()
        result = lifetime_budget_sweep(args.scenarios, args.device_draws, args.seed,
                                       devices=jax.local_devices()[:count])
        wall = time.perf_counter() - t0
        cpu_per_wall = (time.process_time() - c0) / wall
        if first is None:
            first = result
        differing = [name for name in first.fields if not bit_identical(result[name], first[name])]
        runs.append({"devices": result.info["devices"], "wall": wall, "cpu_per_wall": cpu_per_wall,
                     "info": result.info, "differing": differing})
    return {"local_devices": jax.local_device_count(), "runs": runs}


CHILDREN = {"memory": memory_child, "devices": devices_child}


def run_child(kind: str, args, env: dict | None = None) -> dict:
    """Run this script with ``--child kind`` in a fresh Python process; return its JSON report."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--scenarios", str(args.scenarios),
               "--draws", str(args.draws), "--device-draws", str(args.device_draws), "--seed", str(args.seed)]
    if args.chunk_size is not None:
        command += ["--chunk-size", str(args.chunk_size)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} subprocess failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_memory(args) -> None:
    """Part 2: run ``memory_child`` in a fresh process and print its times and memory."""
    rows, cols = grid_shape(args.scenarios)
    solves = rows * cols * args.draws
    print(f"\n-- 2. sl.sweep(sl.compute_optimal), lifetime budgets: {rows} budgets (1e19..1e26 FLOPs) x {cols} "
          f"inference volumes (0, 1e9..1e15 tokens) x {args.draws:,} draws = {solves:.3e} solves, quantiles "
          f"{QUANTILES}, one call in a fresh process --")
    report = run_child("memory", args)
    info = report["info"]
    chunk_rule = "given" if args.chunk_size is not None else \
        f"library default: {DEFAULT_CHUNK_ELEMENTS:,} solves // draws"
    print(f"chunks: {info['chunks']} of {info['chunk_size']} scenarios ({chunk_rule}; "
          f"{info['chunk_size'] * args.draws:.3e} solves, {info['chunk_bytes'] / 2**20:.0f} MiB per chunk by "
          f"XLA's memory analysis), traces {info['traces']}, devices {info['devices']}")
    print(f"wall, first call (compilation included): {report['wall']:.1f} s -> "
          f"{fmt_rate(solves, report['wall'])} solves/s; CPU/wall {report['cpu_per_wall']:.2f}")
    print(f"chunk loop (info['seconds']): {info['seconds']:.1f} s -> {fmt_rate(solves, info['seconds'])} solves/s; "
          f"outside the loop (trace + compile + assembly): {report['wall'] - info['seconds']:.2f} s")
    verdict = "within" if report["rss_peak_mib"] <= 2048 else "ABOVE"
    print(f"peak resident memory of the process: {report['rss_peak_mib']:.0f} MiB (VmHWM; {verdict} the 2048 MiB "
          f"target); before the sweep (Python, JAX, NumPy, SciPy): {report['rss_before_mib']:.0f} MiB; ru_maxrss "
          f"{report['maxrss_mib']:.0f} MiB (carries this parent's peak of {maxrss_mib():.0f} MiB over the spawn)")
    print(f"result shape {tuple(report['shape'])} x {len(QUANTILES)} quantiles; scenarios with a failed draw: "
          f"{report['failed_scenarios']}")


def report_devices(args) -> None:
    """Part 3: run ``devices_child`` with 8 forced host devices and print times and agreement."""
    rows, cols = grid_shape(args.scenarios)
    solves = rows * cols * args.device_draws
    print(f"\n-- 3. the lifetime-budget sweep on {', '.join(map(str, DEVICE_COUNTS))} forced host devices: "
          f"{rows * cols:,} scenarios x {args.device_draws:,} draws = {solves:.3e} solves, one process "
          f"({FORCED_DEVICES}) --")
    print(f"one host device uses about one core; {len(os.sched_getaffinity(0))} CPUs here, shared with other jobs, "
          "so the timings say little: the point is that the program shards and gives bit-identical results")
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {FORCED_DEVICES}".strip()}
    report = run_child("devices", args, env)
    if report["local_devices"] < max(DEVICE_COUNTS):
        print(f"MISMATCH: only {report['local_devices']} local devices were created")
    for run in report["runs"]:
        info = run["info"]
        same = "bit-identical to 1 device" if not run["differing"] else \
            f"MISMATCH with 1 device in {', '.join(run['differing'])}"
        print(f"devices {run['devices']}: wall {run['wall']:6.1f} s (chunk loop {info['seconds']:6.1f} s, "
              f"{fmt_rate(solves, info['seconds'])} solves/s; CPU/wall {run['cpu_per_wall']:.2f}), {info['chunks']} "
              f"chunks of {info['chunk_size']} scenarios; {same}")


# ----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=10_000, help="grid size, parts 1-3 (default 1e4)")
    parser.add_argument("--draws", type=int, default=10_000, help="law draws, part 2 (default 1e4)")
    parser.add_argument("--solve-draws", type=int, default=1000, help="law draws, part 1 (default 1000)")
    parser.add_argument("--device-draws", type=int, default=1000, help="law draws, part 3 (default 1000)")
    parser.add_argument("--np-solves", type=int, default=1_000_000, help="NumPy baseline solves (default 1e6)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions, part 1 (default 5)")
    parser.add_argument("--chunk-size", type=int, default=None, help="scenarios per chunk, part 2 (default: library)")
    parser.add_argument("--skip-devices", action="store_true", help="skip part 3")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds per part")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.scenarios, args.draws, args.solve_draws, args.device_draws = 100, 100, 50, 20
        args.np_solves, args.reps = 1000, 1
    return args


def main() -> None:
    """Parts 1-3 and the machine; with ``--child``, one subprocess part, reported as JSON."""
    args = parse_arguments()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    print("== bench_sweep: sl.sweep over scenario grids x law draws, reduced to quantiles ==")
    print(f"host: {platform.node()}  nproc={os.cpu_count()}  usable CPUs={len(os.sched_getaffinity(0))}  "
          f"loadavg={os.getloadavg()}  python {platform.python_version()}  jax {jax.__version__}  "
          f"numpy {np.__version__}  device {jax.devices()[0]}")
    print(f"law draws: HOFFMANN_2022 x (1 + {DRAW_SCALE} z) per parameter and draw (posterior-like, not a fitted "
          f"posterior); seed {args.seed}{'; --quick sizes' if args.quick else ''}")
    measure_solves(args)
    report_memory(args)
    if args.skip_devices:
        print("\n-- 3. devices: skipped (--skip-devices) --")
    else:
        report_devices(args)
    print(f"\nloadavg at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
