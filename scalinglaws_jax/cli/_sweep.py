"""``scalinglaws sweep``: every (budget or target loss, inference volume) scenario for a
published law or every draw of a saved posterior, with ``sl.sweep``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import jax
import numpy as np

from ..allocate import compute_optimal, inference_optimal
from ..domain import FAR_OUTSIDE, PRESET_DOMAINS
from ..laws import PRESETS
from .._files import atomic_write
from .._sweep import sweep
from ._arguments import _integer, _subcommand, _value_list
from ._render import _plain
from ._values import parse_values

DEFAULT_QUANTILES = "0.05,0.5,0.95"
SUMMARY_BUDGETS = 7
"""Rows of the printed summary per inference volume: budgets (or losses) spread over the axis."""

_DESCRIPTION = (
    "Solve every scenario of a grid with one compiled program, in chunks, on every local\n"
    "device:\n"
    "\n"
    "  --flops C [--inference-tokens T]   the plan with the lowest loss for a lifetime\n"
    "                                     budget C = 6 N D + 2 N T (FLOPs)\n"
    "  --loss L [--inference-tokens T]    the plan reaching loss L with the least lifetime\n"
    "                                     compute (Sardana et al. 2023)\n"
    "\n"
    "for every pair of values (the grid is their product). With a posterior saved by\n"
    "'scalinglaws fit --bayes --save PATH', every scenario is solved for every posterior\n"
    "draw and reduced over the draws to their median and --quantiles. With --out DIR, chunks\n"
    "are written to DIR as they finish together with a manifest, and the assembled result to\n"
    "DIR/result.npz; running the same command again resumes, skipping finished chunks and\n"
    "computing damaged ones again. A directory holding a different sweep is refused.\n"
    "Scenarios whose plans lie beyond the runs the law was fitted on (a preset's published\n"
    "runs, a posterior's own), and those far beyond, are counted in a note.\n"
    "\n"
    "Values are lists and log-spaced ranges 'start:stop:num' (e.g. '0,1e9:1e15:100'), and\n"
    "must increase.\n"
)

_EPILOG = (
    "examples:\n"
    "  scalinglaws sweep --flops 1e19:1e26:200 --inference-tokens 0,1e9:1e15:100\n"
    "  scalinglaws sweep --law posterior.npz --flops 1e19:1e26:200 --inference-tokens 0,1e9:1e15:100 \\\n"
    "      --quantiles 0.05,0.5,0.95 --out sweep-dir\n"
    "  scalinglaws sweep --law hoffmann-2022 --loss 1.9:2.5:50 --inference-tokens 0,1e12 --json\n"
    "\n"
    "output: the grid's size and timing, and a summary table (budgets spread over the grid at\n"
    "the smallest and largest inference volume); with a posterior, each value is the median\n"
    "and the outer quantiles. The full grid is in DIR/result.npz with --out.\n"
    "\n"
    "exit status: 0 ok; 1 some scenario did not solve for some draw (see the status column);\n"
    "2 usage error.\n"
)


def _add_sweep(commands) -> None:
    command = _subcommand(commands, "sweep", "solve a grid of budgets and inference volumes, for a law or a posterior",
                          _DESCRIPTION, _EPILOG, _sweep)
    command.add_argument("--law", default="epoch-2024", metavar="PRESET|PATH",
                         help=f"a published law ({', '.join(sorted(PRESETS))}; default %(default)s) or a "
                         "posterior saved by 'scalinglaws fit --bayes --save PATH'")
    goal = command.add_mutually_exclusive_group(required=True)
    goal.add_argument("--flops", type=_value_list(False), metavar="C",
                      help="lifetime compute budgets (FLOPs): training plus 2 N T of inference")
    goal.add_argument("--loss", type=_value_list(False), metavar="L",
                      help="target losses (nats per token)")
    command.add_argument("--inference-tokens", type=_value_list(True), default=np.zeros(1), metavar="T",
                         help="lifetime inference tokens (default 0: training only)")
    command.add_argument("--quantiles", type=_quantile_list, metavar="Q",
                         help="quantile levels over a posterior's draws (default %s; the median is always "
                         "computed, for the summary)" % DEFAULT_QUANTILES)
    command.add_argument("--out", metavar="DIR",
                         help="write chunks, a manifest and result.npz to DIR; resume a sweep found there")
    command.add_argument("--chunk-size", type=_integer(1), metavar="K",
                         help="scenarios per chunk (default: that of the sweep resumed in --out, else about a "
                         "million solves per chunk)")
    command.add_argument("--float32", action="store_true",
                         help="single precision (faster on accelerators; relative error ~1e-5, README)")
    command.add_argument("--no-progress", action="store_true", help="no progress bar")
    command.add_argument("--json", action="store_true",
                         help="print one JSON object: the law, the grid, timings and the summary rows")


def _quantile_list(text: str) -> tuple[float, ...]:
    """An argparse type: quantile levels in [0, 1], in any order."""
    import argparse

    try:
        values = parse_values(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    bad = (values < 0) | (values > 1)
    if bad.any():
        raise argparse.ArgumentTypeError(f"quantiles must lie in [0, 1], got {float(values[bad][0])!r}")
    return tuple(float(v) for v in values)


def _increasing(option: str, values: np.ndarray) -> np.ndarray:
    steps = np.diff(values)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise ValueError(f"{option} must increase, got {values[i]:g} then {values[i + 1]:g} (an inverted range "
                         f"or a repeated value; write ranges as start:stop:num with start < stop)")
    return values


def _load_law(text: str):
    """A preset by name, else a saved posterior's batched law; returns (law, description,
    the Domain of the runs behind it or None)."""
    if text in PRESETS:
        law = PRESETS[text]
        return law, {"name": text, "family": type(law).__name__, "draws": 0}, PRESET_DOMAINS.get(text)
    path = Path(text)
    if not path.exists() and not path.with_suffix(".npz").exists():
        raise ValueError(f"--law: {text!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a file")
    from ..fit.bayes import Posterior

    post = Posterior.load(path)
    return post.law, {"name": str(path), "family": type(post.law).__name__, "draws": post.num_draws,
                      "method": post.method}, post.domain


def _sweep(args) -> dict:
    law, description, domain = _load_law(args.law)
    if args.quantiles is not None and not description["draws"]:
        raise ValueError(f"--quantiles: only used with a posterior (--law PATH, saved by 'scalinglaws fit --bayes "
                         f"--save PATH'); {args.law} is a single law")
    levels = sorted({*(args.quantiles or _quantile_list(DEFAULT_QUANTILES)), 0.5})
    volumes = _increasing("--inference-tokens", args.inference_tokens)
    if args.flops is not None:
        name, goal, solver = "flops", _increasing("--flops", args.flops), compute_optimal
    else:
        name, goal, solver = "loss", _increasing("--loss", args.loss), inference_optimal
    if args.out is not None:
        _check_out(args.out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sweep(solver, law, quantiles=levels, chunk_size=args.chunk_size, out=args.out,
                       progress=False if args.no_progress else None, dtype="float32" if args.float32 else "float64",
                       **{name: goal, "inference_tokens": volumes})
    if args.out is not None:
        _save_result(Path(args.out) / "result.npz", result)
    info = result.info
    scenarios, solves = info["scenarios"], info["solves"]
    failed = int(np.count_nonzero(result["status"]))
    notes = [f"{scenarios:,} scenarios ({len(goal)} x {len(volumes)}) x {max(result.draws, 1):,} "
             f"law draw(s) = {solves:,} solves in {info['chunks']} chunk(s) of {info['chunk_size']:,} "
             f"on {info['devices']} {jax.default_backend()} device(s), {info['dtype']}: "
             f"{info['seconds']:.2f} s after compilation ({solves / max(info['seconds'], 1e-9):.3g} solves/s)"]
    notes += _sweep_notes(caught)
    if info["resumed_chunks"]:
        notes.append(f"resumed: {info['resumed_chunks']} chunk(s) were already in {args.out}")
    if args.out is not None:
        notes.append(f"full grid: {Path(args.out) / 'result.npz'}")
    if failed:
        notes.append(f"{failed} of {scenarios} scenario(s) did not solve for at least one draw")
    extrapolation = _extrapolation(result, domain, args.law)
    if extrapolation is not None:
        notes += extrapolation.pop("notes")
    return {
        "command": "sweep",
        "law": description,
        "goal": name,
        "quantiles": list(result.quantiles),
        "info": {key: _json_value(value) for key, value in info.items()},
        "notes": notes,
        "domain": extrapolation,
        "rows": _summary_rows(result, name),
    }


def _median(result, field: str) -> np.ndarray:
    values = result[field]
    return values[..., result.quantiles.index(0.5)] if result.quantiles else values


def _extrapolation(result, domain, law: str) -> dict | None:
    """How many scenarios' (median) plans lie beyond the runs the law was fitted on, and how
    many far beyond (``FAR_OUTSIDE``): counted in a note, since a sweep explores a grid
    (``plan`` warns on each far plan). None when the law carries no domain."""
    if domain is None:
        return None
    N, D = _median(result, "N"), _median(result, "D")
    solved = (result["status"] == 0) & np.isfinite(N * D)
    factors = domain.extrapolation(np.where(solved, N, np.nan), np.where(solved, D, np.nan))
    beyond = solved & np.any([factor != 1.0 for factor in factors.values()], axis=0)
    far = solved & domain.is_far(np.where(solved, N, 1.0), np.where(solved, D, 1.0))
    notes = []
    if beyond.any():
        limits = ", ".join(f"{key.replace('_', ' ')} {limit:g}x" for key, limit in FAR_OUTSIDE.items())
        notes.append(f"{int(beyond.sum()):,} of {beyond.size:,} scenario(s) extrapolate {law} beyond the runs it was "
                     f"fitted on, {int(far.sum()):,} of them far outside (beyond {limits}): doubtful plans")
    return {"ranges": domain.to_dict(), "far_outside": dict(FAR_OUTSIDE), "beyond": int(beyond.sum()),
            "far": int(far.sum()), "notes": notes}


def _sweep_notes(caught) -> list[str]:
    """The sweep's own warnings (a damaged chunk, computed again) as notes; other warnings are
    shown as Python shows them."""
    notes = []
    for item in caught:
        text = str(item.message)
        if issubclass(item.category, RuntimeWarning) and text.startswith("sweep: "):
            notes.append(" ".join(text[len("sweep: "):].split()))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return notes


def _json_value(value):
    return float(value) if isinstance(value, (float, np.floating)) else value


def _check_out(text: str) -> None:
    path = Path(text)
    parent = path.parent if str(path.parent) else Path(".")
    if not path.exists() and not parent.is_dir():
        raise ValueError(f"--out: the directory {str(parent)!r} does not exist")
    if (path.exists() or parent.exists()) and not os.access(path if path.exists() else parent, os.W_OK):
        raise ValueError(f"--out: cannot write in {text!r}")


def _save_result(path: Path, result) -> None:
    """The assembled grid (fields and axes) as one .npz, written atomically."""
    arrays = {**result.fields, **{f"axis_{name}": values for name, values in result.axes.items()},
              "quantiles": np.asarray(result.quantiles)}
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def _summary_rows(result, name: str) -> list[dict]:
    """Budgets (or target losses) spread over the axis, at the first and last inference
    volume: each value is the median over the draws, with every computed quantile beside it.
    With target losses the row's loss is the target asked for (a plan reaches it exactly, or
    its status says why not)."""
    goal, volumes = result.axes[name], result.axes["inference_tokens"]
    picks = np.unique(np.linspace(0, len(goal) - 1, min(SUMMARY_BUDGETS, len(goal))).round().astype(int))
    columns = sorted({0, len(volumes) - 1})
    fields = [field for field in ("N", "D", "loss", "training_flops") if field != name]
    rows = []
    for j in columns:
        for i in picks:
            row = {name: _plain(goal[i]), "inference_tokens": _plain(volumes[j])}
            for field in fields:
                values = result[field][i, j]
                if result.quantiles:
                    row[field] = _plain(values[result.quantiles.index(0.5)])
                    row[f"{field}_quantiles"] = [_plain(v) for v in values]
                else:
                    row[field] = _plain(values)
            row["status"] = int(result["status"][i, j])
            rows.append(row)
    return rows
