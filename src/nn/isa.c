#include "nn/isa.h"

#include <stdlib.h>
#include <string.h>

int nn_isa_supported(nn_isa isa)
{
    switch (isa) {
    case NN_ISA_C:
        return 1;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    case NN_ISA_AVX2:
        /* __builtin_cpu_supports also checks that the OS saves the vector state. */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case NN_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
               __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

const char *nn_isa_name(nn_isa isa)
{
    switch (isa) {
    case NN_ISA_C:
        return "c";
    case NN_ISA_AVX2:
        return "avx2";
    case NN_ISA_AVX512:
        return "avx512";
    default:
        return "?";
    }
}

nn_isa nn_isa_best(void)
{
    nn_isa cap = NN_ISA_COUNT;
    const char *env = getenv("NIC_CPU");
    if (env && *env) {
        cap = NN_ISA_C;
        for (int i = 0; i < NN_ISA_COUNT; i++)
            if (strcmp(env, nn_isa_name((nn_isa)i)) == 0)
                cap = (nn_isa)i;
    }
    for (int i = NN_ISA_COUNT - 1; i > 0; i--)
        if (i <= (int)cap && nn_isa_supported((nn_isa)i))
            return (nn_isa)i;
    return NN_ISA_C;
}
