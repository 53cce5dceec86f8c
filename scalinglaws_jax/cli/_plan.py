"""``scalinglaws plan`` and ``scalinglaws table``: their options and what they compute."""

from __future__ import annotations

import argparse
import dataclasses

import jax
import numpy as np

from ..allocate import (
    DEFAULT_BUDGETS,
    FLAT_TOLERANCE,
    budget_table,
    compute_optimal,
    data_constrained_optimal,
    inference_optimal,
)
from ..domain import FAR_OUTSIDE, PRESET_DOMAINS, short_number
from ..flops import ACCELERATORS, dollars_to_flops, inference_flops, training_flops
from ..laws import PRESETS, DataConstrained, Kaplan
from ._arguments import _fraction, _positive, _subcommand, _value_list
from ._render import _rows, engineering

DEFAULT_LAW = "epoch-2024"
DEFAULT_GPU = "h100"
DEFAULT_MFU = 0.4
PRICE_PER_GPU_HOUR = {"a100": 1.50, "h100": 2.00, "h200": 3.00}
"""Default dollars per GPU-hour: typical 2024-25 on-demand cloud rates, not quotes."""

CALCULATOR_TOLERANCE = 1e-3
"""Relative disagreement allowed between --flops and 6 * --params * --tokens."""

FLAT_NOTE = 2.0
"""A data-limited plan gets a note that its loss is flat when the largest model within the
flat tolerance is at least this many times its N."""

MAX_DOMAIN_LINES = 5
"""Rows beyond the fitted range described one by one; the rest are counted in one line."""


_VALUES_HELP = (
    "Numbers take lists and ranges: '1e21,1e22' gives one row per value, and\n"
    "'start:stop:num' gives num log-spaced points from start to stop, both included\n"
    "('1e19:1e25:7' is 1e19, 1e20, ..., 1e25; stop < start counts down). Lists given to\n"
    "several options pair up element by element; a single value applies to every row.\n"
)


_EXIT_HELP = (
    "Plans beyond the range of N, D, compute and tokens per parameter the law was fitted on\n"
    f"get a note; plans far beyond it (N or D {short_number(FAR_OUTSIDE['N'])}x, compute C = 6ND "
    f"{short_number(FAR_OUTSIDE['flops'])}x, or tokens\n"
    f"per parameter {short_number(FAR_OUTSIDE['tokens_per_param'])}x beyond the fitted range) get a warning: "
    "a doubtful result.\n"
    "\n"
    "exit status: 0 ok; 1 some row did not solve (see its status column) or lies far outside\n"
    "the fitted range; 2 usage error.\n"
)

_PLAN_DESCRIPTION = (
    "Plan a training run with a scaling law. Modes:\n"
    "\n"
    "  budget      --flops C (or --dollars X): the compute-optimal N and D for a training\n"
    "              budget of C FLOPs (6 N D = C) and the law's predicted loss.\n"
    "  lifetime    add --inference-tokens T: C is a lifetime budget, training plus\n"
    "              inference (6 N D + 2 N T = C); the compute-optimal model reaching the\n"
    "              same loss is shown for comparison, with its lifetime cost.\n"
    "  target      --loss L [--inference-tokens T]: the plan reaching loss L with the\n"
    "              least lifetime compute (Sardana et al. 2023).\n"
    "  calculator  any two of --flops, --params, --tokens: the third from C = 6 N D and the\n"
    "              law's predicted loss for that N and D (not an optimal plan).\n"
    "  data-limited  --law muennighoff-2023 --flops C --unique-tokens U: the best plan\n"
    "              when only U unique tokens exist, repeating them for several epochs: the\n"
    "              smallest model within a relative 1e-9 of the least loss, and the largest\n"
    "              (flat up to); far apart where repeated data leave the loss flat.\n"
    "\n" + _VALUES_HELP
)

_PLAN_EPILOG = (
    "examples:\n"
    "  scalinglaws plan --flops 5.76e23\n"
    "  scalinglaws plan --flops 5.76e23 --law hoffmann-2022 --json\n"
    "  scalinglaws plan --flops 1e21:1e25:5\n"
    "  scalinglaws plan --dollars 1e6 --gpu a100 --mfu 0.35\n"
    "  scalinglaws plan --flops 1e24 --inference-tokens 1e13\n"
    "  scalinglaws plan --loss 2.0 --inference-tokens 0,1e12,1e13\n"
    "  scalinglaws plan --params 175e9 --tokens 300e9\n"
    "  scalinglaws plan --law muennighoff-2023 --flops 1e23 --unique-tokens 1e11\n"
    "\n" + _EXIT_HELP
)

_TABLE_DESCRIPTION = (
    "Print the compute-optimal table of a law: for each training budget C (FLOPs), the\n"
    "N and D that minimise the loss subject to 6 N D = C, tokens per parameter and the\n"
    "predicted loss (Hoffmann et al. 2022, Table 3).\n"
    "\n" + _VALUES_HELP
)

_TABLE_EPILOG = (
    "examples:\n"
    "  scalinglaws table\n"
    "  scalinglaws table --law hoffmann-2022 --flops 1e20:1e26:13 --json\n"
    "\n" + _EXIT_HELP
)


def _add_common(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--law",
        choices=sorted(PRESETS),
        default=DEFAULT_LAW,
        help="published scaling law to use (default: %(default)s, Besiroglu et al.'s "
        "replication of Chinchilla; kaplan-2020 counts N without embedding parameters)",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object instead of a table: the law's name and parameters, "
        "notes, warnings, the range the law was fitted on and how many times beyond it "
        "each row lies (domain), and one object per row with plain numbers (null for NaN) "
        "and, where given, status (0 ok, 1 infeasible, 2 not converged, 3 invalid input)",
    )


def _add_plan(commands) -> None:
    plan = _subcommand(commands, "plan", "size a model and its data for a budget, a target loss, or a 6ND calculation",
                       _PLAN_DESCRIPTION, _PLAN_EPILOG, _plan)
    plan.add_argument("--flops", type=_value_list(False), metavar="C",
                      help="training compute budget (FLOPs; a lifetime budget with --inference-tokens); "
                      "list or range; no default")
    plan.add_argument("--dollars", type=_value_list(False), metavar="X",
                      help="budget in dollars instead of --flops, converted with --gpu, "
                      "--price-per-hour and --mfu; list or range")
    plan.add_argument("--gpu", choices=sorted(ACCELERATORS),
                      help=f"accelerator for --dollars (default: {DEFAULT_GPU}); dense bf16 peaks of the "
                      "SXM parts: a100 312, h100 989, h200 989 TFLOP/s")
    plan.add_argument("--price-per-hour", type=_positive, metavar="P",
                      help="dollars per GPU-hour for --dollars (default by --gpu: "
                      + ", ".join(f"{gpu} ${price:.2f}" for gpu, price in PRICE_PER_GPU_HOUR.items())
                      + "; typical 2024-25 on-demand cloud rates, not quotes)")
    plan.add_argument("--mfu", type=_fraction, metavar="U",
                      help=f"model FLOPs utilisation for --dollars, the achieved fraction of peak, "
                      f"in (0, 1] (default: {DEFAULT_MFU})")
    plan.add_argument("--params", type=_value_list(False), metavar="N",
                      help="model parameters (calculator mode, with --flops or --tokens); list or range")
    plan.add_argument("--tokens", type=_value_list(False), metavar="D",
                      help="training tokens (calculator mode, with --flops or --params); list or range")
    plan.add_argument("--loss", type=_value_list(False), metavar="L",
                      help="target loss (nats per token, above the law's irreducible loss E) instead of a "
                      "budget: the plan with the least lifetime compute; list or range")
    plan.add_argument("--inference-tokens", type=_value_list(True), metavar="T",
                      help="tokens the model will serve over its lifetime (>= 0; default: none, "
                      "training only); makes --flops a lifetime budget; list or range")
    plan.add_argument("--unique-tokens", type=_value_list(False), metavar="U",
                      help="unique training tokens available (tokens; --law muennighoff-2023 only; "
                      "default: unlimited); list or range")
    _add_common(plan)


def _add_table(commands) -> None:
    table = _subcommand(commands, "table", "the compute-optimal table, 1e19 ... 1e25 FLOPs", _TABLE_DESCRIPTION, _TABLE_EPILOG, _table)
    table.add_argument("--flops", type=_value_list(False), metavar="C",
                       help="training budgets (FLOPs); list or range (default: 1e19:1e25:7, "
                       "i.e. 1e19, 1e20, ..., 1e25)")
    _add_common(table)


# ----------------------------------------------------------------------------------
# commands: each returns a result dict, printed as JSON or as text


def _table(args) -> dict:
    """``scalinglaws table``: ``budget_table`` of the law."""
    flops = DEFAULT_BUDGETS if args.flops is None else args.flops
    rows = _rows(budget_table(PRESETS[args.law], flops))
    return _result(args, "compute-optimal table (6 N D = FLOPs)", rows)


def _plan(args) -> dict:
    """``scalinglaws plan``: pick the mode from the options given, and run it."""
    budget, purchase = _budget(args)
    law = PRESETS[args.law]
    _check_unique_tokens(args, law)
    if args.loss is not None:
        if budget is not None or args.params is not None or args.tokens is not None:
            raise ValueError("--loss replaces the budget: give --loss or --flops/--dollars/--params/--tokens")
        return _target_plan(args, law)
    if args.params is not None or args.tokens is not None:
        return _calculator(args, law, budget, purchase)
    if budget is None:
        raise ValueError(
            "give a budget (--flops or --dollars), a target --loss, or two of --flops, --params, --tokens"
        )
    if args.unique_tokens is not None:
        return _data_limited_plan(args, law, budget, purchase)
    if args.inference_tokens is not None:
        return _lifetime_plan(args, law, budget, purchase)
    plan = compute_optimal(law, budget)
    rows = _rows({**_spent(args), "flops": budget, **_plan_columns(plan), "status": plan.status})
    title = "compute-optimal plan for a training budget (6 N D = FLOPs)"
    return _result(args, title, rows, purchase=purchase)


def _budget(args):
    """The FLOPs budget from --flops or --dollars (None if neither), and the purchase terms."""
    dollar_options = {"--gpu": args.gpu, "--price-per-hour": args.price_per_hour, "--mfu": args.mfu}
    if args.dollars is None:
        given = [name for name, value in dollar_options.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: only used with --dollars")
        return args.flops, None
    if args.flops is not None:
        raise ValueError("give --flops or --dollars, not both")
    gpu = args.gpu or DEFAULT_GPU
    accelerator = ACCELERATORS[gpu]
    terms = {
        "gpu": gpu,
        "peak_flops_per_s": accelerator.peak_flops_per_s,
        "price_per_hour": PRICE_PER_GPU_HOUR[gpu] if args.price_per_hour is None else args.price_per_hour,
        "mfu": DEFAULT_MFU if args.mfu is None else args.mfu,
    }
    flops = dollars_to_flops(args.dollars, accelerator, terms["mfu"], terms["price_per_hour"])
    return np.asarray(flops), terms


def _check_unique_tokens(args, law) -> None:
    if args.unique_tokens is None:
        return
    if not isinstance(law, DataConstrained):
        raise ValueError(
            f"--unique-tokens needs a data-constrained law (--law muennighoff-2023), not {args.law}"
        )
    if args.loss is not None or args.inference_tokens is not None:
        raise ValueError("--unique-tokens does not combine with --loss or --inference-tokens")


def _data_limited_plan(args, law, budget, purchase) -> dict:
    """The best plan for a budget when only --unique-tokens unique tokens exist."""
    flops, unique = _paired(flops=budget, unique_tokens=args.unique_tokens)
    plan = data_constrained_optimal(law, flops, unique)
    rows = _rows({**_spent(args), "flops": flops, "unique_tokens": unique, **_plan_columns(plan),
                  "epochs": plan.epochs, "N_flat_max": plan.N_flat_max, "status": plan.status})
    title = (f"compute-optimal plan with limited unique data (6 N D = FLOPs): the smallest model within "
             f"{FLAT_TOLERANCE:g} (relative) of the least loss, and the largest (flat up to)")
    result = _result(args, title, rows, purchase=purchase)
    for i, row in enumerate(rows):
        if row["status"] == 0 and row["N_flat_max"] >= FLAT_NOTE * row["N"]:
            result["notes"].append(
                f"{_label(args, row, i)}: the loss is flat from N = {engineering(row['N'])} to N = "
                f"{engineering(row['N_flat_max'])}: more compute buys nothing with "
                f"{engineering(row['unique_tokens'])} unique tokens (the plan is the smallest of these models)"
            )
    return result


def _lifetime_plan(args, law, budget, purchase) -> dict:
    """The best plan for a lifetime budget, and the plan that ignores inference."""
    flops, served = _paired(flops=budget, inference_tokens=args.inference_tokens)
    plan = compute_optimal(law, flops, inference_tokens=served)
    rows = _rows({**_spent(args), "flops": flops, "inference_tokens": served, **_plan_columns(plan),
                  "training_flops": plan.training_flops, "inference_flops": plan.inference_flops,
                  "status": plan.status})
    # The compute-optimal model that reaches the same loss, serving the same tokens.
    chinchilla = jax.jit(inference_optimal)(law, plan.loss, np.zeros_like(served))
    serving = inference_flops(chinchilla.N, served)
    comparison = _rows({"inference_tokens": served, **_plan_columns(chinchilla),
                        "training_flops": chinchilla.training_flops, "inference_flops": serving,
                        "lifetime_flops": chinchilla.training_flops + serving, "status": chinchilla.status})
    title = "lifetime-optimal plan: training plus inference within the budget (6 N D + 2 N T = FLOPs)"
    return _result(
        args, title, rows, purchase=purchase,
        comparison={
            "title": "for comparison, the compute-optimal model reaching the same loss, "
            "serving the same tokens (its lifetime FLOPs exceed the budget)",
            "rows": comparison,
        },
    )


def _target_plan(args, law) -> dict:
    """The least lifetime compute that reaches --loss."""
    floor = float(getattr(law, "E", 0.0))  # a Kaplan law's loss tends to 0
    if (args.loss <= floor).any():
        raise ValueError(
            f"--loss must exceed the irreducible loss E={floor:.6g} of {args.law}, "
            f"got {float(args.loss[args.loss <= floor][0])!r}: no finite model reaches it"
        )
    served = np.zeros(1) if args.inference_tokens is None else args.inference_tokens
    loss, served = _paired(loss=args.loss, inference_tokens=served)
    plan = inference_optimal(law, loss, served)
    rows = _rows({"loss": loss, "inference_tokens": served, "N": plan.N, "D": plan.D,
                  "tokens_per_param": plan.tokens_per_param, "training_flops": plan.training_flops,
                  "inference_flops": plan.inference_flops, "lifetime_flops": plan.lifetime_flops,
                  "status": plan.status})
    return _result(args, "least lifetime compute reaching the target loss (Sardana et al. 2023)", rows)


def _calculator(args, law, flops, purchase) -> dict:
    """Any two of FLOPs, N, D give the third (C = 6 N D); the law's loss at that N, D."""
    N, D = args.params, args.tokens
    given = sum(value is not None for value in (flops, N, D))
    if given < 2:
        raise ValueError("calculator mode needs two of --flops (or --dollars), --params, --tokens")
    if given == 3:
        flops, N, D = _paired(flops=flops, params=N, tokens=D)
        _check_consistent(flops, N, D)
    elif N is None:
        flops, D = _paired(flops=flops, tokens=D)
        N = flops / (6.0 * D)
    elif D is None:
        flops, N = _paired(flops=flops, params=N)
        D = flops / (6.0 * N)
    else:
        N, D = _paired(params=N, tokens=D)
        flops = np.asarray(training_flops(N, D))
    columns = {**_spent(args), "N": N, "D": D, "flops": flops, "tokens_per_param": D / N}
    if args.unique_tokens is not None:
        N, D, unique = _paired(params=N, tokens=D, unique_tokens=args.unique_tokens)
        columns.update(unique_tokens=unique, epochs=D / unique, loss=law.loss(N, D, unique))
    else:
        columns["loss"] = (law.chinchilla if isinstance(law, DataConstrained) else law).loss(N, D)
    if args.inference_tokens is not None:
        N, served = _paired(params=N, inference_tokens=args.inference_tokens)
        serving = inference_flops(N, served)
        columns.update(
            inference_tokens=served, inference_flops=serving, lifetime_flops=columns["flops"] + serving
        )
    title = "calculator: C = 6 N D and the law's predicted loss (not an optimal plan)"
    return _result(args, title, _rows(columns), purchase=purchase)


def _check_consistent(flops, N, D) -> None:
    implied = 6.0 * N * D
    bad = np.abs(implied - flops) > CALCULATOR_TOLERANCE * flops
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"--flops {flops[i]:.4g} disagrees with 6 x --params x --tokens = {implied[i]:.4g}: "
            "give any two of them"
        )


def _paired(**named) -> list[np.ndarray]:
    """The named value lists broadcast to one length, or ValueError naming the options."""
    arrays = [np.atleast_1d(np.asarray(value, dtype=float)) for value in named.values()]
    try:
        return np.broadcast_arrays(*arrays)
    except ValueError:
        counts = ", ".join(f"--{name.replace('_', '-')} {array.size}" for name, array in zip(named, arrays))
        raise ValueError(f"value lists do not pair up ({counts}): give one value or equally many") from None


def _plan_columns(plan) -> dict:
    return {"N": plan.N, "D": plan.D, "tokens_per_param": plan.tokens_per_param, "loss": plan.loss}


def _spent(args) -> dict:
    """The dollars column, when the budget was given in dollars."""
    return {} if args.dollars is None else {"dollars": args.dollars}


def _law_notes(args) -> list[str]:
    law = PRESETS[args.law]
    if isinstance(law, Kaplan):
        return [f"{args.law} counts N without embedding parameters (Kaplan et al. 2020)"]
    if isinstance(law, DataConstrained) and getattr(args, "unique_tokens", None) is None:
        return [
            f"{args.law} with unlimited unique data (its Chinchilla form); --unique-tokens limits the data"
        ]
    return []


def _label(args, row: dict, i: int) -> str:
    """``row 3 (C = 1e22, T = 1e16)``: a row's number and the inputs that define it."""
    shown = {"dollars": lambda x: f"${x:,.0f}", "flops": lambda x: f"C = {short_number(x)}",
             "inference_tokens": lambda x: f"T = {short_number(x)}",
             "unique_tokens": lambda x: f"U = {short_number(x)}"}
    if getattr(args, "loss", None) is not None:  # target mode: the loss is an input
        shown = {"loss": lambda x: f"loss {x:.4g}", **shown}
    parts = [show(row[name]) for name, show in shown.items() if row.get(name) is not None]
    return f"row {i + 1}" + (f" ({', '.join(parts)})" if parts else "")


def _domain(args, rows, domain=None, runs=None, advice=None) -> tuple[list[str], list[str], dict]:
    """Notes on rows beyond the range the law was fitted on, warnings on rows far beyond it
    (``FAR_OUTSIDE``), and the JSON record of both. ``domain``, the ``runs`` it names and the
    ``advice`` on a far row default to those of the preset ``args.law``."""
    if domain is None:
        domain, runs = PRESET_DOMAINS[args.law], f"the runs {args.law} was fitted on"
        advice = "fit a law on runs nearer to it (scalinglaws fit) before relying on it"
    N = np.array([np.nan if row["N"] is None else row["N"] for row in rows])
    D = np.array([np.nan if row["D"] is None else row["D"] for row in rows])
    factors, far = domain.extrapolation(N, D), domain.is_far(N, D)
    record = {"ranges": domain.to_dict(), "far_outside": dict(FAR_OUTSIDE), "rows": []}
    notes, warnings = [], []
    for i in range(len(rows)):
        phrases = domain.describe(N[i], D[i]) if np.isfinite(N[i] * D[i]) else []
        if not phrases:
            continue
        record["rows"].append({"row": i + 1, "far": bool(far[i]),
                               "extrapolation": {name: float(factor[i]) for name, factor in factors.items()}})
        if far[i]:
            warnings.append(f"{_label(args, rows[i], i)} lies far outside {runs} ({'; '.join(phrases)}): "
                            f"a doubtful plan; {advice}")
        else:
            notes.append(f"{_label(args, rows[i], i)} extrapolates beyond {runs}: {'; '.join(phrases)}")
    for lines in (notes, warnings):
        if len(lines) > MAX_DOMAIN_LINES:
            lines[MAX_DOMAIN_LINES:] = [f"and {len(lines) - MAX_DOMAIN_LINES} more rows like these (see --json)"]
    return notes, warnings, record


def _result(args, title, rows, purchase=None, comparison=None) -> dict:
    """The JSON-ready result of a command: the law, notes, warnings, the fitted range and
    how far each row lies beyond it, rows and optional parts."""
    law = PRESETS[args.law]
    notes, warnings, domain = _domain(args, rows)
    result = {
        "command": args.command,
        "title": title,
        "law": {
            "name": args.law,
            "family": type(law).__name__,
            "parameters": {field.name: float(getattr(law, field.name)) for field in dataclasses.fields(law)},
        },
        "notes": _law_notes(args) + notes,
        "warnings": warnings,
        "domain": domain,
        "rows": rows,
    }
    if purchase is not None:
        result["purchase"] = purchase
    if comparison is not None:
        result["comparison"] = comparison
    return result
