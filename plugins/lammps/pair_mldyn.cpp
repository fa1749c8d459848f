/* pair_style mldyn: see pair_mldyn.h. */
#include "pair_mldyn.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include "mldyn/cell.hpp"

using namespace LAMMPS_NS;

PairMLDyn::PairMLDyn(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
  cutoff_override_ = 0.0;
  cut_ = 0.0;
}

PairMLDyn::~PairMLDyn()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMLDyn::allocate()
{
  allocated = 1;
  int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; i++)
    for (int j = i; j <= n; j++) setflag[i][j] = 0;
}

/* pair_style mldyn [cutoff]: the optional cutoff (Å) is used only for model files whose
   descriptors have "r_cut": null; otherwise such models take half the smallest perpendicular
   width of the periodic box, as mldyn itself does. */
void PairMLDyn::settings(int narg, char **arg)
{
  if (narg > 1) error->all(FLERR, "Illegal pair_style mldyn command: expected 'pair_style mldyn [cutoff]'");
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "pair_style mldyn requires 'units metal' (the model is in Å and eV), not 'units {}'",
               update->unit_style);
  cutoff_override_ = 0.0;
  if (narg == 1) {
    cutoff_override_ = utils::numeric(FLERR, arg[0], false, lmp);
    if (!(cutoff_override_ > 0.0)) error->all(FLERR, "pair_style mldyn cutoff must be positive");
  }
}

/* pair_coeff * * model.json O H ... : one model species name (or NULL) per atom type */
void PairMLDyn::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "Incorrect args for pair coefficients: expected 'pair_coeff * * model.json' and {} species names",
               ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for pair_style mldyn must be 'pair_coeff * * model.json ...'");

  try {
    definition_ = std::make_unique<mldyn::ModelDefinition>(mldyn::read_model_file(arg[2]));
  } catch (const std::exception &e) {
    error->all(FLERR, "pair_style mldyn: {}", e.what());
  }
  model_file_ = arg[2];
  model_.reset();

  species_of_type_.assign(ntypes + 1, -1);
  const auto &names = definition_->species();
  for (int t = 1; t <= ntypes; t++) {
    const char *name = arg[2 + t];
    if (strcmp(name, "NULL") == 0) continue;
    for (std::size_t s = 0; s < names.size(); s++)
      if (names[s] == name) species_of_type_[t] = static_cast<int>(s);
    if (species_of_type_[t] < 0)
      error->all(FLERR, "pair_style mldyn: species '{}' is not in model file {}", name, model_file_);
  }

  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      setflag[i][j] = species_of_type_[i] >= 0 && species_of_type_[j] >= 0;
      count += setflag[i][j];
    }
  if (count == 0) error->all(FLERR, "Incorrect args for pair coefficients: no atom type mapped to a model species");
}

/* The cutoff for r_cut null: pair_style's, or half the smallest perpendicular width of a
   periodic box (mldyn::Cell::max_cutoff, the one rule). */
double PairMLDyn::default_cutoff() const
{
  if (cutoff_override_ > 0.0) return cutoff_override_;
  if (!(domain->xperiodic && domain->yperiodic && domain->zperiodic))
    error->all(FLERR, "pair_style mldyn: model {} has r_cut null (half the smallest cell width) but the box is not "
                      "periodic in x, y and z; give the cutoff as 'pair_style mldyn <cutoff>'", model_file_);
  const double *h = domain->h;    // xprd, yprd, zprd, yz, xz, xy: rows a, b, c of the cell
  const mldyn::Cell cell({mldyn::Vec3{h[0], 0.0, 0.0}, mldyn::Vec3{h[5], h[1], 0.0}, mldyn::Vec3{h[4], h[3], h[2]}});
  return cell.max_cutoff();
}

void PairMLDyn::init_style()
{
  if (!definition_) error->all(FLERR, "pair_style mldyn: pair_coeff * * model.json ... has not been given");
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style mldyn requires atom IDs");
  neighbor->add_request(this, NeighConst::REQ_FULL);

  const double rc = definition_->cutoff_from_cell() ? default_cutoff() : 0.0;
  if (!model_ || (definition_->cutoff_from_cell() && rc != cut_)) {
    try {
      model_ = definition_->build(rc);
    } catch (const std::exception &e) {
      error->all(FLERR, "pair_style mldyn: model {}: {}", model_file_, e.what());
    }
    if (definition_->cutoff_from_cell() && comm->me == 0)
      utils::logmesg(lmp, "pair_style mldyn: model r_cut is null; using {:.10g} A (fixed for this run)\n", rc);
  }
  cut_ = model_->cutoff();
  scratch_ = std::make_unique<mldyn::AgentLossModel::Scratch>(model_->make_scratch());
  const std::size_t S = static_cast<std::size_t>(model_->n_species());
  env_ = mldyn::AgentEnvironment(S);
  dx_.assign(S, {});
  dy_.assign(S, {});
  dz_.assign(S, {});
  r2_.assign(S, {});
  phi_.assign(model_->n_features(), 0.0);
}

double PairMLDyn::init_one(int, int)
{
  return cut_;    // types mapped to NULL too, so that neighbour lists stay consistent
}

void PairMLDyn::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  double **x = atom->x;
  double **f = atom->f;
  const int *type = atom->type;
  const int inum = list->inum;
  const int *ilist = list->ilist;
  const int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  const std::size_t S = dx_.size();
  const double cutsq = cut_ * cut_;

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int si = species_of_type_[type[i]];
    if (si < 0) continue;
    // The environment of atom i: separations q_j - q_i of its neighbours, by species.
    for (std::size_t a = 0; a < S; a++) {
      dx_[a].clear();
      dy_[a].clear();
      dz_[a].clear();
      r2_[a].clear();
    }
    const int *jlist = firstneigh[i];
    for (int jj = 0; jj < numneigh[i]; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const int sj = species_of_type_[type[j]];
      if (sj < 0) continue;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      dx_[sj].push_back(dx);
      dy_[sj].push_back(dy);
      dz_[sj].push_back(dz);
      r2_[sj].push_back(dx * dx + dy * dy + dz * dz);
    }
    for (std::size_t a = 0; a < S; a++)
      if (!env_.set_species(a, dx_[a].data(), dy_[a].data(), dz_[a].data(), r2_[a].data(), r2_[a].size(), cutsq))
        error->one(FLERR, "pair_style mldyn: atom {} has a neighbour at distance 0", atom->tag[i]);
    double force[3];
    // the loss only where LAMMPS wants energies (a linear model's force does not need it)
    const double H = model_->agent_force(static_cast<std::size_t>(si), env_, *scratch_, phi_.data(), force, eflag != 0);
    f[i][0] += force[0];
    f[i][1] += force[1];
    f[i][2] += force[2];
    if (eflag) {
      if (eflag_global) eng_vdwl += 0.5 * H;
      if (eflag_atom) eatom[i] += 0.5 * H;
    }
  }
  // virial intentionally not computed (see pair_mldyn.h)
}

double PairMLDyn::memory_usage()
{
  double bytes = Pair::memory_usage();
  for (std::size_t a = 0; a < r2_.size(); a++) bytes += 4.0 * sizeof(double) * r2_[a].capacity();
  if (model_) bytes += sizeof(double) * (model_->A().size() + model_->B().size());
  return bytes;
}
