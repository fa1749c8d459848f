#include "common.hpp"
#include "mldyn/invariants.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

namespace {
const char* method_name(NeighbourMethod m) {
    return m == NeighbourMethod::CellList ? "cell_list" : m == NeighbourMethod::AllPairs ? "all_pairs" : "auto";
}
}  // namespace

void export_invariants(py::module_& m) {
    py::class_<InvariantCalculator>(m, "InvariantCalculator")
        .def(py::init<Basis, int>(), py::arg("basis"), py::arg("n_species"))
        .def("compute",
             [](InvariantCalculator& self, const Cell& cell, const DoubleArray& positions, const IntArray& species,
                const std::string& method, bool gradients) {
                 const std::size_t n = check_nc(positions, "positions");
                 check_n(species, n, "species");
                 const NeighbourMethod nm = parse_neighbour_method(method);
                 const std::size_t S = static_cast<std::size_t>(self.n_species()), M = self.basis().size();
                 py::array_t<double> phi({n, S, M});
                 py::object dphi = py::none();
                 double* dphi_ptr = nullptr;
                 if (gradients) {
                     py::array_t<double> d({n, S, M, std::size_t{3}});
                     dphi_ptr = d.mutable_data();
                     dphi = d;
                 }
                 double* phi_ptr = phi.mutable_data();
                 {
                     py::gil_scoped_release release;
                     self.compute(cell, positions.data(), species.data(), n, nm, phi_ptr, dphi_ptr);
                 }
                 return py::make_tuple(phi, dphi);
             },
             py::arg("cell"), py::arg("positions"), py::arg("species"), py::arg("method") = "auto",
             py::arg("gradients") = true)
        .def("set_skin", &InvariantCalculator::set_skin, py::arg("skin"))
        .def_property_readonly("neighbour_list_builds", &InvariantCalculator::neighbour_list_builds)
        .def_property_readonly("last_method", [](const InvariantCalculator& s) { return method_name(s.last_method()); });
}
