"""The public namespace: ``import scalinglaws_jax as sl`` and nothing shadowed."""

import importlib
import types

import pytest

import scalinglaws_jax as sl


def test_backtest_is_the_function_and_its_module_lives_under_fit():
    assert callable(sl.backtest) and not isinstance(sl.backtest, types.ModuleType)
    assert importlib.import_module("scalinglaws_jax.fit.backtest").backtest is sl.backtest
    assert not hasattr(sl, "extrapolation_error") and not hasattr(sl, "ForecastCheck")


@pytest.mark.parametrize("name", ["sweep", "ladder"])
def test_the_functions_do_not_shadow_a_module_of_the_same_name(name):
    assert callable(getattr(sl, name)) and not isinstance(getattr(sl, name), types.ModuleType)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"scalinglaws_jax.{name}")


def test_every_public_module_imports_as_the_module():
    for name in ("laws", "allocate", "flops", "domain", "plot", "datasets", "fit.huber", "fit.runs",
                 "fit.isoflop", "fit.bayes", "fit.backtest", "fit.form_error"):
        module = importlib.import_module(f"scalinglaws_jax.{name}")
        assert isinstance(module, types.ModuleType), name
