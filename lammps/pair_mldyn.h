/* -*- c++ -*- ----------------------------------------------------------
   pair_style mldyn: the mldyn agent-loss model (Molecular Learning Dynamics) in LAMMPS.

   For an owned atom k of species s, with invariants
     phi_k[a*M+m] = sum_{i of species a, r_ki < r_cut} w_m(r_ki) S(r_ki)
   the loss is H_k = A_s.phi_k + 1/2 phi_k.B_s.phi_k and the force is
     F_k = -(A_s + B_s phi_k) . d phi_k / d q_k        (only q_k is differentiated).
   Forces are not the gradient of a global energy and do not obey Newton's third law, so
   each owned atom's force is computed from its own full neighbour list and nothing is
   written to ghost atoms.

   Energy: eng_vdwl (and per-atom energy) accumulate 1/2 sum_k H_k. This is the total
   energy only for conservative models (B = 0, A symmetric in the species pair); for a
   general agent model it is a diagnostic, NOT a conserved quantity.
   Virial: not computed (left zero), so pressure contains only the kinetic part; do not
   use barostats with this pair style.
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

#include "pair.h"

namespace mldyn {
class Basis;
}
namespace mldyn_lammps {
struct ModelData;
}

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
  std::unique_ptr<mldyn_lammps::ModelData> model_;
  std::unique_ptr<mldyn::Basis> basis_;
  std::string model_file_;
  double cutoff_override_;    // pair_style mldyn <cutoff>: used when the model has r_cut null
  double cut_;                // cutoff in use (Å)
  std::vector<int> species_of_type_;    // LAMMPS type (1..ntypes) -> model species, -1 = NULL
  // per-atom scratch
  std::vector<double> phi_, grad_, w_, dw_, nbr_dw_, nbr_del_;
  std::vector<int> nbr_species_;
  void allocate();
  double cell_half_width() const;
};

}    // namespace LAMMPS_NS

#endif
#endif
