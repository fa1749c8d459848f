#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mldyn/evaluator.hpp"
#include "mldyn/model.hpp"

namespace mldyn {

/// Maxwell–Boltzmann velocities (n x 3, Å/fs) at `temperature` (K) for `masses_n` (amu),
/// from a portable generator seeded by `seed` (same numbers on every platform).
/// Centre-of-mass motion is removed; if `rescale` the kinetic energy is then scaled
/// so the instantaneous temperature (3n - 3 degrees of freedom) is exactly `temperature`.
std::vector<double> maxwell_boltzmann(const std::vector<double>& masses_n, double temperature,
                                      std::uint64_t seed, bool rescale);

/// What `Simulation::run` recorded on the way, so that output needs no Python in the loop.
/// Frames (every `frame_every` steps): step, time (fs), positions and velocities and forces
/// (each n x 3, Å, Å/fs, eV/Å, appended frame after frame), 1/2 sum_k H_k (eV), kinetic
/// energy (eV), temperature (K), thermostat energy (eV). Thermo rows (every `thermo_every`
/// steps): step, time, kinetic, temperature, 1/2 sum H, mean H, conserved (NaN if none), clipped so far,
/// and the closest distance (Å) of every species pair a <= b (S (S + 1) / 2 per row, pairs in
/// row-major upper-triangle order; +inf when no such pair is within the cutoff).
struct Recording {
    std::vector<long> frame_step;
    std::vector<double> frame_time, positions, velocities, forces, frame_half_loss, frame_kinetic,
        frame_temperature, frame_thermostat;
    std::vector<long> thermo_step, thermo_clipped;
    std::vector<double> thermo_time, thermo_kinetic, thermo_temperature, thermo_half_loss, thermo_mean_loss,
        thermo_conserved, thermo_closest;
    /// The largest per-agent force uncertainty (eV/Å) of each thermo row's configuration and its
    /// atom, with a force covariance (Simulation::set_force_covariance); NaN and -1 without one.
    std::vector<double> thermo_uncertainty;
    std::vector<long> thermo_uncertain_atom;
    void clear();
};

/// Nosé–Hoover chain parameters: target temperature (K), damping time (fs), chain length (>= 1),
/// and whether each species has its own chain (holding each species' kinetic temperature at the
/// target) or one chain acts on all atoms.
struct NoseHooverParams {
    double temperature = 300.0;
    double tdamp = 50.0;
    int chain = 3;
    bool per_species = false;
};

/// Molecular dynamics with an agent-loss model.
///
/// State: positions (n x 3, Å), velocities (n x 3, Å/fs), forces (n x 3, eV/Å),
/// per-agent losses (n, eV), masses (n, amu), time (fs).
/// Ensembles:
///  - NVE: velocity Verlet.
///  - NVT: velocity Verlet inside a Nosé–Hoover chain, Trotter split
///    (chain half step, Verlet step, chain half step; as LAMMPS `fix nvt`),
///    chain masses Q_1 = N_f k_B T tdamp², Q_j = k_B T tdamp². With `per_species` every
///    species g has its own chain acting on its atoms only, with N_f,g = N_f n_g / n. Agent
///    forces are not reciprocal and move energy between species (in water, into the oxygens):
///    one chain holds the total at the target while the species drift apart (measured on
///    SPC/Fw water at 350 K: O 725 K, H 161 K); one chain per species holds each of them.
///    Scaling the species separately does not conserve the total momentum (agent forces do
///    not either); the extended energy of a conservative model is still conserved.
///  - Learning dynamics, the paper's eq. (3.4): tau q'' = -q' + (tau/M) F, i.e. the
///    force is an exponentially weighted average of the loss gradient with memory
///    time tau (fs). Integrated as velocity Verlet with the friction -q'/tau applied
///    exactly (v *= exp(-dt/(2 tau))) before the first and after the second half kick;
///    tau -> infinity is NVE, small tau is gradient descent on the agents' losses.
/// Force clipping (if `force_cap` > 0, eV/Å) rescales any |F_k| above the cap to
/// the cap before it is used, and counts the events. A step in which an atom moves
/// farther than `max_displacement` (Å, if > 0) is refused like a NaN.
class Simulation {
public:
    /// Throws std::invalid_argument on inconsistent sizes, non-positive masses or
    /// time step, non-finite inputs, or an invalid configuration.
    Simulation(std::shared_ptr<const AgentLossModel> model, Cell cell, std::vector<int> species_n, std::vector<double> masses_n,
               std::vector<double> positions_nc, std::vector<double> velocities_nc, double dt,
               NeighbourMethod method);

    /// Switch to NVT with a Nosé–Hoover chain; throws on bad parameters.
    void set_nose_hoover(const NoseHooverParams& p);
    /// Switch to learning dynamics with memory time `tau` (fs, > 0); no thermostat.
    void set_learning(double tau);
    /// Back to NVE.
    void set_nve();
    /// Largest distance (Å) an atom may move in one step; <= 0 disables the check.
    void set_max_displacement(double limit);
    /// Cap on |F| per atom (eV/Å); <= 0 disables clipping.
    void set_force_cap(double cap);
    /// Contact limits (Å), S x S row-major (symmetric in use: the smaller of (s, a) and (a, s)
    /// counts): a step that brings two atoms of species s and a closer than the limit fails like a
    /// NaN, naming the atoms. <= 0 (or an empty vector) disables the check.
    void set_contact_limits(const std::vector<double>& limits_ss);
    /// Evaluate the per-agent force uncertainty sqrt(noise_variance_s h_k) (eV/Å, see
    /// force_covariance.hpp) of every thermo row's configuration, together with the forces of the
    /// step that reaches it (Evaluator::forces_and_leverage: the forces of those steps then equal
    /// the plain ones to rounding only). Null switches it off. Throws std::invalid_argument if the
    /// covariance does not fit the model.
    void set_force_covariance(std::shared_ptr<const ForceCovariance> covariance);
    bool tracks_uncertainty() const { return covariance_ != nullptr; }
    /// Closest distance (Å) between atoms of species s and a at the current positions (+inf if
    /// none within the cutoff), and one such pair of atoms (i of species s, j of species a).
    double closest(int s, int a, std::size_t* i = nullptr, std::size_t* j = nullptr) const;

    /// Advances `n_steps` steps of `dt` fs. Throws std::runtime_error (the state
    /// is left at the last completed step) if positions become NaN or inf, a step
    /// moves an atom too far, or two atoms meet. If `rec` is given, frames are
    /// appended to it after every step that is a multiple of `frame_every` and thermo
    /// rows after multiples of `thermo_every` (0 = never); what was recorded before a
    /// failure stays in `rec`.
    void run(long n_steps, long frame_every = 0, long thermo_every = 0, Recording* rec = nullptr);

    std::size_t n_atoms() const { return species_.size(); }
    double dt() const { return dt_; }
    long step() const { return step_; }
    double time() const { return time_; }
    const std::vector<double>& positions() const { return q_; }
    const std::vector<double>& velocities() const { return v_; }
    const std::vector<double>& forces() const { return f_; }
    const std::vector<double>& losses() const { return loss_; }
    const std::vector<double>& masses() const { return m_; }
    const std::vector<int>& species() const { return species_; }
    const Cell& cell() const { return cell_; }
    const AgentLossModel& model() const { return *evaluator_.model(); }
    /// Verlet skin (Å) of the cell-list neighbour method.
    void set_skin(double skin) { evaluator_.set_skin(skin); }
    /// How many times the cell-list Verlet list was built so far.
    long neighbour_list_builds() const { return evaluator_.neighbour_list_builds(); }
    bool thermostatted() const { return nvt_; }
    /// Memory time of learning dynamics (fs), or +inf when not in that mode.
    double tau() const { return tau_; }
    const NoseHooverParams& nose_hoover() const { return nh_; }
    /// Degrees of freedom used for the temperature: 3n - 3 (3 for one atom).
    double degrees_of_freedom() const { return ndof_; }

    /// Kinetic energy (eV) and instantaneous temperature (K).
    double kinetic_energy() const;
    double temperature() const;
    /// 1/2 sum_k H_k (eV): the potential energy of a conservative model, NaN otherwise.
    double potential_energy() const;
    /// NVE: kinetic + potential; NVT: plus the chain's kinetic and potential terms.
    /// NaN when the model is not conservative (no conserved quantity exists) and
    /// for learning dynamics (which dissipates by design).
    double conserved_energy() const;
    /// Thermostat energy (eV) sum_j Q_j v_j²/2 + N_f kT eta_1 + kT sum_{j>1} eta_j (0 in NVE),
    /// summed over the chains.
    double thermostat_energy() const;
    /// Total number of clipped forces since construction (one per atom per evaluation).
    long clipped_count() const { return clipped_total_; }

    /// Chain state (positions eta and velocities v_eta in 1/fs), for checkpoints: chain after
    /// chain (one per species with `per_species`, in species order).
    const std::vector<double>& chain_positions() const { return eta_; }
    const std::vector<double>& chain_velocities() const { return veta_; }
    void set_chain_state(const std::vector<double>& eta, const std::vector<double>& veta);
    /// Overwrites the dynamical state and recomputes forces (for restarts).
    void set_state(const std::vector<double>& positions_nc, const std::vector<double>& velocities_nc,
                   long step, double time);
    void set_clipped_count(long c) { clipped_total_ = c; }

private:
    /// Forces (and, with `loss`, losses) at the current positions; with `uncertainty`, also
    /// uncertainty_ (and the losses). Without the losses a linear model's step is cheaper: `run`
    /// asks for them only on the steps it records and its last one.
    void compute_forces(bool uncertainty = false, bool loss = true);
    /// Why the current positions break a contact limit, or "" (see set_contact_limits).
    std::string contact_problem() const;
    void record(long frame_every, long thermo_every, Recording& rec) const;
    void chain_half_step(double h);
    std::vector<double> chain_masses(std::size_t group) const;
    std::size_t thermostat_group(std::size_t atom) const { return nh_.per_species ? static_cast<std::size_t>(species_[atom]) : 0; }

    Evaluator evaluator_;
    Cell cell_;
    std::vector<int> species_;
    bool loss_current_ = true;  // loss_ belongs to q_ (run skips it between outputs)
    std::vector<double> m_, q_, v_, f_, loss_;
    double dt_;
    NeighbourMethod method_;
    long step_ = 0;
    double time_ = 0.0;
    double ndof_;
    bool nvt_ = false;
    NoseHooverParams nh_;
    std::vector<double> eta_, veta_;   // chain after chain, nh_.chain entries each
    std::vector<double> group_ndof_;   // degrees of freedom of each chain's atoms
    double force_cap_ = 0.0;
    double tau_ = std::numeric_limits<double>::infinity();
    double max_displacement_ = 0.0;
    long clipped_total_ = 0;
    std::vector<double> contact_limit_;  // S x S, Å; empty: no check
    std::shared_ptr<const ForceCovariance> covariance_;
    std::vector<double> uncertainty_;    // n, eV/Å, of the positions at step uncertainty_step_
    long uncertainty_step_ = -1;
};

}  // namespace mldyn
