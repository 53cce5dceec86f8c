"""scalinglaws_jax: differentiable, accelerator-ready solvers for neural scaling laws.

Users write ``import scalinglaws_jax as sl``.
"""

__version__ = "0.1.0"

from .laws import (
    EPOCH_2024,
    HOFFMANN_2022,
    KAPLAN_2020,
    KAPLAN_2020_SINGLE,
    MUENNIGHOFF_2023,
    PF_DAY,
    PRESETS,
    Chinchilla,
    ComputeLaw,
    DataConstrained,
    Kaplan,
)
from .allocate import (
    DEFAULT_BUDGETS,
    Allocation,
    RepeatedDataAllocation,
    budget_table,
    compute_optimal,
    data_constrained_optimal,
    flops_for_loss,
    inference_optimal,
)
