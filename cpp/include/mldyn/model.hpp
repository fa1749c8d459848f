#pragma once
#include <cstddef>
#include <vector>

#include "mldyn/invariants.hpp"

namespace mldyn {

/// The agent-loss model of the paper, eq. (4.5)-(4.6), for S species and M functions.
///
/// Per agent species s, with F = S*M invariants phi (index a*M + m):
///   H_s(phi)  = A_s · phi + 1/2 phi · B_s · phi                     (eV)
///   force_k   = -(A_s + B_s phi_k) · dphi_k/dq_k                    (eV/Å)
/// Only q_k is differentiated (the other agents are the environment), so forces
/// are not the gradient of one global energy in general. With B = 0 and A
/// symmetric in the species pair (A[s][a*M+m] == A[a][s*M+m]) the model is a
/// pair potential with total energy 1/2 sum_k H_k, which `conservative()` detects.
///
/// Units: A in eV per unit invariant, B in eV per unit invariant squared
/// (exponential/Gaussian invariants are dimensionless, r^-n ones are Å^-n).
class AgentLossModel {
public:
    /// `A_sf` is S x F, `B_sff` is S x F x F (row-major), F = S * basis.size().
    /// Throws std::invalid_argument on wrong sizes, non-finite values, or a B_s that
    /// is not symmetric (to 1e-10 relative).
    AgentLossModel(Basis basis, int n_species, std::vector<double> A_sf, std::vector<double> B_sff);

    const Basis& basis() const { return calculator_.basis(); }
    int n_species() const { return n_species_; }
    std::size_t n_features() const { return n_features_; }
    const std::vector<double>& A() const { return A_; }
    const std::vector<double>& B() const { return B_; }
    bool quadratic() const { return quadratic_; }
    /// True when the model is a pair potential (B = 0, A symmetric in the species pair).
    bool conservative() const { return conservative_; }

    /// Forces (n x 3, eV/Å) and per-agent losses H_k (n, eV; may be null).
    void compute(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                 NeighbourMethod method, double* forces_nc, double* loss_n);


    /// dH/dphi (F) of one agent of species `s` with invariants phi_f (F); returns H (eV).
    double agent_gradient(std::size_t s, const double* phi_f, double* grad_f) const;

    NeighbourMethod last_method() const { return calculator_.last_method(); }
    long neighbour_list_builds() const { return calculator_.neighbour_list_builds(); }
    void set_skin(double skin) { calculator_.set_skin(skin); }

private:
    InvariantCalculator calculator_;
    int n_species_;
    std::size_t n_features_;
    std::vector<double> A_, B_;
    std::vector<double> Bt_;  // B_ transposed per species (S x F x stride, rows zero-padded)
    std::size_t bt_stride_ = 0;
    bool quadratic_ = false, conservative_ = false;
    std::vector<double> phi_;
    ScratchMutex scratch_;
};

}  // namespace mldyn
