"""Data files shipped with mldyn.

``h2o32/``: steps 200-799 of a CP2K 2023.1 Pade-LDA NVE run of 32 water molecules
(96 atoms, 0.5 fs), in CP2K's own file names and formats (xyz files gzipped); see its README.md.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bundled_h2o32_path"]


def bundled_h2o32_path() -> Path:
    """Directory of the bundled CP2K run (32 H2O, steps 200-799): pass it to :func:`mldyn.io.cp2k_reader.read_cp2k`.

    Works for regular and editable installs (the package data lives on the file system).
    """
    path = Path(str(resources.files(__package__).joinpath("h2o32")))
    if not (path / "H2O-32-pos-1.xyz.gz").is_file():
        raise FileNotFoundError(f"mldyn's bundled data is missing from {path} (broken installation?)")
    return path
