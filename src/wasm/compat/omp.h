/* OpenMP is not in the wasm build (one thread; the pragmas are ignored):
 * the runtime calls libnic makes, answered for a single thread. */
#ifndef NIC_WASM_COMPAT_OMP_H
#define NIC_WASM_COMPAT_OMP_H

static inline int omp_get_max_threads(void)
{
    return 1;
}

static inline int omp_get_thread_num(void)
{
    return 0;
}

#endif
