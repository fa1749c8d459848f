#include "common.hpp"
#include "mldyn/design.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_design(py::module_& m) {
    m.def("n_fit_parameters", &n_fit_parameters, py::arg("n_features"), py::arg("quadratic"),
          "F linear + F(F+1)/2 quadratic (upper triangle of B) parameters.");
    m.def("build_design",
          [](const DoubleArray& phi, const DoubleArray& dphi, const IntArray& species, int target, bool quadratic) {
              if (phi.ndim() != 3) throw std::invalid_argument("phi must have shape (n, S, M), got " + shape_string(phi));
              const std::size_t n = static_cast<std::size_t>(phi.shape(0));
              const std::size_t F = static_cast<std::size_t>(phi.shape(1) * phi.shape(2));
              if (dphi.ndim() != 4 || static_cast<std::size_t>(dphi.shape(0)) != n || dphi.shape(1) != phi.shape(1) ||
                  dphi.shape(2) != phi.shape(2) || dphi.shape(3) != 3)
                  throw std::invalid_argument("dphi must have shape (n, S, M, 3) matching phi, got " + shape_string(dphi));
              check_n(species, n, "species");
              std::size_t rows = 0;
              for (py::ssize_t k = 0; k < species.shape(0); ++k) rows += species.data()[k] == target;
              const std::size_t P = n_fit_parameters(F, quadratic);
              py::array_t<double> X({3 * rows, P});
              double* xp = X.mutable_data();
              {
                  py::gil_scoped_release release;
                  build_design(phi.data(), dphi.data(), species.data(), n, F, target, quadratic, xp);
              }
              return X;
          },
          py::arg("phi"), py::arg("dphi"), py::arg("species"), py::arg("target"), py::arg("quadratic"),
          "Design rows (3 n_target, P) with predicted force = X @ theta (eV/Å); see design.hpp.");
}
