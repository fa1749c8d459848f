#include <algorithm>

#include "common.hpp"
#include "mldyn/design.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_design(py::module_& m) {
    m.def("n_fit_parameters", &n_fit_parameters, py::arg("n_features"), py::arg("n_quadratic"),
          "F linear + Fq(Fq+1)/2 quadratic (upper triangle of B over the first Fq invariants) parameters.");
    m.def("build_design",
          [](const DoubleArray& phi, const DoubleArray& dphi, const IntArray& species, int target, std::size_t n_quadratic) {
              // phi (n, F) or (n, S, M); dphi the same with a last axis of 3.
              if (phi.ndim() < 2) throw std::invalid_argument("phi must have shape (n, F), got " + shape_string(phi));
              const std::size_t n = static_cast<std::size_t>(phi.shape(0));
              const std::size_t F = static_cast<std::size_t>(phi.size()) / std::max<std::size_t>(n, 1);
              bool same = dphi.ndim() == phi.ndim() + 1 && dphi.shape(dphi.ndim() - 1) == 3;
              for (py::ssize_t d = 0; same && d < phi.ndim(); ++d) same = dphi.shape(d) == phi.shape(d);
              if (!same)
                  throw std::invalid_argument("dphi must have the shape of phi " + shape_string(phi) +
                                              " plus a last axis of 3, got " + shape_string(dphi));
              check_n(species, n, "species");
              std::size_t rows = 0;
              for (py::ssize_t k = 0; k < species.shape(0); ++k) rows += species.data()[k] == target;
              if (n_quadratic > F)
                  throw std::invalid_argument("n_quadratic must be <= the " + std::to_string(F) + " invariants");
              const std::size_t P = n_fit_parameters(F, n_quadratic);
              py::array_t<double> X({3 * rows, P});
              double* xp = X.mutable_data();
              {
                  py::gil_scoped_release release;
                  build_design(phi.data(), dphi.data(), species.data(), n, F, n_quadratic, target, xp);
              }
              return X;
          },
          py::arg("phi"), py::arg("dphi"), py::arg("species"), py::arg("target"), py::arg("n_quadratic"),
          "Design rows (3 n_target, P) with predicted force = X @ theta (eV/Å); see design.hpp.");
}
