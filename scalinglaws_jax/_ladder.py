"""Scaling ladders: train a model family at growing sizes, refit after each rung, forecast the next.

"Fit the small runs, extrapolate, check against the next size" is how a law earns trust.
``ladder(family, sizes, tokens_per_param=(4, 16, 64), key=...)`` trains every size (a
*rung*) at each of its token budgets, every run with a learning-rate schedule planned for
its own budget, and records the held-out loss at the end of the run (the point a law is
fitted to) and at checkpoints along the way (for inspection only: a checkpoint from the
middle of a schedule is not a point of the law). After each rung it fits the law to the
finished runs with ``fit_bayes`` (NUTS) and, before the next rung starts, stores the
posterior-predictive forecast of that rung's losses with intervals. With ``out=`` every
finished run and every forecast is written to disk as it happens, so the same call
resumes after a crash: a finished run is never retrained and a forecast, once made, is
never revised. A call that would change the results (another plan, other fit settings,
another computation in the family) is refused before anything trains.

A model family is a function ``family(size) -> LadderModel``, in plain JAX and optax:
``init(key)`` makes the model and optimiser state, ``step(state, i, num_steps)`` takes
one optimiser step, ``evaluate(state)`` returns the held-out loss, and the parameter
counts and tokens per step say what the run costs. A ladder on disk identifies the family
by the programs JAX traces from these three functions. ``examples/scaling_ladder.py`` is a
complete family (a byte-level transformer on the Python standard library's sources).

Units: N in parameters, D in tokens, compute in FLOPs, loss in nats per token.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import numbers
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from ._computation import program_digest
from ._files import atomic_write
from .fit.bayes import Posterior, _check_settings, _describe, data_hash, default_priors, fit_bayes
from .fit.runs import Runs
from .laws import Chinchilla, Kaplan

COUNTS = ("total", "non_embedding")
"""Parameter-count conventions: all parameters (Hoffmann et al.), or without the
embeddings (Kaplan et al.); see Pearce & Song 2024 for what the choice does to a fit."""

DEFAULT_BAYES = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000}
"""``fit_bayes`` settings of the refits, unless ``bayes=`` says otherwise."""

_FORMAT = "scalinglaws_jax.ladder/2"
_MANIFEST = "ladder.json"
_PROGRAMS = ("init", "step", "evaluate")


@dataclasses.dataclass(frozen=True)
class LadderModel:
    """One size of a model family, as a ladder trains it.

    Attributes:
        init: ``init(key) -> state``: a fresh model, optimiser and data-stream state (any
            pytree), from a JAX PRNG key.
        step: ``step(state, i, num_steps) -> state``: one optimiser step on the next batch
            of training data, the ``i``-th of a run of ``num_steps`` steps; the learning
            rate schedule spans the whole run (a warm-up and a decay planned for it). The
            ladder passes ``i`` and ``num_steps`` as Python ints, which ``jax.jit`` traces,
            so one compilation serves every run of a size.
        evaluate: ``evaluate(state) -> loss``: the held-out loss, nats per token (a
            scalar array; with ``ladder(out=...)`` the three functions are traced once
            per size by ``jax.make_jaxpr``, which a Python float or other host-side work
            on the state cannot pass).
        params: non-embedding parameters (the weights of the transformer blocks).
        embedding_params: token and position embedding and unembedding parameters.
        tokens_per_step: training tokens per step (batch size x context length).
    """

    init: Callable
    step: Callable
    evaluate: Callable
    params: int
    embedding_params: int
    tokens_per_step: int

    def count(self, convention: str) -> int:
        """Parameters under ``convention``: ``"total"`` or ``"non_embedding"``."""
        return self.params + self.embedding_params if convention == "total" else self.params


@dataclasses.dataclass(frozen=True)
class LadderRun:
    """One training run of a ladder: a size at a token budget.

    Attributes:
        rung: index of the size in ``sizes``.
        size: the size setting given to the family (as ``repr`` text).
        params, embedding_params: the model's parameter counts.
        tokens_per_step: training tokens per step.
        num_steps: optimiser steps; D = num_steps x tokens_per_step.
    """

    rung: int
    size: str
    params: int
    embedding_params: int
    tokens_per_step: int
    num_steps: int

    @property
    def D(self) -> int:
        """Training tokens."""
        return self.num_steps * self.tokens_per_step

    def N(self, count: str) -> int:
        """Parameters under ``count`` (``"total"`` or ``"non_embedding"``)."""
        return self.params + self.embedding_params if count == "total" else self.params


@dataclasses.dataclass(frozen=True, eq=False)
class LadderForecast:
    """The forecast of one rung's losses, made before the rung was trained.

    Attributes:
        rung: the rung forecast.
        fitted_rungs: the rungs whose runs the law was fitted to (all before ``rung``).
        runs: indices into ``Ladder.plan`` of the rung's runs.
        N, D: their parameters (under the ladder's count) and training tokens.
        median, low, high: the posterior-predictive median and central ``level``
            interval of each run's loss (observation noise included).
        level: the interval's coverage.
        measured: each run's held-out loss once trained (NaN before).
    """

    rung: int
    fitted_rungs: tuple[int, ...]
    runs: tuple[int, ...]
    N: np.ndarray
    D: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    measured: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        """Per run: the measured loss lies in the interval (False where not yet trained)."""
        return (self.low <= self.measured) & (self.measured <= self.high)

    @property
    def relative_error(self) -> np.ndarray:
        """Per run: (median - measured) / measured; > 0 when the forecast was too high."""
        return (self.median - self.measured) / self.measured

    def __repr__(self) -> str:
        trained = np.isfinite(self.measured)
        verdict = (f"{int(self.inside[trained].sum())}/{int(trained.sum())} measured inside"
                   if trained.any() else "not trained yet")
        return (f"LadderForecast(rung {self.rung} from rungs {list(self.fitted_rungs)}: {len(self.runs)} runs, "
                f"{self.level:.0%} intervals, {verdict})")


@dataclasses.dataclass(frozen=True, eq=False)
class Ladder:
    """What a ladder trained, measured and forecast.

    Attributes:
        plan: every run, in training order (rung by rung, token budgets ascending).
        loss: final held-out loss of each run (NaN where not trained).
        checkpoint_tokens, checkpoint_loss: per run, the held-out loss at its checkpoints
            (tokens seen, loss); the last is the final loss.
        seconds: training wall time of each run (NaN where not trained).
        count: the parameter count the law was fitted with (``"total"`` or
            ``"non_embedding"``).
        forecasts: rung -> ``LadderForecast`` (from the first rung the runs before it identify
            the law).
        posteriors: rung k -> the ``Posterior`` fitted to the runs of rungs 0..k.
        notes: what was not forecast or fitted, and why.
    """

    plan: tuple[LadderRun, ...]
    loss: np.ndarray
    checkpoint_tokens: tuple[np.ndarray, ...]
    checkpoint_loss: tuple[np.ndarray, ...]
    seconds: np.ndarray
    count: str
    forecasts: dict
    posteriors: dict
    notes: tuple[str, ...]

    @property
    def rungs(self) -> int:
        return 1 + max(run.rung for run in self.plan)

    def runs(self, count: str | None = None, rungs=None) -> Runs:
        """The finished runs' final points as ``Runs`` (group = rung), N under ``count``
        (default the ladder's), restricted to ``rungs`` when given."""
        count = _check_count(self.count if count is None else count)
        chosen = np.array([np.isfinite(self.loss[i]) and (rungs is None or run.rung in rungs)
                           for i, run in enumerate(self.plan)], bool)
        if not chosen.any():
            raise ValueError("no finished runs" + ("" if rungs is None else f" in rungs {list(rungs)}"))
        plan = [run for run, keep in zip(self.plan, chosen) if keep]
        return Runs(N=[run.N(count) for run in plan], D=[run.D for run in plan], loss=self.loss[chosen],
                    group=[run.rung for run in plan])

    def checkpoints(self, count: str | None = None) -> Runs:
        """Every recorded checkpoint as ``Runs``, group = run index (for inspection and the
        loss envelope; only the final point of a run lies at the end of its schedule)."""
        count = _check_count(self.count if count is None else count)
        rows = [(run.N(count), tokens, loss, i)
                for i, run in enumerate(self.plan)
                for tokens, loss in zip(self.checkpoint_tokens[i], self.checkpoint_loss[i])]
        if not rows:
            raise ValueError("no checkpoints recorded")
        N, D, loss, group = map(np.asarray, zip(*rows))
        return Runs(N=N, D=D, loss=loss, group=group)

    def __repr__(self) -> str:
        done = int(np.isfinite(self.loss).sum())
        return (f"Ladder({self.rungs} rungs, {done}/{len(self.plan)} runs trained, {len(self.forecasts)} forecasts, "
                f"N counted {self.count})")


# ----------------------------------------------------------------------------------
# checks and the plan


def _check_count(count) -> str:
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    return count


def _positive_numbers(name: str, values) -> tuple[float, ...]:
    try:
        array = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be positive numbers, got {values!r}") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}")
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite and positive, got {name}[{index}]={float(array[index])!r}")
    return tuple(float(x) for x in np.sort(array))


def _int_attribute(model: LadderModel, name: str, low: int, size) -> int:
    value = getattr(model, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"family({size!r}).{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _plan(family, sizes, tokens_per_param, flops, ratio_range, count):
    """The runs of every rung, in training order, and the models by rung."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes must be a list of size settings, got {sizes!r}")
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes is empty: give the size settings of the rungs, smallest first")
    if (tokens_per_param is None) == (flops is None):
        raise ValueError("give the token budgets as tokens_per_param= (D = r N) or flops= (IsoFLOP: D = C / 6N), "
                         "not both or neither")
    ratios = None if tokens_per_param is None else _positive_numbers("tokens_per_param", tokens_per_param)
    budgets = None if flops is None else _positive_numbers("flops", flops)
    low, high = _positive_numbers("ratio_range", ratio_range) if len(ratio_range) == 2 else (None, None)
    if low is None:
        raise ValueError(f"ratio_range must be (low, high) tokens per parameter, got {ratio_range!r}")
    models, plan, previous = [], [], 0
    for rung, size in enumerate(sizes):
        model = family(size)
        if not isinstance(model, LadderModel):
            raise TypeError(f"family({size!r}) must return a LadderModel, got {type(model).__name__}")
        params = _int_attribute(model, "params", 1, size)
        embedding = _int_attribute(model, "embedding_params", 0, size)
        per_step = _int_attribute(model, "tokens_per_step", 1, size)
        N = model.count(count)
        if N <= previous:
            raise ValueError(f"sizes must grow: family({size!r}) has {N} parameters ({count}), "
                             f"not more than the rung before ({previous})")
        previous = N
        if ratios is not None:
            tokens = [r * N for r in ratios]
        else:
            tokens = [C / (6.0 * N) for C in budgets if low <= C / (6.0 * N * N) <= high]
            if not tokens:
                raise ValueError(f"no budget in flops= gives family({size!r}) ({N} parameters) between "
                                 f"{low:g} and {high:g} tokens per parameter (ratio_range)")
        steps = sorted({max(1, round(D / per_step)) for D in tokens})
        plan += [LadderRun(rung, repr(size), params, embedding, per_step, s) for s in steps]
        models.append(model)
    return tuple(plan), models


# ----------------------------------------------------------------------------------
# the manifest


def _settings(plan, count, level, checkpoints, key, bayes, programs) -> dict:
    return {"format": _FORMAT, "count": count, "level": level, "checkpoints": checkpoints,
            "key": _key_data(key), "bayes": bayes, "family": programs,
            "plan": [dataclasses.asdict(run) for run in plan]}


def _fit_settings(bayes: dict) -> dict:
    """Every ``fit_bayes`` setting of the refits, defaults included and checked as
    ``fit_bayes`` checks them, as plain JSON data: a prior by its class and exact
    parameters, a law family by its name."""
    parameters = inspect.signature(fit_bayes).parameters
    allowed = [name for name in parameters if name not in ("runs", "key")]
    unknown = sorted(set(bayes) - set(allowed))
    if unknown:
        raise ValueError(f"bayes= may hold {allowed} (the settings of fit_bayes), got unknown name(s) {unknown}")
    settings = {name: parameters[name].default for name in allowed}
    settings.update(bayes)
    if not isinstance(settings["form_error"], bool):
        raise ValueError(f"bayes['form_error'] must be True or False, got {settings['form_error']!r}")
    _check_settings(**{name: value for name, value in settings.items() if name not in ("dense_mass", "form_error")})
    for name in ("priors", "fixed"):
        settings[name] = settings[name] or {}
    return json.loads(json.dumps({name: _plain(f"bayes[{name!r}]", value) for name, value in settings.items()}))


def _plain(where: str, value):
    """``value`` as JSON data that tells apart every setting that changes a fit."""
    import numpyro.distributions as dist

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dist.Distribution):
        return _describe(value, exact=True)
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, dict):
        return {str(key): _plain(f"{where}[{key!r}]", item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(f"{where}[{i}]", item) for i, item in enumerate(value)]
    if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
        return _plain(where, np.asarray(value).item())
    raise ValueError(f"{where} is {value!r}, which a ladder cannot record in {_MANIFEST}")


def _programs(plan, models, key) -> list[dict]:
    """Per rung: the size and a digest of each of init, step and evaluate as JAX traces
    them (``jax.make_jaxpr``, on the key and the state init makes, at the rung's first
    token budget), which identifies the family's computation across processes."""
    programs = []
    for rung, model in enumerate(models):
        run = next(run for run in plan if run.rung == rung)

        def trace(name, function, *args):
            try:
                return jax.make_jaxpr(function, return_shape=True)(*args)
            except Exception as error:  # any failure to trace: the message says which function and why
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise ValueError(
                    f"out: family({run.size}).{name} cannot be traced by jax.make_jaxpr ({type(error).__name__}: "
                    f"{reason}); a ladder on disk identifies its family by the programs JAX traces from init, "
                    "step and evaluate, so with out= they must be JAX functions of their arguments (returning "
                    "arrays, not Python floats)") from None

        init, state = trace("init", model.init, key)
        step, _ = trace("step", lambda state: model.step(state, 0, run.num_steps), state)
        evaluate, _ = trace("evaluate", model.evaluate, state)
        programs.append({"size": run.size, **{name: program_digest(jaxpr) for name, jaxpr in
                                               zip(_PROGRAMS, (init, step, evaluate))}})
    return programs


def _key_data(key) -> list[int]:
    """The key's bits, for typed keys (``jax.random.key``) and raw ones (``PRNGKey``)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key).ravel().tolist()


def _open(out, settings) -> tuple[Path | None, dict]:
    """The manifest's records (runs and forecasts), after checking it holds this ladder."""
    if out is None:
        return None, {"runs": {}, "forecasts": {}, "notes": {}}
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"out: {str(directory)!r} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / _MANIFEST
    if not manifest.exists():
        if any(directory.iterdir()):
            raise ValueError(f"out: {str(directory)!r} is not empty and holds no {_MANIFEST}: refusing to use it")
        return directory, {"runs": {}, "forecasts": {}, "notes": {}}
    try:
        stored = json.loads(manifest.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"out: {manifest} is not valid JSON ({error}): use another directory") from None
    if not isinstance(stored, dict) or stored.get("format") != _FORMAT:
        tag = stored.get("format") if isinstance(stored, dict) else None
        if isinstance(tag, str) and tag.startswith("scalinglaws_jax.ladder/"):
            raise ValueError(f"out: {manifest} was written by another version of scalinglaws_jax (format {tag!r}, "
                             f"this one writes {_FORMAT!r}) that did not record everything its results depend "
                             "on, so resuming it cannot be checked: use another directory")
        raise ValueError(f"out: {manifest} is not a scalinglaws_jax ladder (format {tag!r})")
    where = repr(str(directory))
    missing = [name for name in (*settings, "runs", "forecasts", "notes") if name not in stored]
    if missing:
        raise ValueError(f"out: {manifest} lacks {missing}: it is damaged; use another directory")
    for name in ("count", "level", "checkpoints", "key"):
        if stored[name] != settings[name]:
            raise ValueError(f"out: {where} holds a ladder with {name}={stored[name]!r}, "
                             f"not {settings[name]!r}: use another directory")
    old, new = stored["plan"], settings["plan"]
    for index, (was, now) in enumerate(zip(old, new)):
        if was != now:
            raise ValueError(f"out: {where} holds another ladder: its run {index} was {was}, this one is {now}")
    if len(old) > len(new):
        raise ValueError(f"out: {where} holds a longer ladder ({len(old)} runs, this one has "
                         f"{len(new)}): use another directory")
    for name in sorted(set(stored["bayes"]) | set(settings["bayes"])):
        was, now = stored["bayes"].get(name, "not set"), settings["bayes"].get(name, "not set")
        if was != now:
            raise ValueError(f"out: {where} holds a ladder fitted with other settings: bayes differs: "
                             f"{name} {now!r} vs {was!r}: use another directory, or the settings it was fitted with")
    for rung, (was, now) in enumerate(zip(stored["family"], settings["family"])):
        for name in _PROGRAMS:
            if was[name] != now[name]:
                raise ValueError(f"out: the model family's {name} function at rung {rung} (size {now['size']}) "
                                 f"differs from the one that trained {where}: use another directory, or the "
                                 "family that trained it")
    return directory, {"runs": stored["runs"], "forecasts": stored["forecasts"], "notes": stored["notes"]}


def _write(directory, settings, records) -> None:
    if directory is None:
        return
    body = json.dumps({**settings, **records}, indent=1, allow_nan=True).encode("utf-8")
    atomic_write(directory / _MANIFEST, lambda handle: handle.write(body))


def _posterior_path(directory: Path, rung: int) -> Path:
    return directory / f"posterior-after-rung-{rung}.npz"


# ----------------------------------------------------------------------------------
# the harness


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _train(model: LadderModel, run: LadderRun, key, checkpoints: int) -> dict:
    """One run: init, ``num_steps`` steps, the held-out loss at ``checkpoints`` points."""
    started = time.perf_counter()
    state = model.init(key)
    at = sorted({max(1, round(run.num_steps * (j + 1) / checkpoints)) for j in range(checkpoints)})
    tokens, losses = [], []
    for i in range(run.num_steps):
        state = model.step(state, i, run.num_steps)
        if i + 1 in at:
            tokens.append((i + 1) * run.tokens_per_step)
            losses.append(float(model.evaluate(state)))
    return {"loss": losses[-1], "checkpoint_tokens": tokens, "checkpoint_loss": losses,
            "seconds": time.perf_counter() - started}


def _finished_runs(plan, records, rungs, count) -> Runs | None:
    rows = [(run.N(count), run.D, records["runs"][str(i)]["loss"]) for i, run in enumerate(plan)
            if run.rung in rungs and str(i) in records["runs"] and math.isfinite(records["runs"][str(i)]["loss"])
            and records["runs"][str(i)]["loss"] > 0]
    if not rows:
        return None
    N, D, loss = map(np.asarray, zip(*rows))
    return Runs(N=N, D=D, loss=loss)


def _identifiable(runs: Runs | None, bayes: dict) -> str | None:
    """Why the law cannot be fitted to ``runs`` yet, or None."""
    if runs is None:
        return "no finished runs"
    sampled = set(default_priors(bayes.get("family", Chinchilla))) | set(bayes.get("priors") or {})
    free = len(sampled - set(bayes.get("fixed") or {}))
    if len(runs) <= free:
        return f"{len(runs)} finished runs cannot determine {free} parameters"
    if np.unique(runs.N).size < 2:
        return "one model size cannot separate the N term from the D term"
    return None


def _fit(runs: Runs, key, rung: int, bayes: dict) -> tuple[Posterior, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = fit_bayes(runs, key=jax.random.fold_in(key, 1_000_000 + rung), **bayes)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    for message in messages:
        warnings.warn(f"ladder: the fit after rung {rung}: {message}", RuntimeWarning, stacklevel=3)
    return post, messages


def ladder(family: Callable, sizes, *, key, tokens_per_param=None, flops=None, ratio_range=(1.0, 1000.0),
           count: str = "total", checkpoints: int = 4, level: float = 0.9, bayes: dict | None = None,
           out=None, progress: bool | None = None) -> Ladder:
    """Train a ladder of model sizes, refitting the law after each rung and forecasting the next.

    For each size in order (a rung), every run of its token budgets is trained from
    scratch with ``family(size)``; after the rung, the law L = E + A / N^alpha + B / D^beta
    is fitted to every finished run (``fit_bayes``: NUTS, Student-t noise on log loss),
    and, once the runs identify it, the posterior-predictive median and ``level``
    interval of the next rung's losses are stored before that rung starts. The fit after
    the last rung is the ladder's law.

    Args:
        family: ``family(size) -> LadderModel`` (see ``LadderModel``).
        sizes: the size settings, smallest first (anything ``family`` takes and ``repr``
            shows the same way on every call: ints, tuples, dicts of numbers).
        key: JAX PRNG key; run i is initialised from ``jax.random.fold_in(key, i)``.
        tokens_per_param: token budgets as ratios r, D = r N for every size; or
        flops: IsoFLOP budgets C (FLOPs): each size is trained at D = C / (6 N) for
            every C that gives it between ``ratio_range`` tokens per parameter.
        ratio_range: (low, high) tokens per parameter for ``flops=``.
        count: ``"total"`` (default; Hoffmann et al.) or ``"non_embedding"`` (Kaplan et
            al.) parameters, for the budgets and the fits (``Ladder.runs(count=...)`` gives
            the other).
        checkpoints: held-out evaluations per run, evenly spaced; the last is the end.
        level: coverage of the forecast intervals.
        bayes: keyword arguments of ``fit_bayes`` (default ``DEFAULT_BAYES``), e.g.
            ``{"priors": {...}, "num_samples": 500}``.
        out: directory for ``ladder.json`` (the plan, every finished run and forecast)
            and the posteriors; the same call there resumes. The manifest records
            everything the results depend on: the plan, ``count``, ``level``,
            ``checkpoints``, ``key``, every ``fit_bayes`` setting (a prior by its class
            and exact parameters) and, per rung, a digest of the programs of the
            family's init, step and evaluate as ``jax.make_jaxpr`` traces them
            (constants included), so they must be traceable JAX functions; a call that
            differs in any of them is refused, naming what differs. None keeps
            everything in memory.
        progress: a line per run and per fit on stderr (default: when it is a terminal).

    Returns:
        ``Ladder``.

    Raises:
        ValueError: naming the bad argument; an ``out`` holding another ladder, or this
            ladder with other fit settings or another family (before anything trains).

    References: Hoffmann et al. 2022 (the law, IsoFLOP budgets); Kaplan et al. 2020 and
    Pearce & Song 2024 (parameter counts with and without embeddings).
    """
    if not callable(family):
        raise TypeError(f"family must be callable, got {type(family).__name__}")
    count = _check_count(count)
    if isinstance(checkpoints, bool) or not isinstance(checkpoints, numbers.Integral) or checkpoints < 1:
        raise ValueError(f"checkpoints must be an integer >= 1, got {checkpoints!r}")
    if not (isinstance(level, numbers.Real) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    bayes = {**DEFAULT_BAYES, **(bayes or {})}
    if "key" in bayes:
        raise ValueError("bayes= must not hold key: the ladder derives the fits' keys from key=")
    fit_settings = _fit_settings(bayes)
    if bayes.get("family", Chinchilla) not in (Chinchilla, Kaplan):
        raise ValueError(f"bayes['family'] must be Chinchilla or Kaplan (a law of N and D, what a ladder "
                         f"measures), got {bayes['family']!r}")
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    plan, models = _plan(family, sizes, tokens_per_param, flops, ratio_range, count)
    programs = None if out is None else _programs(plan, models, key)
    settings = _settings(plan, count, float(level), int(checkpoints), key, fit_settings, programs)
    directory, records = _open(out, settings)
    posteriors = {}

    def posterior_after(rung: int) -> Posterior | None:
        """The fit to rungs 0..rung: stored, or fitted now (and stored)."""
        if rung in posteriors:
            return posteriors[rung]
        runs = _finished_runs(plan, records, range(rung + 1), count)
        path = None if directory is None else _posterior_path(directory, rung)
        if path is not None and path.exists():
            post = Posterior.load(path)
            if runs is None or post.info.get("data_hash") != data_hash(runs):
                raise ValueError(f"out: {path} was not fitted to the finished runs of rungs 0-{rung} in "
                                 f"{_MANIFEST} (its data hash differs): remove it to refit")
            posteriors[rung] = post
            return post
        reason = _identifiable(runs, bayes)
        if reason is not None:
            records["notes"][str(rung)] = f"no fit after rung {rung}: {reason}"
            return None
        _say(progress, f"fitting the law to {len(runs)} runs of rungs 0-{rung} (NUTS) ...")
        post, messages = _fit(runs, key, rung, bayes)
        if path is not None:
            post.save(path)
        posteriors[rung] = post
        if messages:
            records["notes"][str(rung)] = f"fit after rung {rung}: " + " ".join(messages)
        return post

    rungs = 1 + plan[-1].rung
    for rung in range(rungs):
        mine = [i for i, run in enumerate(plan) if run.rung == rung]
        begun = any(str(i) in records["runs"] for i in mine)
        if rung > 0 and str(rung) not in records["forecasts"] and not begun:
            post = posterior_after(rung - 1)
            if post is not None:
                N = np.array([plan[i].N(count) for i in mine], float)
                D = np.array([plan[i].D for i in mine], float)
                median, low, high = post.predict_interval(N, D, level=level)
                records["forecasts"][str(rung)] = {
                    "fitted_rungs": list(range(rung)), "runs": mine, "median": median.tolist(),
                    "low": low.tolist(), "high": high.tolist(), "made": time.time()}
                _say(progress, f"forecast for rung {rung} ({int(N[0])} parameters): "
                     + ", ".join(f"{m:.4f} [{lo:.4f}, {hi:.4f}]" for m, lo, hi in zip(median, low, high)))
            _write(directory, settings, records)
        for i in mine:
            if str(i) in records["runs"]:
                continue
            run = plan[i]
            _say(progress, f"rung {rung + 1}/{rungs}, run {i + 1}/{len(plan)}: N={run.N(count)} ({count}), "
                 f"D={run.D:.4g} tokens, {run.num_steps} steps ...")
            records["runs"][str(i)] = result = _train(models[rung], run, jax.random.fold_in(key, i), checkpoints)
            _say(progress, f"  held-out loss {result['loss']:.4f} in {result['seconds']:.1f} s")
            _write(directory, settings, records)
    posterior_after(rungs - 1)
    _write(directory, settings, records)
    for rung in range(rungs - 1):
        if directory is not None and _posterior_path(directory, rung).exists():
            posterior_after(rung)
    return _result(plan, records, count, float(level), posteriors)


def _result(plan, records, count, level, posteriors) -> Ladder:
    done = records["runs"]
    loss = np.array([done[str(i)]["loss"] if str(i) in done else np.nan for i in range(len(plan))], float)
    forecasts = {}
    for rung, stored in records["forecasts"].items():
        runs = tuple(stored["runs"])
        forecasts[int(rung)] = LadderForecast(
            rung=int(rung), fitted_rungs=tuple(stored["fitted_rungs"]), runs=runs,
            N=np.array([plan[i].N(count) for i in runs], float), D=np.array([plan[i].D for i in runs], float),
            median=np.asarray(stored["median"]), low=np.asarray(stored["low"]), high=np.asarray(stored["high"]),
            level=level, measured=loss[list(runs)])
    empty = np.zeros(0)
    return Ladder(
        plan=plan, loss=loss,
        checkpoint_tokens=tuple(np.asarray(done[str(i)]["checkpoint_tokens"], float) if str(i) in done else empty
                                for i in range(len(plan))),
        checkpoint_loss=tuple(np.asarray(done[str(i)]["checkpoint_loss"], float) if str(i) in done else empty
                              for i in range(len(plan))),
        seconds=np.array([done[str(i)]["seconds"] if str(i) in done else np.nan for i in range(len(plan))], float),
        count=count, forecasts=dict(sorted(forecasts.items())), posteriors=dict(sorted(posteriors.items())),
        notes=tuple(records["notes"][k] for k in sorted(records["notes"], key=int)))
