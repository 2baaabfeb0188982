// The x86 vector intrinsics where the target has them (CROC_X86 is 1), none elsewhere (0): the
// kernels' vector paths are compiled for x86-64 only and chosen at run time by CPUID.
#ifndef CROC_VECTOR_H
#define CROC_VECTOR_H

#if defined(__x86_64__)
#include <immintrin.h>
#define CROC_X86 1
#else
#define CROC_X86 0
#endif

#endif
