#include <pybind11/stl.h>

#include "common.hpp"
#include "mldyn/simulation.hpp"

using namespace mldyn;
using namespace mldyn::bindings;

void export_simulation(py::module_& m) {
    m.def("maxwell_boltzmann",
          [](const DoubleArray& masses, double temperature, std::uint64_t seed, bool rescale) {
              if (masses.ndim() != 1) throw std::invalid_argument("masses must have shape (n_atoms,)");
              const auto v = maxwell_boltzmann(to_vector(masses), temperature, seed, rescale);
              return to_array(v, {masses.shape(0), 3});
          },
          py::arg("masses"), py::arg("temperature"), py::arg("seed"), py::arg("rescale") = true);

    py::class_<NoseHooverParams>(m, "NoseHooverParams")
        .def(py::init([](double t, double tdamp, int chain, bool per_species) {
                 return NoseHooverParams{t, tdamp, chain, per_species};
             }),
             py::arg("temperature"), py::arg("tdamp"), py::arg("chain") = 3, py::arg("per_species") = false)
        .def_readonly("temperature", &NoseHooverParams::temperature)
        .def_readonly("tdamp", &NoseHooverParams::tdamp)
        .def_readonly("chain", &NoseHooverParams::chain)
        .def_readonly("per_species", &NoseHooverParams::per_species);

    auto vec_nc = [](const std::vector<double>& v) { return to_array(v, {static_cast<py::ssize_t>(v.size() / 3), 3}); };
    py::class_<Simulation>(m, "Simulation")
        .def(py::init([](std::shared_ptr<AgentLossModel> model, Cell cell, const IntArray& species, const DoubleArray& masses,
                         const DoubleArray& positions, const DoubleArray& velocities, double dt,
                         const std::string& method) {
                 const std::size_t n = check_nc(positions, "positions");
                 check_nc(velocities, "velocities");
                 if (static_cast<std::size_t>(velocities.shape(0)) != n)
                     throw std::invalid_argument("velocities must have the same shape as positions");
                 check_n(species, n, "species");
                 check_n(masses, n, "masses");
                 py::gil_scoped_release release;
                 return Simulation(std::move(model), std::move(cell), to_vector(species), to_vector(masses),
                                   to_vector(positions), to_vector(velocities), dt, parse_neighbour_method(method));
             }),
             py::arg("model"), py::arg("cell"), py::arg("species"), py::arg("masses"), py::arg("positions"),
             py::arg("velocities"), py::arg("dt"), py::arg("method") = "auto")
        .def("set_nose_hoover", &Simulation::set_nose_hoover, py::arg("params"))
        .def("set_nve", &Simulation::set_nve)
        .def("set_learning", &Simulation::set_learning, py::arg("tau"))
        .def("set_max_displacement", &Simulation::set_max_displacement, py::arg("limit"))
        .def_property_readonly("tau", &Simulation::tau)
        .def("set_skin", &Simulation::set_skin, py::arg("skin"))
        .def_property_readonly("neighbour_list_builds",
                               &Simulation::neighbour_list_builds)
        .def("set_force_cap", &Simulation::set_force_cap, py::arg("cap"))
        .def("set_force_covariance",
             [](Simulation& s, std::shared_ptr<ForceCovariance> c) { s.set_force_covariance(std::move(c)); },
             py::arg("covariance").none(true),
             "Record the largest per-agent force uncertainty (eV/Å) at every thermo row (None: stop).")
        .def("set_contact_limits",
             [](Simulation& s, const DoubleArray& limits) { s.set_contact_limits(to_vector(limits)); },
             py::arg("limits"), "Contact limits (S, S) in Å; a step bringing atoms closer fails (<= 0: no check).")
        .def("closest", [](const Simulation& s, int a, int b) {
                 std::size_t i = 0, j = 0;
                 const double r = s.closest(a, b, &i, &j);
                 return py::make_tuple(r, i, j);
             },
             py::arg("a"), py::arg("b"), "(r in Å, atom of species a, atom of species b): the closest such pair now.")
        .def("run",
             [](Simulation& s, long n_steps, long frame_every, long thermo_every) {
                 Recording rec;
                 std::string error;
                 {
                     py::gil_scoped_release release;
                     try {
                         s.run(n_steps, frame_every, thermo_every, &rec);
                     } catch (const std::runtime_error& e) {
                         error = e.what();
                     }
                 }
                 const py::ssize_t n = static_cast<py::ssize_t>(s.n_atoms());
                 const py::ssize_t nf = static_cast<py::ssize_t>(rec.frame_step.size());
                 py::dict frames, thermo;
                 frames["step"] = to_array(rec.frame_step, {nf});
                 frames["time"] = to_array(rec.frame_time, {nf});
                 frames["positions"] = to_array(rec.positions, {nf, n, 3});
                 frames["velocities"] = to_array(rec.velocities, {nf, n, 3});
                 frames["forces"] = to_array(rec.forces, {nf, n, 3});
                 frames["half_loss"] = to_array(rec.frame_half_loss, {nf});
                 frames["kinetic"] = to_array(rec.frame_kinetic, {nf});
                 frames["temperature"] = to_array(rec.frame_temperature, {nf});
                 frames["thermostat"] = to_array(rec.frame_thermostat, {nf});
                 const py::ssize_t nt = static_cast<py::ssize_t>(rec.thermo_step.size());
                 thermo["step"] = to_array(rec.thermo_step, {nt});
                 thermo["time"] = to_array(rec.thermo_time, {nt});
                 thermo["kinetic"] = to_array(rec.thermo_kinetic, {nt});
                 thermo["temperature"] = to_array(rec.thermo_temperature, {nt});
                 thermo["half_loss"] = to_array(rec.thermo_half_loss, {nt});
                 thermo["mean_loss"] = to_array(rec.thermo_mean_loss, {nt});
                 thermo["conserved"] = to_array(rec.thermo_conserved, {nt});
                 thermo["clipped"] = to_array(rec.thermo_clipped, {nt});
                 const py::ssize_t S = s.model().n_species();
                 thermo["closest"] = to_array(rec.thermo_closest, {nt, S * (S + 1) / 2});
                 if (s.tracks_uncertainty()) {
                     thermo["uncertainty"] = to_array(rec.thermo_uncertainty, {nt});
                     thermo["uncertain_atom"] = to_array(rec.thermo_uncertain_atom, {nt});
                 }
                 return py::make_tuple(frames, thermo, error.empty() ? py::object(py::none()) : py::str(error));
             },
             py::arg("n_steps"), py::arg("frame_every") = 0, py::arg("thermo_every") = 0,
             "Advance n_steps; returns (frames, thermo, error): what was recorded every frame_every / "
             "thermo_every steps (dicts of arrays) and the failure message or None (the state is then at "
             "the last good step).")
        .def_property_readonly("n_atoms", &Simulation::n_atoms)
        .def_property_readonly("dt", &Simulation::dt)
        .def_property_readonly("step", &Simulation::step)
        .def_property_readonly("time", &Simulation::time)
        .def_property_readonly("positions", [vec_nc](const Simulation& s) { return vec_nc(s.positions()); })
        .def_property_readonly("velocities", [vec_nc](const Simulation& s) { return vec_nc(s.velocities()); })
        .def_property_readonly("forces", [vec_nc](const Simulation& s) { return vec_nc(s.forces()); })
        .def_property_readonly("losses", [](const Simulation& s) { return to_array(s.losses(), {static_cast<py::ssize_t>(s.n_atoms())}); })
        .def_property_readonly("masses", [](const Simulation& s) { return to_array(s.masses(), {static_cast<py::ssize_t>(s.n_atoms())}); })
        .def_property_readonly("kinetic_energy", &Simulation::kinetic_energy)
        .def_property_readonly("temperature", &Simulation::temperature)
        .def_property_readonly("potential_energy", &Simulation::potential_energy)
        .def_property_readonly("conserved_energy", &Simulation::conserved_energy)
        .def_property_readonly("thermostat_energy", &Simulation::thermostat_energy)
        .def_property_readonly("clipped_count", &Simulation::clipped_count)
        .def_property_readonly("degrees_of_freedom", &Simulation::degrees_of_freedom)
        .def_property_readonly("thermostatted", &Simulation::thermostatted)
        .def_property_readonly("chain_positions", &Simulation::chain_positions)
        .def_property_readonly("chain_velocities", &Simulation::chain_velocities)
        .def("set_chain_state", &Simulation::set_chain_state, py::arg("eta"), py::arg("v_eta"))
        .def("set_state",
             [](Simulation& s, const DoubleArray& q, const DoubleArray& v, long step, double time) {
                 check_nc(q, "positions");
                 check_nc(v, "velocities");
                 s.set_state(to_vector(q), to_vector(v), step, time);
             },
             py::arg("positions"), py::arg("velocities"), py::arg("step"), py::arg("time"))
        .def("set_clipped_count", &Simulation::set_clipped_count, py::arg("count"));
}
