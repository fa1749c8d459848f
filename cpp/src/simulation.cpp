#include "mldyn/simulation.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "mldyn/units.hpp"

namespace mldyn {

namespace {

// splitmix64 seeds xoshiro256**: small, portable and identical on every platform.
std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class Xoshiro256 {
public:
    explicit Xoshiro256(std::uint64_t seed) {
        for (auto& x : s_) x = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    /// Uniform in (0, 1].
    double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

double kinetic(const std::vector<double>& m, const std::vector<double>& v) {
    double twice = 0.0;
    for (std::size_t i = 0; i < m.size(); ++i)
        twice += m[i] * (v[3 * i] * v[3 * i] + v[3 * i + 1] * v[3 * i + 1] + v[3 * i + 2] * v[3 * i + 2]);
    return 0.5 * twice * units::kinetic_eV_per_amu_A2_fs2;
}

bool all_finite(const std::vector<double>& x) {
    for (double v : x)
        if (!std::isfinite(v)) return false;
    return true;
}

}  // namespace

std::vector<double> maxwell_boltzmann(const std::vector<double>& masses_n, double temperature, std::uint64_t seed,
                                      bool rescale) {
    if (!std::isfinite(temperature) || temperature < 0.0)
        throw std::invalid_argument("maxwell_boltzmann: temperature must be finite and >= 0 K");
    const std::size_t n = masses_n.size();
    for (double m : masses_n)
        if (!std::isfinite(m) || !(m > 0.0)) throw std::invalid_argument("maxwell_boltzmann: masses must be > 0 amu");
    Xoshiro256 rng(seed);
    std::vector<double> v(3 * n);
    const double kT = units::kB_eV_per_K * temperature;
    for (std::size_t i = 0; i < n; ++i) {
        const double sigma = std::sqrt(kT / masses_n[i] * units::accel_per_force_over_mass);
        for (int c = 0; c < 3; c += 1) {
            // Box–Muller, one normal per pair of uniforms (simple and reproducible).
            const double u1 = rng.uniform(), u2 = rng.uniform();
            v[3 * i + c] = sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
        }
    }
    double mtot = 0.0, p[3] = {0, 0, 0};
    for (std::size_t i = 0; i < n; ++i) {
        mtot += masses_n[i];
        for (int c = 0; c < 3; ++c) p[c] += masses_n[i] * v[3 * i + c];
    }
    if (n > 0)
        for (std::size_t i = 0; i < n; ++i)
            for (int c = 0; c < 3; ++c) v[3 * i + c] -= p[c] / mtot;
    if (rescale && n > 1 && temperature > 0.0) {
        const double ndof = 3.0 * static_cast<double>(n) - 3.0;
        const double t_now = 2.0 * kinetic(masses_n, v) / (ndof * units::kB_eV_per_K);
        const double f = std::sqrt(temperature / t_now);
        for (double& x : v) x *= f;
    }
    return v;
}

Simulation::Simulation(std::shared_ptr<const AgentLossModel> model, Cell cell, std::vector<int> species_n, std::vector<double> masses_n,
                       std::vector<double> positions_nc, std::vector<double> velocities_nc, double dt,
                       NeighbourMethod method)
    : evaluator_(std::move(model)), cell_(std::move(cell)), species_(std::move(species_n)), m_(std::move(masses_n)),
      q_(std::move(positions_nc)), v_(std::move(velocities_nc)), dt_(dt), method_(method) {
    const std::size_t n = species_.size();
    if (m_.size() != n) throw std::invalid_argument("simulation: masses must have one entry per atom");
    if (q_.size() != 3 * n || v_.size() != 3 * n)
        throw std::invalid_argument("simulation: positions and velocities must be n x 3");
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(m_[i]) || !(m_[i] > 0.0)) {
            std::ostringstream msg;
            msg << "simulation: mass of atom " << i << " must be positive (amu), got " << m_[i];
            throw std::invalid_argument(msg.str());
        }
    if (!std::isfinite(dt) || !(dt > 0.0)) throw std::invalid_argument("simulation: time step dt must be > 0 fs");
    if (!all_finite(v_)) throw std::invalid_argument("simulation: velocities must be finite (Å/fs)");
    ndof_ = n > 1 ? 3.0 * static_cast<double>(n) - 3.0 : 3.0;
    f_.assign(3 * n, 0.0);
    loss_.assign(n, 0.0);
    compute_forces();
}

void Simulation::set_nose_hoover(const NoseHooverParams& p) {
    if (!std::isfinite(p.temperature) || !(p.temperature > 0.0))
        throw std::invalid_argument("simulation: Nosé–Hoover target temperature must be > 0 K");
    if (!std::isfinite(p.tdamp) || !(p.tdamp > 0.0))
        throw std::invalid_argument("simulation: Nosé–Hoover damping time must be > 0 fs");
    if (p.chain < 1) throw std::invalid_argument("simulation: Nosé–Hoover chain length must be >= 1");
    nh_ = p;
    nvt_ = true;
    tau_ = std::numeric_limits<double>::infinity();
    const std::size_t groups = p.per_species ? static_cast<std::size_t>(model().n_species()) : 1;
    std::vector<double> count(groups, 0.0);
    for (std::size_t i = 0; i < species_.size(); ++i) count[thermostat_group(i)] += 1.0;
    group_ndof_.resize(groups);
    for (std::size_t g = 0; g < groups; ++g) group_ndof_[g] = ndof_ * count[g] / static_cast<double>(species_.size());
    eta_.assign(groups * static_cast<std::size_t>(p.chain), 0.0);
    veta_.assign(groups * static_cast<std::size_t>(p.chain), 0.0);
}

void Simulation::set_nve() {
    nvt_ = false;
    eta_.clear();
    veta_.clear();
    tau_ = std::numeric_limits<double>::infinity();
}

void Simulation::set_learning(double tau) {
    if (!(tau > 0.0) || std::isnan(tau))
        throw std::invalid_argument("simulation: learning memory time tau must be > 0 fs");
    set_nve();
    tau_ = tau;
}

void Simulation::set_max_displacement(double limit) {
    if (std::isnan(limit)) throw std::invalid_argument("simulation: max displacement must be a number (Å)");
    max_displacement_ = limit > 0.0 ? limit : 0.0;
}

void Simulation::set_force_cap(double cap) {
    if (std::isnan(cap)) throw std::invalid_argument("simulation: force cap must be a number (eV/Å)");
    force_cap_ = cap > 0.0 ? cap : 0.0;
    compute_forces();  // the current forces (used by the next half kick) obey the new cap
}

void Simulation::set_contact_limits(const std::vector<double>& limits_ss) {
    const std::size_t S = static_cast<std::size_t>(model().n_species());
    if (!limits_ss.empty() && limits_ss.size() != S * S)
        throw std::invalid_argument("simulation: contact limits must be n_species x n_species (Å)");
    for (double x : limits_ss)
        if (std::isnan(x)) throw std::invalid_argument("simulation: contact limits must be numbers (Å)");
    contact_limit_ = limits_ss;
}

double Simulation::closest(int s, int a, std::size_t* i, std::size_t* j) const {
    const std::size_t S = static_cast<std::size_t>(model().n_species());
    if (s < 0 || a < 0 || static_cast<std::size_t>(s) >= S || static_cast<std::size_t>(a) >= S)
        throw std::invalid_argument("simulation: species out of range");
    // (s, a) and (a, s) are the same pairs seen from either side; take the closer.
    const auto& c = evaluator_.closest();
    const Evaluator::Contact& x = c[static_cast<std::size_t>(s) * S + static_cast<std::size_t>(a)];
    const Evaluator::Contact& y = c[static_cast<std::size_t>(a) * S + static_cast<std::size_t>(s)];
    const bool first = x.r <= y.r;
    const Evaluator::Contact& best = first ? x : y;
    if (i && j && std::isfinite(best.r)) {
        // The agent was recorded; its partner is its nearest atom of the other species.
        const std::size_t agent = best.agent;
        const int other = first ? a : s;
        double r2min = std::numeric_limits<double>::infinity();
        std::size_t partner = agent;
        for (std::size_t k = 0; k < species_.size(); ++k) {
            if (k == agent || species_[k] != other) continue;
            Vec3 d{q_[3 * k] - q_[3 * agent], q_[3 * k + 1] - q_[3 * agent + 1], q_[3 * k + 2] - q_[3 * agent + 2]};
            d = cell_.minimum_image(d, 2.0 * best.r + 1.0);
            const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            if (r2 < r2min) { r2min = r2; partner = k; }
        }
        *i = first ? agent : partner;
        *j = first ? partner : agent;
    }
    return best.r;
}

void Simulation::set_chain_state(const std::vector<double>& eta, const std::vector<double>& veta) {
    if (!nvt_)
        throw std::invalid_argument("simulation: chain state given, but the simulation has no Nosé–Hoover thermostat");
    if (eta.size() != eta_.size() || veta.size() != veta_.size())
        throw std::invalid_argument("simulation: chain state of " + std::to_string(eta.size()) + " positions and " +
                                    std::to_string(veta.size()) + " velocities, expected " +
                                    std::to_string(eta_.size()) + " each (chain length " + std::to_string(nh_.chain) +
                                    (nh_.per_species ? " x one chain per species)" : ", one chain)"));
    eta_ = eta;
    veta_ = veta;
}

void Simulation::set_state(const std::vector<double>& positions_nc, const std::vector<double>& velocities_nc,
                           long step, double time) {
    if (positions_nc.size() != q_.size() || velocities_nc.size() != v_.size())
        throw std::invalid_argument("simulation: state arrays must be n x 3");
    q_ = positions_nc;
    v_ = velocities_nc;
    step_ = step;
    time_ = time;
    uncertainty_step_ = -1;
    compute_forces();
}

void Simulation::set_force_covariance(std::shared_ptr<const ForceCovariance> covariance) {
    if (covariance) covariance->check_fits(model().n_features(), model().n_quadratic());
    covariance_ = std::move(covariance);
    uncertainty_step_ = -1;
}

void Simulation::compute_forces(bool uncertainty, bool loss) {
    const std::size_t n = species_.size();
    if (uncertainty) {
        uncertainty_.resize(n);
        evaluator_.forces_and_leverage(cell_, q_.data(), species_.data(), n, method_, *covariance_, f_.data(),
                                       loss_.data(), uncertainty_.data());
        const std::vector<SpeciesCovariance>& sc = covariance_->species();
        for (std::size_t i = 0; i < n; ++i) {  // leverage -> sqrt(noise_variance_s h); NaN stays NaN
            const std::size_t s = static_cast<std::size_t>(species_[i]);
            const double noise = s < sc.size() ? sc[s].noise_variance : std::numeric_limits<double>::quiet_NaN();
            uncertainty_[i] = std::sqrt(noise * uncertainty_[i]);
        }
    } else {
        evaluator_.forces(cell_, q_.data(), species_.data(), n, method_, f_.data(), loss ? loss_.data() : nullptr);
    }
    loss_current_ = loss || uncertainty;
    if (force_cap_ > 0.0) {
        for (std::size_t i = 0; i < n; ++i) {
            double* f = f_.data() + 3 * i;
            const double norm = std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
            if (norm > force_cap_) {
                const double s = force_cap_ / norm;
                f[0] *= s; f[1] *= s; f[2] *= s;
                ++clipped_total_;
            }
        }
    }
}

std::vector<double> Simulation::chain_masses(std::size_t group) const {
    const double kT = units::kB_eV_per_K * nh_.temperature;
    std::vector<double> Q(static_cast<std::size_t>(nh_.chain), kT * nh_.tdamp * nh_.tdamp);
    Q[0] *= group_ndof_[group];
    return Q;
}

void Simulation::chain_half_step(double h) {
    const std::size_t M = static_cast<std::size_t>(nh_.chain), G = group_ndof_.size();
    const double kT = units::kB_eV_per_K * nh_.temperature;
    std::vector<double> ke2(G, 0.0), scale(G, 1.0);
    for (std::size_t i = 0; i < species_.size(); ++i)
        ke2[thermostat_group(i)] += m_[i] * (v_[3 * i] * v_[3 * i] + v_[3 * i + 1] * v_[3 * i + 1] +
                                             v_[3 * i + 2] * v_[3 * i + 2]);
    for (double& x : ke2) x *= units::kinetic_eV_per_amu_A2_fs2;  // 2 x kinetic energy (eV)
    for (std::size_t g = 0; g < G; ++g) {
        if (!(group_ndof_[g] > 0.0)) continue;  // a species without atoms
        const std::vector<double> Q = chain_masses(g);
        double* eta = eta_.data() + g * M;
        double* veta = veta_.data() + g * M;
        const double nf = group_ndof_[g];
        auto force = [&](std::size_t j) {
            return j == 0 ? (ke2[g] - nf * kT) / Q[0] : (Q[j - 1] * veta[j - 1] * veta[j - 1] - kT) / Q[j];
        };
        // Trotter factorisation (Martyna, Tuckerman, Klein): chain end inwards, scale, outwards.
        veta[M - 1] += 0.5 * h * force(M - 1);
        for (std::size_t j = M - 1; j-- > 0;) {
            const double e = std::exp(-0.25 * h * veta[j + 1]);
            veta[j] = (veta[j] * e + 0.5 * h * force(j)) * e;
        }
        scale[g] = std::exp(-h * veta[0]);
        ke2[g] *= scale[g] * scale[g];
        for (std::size_t j = 0; j < M; ++j) eta[j] += h * veta[j];
        for (std::size_t j = 0; j + 1 < M; ++j) {
            const double e = std::exp(-0.25 * h * veta[j + 1]);
            veta[j] = (veta[j] * e + 0.5 * h * force(j)) * e;
        }
        veta[M - 1] += 0.5 * h * force(M - 1);
    }
    for (std::size_t i = 0; i < species_.size(); ++i) {
        const double s = scale[thermostat_group(i)];
        v_[3 * i] *= s;
        v_[3 * i + 1] *= s;
        v_[3 * i + 2] *= s;
    }
}

void Recording::clear() { *this = Recording(); }

void Simulation::record(long frame_every, long thermo_every, Recording& rec) const {
    const double half_loss = [&] {
        double sum = 0.0;
        for (double h : loss_) sum += h;
        return 0.5 * sum;
    }();
    const double ke = kinetic_energy(), temp = temperature();
    if (frame_every > 0 && step_ % frame_every == 0) {
        rec.frame_step.push_back(step_);
        rec.frame_time.push_back(time_);
        rec.positions.insert(rec.positions.end(), q_.begin(), q_.end());
        rec.velocities.insert(rec.velocities.end(), v_.begin(), v_.end());
        rec.forces.insert(rec.forces.end(), f_.begin(), f_.end());
        rec.frame_half_loss.push_back(half_loss);
        rec.frame_kinetic.push_back(ke);
        rec.frame_temperature.push_back(temp);
        rec.frame_thermostat.push_back(thermostat_energy());
    }
    if (thermo_every > 0 && step_ % thermo_every == 0) {
        rec.thermo_step.push_back(step_);
        rec.thermo_time.push_back(time_);
        rec.thermo_kinetic.push_back(ke);
        rec.thermo_temperature.push_back(temp);
        rec.thermo_half_loss.push_back(half_loss);
        rec.thermo_mean_loss.push_back(loss_.empty() ? 0.0 : 2.0 * half_loss / static_cast<double>(loss_.size()));
        rec.thermo_conserved.push_back(conserved_energy());
        rec.thermo_clipped.push_back(clipped_total_);
        const int S = model().n_species();
        for (int s = 0; s < S; ++s)
            for (int a = s; a < S; ++a) rec.thermo_closest.push_back(closest(s, a));
        {  // a row every time, NaN and -1 when not evaluated: the columns stay aligned with thermo_step
            double largest = std::numeric_limits<double>::quiet_NaN();
            long atom = -1;
            if (covariance_ && uncertainty_step_ == step_)
                for (std::size_t i = 0; i < uncertainty_.size(); ++i)
                    if (uncertainty_[i] > largest || (atom < 0 && !std::isnan(uncertainty_[i]))) {
                        largest = uncertainty_[i];
                        atom = static_cast<long>(i);
                    }
            rec.thermo_uncertainty.push_back(largest);
            rec.thermo_uncertain_atom.push_back(atom);
        }
    }
}

void Simulation::run(long n_steps, long frame_every, long thermo_every, Recording* rec) {
    if (frame_every < 0 || thermo_every < 0) throw std::invalid_argument("simulation: recording intervals must be >= 0");
    if (n_steps < 0) throw std::invalid_argument("simulation: number of steps must be >= 0");
    const std::size_t n = species_.size();
    std::vector<double> inv_m(n);
    for (std::size_t i = 0; i < n; ++i) inv_m[i] = units::accel_per_force_over_mass / m_[i];
    const double half = 0.5 * dt_;
    const bool learning = std::isfinite(tau_);
    const double friction = learning ? std::exp(-half / tau_) : 1.0;  // exact decay of v over dt/2
    const double max_step2 = max_displacement_ * max_displacement_;
    // The state before each step, to restore if the step fails (assignment reuses the buffers).
    std::vector<double> q0, v0, f0, l0, e0, ve0;
    for (long s = 0; s < n_steps; ++s) {
        q0 = q_; v0 = v_; f0 = f_; l0 = loss_; e0 = eta_; ve0 = veta_;
        // the uncertainty of a thermo row's configuration comes with the forces of the step to it
        const bool uncertainty = covariance_ && rec && thermo_every > 0 && (step_ + 1) % thermo_every == 0;
        const bool recorded = rec && ((frame_every > 0 && (step_ + 1) % frame_every == 0) ||
                                      (thermo_every > 0 && (step_ + 1) % thermo_every == 0));
        const bool loss0 = loss_current_;
        const long clipped0 = clipped_total_;
        if (nvt_) chain_half_step(half);
        if (learning)
            for (double& x : v_) x *= friction;
        double moved2 = 0.0;
        std::size_t fastest = 0;
        for (std::size_t i = 0; i < n; ++i) {
            double d2 = 0.0;
            for (int c = 0; c < 3; ++c) {
                v_[3 * i + c] += half * f_[3 * i + c] * inv_m[i];
                const double dq = dt_ * v_[3 * i + c];
                q_[3 * i + c] += dq;
                d2 += dq * dq;
            }
            if (d2 > moved2) { moved2 = d2; fastest = i; }
        }
        std::string problem;
        if (!all_finite(q_)) {
            problem = "positions became NaN or inf";
        } else if (max_step2 > 0.0 && moved2 > max_step2) {
            std::ostringstream why;
            why << "atom " << fastest << " moved " << std::sqrt(moved2) << " Å in one step, more than the limit of "
                << max_displacement_ << " Å";
            problem = why.str();
        } else {
            try {
                compute_forces(uncertainty, recorded || s + 1 == n_steps);
                if (!all_finite(f_)) problem = "forces became NaN or inf";
                else problem = contact_problem();
            } catch (const std::invalid_argument& e) {
                problem = e.what();  // e.g. two atoms on top of each other
            }
        }
        if (!problem.empty()) {
            q_ = q0; v_ = v0; f_ = f0; loss_ = l0; eta_ = e0; veta_ = ve0;
            clipped_total_ = clipped0;
            loss_current_ = loss0;
            if (!loss_current_) {  // the kept state's losses were skipped: evaluate them (forces aside)
                std::vector<double> forces(f_.size());
                evaluator_.forces(cell_, q_.data(), species_.data(), n, method_, forces.data(), loss_.data());
                loss_current_ = true;
            }
            if (uncertainty) uncertainty_step_ = -1;  // uncertainty_ holds the refused positions' values
            std::ostringstream msg;
            msg << "simulation: step " << step_ + 1 << " failed (" << problem << "); the state is kept at step "
                << step_;
            throw std::runtime_error(msg.str());
        }
        for (std::size_t i = 0; i < n; ++i)
            for (int c = 0; c < 3; ++c) v_[3 * i + c] += half * f_[3 * i + c] * inv_m[i];
        if (learning)
            for (double& x : v_) x *= friction;
        if (nvt_) chain_half_step(half);
        ++step_;
        time_ += dt_;
        if (uncertainty) uncertainty_step_ = step_;
        if (rec) record(frame_every, thermo_every, *rec);
    }
}

std::string Simulation::contact_problem() const {
    if (contact_limit_.empty()) return {};
    const int S = model().n_species();
    for (int s = 0; s < S; ++s)
        for (int a = s; a < S; ++a) {
            const double limit = std::min(contact_limit_[static_cast<std::size_t>(s * S + a)],
                                          contact_limit_[static_cast<std::size_t>(a * S + s)]);
            if (!(limit > 0.0)) continue;
            std::size_t i = 0, j = 0;
            const double r = closest(s, a, &i, &j);
            if (r < limit) {
                std::ostringstream why;
                why.precision(4);
                why << "atoms " << i << " and " << j << " (species " << s << " and " << a << ") came " << r
                    << " Å apart, closer than the contact limit " << limit << " Å";
                return why.str();
            }
        }
    return {};
}

double Simulation::kinetic_energy() const { return kinetic(m_, v_); }

double Simulation::temperature() const { return 2.0 * kinetic_energy() / (ndof_ * units::kB_eV_per_K); }

double Simulation::potential_energy() const {
    if (!model().conservative()) return std::numeric_limits<double>::quiet_NaN();
    double sum = 0.0;
    for (double h : loss_) sum += h;
    return 0.5 * sum;
}

double Simulation::thermostat_energy() const {
    if (!nvt_) return 0.0;
    const double kT = units::kB_eV_per_K * nh_.temperature;
    const std::size_t M = static_cast<std::size_t>(nh_.chain);
    double e = 0.0;
    for (std::size_t g = 0; g < group_ndof_.size(); ++g) {
        const std::vector<double> Q = chain_masses(g);
        e += group_ndof_[g] * kT * eta_[g * M];
        for (std::size_t j = 0; j < M; ++j) {
            e += 0.5 * Q[j] * veta_[g * M + j] * veta_[g * M + j];
            if (j > 0) e += kT * eta_[g * M + j];
        }
    }
    return e;
}

double Simulation::conserved_energy() const {
    if (std::isfinite(tau_)) return std::numeric_limits<double>::quiet_NaN();
    return kinetic_energy() + potential_energy() + thermostat_energy();
}

}  // namespace mldyn
