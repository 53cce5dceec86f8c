"""The ``scalinglaws`` command: plan a training run, print the compute-optimal table, fit.

``scalinglaws plan`` answers "what model, on how many tokens, does this budget buy?"
(or this target loss, or this budget with inference demand), and works as a 6ND
calculator; ``scalinglaws table`` prints the compute-optimal table of a published law;
``scalinglaws fit`` fits a law to training runs (an embedded dataset or a CSV file) by
any of Hoffmann et al.'s three approaches, with bootstrap intervals. All take ``--json``
for machine-readable output.

The command turns on float64 (``jax_enable_x64``) as it starts; importing the library
never does. Bad input is a one-line ``scalinglaws: error: ...`` on stderr and exit
status 2, never a traceback.

Units: N in parameters, D and inference tokens in tokens, compute in FLOPs, money in
dollars.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

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
from .datasets import chinchilla, sardana
from .fit.huber import CHINCHILLA as _HUBER_CHINCHILLA
from .fit.huber import DELTA, bootstrap, fit_huber
from .fit.isoflop import fit_envelope, fit_isoflop
from .fit.runs import Runs
from .flops import ACCELERATORS, dollars_to_flops, inference_flops, training_flops
from .laws import PRESETS, Chinchilla, DataConstrained, Kaplan

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

DATASETS = {
    "chinchilla": (chinchilla, "Hoffmann et al. 2022, Figure 4, digitised by Besiroglu et al. 2024"),
    "sardana": (sardana, "Sardana et al. 2024, MPT-style runs"),
}
"""Embedded datasets ``fit`` takes by name: loader and source."""

RUN_COLUMNS = ("N", "D", "loss", "flops", "weight", "group")
"""Library names that ``--columns`` maps to CSV headers (see ``Runs.from_csv``)."""

LAW_PARAMETERS = ("E", "A", "B", "alpha", "beta")
"""The fitted parameters of L = E + A / N^alpha + B / D^beta, the names ``--fix`` takes."""

INTERVAL_LEVEL = 0.95
"""Coverage of the bootstrap percentile intervals ``fit`` prints."""

MAX_BOOTSTRAP = 20_000
"""Most resamples ``--bootstrap`` may ask for (memory grows with resamples x runs)."""


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


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Parse ``name=value`` pairs separated by commas, values optionally quoted.

    Quotes work as in a shell: ``N="Model Size",loss=loss`` gives ``[("N", "Model
    Size"), ("loss", "loss")]``; a quoted value may hold commas and ``=``. Names and
    values are stripped of surrounding spaces.

    Raises:
        ValueError: an unclosed quote, an empty item, an item without ``=``, or an empty
            name or value.
    """
    items, item, quote = [], [], None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
            else:
                item.append(char)
        elif char in "\"'":
            quote = char
        elif char == ",":
            items.append("".join(item))
            item = []
        else:
            item.append(char)
    if quote is not None:
        raise ValueError(f"unclosed {quote} quote in {text!r}")
    items.append("".join(item))
    pairs = []
    for item in items:
        name, equals, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not item.strip():
            raise ValueError(f"empty item in {text!r}: give NAME=VALUE pairs separated by commas")
        if not equals:
            raise ValueError(f"{item.strip()!r} is not NAME=VALUE")
        if not name or not value:
            raise ValueError(f"{item.strip()!r}: both NAME and VALUE must be non-empty")
        pairs.append((name, value))
    return pairs


def parse_columns(text: str) -> dict[str, str]:
    """``--columns``: library names (N, D, loss, flops, weight, group) to CSV headers.

    ``'N="Model Size",flops="Training FLOP",loss=loss'`` gives ``{"N": "Model Size",
    "flops": "Training FLOP", "loss": "loss"}`` (see ``parse_pairs`` for the syntax).

    Raises:
        ValueError: malformed pairs, an unknown or repeated name, or one header mapped
            from two names.
    """
    mapping = {}
    for name, header in parse_pairs(text):
        if name not in RUN_COLUMNS:
            raise ValueError(f"unknown name {name!r}: map {', '.join(RUN_COLUMNS)} to CSV headers")
        if name in mapping:
            raise ValueError(f"{name} is mapped twice")
        if header in mapping.values():
            raise ValueError(f"header {header!r} is mapped from two names")
        mapping[name] = header
    return mapping


def parse_fixed(text: str) -> dict[str, float]:
    """``--fix``: law parameters pinned to values, ``"E=1.69,alpha=0.34"``.

    Names are those of L = E + A / N^alpha + B / D^beta; every value must be finite and
    positive.

    Raises:
        ValueError: malformed pairs, an unknown or repeated name, or a bad value.
    """
    fixed = {}
    for name, value in parse_pairs(text):
        if name not in LAW_PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}: the law's parameters are {', '.join(LAW_PARAMETERS)}")
        if name in fixed:
            raise ValueError(f"{name} is fixed twice")
        number = _parse_number(value)
        if number <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
        fixed[name] = number
    return fixed


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


def _integer(low: int, high: int | None = None):
    """An argparse type: one integer in [low, high] (no upper limit when high is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text.strip()!r}") from None
        if value < low or (high is not None and value > high):
            wanted = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be an integer {wanted}, got {value}")
        return value

    return parse


def _argument(parse):
    """An argparse type from a parser that raises ValueError."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


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


_FIT_DESCRIPTION = (
    "Fit a scaling law to training runs and print what it implies for compute-optimal\n"
    "training: the exponents a and b of N* ~ C^a and D* ~ C^b, and N*, D* at a few\n"
    "budgets. Approaches (Hoffmann et al. 2022, sec. 3):\n"
    "\n"
    "  3 (default)  fit L(N, D) = E + A / N^alpha + B / D^beta by Huber regression on log\n"
    "               loss (delta 1e-3) from Hoffmann et al.'s grid of 4500 starts; prints\n"
    "               E, A, B, alpha, beta, the Huber objective, the gradient norm, how many\n"
    "               starts converged and reached the best objective, a = beta/(alpha+beta),\n"
    "               b = alpha/(alpha+beta), and the fitted law's compute-optimal table.\n"
    "  2            IsoFLOP profiles: runs grouped by FLOPs (the group column when given,\n"
    "               else clusters within 0.05 dex), a parabola of loss against log10 N per\n"
    "               group, and power laws N* = k_N C^a, D* = k_D C^b through the minima;\n"
    "               groups with fewer than 3 sizes or no interior minimum are skipped and\n"
    "               listed with the reason.\n"
    "  1            the lower envelope of loss against FLOPs (the runs below every cheaper\n"
    "               run), and power laws through its points.\n"
    "\n"
    "DATA is an embedded dataset or a CSV file. Datasets: chinchilla (the 245 runs of\n"
    "Hoffmann et al. 2022, Figure 4, digitised by Besiroglu et al. 2024, who drop the 5\n"
    "highest-loss runs: --drop-highest 5) and sardana (Sardana et al. 2024, 47 runs). A\n"
    "name is a dataset first: write ./chinchilla for a file of that name. A CSV file has a\n"
    "header row and columns N (parameters), loss (nats per token) and D (tokens) or flops\n"
    "(FLOPs; the other follows from C = 6 N D), optionally weight (>= 0) and group\n"
    "(integer labels: IsoFLOP budgets or run ids); --columns maps these names to other\n"
    "headers.\n"
    "\n"
    "--bootstrap N refits on N resamples of the runs (drawn with replacement) and prints\n"
    f"{INTERVAL_LEVEL:.0%} percentile intervals next to the estimates. Progress goes to stderr, except\n"
    "with --json. An approach-3 fit takes about 5-20 s on a laptop CPU, mostly compiling.\n"
    "Units: N in parameters, D in tokens, C in FLOPs, loss in nats per token.\n"
)

_FIT_EPILOG = (
    "examples:\n"
    "  scalinglaws fit chinchilla --drop-highest 5\n"
    "  scalinglaws fit chinchilla --drop-highest 5 --bootstrap 4000 --flops 5.76e23 --json\n"
    "  scalinglaws fit chinchilla --fix E=1.69\n"
    "  scalinglaws fit chinchilla --approach 2 --bootstrap 1000 --seed 1\n"
    "  scalinglaws fit chinchilla --approach 1\n"
    "  scalinglaws fit sardana --flops 1e20:1e24:5\n"
    "  scalinglaws fit runs.csv --columns N=\"Model Size\",flops=\"Training FLOP\",loss=loss\n"
    "\n"
    "exit status: 0 ok; 1 the best start did not converge, or a table row did not solve\n"
    "(a warning on stderr says which); 2 usage error (bad option, dataset, file or data).\n"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``scalinglaws`` argument parser with its ``plan``, ``table`` and ``fit`` subcommands."""
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
    _add_fit(commands)
    return parser


def _subcommand(commands, name, help, description, epilog, handler) -> argparse.ArgumentParser:
    """A subcommand parser that runs ``handler(args)``."""
    command = commands.add_parser(name, help=help, description=description, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    command.set_defaults(handler=handler)
    return command


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
    plan = _subcommand(commands, "plan", "size a model and its data for a budget, a target loss, or a 6ND calculation",
                       _PLAN_DESCRIPTION, _PLAN_EPILOG, _plan)
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
    table = _subcommand(commands, "table", "the compute-optimal table, 1e19 ... 1e25 FLOPs", _TABLE_DESCRIPTION, _TABLE_EPILOG, _table)
    table.add_argument("--flops", type=_values(False), metavar="C",
                       help="training budgets (FLOPs); list or range (default: 1e19:1e25:7, "
                       "i.e. 1e19, 1e20, ..., 1e25)")
    _add_common(table)


def _add_fit(commands) -> None:
    fit = _subcommand(commands, "fit", "fit a law to training runs (Hoffmann et al.'s approaches 1-3), with "
                      "bootstrap intervals", _FIT_DESCRIPTION, _FIT_EPILOG, _fit)
    fit.add_argument("data", metavar="DATA",
                     help="an embedded dataset (" + ", ".join(DATASETS) + ") or a CSV file of runs")
    fit.add_argument("--columns", type=_argument(parse_columns), metavar="NAME=HEADER,...",
                     help="CSV headers of the library's columns " + ", ".join(RUN_COLUMNS) + ", e.g. "
                     "N=\"Model Size\",flops=\"Training FLOP\",loss=loss (quote headers with spaces or "
                     "commas); unmapped names are looked up as themselves (default: none; CSV files only)")
    fit.add_argument("--drop-highest", type=_integer(0), default=0, metavar="K",
                     help="drop the K highest-loss runs before fitting (default: %(default)s, keep all; "
                     "Besiroglu et al. 2024 fit chinchilla with 5 dropped, 240 runs)")
    fit.add_argument("--approach", type=int, choices=(1, 2, 3), default=3,
                     help="1 loss envelope, 2 IsoFLOP parabolas, 3 Huber fit of L(N, D) "
                     "(default: %(default)s)")
    fit.add_argument("--bootstrap", type=_integer(2, MAX_BOOTSTRAP), metavar="N",
                     help=f"resamples for {INTERVAL_LEVEL:.0%}% percentile intervals, 2 to {MAX_BOOTSTRAP} "
                     "(approaches 2 and 3; default: none; Besiroglu et al. used 4000)")
    fit.add_argument("--seed", type=_integer(0, 2**32 - 1), metavar="S",
                     help="seed of the bootstrap's JAX PRNG key, jax.random.key(S) (default: 0)")
    fit.add_argument("--fix", type=_argument(parse_fixed), metavar="NAME=VALUE[,...]",
                     help="pin parameters of the law to values in its own units, e.g. E=1.69 or "
                     "alpha=0.34,beta=0.28; names " + ", ".join(LAW_PARAMETERS) + " (approach 3; "
                     "default: all free)")
    fit.add_argument("--flops", type=_values(False), metavar="C",
                     help="training budgets (FLOPs) of the compute-optimal table (approach 3: the fitted "
                     "law's N*, D* and loss; 1 and 2: the power laws' N*, D*); list or range "
                     "(start:stop:num, log-spaced) (default: 1e19:1e25:7, i.e. 1e19, 1e20, ..., 1e25)")
    fit.add_argument("--json", action="store_true",
                     help="print one JSON object instead of text: the data, the approach, the fitted "
                     "parameters, objective, intervals ([low, high]), and one object per table row "
                     "with plain numbers (null for NaN); no progress on stderr")


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
# fit


def _fit(args) -> dict:
    """``scalinglaws fit``: load the runs, fit them by the chosen approach."""
    _check_fit_options(args)
    runs, data = _load_runs(args)
    flops = np.asarray(DEFAULT_BUDGETS if args.flops is None else args.flops, dtype=float)
    fitter = {1: _fit_envelope, 2: _fit_isoflop, 3: _fit_huber}[args.approach]
    return fitter(args, runs, data, flops)


def _check_fit_options(args) -> None:
    if args.seed is not None and args.bootstrap is None:
        raise ValueError("--seed: only used with --bootstrap")
    if args.fix is not None and args.approach != 3:
        raise ValueError(f"--fix: only used with --approach 3 (the Huber fit), not --approach {args.approach}")
    if args.bootstrap is not None and args.approach == 1:
        raise ValueError("--bootstrap: not available with --approach 1 (the loss envelope); use 2 or 3")
    if args.columns is not None and args.data in DATASETS:
        raise ValueError(f"--columns: only used with a CSV file, not the embedded dataset {args.data}")


def _load_runs(args) -> tuple[Runs, dict]:
    """The runs named by DATA, with --drop-highest applied, and their description."""
    if args.data in DATASETS:
        loader, reference = DATASETS[args.data]
        runs = loader()
        data = {"source": args.data, "kind": "dataset", "reference": reference}
    else:
        path = Path(args.data)
        if not path.exists():
            raise ValueError(
                f"DATA: {args.data!r} is neither a dataset ({', '.join(DATASETS)}) nor an existing file"
            )
        runs = _read_csv(path, args.columns)
        data = {"source": args.data, "kind": "file", "columns": args.columns or {}}
    total = len(runs)
    if args.drop_highest:
        if args.drop_highest >= total:
            raise ValueError(f"--drop-highest {args.drop_highest} leaves no runs: the data have {total}")
        runs = runs.drop_highest(args.drop_highest)
    data.update(rows=total, drop_highest=args.drop_highest, n_runs=len(runs))
    return runs, data


def _read_csv(path: Path, columns) -> Runs:
    try:
        return Runs.from_csv(path, columns)
    except csv.Error as error:
        raise ValueError(f"{path}: not a readable CSV file: {error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except ValueError as error:
        message = str(error)
        hint = ": map them with columns="
        if hint in message:  # the library's advice, in the command's spelling
            message = message.split(hint)[0] + (
                ": map them with --columns, e.g. --columns N=\"Model Size\",flops=\"Training FLOP\",loss=loss"
            )
        raise ValueError(message) from None


def _progress(args, message: str) -> None:
    """A progress line on stderr, except with --json."""
    if not args.json:
        print(message, file=sys.stderr, flush=True)


def _n_starts(fixed: dict) -> int:
    """How many distinct starts fit_huber uses: the grid with the fixed coordinates collapsed."""
    family = _HUBER_CHINCHILLA
    pinned = [family.names.index(family.natural[name][0]) for name in fixed]
    return len(np.unique(np.delete(family.grid, pinned, axis=1), axis=0))


def _fit_huber(args, runs, data, flops) -> dict:
    """Approach 3: the Huber fit of L(N, D), its compute-optimal table, the bootstrap."""
    fixed = args.fix or {}
    _progress(args, f"fitting {len(runs)} runs from {_n_starts(fixed)} starts ...")
    fit = fit_huber(runs, Chinchilla, fixed=fixed or None)
    law = fit.law
    parameters = {name: float(getattr(law, name)) for name in LAW_PARAMETERS}
    best = int(np.argmin(fit.end_objectives))
    converged = bool(fit.converged[best])
    table = budget_table(law, flops)
    columns = {name: table[name] for name in ("flops", "N", "D", "tokens_per_param", "loss", "status")}
    result = {
        "command": args.command,
        "title": "compute-optimal table of the fitted law (6 N D = FLOPs)",
        "data": data,
        "approach": 3,
        "method": f"Huber regression on log loss (delta {DELTA:g}), multi-start Levenberg-Marquardt "
        "(Hoffmann et al. 2022, approach 3; Besiroglu et al. 2024)",
        "law": {"family": "Chinchilla", "parameters": parameters, "fixed": fixed},
        "fit": {
            "objective": _plain(np.asarray(fit.objective)),
            "grad_norm": _plain(np.asarray(fit.grad_norm)),
            "starts": len(fit.starts),
            "converged": fit.n_converged,
            "at_best": fit.n_at_best,
            "best_converged": converged,
        },
        "power_laws": _compute_optimal_power_laws(parameters),
        "bootstrap": None,
        "intervals": None,
        "notes": _fit_notes(args, data),
        "warnings": [] if converged else [
            f"the best start did not converge (gradient norm {fit.grad_norm:.3g}): the fit may not be a minimum"
        ],
    }
    if args.bootstrap is not None:
        seed = 0 if args.seed is None else args.seed
        _progress(args, f"bootstrap: {args.bootstrap} resamples ...")
        draws = bootstrap(runs, args.bootstrap, key=jax.random.key(seed), fit=fit, fixed=fixed or None,
                          level=INTERVAL_LEVEL, flops=flops)
        result["bootstrap"] = {"resamples": args.bootstrap, "seed": seed, "level": INTERVAL_LEVEL,
                               "converged": int(np.sum(draws.converged))}
        result["intervals"] = {name: _interval(draws.intervals[name]) for name in (*LAW_PARAMETERS, "a", "b")}
        (N_low, N_high), (D_low, D_high) = draws.intervals["N*"], draws.intervals["D*"]
        columns = {"flops": columns["flops"], "N": columns["N"], "N_low": N_low, "N_high": N_high,
                   "D": columns["D"], "D_low": D_low, "D_high": D_high,
                   **{name: columns[name] for name in ("tokens_per_param", "loss", "status")}}
    result["rows"] = _rows(columns)
    return result


def _compute_optimal_power_laws(p: dict) -> dict:
    """a, b, k_N, k_D of N* = k_N C^a, D* = k_D C^b for L = E + A/N^alpha + B/D^beta.

    With C = 6 N D: N* = G (C/6)^a, D* = (C/6)^b / G, G = (alpha A / (beta B))^(1/(alpha+beta))
    (Hoffmann et al. 2022, appendix A).
    """
    alpha, beta = p["alpha"], p["beta"]
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    G = (alpha * p["A"] / (beta * p["B"])) ** (1.0 / (alpha + beta))
    return {"a": a, "b": b, "k_N": G * 6.0**-a, "k_D": 6.0**-b / G}


def _interval(pair) -> list:
    return [_plain(np.asarray(value)) for value in pair]


def _fit_envelope(args, runs, data, flops) -> dict:
    """Approach 1: power laws through the lower loss-FLOPs envelope."""
    envelope = fit_envelope(runs)
    notes = _fit_notes(args, data) + [
        "the envelope is the compute-optimal frontier only where some run near each FLOP count is "
        "close to compute-optimal; with final runs at a few sizes it favours those sizes (see sl.fit_envelope)"
    ]
    result = _power_law_result(args, data, envelope, notes, flops,
                               method="lower envelope of loss against FLOPs (Hoffmann et al. 2022, approach 1)")
    result["envelope_points"] = len(envelope.flops)
    return result


def _fit_isoflop(args, runs, data, flops) -> dict:
    """Approach 2: power laws through the minima of per-budget IsoFLOP parabolas."""
    seed = 0 if args.seed is None else args.seed
    n = args.bootstrap or 0
    isoflop = fit_isoflop(runs, key=jax.random.key(seed) if n else None, n_bootstrap=n, level=INTERVAL_LEVEL)
    result = _power_law_result(
        args, data, isoflop, _fit_notes(args, data), flops,
        method="IsoFLOP profiles: a parabola of loss against log10 N per budget "
        "(Hoffmann et al. 2022, approach 2)",
    )
    minima = {"flops": isoflop.budgets, "n_runs": isoflop.n_runs, "N": isoflop.N_opt, "D": isoflop.D_opt,
              "tokens_per_param": isoflop.D_opt / isoflop.N_opt, "loss": isoflop.loss_opt}
    if n:
        minima["kept"] = isoflop.bootstrap_kept
        result["bootstrap"] = {"resamples": n, "seed": seed, "level": INTERVAL_LEVEL,
                               "finite": int(np.sum(np.isfinite(isoflop.a_samples)))}
        result["intervals"] = {"a": _interval(isoflop.a_interval), "b": _interval(isoflop.b_interval)}
    result["minima"] = _rows(minima)
    result["skipped"] = [{"flops": float(budget), "reason": reason} for budget, reason in isoflop.skipped]
    return result


def _power_law_result(args, data, fit, notes, flops, method) -> dict:
    """The common part of approaches 1 and 2: a, b, k_N, k_D and their projections at --flops."""
    N, D = (np.asarray(x) for x in fit.predict(flops))
    return {
        "command": args.command,
        "title": "compute-optimal N* = k_N C^a and D* = k_D C^b projected by the power laws",
        "data": data,
        "approach": args.approach,
        "method": method,
        "power_laws": {name: float(getattr(fit, name)) for name in ("a", "b", "k_N", "k_D")},
        "bootstrap": None,
        "intervals": None,
        "notes": notes,
        "warnings": [],
        "rows": _rows({"flops": flops, "N": N, "D": D, "tokens_per_param": D / N}),
    }


def _fit_notes(args, data) -> list[str]:
    notes = []
    if data["source"] == "chinchilla" and data["kind"] == "dataset" and not args.drop_highest:
        notes.append("all 245 chinchilla runs; Besiroglu et al. 2024 fit 240 (--drop-highest 5)")
    return notes


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
    "n_runs": ("runs", str),
    "kept": ("kept", _formatter(".2f")),
    "N_interval": (f"params {INTERVAL_LEVEL:.0%}", str),
    "D_interval": (f"tokens {INTERVAL_LEVEL:.0%}", str),
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
    if result["command"] == "fit":
        return _render_fit(result)
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


_MEANINGS = {
    "E": "irreducible loss (nats per token)",
    "A": "coefficient of the parameter term",
    "B": "coefficient of the data term",
    "alpha": "exponent of N",
    "beta": "exponent of D",
    "a": "N* ~ C^a",
    "b": "D* ~ C^b",
    "k_N": "N* = k_N C^a (parameters)",
    "k_D": "D* = k_D C^b (tokens)",
}


def _render_fit(result: dict) -> str:
    """The result of ``fit`` as text: data, method, parameters with intervals, tables."""
    lines = [_data_text(result["data"]), f"approach {result['approach']}: {result['method']}"]
    intervals = result["intervals"] or {}
    level = f"{result['bootstrap']['level']:.0%} interval" if result["bootstrap"] else None
    cells = [["parameter", "estimate"] + ([level] if level else []) + ["meaning"]]

    fixed = result["law"]["fixed"] if result["approach"] == 3 else {}

    def add(name, value, meaning, pattern=".6g"):
        row = [name, format(value, pattern)]
        if level:
            shown = _interval_text(intervals[name], ".4g") if name in intervals else ""
            row.append("fixed" if name in fixed else shown)
        cells.append(row + [meaning])

    power_laws = result["power_laws"]
    if result["approach"] == 3:
        lines.append("law: L = E + A / N^alpha + B / D^beta (N parameters, D tokens)")
        for name, value in result["law"]["parameters"].items():
            add(name, value, _MEANINGS[name] + (" (fixed)" if name in fixed else ""))
        add("a", power_laws["a"], "N* ~ C^a, a = beta / (alpha + beta)", ".4f")
        add("b", power_laws["b"], "D* ~ C^b, b = alpha / (alpha + beta)", ".4f")
    else:
        add("a", power_laws["a"], _MEANINGS["a"], ".4f")
        add("b", power_laws["b"], _MEANINGS["b"], ".4f")
    add("k_N", power_laws["k_N"], _MEANINGS["k_N"], ".4g")
    add("k_D", power_laws["k_D"], _MEANINGS["k_D"], ".4g")
    lines += ["", *_aligned(cells)]
    info = []
    if result["approach"] == 3:
        fit = result["fit"]
        info.append(f"objective: {fit['objective']:.6e} (Huber, summed over runs), "
                    f"gradient norm {fit['grad_norm']:.2g}")
        info.append(f"starts: {fit['converged']} of {fit['starts']} converged, "
                    f"{fit['at_best']} at the best objective")
    if result["approach"] == 1:
        info.append(f"envelope points: {result['envelope_points']}")
    if result["bootstrap"]:
        draws = result["bootstrap"]
        done = (f"{draws['converged']} refits converged" if "converged" in draws
                else f"{draws['finite']} with at least 2 usable budgets")
        info.append(f"bootstrap: {draws['resamples']} resamples (seed {draws['seed']}), {done}; "
                    f"{draws['level']:.0%} percentile intervals")
    info += [f"note: {note}" for note in result["notes"]]
    if info:
        lines += ["", *info]
    if result["approach"] == 2:
        used, skipped = len(result["minima"]), len(result["skipped"])
        lines += ["", f"IsoFLOP minima: {used} budgets used, {skipped} skipped", "",
                  *_table_text(result["minima"])]
        if skipped:
            lines += ["", "skipped:"]
            lines += [f"  C={item['flops']:.3g}: {item['reason']}" for item in result["skipped"]]
    lines += ["", result["title"], "", *_table_text([_with_intervals(row) for row in result["rows"]])]
    return "\n".join(lines)


def _data_text(data: dict) -> str:
    if data["kind"] == "dataset":
        source = f"{data['source']} ({data['reference']})"
    else:
        mapped = ", ".join(f"{name}={header!r}" for name, header in data["columns"].items())
        source = data["source"] + (f" (columns {mapped})" if mapped else "")
    dropped = (f" of {data['rows']}, the {data['drop_highest']} highest-loss dropped"
               if data["drop_highest"] else "")
    return f"data: {source}: {data['n_runs']} runs{dropped}"


def _interval_text(pair, pattern: str, scale=None) -> str:
    show = scale or (lambda x: format(x, pattern))
    low, high = ("nan" if x is None else show(x) for x in pair)
    return f"[{low}, {high}]"


def _with_intervals(row: dict) -> dict:
    """A table row with N_low, N_high (D_low, D_high) shown as one interval column."""
    shown = {}
    for name, value in row.items():
        if name.endswith(("_low", "_high")):
            continue
        shown[name] = value
        if f"{name}_low" in row:
            shown[f"{name}_interval"] = _interval_text((row[f"{name}_low"], row[f"{name}_high"]), "",
                                                       engineering)
    return shown


def _aligned(cells: list[list[str]]) -> list[str]:
    """Rows of text cells: the first and last columns left-aligned, the others right-aligned."""
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    last = len(widths) - 1
    out = []
    for line in cells:
        parts = [cell.ljust(width) if i in (0, last) else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(line, widths))]
        out.append("  ".join(parts).rstrip())
    return out


# ----------------------------------------------------------------------------------
# entry point


def main(argv=None) -> int:
    """Run the ``scalinglaws`` command on ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status: 0 ok, 1 when some row did not solve (its status column
    says why) or a fit did not converge (a warning on stderr), 2 on a usage error or
    unreadable data (one line on stderr).
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
    except (ValueError, TypeError, OSError) as error:
        if isinstance(error, OSError) and error.filename is not None and error.strerror:
            text = f"{error.filename}: {error.strerror}"
        else:
            text = str(error)
        message = " ".join(text.split())
        print(f"scalinglaws: error: {message}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return _exit_status(result)


def _exit_status(result: dict) -> int:
    """1 with a warning on stderr per problem (a row that did not solve, a fit's own
    warnings), else 0."""
    warnings = list(result.get("warnings", []))
    failed = sum(row.get("status", 0) != 0 for row in result["rows"])
    if failed:
        warnings.append(f"{failed} row(s) did not solve; see the status column")
    for warning in warnings:
        print(f"scalinglaws: warning: {warning}", file=sys.stderr)
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
