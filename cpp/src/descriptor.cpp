#include "mldyn/descriptor.hpp"

#include <algorithm>
#include <stdexcept>

namespace mldyn {

void Descriptor::pair_weights(const double*, std::size_t, double*, double*, std::size_t) const {
    throw std::logic_error("descriptor: pair_weights of a family that is not a pair sum (pair_functions() == 0)");
}

DescriptorSet::DescriptorSet(std::vector<std::shared_ptr<const Descriptor>> parts, int n_species)
    : parts_(std::move(parts)), n_species_(n_species), offsets_{0} {
    if (n_species < 1) throw std::invalid_argument("descriptors: n_species must be at least 1");
    if (parts_.empty()) throw std::invalid_argument("descriptors: a model needs at least one descriptor");
    for (const auto& d : parts_) {
        if (!d) throw std::invalid_argument("descriptors: null descriptor");
        offsets_.push_back(offsets_.back() + d->size());
        cutoff_ = std::max(cutoff_, d->cutoff());
    }
}

std::vector<std::unique_ptr<DescriptorScratch>> DescriptorSet::make_scratch() const {
    std::vector<std::unique_ptr<DescriptorScratch>> out;
    for (const auto& d : parts_) out.push_back(d->make_scratch(static_cast<std::size_t>(n_species_)));
    return out;
}

void DescriptorSet::features_and_gradients(const AgentEnvironment& env,
                                           std::vector<std::unique_ptr<DescriptorScratch>>& scratch, double* phi,
                                           double* dphi_fc) const {
    for (std::size_t d = 0; d < parts_.size(); ++d)
        parts_[d]->features_and_gradients(env, *scratch[d], phi + offsets_[d], dphi_fc + 3 * offsets_[d]);
}

}  // namespace mldyn
