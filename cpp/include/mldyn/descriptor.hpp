#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "mldyn/environment.hpp"

namespace mldyn {

/// Per-thread working memory of one descriptor for one agent at a time (each descriptor
/// defines its own subclass and creates it with `Descriptor::make_scratch`).
struct DescriptorScratch {
    virtual ~DescriptorScratch() = default;
};

/// A family of invariants: turns one agent's environment into its invariant row phi_k (length
/// `size()`) and d phi_k / d q_k (size() x 3). Invariants are rotation- and translation-invariant
/// functions of the separations q_j - q_k of the agent's neighbours within `cutoff()`.
///
/// Adding a family costs one subclass (plus its numpy oracle in tests/reference.py, its
/// conformance cases, and a spec in model_file.hpp so model files can name it). The model
/// concatenates the rows of all its descriptors; a descriptor never sees the loss.
///
/// Implementations are immutable after construction; every method is const and may be called
/// from several threads at once with different scratch objects.
class Descriptor {
public:
    virtual ~Descriptor() = default;

    /// Invariants per agent.
    virtual std::size_t size() const = 0;
    /// Neighbours at or beyond this distance (Å) do not contribute.
    virtual double cutoff() const = 0;
    /// For a pair-sum family (phi[a * M + m] = sum over neighbours j of species a of w_m(r_kj)),
    /// M; 0 otherwise. Lets the model recognise pair potentials (conservative models).
    virtual std::size_t pair_functions() const { return 0; }
    /// For a pair-sum family: w_m(r) and d w_m / dr (switching included) of the M pair functions at
    /// `count` distances r (Å) into w[m * stride + b] and dw[m * stride + b] (stride >= count).
    virtual void pair_weights(const double* r, std::size_t count, double* w, double* dw, std::size_t stride) const;
    /// For a pair-sum family: the distances (Å) inside the cutoff where some w_m or its derivatives
    /// are not smooth (the switching onset, the radius of a core), for tables (PairTable).
    virtual std::vector<double> pair_kinks() const { return {}; }
    virtual std::unique_ptr<DescriptorScratch> make_scratch(std::size_t n_species) const = 0;

    /// phi[0, size()) of an agent from its environment; keeps in `scratch` what `add_force` needs.
    virtual void features(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const = 0;
    /// What `add_force` needs, without the invariants: for a loss linear in them (g does not depend
    /// on phi) when the loss value is not wanted (MD steps between outputs). Default: `features`
    /// into phi; a family overrides it where the invariants cost more than the force's ingredients.
    virtual void prepare_force(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi) const {
        features(env, scratch, phi);
    }
    /// force[0, 3) += -sum_f g[f] d phi_f / d q_k (eV/Å if g is in eV per unit invariant), for the
    /// environment and scratch of the last `features` (or `prepare_force`) call. The MD path: no
    /// d phi is stored.
    virtual void add_force(const AgentEnvironment& env, DescriptorScratch& scratch, const double* g,
                           double* force) const = 0;
    /// phi[0, size()) and d phi / d q_k into dphi_fc (size() x 3, row-major; phi units per Å).
    virtual void features_and_gradients(const AgentEnvironment& env, DescriptorScratch& scratch, double* phi,
                                        double* dphi_fc) const = 0;
};

/// The invariant row of an agent: the concatenation of several descriptors' rows (descriptor d
/// at columns [offset(d), offset(d) + size_d)), for systems of `n_species` species.
class DescriptorSet {
public:
    /// Throws std::invalid_argument on an empty list, a null descriptor or n_species < 1.
    DescriptorSet(std::vector<std::shared_ptr<const Descriptor>> parts, int n_species);

    int n_species() const { return n_species_; }
    /// Invariants per agent F (sum over the descriptors).
    std::size_t n_features() const { return offsets_.back(); }
    /// The largest descriptor cutoff (Å): the neighbour search radius.
    double cutoff() const { return cutoff_; }
    const std::vector<std::shared_ptr<const Descriptor>>& parts() const { return parts_; }
    std::size_t offset(std::size_t d) const { return offsets_[d]; }

    /// One scratch per descriptor (per thread).
    std::vector<std::unique_ptr<DescriptorScratch>> make_scratch() const;

    /// phi (F) and dphi (F x 3).
    void features_and_gradients(const AgentEnvironment& env,
                                std::vector<std::unique_ptr<DescriptorScratch>>& scratch, double* phi,
                                double* dphi_fc) const;

private:
    std::vector<std::shared_ptr<const Descriptor>> parts_;
    int n_species_;
    std::vector<std::size_t> offsets_;
    double cutoff_ = 0.0;
};

}  // namespace mldyn
