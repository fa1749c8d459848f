// mldyn._core: registers the thin wrappers; each export_*.cpp wraps one core header.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void export_cell(py::module_& m);
void export_radial_basis(py::module_& m);
void export_model(py::module_& m);
void export_evaluator(py::module_& m);
void export_simulation(py::module_& m);
void export_design(py::module_& m);
void export_force_covariance(py::module_& m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "mldyn compute core (C++17/OpenMP). Units: Å, fs, amu, eV.";
    export_cell(m);
    export_radial_basis(m);
    export_model(m);
    export_evaluator(m);
    export_simulation(m);
    export_design(m);
    export_force_covariance(m);
}
