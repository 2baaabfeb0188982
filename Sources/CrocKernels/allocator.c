// The allocator settings of CrocBot's batch commands (see CrocKernels.h).
#include "CrocKernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int croc_tune_allocator(void) {
#if defined(__GLIBC__)
    int ok = mallopt(M_MMAP_THRESHOLD, 64 << 20);
    ok &= mallopt(M_TRIM_THRESHOLD, 128 << 20);
    ok &= mallopt(M_TOP_PAD, 16 << 20);
    return ok ? 1 : 0;
#else
    return 0;
#endif
}

int64_t croc_allocator_mapped_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    return (int64_t)info.hblkhd;
#else
    return -1;
#endif
}
