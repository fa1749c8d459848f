// Forces of an agent-loss model on a small periodic water box, and a few NVT steps,
// with the mldyn C++ core alone. Units: Å, fs, amu, eV.
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "mldyn/evaluator.hpp"
#include "mldyn/model.hpp"
#include "mldyn/radial_descriptor.hpp"
#include "mldyn/simulation.hpp"

int main() {
    using namespace mldyn;
    const double L = 9.8528;  // Å, 32 water molecules at 1 g/cm^3
    Cell cell({Vec3{L, 0, 0}, Vec3{0, L, 0}, Vec3{0, 0, L}});
    // 32 rigid molecules on a 4x4x2 grid (species 0 = O, 1 = H).
    std::vector<double> q;
    std::vector<int> species;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            for (int k = 0; k < 2; ++k) {
                const double x = (i + 0.5) * L / 4, y = (j + 0.5) * L / 4, z = (k + 0.5) * L / 2;
                q.insert(q.end(), {x, y, z, x + 0.757, y + 0.586, z, x - 0.757, y + 0.586, z});
                species.insert(species.end(), {0, 1, 1});
            }
    const std::size_t n = species.size();
    // One radial descriptor: 3 weight functions, cutoff 4.9 Å, switched off from 4.0 Å.
    RadialBasis basis({{WeightKind::Exponential, 1.0}, {WeightKind::Gaussian, 2.0}, {WeightKind::Power, 2.0}}, 4.9, 4.0);
    const std::size_t F = 2 * basis.size();
    std::vector<double> A(2 * F), B(2 * F * F, 0.0);
    for (std::size_t x = 0; x < A.size(); ++x) A[x] = 0.1 * std::cos(1.0 + x);
    for (std::size_t s = 0; s < 2; ++s)
        for (std::size_t e = 0; e < F; ++e)
            for (std::size_t f = 0; f < F; ++f) B[(s * F + e) * F + f] = 0.01 * std::cos(1.0 * (e + f + s));
    auto model = std::make_shared<const AgentLossModel>(
        DescriptorSet({std::make_shared<RadialDescriptor>(basis, 2)}, 2), A, B);

    std::vector<double> forces(3 * n), loss(n);
    Evaluator evaluator(model);
    evaluator.forces(cell, q.data(), species.data(), n, NeighbourMethod::Auto, forces.data(), loss.data());
    double fmax = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        fmax = std::fmax(fmax, std::sqrt(forces[3 * i] * forces[3 * i] + forces[3 * i + 1] * forces[3 * i + 1] +
                                         forces[3 * i + 2] * forces[3 * i + 2]));
    std::printf("atoms %zu max|F| %.6f eV/A force[0] %.10f %.10f %.10f\n", n, fmax, forces[0], forces[1], forces[2]);

    std::vector<double> masses(n);
    for (std::size_t i = 0; i < n; ++i) masses[i] = species[i] == 0 ? 15.9994 : 1.00794;
    Simulation sim(model, cell, species, masses, q, maxwell_boltzmann(masses, 300.0, 42, true), 0.5,
                   NeighbourMethod::Auto);
    sim.set_nose_hoover({300.0, 20.0, 1});
    sim.run(100);
    std::printf("after %ld steps: T = %.3f K\n", sim.step(), sim.temperature());
    return 0;
}
