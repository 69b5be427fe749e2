/*
 * Instruction sets for the deterministic inference kernels (iconv.h,
 * gdn_det.h). Every kernel has a plain C version and SIMD versions that give
 * bit-identical results, so the choice is only about speed: it is made at run
 * time from what the CPU (and the OS) support, and the same binary runs on a
 * machine without AVX-512.
 */
#ifndef NIC_NN_ISA_H
#define NIC_NN_ISA_H

typedef enum nn_isa {
    NN_ISA_C = 0,      /* portable C */
    NN_ISA_AVX2 = 1,   /* AVX2 + FMA (Haswell, Zen 1 and later) */
    NN_ISA_AVX512 = 2, /* AVX-512 F/BW/VL + VNNI (Ice Lake, Zen 4 and later) */
    NN_ISA_COUNT
} nn_isa;

/* 1 when this CPU and OS can run kernels of that instruction set. */
int nn_isa_supported(nn_isa isa);
/* The best supported instruction set, at most the one named by the
 * environment variable NIC_CPU ("c", "avx2" or "avx512"; unset = no cap).
 * Results do not depend on it, only speed: NIC_CPU=c runs the C kernels
 * (what the tests compare against). */
nn_isa nn_isa_best(void);
const char *nn_isa_name(nn_isa isa);

#endif
