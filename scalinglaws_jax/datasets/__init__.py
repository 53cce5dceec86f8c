"""Real training runs shipped with the package, as :class:`~scalinglaws_jax.fit.runs.Runs`.

The CSV files here are verbatim copies of the sources named in each loader's docstring.
"""

from __future__ import annotations

import csv
import importlib.resources

import numpy as np

from ..fit.runs import Runs

__all__ = ["chinchilla", "gadre", "sardana"]


def _load(filename: str, columns: dict[str, str]) -> Runs:
    with importlib.resources.as_file(importlib.resources.files(__name__) / filename) as path:
        return Runs.from_csv(path, columns)


def chinchilla(drop_highest: int = 0) -> Runs:
    """The 245 Chinchilla training runs of Hoffmann et al. 2022, Figure 4.

    N = "Model Size" (parameters), flops = "Training FLOP" (FLOPs), loss = "loss" (final
    loss); D = C / (6 N) tokens, since the data hold no token counts. No groups.

    Args:
        drop_highest: drop this many highest-loss runs (Besiroglu et al. drop 5, leaving
            240, before fitting).

    Source: github.com/epoch-research/analyzing-chinchilla, data/svg_extracted_data.csv,
    commit 92258837425e1b5f2851d624287f0120583a3d0e (the repository has no licence file).

    References: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
    Figure 4, as digitised by Besiroglu et al. 2024, "Chinchilla Scaling: A replication
    attempt", arXiv:2404.10102. Cite both.
    """
    runs = _load("chinchilla.csv", {"N": "Model Size", "flops": "Training FLOP", "loss": "loss"})
    return runs.drop_highest(drop_highest) if drop_highest else runs


def sardana() -> Runs:
    """The 47 MPT-style training runs of Sardana et al. 2024, 10 to 10,000 tokens/param.

    N = "Parameters", D = "Tokens", loss = "Smoothed Loss" (final training loss,
    smoothed); flops = 6 N D. Model sizes and run counts: 150M 12, 370M 10, 750M 9,
    1.3B 8, 2.5B 7, 6B 1. No groups: each model name has one N, so
    ``np.unique(runs.N, return_inverse=True)[1]`` labels the sizes (``group`` means a run
    id or an IsoFLOP budget, which these are not).

    Source: github.com/nikhilsardana/beyond-chinchilla, trainingresults.csv, commit
    190f70e365dc75037a2b3178609d00243f24b4b9, Apache-2.0.

    References: Sardana et al. 2024, "Beyond Chinchilla-Optimal: Accounting for Inference
    in Language Model Scaling Laws".
    """
    return _load("sardana.csv", {"N": "Parameters", "D": "Tokens", "loss": "Smoothed Loss"})


GADRE_TRAIN_SETS = ("c4_original", "rpj", "rw_original")
"""The training sets of Gadre et al.'s testbed: C4, RedPajama, RefinedWeb."""

GADRE_LOSSES = ("loss_openlm", "loss_c4_val", "loss_paloma_c4_en", "loss_paloma_code", "loss_paloma_refinedweb",
                "loss_paloma_ptb", "loss_paloma_redpajama", "loss_de_en")
"""The validation losses (nats per token) of each testbed model."""


def gadre(train_set: str = "c4_original", loss: str = "loss_c4_val") -> Runs:
    """Gadre et al.'s over-training testbed: open_lm models of 11M-411M parameters on one training set.

    The models of 11M, 79M, 154M and 411M parameters (with embeddings), each trained at
    token multipliers 0.25 to 32 (D / (20 N): 5 to 640 tokens per parameter); 31-32 runs
    per training set. N = "N", D = "D", loss = the validation loss named by ``loss``.

    Args:
        train_set: ``"c4_original"`` (C4), ``"rpj"`` (RedPajama) or ``"rw_original"``
            (RefinedWeb).
        loss: one of ``GADRE_LOSSES``: the validation set the loss was measured on
            (default C4's validation split).

    Source: github.com/mlfoundations/scaling, exp_data/models/*.json and
    exp_data/evals/*_heavy.json, commit a003c4913793ac2ae7ef87b28ecb562955d026d5, MIT License,
    Copyright (c) 2024 mlfoundations; the 46 downstream accuracies are in the same file.

    References: Gadre et al. 2024, "Language models scale reliably with over-training and
    on downstream tasks", arXiv:2403.08540. Cite it.
    """
    if train_set not in GADRE_TRAIN_SETS:
        raise ValueError(f"train_set must be one of {', '.join(GADRE_TRAIN_SETS)}, got {train_set!r}")
    if loss not in GADRE_LOSSES:
        raise ValueError(f"loss must be one of {', '.join(GADRE_LOSSES)}, got {loss!r}")
    with importlib.resources.as_file(importlib.resources.files(__name__) / "gadre.csv") as path:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row["dataset"] == train_set]
    return Runs(N=np.array([float(row["N"]) for row in rows]), D=np.array([float(row["D"]) for row in rows]),
                loss=np.array([float(row[loss]) for row in rows]))
