#include "mldyn/threads.hpp"

#include <algorithm>

#if defined(MLDYN_HAVE_OPENMP)
#include <omp.h>
#endif

namespace mldyn {

namespace {
int default_threads() {
#if defined(MLDYN_HAVE_OPENMP)
    static const int n = omp_get_max_threads();
    return n;
#else
    return 1;
#endif
}
int requested_threads = 0;
}  // namespace

int get_num_threads() { return requested_threads > 0 ? requested_threads : default_threads(); }

void set_num_threads(int n) {
    default_threads();  // remember the OpenMP default before overriding it
    requested_threads = n > 0 ? n : 0;
#if defined(MLDYN_HAVE_OPENMP)
    omp_set_num_threads(get_num_threads());
#endif
}

int threads_for_atoms(std::size_t n_atoms) {
    constexpr std::size_t min_atoms_per_thread = 128;
    const std::size_t useful = n_atoms / min_atoms_per_thread;
    return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(useful, get_num_threads())));
}

int current_thread() {
#if defined(MLDYN_HAVE_OPENMP)
    return omp_get_thread_num();
#else
    return 0;
#endif
}

bool have_openmp() {
#if defined(MLDYN_HAVE_OPENMP)
    return true;
#else
    return false;
#endif
}

}  // namespace mldyn
