"""The ``scalinglaws`` command: plan a training run, print the compute-optimal table, fit.

``scalinglaws plan`` answers "what model, on how many tokens, does this budget buy?"
(or this target loss, or this budget with inference demand), and works as a 6ND
calculator; ``scalinglaws table`` prints the compute-optimal table of a published law;
``scalinglaws fit`` fits a law to training runs (an embedded dataset or a CSV file) by
any of Hoffmann et al.'s three approaches, with bootstrap intervals, or samples its
posterior with NUTS (``--bayes``); ``scalinglaws sweep`` solves a grid of budgets (or
target losses) and inference volumes for a law or every draw of a saved posterior;
``scalinglaws backtest`` fits the runs at or below each cut and scores the forecasts of those
above (``sl.backtest``). All take ``--json`` for machine-readable output.

The command turns on float64 (``jax_enable_x64``) as it starts; importing the library
never does. Bad input is a one-line ``scalinglaws: error: ...`` on stderr and exit
status 2, never a traceback.

Units: N in parameters, D and inference tokens in tokens, compute in FLOPs, money in
dollars.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax

from .. import __version__
from ._arguments import _Parser
from ._backtest import _add_backtest
from ._fit import BAYES_DEFAULTS, DATASETS, MAX_BOOTSTRAP, MAX_CHAINS, _add_fit
from ._plan import PRICE_PER_GPU_HOUR, _add_plan, _add_table
from ._sweep import _add_sweep
from ._demo import _add_demo
from ._render import engineering, render
from ._values import LAW_PARAMETERS, MAX_RANGE_POINTS, parse_columns, parse_fixed, parse_values

TRACEBACK_VARIABLE = "SCALINGLAWS_TRACEBACK"

__all__ = [
    "BAYES_DEFAULTS",
    "DATASETS",
    "LAW_PARAMETERS",
    "MAX_BOOTSTRAP",
    "MAX_CHAINS",
    "MAX_RANGE_POINTS",
    "PRICE_PER_GPU_HOUR",
    "build_parser",
    "engineering",
    "main",
    "parse_columns",
    "parse_fixed",
    "parse_values",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``scalinglaws`` argument parser with its ``plan``, ``table``, ``fit``, ``sweep``, ``backtest`` and
    ``demo`` subcommands."""
    parser = _Parser(
        prog="scalinglaws",
        description="Plan training runs with neural scaling laws (scalinglaws_jax).",
        epilog="Start with 'scalinglaws demo', the tour: fits of real runs, a plan, figures.\n"
        "Run 'scalinglaws COMMAND --help' for a command's options.\n\n"
        "example:\n  scalinglaws plan --flops 5.76e23\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"scalinglaws {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    _add_plan(commands)
    _add_table(commands)
    _add_fit(commands)
    _add_sweep(commands)
    _add_backtest(commands)
    _add_demo(commands)
    return parser


def main(argv=None) -> int:
    """Run the ``scalinglaws`` command on ``argv`` (default ``sys.argv[1:]``).

    Returns the exit status: 0 ok, 1 when some row did not solve (its status column
    says why), a fit did not converge or a posterior's diagnostics are doubtful (a
    warning on stderr), 2 on a usage error or unreadable data (one line on stderr).
    An unexpected exception is one ``internal error`` line and status 1 (its traceback
    when the environment variable SCALINGLAWS_TRACEBACK is set).
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
        print(f"scalinglaws: error: {_one_line(text)}", file=sys.stderr)
        return 2
    except Exception as error:  # a defect of the library, not of the input
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"scalinglaws: internal error: {type(error).__name__}: {_one_line(str(error))} "
              f"(please report it; set {TRACEBACK_VARIABLE}=1 for the traceback)", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else render(result))
    return _exit_status(result)


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
