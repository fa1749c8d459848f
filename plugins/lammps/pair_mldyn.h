/* -*- c++ -*- ----------------------------------------------------------
   pair_style mldyn: the mldyn agent-loss model (Molecular Learning Dynamics) in LAMMPS.

   An adapter, nothing more: the model file is read by the mldyn core (mldyn/model_file.hpp)
   and every owned atom's force and loss come from the core's per-agent routine
   (mldyn::AgentLossModel::agent_force), fed with the atom's environment taken from LAMMPS'
   full neighbour list (owned and ghost atoms, so no minimum image is needed here).

   Forces are not the gradient of a global energy and do not obey Newton's third law, so each
   owned atom's force is computed from its own full neighbour list and nothing is written to
   ghost atoms.

   Energy: eng_vdwl (and per-atom energy) accumulate 1/2 sum_k H_k. This is the total energy
   only for conservative models (B = 0, radial descriptors, A symmetric in the species pair);
   for a general agent model it is a diagnostic, NOT a conserved quantity.
   Virial: not computed (left zero), so pressure contains only the kinetic part; do not use
   barostats with this pair style.
------------------------------------------------------------------------- */

#ifdef PAIR_CLASS
// clang-format off
PairStyle(mldyn,PairMLDyn);
// clang-format on
#else

#ifndef LMP_PAIR_MLDYN_H
#define LMP_PAIR_MLDYN_H

#include <memory>
#include <string>
#include <vector>

#include "mldyn/environment.hpp"
#include "mldyn/model.hpp"
#include "mldyn/model_file.hpp"
#include "pair.h"

namespace LAMMPS_NS {

class PairMLDyn : public Pair {
 public:
  PairMLDyn(class LAMMPS *);
  ~PairMLDyn() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  double memory_usage() override;

 protected:
  std::unique_ptr<mldyn::ModelDefinition> definition_;    // the model file, as read by the core
  std::shared_ptr<const mldyn::AgentLossModel> model_;    // with its cutoff resolved for this run
  std::unique_ptr<mldyn::AgentLossModel::Scratch> scratch_;
  mldyn::AgentEnvironment env_;
  std::string model_file_;
  double cutoff_override_;    // pair_style mldyn <cutoff>: used when the model's r_cut is null
  double cut_;                // neighbour cutoff in use (Å)
  std::vector<int> species_of_type_;    // LAMMPS type (1..ntypes) -> model species, -1 = NULL
  std::vector<std::vector<double>> dx_, dy_, dz_, r2_;    // per species: separations of one atom's neighbours
  std::vector<double> phi_;
  void allocate();
  double default_cutoff() const;
};

}    // namespace LAMMPS_NS

#endif
#endif
