#include <algorithm>
#include <memory>

#include <pybind11/stl.h>

#include "common.hpp"
#include "mldyn/design.hpp"
#include "mldyn/force_covariance.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_force_covariance(py::module_& m) {
    py::class_<ForceCovariance, std::shared_ptr<ForceCovariance>>(
        m, "ForceCovariance", "The fit's parameter covariance per species, factored (see force_covariance.hpp).")
        .def(py::init([](std::size_t n_parameters, const std::vector<std::vector<std::size_t>>& params,
                         const std::vector<DoubleArray>& factors, const std::vector<double>& noise_variances) {
                 if (params.size() != factors.size() || params.size() != noise_variances.size())
                     throw std::invalid_argument("params, factors and noise_variances need one entry per species");
                 std::vector<SpeciesCovariance> species(params.size());
                 for (std::size_t s = 0; s < params.size(); ++s) {
                     species[s].params = params[s];
                     species[s].factor.assign(factors[s].data(), factors[s].data() + factors[s].size());
                     species[s].noise_variance = noise_variances[s];
                 }
                 return std::make_shared<ForceCovariance>(n_parameters, std::move(species));
             }),
             py::arg("n_parameters"), py::arg("params"), py::arg("factors"), py::arg("noise_variances"),
             "Per species: fitted parameter indices, packed lower-triangular factor M (n(n+1)/2), residual "
             "variance per force component ((eV/Å)^2).")
        .def_property_readonly("n_parameters", &ForceCovariance::n_parameters)
        .def_property_readonly("params", [](const ForceCovariance& c) {
            std::vector<std::vector<std::size_t>> out;
            for (const auto& s : c.species()) out.push_back(s.params);
            return out;
        })
        .def_property_readonly("factors", [](const ForceCovariance& c) {
            std::vector<py::array_t<double>> out;
            for (const auto& s : c.species()) {
                py::array_t<double> a(static_cast<py::ssize_t>(s.factor.size()));
                std::copy(s.factor.begin(), s.factor.end(), a.mutable_data());
                out.push_back(a);
            }
            return out;
        })
        .def_property_readonly("noise_variances", [](const ForceCovariance& c) {
            std::vector<double> out;
            for (const auto& s : c.species()) out.push_back(s.noise_variance);
            return out;
        })
        .def("leverage",
             [](const ForceCovariance& c, const DoubleArray& phi, const DoubleArray& dphi, const IntArray& species,
                std::size_t n_quadratic, bool float32) {
                 if (phi.ndim() != 2) throw std::invalid_argument("phi must have shape (n, F), got " + shape_string(phi));
                 const std::size_t n = static_cast<std::size_t>(phi.shape(0)), F = static_cast<std::size_t>(phi.shape(1));
                 if (dphi.ndim() != 3 || dphi.shape(0) != phi.shape(0) || dphi.shape(1) != phi.shape(1) || dphi.shape(2) != 3)
                     throw std::invalid_argument("dphi must have shape (n, F, 3) to match phi " + shape_string(phi) +
                                                 ", got " + shape_string(dphi));
                 check_n(species, n, "species");
                 if (n_quadratic > F) throw std::invalid_argument("n_quadratic must be <= F");
                 py::array_t<double> h(static_cast<py::ssize_t>(n));
                 double* hp = h.mutable_data();
                 {
                     py::gil_scoped_release release;
                     c.leverage(phi.data(), dphi.data(), species.data(), n, F, n_quadratic, hp, float32);
                 }
                 return h;
             },
             py::arg("phi"), py::arg("dphi"), py::arg("species"), py::arg("n_quadratic"), py::arg("float32") = false,
             "Leverage h (n,) per agent: sum over components of x M^T M x (NaN: species without covariance); "
             "float32: the products in float32 on CPUs with AVX-512, as MD's tracked steps (float64 elsewhere).");
}
