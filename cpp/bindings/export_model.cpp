#include <pybind11/stl.h>

#include <cmath>

#include "common.hpp"
#include "mldyn/model.hpp"
#include "mldyn/model_file.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

namespace {
using FunctionList = std::vector<std::pair<std::string, double>>;

FunctionList function_list(const std::vector<WeightFunction>& fs) {
    FunctionList out;
    for (const auto& f : fs) out.emplace_back(weight_kind_name(f.kind), f.param);
    return out;
}

/// Row-major copy of a (S, F) or (S, F, F) array, with the shape checked against the model's.
std::vector<double> coefficients(const DoubleArray& a, std::vector<py::ssize_t> shape, const char* name) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (std::size_t d = 0; ok && d < shape.size(); ++d) ok = a.shape(d) == shape[d];
    if (!ok) {
        std::string want = "(";
        for (std::size_t d = 0; d < shape.size(); ++d) want += (d ? ", " : "") + std::to_string(shape[d]);
        throw std::invalid_argument(std::string("model: ") + name + " must have shape " + want + "), got " +
                                    shape_string(a));
    }
    return to_vector(a);
}
}  // namespace

void export_model(py::module_& m) {
    py::class_<DescriptorSpec>(m, "DescriptorSpec", "One descriptor of a model before its cutoff is resolved.")
        .def(py::init([](const std::string& family, const FunctionList& fs, double r_cut, double r_on, int l_max) {
                 DescriptorSpec d;
                 d.family = family;
                 for (const auto& f : fs) d.functions.push_back({parse_weight_kind(f.first), f.second});
                 d.r_cut = r_cut;
                 d.r_on = r_on;
                 d.l_max = l_max;
                 d.validate();
                 return d;
             }),
             py::arg("family"), py::arg("functions"), py::arg("r_cut") = std::nan(""),
             py::arg("r_on") = INFINITY, py::arg("l_max") = 0,
             "r_cut NaN: half the smallest cell width; r_on inf: hard cutoff; l_max for the angular family.")
        .def_readonly("l_max", &DescriptorSpec::l_max)
        .def_readonly("family", &DescriptorSpec::family)
        .def_property_readonly("functions", [](const DescriptorSpec& d) { return function_list(d.functions); })
        .def_readonly("r_cut", &DescriptorSpec::r_cut)
        .def_readonly("r_on", &DescriptorSpec::r_on)
        .def("size", &DescriptorSpec::size, py::arg("n_species"));

    py::class_<DescriptorSet, std::shared_ptr<DescriptorSet>>(m, "DescriptorSet",
                                                              "The concatenated invariant row of several descriptors.")
        .def(py::init([](const std::vector<DescriptorSpec>& specs, int n_species, double default_cutoff) {
                 std::vector<std::shared_ptr<const Descriptor>> parts;
                 for (const auto& d : specs) parts.push_back(d.build(n_species, default_cutoff));
                 return std::make_shared<DescriptorSet>(std::move(parts), n_species);
             }),
             py::arg("specs"), py::arg("n_species"), py::arg("default_cutoff"))
        .def_property_readonly("n_features", &DescriptorSet::n_features)
        .def_property_readonly("n_species", &DescriptorSet::n_species)
        .def_property_readonly("cutoff", &DescriptorSet::cutoff);

    py::class_<AgentLossModel, std::shared_ptr<AgentLossModel>>(m, "AgentLossModel",
                                                                "A model with its cutoffs resolved (immutable).")
        .def_property_readonly("n_features", &AgentLossModel::n_features)
        .def_property_readonly("n_species", &AgentLossModel::n_species)
        .def_property_readonly("cutoff", &AgentLossModel::cutoff)
        .def_property_readonly("conservative", &AgentLossModel::conservative)
        .def_property_readonly("quadratic", &AgentLossModel::quadratic)
        .def_property_readonly("tabulated", [](const AgentLossModel& m) {
            std::vector<bool> out;
            for (std::size_t d = 0; d < m.descriptors().parts().size(); ++d) out.push_back(m.tabulated(d));
            return out;
        }, "Per descriptor: True if the force path takes it from the pair table (PairTable).")
        .def_property_readonly("table_grid", [](const AgentLossModel& m) -> py::object {
            if (!m.pair_table()) return py::none();
            return py::make_tuple(m.pair_table()->spacing(), m.pair_table()->intervals());
        }, "(largest spacing in Å, intervals) of the pair table, or None.");

    py::class_<ModelDefinition>(m, "ModelDefinition", "A validated model (what a model file holds).")
        .def(py::init([](const std::vector<std::string>& species, const std::vector<double>& masses,
                         const std::vector<DescriptorSpec>& descriptors, bool quadratic, const DoubleArray& A,
                         const DoubleArray& B) {
                 const py::ssize_t S = static_cast<py::ssize_t>(species.size());
                 py::ssize_t F = 0;
                 for (const auto& d : descriptors) F += static_cast<py::ssize_t>(d.size(static_cast<int>(S)));
                 // The quadratic block is B's size: (S, Fq, Fq) with Fq <= F.
                 const py::ssize_t Fq = B.ndim() == 3 ? B.shape(1) : F;
                 return ModelDefinition(species, masses, descriptors, quadratic, coefficients(A, {S, F}, "A"),
                                        coefficients(B, {S, Fq, Fq}, "B"), static_cast<std::size_t>(Fq));
             }),
             py::arg("species"), py::arg("masses"), py::arg("descriptors"), py::arg("quadratic"), py::arg("A"),
             py::arg("B"), "B has shape (S, Fq, Fq): the quadratic term over the first Fq <= F invariants.")
        .def_property_readonly("species", &ModelDefinition::species)
        .def_property_readonly("masses", &ModelDefinition::masses)
        .def_property_readonly("descriptors", &ModelDefinition::descriptors)
        .def_property_readonly("quadratic", &ModelDefinition::quadratic)
        .def_property_readonly("n_features", &ModelDefinition::n_features)
        .def_property_readonly("cutoff_from_cell", &ModelDefinition::cutoff_from_cell)
        .def_property_readonly("n_quadratic", &ModelDefinition::n_quadratic)
        .def_property_readonly("A", [](const ModelDefinition& d) {
            return to_array(d.A(), {d.n_species(), static_cast<py::ssize_t>(d.n_features())});
        })
        .def_property_readonly("B", [](const ModelDefinition& d) {
            const auto Fq = static_cast<py::ssize_t>(d.n_quadratic());
            return to_array(d.B(), {d.n_species(), Fq, Fq});
        })
        .def_property_readonly("n_parameters", &ModelDefinition::n_parameters)
        .def_property("covariance",
                      [](const ModelDefinition& d) { return std::const_pointer_cast<ForceCovariance>(d.covariance()); },
                      [](ModelDefinition& d, std::shared_ptr<ForceCovariance> c) { d.set_covariance(c); },
                      "The fit's parameter covariance (ForceCovariance) or None.")
        .def("build", [](const ModelDefinition& d, double default_cutoff, bool pair_tables) {
                 return std::const_pointer_cast<AgentLossModel>(d.build(default_cutoff, pair_tables));
             },
             py::arg("default_cutoff"), py::arg("pair_tables") = true,
             "The model with unresolved cutoffs set to default_cutoff (Å); pair_tables=False sums every "
             "descriptor directly in the force path (no PairTable).");

    m.def("parse_model_file", &parse_model_file, py::arg("text"), py::arg("source"),
          "Parse and validate a model file's JSON text (the one model-file reader; see model_file.hpp).");
}
