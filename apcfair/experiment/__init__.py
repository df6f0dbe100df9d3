"""The researcher's experiment: what zeroing the restricted term buys and costs.

A grid over :mod:`data_synth` knobs (direct protected effects, proxy strength, ...) ×
seeds; for every cell, seed and model the procedure's accuracy, both costs of zeroing,
dependence, calibration by group, the bias of each credit coefficient against the truth,
and the decomposition of dependence into legitimate and proxy parts
(:mod:`apcfair.experiment.decompose`). See :func:`run_experiment`. On a real book (no
truth): bootstrap replicates of the procedure, :func:`run_bootstrap`
(:mod:`apcfair.experiment.bootstrap`).
"""

from apcfair.experiment.bootstrap import run_bootstrap
from apcfair.experiment.decompose import decompose_dependence, real_data_parts
from apcfair.experiment.grid import ExperimentGrid, knob_names, parse_grid_option
from apcfair.experiment.runner import PROCEDURE_DEFAULTS, run_experiment
from apcfair.experiment.summary import cell_means

__all__ = ["PROCEDURE_DEFAULTS", "ExperimentGrid", "cell_means", "decompose_dependence", "knob_names",
           "parse_grid_option", "real_data_parts", "run_bootstrap", "run_experiment"]
