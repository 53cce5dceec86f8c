"""``scalinglaws demo``: the library's tour on Hoffmann et al.'s Chinchilla runs, in one command.

Fits the law three ways (the Huber fit, its bootstrap, the NUTS posterior), prints the law
with intervals, the compute-optimal table for 1e19 ... 1e25 FLOPs with intervals and an
inference-aware plan, and writes the library's figures as PNG files.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import datasets
from ..allocate import DEFAULT_BUDGETS, compute_optimal, inference_optimal
from ..fit.backtest import backtest
from ..fit.bayes import fit_bayes
from ..fit.huber import bootstrap, fit_huber
from ..fit.isoflop import fit_isoflop
from ..flops import inference_flops
from ._arguments import _integer, _subcommand
from ._fit import _host_devices, _library_warnings
from ._render import _rows

DEFAULT_OUT = "scalinglaws-demo"
LEVEL = 0.95
"""Coverage of the printed intervals."""

SETTINGS = {
    "full": {"bootstrap": 1000, "chains": 4, "warmup": 1000, "samples": 1000},
    "quick": {"bootstrap": 100, "chains": 4, "warmup": 500, "samples": 1000},
}
"""Resamples and NUTS settings: the default, and --quick (for a first look and the tests)."""

INFERENCE_BUDGET = 1e23
INFERENCE_TOKENS = 1e13
"""The inference-aware example: the loss of the compute-optimal model at this budget, reached
with the least lifetime compute when the model serves this many tokens."""

FIGURES = ("loss_vs_compute", "isoflop_profiles", "loss_surface", "optimal_allocation", "posterior_pairs",
           "inference_tradeoff", "emergence", "calibration")
"""The figures written, by file name (each ``NAME.png``), made by ``sl.plot.NAME``."""

BACKTEST_CUTS = (1e20, 3e20, 1e21)
"""Training budgets (FLOPs) of the calibration figure's backtest: the Huber fit's forecasts, with
the law's form error, of the runs above each budget from those at or below it (190 forecasts)."""

_DESCRIPTION = (
    "A tour of scalinglaws_jax on the 240 Chinchilla training runs (Hoffmann et al. 2022, as\n"
    "digitised by Besiroglu et al. 2024; the 5 highest-loss points dropped):\n"
    "\n"
    "  1. the Huber fit of L = E + A / N^alpha + B / D^beta (Approach 3, 4500 starts),\n"
    "  2. its bootstrap, and the Bayesian posterior (NUTS),\n"
    "  3. the law with 95% intervals from both,\n"
    "  4. the compute-optimal table for 1e19 ... 1e25 FLOPs with posterior intervals,\n"
    "  5. an inference-aware plan (Sardana et al. 2023),\n"
    "  6. the figures, as PNG files in --out, with the calibration of a backtest: the\n"
    "     Huber fit's forecasts of the runs above 1e20, 3e20 and 1e21 FLOPs from those at\n"
    "     or below.\n"
    "\n"
    "Progress goes to stderr; about 1-2 minutes on a 2-core CPU (--quick: less).\n"
)

_EPILOG = (
    "examples:\n"
    "  scalinglaws demo\n"
    "  scalinglaws demo --out docs/gallery\n"
    "  scalinglaws demo --quick --no-figures\n"
    "\n"
    "exit status: 0 ok; 1 a fit's diagnostics were doubtful (a warning on stderr); 2 usage error.\n"
)


def _add_demo(commands) -> None:
    demo = _subcommand(commands, "demo", "fit the Chinchilla runs three ways, print the plan, draw the figures",
                       _DESCRIPTION, _EPILOG, _demo)
    demo.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                      help="folder for the PNG figures (default: ./%(default)s; created with its parents if missing)")
    demo.add_argument("--quick", action="store_true",
                      help="fewer resamples and posterior draws (%s resamples, NUTS %d x (%d + %d))"
                      % (SETTINGS["quick"]["bootstrap"], SETTINGS["quick"]["chains"], SETTINGS["quick"]["warmup"],
                         SETTINGS["quick"]["samples"]))
    demo.add_argument("--no-figures", action="store_true", help="skip the figures")
    demo.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0, metavar="S",
                      help="seed of the bootstrap and the sampler (default %(default)s)")
    demo.add_argument("--json", action="store_true", help="print one JSON object instead of text")


class _Steps:
    """Numbered progress lines on stderr, each with its wall time."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.done, self.quiet = total, 0, quiet

    def __call__(self, message: str, work):
        self.done += 1
        if not self.quiet:
            print(f"[{self.done}/{self.total}] {message} ...", end="", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = work()
        if not self.quiet:
            print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        return result


def _demo(args) -> dict:
    settings = SETTINGS["quick" if args.quick else "full"]
    out = Path(args.out)
    if not args.no_figures:
        blocked = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise ValueError(f"--out: {str(blocked)!r} exists and is not a directory")
    _host_devices(settings["chains"])
    runs = datasets.chinchilla(drop_highest=5)
    key = jax.random.key(args.seed)
    boot_key, bayes_key = jax.random.split(key)
    steps = _Steps(5 if args.no_figures else 6, args.json)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = steps(f"Huber fit of {len(runs)} runs from 4500 starts", lambda: fit_huber(runs))
        boot = steps(f"bootstrap, {settings['bootstrap']} resamples",
                     lambda: bootstrap(runs, settings["bootstrap"], key=boot_key, fit=fit))
        post = steps(f"posterior, NUTS {settings['chains']} chains x ({settings['warmup']} warm-up + "
                     f"{settings['samples']} draws)",
                     lambda: fit_bayes(runs, key=bayes_key, num_chains=settings["chains"],
                                       num_warmup=settings["warmup"], num_samples=settings["samples"]))
        isoflop = steps("IsoFLOP profiles (Approach 2)", lambda: fit_isoflop(runs))
        plans = steps("compute-optimal table and inference-aware plan", lambda: _plans(fit, post))
        figures = [] if args.no_figures else steps(f"figures -> {out}/",
                                                   lambda: _figures(out, runs, fit, boot, post, isoflop))
    messages = _library_warnings(caught)
    return {
        "command": "demo",
        "data": {"source": "chinchilla", "n_runs": len(runs), "drop_highest": 5},
        "settings": settings,
        "law": _law_table(fit, boot, post),
        "inference": plans["inference"],
        "figures": [str(path) for path in figures],
        "warnings": messages,
        "rows": plans["rows"],
    }


def _quantiles(values, ok=None):
    """(median, low, high) over axis 0 at ``LEVEL``, over the entries where ``ok``."""
    values = np.asarray(values, dtype=float)
    if ok is not None:
        values = np.where(ok, values, np.nan)
    tail = (1.0 - LEVEL) / 2.0
    low, median, high = np.nanquantile(values, [tail, 0.5, 1.0 - tail], axis=0)
    return median, low, high


def _law_table(fit, boot, post) -> dict:
    """Per parameter: the Huber estimate, the bootstrap interval, the posterior median and interval."""
    table = {}
    for name in ("E", "A", "B", "alpha", "beta"):
        low, high = boot.intervals[name]
        median, post_low, post_high = _quantiles(post.draws(name))
        table[name] = {"huber": float(getattr(fit.law, name)), "bootstrap": [float(low), float(high)],
                       "posterior": float(median), "posterior_interval": [float(post_low), float(post_high)]}
    return table


def _plans(fit, post) -> dict:
    """The posterior compute-optimal table, and the inference-aware plan of the point fit."""
    flops = jnp.asarray(DEFAULT_BUDGETS)
    draws = jax.vmap(compute_optimal, (0, None))(post.law, flops)
    ok = np.asarray(draws.status) == 0
    columns = {"flops": np.asarray(flops)}
    # the loss is each draw's forecast at its own plan: noise and the law's form error beyond the runs
    N_or_1, D_or_1 = (np.where(ok, np.asarray(x), 1.0) for x in (draws.N, draws.D))
    values = {"N": draws.N, "D": draws.D, "loss": post.predict(N_or_1, D_or_1, paired=True)}
    for name, value in values.items():
        median, low, high = _quantiles(value, ok)
        columns.update({name: median, f"{name}_low": low, f"{name}_high": high})
    columns["tokens_per_param"] = _quantiles(np.asarray(draws.D) / np.asarray(draws.N), ok)[0]
    columns["status"] = np.asarray(draws.status).max(axis=0)

    target = compute_optimal(fit.law, INFERENCE_BUDGET)
    served = inference_optimal(fit.law, target.loss, INFERENCE_TOKENS)
    naive = float(target.training_flops) + float(inference_flops(target.N, INFERENCE_TOKENS))
    inference = {
        "budget": INFERENCE_BUDGET, "inference_tokens": INFERENCE_TOKENS, "loss": float(target.loss),
        "compute_optimal": {"N": float(target.N), "D": float(target.D), "lifetime_flops": naive},
        "inference_optimal": {"N": float(served.N), "D": float(served.D),
                              "lifetime_flops": float(served.lifetime_flops)},
        "saving": 1.0 - float(served.lifetime_flops) / naive,
    }
    return {"rows": _rows(columns), "inference": inference}


def _figures(out: Path, runs, fit, boot, post, isoflop) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import plot

    out.mkdir(parents=True, exist_ok=True)
    made = {
        "loss_vs_compute": lambda: plot.loss_vs_compute(runs, fit.law, post),
        "isoflop_profiles": lambda: plot.isoflop_profiles(isoflop, runs),
        "loss_surface": lambda: plot.loss_surface(fit.law),
        "optimal_allocation": lambda: plot.optimal_allocation(fit.law, post.law),
        "posterior_pairs": lambda: plot.posterior_pairs(post),
        "inference_tradeoff": lambda: plot.inference_tradeoff(fit.law),
        "emergence": lambda: plot.emergence(),
        "calibration": lambda: plot.calibration(backtest(runs, method="huber", cuts=BACKTEST_CUTS)),
    }
    paths = []
    for name in FIGURES:
        figure = made[name]()
        path = out / f"{name}.png"
        figure.savefig(path, dpi=150, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths
