"""Fitting agent-loss models to reference forces: least squares per species (see model_fit)."""
from .metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
from .model_fit import FitReport, fit_model, pruned_model, resolve_cutoffs
from .species_fit import RIDGE_GRID

__all__ = ["fit_model", "FitReport", "resolve_cutoffs", "pruned_model", "evaluate_forces", "RELATIVE_RMSE_DEFINITION", "RIDGE_GRID"]
