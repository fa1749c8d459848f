#include "common.hpp"
#include "mldyn/model.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_model(py::module_& m) {
    py::class_<AgentLossModel>(m, "AgentLossModel")
        .def(py::init([](Basis basis, int n_species, const DoubleArray& A, const DoubleArray& B) {
                 const py::ssize_t S = n_species, F = static_cast<py::ssize_t>(n_species * basis.size());
                 if (A.ndim() != 2 || A.shape(0) != S || A.shape(1) != F)
                     throw std::invalid_argument("A must have shape (" + std::to_string(S) + ", " + std::to_string(F) +
                                                 "), got " + shape_string(A));
                 if (B.ndim() != 3 || B.shape(0) != S || B.shape(1) != F || B.shape(2) != F)
                     throw std::invalid_argument("B must have shape (" + std::to_string(S) + ", " + std::to_string(F) +
                                                 ", " + std::to_string(F) + "), got " + shape_string(B));
                 return AgentLossModel(std::move(basis), n_species, to_vector(A), to_vector(B));
             }),
             py::arg("basis"), py::arg("n_species"), py::arg("A"), py::arg("B"))
        .def_property_readonly("conservative", &AgentLossModel::conservative)
        .def_property_readonly("quadratic", &AgentLossModel::quadratic)
        .def("compute",
             [](AgentLossModel& self, const Cell& cell, const DoubleArray& positions, const IntArray& species,
                const std::string& method) {
                 const std::size_t n = check_nc(positions, "positions");
                 check_n(species, n, "species");
                 const NeighbourMethod nm = parse_neighbour_method(method);
                 py::array_t<double> forces({static_cast<py::ssize_t>(n), py::ssize_t{3}}), loss({static_cast<py::ssize_t>(n)});
                 double *fp = forces.mutable_data(), *lp = loss.mutable_data();
                 {
                     py::gil_scoped_release release;
                     self.compute(cell, positions.data(), species.data(), n, nm, fp, lp);
                 }
                 return py::make_tuple(forces, loss);
             },
             py::arg("cell"), py::arg("positions"), py::arg("species"), py::arg("method") = "auto",
             "Forces (n, 3) eV/Å and agent losses (n,) eV.");
}
