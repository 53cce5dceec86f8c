"""``scalinglaws demo``: the tour prints the law three ways, the table and the inference plan,
agrees with the library, and writes every figure as a PNG."""

import contextlib
import io
import json
import pathlib

import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli
from scalinglaws_jax.cli import _demo

PNG = b"\x89PNG\r\n\x1a\n"


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "docs" / "gallery"  # created with its parent
    status, text, err = call("demo", "--quick", "--out", str(out))
    return status, text, err, out


def test_demo_prints_the_tour(demo):
    status, text, err, _ = demo
    assert status == 0, err
    assert text.startswith("data: Hoffmann et al. 2022's Chinchilla runs")
    for heading in ("Huber fit", "bootstrap 95% (100)", "posterior median", "compute-optimal plan",
                    "inference-aware (Sardana et al. 2023)", "figures:"):
        assert heading in text
    assert "1.00e+19" in text and "1.00e+25" in text
    # progress: one numbered line per step, with its time
    steps = [line for line in err.splitlines() if line.startswith("[")]
    assert len(steps) == 6 and steps[-1].startswith("[6/6] figures") and steps[-1].endswith(" s")


def test_demo_writes_every_figure(demo):
    *_, out = demo
    for name in _demo.FIGURES:
        path = out / f"{name}.png"
        assert path.read_bytes()[:8] == PNG, name
        assert path.stat().st_size > 20_000, f"{name}.png looks empty"


def test_demo_json_agrees_with_the_library(tmp_path):
    status, text, err = call("demo", "--quick", "--no-figures", "--json", "--seed", "1")
    assert status == 0, err
    assert err == ""  # no progress lines with --json
    result = json.loads(text)
    runs = sl.datasets.chinchilla(drop_highest=5)
    fit = sl.fit_huber(runs)
    for name in ("E", "A", "B", "alpha", "beta"):
        row = result["law"][name]
        np.testing.assert_allclose(row["huber"], float(getattr(fit.law, name)), rtol=1e-10)
        low, high = row["posterior_interval"]
        assert low < row["posterior"] < high
        assert row["bootstrap"][0] < row["huber"] < row["bootstrap"][1]
    assert [row["flops"] for row in result["rows"]] == list(sl.DEFAULT_BUDGETS)
    assert all(row["N_low"] < row["N"] < row["N_high"] for row in result["rows"])
    plan = result["inference"]
    served = sl.inference_optimal(fit.law, plan["loss"], plan["inference_tokens"])
    np.testing.assert_allclose(plan["inference_optimal"]["N"], float(served.N), rtol=1e-8)
    assert 0 < plan["saving"] < 1
    assert result["figures"] == []


@pytest.mark.parametrize("inside", ["", "gallery"])
def test_demo_refuses_a_file_as_output(tmp_path, inside):
    target = tmp_path / "file.png"
    target.write_text("")
    status, out, err = call("demo", "--quick", "--out", str(target / inside))
    assert status == 2
    assert "--out" in err and f"{str(target)!r} exists and is not a directory" in err
    assert target.read_text() == ""


def test_demo_help():
    status, out, _ = call("demo", "--help")
    assert status == 0
    for option in ("--out", "--quick", "--no-figures", "--seed", "--json", "examples:", "exit status"):
        assert option in out


def test_readme_gallery_shows_every_demo_figure():
    """The README's gallery is the demo's output: one committed PNG per figure, each shown."""
    root = pathlib.Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    gallery = root / "docs" / "gallery"
    assert sorted(p.stem for p in gallery.glob("*.png")) == sorted(_demo.FIGURES)
    for name in _demo.FIGURES:
        assert (gallery / f"{name}.png").read_bytes()[:8] == PNG
        assert f"(docs/gallery/{name}.png)" in readme and f"sl.plot.{name}(" in readme, name
    assert "scalinglaws demo --out docs/gallery" in readme
