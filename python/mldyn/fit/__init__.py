"""Fitting agent-loss models to reference forces: least squares per species (see model_fit)."""
from .metrics import RELATIVE_RMSE_DEFINITION, evaluate_forces
from .model_fit import RECOMMENDED, FitReport, fit_model, fit_recommended, pruned_model, resolve_cutoffs
from .species_fit import RIDGE_GRID

__all__ = ["fit_model", "fit_recommended", "RECOMMENDED", "FitReport", "resolve_cutoffs", "pruned_model", "evaluate_forces", "RELATIVE_RMSE_DEFINITION", "RIDGE_GRID"]
