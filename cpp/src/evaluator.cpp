#include "mldyn/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "detail/separations.hpp"
#include "detail/simd.hpp"

namespace mldyn {

void validate_configuration(const Cell& cell, double cutoff, const double* positions_nc, const int* species_n,
                            std::size_t n, int n_species) {
    if (n_species < 1) throw std::invalid_argument("invariants: n_species must be at least 1");
    for (std::size_t i = 0; i < n; ++i) {
        if (species_n[i] < 0 || species_n[i] >= n_species) {
            std::ostringstream msg;
            msg << "invariants: species id " << species_n[i] << " of atom " << i << " is out of range [0, "
                << n_species << ")";
            throw std::invalid_argument(msg.str());
        }
        for (int c = 0; c < 3; ++c)
            if (!std::isfinite(positions_nc[3 * i + c])) {
                std::ostringstream msg;
                msg << "invariants: position of atom " << i << " is not finite (NaN or inf)";
                throw std::invalid_argument(msg.str());
            }
    }
    if (cell.periodic() && cutoff > cell.max_cutoff() * (1.0 + 1e-12)) {
        std::ostringstream msg;
        msg.precision(10);
        msg << "invariants: cutoff " << cutoff << " Å is larger than half the smallest perpendicular "
            << "cell width (" << cell.max_cutoff() << " Å); the minimum-image convention needs cutoff <= "
            << cell.max_cutoff() << " Å";
        throw std::invalid_argument(msg.str());
    }
}

/// One thread's working set: candidate separations of one species, the agent's environment, and
/// the descriptors' (or the model's) scratch.
struct Evaluator::ThreadScratch {
    explicit ThreadScratch(const Evaluator& e)
        : env(static_cast<std::size_t>(e.descriptors_->n_species())),
          parts(e.descriptors_->make_scratch()),
          model(e.model_ ? e.model_->make_scratch() : AgentLossModel::Scratch{}) {}
    /// Lowers this thread's closest contacts with agent i (species s) and its environment.
    void note_contacts(std::size_t i, std::size_t s) {
        const std::size_t S = env.n_species();
        for (std::size_t a = 0; a < S; ++a) {
            const AgentEnvironment::Neighbours& nb = env.species(a);
            double r = std::numeric_limits<double>::infinity();
            for (std::size_t b = 0; b < nb.count; ++b) r = std::min(r, nb.r[b]);
            Contact& c = closest[s * S + a];
            if (r < c.r || (r == c.r && i < c.agent)) c = Contact{r, i};
        }
    }
    std::vector<double> dx, dy, dz, r2;
    AgentEnvironment env;
    std::vector<std::unique_ptr<DescriptorScratch>> parts;  // invariants path
    std::vector<double> dphi;                               // d phi of one agent when the caller wants phi only
    std::vector<Contact> closest;                           // S x S, this thread's rows
    AgentLossModel::Scratch model;                         // force path
    void reserve(std::size_t n) {
        if (n <= r2.size()) return;
        for (std::vector<double>* v : {&dx, &dy, &dz, &r2}) v->resize(n);
    }
};

namespace {
/// The environment of agent i (in `ts.env`), species by species: minimum-image separations of its
/// candidates js[seg[a]..seg[a+1]), then the ones inside the cutoff. A coincident partner j
/// lowers (bad_i, bad_j) to the first such pair. Multiversioned: the separations loop is SIMD.
template <class Scratch>
MLDYN_MULTIVERSION void build_environment(const Cell& cell, double cutoff, const double* q, std::size_t i,
                                          const std::uint32_t* js, const std::size_t* seg, std::size_t S,
                                          Scratch& ts, std::size_t& bad_i, std::size_t& bad_j) {
    const double cutoff2 = cutoff * cutoff;
    for (std::size_t a = 0; a < S; ++a) {
        const std::size_t count = seg[a + 1] - seg[a];
        const std::uint32_t* ja = js + seg[a];
        ts.reserve(count);
        detail::separations<3, true, true>(cell, cutoff, q + 3 * i, q, q + 1, q + 2, ja, count, ts.dx.data(),
                                           ts.dy.data(), ts.dz.data(), ts.r2.data());
        if (!ts.env.set_species(a, ts.dx.data(), ts.dy.data(), ts.dz.data(), ts.r2.data(), count, cutoff2))
            for (std::size_t c = 0; c < count; ++c)
                if (ts.r2[c] == 0.0 && (i < bad_i || (i == bad_i && ja[c] < bad_j))) {
                    bad_i = i;
                    bad_j = ja[c];
                }
    }
}
}  // namespace

Evaluator::Evaluator(std::shared_ptr<const DescriptorSet> descriptors) : descriptors_(std::move(descriptors)) {
    if (!descriptors_) throw std::invalid_argument("evaluator: null descriptor set");
}

Evaluator::Evaluator(std::shared_ptr<const AgentLossModel> model) : model_(std::move(model)) {
    if (!model_) throw std::invalid_argument("evaluator: null model");
    descriptors_ = std::shared_ptr<const DescriptorSet>(model_, &model_->descriptors());
}

Evaluator::~Evaluator() = default;

// Copies share the immutable model but nothing mutable: lists and working sets are rebuilt on demand.
Evaluator::Evaluator(const Evaluator& other)
    : descriptors_(other.descriptors_), model_(other.model_), pairs_(other.pairs_), closest_(other.closest_) {}

Evaluator& Evaluator::operator=(const Evaluator& other) {
    if (this != &other) {
        descriptors_ = other.descriptors_;
        model_ = other.model_;
        pairs_ = other.pairs_;
        closest_ = other.closest_;
        threads_.clear();
    }
    return *this;
}

void Evaluator::set_skin(double skin) {
    if (!(skin >= 0.0) || !std::isfinite(skin))
        throw std::invalid_argument("neighbours: the Verlet skin must be a finite number >= 0 (Å)");
    pairs_.set_skin(skin);
}

template <class RowFn>
void Evaluator::sweep(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                      NeighbourMethod method, RowFn&& finish_row) {
    const double cutoff = descriptors_->cutoff();
    validate_configuration(cell, cutoff, positions_nc, species_n, n, descriptors_->n_species());
    pairs_.build(cell, positions_nc, species_n, descriptors_->n_species(), n, cutoff, method);
    const int n_threads = threads_for_atoms(n);
    while (threads_.size() < static_cast<std::size_t>(n_threads)) threads_.push_back(std::make_unique<ThreadScratch>(*this));
    const std::size_t S = static_cast<std::size_t>(descriptors_->n_species());
    constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    std::size_t bad_i = none, bad_j = 0;
    for (std::size_t t = 0; t < static_cast<std::size_t>(n_threads); ++t) threads_[t]->closest.assign(S * S, Contact{});

#if defined(MLDYN_HAVE_OPENMP)
#pragma omp parallel num_threads(n_threads)
#endif
    {
        ThreadScratch& ts = *threads_[static_cast<std::size_t>(current_thread())];
        std::size_t my_bad_i = none, my_bad_j = 0;
        pairs_.for_each_row([&](std::size_t i, const std::uint32_t* js, const std::size_t* seg) {
            build_environment(cell, cutoff, positions_nc, i, js, seg, S, ts, my_bad_i, my_bad_j);
            ts.note_contacts(i, static_cast<std::size_t>(species_n[i]));
            finish_row(i, ts);
        });
        if (my_bad_i != none) {
#if defined(MLDYN_HAVE_OPENMP)
#pragma omp critical(mldyn_coincident)
#endif
            if (my_bad_i < bad_i || (my_bad_i == bad_i && my_bad_j < bad_j)) {
                bad_i = my_bad_i;
                bad_j = my_bad_j;
            }
        }
    }
    // The closest contacts over the threads (a minimum: the same whatever the split of the rows).
    closest_.assign(S * S, Contact{});
    for (std::size_t t = 0; t < static_cast<std::size_t>(n_threads); ++t)
        for (std::size_t k = 0; k < S * S; ++k) {
            const Contact& c = threads_[t]->closest[k];
            if (c.r < closest_[k].r || (c.r == closest_[k].r && c.agent < closest_[k].agent)) closest_[k] = c;
        }
    if (bad_i != none) {
        std::ostringstream msg;
        msg << "invariants: atoms " << bad_i << " and " << bad_j
            << " are at the same position (distance 0): their invariants and gradients are undefined";
        throw std::invalid_argument(msg.str());
    }
}

void Evaluator::features(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                         NeighbourMethod method, double* phi_nf, double* dphi_nfc) {
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    const std::size_t F = descriptors_->n_features();
    sweep(cell, positions_nc, species_n, n, method, [&](std::size_t i, ThreadScratch& ts) {
        // One path for phi, with or without d phi wanted, so both give the same bits.
        double* dphi = dphi_nfc ? dphi_nfc + 3 * i * F : (ts.dphi.resize(3 * F), ts.dphi.data());
        descriptors_->features_and_gradients(ts.env, ts.parts, phi_nf + i * F, dphi);
    });
}

void Evaluator::forces(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                       NeighbourMethod method, double* forces_nc, double* loss_n) {
    if (!model_) throw std::logic_error("evaluator: forces need a model (this evaluator has only descriptors)");
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    const std::size_t F = descriptors_->n_features();
    phi_.resize(n * F);
    sweep(cell, positions_nc, species_n, n, method, [&](std::size_t i, ThreadScratch& ts) {
        const double h = model_->agent_force(static_cast<std::size_t>(species_n[i]), ts.env, ts.model,
                                             phi_.data() + i * F, forces_nc + 3 * i, loss_n != nullptr);
        if (loss_n) loss_n[i] = h;
    });
}

void Evaluator::forces_and_leverage(const Cell& cell, const double* positions_nc, const int* species_n, std::size_t n,
                                    NeighbourMethod method, const ForceCovariance& covariance, double* forces_nc,
                                    double* loss_n, double* leverage_n) {
    if (!model_) throw std::logic_error("evaluator: forces need a model (this evaluator has only descriptors)");
    const std::size_t F = descriptors_->n_features(), Fq = model_->n_quadratic();
    covariance.check_fits(F, Fq);
    std::lock_guard<std::mutex> guard(scratch_.mutex);
    phi_.resize(n * F);
    dphi_.resize(3 * n * F);
    sweep(cell, positions_nc, species_n, n, method, [&](std::size_t i, ThreadScratch& ts) {
        double *phi = phi_.data() + i * F, *dphi = dphi_.data() + 3 * i * F, *g = ts.model.grad.data();
        descriptors_->features_and_gradients(ts.env, ts.parts, phi, dphi);
        const double h = model_->loss_gradient(static_cast<std::size_t>(species_n[i]), phi, g);
        double fx = 0.0, fy = 0.0, fz = 0.0;
        for (std::size_t f = 0; f < F; ++f) {
            fx -= g[f] * dphi[3 * f];
            fy -= g[f] * dphi[3 * f + 1];
            fz -= g[f] * dphi[3 * f + 2];
        }
        double* force = forces_nc + 3 * i;
        force[0] = fx;
        force[1] = fy;
        force[2] = fz;
        if (loss_n) loss_n[i] = h;
    });
    covariance.leverage(phi_.data(), dphi_.data(), species_n, n, F, Fq, leverage_n, /*float32=*/true);
}

}  // namespace mldyn
