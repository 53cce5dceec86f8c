"""Posterior.save / Posterior.load: every corruption of the .npz or its JSON sidecar is one
ValueError naming the file and the problem; the domain of the fitted runs travels with it."""

import contextlib
import hashlib
import io
import json

import jax
import numpy as np
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax import cli
from scalinglaws_jax.domain import Domain
from scalinglaws_jax.fit.bayes import Posterior, fit_bayes

TRUTH = sl.Chinchilla(E=1.7, A=400.0, B=1500.0, alpha=0.34, beta=0.30)


@pytest.fixture(scope="module")
def runs():
    N = np.repeat(np.geomspace(1e7, 1e9, 6), 4)
    D = N * np.tile([5.0, 15.0, 40.0, 120.0], 6)
    noise = np.exp(0.004 * np.random.default_rng(0).standard_normal(N.size))
    with jax.enable_x64(True):
        loss = np.asarray(TRUTH.loss(N, D)) * noise
    return sl.Runs(N=N, D=D, loss=loss)


@pytest.fixture(scope="module")
def post(runs):
    """A Laplace fit: one chain of 200 draws."""
    return fit_bayes(runs, key=jax.random.key(0), method="laplace", num_chains=1, num_samples=200)


@pytest.fixture
def saved(post, tmp_path):
    return post.save(tmp_path / "post")


def rewrite(path, meta=None, arrays=None):
    """Edit the saved posterior at ``path``: ``meta(dict)`` and ``arrays(dict)`` change them in
    place; the sidecar's SHA-256 is updated first, so only an edit of it fails the checksum."""
    path = path if str(path).endswith(".npz") else path.with_name(path.name + ".npz")
    side = path.with_suffix(".json")
    if arrays is not None:
        with np.load(path) as data:
            content = {name: data[name] for name in data.files}
        arrays(content)
        with open(path, "wb") as handle:
            np.savez(handle, **content)
    stored = json.loads(side.read_text())
    stored["npz_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    if meta is not None:
        meta(stored)
    side.write_text(json.dumps(stored))
    return path


def refused(path, *fragments):
    with pytest.raises(ValueError) as caught:
        Posterior.load(path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----------------------------------------------------------------------------------
# the domain


def test_domain_of_the_fitted_runs(post, runs):
    assert post.domain == Domain.from_runs(runs)
    assert post.domain.N == (1e7, 1e9) and post.domain.tokens_per_param == pytest.approx((5.0, 120.0))


def test_domain_round_trip(post, saved):
    meta = json.loads(saved.with_suffix(".json").read_text())
    assert meta["domain"] == post.domain.to_dict()
    loaded = Posterior.load(saved)
    assert loaded.domain == post.domain and "domain" not in loaded.info


def test_a_file_without_a_domain_loads_with_none(saved):
    rewrite(saved, meta=lambda m: m.pop("domain"))
    assert Posterior.load(saved).domain is None


def test_a_bad_domain_is_refused(saved):
    rewrite(saved, meta=lambda m: m["domain"].update(N=[1e9, 1e7]))
    refused(saved, "post.json", "domain range N")
    rewrite(saved, meta=lambda m: m.update(domain="everywhere"))
    refused(saved, "post.json", "domain")


# ----------------------------------------------------------------------------------
# the files themselves


def test_a_directory_named_npz(tmp_path):
    (tmp_path / "x.npz").mkdir()
    (tmp_path / "x.json").write_text("{}")
    refused(tmp_path / "x.npz", "x.npz", "is a directory")


def test_a_missing_npz(saved):
    saved.unlink()
    refused(saved, "post.npz", "no such file")


def test_a_sidecar_that_is_a_directory(saved):
    saved.with_suffix(".json").unlink()
    saved.with_suffix(".json").mkdir()
    refused(saved, "post.json", "is a directory")


@pytest.mark.parametrize("text, problem", [
    ('{"format": "scalinglaws_jax.Posterior/1", ', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
], ids=["truncated", "empty", "a list"])
def test_malformed_json(saved, text, problem):
    saved.with_suffix(".json").write_text(text)
    refused(saved, "post.json", problem)


def test_a_sidecar_not_utf8(saved):
    saved.with_suffix(".json").write_bytes(b'{"law": "Chinchilla\xff"}')
    refused(saved, "post.json", "not UTF-8")


def test_a_truncated_npz_with_a_matching_checksum(saved):
    blob = saved.read_bytes()
    saved.write_bytes(blob[: len(blob) // 2])
    rewrite(saved)
    refused(saved, "post.npz", "not a readable .npz archive")


def test_an_npy_file_in_place_of_the_npz(saved):
    with open(saved, "wb") as handle:
        np.save(handle, np.zeros(3))
    rewrite(saved)
    refused(saved, "post.npz", "not an .npz archive")


def test_a_damaged_member_with_a_matching_checksum(saved):
    blob = bytearray(saved.read_bytes())
    at = blob.index(b"\x93NUMPY") + 200  # inside the first array's data
    blob[at] ^= 0xFF
    saved.write_bytes(bytes(blob))
    rewrite(saved)
    refused(saved, "post.npz", "damaged")


# ----------------------------------------------------------------------------------
# the sidecar's fields


def test_a_changed_family(saved):
    rewrite(saved, meta=lambda m: m.update(law="Kaplan"))
    refused(saved, "post.json", "Kaplan", "N_c", "E")


@pytest.mark.parametrize("field, value, problem", [
    ("method", "mcmc", "method must be one of"),
    ("likelihood", "cauchy", "likelihood must be one of"),
    ("approximate", False, "approximate"),
    ("num_chains", 0, "num_chains"),
    ("num_samples", "200", "num_samples"),
    ("npz_sha256", None, "'npz_sha256' must be a str"),
    ("npz_sha256", "0" * 64, "SHA-256 does not match"),
    ("priors", ["E"], "priors"),
    ("fixed", {"nu": "four"}, "fixed"),
    ("fixed", {"nu": 4.0, "E": 1.7}, "both a prior and a fixed value"),
    ("parameters", "E", "parameters"),
])
def test_a_bad_field(saved, field, value, problem):
    rewrite(saved, meta=lambda m: m.update({field: value}))
    refused(saved, "post.json", problem)


@pytest.mark.parametrize("field", ["method", "likelihood", "parameters", "priors", "fixed", "num_chains",
                                   "num_samples", "npz_sha256"])
def test_a_missing_field(saved, field):
    rewrite(saved, meta=lambda m: m.pop(field))
    refused(saved, "post.json", repr(field))


def test_a_shortened_parameter_list(saved):
    rewrite(saved, meta=lambda m: m.update(parameters=m["parameters"][:-2]))
    refused(saved, "post.json", "missing", "sigma", "nu")


def test_a_missing_sigma(saved):
    def drop(arrays):
        del arrays["sigma"]

    rewrite(saved, meta=lambda m: m.update(parameters=[p for p in m["parameters"] if p != "sigma"]),
            arrays=drop)
    refused(saved, "post.json", "missing", "'sigma'")


def test_a_parameter_without_prior_or_value(saved):
    rewrite(saved, meta=lambda m: m["priors"].pop("beta"))
    refused(saved, "post.json", "beta", "neither a prior nor a fixed value")


def test_a_fixed_value_the_draws_disagree_with(saved):
    rewrite(saved, meta=lambda m: m["fixed"].update(nu=5.0))
    refused(saved, "post.npz", "'nu'", "fixed")


# ----------------------------------------------------------------------------------
# the arrays


def test_mismatched_draw_counts(saved):
    rewrite(saved, arrays=lambda a: a.update(E=a["E"][:, :-1]))
    refused(saved, "post.npz", "'E'", "(1, 199)", "1 chain(s) x 200")


def test_a_changed_chain_layout(saved, post):
    def two_chains(arrays):
        for name in arrays:
            arrays[name] = arrays[name].reshape(2, 100)

    path = rewrite(saved, meta=lambda m: m.update(num_chains=2, num_samples=100), arrays=two_chains)
    two = Posterior.load(path)  # a consistent layout loads
    assert two.num_chains == 2 and two.num_draws == post.num_draws
    np.testing.assert_array_equal(two.draws("E"), post.draws("E"))
    rewrite(saved, arrays=lambda a: a.update(alpha=a["alpha"].reshape(1, 200)))
    refused(saved, "post.npz", "'alpha'", "(1, 200)", "2 chain(s) x 100")


@pytest.mark.parametrize("name, value, problem", [
    ("E", np.nan, "finite"),
    ("A", np.inf, "finite"),
    ("sigma", 0.0, "positive"),
    ("nu", -4.0, "positive"),
])
def test_values_that_cannot_be_draws(saved, name, value, problem):
    def poison(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][0, 3] = value

    if name == "nu":
        rewrite(saved, meta=lambda m: (m["fixed"].pop("nu"), m["priors"].update(nu="Gamma()")))
    rewrite(saved, arrays=poison)
    refused(saved, "post.npz", repr(name), problem)


def test_missing_and_unexpected_arrays(saved):
    rewrite(saved, arrays=lambda a: a.pop("num_steps"))
    refused(saved, "post.npz", "missing", "'num_steps'")
    rewrite(saved, arrays=lambda a: a.update(num_steps=np.zeros((1, 200), np.int64), extra=np.zeros(2)))
    refused(saved, "post.npz", "unexpected", "'extra'")


@pytest.mark.parametrize("name, value, problem", [
    ("E", np.ones((1, 200), np.int64), "float"),
    ("diverging", np.zeros((1, 200), np.float64), "bool"),
    ("num_steps", np.zeros((1, 200), np.float64), "integer"),
    ("num_steps", -np.ones((1, 200), np.int64), "negative"),
    ("diverging", np.zeros((2, 100), bool), "(2, 100)"),
])
def test_arrays_of_the_wrong_kind(saved, name, value, problem):
    rewrite(saved, arrays=lambda a: a.update({name: value}))
    refused(saved, "post.npz", repr(name), problem)


# ----------------------------------------------------------------------------------
# the CLI


def sweep(law):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["sweep", "--law", str(law), "--flops", "1e21"])
    return status, out.getvalue(), err.getvalue()


def test_cli_sweep_reads_a_saved_posterior(saved):
    status, out, err = sweep(saved)
    assert status == 0, err
    assert "Chinchilla" in out


@pytest.mark.parametrize("damage", ["kaplan", "json", "directory"])
def test_cli_sweep_refuses_a_damaged_posterior_in_one_line(saved, tmp_path, damage):
    if damage == "kaplan":
        law = rewrite(saved, meta=lambda m: m.update(law="Kaplan"))
    elif damage == "json":
        saved.with_suffix(".json").write_text("{")
        law = saved
    else:
        law = tmp_path / "x.npz"
        law.mkdir()
        (tmp_path / "x.json").write_text("{}")
    status, out, err = sweep(law)
    assert status == 2 and out == "" and err.count("\n") == 1, (status, err)
    assert err.startswith(f"scalinglaws: error: {law.with_suffix('.json') if damage != 'directory' else law}")
