"""``scalinglaws fit``: its options, loading the runs, the three approaches' results and
the Bayesian fit (``--bayes``)."""

from __future__ import annotations

import csv
import functools
import os
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..allocate import DEFAULT_BUDGETS, budget_table, compute_optimal
from ..datasets import chinchilla, gadre, sardana
from ..domain import Domain
from ..fit.huber import CHINCHILLA as _HUBER_CHINCHILLA
from ..fit.bayes import ESS_MIN, RHAT_MAX, default_chain_method, fit_bayes
from ..fit.design import check_spread
from ..fit.huber import DELTA, NoRefitConverged, RefitWarning, bootstrap, check_design, fit_huber
from ..fit.isoflop import fit_envelope, fit_isoflop
from ..fit.runs import Runs
from ..laws import Chinchilla
from ._arguments import _argument, _integer, _subcommand, _value_list
from ._plan import _domain
from ._render import INTERVAL_LEVEL, _chains, _plain, _rows
from ._values import LAW_PARAMETERS, RUN_COLUMNS, parse_columns, parse_fixed

DATASETS = {
    "chinchilla": (chinchilla, "Hoffmann et al. 2022, Figure 4, digitised by Besiroglu et al. 2024"),
    "sardana": (sardana, "Sardana et al. 2024, MPT-style runs"),
    **{f"gadre-{name}": (functools.partial(gadre, train_set), f"Gadre et al. 2024, open_lm on {label}, C4 validation loss")
       for name, train_set, label in (("c4", "c4_original", "C4"), ("redpajama", "rpj", "RedPajama"),
                                      ("refinedweb", "rw_original", "RefinedWeb"))},
}
"""Embedded datasets ``fit`` takes by name: loader and source."""

MAX_BOOTSTRAP = 20_000
"""Most resamples ``--bootstrap`` may ask for (memory grows with resamples x runs)."""

MAX_CHAINS = 64
"""Most NUTS chains ``--chains`` may ask for."""

BAYES_DEFAULTS = {"chains": 4, "warmup": 1000, "samples": 1000}
"""``--bayes`` sampler settings unless ``--chains``, ``--warmup``, ``--samples`` say otherwise."""


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
    "\n"
    "--bayes samples the posterior of the same law with NUTS (sl.fit_bayes: NumPyro, a\n"
    "dense mass matrix, fixed data-independent priors E ~ Uniform(0.5, 3), alpha, beta ~\n"
    "LogNormal(-1.2, 0.6), A and B through their terms at N = 1e9 and D = 2e10:\n"
    "log(A / 1e9^alpha), log(B / 2e10^beta) ~ Normal(-1, 1.5), and a Student-t likelihood\n"
    "(nu = 4) on log loss with a learned scale sigma ~ HalfNormal(0.05)). It prints, per parameter,\n"
    f"the posterior median, the {INTERVAL_LEVEL:.0%} equal-tailed interval, R-hat and bulk ESS, the\n"
    "number of divergent transitions and the wall time, then the posterior medians and\n"
    f"{INTERVAL_LEVEL:.0%} intervals of N*, D*, D*/N* and the loss at the --flops budgets (the forecast\n"
    "of a run at each draw's compute-optimal plan: the draw's law, the runs' noise and the\n"
    "law's form error beyond the runs, learned leave-future-out; sl.Posterior.predict). An\n"
    f"R-hat above {RHAT_MAX}, a bulk ESS below {ESS_MIN:.0f} or any divergence is a warning on stderr\n"
    "(exit status 1): do not trust the intervals then. --save PATH writes the draws\n"
    "(PATH.npz, one array per parameter, and a PATH.json sidecar; sl.Posterior.load\n"
    "reads them). On CPU the chains run in parallel, one per device (the command asks\n"
    "XLA for --chains host devices); 4 chains x (1000 + 1000) take about 15-40 s on a\n"
    "laptop CPU, including compilation. Results are reproducible for a given --seed and\n"
    "chain layout (the JSON's bayes.chain_method: parallel, sequential or vectorized).\n"
    "\n"
    "Units: N in parameters, D in tokens, C in FLOPs, loss in nats per token.\n"
)

_FIT_EPILOG = (
    "examples:\n"
    "  scalinglaws fit chinchilla --drop-highest 5\n"
    "  scalinglaws fit chinchilla --drop-highest 5 --bootstrap 4000 --flops 5.76e23 --json\n"
    "  scalinglaws fit chinchilla --fix E=1.69\n"
    "  scalinglaws fit chinchilla --drop-highest 5 --bayes --flops 5.76e23 --save chinchilla-posterior\n"
    "  scalinglaws fit chinchilla --drop-highest 5 --bayes --chains 2 --warmup 500 --samples 500 --seed 1 --json\n"
    "  scalinglaws fit chinchilla --approach 2 --bootstrap 1000 --seed 1\n"
    "  scalinglaws fit chinchilla --approach 1\n"
    "  scalinglaws fit sardana --flops 1e20:1e24:5\n"
    "  scalinglaws fit runs.csv --columns N=\"Model Size\",flops=\"Training FLOP\",loss=loss\n"
    "\n"
    "exit status: 0 ok; 1 a doubtful result (a warning on stderr says why): the best start\n"
    "did not converge, the runs do not determine the law or the exponents well, bootstrap\n"
    "refits did not converge (the intervals then use those that did), the sampler's\n"
    "diagnostics are doubtful (--bayes), or a table row did not solve; 2 usage error (bad\n"
    "option, dataset, file, or data that cannot identify the fit, e.g. all runs at one\n"
    "tokens-per-parameter ratio).\n"
)


def _add_fit(commands) -> None:
    fit = _subcommand(commands, "fit", "fit a law to training runs (Hoffmann et al.'s approaches 1-3), with "
                      "bootstrap intervals or a Bayesian posterior", _FIT_DESCRIPTION, _FIT_EPILOG, _fit)
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
    fit.add_argument("--bayes", action="store_true",
                     help="sample the posterior of L = E + A / N^alpha + B / D^beta with NUTS (sl.fit_bayes) "
                     "instead of the Huber fit; not with --approach 1 or 2, nor --bootstrap (default: off)")
    fit.add_argument("--chains", type=_integer(1, MAX_CHAINS), metavar="N",
                     help=f"NUTS chains, 1 to {MAX_CHAINS} (--bayes; default: {BAYES_DEFAULTS['chains']})")
    fit.add_argument("--warmup", type=_integer(1), metavar="N",
                     help="warm-up (adaptation) iterations per chain, discarded (--bayes; default: "
                     f"{BAYES_DEFAULTS['warmup']})")
    fit.add_argument("--samples", type=_integer(4), metavar="N",
                     help="draws kept per chain, at least 4 (--bayes; default: "
                     f"{BAYES_DEFAULTS['samples']})")
    fit.add_argument("--save", metavar="PATH",
                     help="write the posterior draws to PATH.npz and its JSON sidecar PATH.json "
                     "(Posterior.save; .npz is appended when missing; read them with sl.Posterior.load) "
                     "(--bayes; default: not saved)")
    fit.add_argument("--seed", type=_integer(0, 2**32 - 1), metavar="S",
                     help="seed of the JAX PRNG key, jax.random.key(S), of the bootstrap or of --bayes "
                     "(default: 0)")
    fit.add_argument("--fix", type=_argument(parse_fixed), metavar="NAME=VALUE[,...]",
                     help="pin parameters of the law to values in its own units, e.g. E=1.69 or "
                     "alpha=0.34,beta=0.28; names " + ", ".join(LAW_PARAMETERS) + " (approach 3 and "
                     "--bayes; default: all free)")
    fit.add_argument("--flops", type=_value_list(False), metavar="C",
                     help="training budgets (FLOPs) of the compute-optimal table (approach 3: the fitted "
                     "law's N*, D* and loss; --bayes: their posterior medians and intervals; 1 and 2: the "
                     "power laws' N*, D*); list or range "
                     "(start:stop:num, log-spaced) (default: 1e19:1e25:7, i.e. 1e19, 1e20, ..., 1e25)")
    fit.add_argument("--json", action="store_true",
                     help="print one JSON object instead of text: the data, the approach, the fitted "
                     "parameters, objective, intervals ([low, high]), and one object per table row "
                     "with plain numbers (null for NaN); with --bayes the parameters are posterior "
                     "medians, and 'posterior' holds Posterior.summary() per parameter and 'bayes' the "
                     "sampler's settings, diagnostics and wall time; no progress on stderr")


def _fit(args) -> dict:
    """``scalinglaws fit``: load the runs, fit them by the chosen approach."""
    _check_fit_options(args)
    if args.bayes:
        _host_devices(_bayes_setting(args, "chains"))
    runs, data = _load_runs(args)
    _check_design(args, runs)
    flops = np.asarray(DEFAULT_BUDGETS if args.flops is None else args.flops, dtype=float)
    fitter = _fit_bayes if args.bayes else {1: _fit_envelope, 2: _fit_isoflop, 3: _fit_huber}[args.approach]
    result = fitter(args, runs, data, flops)
    if result.get("rows"):  # the plans at --flops, against the runs they come from
        notes, doubts, result["domain"] = _domain(args, result["rows"], Domain.from_runs(runs), "the fitted runs",
                                                   "add runs nearer to it before relying on it")
        result["notes"] = result["notes"] + notes
        result["warnings"] = result["warnings"] + doubts
    return result


def _check_fit_options(args) -> None:
    if args.bayes:
        if args.approach != 3:
            raise ValueError(f"--approach {args.approach}: not available with --bayes, which samples the law "
                             "of approach 3; drop one of them")
        if args.bootstrap is not None:
            raise ValueError("--bootstrap: not available with --bayes (the posterior gives the intervals); "
                             "drop one of them")
        if args.save is not None:
            _check_save_path(args.save)
    else:
        for option in ("chains", "warmup", "samples", "save"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option}: only used with --bayes")
    if args.seed is not None and args.bootstrap is None and not args.bayes:
        raise ValueError("--seed: only used with --bootstrap or --bayes")
    if args.fix is not None and args.approach != 3:
        raise ValueError(f"--fix: only used with --approach 3 (the Huber fit), not --approach {args.approach}")
    if args.bootstrap is not None and args.approach == 1:
        raise ValueError("--bootstrap: not available with --approach 1 (the loss envelope); use 2 or 3")
    if args.columns is not None and args.data in DATASETS:
        raise ValueError(f"--columns: only used with a CSV file, not the embedded dataset {args.data}")


def _check_design(args, runs) -> None:
    """Refuse, before any slow work, runs that cannot identify what the approach fits
    (the check every library fit makes, fit/design.py)."""
    if args.bayes or args.approach == 3:
        check_design(runs, Chinchilla, fixed=args.fix or None, caller="DATA")
    else:
        check_spread(runs, ("N", "flops"), n_free=1, caller="DATA")


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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_huber(runs, Chinchilla, fixed=fixed or None)
    messages = _library_warnings(caught)
    law = fit.law
    parameters = {name: float(getattr(law, name)) for name in LAW_PARAMETERS}
    converged = bool(fit.converged[fit.best])
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
            "standard_errors": _standard_errors(fit, parameters),
        },
        "power_laws": _compute_optimal_power_laws(parameters),
        "bootstrap": None,
        "intervals": None,
        "notes": _fit_notes(args, data),
        "warnings": messages,
    }
    if args.bootstrap is not None:
        seed = 0 if args.seed is None else args.seed
        _progress(args, f"bootstrap: {args.bootstrap} resamples ...")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                draws = bootstrap(runs, args.bootstrap, key=jax.random.key(seed), fit=fit, fixed=fixed or None,
                                  level=INTERVAL_LEVEL, flops=flops)
            except NoRefitConverged:
                draws = None
        messages.extend(_library_warnings([item for item in caught if not issubclass(item.category, RefitWarning)]))
        if draws is None:
            messages.append(f"bootstrap: none of the {args.bootstrap} refits converged to a valid law, so there are no "
                            "intervals; the runs may not determine the law (see the standard errors in --json)")
            result["rows"] = _rows(columns)
            return result
        used = int(draws.used.sum())
        if used < args.bootstrap:
            messages.append(f"bootstrap: {args.bootstrap - used} of {args.bootstrap} refits did not converge to a "
                            f"valid law; the intervals use the {used} that did, which may understate the "
                            "uncertainty")
        result["bootstrap"] = {"resamples": args.bootstrap, "seed": seed, "level": INTERVAL_LEVEL,
                               "converged": used}
        result["intervals"] = {name: _interval(draws.intervals[name]) for name in (*LAW_PARAMETERS, "a", "b")}
        (N_low, N_high), (D_low, D_high) = draws.intervals["N*"], draws.intervals["D*"]
        columns = {"flops": columns["flops"], "N": columns["N"], "N_low": N_low, "N_high": N_high,
                   "D": columns["D"], "D_low": D_low, "D_high": D_high,
                   **{name: columns[name] for name in ("tokens_per_param", "loss", "status")}}
    result["rows"] = _rows(columns)
    return result


def _standard_errors(fit, parameters: dict) -> dict:
    """Standard errors of the free law parameters and of a (``fit.conditioning``), in the
    law's own units: a coordinate log X gives X times its error."""
    coordinates = _HUBER_CHINCHILLA.natural
    errors = fit.conditioning.standard_errors
    out = {}
    for name in LAW_PARAMETERS:
        coordinate, transform = coordinates[name]
        if coordinate in errors:
            scale = parameters[name] if transform is np.log else 1.0
            out[name] = _plain(np.asarray(scale * errors[coordinate]))
    if fit.conditioning.split is not None:
        out["a"] = _plain(np.asarray(fit.conditioning.split[1]))
    return out


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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        envelope = fit_envelope(runs)
    notes = _fit_notes(args, data) + [
        "the envelope is the compute-optimal frontier only where some run near each FLOP count is "
        "close to compute-optimal; with final runs at a few sizes it favours those sizes (see sl.fit_envelope)"
    ]
    result = _power_law_result(args, data, envelope, notes, flops,
                               method="lower envelope of loss against FLOPs (Hoffmann et al. 2022, approach 1)")
    result["envelope_points"] = len(envelope.flops)
    result["warnings"] = _library_warnings(caught)
    return result


def _fit_isoflop(args, runs, data, flops) -> dict:
    """Approach 2: power laws through the minima of per-budget IsoFLOP parabolas."""
    seed = 0 if args.seed is None else args.seed
    n = args.bootstrap or 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
    result["warnings"] = _library_warnings(caught)
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
        "standard_errors": {"a": _plain(np.asarray(fit.a_se)), "b": _plain(np.asarray(fit.b_se))},
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
# --bayes


def _bayes_setting(args, name: str) -> int:
    value = getattr(args, name)
    return BAYES_DEFAULTS[name] if value is None else value


def _check_save_path(text: str) -> None:
    """--save: fail before sampling when the files could not be written."""
    if not text.strip():
        raise ValueError("--save: empty path")
    npz, sidecar = _posterior_paths(text)
    directory = npz.parent
    if not directory.is_dir():
        raise ValueError(f"--save: the directory {str(directory)!r} does not exist")
    for path in (npz, sidecar):
        if path.is_dir():
            raise ValueError(f"--save: {str(path)!r} is a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"--save: cannot write in the directory {str(directory)!r}")


def _host_devices(count: int) -> None:
    """Ask XLA for ``count`` CPU devices, so that ``fit_bayes`` runs that many chains in parallel.

    ``fit_bayes`` runs chains in parallel when ``jax.local_device_count() >= num_chains``,
    and the library never sets the device count (``numpyro.set_host_device_count`` only
    works before JAX starts; DESIGN.md). The command may: XLA reads ``XLA_FLAGS`` when JAX
    initialises its backends, which happens here at once; ``XLA_FLAGS`` is then restored, so
    child processes do not inherit the setting. No effect when ``XLA_FLAGS`` already sets a
    device count, or when JAX has already started (``main()`` called from a program that
    used JAX): the chains then share one device, as the library runs them.
    """
    if count < 2:
        return
    old = os.environ.get("XLA_FLAGS")
    if old is not None and "xla_force_host_platform_device_count" in old:
        return
    os.environ["XLA_FLAGS"] = f"{old or ''} --xla_force_host_platform_device_count={count}".strip()
    try:
        jax.local_device_count()
    finally:
        if old is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = old


def _library_warnings(caught) -> list[str]:
    """The library's RuntimeWarnings (a doubtful fit) as one-line messages; other warnings
    are shown as Python shows them."""
    messages = []
    for item in caught:
        if issubclass(item.category, RuntimeWarning):
            messages.append(" ".join(str(item.message).split()))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return messages


def _draw_quantiles(values, ok=None):
    """(median, low, high) along the draw axis 0, over the draws where ``ok``: the median and
    the equal-tailed INTERVAL_LEVEL interval, as ``Posterior.interval`` computes it."""
    values = np.asarray(values, dtype=float)
    if ok is not None:
        values = np.where(ok, values, np.nan)
    tail = (1.0 - INTERVAL_LEVEL) / 2.0
    low, high = np.nanquantile(values, [tail, 1.0 - tail], axis=0)
    return np.nanmedian(values, axis=0), low, high


def _posterior_paths(text: str) -> tuple[Path, Path]:
    from ..fit.bayes import _paths

    return _paths(text)


def _fit_bayes(args, runs, data, flops) -> dict:
    """--bayes: the NUTS posterior of the law, its diagnostics, and the posterior of the
    compute-optimal plan at the budgets."""
    chains, warmup, samples = (_bayes_setting(args, name) for name in ("chains", "warmup", "samples"))
    seed = 0 if args.seed is None else args.seed
    fixed = args.fix or {}
    devices = jax.local_device_count()
    backend = jax.default_backend().upper()
    layout = {"parallel": f"in parallel on {chains} of {devices} {backend} devices",
              "sequential": f"one after another on one {backend} device",
              "vectorized": f"vectorised on one {backend} device"}[default_chain_method(chains)]
    if chains == 1:
        layout = f"on one {backend} device"
    _progress(args, f"sampling the posterior of {len(runs)} runs: NUTS, {_chains(chains)} x ({warmup} warm-up + "
              f"{samples} draws), {layout} ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = fit_bayes(runs, key=jax.random.key(seed), num_chains=chains, num_warmup=warmup,
                         num_samples=samples, fixed=fixed or None)
    messages = [message + " On the command line: raise --warmup and --samples, or --chains."
                if message.startswith("fit_bayes:") else message for message in _library_warnings(caught)]
    saved = None
    if args.save is not None:
        npz = post.save(args.save)
        saved = {"npz": str(npz), "json": str(npz.with_suffix(".json"))}

    table = post.summary()
    posterior = {name: {key: value if isinstance(value, bool) else _plain(np.asarray(value))
                        for key, value in row.items()}
                 for name, row in table.items() if isinstance(row, dict)}
    parameters = {name: posterior[name]["median"] for name in LAW_PARAMETERS}
    intervals = {name: [posterior[name]["q2.5"], posterior[name]["q97.5"]] for name in LAW_PARAMETERS}
    power_laws = {}
    for name, values in _compute_optimal_power_laws({name: post.draws(name) for name in LAW_PARAMETERS}).items():
        median, low, high = _draw_quantiles(values)
        power_laws[name] = _plain(np.asarray(median))
        intervals[name] = _interval((low, high))

    plans = jax.vmap(compute_optimal, (0, None))(post.law, jnp.asarray(flops))
    status = np.asarray(plans.status)
    ok = status == 0
    N, N_low, N_high = _draw_quantiles(plans.N, ok)
    D, D_low, D_high = _draw_quantiles(plans.D, ok)
    ratio, _, _ = _draw_quantiles(np.asarray(plans.D) / np.asarray(plans.N), ok)
    # each draw's loss forecast at its own plan: noise and the law's form error beyond the runs
    N_or_1, D_or_1 = (np.where(ok, np.asarray(x), 1.0) for x in (plans.N, plans.D))
    forecast = post.predict(N_or_1, D_or_1, key=jax.random.key(seed), paired=True)
    loss, loss_low, loss_high = _draw_quantiles(forecast, ok)
    columns = {"flops": flops, "N": N, "N_low": N_low, "N_high": N_high, "D": D, "D_low": D_low,
               "D_high": D_high, "tokens_per_param": ratio, "loss": loss, "loss_low": loss_low,
               "loss_high": loss_high, "status": status.max(axis=0)}
    return {
        "command": args.command,
        "title": f"posterior of the compute-optimal plan (6 N D = FLOPs): medians and {INTERVAL_LEVEL:.0%} "
        "intervals over the draws",
        "data": data,
        "approach": 3,
        "method": "Bayesian: NUTS (NumPyro) on L = E + A / N^alpha + B / D^beta, "
        f"{'Student-t' if post.likelihood == 'student_t' else 'normal'} likelihood on log loss (sl.fit_bayes)",
        "law": {"family": "Chinchilla", "parameters": parameters, "fixed": fixed},
        "bayes": {
            "sampler": post.method,
            "chains": chains,
            "warmup": warmup,
            "samples": samples,
            "draws": post.num_draws,
            "seed": seed,
            "chain_method": post.info["chain_method"],
            "seconds": post.info["seconds"],
            "divergences": post.divergences,
            "likelihood": post.likelihood,
            "priors": dict(post.priors),
            "fixed": {name: float(value) for name, value in post.fixed.items()},
            "level": INTERVAL_LEVEL,
            "r_hat_max": RHAT_MAX,
            "ess_min": ESS_MIN,
            "saved": saved,
        },
        "posterior": posterior,
        "power_laws": power_laws,
        "bootstrap": None,
        "intervals": intervals,
        "notes": _fit_notes(args, data) + [
            "loss is the forecast of a run at each draw's own compute-optimal plan (sl.Posterior.predict): "
            "the draw's law, the runs' noise and the law's form error beyond the runs fitted "
            f"({post.form_error!r})"
        ],
        "warnings": messages,
        "rows": _rows(columns),
    }
