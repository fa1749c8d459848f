"""mldyn: Molecular Learning Dynamics with a C++/OpenMP core.

Every nucleus is an agent moving down the gradient of its own species' loss, a
quadratic function of radial invariants of its environment. Units: Å, fs, amu, eV.
"""
from . import units
from ._core import get_num_threads, have_openmp, set_num_threads
from .descriptors import PAPER_FUNCTIONS, Angular, Basis, Radial
from .cell import Cell, make_cell
from .dataset import Dataset
from .io import load_dataset
from .io.cp2k_reader import read_cp2k
from .invariants import compute_features, compute_invariants
from .md import Simulation, maxwell_boltzmann
from .model import AgentLossModel

__version__ = "0.1.0"

__all__ = [
    "AgentLossModel", "Angular", "Basis", "Radial", "Cell", "Dataset", "PAPER_FUNCTIONS", "Simulation", "compute_features", "compute_invariants", "get_num_threads",
    "have_openmp", "load_dataset", "make_cell", "maxwell_boltzmann", "read_cp2k", "set_num_threads", "units", "__version__",
]
