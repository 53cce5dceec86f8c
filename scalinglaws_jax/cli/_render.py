"""Results as JSON-ready rows, and as readable text: tables, the law, a fit's report."""

from __future__ import annotations

import math

import numpy as np

from ..flops import ACCELERATORS

STATUS_NAMES = {0: "ok", 1: "infeasible", 2: "not converged", 3: "invalid input"}

INTERVAL_LEVEL = 0.95
"""Coverage of the bootstrap percentile intervals and of the posterior intervals ``fit`` prints."""


def _rows(columns: dict) -> list[dict]:
    """Per-row dicts of plain Python numbers from equally long (or scalar) columns."""
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(value)) for value in columns.values()))
    return [{name: _plain(array[i]) for name, array in zip(columns, arrays)} for i in range(arrays[0].size)]


def _plain(value):
    """A NumPy scalar as an int (integer dtypes), a float, or None for NaN and infinity."""
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------------
# text output


def engineering(x) -> str:
    """``x`` to 3 significant digits with a K/M/B/T suffix: 4.036e10 -> '40.4B'."""
    if x is None:
        return "nan"
    x = float(f"{x:.3g}")  # round first, so that 999.7e6 becomes '1B', not '1e+03M'
    if abs(x) < 1e15:
        for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if abs(x) >= scale:
                return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _formatter(pattern: str):
    return lambda x: "nan" if x is None else format(x, pattern)


_COLUMNS = {
    "dollars": ("dollars", lambda x: "nan" if x is None else f"${x:,.0f}"),
    "flops": ("FLOPs", _formatter(".2e")),
    "loss": ("loss", _formatter(".4f")),
    "unique_tokens": ("unique tokens", engineering),
    "inference_tokens": ("inference tokens", engineering),
    "N": ("params", engineering),
    "D": ("tokens", engineering),
    "tokens_per_param": ("tokens/param", _formatter(".1f")),
    "epochs": ("epochs", _formatter(".2f")),
    "N_flat_max": ("flat up to", engineering),
    "training_flops": ("training FLOPs", _formatter(".2e")),
    "inference_flops": ("inference FLOPs", _formatter(".2e")),
    "lifetime_flops": ("lifetime FLOPs", _formatter(".2e")),
    "status": ("status", STATUS_NAMES.get),
    "n_runs": ("runs", str),
    "kept": ("kept", _formatter(".2f")),
    "N_interval": (f"params {INTERVAL_LEVEL:.0%}", str),
    "D_interval": (f"tokens {INTERVAL_LEVEL:.0%}", str),
    "loss_interval": (f"loss {INTERVAL_LEVEL:.0%}", str),
}
"""Header and text formatter of each result column (a row's keys give the order)."""


def _table_text(rows: list[dict]) -> list[str]:
    """Rows as right-aligned text columns under their headers."""
    names = list(rows[0])
    cells = [[_COLUMNS[name][0] for name in names]]
    cells += [[_COLUMNS[name][1](row[name]) for name in names] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(names))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]


def render(result: dict) -> str:
    """A command's result as readable text: the law, notes, and aligned tables."""
    if result["command"] == "fit":
        return _render_bayes(result) if result.get("bayes") else _render_fit(result)
    if result["command"] == "sweep":
        return _render_sweep(result)
    if result["command"] == "demo":
        return _render_demo(result)
    if result["command"] == "backtest":
        from ._backtest import _render_backtest

        return _render_backtest(result)
    law = result["law"]
    parameters = ", ".join(f"{name}={value:.6g}" for name, value in law["parameters"].items())
    lines = [f"law: {law['name']} = {law['family']}({parameters})", result["title"]]
    if "purchase" in result:
        terms = result["purchase"]
        lines.append(
            f"dollars to FLOPs: {ACCELERATORS[terms['gpu']].name} at "
            f"{terms['peak_flops_per_s']:.3g} FLOP/s peak, "
            f"MFU {terms['mfu']:g}, ${terms['price_per_hour']:.2f} per GPU-hour"
        )
    lines += [f"note: {note}" for note in result["notes"]]
    lines += ["", *_table_text(result["rows"])]
    if "comparison" in result:
        lines += ["", result["comparison"]["title"], "", *_table_text(result["comparison"]["rows"])]
    return "\n".join(lines)


_MEANINGS = {
    "E": "irreducible loss (nats per token)",
    "A": "coefficient of the parameter term",
    "B": "coefficient of the data term",
    "alpha": "exponent of N",
    "beta": "exponent of D",
    "a": "N* ~ C^a",
    "b": "D* ~ C^b",
    "k_N": "N* = k_N C^a (parameters)",
    "k_D": "D* = k_D C^b (tokens)",
    "sigma": "scale of the log-loss residuals",
    "nu": "Student-t degrees of freedom",
}


def _render_fit(result: dict) -> str:
    """The result of ``fit`` as text: data, method, parameters with intervals, tables."""
    lines = [_data_text(result["data"]), f"approach {result['approach']}: {result['method']}"]
    intervals = result["intervals"] or {}
    level = f"{result['bootstrap']['level']:.0%} interval" if result["bootstrap"] else None
    cells = [["parameter", "estimate"] + ([level] if level else []) + ["meaning"]]

    fixed = result["law"]["fixed"] if result["approach"] == 3 else {}

    def add(name, value, meaning, pattern=".6g"):
        row = [name, format(value, pattern)]
        if level:
            shown = _interval_text(intervals[name], ".4g") if name in intervals else ""
            row.append("fixed" if name in fixed else shown)
        cells.append(row + [meaning])

    power_laws = result["power_laws"]
    if result["approach"] == 3:
        lines.append("law: L = E + A / N^alpha + B / D^beta (N parameters, D tokens)")
        for name, value in result["law"]["parameters"].items():
            add(name, value, _MEANINGS[name] + (" (fixed)" if name in fixed else ""))
        add("a", power_laws["a"], "N* ~ C^a, a = beta / (alpha + beta)", ".4f")
        add("b", power_laws["b"], "D* ~ C^b, b = alpha / (alpha + beta)", ".4f")
    else:
        add("a", power_laws["a"], _MEANINGS["a"], ".4f")
        add("b", power_laws["b"], _MEANINGS["b"], ".4f")
    add("k_N", power_laws["k_N"], _MEANINGS["k_N"], ".4g")
    add("k_D", power_laws["k_D"], _MEANINGS["k_D"], ".4g")
    lines += ["", *_aligned(cells)]
    info = []
    if result["approach"] == 3:
        fit = result["fit"]
        info.append(f"objective: {fit['objective']:.6e} (Huber, summed over runs), "
                    f"gradient norm {fit['grad_norm']:.2g}")
        info.append(f"starts: {fit['converged']} of {fit['starts']} converged, "
                    f"{fit['at_best']} at the best objective")
    if result["approach"] == 1:
        info.append(f"envelope points: {result['envelope_points']}")
    if result["bootstrap"]:
        draws = result["bootstrap"]
        done = (f"{draws['converged']} refits converged" if "converged" in draws
                else f"{draws['finite']} with at least 2 usable budgets")
        info.append(f"bootstrap: {draws['resamples']} resamples (seed {draws['seed']}), {done}; "
                    f"{draws['level']:.0%} percentile intervals")
    info += [f"note: {note}" for note in result["notes"]]
    if info:
        lines += ["", *info]
    if result["approach"] == 2:
        used, skipped = len(result["minima"]), len(result["skipped"])
        lines += ["", f"IsoFLOP minima: {used} budgets used, {skipped} skipped", "",
                  *_table_text(result["minima"])]
        if skipped:
            lines += ["", "skipped:"]
            lines += [f"  C={item['flops']:.3g}: {item['reason']}" for item in result["skipped"]]
    lines += ["", result["title"], "", *_table_text([_with_intervals(row) for row in result["rows"]])]
    return "\n".join(lines)


def _render_bayes(result: dict) -> str:
    """The result of ``fit --bayes`` as text: sampler, posterior summary, diagnostics, table."""
    bayes = result["bayes"]
    level = f"{bayes['level']:.0%} interval"
    layouts = {"parallel": "in parallel", "vectorized": "vectorised", "sequential": "one after another"}
    layout = layouts.get(bayes["chain_method"], bayes["chain_method"])
    lines = [
        _data_text(result["data"]),
        f"Bayesian fit: NUTS (NumPyro), {_chains(bayes['chains'])} x ({bayes['warmup']} warm-up + "
        f"{bayes['samples']} draws), seed {bayes['seed']}" + (f", chains {layout}" if bayes["chains"] > 1 else ""),
        "law: L = E + A / N^alpha + B / D^beta (N parameters, D tokens); log loss ~ "
        + ("StudentT(nu, log L(N, D), sigma)" if bayes["likelihood"] == "student_t" else "Normal(log L(N, D), sigma)"),
        "priors: " + ", ".join(f"{name} ~ {prior}" for name, prior in bayes["priors"].items()),
    ]
    cells = [["parameter", "median", level, "r_hat", "ess_bulk", "meaning"]]

    def number(value, pattern):
        return "nan" if value is None else format(value, pattern)

    for name, row in result["posterior"].items():
        if row["fixed"]:
            cells.append([name, number(row["median"], ".4g"), "fixed", "", "", _MEANINGS[name]])
        else:
            cells.append([name, number(row["median"], ".4g"), _interval_text((row["q2.5"], row["q97.5"]), ".4g"),
                          number(row["r_hat"], ".3f"), number(row["ess_bulk"], ".0f"), _MEANINGS[name]])
    meanings = {"a": "N* ~ C^a, a = beta / (alpha + beta)", "b": "D* ~ C^b, b = alpha / (alpha + beta)"}
    for name, value in result["power_laws"].items():
        cells.append([name, number(value, ".4g"), _interval_text(result["intervals"][name], ".4g"), "", "",
                      meanings.get(name, _MEANINGS[name])])
    lines += ["", *_aligned(cells), ""]
    doubtful = bool(result["warnings"])
    lines.append(f"divergences: {bayes['divergences']} of {bayes['draws']} draws; diagnostics "
                 + ("doubtful: see the warnings on stderr" if doubtful else
                    f"ok (R-hat <= {bayes['r_hat_max']}, bulk ESS >= {bayes['ess_min']:.0f}, no divergences)"))
    lines.append(f"wall time: {bayes['seconds']:.1f} s (sampling, including compilation)")
    if bayes["saved"]:
        lines.append(f"saved: {bayes['saved']['npz']} and {bayes['saved']['json']}")
    lines += [f"note: {note}" for note in result["notes"]]
    lines += ["", result["title"], "", *_table_text([_with_intervals(row) for row in result["rows"]])]
    return "\n".join(lines)


def _chains(count: int) -> str:
    return f"{count} chain" + ("" if count == 1 else "s")


def _data_text(data: dict) -> str:
    if data["kind"] == "dataset":
        source = f"{data['source']} ({data['reference']})"
    else:
        mapped = ", ".join(f"{name}={header!r}" for name, header in data["columns"].items())
        source = data["source"] + (f" (columns {mapped})" if mapped else "")
    dropped = (f" of {data['rows']}, the {data['drop_highest']} highest-loss dropped"
               if data["drop_highest"] else "")
    return f"data: {source}: {data['n_runs']} runs{dropped}"


def _interval_text(pair, pattern: str, scale=None) -> str:
    show = scale or (lambda x: format(x, pattern))
    low, high = ("nan" if x is None else show(x) for x in pair)
    return f"[{low}, {high}]"


def _with_intervals(row: dict) -> dict:
    """A table row with N_low, N_high (D_low, D_high) shown as one interval column."""
    shown = {}
    for name, value in row.items():
        if name.endswith(("_low", "_high")):
            continue
        shown[name] = value
        if f"{name}_low" in row:
            shown[f"{name}_interval"] = _interval_text((row[f"{name}_low"], row[f"{name}_high"]), "",
                                                       _COLUMNS[name][1])
    return shown


def _aligned(cells: list[list[str]]) -> list[str]:
    """Rows of text cells: the first and last columns left-aligned, the others right-aligned."""
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    last = len(widths) - 1
    out = []
    for line in cells:
        parts = [cell.ljust(width) if i in (0, last) else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(line, widths))]
        out.append("  ".join(parts).rstrip())
    return out



def _render_sweep(result: dict) -> str:
    """The result of ``sweep`` as text: the law, notes, and the summary rows, each value with
    its outer quantiles over the law's draws when there are draws."""
    law = result["law"]
    what = f"{law['draws']:,} draws of a {law['family']} posterior" if law["draws"] else law["family"]
    lines = [f"law: {law['name']} ({what})", *(f"note: {note}" for note in result["notes"])]
    quantiles = result["quantiles"]
    if quantiles:
        lines.append(f"values: median [{quantiles[0]:g}, {quantiles[-1]:g} quantiles] over the draws")
    goal = result["goal"]
    reached = () if goal == "loss" else ("loss",)  # a target loss is reached exactly, or the status says why not
    fields = (goal, "inference_tokens", "N", "D", *reached, "training_flops", "status")
    cells = [["target loss" if goal == "loss" else _COLUMNS[goal][0]] + [_COLUMNS[name][0] for name in fields[1:]]]
    for row in result["rows"]:
        line = []
        for name in fields:
            text = _COLUMNS[name][1](row[name])
            spread = row.get(f"{name}_quantiles")
            if spread:
                text += " " + _interval_text((spread[0], spread[-1]), "", _COLUMNS[name][1])
            line.append(text)
        cells.append(line)
    return "\n".join([*lines, "", *_aligned(cells)])


def _render_demo(result: dict) -> str:
    """The result of ``demo`` as text: the law three ways, the table, the inference plan, the figures."""
    data, settings = result["data"], result["settings"]
    lines = [f"data: Hoffmann et al. 2022's Chinchilla runs (Besiroglu et al. 2024's digitisation): "
             f"{data['n_runs']} runs, the {data['drop_highest']} highest-loss dropped",
             "law: L = E + A / N^alpha + B / D^beta (N parameters, D tokens, L nats per token)", ""]
    cells = [["parameter", "Huber fit", f"bootstrap {INTERVAL_LEVEL:.0%} ({settings['bootstrap']})",
              "posterior median", f"{INTERVAL_LEVEL:.0%} ({settings['chains']} x {settings['samples']} NUTS)",
              "meaning"]]
    for name, row in result["law"].items():
        cells.append([name, f"{row['huber']:.4g}", _interval_text(row["bootstrap"], ".4g"),
                      f"{row['posterior']:.4g}", _interval_text(row["posterior_interval"], ".4g"), _MEANINGS[name]])
    lines += _aligned(cells)
    lines += ["", f"compute-optimal plan (6 N D = FLOPs): posterior medians and {INTERVAL_LEVEL:.0%} intervals", "",
              *_table_text([_with_intervals(row) for row in result["rows"]])]
    plan = result["inference"]
    optimal, served = plan["compute_optimal"], plan["inference_optimal"]
    lines += ["", f"inference-aware (Sardana et al. 2023), Huber fit: the compute-optimal model at "
              f"{plan['budget']:.0e} FLOPs ({engineering(optimal['N'])} params, {engineering(optimal['D'])} tokens) "
              f"reaches loss {plan['loss']:.4f}; serving {engineering(plan['inference_tokens'])} tokens in its "
              f"life costs {optimal['lifetime_flops']:.3g} FLOPs in all. A {engineering(served['N'])}-parameter "
              f"model trained on {engineering(served['D'])} tokens reaches the same loss for "
              f"{served['lifetime_flops']:.3g} FLOPs: {plan['saving']:.0%} less."]
    if result["figures"]:
        lines += ["", "figures:", *(f"  {path}" for path in result["figures"])]
    return "\n".join(lines)
