"""Real training runs shipped with the package, as :class:`~scalinglaws_jax.fit.runs.Runs`.

The CSV files here are verbatim copies of the sources named in each loader's docstring.
"""

from __future__ import annotations

import importlib.resources

from ..fit.runs import Runs

__all__ = ["chinchilla", "sardana"]


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
