#include <pybind11/stl.h>

#include "common.hpp"
#include "mldyn/radial_basis.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_radial_basis(py::module_& m) {
    py::class_<RadialBasis>(m, "RadialBasis", "Ordered radial weight functions with cutoff r_cut and switching from r_on (Å).")
        .def(py::init([](const std::vector<std::pair<std::string, double>>& fs, double r_cut, double r_on) {
                 std::vector<WeightFunction> out;
                 for (const auto& f : fs) out.push_back({parse_weight_kind(f.first), f.second});
                 return RadialBasis(std::move(out), r_cut, r_on);
             }),
             py::arg("functions"), py::arg("r_cut"), py::arg("r_on"))
        .def_property_readonly("r_cut", &RadialBasis::r_cut)
        .def_property_readonly("r_on", &RadialBasis::r_on)
        .def_property_readonly("functions", [](const RadialBasis& b) {
            std::vector<std::pair<std::string, double>> out;
            for (const auto& f : b.functions()) out.emplace_back(weight_kind_name(f.kind), f.param);
            return out;
        })
        .def("__len__", &RadialBasis::size)
        .def("evaluate", [](const RadialBasis& b, const DoubleArray& r) {
            if (r.ndim() != 1) throw std::invalid_argument("r must be a 1-D array of distances (Å)");
            const std::size_t n = static_cast<std::size_t>(r.shape(0)), M = b.size();
            py::array_t<double> w({n, M}), dw({n, M});
            for (std::size_t i = 0; i < n; ++i) {
                if (!(r.data()[i] > 0.0)) throw std::invalid_argument("distances must be > 0 Å");
                b.evaluate(r.data()[i], w.mutable_data() + i * M, dw.mutable_data() + i * M);
            }
            return py::make_tuple(w, dw);
        }, py::arg("r"), "Weights w (n, M) and dw/dr (n, M, per Å) at distances r (n,) in Å, switching included.");

    m.def("paper_default_functions", []() {
        std::vector<std::pair<std::string, double>> out;
        for (const auto& f : RadialBasis::paper_default()) out.emplace_back(weight_kind_name(f.kind), f.param);
        return out;
    }, "The paper's 18 weight functions as (family, parameter) pairs.");
}
