#include "mldyn/threads.hpp"

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
