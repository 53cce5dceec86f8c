"""Benchmark: peak memory and time of ``sl.fit_huber`` on many synthetic runs.

The problem: the default Chinchilla fit (Hoffmann et al.'s 4500 starts, Huber delta
1e-3 on log loss) of ``--sizes`` runs drawn from ``sl.EPOCH_2024`` (Besiroglu et al.
2024): N log-uniform in 1e7-1e11 parameters, D / N log-uniform in 2-200 tokens per
parameter, 0.5% log-normal noise on the loss, fixed seed. Each size runs in a fresh
Python process, so that its peak resident memory (``resource.getrusage``'s
``ru_maxrss``, which never goes down) belongs to that fit alone; the process reports
the peak after start-up (JAX imported, runs made) and after the fit, the fit's wall time
(compilation included: every size compiles its own program) and the fitted law.

This is a benchmark, not a test: nothing here asserts a time. Machines are shared: the
load average is printed with each size.

Run:  python benchmarks/bench_fit_memory.py                     # 1e4, 1e5, 1e6 runs
      python benchmarks/bench_fit_memory.py --sizes 1e4,3e4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TRUTH = {"E": 1.82, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}  # sl.EPOCH_2024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _one(size: int, seed: int) -> dict:
    """Fit ``size`` synthetic runs in this process; the figures as a dict."""
    import warnings

    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import scalinglaws_jax as sl

    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e11), size))
    D = N * np.exp(rng.uniform(np.log(2.0), np.log(200.0), size))
    loss = np.asarray(sl.EPOCH_2024.loss(N, D)) * np.exp(0.005 * rng.standard_normal(size))
    runs = sl.Runs(N=N, D=D, loss=loss)
    before = _peak_mib()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sl.fit_huber(runs)
        except (ValueError, MemoryError, RuntimeError) as error:  # reported, not raised
            return {"runs": size, "error": f"{type(error).__name__}: {' '.join(str(error).split())[:300]}",
                    "seconds": time.perf_counter() - start, "peak_mib_start": before, "peak_mib": _peak_mib()}
    seconds = time.perf_counter() - start
    law = {name: float(getattr(fit.law, name)) for name in TRUTH}
    return {"runs": size, "seconds": seconds, "peak_mib_start": before, "peak_mib": _peak_mib(),
            "objective": fit.objective, "best_converged": bool(fit.converged[np.nanargmin(fit.end_objectives)]),
            "law": law, "warnings": [str(item.message) for item in caught]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6",
                        help="numbers of runs, comma-separated (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic runs (default: %(default)s)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_one(args.child, args.seed)))
        return
    print(f"python {sys.version.split()[0]}, nproc {os.cpu_count()}; truth {TRUTH}")
    print(f"{'runs':>9} {'time s':>8} {'peak MiB':>9} {'start MiB':>9}  result")
    for text in args.sizes.split(","):
        size = int(float(text))
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        done = subprocess.run([sys.executable, __file__, "--child", str(size), "--seed", str(args.seed)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
            print(f"{size:>9} failed with exit status {done.returncode}: {tail[0]}  (load {load})")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        if "error" in row:
            result = row["error"]
        else:
            law = ", ".join(f"{name}={value:.4g}" for name, value in row["law"].items())
            result = f"objective {row['objective']:.6g}, converged {row['best_converged']}, {law}"
            if row["warnings"]:
                result += f"; warnings: {row['warnings']}"
        print(f"{size:>9} {row['seconds']:>8.1f} {row['peak_mib']:>9.0f} {row['peak_mib_start']:>9.0f}  {result}"
              f"  (load {load})")


if __name__ == "__main__":
    main()
