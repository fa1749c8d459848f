/* pair_style mldyn: see pair_mldyn.h for the model and its conventions. */
#include "pair_mldyn.h"

#include <cmath>
#include <cstring>
#include <limits>
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

#include "json_model.h"
#include "mldyn/weights.hpp"

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
   basis has "r_cut": null; otherwise such models take half the smallest perpendicular
   width of the periodic box, as mldyn itself does. */
void PairMLDyn::settings(int narg, char **arg)
{
  if (narg > 1) error->all(FLERR, "Illegal pair_style mldyn command: expected 'pair_style mldyn [cutoff]'");
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
    model_ = std::make_unique<mldyn_lammps::ModelData>(mldyn_lammps::read_model_file(arg[2]));
  } catch (const std::exception &e) {
    error->all(FLERR, "pair_style mldyn: {}", e.what());
  }
  model_file_ = arg[2];

  species_of_type_.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const char *name = arg[2 + t];
    if (strcmp(name, "NULL") == 0) continue;
    int found = -1;
    for (std::size_t s = 0; s < model_->species.size(); s++)
      if (model_->species[s] == name) found = static_cast<int>(s);
    if (found < 0) error->all(FLERR, "pair_style mldyn: species '{}' is not in model file {}", name, model_file_);
    species_of_type_[t] = found;
  }

  int count = 0;
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) {
      setflag[i][j] = 0;
      if (species_of_type_[i] >= 0 && species_of_type_[j] >= 0) {
        setflag[i][j] = 1;
        count++;
      }
    }
  if (count == 0) error->all(FLERR, "Incorrect args for pair coefficients: no atom type mapped to a model species");
  basis_.reset();
}

double PairMLDyn::cell_half_width() const
{
  // half the smallest perpendicular width over the periodic directions
  const double *h = domain->h;    // xprd, yprd, zprd, yz, xz, xy
  const double a[3] = {h[0], 0.0, 0.0}, b[3] = {h[5], h[1], 0.0}, c[3] = {h[4], h[3], h[2]};
  auto cross = [](const double *u, const double *v, double *out) {
    out[0] = u[1] * v[2] - u[2] * v[1];
    out[1] = u[2] * v[0] - u[0] * v[2];
    out[2] = u[0] * v[1] - u[1] * v[0];
  };
  const double vol = h[0] * h[1] * h[2];
  double bc[3], ca[3], ab[3];
  cross(b, c, bc);
  cross(c, a, ca);
  cross(a, b, ab);
  const double w[3] = {vol / std::sqrt(bc[0] * bc[0] + bc[1] * bc[1] + bc[2] * bc[2]),
                       vol / std::sqrt(ca[0] * ca[0] + ca[1] * ca[1] + ca[2] * ca[2]),
                       vol / std::sqrt(ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2])};
  const int periodic[3] = {domain->xperiodic, domain->yperiodic, domain->zperiodic};
  double best = std::numeric_limits<double>::infinity();
  for (int d = 0; d < 3; d++)
    if (periodic[d]) best = std::min(best, 0.5 * w[d]);
  return best;
}

void PairMLDyn::init_style()
{
  if (!model_) error->all(FLERR, "pair_style mldyn: pair_coeff * * model.json ... has not been given");
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style mldyn requires atom IDs");
  neighbor->add_request(this, NeighConst::REQ_FULL);

  double rc = model_->r_cut;
  if (std::isnan(rc)) {
    if (cutoff_override_ > 0.0) {
      rc = cutoff_override_;
    } else {
      rc = cell_half_width();
      if (!std::isfinite(rc))
        error->all(FLERR, "pair_style mldyn: model {} has r_cut null and the box is not periodic; "
                          "give the cutoff as 'pair_style mldyn <cutoff>'", model_file_);
      if (comm->me == 0)
        utils::logmesg(lmp, "pair_style mldyn: model r_cut is null; using half the smallest periodic box "
                            "width, {:.10g} A (fixed for this run)\n", rc);
    }
  }
  if (std::isfinite(model_->r_on) && !(model_->r_on < rc))
    error->all(FLERR, "pair_style mldyn: switching start r_on = {} must be below the cutoff {}", model_->r_on, rc);
  if (!basis_ || basis_->r_cut() != rc) {
    try {
      basis_ = std::make_unique<mldyn::Basis>(model_->basis(rc));
    } catch (const std::exception &e) {
      error->all(FLERR, "pair_style mldyn: invalid basis: {}", e.what());
    }
  }
  cut_ = rc;
  const std::size_t M = model_->n_functions(), F = model_->n_features();
  phi_.assign(F, 0.0);
  grad_.assign(F, 0.0);
  w_.assign(M, 0.0);
  dw_.assign(M, 0.0);
}

double PairMLDyn::init_one(int i, int j)
{
  if (setflag[i][j] == 0) {
    // types mapped to NULL: no interaction, but keep a cutoff so lists are consistent
    return cut_;
  }
  return cut_;
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

  const std::size_t M = model_->n_functions(), F = model_->n_features();
  const double *A = model_->A.data();
  const double *B = model_->B.data();
  const bool quadratic = model_->quadratic;
  const double cutsq_ = cut_ * cut_;
  double *phi = phi_.data(), *grad = grad_.data(), *w = w_.data(), *dw = dw_.data();

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int si = species_of_type_[type[i]];
    if (si < 0) continue;
    const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    const int *jlist = firstneigh[i];
    const int jnum = numneigh[i];

    if (static_cast<std::size_t>(jnum) * M > nbr_dw_.size()) {
      nbr_dw_.resize(static_cast<std::size_t>(jnum) * M);
      nbr_del_.resize(static_cast<std::size_t>(jnum) * 3);
      nbr_species_.resize(jnum);
    }

    // pass 1: invariants phi_i and the radial derivatives of every neighbour in range
    for (std::size_t k = 0; k < F; k++) phi[k] = 0.0;
    int nn = 0;
    for (int jj = 0; jj < jnum; jj++) {
      const int j = jlist[jj] & NEIGHMASK;
      const int sj = species_of_type_[type[j]];
      if (sj < 0) continue;
      const double delx = xi - x[j][0], dely = yi - x[j][1], delz = zi - x[j][2];
      const double rsq = delx * delx + dely * dely + delz * delz;
      if (!(rsq < cutsq_)) continue;
      const double r = std::sqrt(rsq);
      basis_->evaluate(r, w, dw);
      double *phis = phi + static_cast<std::size_t>(sj) * M;
      double *store = nbr_dw_.data() + static_cast<std::size_t>(nn) * M;
      const double inv_r = 1.0 / r;
      for (std::size_t m = 0; m < M; m++) {
        phis[m] += w[m];
        store[m] = dw[m] * inv_r;
      }
      nbr_del_[3 * nn] = delx;
      nbr_del_[3 * nn + 1] = dely;
      nbr_del_[3 * nn + 2] = delz;
      nbr_species_[nn] = sj;
      nn++;
    }

    // g = A_s + B_s phi; H = A_s.phi + 1/2 phi.B_s.phi
    const double *As = A + static_cast<std::size_t>(si) * F;
    const double *Bs = B + static_cast<std::size_t>(si) * F * F;
    double H = 0.0;
    for (std::size_t a = 0; a < F; a++) {
      double bphi = 0.0;
      if (quadratic) {
        const double *row = Bs + a * F;
        for (std::size_t b = 0; b < F; b++) bphi += row[b] * phi[b];
      }
      grad[a] = As[a] + bphi;
      H += phi[a] * (As[a] + 0.5 * bphi);
    }

    // pass 2: F_i = -sum_j sum_m g[s_j*M+m] * w'_m(r_ij) * (q_i - q_j) / r_ij
    double fx = 0.0, fy = 0.0, fz = 0.0;
    for (int n = 0; n < nn; n++) {
      const double *g = grad + static_cast<std::size_t>(nbr_species_[n]) * M;
      const double *d = nbr_dw_.data() + static_cast<std::size_t>(n) * M;
      double c = 0.0;
      for (std::size_t m = 0; m < M; m++) c += g[m] * d[m];
      fx -= c * nbr_del_[3 * n];
      fy -= c * nbr_del_[3 * n + 1];
      fz -= c * nbr_del_[3 * n + 2];
    }
    f[i][0] += fx;
    f[i][1] += fy;
    f[i][2] += fz;

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
  bytes += sizeof(double) * (phi_.size() + grad_.size() + w_.size() + dw_.size() + nbr_dw_.size() + nbr_del_.size());
  bytes += sizeof(int) * nbr_species_.size();
  if (model_) bytes += sizeof(double) * (model_->A.size() + model_->B.size());
  return bytes;
}
