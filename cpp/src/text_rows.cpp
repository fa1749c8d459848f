#include "mldyn/text_rows.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace mldyn {

std::string fixed_rows(const std::vector<std::string>& prefixes, const double* values, std::size_t rows,
                       std::size_t cols, const std::string& separator, int width, int precision) {
    if (prefixes.size() != rows)
        throw std::invalid_argument("fixed_rows: " + std::to_string(prefixes.size()) + " prefixes for " +
                                    std::to_string(rows) + " rows");
    if (width < 0 || precision < 0 || precision > 17)
        throw std::invalid_argument("fixed_rows: width must be >= 0 and precision in [0, 17]");
    std::string out;
    out.reserve(rows * (16 + cols * (separator.size() + static_cast<std::size_t>(std::max(width, precision + 8)))));
    char buf[400];  // the longest finite double in fixed notation with 17 decimals fits
    for (std::size_t r = 0; r < rows; ++r) {
        out += prefixes[r];
        for (std::size_t c = 0; c < cols; ++c) {
            const double x = values[r * cols + c];
            char* end;
            if (std::isfinite(x)) {
                end = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, precision).ptr;
            } else {  // printf's spelling
                end = buf + std::snprintf(buf, sizeof buf, "%.*f", precision, x);
            }
            const std::size_t len = static_cast<std::size_t>(end - buf);
            out += separator;
            if (len < static_cast<std::size_t>(width)) out.append(static_cast<std::size_t>(width) - len, ' ');
            out.append(buf, len);
        }
        out += '\n';
    }
    return out;
}

}  // namespace mldyn
