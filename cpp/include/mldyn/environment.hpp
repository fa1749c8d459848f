#pragma once
#include <cstddef>
#include <vector>

namespace mldyn {

/// The neighbours of one agent k inside a cutoff, grouped by species: what every descriptor reads.
///
/// For species a, neighbour b of `species(a)` has the unit vector u = (q_j - q_k) / r pointing from
/// the agent to the neighbour, the distance r (Å) and 1/r (1/Å), stored as a structure of arrays.
/// Each species' arrays are padded to whole SIMD blocks of 8 with u = 0 and r = 1/r = 1, so a
/// kernel may run over `padded(count)` entries: the padding adds nothing to a force (u = 0), and
/// sums of values over the padding must be masked by the kernel.
///
/// The core's neighbour search fills it (`Evaluator`); an adapter with its own neighbour list
/// (the LAMMPS plugin) fills it the same way with `set_species`.
class AgentEnvironment {
public:
    struct Neighbours {
        std::size_t count = 0;     ///< neighbours inside the cutoff
        std::size_t capacity = 0;  ///< allocated entries per array (a multiple of 8, >= count + 8)
        std::vector<double> ux, uy, uz, r, inv_r;
    };

    explicit AgentEnvironment(std::size_t n_species = 1) : species_(n_species) {}

    std::size_t n_species() const { return species_.size(); }
    const Neighbours& species(std::size_t a) const { return species_[a]; }
    /// The cutoff (Å) the neighbours were kept within (of the last `set_species`).
    double cutoff() const { return cutoff_; }

    /// The neighbours of species `a` closer than `r_cut` (Å): `species(a)` itself when the
    /// environment's cutoff is not larger, else a filtered, padded copy written to `buffer`. For
    /// descriptors with a shorter reach than the environment (the model's largest cutoff).
    const Neighbours& within(std::size_t a, double r_cut, Neighbours& buffer) const;

    /// The neighbours of species `a` from `n` candidate separations d = q_j - q_k (dx, dy, dz, Å)
    /// with squared lengths r2 (Å²): keeps, in order, those with 0 < r2 < cutoff2 and turns them
    /// into unit vectors, r and 1/r. Returns false if some candidate has r2 == 0 exactly (an atom
    /// on top of the agent; it is left out). The inputs are not modified.
    bool set_species(std::size_t a, const double* dx, const double* dy, const double* dz, const double* r2,
                     std::size_t n, double cutoff2);

private:
    std::vector<Neighbours> species_;
    double cutoff_ = 0.0;
};

}  // namespace mldyn
