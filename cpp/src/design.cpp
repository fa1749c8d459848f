#include "mldyn/design.hpp"

namespace mldyn {

std::size_t n_fit_parameters(std::size_t F, std::size_t Fq) { return F + Fq * (Fq + 1) / 2; }

std::size_t build_design(const double* phi_nf, const double* dphi_nfc, const int* species_n, std::size_t n,
                         std::size_t F, std::size_t Fq, int target, double* X_rp) {
    const std::size_t P = n_fit_parameters(F, Fq);
    std::size_t r = 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (species_n[k] != target) continue;
        const double* phi = phi_nf + k * F;
        const double* dphi = dphi_nfc + 3 * k * F;
        for (int c = 0; c < 3; ++c) {
            double* row = X_rp + (3 * r + static_cast<std::size_t>(c)) * P;
            for (std::size_t f = 0; f < F; ++f) row[f] = -dphi[3 * f + c];
            double* q = row + F;
            for (std::size_t e = 0; e < Fq; ++e) {
                const double pe = phi[e], de = dphi[3 * e + c];
                *q++ = -pe * de;
                for (std::size_t f = e + 1; f < Fq; ++f) *q++ = -(pe * dphi[3 * f + c] + phi[f] * de);
            }
        }
        ++r;
    }
    return r;
}

}  // namespace mldyn
