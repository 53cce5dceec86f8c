"""``scalinglaws backtest``: fit on the smaller runs, forecast the larger ones, score the forecasts
(``sl.backtest``)."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import jax
import numpy as np

from ..fit.backtest import LEVELS, _check_cut, backtest
from ..fit.form_error import FormErrorWarning, eligible_cuts
from ..laws import Chinchilla, ComputeLaw, Kaplan
from ._arguments import _argument, _integer, _subcommand, _value_list
from ._fit import (BAYES_DEFAULTS, DATASETS, MAX_BOOTSTRAP, MAX_CHAINS, _host_devices, _library_warnings, _load_runs,
                   _progress)
from ._render import _data_text, engineering
from ._values import RUN_COLUMNS, parse_columns, parse_values

METHODS = ("bayes", "bootstrap", "huber")
"""What makes the forecasts: the NUTS posterior predictive, the bootstrap, the Huber fit."""

BOOTSTRAP_DEFAULT = 1000
"""Refits per cut of ``--method bootstrap`` unless ``--resamples`` says otherwise (``sl.backtest``'s default)."""

FAMILIES = {"chinchilla": Chinchilla, "kaplan": Kaplan, "compute-law": ComputeLaw}
"""The law families ``--family`` names."""

_DESCRIPTION = (
    "Backtest the law leave-future-out, the way it is used: for each cut (a training\n"
    "budget in FLOPs, or a model size in parameters with --by N), fit the law on the runs at\n"
    "or below the cut and forecast every run above it, then score each forecast against\n"
    "the measured loss. Methods (sl.backtest):\n"
    "\n"
    "  bayes (default)  the posterior predictive of the NUTS posterior (sl.fit_bayes)\n"
    "  bootstrap        the bootstrap of the Huber fit, with its residual noise\n"
    "  huber            the Huber point fit with its residual noise (fastest)\n"
    "\n"
    "Every forecast includes the law's form error (learned leave-future-out inside the\n"
    "training runs of each cut, sl.FormError; a cut too small to learn it uses a fallback\n"
    "scale, with a warning) unless --parameter-only. --method bayes samples NUTS at every\n"
    "cut (4 chains x (1000 + 1000) unless --chains, --warmup, --samples); --method huber\n"
    "takes about 2 minutes for chinchilla's 15 cuts on a 2-core CPU. The default cuts are\n"
    "every distinct budget (or size) but the largest that leaves enough runs at or below it\n"
    "to identify the law (at least 10 runs of 3 sizes).\n"
    "\n"
    "Printed per cut: the cut, the runs fitted, the runs forecast, the coverage of the\n"
    "central intervals at each --levels (the fraction of measured losses inside; a\n"
    "calibrated forecast covers its level), the median |relative error| of the forecast\n"
    "median and that of the Huber point fit on the same runs; then the same pooled over\n"
    "every forecast, with the mean log predictive density and the interval scores. The\n"
    "forecasts of one cut share one fit: pooled figures are not independent draws.\n"
    "\n"
    "DATA and --columns are as for 'scalinglaws fit': an embedded dataset\n"
    "(" + ", ".join(DATASETS) + ") or a CSV file with columns N (parameters), loss (nats per\n"
    "token) and D (tokens) or flops (FLOPs).\n"
    "\n"
    "Units: N in parameters, D in tokens, C in FLOPs, loss in nats per token.\n"
)

_EPILOG = (
    "examples:\n"
    "  scalinglaws backtest chinchilla --drop-highest 5 --method huber\n"
    "  scalinglaws backtest chinchilla --drop-highest 5 --method huber --cuts 1e20,1e21 --levels 0.5,0.9\n"
    "  scalinglaws backtest chinchilla --drop-highest 5 --method huber --by N --parameter-only --json\n"
    "  scalinglaws backtest chinchilla --drop-highest 5 --cuts 1e21 --chains 2 --warmup 500 --samples 500\n"
    "  scalinglaws backtest runs.csv --columns N=\"Model Size\",flops=\"Training FLOP\",loss=loss --method bootstrap\n"
    "\n"
    "exit status: 0 ok; 1 a failed or doubtful computation (a warning on stderr says why: a fit\n"
    "did not converge, the sampler's diagnostics are doubtful); 2 usage error (bad option,\n"
    "dataset or file, a cut that leaves too few runs at or below it to identify the law, or\n"
    "none above it).\n"
)


def _levels(text: str) -> tuple[float, ...]:
    """``--levels``: distinct central-interval levels in (0, 1)."""
    values = parse_values(text)
    bad = (values <= 0) | (values >= 1)
    if bad.any():
        raise ValueError(f"levels must be in (0, 1), got {float(values[bad][0])!r}")
    if len(np.unique(values)) < len(values):
        raise ValueError(f"levels must be distinct, got {text.strip()!r}")
    return tuple(float(value) for value in values)


def _add_backtest(commands) -> None:
    command = _subcommand(commands, "backtest", "fit on the smaller runs, forecast the larger ones, and score the "
                          "forecasts' calibration", _DESCRIPTION, _EPILOG, _backtest)
    command.add_argument("data", metavar="DATA",
                         help="an embedded dataset (" + ", ".join(DATASETS) + ") or a CSV file of runs")
    command.add_argument("--columns", type=_argument(parse_columns), metavar="NAME=HEADER,...",
                         help="CSV headers of the library's columns " + ", ".join(RUN_COLUMNS) + ", as for "
                         "'scalinglaws fit' (default: none; CSV files only)")
    command.add_argument("--drop-highest", type=_integer(0), default=0, metavar="K",
                         help="drop the K highest-loss runs first (default: %(default)s, keep all; Besiroglu "
                         "et al. 2024 drop 5 of chinchilla's)")
    command.add_argument("--method", choices=METHODS, default="bayes",
                         help="what makes the forecasts (default: %(default)s)")
    command.add_argument("--by", choices=("flops", "N"), default="flops",
                         help="cut at training budgets (flops, FLOPs) or model sizes (N, parameters) "
                         "(default: %(default)s)")
    command.add_argument("--cuts", type=_value_list(False), metavar="LIST",
                         help="the cut values (FLOPs, or parameters with --by N): a list or range "
                         "start:stop:num (default: every distinct budget or size that leaves enough runs "
                         "at or below it to identify the law)")
    command.add_argument("--levels", type=_argument(_levels), metavar="LIST",
                         help="central-interval levels scored, in (0, 1) (default: "
                         + ",".join(f"{level:g}" for level in LEVELS) + ")")
    command.add_argument("--family", choices=tuple(FAMILIES), default="chinchilla",
                         help="the law: chinchilla L = E + A / N^alpha + B / D^beta, kaplan (the joint "
                         "L(N, D) of Kaplan et al. 2020), compute-law L = E + (C0 / C)^alpha "
                         "(default: %(default)s)")
    command.add_argument("--parameter-only", action="store_true",
                         help="forecast with the parameter uncertainty (and run-to-run noise) only, without "
                         "the law's form error (default: off, the form error is included)")
    command.add_argument("--chains", type=_integer(1, MAX_CHAINS), metavar="N",
                         help=f"NUTS chains per fit, 1 to {MAX_CHAINS} (--method bayes; default: "
                         f"{BAYES_DEFAULTS['chains']})")
    command.add_argument("--warmup", type=_integer(1), metavar="N",
                         help="warm-up iterations per chain (--method bayes; default: "
                         f"{BAYES_DEFAULTS['warmup']})")
    command.add_argument("--samples", type=_integer(4), metavar="N",
                         help="draws kept per chain, at least 4 (--method bayes; default: "
                         f"{BAYES_DEFAULTS['samples']})")
    command.add_argument("--resamples", type=_integer(2, MAX_BOOTSTRAP), metavar="N",
                         help=f"bootstrap refits per cut, 2 to {MAX_BOOTSTRAP} (--method bootstrap; default: "
                         f"{BOOTSTRAP_DEFAULT})")
    command.add_argument("--seed", type=_integer(0, 2**32 - 1), metavar="S",
                         help="seed of the JAX PRNG key, jax.random.key(S), of the fits and forecasts "
                         "(default: 0)")
    command.add_argument("--json", action="store_true",
                         help="print one JSON object instead of text: Backtest.summary() (pooled coverage, "
                         "interval score, width, log density, median |error| and the Huber fit's, per level, "
                         "and the same per cut under 'cuts'; null for NaN) with the data and the settings; no "
                         "progress on stderr")


def _backtest(args) -> dict:
    """``scalinglaws backtest``: load the runs, backtest them, summarise."""
    _check_options(args)
    fit_kwargs = {}
    if args.method == "bayes":
        _host_devices(BAYES_DEFAULTS["chains"] if args.chains is None else args.chains)
        for option, name in (("chains", "num_chains"), ("warmup", "num_warmup"), ("samples", "num_samples")):
            if getattr(args, option) is not None:
                fit_kwargs[name] = getattr(args, option)
    if args.resamples is not None:
        fit_kwargs["n"] = args.resamples
    runs, data = _load_runs(args)
    levels = LEVELS if args.levels is None else args.levels
    seed = 0 if args.seed is None else args.seed
    count = _cut_count(args, runs)
    if count:
        _progress(args, f"backtest: {args.method} forecasts of {len(runs)} runs, cut by {args.by} at {count} "
                  f"{'cut' if count == 1 else 'cuts'} ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = backtest(runs, method=args.method, by=args.by, cuts=args.cuts, levels=levels,
                          key=jax.random.key(seed), family=FAMILIES[args.family],
                          form_error=not args.parameter_only, **fit_kwargs)
    fallback = [item for item in caught if issubclass(item.category, FormErrorWarning)]
    messages = [" ".join(str(item.message).split()) for item in fallback]
    messages += [message + " On the command line: raise --warmup and --samples, or --chains."
                 if message.startswith("fit_bayes:") else message
                 for message in _library_warnings([item for item in caught if item not in fallback])]
    messages = [f"{message} ({count} times)" if count > 1 else message for message, count in Counter(messages).items()]
    summary = _plain_data(result.summary())
    failed = int(np.sum(~np.isfinite(result.median)))
    if failed:
        messages.append(f"{failed} of {len(result)} forecasts failed (NaN): their fits did not give a forecast")
    return {
        **summary,
        "command": "backtest",
        "data": data,
        "settings": {"family": args.family, "seed": seed, **fit_kwargs},
        "warnings": messages,
        "rows": [],
    }


def _cut_count(args, runs) -> int:
    """How many cuts the backtest makes, each checked first as ``sl.backtest`` checks it, so that a
    cut leaving too few runs is a one-line error with no progress line before it."""
    family = FAMILIES[args.family]
    if args.cuts is None:
        return len(eligible_cuts(runs, args.by, family, min_fraction=0.0))
    unit = "FLOPs" if args.by == "flops" else "parameters"
    for cut in args.cuts:
        _check_cut(runs, getattr(runs, args.by), float(cut), args.by, unit, family)
    return len(args.cuts)


def _check_options(args) -> None:
    if args.method != "bayes":
        for option in ("chains", "warmup", "samples"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option}: only used with --method bayes, not --method {args.method}")
    if args.method != "bootstrap" and args.resamples is not None:
        raise ValueError(f"--resamples: only used with --method bootstrap, not --method {args.method}")
    if args.columns is not None and args.data in DATASETS:
        raise ValueError(f"--columns: only used with a CSV file, not the embedded dataset {args.data}")


def _plain_data(value):
    """``value`` with NaN and infinities as None, as the other commands' JSON has them."""
    if isinstance(value, dict):
        return {key: _plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----------------------------------------------------------------------------------
# text output


def _render_backtest(result: dict) -> str:
    """The result of ``backtest`` as text: the data, the method, one row per cut and the pooled row."""
    levels = result["levels"]
    by_flops = result["by"] == "flops"
    form = "with the law's form error" if result["form_error"] else "parameter uncertainty only (no form error)"
    lines = [
        _data_text(result["data"]),
        f"backtest: {result['method']} forecasts ({form}) of a {result['settings']['family']} law, cut by "
        + ("training compute (FLOPs)" if by_flops else "model size (parameters)")
        + ": fit on the runs at or below each cut, forecast those above it",
        "",
    ]
    head = ["cut (FLOPs)" if by_flops else "cut (params)", "train", "forecasts",
            *(f"{level:.0%}" if float(f"{100 * level:g}").is_integer() else f"{100 * level:g}%" for level in levels),
            "median |error|", "Huber fit's"]
    cells = [head]

    def row(name, figures, train):
        coverage = [_number(figures["coverage"][str(level)], ".2f") for level in levels]
        return [name, train, str(figures["forecasts"]), *coverage, _percent(figures["median_abs_error"]),
                _percent(figures["huber_median_abs_error"])]

    for cut in result["cuts"]:
        value = f"{cut['cut']:.2e}" if by_flops else engineering(cut["cut"])
        cells.append(row(value, cut, str(cut["train"])))
    cells.append(row("pooled", result, ""))
    widths = [max(len(line[i]) for line in cells) for i in range(len(head))]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    lines += ["", "coverage: the fraction of measured losses inside the central interval of each level "
              "(calibrated: the level)"]
    scores = ", ".join(f"{level:g}: {_number(result['interval_score'][str(level)], '.4f')}" for level in levels)
    lines.append(f"pooled: mean log predictive density {_number(result['log_density'], '.3f')}, "
                 f"bias {_percent(result['bias'], signed=True)}; interval score (nats) {scores}")
    lines.append("note: the forecasts of one cut share one fit, so pooled figures are not independent draws")
    return "\n".join(lines)


def _number(value, pattern: str) -> str:
    return "nan" if value is None else format(value, pattern)


def _percent(value, signed: bool = False) -> str:
    return "nan" if value is None else format(100 * value, "+.2f" if signed else ".2f") + "%"
