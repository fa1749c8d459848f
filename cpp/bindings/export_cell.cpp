#include <pybind11/stl.h>

#include "common.hpp"
#include "mldyn/cell.hpp"
#include "mldyn/pair_list.hpp"
#include "mldyn/text_rows.hpp"
#include "mldyn/threads.hpp"
#include "mldyn/units.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_cell(py::module_& m) {
    py::class_<Cell>(m, "Cell", "Periodic cell (rows of a 3x3 matrix in Å are the vectors a, b, c) or none.")
        .def(py::init<>(), "An isolated system (no periodicity).")
        .def(py::init([](const DoubleArray& h) {
                 if (h.ndim() != 2 || h.shape(0) != 3 || h.shape(1) != 3)
                     throw std::invalid_argument("cell must have shape (3, 3) (rows are the cell vectors, Å), got " +
                                                 shape_string(h));
                 Mat3 rows{};
                 for (int i = 0; i < 3; ++i)
                     for (int j = 0; j < 3; ++j) rows[i][j] = h.at(i, j);
                 return Cell(rows);
             }),
             py::arg("vectors"))
        .def_property_readonly("periodic", &Cell::periodic)
        .def_property_readonly("orthorhombic", &Cell::orthorhombic)
        .def_property_readonly("volume", &Cell::volume, "Volume in Å³ (0 if isolated).")
        .def_property_readonly("max_cutoff", &Cell::max_cutoff,
                               "Half the smallest perpendicular width (Å); inf if isolated.")
        .def_property_readonly("widths", [](const Cell& c) { return c.widths(); }, "Perpendicular widths (Å).")
        .def_property_readonly("vectors", [](const Cell& c) {
            py::array_t<double> out({3, 3});
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) out.mutable_at(i, j) = c.vectors()[i][j];
            return out;
        });

    m.def("get_num_threads", &get_num_threads, "Threads used by the core.");
    m.def("set_num_threads", &set_num_threads, py::arg("n"), "Set the core's thread count (n <= 0: OpenMP default).");
    m.def("have_openmp", &have_openmp, "Whether the core was built with OpenMP.");
    m.def(
        "pairs_within",
        [](const Cell& cell, const DoubleArray& positions, double cutoff) {
            const std::size_t n = check_nc(positions, "positions");
            PairList pairs;
            {
                py::gil_scoped_release release;
                pairs = pairs_within(cell, positions.data(), n, cutoff);
            }
            const std::size_t m = pairs.r.size();
            const auto sm = static_cast<py::ssize_t>(m);
            py::array_t<std::uint32_t> i(sm, pairs.i.data()), j(sm, pairs.j.data());  // copies
            py::array_t<double> r(sm, pairs.r.data());
            py::array_t<double> d({sm, static_cast<py::ssize_t>(3)});
            double* out = d.mutable_data();
            for (std::size_t k = 0; k < m; ++k) {
                out[3 * k] = pairs.dx[k];
                out[3 * k + 1] = pairs.dy[k];
                out[3 * k + 2] = pairs.dz[k];
            }
            return py::make_tuple(i, j, d, r);
        },
        py::arg("cell"), py::arg("positions"), py::arg("cutoff"),
        "Pairs (i < j) closer than cutoff (Å), minimum image, with the MD neighbour search (cell list from 1000 "
        "atoms): (i (m,), j (m,), d = q_j - q_i (m, 3) Å, r (m,) Å).");
    m.def(
        "fixed_rows",
        [](const std::vector<std::string>& prefixes, const DoubleArray& values, const std::string& separator,
           int width, int precision) {
            if (values.ndim() != 2)
                throw std::invalid_argument("fixed_rows: values must have shape (rows, columns), got " +
                                            shape_string(values));
            const std::size_t rows = static_cast<std::size_t>(values.shape(0));
            const std::size_t cols = static_cast<std::size_t>(values.shape(1));
            std::string text;
            {
                py::gil_scoped_release release;
                text = fixed_rows(prefixes, values.data(), rows, cols, separator, width, precision);
            }
            return py::bytes(text);
        },
        py::arg("prefixes"), py::arg("values"), py::arg("separator"), py::arg("width"), py::arg("precision"),
        "Rows of numbers as fixed-point text (bytes): prefixes[r], then separator + each value of row r with "
        "`precision` decimals right-aligned in `width` characters (printf's %*.*f), then a newline.");

    py::module_ u = m.def_submodule("units", "Pinned CODATA 2018 constants (see cpp/include/mldyn/units.hpp).");
    u.attr("eV_J") = units::eV_J;
    u.attr("amu_kg") = units::amu_kg;
    u.attr("kB_eV_per_K") = units::kB_eV_per_K;
    u.attr("hartree_eV") = units::hartree_eV;
    u.attr("bohr_A") = units::bohr_A;
    u.attr("au_time_fs") = units::au_time_fs;
    u.attr("accel_per_force_over_mass") = units::accel_per_force_over_mass;
    u.attr("kinetic_eV_per_amu_A2_fs2") = units::kinetic_eV_per_amu_A2_fs2;
}
