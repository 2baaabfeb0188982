// The gradient-boosted trees' batch walk (see CrocKernels.h): an AVX-512 path that walks eight rows
// at once, taking the same path through each tree (the same comparisons) and adding the same leaf to
// each score as the scalar walk in Swift, so the scores are identical bit for bit.
#include "CrocKernels.h"

#include "vector.h"

#pragma STDC FP_CONTRACT OFF

// A split as `GradientBoostedTrees.Split` lays it out: the threshold, then the feature.
typedef struct {
    double threshold;
    int32_t feature;
    int32_t pad;
} croc_split;

#if CROC_X86
#define VECTOR512 __attribute__((target("avx512f")))

// Level by level over the rows, eight at a time: each group's slot vector sits in `at`, so the
// work of many groups is in flight at once (one group's levels depend on one another). The splits
// of the first six levels (slots 0 to 62) are read from registers by permutes, from tables of
// their thresholds and features loaded once per call; deeper levels gather them. The row's value
// of the feature is gathered.
VECTOR512 static int64_t walk_avx512(const double *rows, int64_t width, int64_t count, double *score,
                                     const croc_split *split, const double *leaf, int32_t depth, int64_t *at) {
    const int64_t groups = count / 8;
    if (groups == 0) return 0;
    // Slots 0..62 as tables (slot 63 is padding): threshold and feature, eight slots a register.
    double thresholds[64] __attribute__((aligned(64)));
    int64_t features[64] __attribute__((aligned(64)));
    const int64_t tabled = ((int64_t)1 << (depth < 6 ? depth : 6)) - 1;
    for (int64_t j = 0; j < 64; j++) {
        thresholds[j] = j < tabled ? split[j].threshold : 0.0;
        features[j] = j < tabled ? split[j].feature : 0;
    }
    __m512d t[8];
    __m512i f[8];
    for (int k = 0; k < 8; k++) {
        t[k] = _mm512_load_pd(thresholds + 8 * k);
        f[k] = _mm512_load_si512((const void *)(features + 8 * k));
    }
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i two = _mm512_set1_epi64(2);
    const __m512i lanes = _mm512_set_epi64(7 * width, 6 * width, 5 * width, 4 * width, 3 * width, 2 * width, width, 0);
    const __m512i groupStep = _mm512_set1_epi64(8 * width);
    for (int64_t g = 0; g < groups; g++) _mm512_storeu_si512((void *)(at + 8 * g), _mm512_setzero_si512());
    for (int32_t level = 0; level < depth; level++) {
        __m512i base = lanes;
        for (int64_t g = 0; g < groups; g++) {
            const __m512i j = _mm512_loadu_si512((const void *)(at + 8 * g));
            const __m512i j2 = _mm512_add_epi64(j, j);
            __m512d threshold;
            __m512i feature;
            if (level < 4) {
                // Slots 0..14: the first two registers of each table.
                threshold = _mm512_permutex2var_pd(t[0], j, t[1]);
                feature = _mm512_permutex2var_epi64(f[0], j, f[1]);
            } else if (level == 4) {
                // Slots 15..30 sit in registers 1 to 3 (slots 8..31): with i = j − 8 (7..22), a
                // permute of registers 1-2 by i's low four bits, or of register 3 when bit 4 is set.
                const __m512i i = _mm512_sub_epi64(j, _mm512_set1_epi64(8));
                const __mmask8 high = _mm512_test_epi64_mask(i, _mm512_set1_epi64(16));
                threshold = _mm512_mask_blend_pd(high, _mm512_permutex2var_pd(t[1], i, t[2]), _mm512_permutex2var_pd(t[3], i, t[3]));
                feature = _mm512_mask_blend_epi64(high, _mm512_permutex2var_epi64(f[1], i, f[2]), _mm512_permutex2var_epi64(f[3], i, f[3]));
            } else if (level == 5) {
                // Slots 31..62 sit in registers 3 to 7 (slots 24..63): with i = j − 24 (7..38),
                // bits 4 and 5 choose among registers 3-4, 5-6 and 7, the low four bits the slot.
                const __m512i i = _mm512_sub_epi64(j, _mm512_set1_epi64(24));
                const __mmask8 b4 = _mm512_test_epi64_mask(i, _mm512_set1_epi64(16));
                const __mmask8 b5 = _mm512_test_epi64_mask(i, _mm512_set1_epi64(32));
                const __m512d lo = _mm512_mask_blend_pd(b4, _mm512_permutex2var_pd(t[3], i, t[4]), _mm512_permutex2var_pd(t[5], i, t[6]));
                threshold = _mm512_mask_blend_pd(b5, lo, _mm512_permutex2var_pd(t[7], i, t[7]));
                const __m512i flo = _mm512_mask_blend_epi64(b4, _mm512_permutex2var_epi64(f[3], i, f[4]), _mm512_permutex2var_epi64(f[5], i, f[6]));
                feature = _mm512_mask_blend_epi64(b5, flo, _mm512_permutex2var_epi64(f[7], i, f[7]));
            } else {
                // Slot j's threshold at byte 16j, its feature at byte 16j + 8.
                threshold = _mm512_i64gather_pd(j2, (const void *)split, 8);
                feature = _mm512_cvtepi32_epi64(_mm512_i64gather_epi32(_mm512_add_epi64(_mm512_add_epi64(j2, j2), two), (const void *)split, 4));
            }
            const __m512d x = _mm512_i64gather_pd(_mm512_add_epi64(base, feature), (const void *)rows, 8);
            // Right only when x > threshold (ordered: NaN is not greater, it goes left).
            const __mmask8 right = _mm512_cmp_pd_mask(x, threshold, _CMP_GT_OQ);
            const __m512i next = _mm512_add_epi64(j2, one);
            _mm512_storeu_si512((void *)(at + 8 * g), _mm512_mask_add_epi64(next, right, next, one));
            base = _mm512_add_epi64(base, groupStep);
        }
    }
    const __m512i bottom = _mm512_set1_epi64(((int64_t)1 << depth) - 1);
    for (int64_t g = 0; g < groups; g++) {
        const __m512i slot = _mm512_sub_epi64(_mm512_loadu_si512((const void *)(at + 8 * g)), bottom);
        const __m512d value = _mm512_i64gather_pd(slot, (const void *)leaf, 8);
        _mm512_storeu_pd(score + 8 * g, _mm512_add_pd(_mm512_loadu_pd(score + 8 * g), value));
    }
    return groups * 8;
}
#endif

int64_t croc_tree_walk_complete(const double *rows, int64_t width, int64_t count, double *score, const void *splits,
                                const double *leaves, int32_t depth, int64_t *scratch) {
#if CROC_X86
    if (croc_kernels_vector_path() >= 2)
        return walk_avx512(rows, width, count, score, (const croc_split *)splits, leaves, depth, scratch);
#else
    (void)rows, (void)width, (void)count, (void)score, (void)splits, (void)leaves, (void)depth, (void)scratch;
#endif
    return 0;
}
