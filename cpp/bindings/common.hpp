#pragma once
// Shared helpers for the thin pybind11 wrappers: shape checks that raise ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace mldyn::bindings {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

inline std::string shape_string(const py::array& a) {
    std::ostringstream s;
    s << "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s << (d ? ", " : "") << a.shape(d);
    s << (a.ndim() == 1 ? ",)" : ")");
    return s.str();
}

/// Positions or velocities: (n, 3).
inline std::size_t check_nc(const DoubleArray& a, const char* name) {
    if (a.ndim() != 2 || a.shape(1) != 3)
        throw std::invalid_argument(std::string(name) + " must have shape (n_atoms, 3), got " + shape_string(a));
    return static_cast<std::size_t>(a.shape(0));
}

/// Per-atom array of length n.
inline void check_n(const py::array& a, std::size_t n, const char* name) {
    if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != n) {
        std::ostringstream s;
        s << name << " must have shape (" << n << ",) to match the positions, got " << shape_string(a);
        throw std::invalid_argument(s.str());
    }
}

template <class T>
std::vector<T> to_vector(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
    return std::vector<T>(a.data(), a.data() + a.size());
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
    py::array_t<T> out(shape);
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

}  // namespace mldyn::bindings
