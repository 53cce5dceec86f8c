"""The datasets shipped with the package (scalinglaws_jax.datasets).

Sources and row counts: ../shared/data/SOURCES.md. Chinchilla points: Hoffmann et al.
2022, Figure 4, digitised by Besiroglu et al. 2024 (arXiv:2404.10102), who drop the 5
highest-loss rows. Sardana et al. 2024, "Beyond Chinchilla-Optimal".
"""

import csv
import importlib.resources
import pathlib

import numpy as np
import pytest

from scalinglaws_jax import datasets
from scalinglaws_jax.fit.runs import Runs

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
CHINCHILLA_SHARED = SHARED / "analyzing-chinchilla" / "svg_extracted_data.csv"
SARDANA_SHARED = SHARED / "beyond-chinchilla" / "trainingresults.csv"


def shared(path):
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/data is not beside the checkout)")
    return path


def packaged(name):
    return (importlib.resources.files("scalinglaws_jax.datasets") / name).read_bytes()


def read_columns(path, names):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: np.array([float(row[name]) for row in rows]) for name in names}


def test_chinchilla():
    runs = datasets.chinchilla()
    assert isinstance(runs, Runs) and len(runs) == 245
    assert runs.group is None
    np.testing.assert_allclose(runs.D, runs.flops / (6 * runs.N), rtol=1e-15)
    np.testing.assert_array_equal(runs.weight, 1.0)
    # The digitised points span about 5.7e7 to 1.6e10 parameters.
    assert 4e7 < runs.N.min() < runs.N.max() < 2e10


def test_chinchilla_drop_highest():
    full = datasets.chinchilla()
    assert len(datasets.chinchilla(drop_highest=0)) == 245
    runs = datasets.chinchilla(drop_highest=5)
    assert len(runs) == 240
    dropped = np.setdiff1d(np.arange(245), _row_indices(full, runs))
    assert len(dropped) == 5
    np.testing.assert_array_equal(np.sort(full.loss[dropped]), np.sort(full.loss)[-5:])
    assert runs.loss.max() < full.loss[dropped].min()
    np.testing.assert_allclose(runs.D, runs.flops / (6 * runs.N), rtol=1e-15)


def _row_indices(full, sub):
    keys = {(n, f, l): i for i, (n, f, l) in enumerate(zip(full.N, full.flops, full.loss))}
    assert len(keys) == len(full)  # rows are distinct
    return np.array([keys[(n, f, l)] for n, f, l in zip(sub.N, sub.flops, sub.loss)])


def test_chinchilla_matches_shared_data():
    columns = read_columns(shared(CHINCHILLA_SHARED), ["Model Size", "Training FLOP", "loss"])
    runs = datasets.chinchilla()
    np.testing.assert_array_equal(runs.N, columns["Model Size"])
    np.testing.assert_array_equal(runs.flops, columns["Training FLOP"])
    np.testing.assert_array_equal(runs.loss, columns["loss"])
    np.testing.assert_array_equal(runs.D, columns["Training FLOP"] / (6 * columns["Model Size"]))


def test_sardana():
    runs = datasets.sardana()
    assert isinstance(runs, Runs) and len(runs) == 47
    assert runs.group is None
    assert round(runs.loss.min(), 3) == 2.370 and round(runs.loss.max(), 3) == 3.683
    np.testing.assert_allclose(runs.flops, 6 * runs.N * runs.D, rtol=1e-15)
    sizes, counts = np.unique(runs.N, return_counts=True)
    assert dict(zip(sizes.tolist(), counts.tolist())) == {
        151e6: 12, 367e6: 10, 749e6: 9, 1.26e9: 8, 2.46e9: 7, 6.05e9: 1
    }
    ratio = runs.D / runs.N  # tokens per parameter, 10 to 10,000
    assert ratio.min() == pytest.approx(10) and ratio.max() == pytest.approx(10_000)


def test_sardana_model_names_match_sizes():
    """Each Model Name has one N, in the order of N (so N labels the sizes)."""
    with (importlib.resources.files("scalinglaws_jax.datasets") / "sardana.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = {}
    for row in rows:
        names.setdefault(row["Model Name"], set()).add(float(row["Parameters"]))
    assert {name: len(sizes) for name, sizes in names.items()} == dict.fromkeys(names, 1)
    counts = {name: sum(row["Model Name"] == name for row in rows) for name in names}
    assert counts == {"150M": 12, "370M": 10, "750M": 9, "1.3B": 8, "2.5B": 7, "6B": 1}


def test_sardana_matches_shared_data():
    columns = read_columns(shared(SARDANA_SHARED), ["Parameters", "Tokens", "Smoothed Loss"])
    runs = datasets.sardana()
    np.testing.assert_array_equal(runs.N, columns["Parameters"])
    np.testing.assert_array_equal(runs.D, columns["Tokens"])
    np.testing.assert_array_equal(runs.loss, columns["Smoothed Loss"])


@pytest.mark.parametrize(
    "name, source", [("chinchilla.csv", CHINCHILLA_SHARED), ("sardana.csv", SARDANA_SHARED)]
)
def test_packaged_csv_is_a_verbatim_copy(name, source):
    assert packaged(name) == shared(source).read_bytes()


def test_docstrings_cite_sources():
    assert "92258837425e1b5f2851d624287f0120583a3d0e" in datasets.chinchilla.__doc__
    assert "2404.10102" in datasets.chinchilla.__doc__
    assert "190f70e365dc75037a2b3178609d00243f24b4b9" in datasets.sardana.__doc__
    assert "Apache-2.0" in datasets.sardana.__doc__
