#pragma once
/// Model files: the one reader (used by Python, MD, the C++ package and the LAMMPS plugin) and the
/// one description of the schema.
///
/// A model file is JSON. Schema version 2 (written by mldyn >= 0.2):
///
///   {"format": "mldyn-agent-loss-model",            required, exactly this
///    "schema_version": 2,                           1 and 2 are read
///    "mldyn_version": "0.2.0",                      informative
///    "units": {"length": "angstrom", "energy": "eV", "force": "eV/angstrom", "mass": "amu", "time": "fs"},
///    "species": ["O", "H"],                         S unique, non-empty names; species id = position
///    "masses": [15.9994, 1.00794],                  S positive masses, amu
///    "descriptors": [                               one or more; the invariant row of an agent is the
///       {"family": "radial",                        concatenation of their rows, in this order
///        "functions": [["exp", 1.0], ["gauss", 2.0], ["power", 1.0], ...],
///        "r_cut": 4.9264 | null,                    Å; null = half the smallest perpendicular cell width
///        "r_on": 4.0 | null},                       Å; switching start, null = hard cutoff
///       {"family": "angular", "functions": [...], "l_max": 3, "r_cut": 3.5, "r_on": 3.0}
///    ],
///    "loss": "linear" | "quadratic",                linear: B must be all zero
///    "quadratic_features": Fq,                      optional (default F): the quadratic term takes the
///                                                   first Fq invariants of the row (0 <= Fq <= F)
///    "coefficients": {"A": S x F, "B": S x Fq x Fq},  nested lists; B[s] symmetric to 1e-10 relative
///    "uncertainty": {...},                          optional: the fit's parameter covariance (below)
///    "training": {...}}                             optional, free-form (provenance, split, metrics)
///
/// Radial family ("radial"): M weight functions ["exp", alpha (1/Å)] = exp(-alpha r),
/// ["gauss", sigma (Å)] = exp(-r²/(2 sigma²)), ["power", n] = r^-n, all parameters finite and > 0;
/// S * M invariants per agent, index a * M + m (source species a, function m); see
/// radial_descriptor.hpp. With r_on < r_cut weights are switched off smoothly between them.
///
/// Angular family ("angular"): its own M radial functions (same kinds) and "l_max" (1..6);
/// l_max * C (C + 1) / 2 invariants per agent with C = S * M channels (power spectrum, see
/// angular_descriptor.hpp). "r_cut" may be smaller than the other descriptors' (fewer neighbours).
///
/// Uncertainty (optional, see force_covariance.hpp):
///   {"method": "bayesian-linear-regression",
///    "species": [null | {"params": [p, ...],        indices of the fitted parameters into theta_s
///                        "factor": "<base64>",      M packed by rows (n(n+1)/2 float64, little-endian)
///                        "noise_variance": v,       (eV/Å)^2 per force component
///                        ...}, ...]}                one per species, in species order; other keys ignored
///
/// Schema version 1 (mldyn 0.1) has instead of "descriptors" one radial family as
///   "basis": {"functions": [...], "r_cut": x | null, "r_on": y | null}
/// and is read as that one descriptor. Unknown top-level keys are ignored.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mldyn/descriptor.hpp"
#include "mldyn/force_covariance.hpp"
#include "mldyn/json.hpp"
#include "mldyn/model.hpp"
#include "mldyn/radial_basis.hpp"

namespace mldyn {

/// One descriptor of a model before its cutoff is resolved for a cell.
struct DescriptorSpec {
    std::string family = "radial";  ///< "radial" or "angular"
    std::vector<WeightFunction> functions;
    /// Highest degree of the angular family (0 for radial).
    int l_max = 0;
    /// Cutoff in Å; NaN means "half the smallest perpendicular cell width" (resolved by `build`).
    double r_cut = std::numeric_limits<double>::quiet_NaN();
    /// Switching start in Å; +inf means a hard cutoff.
    double r_on = std::numeric_limits<double>::infinity();

    /// Invariants per agent for `n_species` species.
    std::size_t size(int n_species) const;
    /// Throws std::invalid_argument naming what is wrong (unknown family, bad function, cutoffs).
    void validate() const;
    /// The descriptor with r_cut resolved: the spec's own, or `default_cutoff` (Å) when it is NaN.
    std::shared_ptr<const Descriptor> build(int n_species, double default_cutoff) const;
};

/// A validated model: what a model file holds except its training record.
class ModelDefinition {
public:
    /// Throws std::invalid_argument ("model: ...") if anything is inconsistent: species names
    /// empty or repeated, masses not S positive numbers, a bad descriptor, A not S x F, Fq =
    /// `n_quadratic` > F (AgentLossModel::kAllFeatures means F), B not S x Fq x Fq (or empty: zeros),
    /// non-finite or non-symmetric coefficients, B != 0 when `quadratic` is false.
    ModelDefinition(std::vector<std::string> species, std::vector<double> masses,
                    std::vector<DescriptorSpec> descriptors, bool quadratic, std::vector<double> A_sf,
                    std::vector<double> B_sqq, std::size_t n_quadratic = AgentLossModel::kAllFeatures);

    const std::vector<std::string>& species() const { return species_; }
    const std::vector<double>& masses() const { return masses_; }
    const std::vector<DescriptorSpec>& descriptors() const { return descriptors_; }
    bool quadratic() const { return quadratic_; }
    int n_species() const { return static_cast<int>(species_.size()); }
    std::size_t n_features() const { return n_features_; }
    /// Invariants in the quadratic block (the leading Fq of the row).
    std::size_t n_quadratic() const { return n_quadratic_; }
    const std::vector<double>& A() const { return A_; }
    const std::vector<double>& B() const { return B_; }
    /// True if some descriptor's cutoff is "half the smallest cell width" (needs a cell or a default).
    bool cutoff_from_cell() const;

    /// The model with every unresolved cutoff set to `default_cutoff` (Å; from Cell::max_cutoff
    /// of the configuration, or given by the user). Throws std::invalid_argument if a cutoff is
    /// needed and `default_cutoff` is not finite and positive, or if r_on is not below it.
    /// `pair_tables`: see AgentLossModel.
    std::shared_ptr<const AgentLossModel> build(double default_cutoff, bool pair_tables = true) const;

    /// Parameters per species: F + Fq(Fq+1)/2.
    std::size_t n_parameters() const;
    /// The fit's parameter covariance, or nullptr if the model has none.
    const std::shared_ptr<const ForceCovariance>& covariance() const { return covariance_; }
    /// Throws std::invalid_argument if `covariance` is not for this model's species and parameters.
    void set_covariance(std::shared_ptr<const ForceCovariance> covariance);

private:
    std::vector<std::string> species_;
    std::vector<double> masses_;
    std::vector<DescriptorSpec> descriptors_;
    bool quadratic_;
    std::size_t n_features_ = 0, n_quadratic_ = 0;
    std::vector<double> A_, B_;
    std::shared_ptr<const ForceCovariance> covariance_;
};

/// Parses and validates a model file's text; `source` (a path) prefixes every error message.
/// Throws std::invalid_argument "SOURCE: what is wrong".
ModelDefinition parse_model_file(const std::string& text, const std::string& source);
/// The same from a parsed JSON document.
ModelDefinition model_from_json(const json::Value& root, const std::string& source);
/// Reads a model file; also throws std::invalid_argument if the file cannot be read.
ModelDefinition read_model_file(const std::string& path);

}  // namespace mldyn
