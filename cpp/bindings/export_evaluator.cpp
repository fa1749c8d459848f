#include "common.hpp"
#include "mldyn/evaluator.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

namespace {
const char* method_name(NeighbourMethod m) {
    return m == NeighbourMethod::CellList ? "cell_list" : m == NeighbourMethod::AllPairs ? "all_pairs" : "auto";
}
}  // namespace

void export_evaluator(py::module_& m) {
    py::class_<Evaluator>(m, "Evaluator", "Invariants and forces of every agent of a configuration.")
        .def(py::init([](std::shared_ptr<AgentLossModel> model) { return Evaluator(model); }), py::arg("model"))
        .def(py::init([](std::shared_ptr<DescriptorSet> set) { return Evaluator(set); }), py::arg("descriptors"))
        .def("features",
             [](Evaluator& self, const Cell& cell, const DoubleArray& positions, const IntArray& species,
                const std::string& method, bool gradients) {
                 const std::size_t n = check_nc(positions, "positions");
                 check_n(species, n, "species");
                 const NeighbourMethod nm = parse_neighbour_method(method);
                 const std::size_t F = self.descriptors().n_features();
                 py::array_t<double> phi({n, F});
                 py::object dphi = py::none();
                 double* dphi_ptr = nullptr;
                 if (gradients) {
                     py::array_t<double> d({n, F, std::size_t{3}});
                     dphi_ptr = d.mutable_data();
                     dphi = d;
                 }
                 double* phi_ptr = phi.mutable_data();
                 {
                     py::gil_scoped_release release;
                     self.features(cell, positions.data(), species.data(), n, nm, phi_ptr, dphi_ptr);
                 }
                 return py::make_tuple(phi, dphi);
             },
             py::arg("cell"), py::arg("positions"), py::arg("species"), py::arg("method") = "auto",
             py::arg("gradients") = true,
             "(phi (n, F), dphi (n, F, 3) or None): invariants and d phi / d q_k of every agent.")
        .def("forces",
             [](Evaluator& self, const Cell& cell, const DoubleArray& positions, const IntArray& species,
                const std::string& method) {
                 if (!self.model()) throw std::invalid_argument("this evaluator has descriptors only, no model");
                 const std::size_t n = check_nc(positions, "positions");
                 check_n(species, n, "species");
                 const NeighbourMethod nm = parse_neighbour_method(method);
                 py::array_t<double> forces({static_cast<py::ssize_t>(n), py::ssize_t{3}}),
                     loss({static_cast<py::ssize_t>(n)});
                 double *fp = forces.mutable_data(), *lp = loss.mutable_data();
                 {
                     py::gil_scoped_release release;
                     self.forces(cell, positions.data(), species.data(), n, nm, fp, lp);
                 }
                 return py::make_tuple(forces, loss);
             },
             py::arg("cell"), py::arg("positions"), py::arg("species"), py::arg("method") = "auto",
             "(forces (n, 3) eV/Å, agent losses (n,) eV).")
        .def_property_readonly("model", [](const Evaluator& e) { return std::const_pointer_cast<AgentLossModel>(e.model()); },
                               "The model (None for an invariants-only evaluator).")
        .def("set_skin", &Evaluator::set_skin, py::arg("skin"))
        .def_property_readonly("neighbour_list_builds", &Evaluator::neighbour_list_builds)
        .def_property_readonly("last_method", [](const Evaluator& s) { return method_name(s.last_method()); });
}
