#pragma once
/// Per-agent force uncertainty of a fitted agent-loss model, exact for its linear least squares.
///
/// The predicted force of an agent of species s is linear in the fitted parameters theta_s (see
/// design.hpp): F_c = x_c . theta_s for its three design rows x_c. A ridge fit is the posterior
/// mean of Bayesian linear regression with a Gaussian prior (precision ridge * diag(X^T X) /
/// noise_variance); the posterior covariance of theta_s is noise_variance * (X^T X + ridge D^2)^-1.
/// The model file stores, per species, the parameters that were fitted (`params`, indices into
/// theta_s) and a lower-triangular factor M with (X^T X + ridge D^2)^-1 = M^T M over them, so that
///
///   leverage h_k = sum_c |M x_kc|^2      (dimensionless; x restricted to `params`)
///   Var(predicted F_k) = noise_variance * h_k      ((eV/Å)^2, summed over the 3 components)
///
/// h_k is small (about P / N) where the training data were and grows without bound where the
/// model extrapolates. Cost: 3 n (n + 1) flops per agent for n fitted parameters; MD's tracked steps ask
/// for float32 (AVX-512 only: half the time; relative error of h 7e-5 at most on the bundled water's
/// recommended model, more where the factor's rows cancel more).
#include <cstddef>
#include <vector>

namespace mldyn {

struct SpeciesCovariance {
    /// Indices of the fitted parameters into theta = [A (F), triu B (Fq(Fq+1)/2)]; empty: none.
    std::vector<std::size_t> params;
    /// Lower-triangular M (n x n), rows packed: row j holds its j + 1 leading entries.
    std::vector<double> factor;
    /// Residual variance of one force component, (eV/Å)^2.
    double noise_variance = 0.0;
};

class ForceCovariance {
public:
    /// Throws std::invalid_argument naming what is wrong (index out of range or repeated, factor
    /// of the wrong length or not finite, negative noise variance).
    ForceCovariance(std::size_t n_parameters, std::vector<SpeciesCovariance> species);

    std::size_t n_parameters() const { return n_parameters_; }
    const std::vector<SpeciesCovariance>& species() const { return species_; }

    /// Throws std::invalid_argument unless the covariance was made for the parameters of F
    /// invariants with the quadratic block on the first Fq (n_fit_parameters(F, Fq)).
    void check_fits(std::size_t n_features, std::size_t n_quadratic) const;

    /// Leverage h (n) of every agent from its invariants phi (n x F) and their gradients dphi
    /// (n x F x 3, per Å) with the quadratic block on the first Fq; NaN for an agent whose species
    /// has no fitted parameters. OpenMP over blocks of agents. ``float32``: the products in float32 on
    /// CPUs with AVX-512 (float64 elsewhere, and by default).
    void leverage(const double* phi_nf, const double* dphi_nfc, const int* species_n, std::size_t n,
                  std::size_t n_features, std::size_t n_quadratic, double* h_n, bool float32 = false) const;

private:
    std::size_t n_parameters_;
    std::vector<SpeciesCovariance> species_;
    // Per species, the factor by blocks of 8 rows, column by column: block b holds, for each column
    // i < min(8 b + 8, m), the 8 entries M[8 b + t][i] (zero above the diagonal and past row m).
    std::vector<std::vector<double>> row_blocks_;
    // The same by blocks of 16 rows in float32, for leverage(float32) on AVX-512 (twice the lanes per instruction).
    std::vector<std::vector<float>> row_blocks32_;
};

}  // namespace mldyn
