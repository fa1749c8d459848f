#include "mldyn/weights.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mldyn {

void WeightFunction::validate() const {
    if (!std::isfinite(param) || !(param > 0.0)) {
        throw std::invalid_argument("basis: weight function " + describe() +
                                    " needs a finite, positive parameter");
    }
}

std::string WeightFunction::describe() const {
    std::ostringstream s;
    s.precision(17);
    switch (kind) {
        case WeightKind::Exponential: s << "exp(-" << param << " r)"; break;
        case WeightKind::Gaussian: s << "exp(-r^2/(2*" << param << "^2))"; break;
        case WeightKind::Power: s << "r^-" << param; break;
    }
    return s.str();
}

Basis::Basis(std::vector<WeightFunction> functions, double r_cut, double r_on)
    : functions_(std::move(functions)), switching_{r_on, r_cut} {
    if (functions_.empty()) throw std::invalid_argument("basis: needs at least one weight function");
    for (const auto& f : functions_) {
        f.validate();
        if (f.kind == WeightKind::Power) has_power_ = true;
    }
    if (std::isnan(r_cut) || !(r_cut > 0.0))
        throw std::invalid_argument("basis: the cutoff must be positive (Å), got " + std::to_string(r_cut));
    if (std::isnan(r_on) || r_on < 0.0)
        throw std::invalid_argument("basis: the switching start r_on must be >= 0 (Å), got " +
                                    std::to_string(r_on));
    if (std::isinf(r_cut) && switching_.active())
        throw std::invalid_argument("basis: switching needs a finite cutoff");
}

std::vector<WeightFunction> Basis::paper_default() {
    std::vector<WeightFunction> out;
    for (int k = 1; k <= 8; ++k) out.push_back({WeightKind::Exponential, 1.0 / k});
    for (int k = 1; k <= 8; ++k) out.push_back({WeightKind::Gaussian, static_cast<double>(k)});
    for (int k = 1; k <= 2; ++k) out.push_back({WeightKind::Power, static_cast<double>(k)});
    return out;
}

void Basis::evaluate(double r, double* w, double* dw) const {
    const std::size_t m = functions_.size();
    for (std::size_t i = 0; i < m; ++i) {
        const WeightFunction& f = functions_[i];
        switch (f.kind) {
            case WeightKind::Exponential: {
                const double e = std::exp(-f.param * r);
                w[i] = e;
                dw[i] = -f.param * e;
                break;
            }
            case WeightKind::Gaussian: {
                const double inv2 = 1.0 / (f.param * f.param);
                const double g = std::exp(-0.5 * r * r * inv2);
                w[i] = g;
                dw[i] = -r * inv2 * g;
                break;
            }
            case WeightKind::Power: {
                const double p = f.param == 1.0 ? 1.0 / r : f.param == 2.0 ? 1.0 / (r * r) : std::pow(r, -f.param);
                w[i] = p;
                dw[i] = -f.param * p / r;
                break;
            }
        }
    }
    if (switching_.active() && r > switching_.r_on) {
        const double width = switching_.r_cut - switching_.r_on;
        const double x = (r - switching_.r_on) / width;
        const double x2 = x * x;
        const double s = (1.0 - x) * (1.0 - x) * (1.0 - x) * (1.0 + 3.0 * x + 6.0 * x2);  // = 1 - 10x³ + 15x⁴ - 6x⁵, accurate near x = 1
        const double ds = -30.0 * x2 * (1.0 - 2.0 * x + x2) / width;
        for (std::size_t i = 0; i < m; ++i) {
            dw[i] = dw[i] * s + w[i] * ds;
            w[i] *= s;
        }
    }
}

}  // namespace mldyn
