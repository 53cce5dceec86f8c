"""argparse plumbing: the parser whose errors are one line, subcommands, and argument types."""

from __future__ import annotations

import argparse

import numpy as np

from ._values import _parse_number, parse_values


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, with exit status 2."""

    def error(self, message):
        self.exit(2, f"scalinglaws: error: {message} (see '{self.prog} --help')\n")


def _subcommand(commands, name, help, description, epilog, handler) -> argparse.ArgumentParser:
    """A subcommand parser that runs ``handler(args)``."""
    command = commands.add_parser(name, help=help, description=description, epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    command.set_defaults(handler=handler)
    return command


# ----------------------------------------------------------------------------------
# argparse types: each raises ArgumentTypeError, which argparse reports with the option


def _value_list(allow_zero: bool):
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

