#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace mldyn {

/// Rows of numbers as fixed-point text, for the trajectory writers (a frame of a 96-atom water box
/// in ~0.1 ms instead of ~0.8 ms with Python's formatting). Row r (of `rows`, `cols` values each,
/// row-major in `values`) is `prefixes[r]`, then for every value `separator` and the value with
/// `precision` decimals right-aligned in `width` characters (0: no padding), then '\n'. The digits
/// are those of printf's "%*.*f" (exact decimal rounding, C locale).
std::string fixed_rows(const std::vector<std::string>& prefixes, const double* values, std::size_t rows,
                       std::size_t cols, const std::string& separator, int width, int precision);

}  // namespace mldyn
