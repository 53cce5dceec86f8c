"""Held-out extrapolation on real ladders: are the library's forecast intervals honest?

Each split fits on the smaller runs and forecasts the larger ones (``sl.backtest`` with
one cut); none of them is used to tune anything inside the library:

- Chinchilla (Hoffmann et al. 2022, digitised by Besiroglu et al. 2024; the 240 runs
  left after dropping the 5 highest losses), cut at 1e20 and at 1e21 FLOPs;
- Sardana et al. 2024 (47 runs, 10-10,000 tokens per parameter), cut at N <= 1e9;
- Gadre et al. 2024's testbed on each of its three training sets (C4, RedPajama,
  RefinedWeb; C4 validation loss), fitted on the models below 2e8 parameters and
  forecasting the 411M models.

Methods, each on the same runs below the cut (fixed seeds):

- ``bayes``: ``sl.fit_bayes`` (4 chains x 1000 + 1000, the defaults) and its posterior
  predictive, with the law's form error (the default) and without it
  (``form_error=False``: parameters and noise only);
- ``bootstrap``: ``sl.bootstrap`` refits plus resampled residuals, with and without the
  form error;
- the Huber point fit's errors beside them.

Printed per split and pooled over all held-out runs (and as the mean of the splits):
coverage of the central 50/80/90/95% intervals, the mean interval score at 90% (nats;
Gneiting & Raftery 2007), the median 90% width relative to the observed loss, the median
|relative error| of the predictive median and of the Huber fit. With 7-104 held-out runs
per split, and runs of one split sharing one fit, a split's coverage is coarse: the 90%
coverage of 8 runs has a binomial SE of 0.11 even for independent runs.

``--simulated`` repeats every split on losses simulated from the law itself: the Huber
fit on all of the split's runs, at the same (N, D), with Student-t(4) noise of the fit's
robust residual scale; there the calibrated intervals should hold their nominal coverage
and be at most 1.5x wider than the parameter-only ones (the ratio of median 90% widths is
printed). ``--shape`` prints the root-mean-square of the internal leave-future-out errors
``sl.fit.form_error.internal_forecasts`` learns the form error from, by distance from the
smaller runs' hull, and its ratio to sqrt(distance): the evidence for the form error's
sqrt growth (its variance grows linearly with the distance).

Run:  python benchmarks/heldout.py                    # bayes and bootstrap, ~10 min
      python benchmarks/heldout.py --methods huber bootstrap --simulated
Options: --methods (bayes bootstrap huber), --bootstrap (resamples, 1000), --seed (0),
--simulated (also), --simulated-only, --shape, --splits (names to run, default all).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import scalinglaws_jax as sl  # noqa: E402
from scalinglaws_jax.fit import form_error  # noqa: E402

LEVELS = (0.5, 0.8, 0.9, 0.95)


def splits() -> list[tuple[str, sl.Runs, str, float]]:
    """(name, runs, by, cut) of each held-out split."""
    chinchilla = sl.datasets.chinchilla(drop_highest=5)
    out = [("chinchilla C<=1e20", chinchilla, "flops", 1e20), ("chinchilla C<=1e21", chinchilla, "flops", 1e21),
           ("sardana N<=1e9", sl.datasets.sardana(), "N", 1e9)]
    for train_set, label in (("c4_original", "c4"), ("rpj", "redpajama"), ("rw_original", "refinedweb")):
        out.append((f"gadre {label} N<2e8", sl.datasets.gadre(train_set), "N", 2e8))
    return out


def simulated(runs: sl.Runs, key) -> sl.Runs:
    """The runs' (N, D) with losses from the Huber fit on them and Student-t(4) noise of its residual scale."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        law = sl.fit_huber(runs).law
    mu = form_error.law_log_loss(law, runs)
    scale = form_error.residual_scale(mu - np.log(runs.loss))
    noise = np.asarray(jax.random.t(key, 4.0, mu.shape, dtype=np.float64))
    return sl.Runs(N=runs.N, D=runs.D, loss=np.exp(mu + scale * noise))


def row(backtest: sl.Backtest) -> dict:
    i90 = backtest.levels.index(0.9)
    return {"coverage": backtest.coverage(), "score90": float(backtest.interval_score()[i90]),
            "width90": float(backtest.width()[i90]), "error": float(np.median(np.abs(backtest.relative_error))),
            "huber": float(np.median(np.abs(backtest.huber_error))), "n": len(backtest),
            "covered": backtest.covered, "relative": backtest.relative_error,
            "huber_errors": backtest.huber_error, "widths": (backtest.high - backtest.low)[:, i90] / backtest.observed}


def print_row(label: str, values: dict) -> None:
    cover = " ".join(f"{value:5.3f}" for value in values["coverage"])
    print(f"  {label:<26} {cover}  {values['score90']:9.4f} {values['width90']:8.2%} {values['error']:8.3%} "
          f"{values['huber']:8.3%}  ({values['n']} runs)", flush=True)


def pooled(rows: list[dict]) -> dict:
    covered = np.concatenate([r["covered"] for r in rows])
    return {"coverage": covered.mean(axis=0), "score90": float(np.mean([r["score90"] for r in rows])),
            "width90": float(np.median(np.concatenate([r["widths"] for r in rows]))),
            "error": float(np.median(np.abs(np.concatenate([r["relative"] for r in rows])))),
            "huber": float(np.median(np.abs(np.concatenate([r["huber_errors"] for r in rows])))),
            "n": int(covered.shape[0]), "split_mean": np.mean([r["coverage"] for r in rows], axis=0),
            "split_min": np.min([r["coverage"] for r in rows], axis=0)}


def shape(name: str, runs: sl.Runs, by: str, cut: float) -> None:
    train = runs.select(form_error.at_or_below(getattr(runs, by), cut))
    forecasts = form_error.internal_forecasts(train, sl.Chinchilla)
    if forecasts is None:
        print(f"  {name}: no internal cut")
        return
    edges = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0)
    cells = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (forecasts["distance"] > low) & (forecasts["distance"] <= high)
        if mask.sum() >= 3:
            rms = np.sqrt(np.mean(forecasts["error"][mask] ** 2))
            middle = np.median(forecasts["distance"][mask])
            cells.append(f"({low:g},{high:g}] {rms:.4f} /sqrt {rms / np.sqrt(middle):.3f} n{int(mask.sum())}")
    print(f"  {name}: " + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["bayes", "bootstrap"], choices=["bayes", "bootstrap", "huber"])
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--simulated", action="store_true", help="also on losses simulated from the law")
    parser.add_argument("--simulated-only", action="store_true", help="only on losses simulated from the law")
    parser.add_argument("--shape", action="store_true", help="print the internal errors by distance")
    parser.add_argument("--splits", nargs="*", help="substrings of the split names to run (default: all)")
    args = parser.parse_args()
    print(f"held-out extrapolation: nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, "
          f"{jax.local_device_count()} CPU devices, jax {jax.__version__}, scalinglaws_jax {sl.__version__}")
    chosen = [s for s in splits() if not args.splits or any(part in s[0] for part in args.splits)]
    if args.shape:
        print("internal leave-future-out errors (log loss) by distance (decades) from the smaller runs' hull:")
        for name, runs, by, cut in chosen:
            shape(name, runs, by, cut)
    variants = ([("real", False)] if not args.simulated_only else []) + (
        [("simulated", True)] if args.simulated or args.simulated_only else [])
    for variant, simulate in variants:
        table: dict[str, list[dict]] = {}
        print(f"\n{variant} losses; columns: coverage at {', '.join(f'{level:g}' for level in LEVELS)}, "
              "interval score at 0.9 (nats), median 90% width, median |error|, Huber's median |error|")
        for index, (name, runs, by, cut) in enumerate(chosen):
            key = jax.random.key(args.seed)
            if simulate:
                runs = simulated(runs, jax.random.fold_in(key, 1000 + index))
            print(f"{name}: {int(form_error.at_or_below(getattr(runs, by), cut).sum())} runs fitted, "
                  f"{int((~form_error.at_or_below(getattr(runs, by), cut)).sum())} forecast", flush=True)
            for method in args.methods:
                for calibrated in (True, False):
                    label = f"{method} {'calibrated' if calibrated else 'parameter-only'}"
                    options = {"n": args.bootstrap} if method == "bootstrap" else {}
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            result = sl.backtest(runs, method, by=by, cuts=[cut], levels=LEVELS, key=key,
                                                 form_error=calibrated, **options)
                        except (ValueError, RuntimeError) as error:
                            print(f"  {label}: refused: {' '.join(str(error).split())[:160]}", flush=True)
                            continue
                    values = row(result)
                    table.setdefault(label, []).append(values)
                    print_row(f"{label} ({time.perf_counter() - start:.0f} s)", values)
        print(f"\n{variant} losses, pooled over the {len(chosen)} splits (all held-out runs; then the mean and the "
              "least of the splits' coverages):")
        for label, rows in table.items():
            values = pooled(rows)
            print_row(label, values)
            print(f"  {'':<26} split mean {' '.join(f'{v:5.2f}' for v in values['split_mean'])}, "
                  f"least {' '.join(f'{v:5.2f}' for v in values['split_min'])}")
        for method in args.methods:
            calibrated, plain = table.get(f"{method} calibrated", []), table.get(f"{method} parameter-only", [])
            if len(calibrated) != len(plain):
                continue
            ratios = [c["width90"] / p["width90"] for c, p in zip(calibrated, plain)]
            print(f"  {method}: median 90% width, calibrated / parameter-only, per split: "
                  + ", ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
