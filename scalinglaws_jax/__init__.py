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
from ._validate import Status
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
from .flops import (
    A100,
    ACCELERATORS,
    H100,
    H200,
    Accelerator,
    backward_flops,
    dollars_to_flops,
    flops_to_dollars,
    flops_to_gpu_hours,
    flops_to_pf_days,
    forward_flops,
    gpu_hours_to_flops,
    inference_flops,
    kaplan_flops_per_token,
    pf_days_to_flops,
    training_flops,
    transformer_params,
)
from . import datasets, domain
from .domain import PRESET_DOMAINS, Domain
from .fit.huber import Bootstrap, HuberFit, bootstrap, fit_huber
from .fit.runs import Runs
from .fit.isoflop import EnvelopeFit, IsoFLOPFit, fit_envelope, fit_isoflop
from .fit.backtest import Backtest, backtest
from .fit.form_error import FormError
from .fit.bayes import Posterior, fit_bayes
from ._sweep import SweepResult, sweep
from ._ladder import COUNTS as LADDER_COUNTS, Ladder, LadderForecast, LadderModel, LadderRun, ladder
from . import plot
