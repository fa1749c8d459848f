#pragma once
#include <cstddef>
#include <mutex>

namespace mldyn {

/// Number of threads the core uses for its parallel loops (1 without OpenMP).
int get_num_threads();
/// Sets the thread count for later calls; n <= 0 restores the OpenMP default
/// (OMP_NUM_THREADS or the number of cores).
void set_num_threads(int n);
/// Threads worth using for `n_atoms` atoms: get_num_threads(), but at most one per 128
/// atoms, because below that the cost of starting and joining a parallel region
/// exceeds the work (measured: 96 atoms, 0.30 ms/step on 1 thread, 0.62 ms on 2).
int threads_for_atoms(std::size_t n_atoms);
/// Index of the calling thread inside a parallel region (0 outside one).
int current_thread();
/// Whether the core was compiled with OpenMP.
bool have_openmp();

/// Guards an object's scratch buffers when Python threads call it concurrently
/// (the bindings release the GIL). Copies get a fresh mutex, so holders stay copyable.
struct ScratchMutex {
    std::mutex mutex;
    ScratchMutex() = default;
    ScratchMutex(const ScratchMutex&) {}
    ScratchMutex& operator=(const ScratchMutex&) { return *this; }
};

}  // namespace mldyn
