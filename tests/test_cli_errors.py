"""Every failure of the ``scalinglaws`` command is one line on stderr, never a traceback."""

import argparse

import pytest

from scalinglaws_jax import cli


def _run_failing(monkeypatch, error) -> int:
    """``scalinglaws plan --flops 1e23`` with a handler that raises ``error``."""
    def parse_args(self, argv=None, namespace=None):
        args = original(self, argv, namespace)
        if getattr(args, "command", None) == "plan":
            def handler(_):
                raise error
            args.handler = handler
        return args

    original = argparse.ArgumentParser.parse_args
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_args)
    return cli.main(["plan", "--flops", "1e23"])


@pytest.mark.parametrize("error, status, text", [
    (ValueError("N must be positive,\n got N[0]=0"), 2, "scalinglaws: error: N must be positive, got N[0]=0"),
    (FileNotFoundError(2, "No such file or directory", "runs.csv"), 2,
     "scalinglaws: error: runs.csv: No such file or directory"),
    (KeyError("sigma"), 1, "scalinglaws: internal error: KeyError: 'sigma' (please report it"),
])
def test_a_failure_is_one_line_with_its_exit_status(monkeypatch, capsys, error, status, text):
    monkeypatch.delenv(cli.TRACEBACK_VARIABLE, raising=False)
    assert _run_failing(monkeypatch, error) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(text), captured.err


def test_the_traceback_of_an_internal_error_on_request(monkeypatch):
    monkeypatch.setenv(cli.TRACEBACK_VARIABLE, "1")
    with pytest.raises(KeyError, match="sigma"):
        _run_failing(monkeypatch, KeyError("sigma"))
