// CrocKernels: the dense-network kernels of CrocModels' RL agents, in C so that one build can
// carry AVX2 + FMA and AVX-512 paths (chosen at run time, by CPUID) beside a portable one. All paths compute
// every element by the same chain of IEEE operations in the same order (fused multiply-adds
// where the definitions below say so), so their results are identical bit for bit: a trained
// network does not depend on the processor it was trained on.
#ifndef CROC_KERNELS_H
#define CROC_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `y[s][n] = bias[n] + Σ_k x[s][k] · w[k][n]` for `count` rows: each element starts at its bias
/// (+0 when `bias` is NULL) and adds the products in k order, each by one fused multiply-add.
/// `x` is count × inner, `w` inner × outputs, `y` count × outputs, all row-major.
void croc_dense_forward(const double *x, const double *w, const double *bias, double *y, int64_t count, int64_t inner,
                        int64_t outputs);

/// `g[o][j] += Σ_s d[s][o] · x[s][j]`, the samples in order, each by one fused multiply-add; and
/// `gb[o] += Σ_s d[s][o]` (plain additions in sample order) when `gb` is not NULL.
/// `d` is count × outputs, `x` count × inputs, `g` outputs × inputs.
void croc_dense_weight_gradient(const double *d, const double *x, double *g, double *gb, int64_t count, int64_t outputs,
                                int64_t inputs);

/// Adam on `n` parameters: `gi = g·scale; m = 0.9·m + 0.1·gi; v = 0.999·v + 0.001·gi·gi;
/// p −= lr·(m/c1) / (√(v/c2) + eps)`, separate multiplications and additions (no fused ones).
void croc_adam_update(double *p, const double *g, double *m, double *v, int64_t n, double scale, double c1, double c2,
                      double lr, double eps);

/// `Σ x[i]²` in 16 interleaved partial sums (element i into sum i mod 16), then those added
/// pairwise: (s0+s1)+(s2+s3)… The same value on both paths.
double croc_sum_squares(const double *x, int64_t n);

/// `dst` (cols × rows) = `src` (rows × cols) transposed, both row-major, in cache-sized blocks.
void croc_transpose(const double *src, double *dst, int64_t rows, int64_t cols);

/// Writes `members` consecutive symbols' feature matrices into a panel laid out
/// `panel[(c · rows + t) · symbols + s]` (column c, time t, symbol s), at symbols
/// `first ..< first + members`: member j's matrix is `matrices[j][c · bar_counts[j] + i]` (column
/// c of its bar i) and `bar_at[j · rows + t]` its bar at time t (-1: none, written NaN). Every cell
/// of those symbols is written, by stores that bypass the caches (x86) and are fenced before
/// returning: a panel's lines are written once, so they are not fetched first.
void croc_panel_write_members(double *panel, int64_t symbols, int64_t rows, int64_t first,
                              const double *const *matrices, const int64_t *bar_counts, const int32_t *bar_at,
                              int64_t members, int64_t width);

/// Walks the first rows of `rows` (`width` values each, row-major) — a multiple of 8, at most
/// `count` — through one complete tree of `depth` levels, adds each row's leaf to `score[row]`, and
/// returns how many it walked: 0 where the processor has no AVX-512 (the caller walks the rest).
/// `splits` holds the tree's 2^depth − 1 splits breadth first, 16 bytes each (the threshold as a
/// double, then the feature as an int32, then 4 unused bytes): slot j sends a row to slot 2j + 2 when
/// its value of the feature is greater than the threshold (NaN is not: it goes left, to 2j + 1).
/// `leaves` holds the 2^depth leaves, left to right. `scratch` holds `count` int64 values.
int64_t croc_tree_walk_complete(const double *rows, int64_t width, int64_t count, double *score, const void *splits,
                                const double *leaves, int32_t depth, int64_t *scratch);

/// Tunes glibc's allocator for a command that reads, computes and writes large buffers
/// (`crocbot`, `crocbench`): blocks up to 64 MiB come from the heap instead of their own
/// mappings, and up to 128 MiB of freed heap stays with the process (heap growth 16 MiB at a
/// time). A large buffer freed (a file's bytes once parsed) is then reused by the next
/// allocation instead of being returned to the kernel, whose next block is faulted in again a
/// page at a time (each fault a few microseconds on a virtual machine). Call it first thing in
/// `main`. Returns 1 when applied (glibc), 0 where there is nothing to tune.
int croc_tune_allocator(void);

/// The bytes glibc's allocator holds in blocks mapped on their own (`mallinfo2().hblkhd`), -1
/// where unknown: what `croc_tune_allocator` keeps small.
int64_t croc_allocator_mapped_bytes(void);

/// The path in use: 2 AVX-512 (8 doubles a vector), 1 AVX2 + FMA (4), 0 portable — the widest
/// the processor has, unless a narrower one was asked for.
int croc_kernels_vector_path(void);

/// Caps the path at `level` (0 portable, 1 AVX2 + FMA, 2 AVX-512), for tests that compare the
/// paths; returns the path now in use (the widest the processor has up to `level`).
int croc_kernels_set_vector_path(int level);

#ifdef __cplusplus
}
#endif

#endif
