"""Fitting agent-loss models to reference forces: least squares per species (see model_fit)."""
from .metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
from .model_fit import FitReport, fit_model, resolve_cutoff
from .species_fit import RIDGE_GRID

__all__ = ["fit_model", "FitReport", "resolve_cutoff", "evaluate_forces", "RELATIVE_RMSE_DEFINITION", "RIDGE_GRID"]
