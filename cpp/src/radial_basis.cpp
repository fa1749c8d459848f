#include "mldyn/radial_basis.hpp"

#include "detail/simd.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mldyn {

const char* weight_kind_name(WeightKind kind) {
    switch (kind) {
        case WeightKind::Exponential: return "exp";
        case WeightKind::Gaussian: return "gauss";
        case WeightKind::Power: return "power";
        case WeightKind::Core: return "core";
    }
    return "?";
}

WeightKind parse_weight_kind(const std::string& name) {
    if (name == "exp") return WeightKind::Exponential;
    if (name == "gauss") return WeightKind::Gaussian;
    if (name == "power") return WeightKind::Power;
    if (name == "core") return WeightKind::Core;
    throw std::invalid_argument("unknown weight family '" + name + "' (expected 'exp', 'gauss', 'power' or 'core')");
}

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
        case WeightKind::Core: s << "((" << param << "/r)^4-1)^3/64"; break;
    }
    return s.str();
}

RadialBasis::RadialBasis(std::vector<WeightFunction> functions, double r_cut, double r_on)
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
    plan();
}

std::vector<WeightFunction> RadialBasis::paper_default() {
    std::vector<WeightFunction> out;
    for (int k = 1; k <= 8; ++k) out.push_back({WeightKind::Exponential, 1.0 / k});
    for (int k = 1; k <= 8; ++k) out.push_back({WeightKind::Gaussian, static_cast<double>(k)});
    for (int k = 1; k <= 2; ++k) out.push_back({WeightKind::Power, static_cast<double>(k)});
    return out;
}

void RadialBasis::plan() {
    const std::size_t m = functions_.size();
    // Rate of decay: alpha for exp(-alpha r), c = 1/(2 sigma^2) for exp(-c r^2).
    auto rate = [&](std::size_t i) {
        const WeightFunction& f = functions_[i];
        return f.kind == WeightKind::Gaussian ? 0.5 / (f.param * f.param) : f.param;
    };
    order_.resize(m);
    for (std::size_t i = 0; i < m; ++i) order_[i] = i;
    // Slowest decay first, so that a faster one can be a power of an earlier one.
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
        if (functions_[a].kind != functions_[b].kind) return functions_[a].kind < functions_[b].kind;
        return rate(a) < rate(b);
    });
    base_.assign(m, -1);
    power_.assign(m, 1);
    for (std::size_t oi = 0; oi < m; ++oi) {
        const std::size_t i = order_[oi];
        if (functions_[i].kind == WeightKind::Power || functions_[i].kind == WeightKind::Core) continue;
        // The earlier function (direct or itself a power) with the smallest integer ratio:
        // exp(-r) = exp(-r/2)^2 = (exp(-r/4)^2)^2 ..., one multiplication pass per function.
        for (std::size_t oj = 0; oj < oi; ++oj) {
            const std::size_t j = order_[oj];
            if (functions_[j].kind != functions_[i].kind) continue;
            const double k = rate(i) / rate(j);
            const double kr = std::round(k);
            if (kr >= 2.0 && kr <= 64.0 && std::abs(k - kr) <= 1e-12 * k &&
                (base_[i] < 0 || kr < static_cast<double>(power_[i]))) {
                base_[i] = static_cast<long>(j);
                power_[i] = static_cast<unsigned>(kr);
            }
        }
    }
}

double RadialBasis::derivative_factor(std::size_t m) const {
    const WeightFunction& f = functions_[m];
    switch (f.kind) {
        case WeightKind::Exponential: return -f.param;
        case WeightKind::Gaussian: return -1.0 / (f.param * f.param);
        case WeightKind::Power: return -f.param;
        case WeightKind::Core: return -3.0 / 16.0;
    }
    return 0.0;
}

void RadialBasis::evaluate(double r, double* w, double* dw) const {
    const double inv_r = 1.0 / r;
    evaluate_batch(&r, &inv_r, 1, w, dw, 1);
}

namespace {
/// y[b] = x[b]^p for a batch (p >= 2), one SIMD pass.
MLDYN_INLINE void power_batch(const double* x, double* y, std::size_t count, unsigned p) {
    switch (p) {
        case 2:
#pragma omp simd
            for (std::size_t b = 0; b < count; ++b) y[b] = x[b] * x[b];
            return;
        case 3:
#pragma omp simd
            for (std::size_t b = 0; b < count; ++b) y[b] = x[b] * x[b] * x[b];
            return;
        case 4:
#pragma omp simd
            for (std::size_t b = 0; b < count; ++b) {
                const double x2 = x[b] * x[b];
                y[b] = x2 * x2;
            }
            return;
        default:
            break;
    }
    // Binary powering, bit by bit over the whole batch so that every loop vectorises.
#pragma omp simd
    for (std::size_t b = 0; b < count; ++b) y[b] = (p & 1u) ? x[b] : 1.0;
    unsigned e = p >> 1;
    double z[256];
    for (std::size_t start = 0; start < count; start += 256) {
        const std::size_t c = std::min<std::size_t>(256, count - start);
#pragma omp simd
        for (std::size_t b = 0; b < c; ++b) z[b] = x[start + b];
        for (unsigned bits = e; bits; bits >>= 1) {
#pragma omp simd
            for (std::size_t b = 0; b < c; ++b) z[b] *= z[b];
            if (bits & 1u) {
#pragma omp simd
                for (std::size_t b = 0; b < c; ++b) y[start + b] *= z[b];
            }
        }
    }
}
}  // namespace

MLDYN_MULTIVERSION void RadialBasis::evaluate_values(const double* r, const double* inv_r, std::size_t count, double* w,
                                               std::size_t stride) const {
    for (const std::size_t i : order_) {
        const WeightFunction& f = functions_[i];
        double* wi = w + i * stride;
        if (base_[i] >= 0) {
            power_batch(w + static_cast<std::size_t>(base_[i]) * stride, wi, count, power_[i]);
            continue;
        }
        switch (f.kind) {
            case WeightKind::Exponential: {
                const double a = -f.param;
#pragma omp simd
                for (std::size_t b = 0; b < count; ++b) wi[b] = detail::exp_nonpositive(a * r[b]);
                break;
            }
            case WeightKind::Gaussian: {
                const double c = -0.5 / (f.param * f.param);
#pragma omp simd
                for (std::size_t b = 0; b < count; ++b) wi[b] = detail::exp_nonpositive(c * r[b] * r[b]);
                break;
            }
            case WeightKind::Power: {
                const double n = f.param;
                if (n == 1.0) {
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) wi[b] = inv_r[b];
                } else if (n == 2.0) {
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) wi[b] = inv_r[b] * inv_r[b];
                } else {
                    for (std::size_t b = 0; b < count; ++b) wi[b] = std::pow(r[b], -n);
                }
                break;
            }
            case WeightKind::Core: {
                const double rw = f.param;
#pragma omp simd
                for (std::size_t b = 0; b < count; ++b) {
                    const double x = rw * inv_r[b], x2 = x * x;
                    const double t = std::max(0.0, x2 * x2 - 1.0);
                    wi[b] = t * t * t * (1.0 / 64.0);
                }
                break;
            }
        }
    }
}

namespace {
/// Quintic switching S = 1 - 10x³ + 15x⁴ - 6x⁵ (written to stay accurate near x = 1) and dS/dr,
/// x = (r - r_on) / width clamped to [0, 1] (so S = dS = 0 at and beyond the cutoff).
MLDYN_INLINE void switching(double r, double r_on, double inv_width, double& s, double& ds) {
    const double x = r > r_on ? std::min(1.0, (r - r_on) * inv_width) : 0.0;
    const double y = 1.0 - x;
    s = y * y * y * (1.0 + 3.0 * x + 6.0 * x * x);
    ds = -30.0 * x * x * y * y * inv_width;
}
}  // namespace

MLDYN_MULTIVERSION void RadialBasis::switching_batch(const double* r, std::size_t count, double* s, double* ds) const {
    if (!switching_.active()) {
#pragma omp simd
        for (std::size_t b = 0; b < count; ++b) {
            s[b] = 1.0;
            ds[b] = 0.0;
        }
        return;
    }
    const double r_on = switching_.r_on, inv_width = 1.0 / (switching_.r_cut - switching_.r_on);
#pragma omp simd
    for (std::size_t b = 0; b < count; ++b) switching(r[b], r_on, inv_width, s[b], ds[b]);
}

MLDYN_MULTIVERSION void RadialBasis::evaluate_batch(const double* r, const double* inv_r, std::size_t count, double* w,
                                              double* dw, std::size_t stride, bool derivatives) const {
    evaluate_values(r, inv_r, count, w, stride);
    const std::size_t m = functions_.size();
    if (derivatives)
        for (std::size_t i = 0; i < m; ++i) {
            const double c = derivative_factor(i);
            const double* wi = w + i * stride;
            double* dwi = dw + i * stride;
            switch (functions_[i].kind) {
                case WeightKind::Exponential:
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) dwi[b] = c * wi[b];
                    break;
                case WeightKind::Gaussian:
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) dwi[b] = c * r[b] * wi[b];
                    break;
                case WeightKind::Power:
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) dwi[b] = c * wi[b] * inv_r[b];
                    break;
                case WeightKind::Core: {
                    const double rw = functions_[i].param;
#pragma omp simd
                    for (std::size_t b = 0; b < count; ++b) {
                        const double x = rw * inv_r[b], x4 = x * x * x * x;
                        const double t = std::max(0.0, x4 - 1.0);
                        dwi[b] = c * t * t * x4 * inv_r[b];
                    }
                    break;
                }
            }
        }
    if (!switching_.active()) return;
    const double r_on = switching_.r_on, inv_width = 1.0 / (switching_.r_cut - switching_.r_on);
    for (std::size_t b = 0; b < count; ++b) {
        if (r[b] <= r_on) continue;
        double s, ds;
        switching(r[b], r_on, inv_width, s, ds);
        for (std::size_t i = 0; i < m; ++i) {
            if (derivatives) dw[i * stride + b] = dw[i * stride + b] * s + w[i * stride + b] * ds;
            w[i * stride + b] *= s;
        }
    }
}

}  // namespace mldyn
