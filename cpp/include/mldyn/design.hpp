#pragma once
#include <cstddef>

namespace mldyn {

/// Number of fit parameters for F invariants whose first Fq form the quadratic block: F linear (A)
/// plus Fq(Fq+1)/2 for the upper triangle of the symmetric B (row-major, e <= f < Fq).
std::size_t n_fit_parameters(std::size_t n_features, std::size_t n_quadratic);

/// Least-squares design rows for the agents of species `target` in one frame.
///
/// The predicted force is linear in theta = [A_s (F), triu(B_s) (Fq(Fq+1)/2)]:
///   F_kc = sum_p X[3r + c, p] theta_p,  r = index of agent k among species-`target` agents,
/// with X[., f] = -dphi[k, f, c] for the linear part and, for e <= f < Fq,
///   X[., (e, f)] = -(phi_e dphi_fc + phi_f dphi_ec)  (e < f),   -phi_e dphi_ec  (e == f).
/// `phi_nf` is n x F, `dphi_nfc` n x F x 3; `X_rp` must hold (3 n_target) x n_fit_parameters
/// doubles (row-major). Returns the number of agents of species `target` (rows / 3).
std::size_t build_design(const double* phi_nf, const double* dphi_nfc, const int* species_n, std::size_t n,
                         std::size_t n_features, std::size_t n_quadratic, int target, double* X_rp);

}  // namespace mldyn
