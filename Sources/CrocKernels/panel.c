// Writing feature matrices into a (column, time, symbol) panel (see CrocKernels.h).
#include "CrocKernels.h"

#include <math.h>

#include "vector.h"

// A store that bypasses the caches where the compiler has one (x86: MOVNTI), a plain store
// elsewhere: the panel's lines are written once and not read back while it is built, so
// fetching each line into the cache before writing it (what a plain store does) only doubles
// the memory traffic.
static inline void store_streaming(double *p, double v) {
#if defined(__clang__)
    __builtin_nontemporal_store(v, p);
#else
    *p = v;
#endif
}

void croc_panel_write_members(double *panel, int64_t symbols, int64_t rows, int64_t first,
                              const double *const *matrices, const int64_t *bar_counts, const int32_t *bar_at,
                              int64_t members, int64_t width) {
    if (members <= 0 || width <= 0 || rows <= 0) return;
    const double missing = __builtin_nan("");
    for (int64_t c = 0; c < width; c++) {
        double *column = panel + c * rows * symbols + first;
        for (int64_t t = 0; t < rows; t++) {
            double *out = column + t * symbols;
            for (int64_t j = 0; j < members; j++) {
                const int32_t i = bar_at[j * rows + t];
                store_streaming(out + j, i >= 0 ? matrices[j][c * bar_counts[j] + i] : missing);
            }
        }
    }
#if defined(__x86_64__)
    // Streaming stores are weakly ordered: fence them before another thread reads the panel.
    _mm_sfence();
#endif
}
