"""The ``scalinglaws`` command: plan a training run, print the compute-optimal table.

``scalinglaws plan`` answers "what model, on how many tokens, does this budget buy?"
(or this target loss, or this budget with inference demand), and works as a 6ND
calculator; ``scalinglaws table`` prints the compute-optimal table of a published law.
Both take ``--json`` for machine-readable output.

The command turns on float64 (``jax_enable_x64``) as it starts; importing the library
never does. Bad input is a one-line ``scalinglaws: error: ...`` on stderr and exit
status 2, never a traceback.

Units: N in parameters, D and inference tokens in tokens, compute in FLOPs, money in
dollars.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys

import jax
import numpy as np

from . import __version__
from .allocate import (
    DEFAULT_BUDGETS,
    budget_table,
    compute_optimal,
    data_constrained_optimal,
    inference_optimal,
)
from .flops import ACCELERATORS, dollars_to_flops, inference_flops, training_flops
from .laws import PRESETS, DataConstrained, Kaplan

DEFAULT_LAW = "epoch-2024"
DEFAULT_GPU = "h100"
DEFAULT_MFU = 0.4
PRICE_PER_GPU_HOUR = {"a100": 1.50, "h100": 2.00, "h200": 3.00}
"""Default dollars per GPU-hour: typical 2024-25 on-demand cloud rates, not quotes."""

MAX_RANGE_POINTS = 1_000_000
"""Most points one ``start:stop:num`` range may ask for."""

CALCULATOR_TOLERANCE = 1e-3
"""Relative disagreement allowed between --flops and 6 * --params * --tokens."""

STATUS_NAMES = {0: "ok", 1: "infeasible", 2: "not converged", 3: "invalid input"}


# ----------------------------------------------------------------------------------
# value lists and ranges


def parse_values(text: str) -> np.ndarray:
    """Parse a comma-separated list of numbers and log-spaced ranges into a float array.

    Each item is a number (``1e21``) or a range ``start:stop:num``: ``num`` log-spaced
    points from ``start`` to ``stop``, both included (``np.geomspace``). ``num`` is an
    integer >= 2; ``start`` and ``stop`` are finite and positive, and ``stop < start``
    gives a descending range. Items keep their order: ``"0,1e9:1e15:100"`` is 0 followed
    by 100 points. Signs are not checked for plain numbers (callers decide whether 0 or a
    negative value is allowed), but every number must be finite.

    Raises:
        ValueError: on an empty list or item, an unparsable number, NaN or infinity, a
            range without exactly three parts, non-positive endpoints, or a bad ``num``.
    """
    items = text.split(",")
    if not text.strip() or any(not item.strip() for item in items):
        raise ValueError(f"empty value in {text!r}")
    return np.concatenate([_parse_range(item) if ":" in item else [_parse_number(item)] for item in items])


def _parse_number(text: str) -> float:
    """A finite float from ``text``."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"values must be finite, got {text.strip()!r}")
    return value


def _parse_range(text: str) -> np.ndarray:
    """The points of one ``start:stop:num`` range (see ``parse_values``)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"a range is start:stop:num, got {text.strip()!r}")
    start, stop = _parse_number(parts[0]), _parse_number(parts[1])
    if start <= 0 or stop <= 0:
        raise ValueError(f"range endpoints must be positive (log-spaced), got {text.strip()!r}")
    try:
        num = int(parts[2])
    except ValueError:
        raise ValueError(f"the number of points must be an integer, got {parts[2].strip()!r}") from None
    if not 2 <= num <= MAX_RANGE_POINTS:
        raise ValueError(f"the number of points must be between 2 and {MAX_RANGE_POINTS}, got {num}")
    return np.geomspace(start, stop, num)


# ----------------------------------------------------------------------------------
# argparse types: each raises ArgumentTypeError, which argparse reports with the option


def _values(allow_zero: bool):
    """An argparse type: ``parse_values`` plus a check that every value is > 0 (or >= 0)."""

    def parse(text: str) -> np.ndarray:
        try:
            values = parse_values(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        bad = values < 0 if allow_zero else values <= 0
        if bad.any():
            wanted = "non-negative" if allow_zero else "positive"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {float(values[bad][0])!r}")
        return values

    return parse


def _positive(text: str) -> float:
    """An argparse type: one finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value!r}")
    return value


def _fraction(text: str) -> float:
    """An argparse type: one number in (0, 1]."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value!r}")
    return value


def _number(text: str) -> float:
    try:
        return _parse_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ----------------------------------------------------------------------------------
# parser


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, with exit status 2."""

    def error(self, message):
        self.exit(2, f"scalinglaws: error: {message} (see '{self.prog} --help')\n")


_VALUES_HELP = (
    "Numbers take lists and ranges: '1e21,1e22' gives one row per value, and\n"
    "'start:stop:num' gives num log-spaced points from start to stop, both included\n"
    "('1e19:1e25:7' is 1e19, 1e20, ..., 1e25; stop < start counts down). Lists given to\n"
    "several options pair up element by element; a single value applies to every row.\n"
)

_EXIT_HELP = "exit status: 0 ok; 1 some row did not solve (see its status column); 2 usage error.\n"

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
    "              when only U unique tokens exist, repeating them for several epochs.\n"
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


def build_parser() -> argparse.ArgumentParser:
    """The ``scalinglaws`` argument parser with its ``plan`` and ``table`` subcommands."""
    parser = _Parser(
        prog="scalinglaws",
        description="Plan training runs with neural scaling laws (scalinglaws_jax).",
        epilog="Run 'scalinglaws COMMAND --help' for a command's options.\n\n"
        "example:\n  scalinglaws plan --flops 5.76e23\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"scalinglaws {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    _add_plan(commands)
    _add_table(commands)
    return parser


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
        "notes, and one object per row with plain numbers (null for NaN) and, where "
        "given, status (0 ok, 1 infeasible, 2 not converged, 3 invalid input)",
    )


def _add_plan(commands) -> None:
    plan = commands.add_parser(
        "plan",
        help="size a model and its data for a budget, a target loss, or a 6ND calculation",
        description=_PLAN_DESCRIPTION,
        epilog=_PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    plan.set_defaults(handler=_plan)
    plan.add_argument("--flops", type=_values(False), metavar="C",
                      help="training compute budget (FLOPs; a lifetime budget with --inference-tokens); "
                      "list or range; no default")
    plan.add_argument("--dollars", type=_values(False), metavar="X",
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
    plan.add_argument("--params", type=_values(False), metavar="N",
                      help="model parameters (calculator mode, with --flops or --tokens); list or range")
    plan.add_argument("--tokens", type=_values(False), metavar="D",
                      help="training tokens (calculator mode, with --flops or --params); list or range")
    plan.add_argument("--loss", type=_values(False), metavar="L",
                      help="target loss (nats per token, above the law's irreducible loss E) instead of a "
                      "budget: the plan with the least lifetime compute; list or range")
    plan.add_argument("--inference-tokens", type=_values(True), metavar="T",
                      help="tokens the model will serve over its lifetime (>= 0; default: none, "
                      "training only); makes --flops a lifetime budget; list or range")
    plan.add_argument("--unique-tokens", type=_values(False), metavar="U",
                      help="unique training tokens available (tokens; --law muennighoff-2023 only; "
                      "default: unlimited); list or range")
    _add_common(plan)


def _add_table(commands) -> None:
    table = commands.add_parser(
        "table",
        help="the compute-optimal table, 1e19 ... 1e25 FLOPs",
        description=_TABLE_DESCRIPTION,
        epilog=_TABLE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    table.set_defaults(handler=_table)
    table.add_argument("--flops", type=_values(False), metavar="C",
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
                  "epochs": plan.epochs, "status": plan.status})
    title = "compute-optimal plan with limited unique data (6 N D = FLOPs)"
    return _result(args, title, rows, purchase=purchase)


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


def _rows(columns: dict) -> list[dict]:
    """Per-row dicts of plain Python numbers from equally long (or scalar) columns."""
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(value)) for value in columns.values()))
    return [{name: _plain(array[i]) for name, array in zip(columns, arrays)} for i in range(arrays[0].size)]


def _plain(value):
    """A NumPy scalar as an int (integer dtypes), a float, or None for NaN and infinity."""
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _result(args, title, rows, purchase=None, comparison=None) -> dict:
    """The JSON-ready result of a command: the law, notes, rows and optional parts."""
    law = PRESETS[args.law]
    result = {
        "command": args.command,
        "title": title,
        "law": {
            "name": args.law,
            "family": type(law).__name__,
            "parameters": {field.name: float(getattr(law, field.name)) for field in dataclasses.fields(law)},
        },
        "notes": _law_notes(args),
        "rows": rows,
    }
    if purchase is not None:
        result["purchase"] = purchase
    if comparison is not None:
        result["comparison"] = comparison
    return result


# ----------------------------------------------------------------------------------
# text output


def engineering(x) -> str:
    """``x`` to 3 significant digits with a K/M/B/T suffix: 4.036e10 -> '40.4B'."""
    if x is None:
        return "nan"
    x = float(f"{x:.3g}")  # round first, so that 999.7e6 becomes '1B', not '1e+03M'
    if abs(x) < 1e15:
        for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(x) >= scale:
                return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _formatter(pattern: str):
    return lambda x: "nan" if x is None else format(x, pattern)


_COLUMNS = {
    "dollars": ("dollars", lambda x: "nan" if x is None else f"${x:,.0f}"),
    "flops": ("FLOPs", _formatter(".2e")),
    "loss": ("loss", _formatter(".4f")),
    "unique_tokens": ("unique tokens", engineering),
    "inference_tokens": ("inference tokens", engineering),
    "N": ("params", engineering),
    "D": ("tokens", engineering),
    "tokens_per_param": ("tokens/param", _formatter(".1f")),
    "epochs": ("epochs", _formatter(".2f")),
    "training_flops": ("training FLOPs", _formatter(".2e")),
    "inference_flops": ("inference FLOPs", _formatter(".2e")),
    "lifetime_flops": ("lifetime FLOPs", _formatter(".2e")),
    "status": ("status", STATUS_NAMES.get),
}
"""Header and text formatter of each result column (a row's keys give the order)."""


def _table_text(rows: list[dict]) -> list[str]:
    """Rows as right-aligned text columns under their headers."""
    names = list(rows[0])
    cells = [[_COLUMNS[name][0] for name in names]]
    cells += [[_COLUMNS[name][1](row[name]) for name in names] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(names))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]


def render(result: dict) -> str:
    """A command's result as readable text: the law, notes, and aligned tables."""
    law = result["law"]
    parameters = ", ".join(f"{name}={value:.6g}" for name, value in law["parameters"].items())
    lines = [f"law: {law['name']} = {law['family']}({parameters})", result["title"]]
    if "purchase" in result:
        terms = result["purchase"]
        lines.append(
            f"dollars to FLOPs: {ACCELERATORS[terms['gpu']].name} at "
            f"{terms['peak_flops_per_s']:.3g} FLOP/s peak, "
            f"MFU {terms['mfu']:g}, ${terms['price_per_hour']:.2f} per GPU-hour"
        )
    lines += [f"note: {note}" for note in result["notes"]]
    lines += ["", *_table_text(result["rows"])]
    if "comparison" in result:
        lines += ["", result["comparison"]["title"], "", *_table_text(result["comparison"]["rows"])]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------
# entry point


def main(argv=None) -> int:
    """Run the ``scalinglaws`` command on ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status: 0 ok, 1 when some row did not solve (its status column
    says why), 2 on a usage error (one line on stderr).
    """
    jax.config.update("jax_enable_x64", True)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version and argparse's own usage errors
        return int(done.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result = args.handler(args)
    except (ValueError, TypeError) as error:
        message = " ".join(str(error).split())
        print(f"scalinglaws: error: {message}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return _exit_status(result)


def _exit_status(result: dict) -> int:
    failed = sum(row.get("status", 0) != 0 for row in result["rows"])
    if failed:
        print(f"scalinglaws: warning: {failed} row(s) did not solve; see the status column",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
