"""sl.ladder on disk: a resume with other fit settings or another model family is refused
before anything trains, naming what differs; the same settings and computation resume.

The family is tiny and synthetic ("training" counts steps; the held-out loss is a
Chinchilla law at the tokens seen, with a seed-to-seed scatter), and the ladder on disk is
killed at the first run of its second rung, before any fit: every test here trains at most
a few runs.
"""

import json
import shutil
import warnings

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
import pytest

import scalinglaws_jax as sl
from scalinglaws_jax._ladder import DEFAULT_BAYES

TRUTH = sl.Chinchilla(E=1.0, A=20.0, B=40.0, alpha=0.33, beta=0.30)
SIZES = (16, 24)
RATIOS = (4, 10, 25, 60)
TOKENS_PER_STEP = 1000
LAPLACE = {"method": "laplace", "num_chains": 1, "num_samples": 1000}


class Tiny:
    """A synthetic family; the keyword arguments change its computation, at every size or
    from ``from_size`` on. It records the runs it starts, and can be killed at one."""

    def __init__(self, noise=0.005, increment=1, init_scale=1.0, table=(1.0, 1.0), from_size=0, kill_at=None,
                 untraceable=False):
        self.changed = dict(noise=noise, increment=increment, init_scale=init_scale, table=table)
        self.from_size = from_size
        self.kill_at = kill_at
        self.untraceable = untraceable
        self.inits = []

    def __call__(self, width):
        knobs = self.changed if width >= self.from_size else Tiny().changed
        params, embedding = 12 * width * width, 512 * width
        table = jnp.asarray(knobs["table"])

        def init(key):
            if not isinstance(key, jax.core.Tracer):  # a run, not the ladder tracing the family
                if len(self.inits) == self.kill_at:
                    raise KeyboardInterrupt("killed")
                self.inits.append(width)
            return 0, knobs["init_scale"] * jax.random.normal(key)

        def step(state, i, num_steps):
            return state[0] + knobs["increment"], state[1]

        def evaluate(state):
            with jax.enable_x64(True):
                clean = TRUTH.loss(params + embedding, state[0] * TOKENS_PER_STEP / knobs["increment"])
                loss = clean * jnp.exp(knobs["noise"] * state[1]) * table[0] / table[1]
            return float(loss) if self.untraceable else loss

        return sl.LadderModel(init, step, evaluate, params, embedding, TOKENS_PER_STEP)


def run(family, out, bayes=LAPLACE, sizes=SIZES):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return sl.ladder(family, sizes, key=jax.random.key(0), tokens_per_param=RATIOS, bayes=bayes, out=out)


@pytest.fixture(scope="module")
def half_finished(tmp_path_factory):
    """A ladder directory killed at the first run of rung 1 (rung 0 trained, nothing fitted)."""
    out = tmp_path_factory.mktemp("ladder") / "half"
    with pytest.raises(KeyboardInterrupt):
        run(Tiny(kill_at=len(RATIOS)), out)
    return out


@pytest.fixture
def copy(half_finished, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(half_finished, target)
    return target


def refused(out, match, family=None, **kwargs):
    family = Tiny() if family is None else family
    before = (out / "ladder.json").read_bytes()
    with pytest.raises(ValueError, match=match):
        run(family, out, **kwargs)
    assert family.inits == [], "refused only after training"
    assert (out / "ladder.json").read_bytes() == before


def test_the_manifest_records_the_settings_and_the_family(half_finished):
    stored = json.loads((half_finished / "ladder.json").read_text())
    assert stored["bayes"]["method"] == "laplace" and stored["bayes"]["fixed"] == {}
    assert stored["bayes"]["num_warmup"] == DEFAULT_BAYES["num_warmup"]  # defaults recorded too
    assert stored["bayes"]["family"] == "Chinchilla" and stored["bayes"]["likelihood"] == "student_t"
    assert [rung["size"] for rung in stored["family"]] == ["16", "24"]
    assert all(len(rung[name]) == 64 for rung in stored["family"] for name in ("init", "step", "evaluate"))


def test_the_same_ladder_resumes(copy):
    family = Tiny()  # new closures, the same computation
    ladder = run(family, copy)
    assert family.inits == [SIZES[1]] * len(RATIOS)  # only the runs that had not trained
    assert sorted(ladder.posteriors) == [1] and ladder.posteriors[1].domain is not None


@pytest.mark.parametrize("bayes, match", [
    ({**LAPLACE, "fixed": {"E": 1.8}}, r"bayes differs: fixed \{'E': 1.8\} vs \{\}"),
    ({**LAPLACE, "num_samples": 2000}, "bayes differs: num_samples 2000 vs 1000"),
    ({**LAPLACE, "method": "svi"}, "bayes differs: method 'svi' vs 'laplace'"),
    ({**LAPLACE, "priors": {"E": dist.Uniform(0.5, 2.5)}},
     r"bayes differs: priors \{'E': 'Uniform\(low=0.5, high=2.5\)'\} vs \{\}"),
    ({**LAPLACE, "family": sl.Kaplan}, "bayes differs: family 'Kaplan' vs 'Chinchilla'"),
    ({k: v for k, v in LAPLACE.items() if k != "method"}, "bayes differs: method 'nuts' vs 'laplace'"),
], ids=["fixed", "num_samples", "method", "priors", "law family", "default method"])
def test_other_fit_settings_are_refused(copy, bayes, match):
    refused(copy, match, bayes=bayes)


def test_priors_are_told_apart_by_their_exact_values(tmp_path):
    out = tmp_path / "priors"
    prior = {**LAPLACE, "priors": {"alpha": dist.Uniform(0.0, 1.0)}}
    with pytest.raises(KeyboardInterrupt):
        run(Tiny(kill_at=len(RATIOS)), out, bayes=prior)
    refused(out, r"bayes differs: priors \{'alpha': 'Uniform\(low=0.0, high=1.0000001\)'\} vs "
                 r"\{'alpha': 'Uniform\(low=0.0, high=1.0\)'\}",
            bayes={**LAPLACE, "priors": {"alpha": dist.Uniform(0.0, 1.0000001)}})
    refused(out, r"bayes differs: priors \{'alpha': 'Beta", bayes={**LAPLACE, "priors": {"alpha": dist.Beta(1.0, 1.0)}})
    family = Tiny()
    run(family, out, bayes={**LAPLACE, "priors": {"alpha": dist.Uniform(0, 1)}})  # equal, as new objects
    assert family.inits == [SIZES[1]] * len(RATIOS)


@pytest.mark.parametrize("change, name, rung", [
    ({"noise": 0.006}, "evaluate", 0),
    ({"table": (2.0, 2.0)}, "evaluate", 0),  # a closed-over array: the same program, other constants
    ({"increment": 2}, "step", 0),
    ({"init_scale": 0.5}, "init", 0),
    ({"noise": 0.006, "from_size": SIZES[1]}, "evaluate", 1),  # only the larger size changed
], ids=["a constant", "an array constant", "step", "init", "at rung 1 only"])
def test_another_family_is_refused(copy, change, name, rung):
    refused(copy, rf"the model family's {name} function at rung {rung} \(size {SIZES[rung]}\) differs from the one "
                  rf"that trained '{copy}'", family=Tiny(**change))


def test_a_family_that_cannot_be_traced(tmp_path):
    family = Tiny(untraceable=True)
    with pytest.raises(ValueError, match=r"out: family\(16\).evaluate cannot be traced by jax.make_jaxpr "
                                         r"\(ConcretizationTypeError: .*returning arrays, not Python floats"):
        run(family, tmp_path / "x")
    assert family.inits == [] and not (tmp_path / "x").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ladder = sl.ladder(family, SIZES[:1], key=jax.random.key(0), tokens_per_param=RATIOS, bayes=LAPLACE)
    assert len(family.inits) == len(RATIOS) and len(ladder.plan) == len(RATIOS)  # in memory it need not trace


def test_bad_fit_settings_are_refused_before_training():
    family = Tiny()
    with pytest.raises(ValueError, match=r"bayes= may hold .* got unknown name\(s\) \['num_sample'\]"):
        sl.ladder(family, SIZES, key=jax.random.key(0), tokens_per_param=RATIOS, bayes={"num_sample": 10})
    for law in (sl.ComputeLaw, sl.DataConstrained):  # not laws of (N, D) alone
        with pytest.raises(ValueError, match=r"bayes\['family'\] must be Chinchilla or Kaplan"):
            sl.ladder(family, SIZES, key=jax.random.key(0), tokens_per_param=RATIOS, bayes={"family": law})
    for bayes, match in [({"priors": {"E": "uniform"}}, r"priors\['E'\] must be a numpyro distribution, got str"),
                         ({"fixed": {"E": -1.0}}, r"fixed\['E'\] must be finite and positive"),
                         ({"method": "mcmc"}, "method must be one of"),
                         ({"num_samples": 2}, "num_samples must be an integer >= 4")]:
        with pytest.raises(ValueError, match=match):  # checked as fit_bayes checks them, before training
            sl.ladder(family, SIZES, key=jax.random.key(0), tokens_per_param=RATIOS, bayes=bayes)
    assert family.inits == []


def test_a_manifest_of_the_older_format_is_refused(copy):
    stored = json.loads((copy / "ladder.json").read_text())
    stored["format"] = "scalinglaws_jax.ladder/1"
    for name in ("bayes", "family"):
        del stored[name]
    (copy / "ladder.json").write_text(json.dumps(stored))
    refused(copy, "format 'scalinglaws_jax.ladder/1'.*did not record everything its results depend on")


def test_a_damaged_manifest_is_refused(copy):
    stored = json.loads((copy / "ladder.json").read_text())
    del stored["family"]
    (copy / "ladder.json").write_text(json.dumps(stored))
    refused(copy, r"ladder.json lacks \['family'\]: it is damaged")
    (copy / "ladder.json").write_text('{"format": ')
    refused(copy, "ladder.json is not valid JSON")


def test_the_digest_is_the_same_in_another_process(half_finished):
    """The family's programs hash alike in a fresh interpreter (no memory addresses, no ids)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import json, sys
        import jax
        jax.config.update("jax_enable_x64", True)
        sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
        from test_ladder_identity import Tiny, SIZES, RATIOS
        from scalinglaws_jax import _ladder
        plan, models = _ladder._plan(Tiny(), SIZES, RATIOS, None, (1.0, 1000.0), "total")
        print(json.dumps(_ladder._programs(plan, models, jax.random.key(0))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1800, check=True)
    stored = json.loads((half_finished / "ladder.json").read_text())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == stored["family"]


def test_the_exact_text_of_a_prior_tells_priors_apart():
    from scalinglaws_jax.fit.bayes import _describe

    pairs = [
        (dist.Uniform(0.5, 3.0), dist.Uniform(0.5, 3.0 + 1e-12)),
        (dist.TruncatedNormal(0.3, 0.1, low=0.0), dist.TruncatedNormal(0.3, 0.2, low=0.0)),
        (dist.TransformedDistribution(dist.Normal(0.0, 1.0), [dist.transforms.AffineTransform(1.0, 2.0)]),
         dist.TransformedDistribution(dist.Normal(0.0, 1.0), [dist.transforms.AffineTransform(1.0, 3.0)])),
    ]
    for a, b in pairs:
        assert _describe(a, exact=True) != _describe(b, exact=True), _describe(a, exact=True)
    assert _describe(dist.Gamma(2, 0.1), exact=True) == _describe(dist.Gamma(2.0, 0.1), exact=True)
    assert _describe(dist.LogNormal(5.0, 5.0), exact=True) == "LogNormal(loc=5.0, scale=5.0)"
    assert _describe(dist.Uniform(0.5, 3.0)) == "Uniform(low=0.5, high=3)"  # the summaries' text is unchanged


def test_a_posterior_of_other_runs_is_refused(tmp_path):
    """A stored fit must be the fit of the runs it claims: one copied from another ladder is named."""
    first, second = tmp_path / "first", tmp_path / "second"
    run(Tiny(), first)
    run(Tiny(noise=0.006), second)  # the same plan, other losses
    shutil.copy(second / "posterior-after-rung-1.npz", first / "posterior-after-rung-1.npz")
    shutil.copy(second / "posterior-after-rung-1.json", first / "posterior-after-rung-1.json")
    with pytest.raises(ValueError, match=r"posterior-after-rung-1.npz was not fitted to the finished runs of "
                                         r"rungs 0-1 in ladder.json \(its data hash differs\): remove it to refit"):
        run(Tiny(), first)
    (first / "posterior-after-rung-1.npz").unlink()
    (first / "posterior-after-rung-1.json").unlink()
    family = Tiny()
    ladder = run(family, first)  # refitted, nothing retrained
    assert family.inits == [] and sorted(ladder.posteriors) == [1]
