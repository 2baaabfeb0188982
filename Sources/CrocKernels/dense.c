// The dense-network kernels (see CrocKernels.h): a portable path, an AVX2 + FMA path and an
// AVX-512 path that compute every element by the same operations in the same order.
#include "CrocKernels.h"

#include <math.h>
#include <stddef.h>

#include "vector.h"

#if CROC_X86
#include <cpuid.h>
#endif

// No contraction of a multiplication and an addition into a fused multiply-add behind our back:
// the portable and the vector paths must round alike, so every fused operation is written out.
#pragma STDC FP_CONTRACT OFF

static int vector_state = -1;  // -1: not detected yet; else the path in use: 0 portable, 1 AVX2 + FMA, 2 AVX-512
static int vector_wanted = 2;  // the widest path the processor has

static int detect_avx2_fma(void) {
#if CROC_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;  // the OS saves the YMM registers
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1;
#else
    return 0;
#endif
}

// AVX-512 Foundation on top of AVX2 + FMA, with the OS saving the opmask and ZMM registers.
static int detect_avx512f(void) {
#if CROC_X86
    if (!detect_avx2_fma()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 16) & 1)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
#else
    return 0;
#endif
}

int croc_kernels_vector_path(void) {
    int s = __atomic_load_n(&vector_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const int wanted = __atomic_load_n(&vector_wanted, __ATOMIC_RELAXED);
        s = wanted >= 2 && detect_avx512f() ? 2 : (wanted >= 1 && detect_avx2_fma() ? 1 : 0);
        __atomic_store_n(&vector_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

int croc_kernels_set_vector_path(int level) {
    __atomic_store_n(&vector_wanted, level < 0 ? 0 : level, __ATOMIC_RELAXED);
    __atomic_store_n(&vector_state, -1, __ATOMIC_RELAXED);
    return croc_kernels_vector_path();
}

// MARK: - Portable path

static void forward_portable(const double *x, const double *w, const double *bias, double *y, int64_t count, int64_t inner,
                             int64_t outputs) {
    for (int64_t s = 0; s < count; s++) {
        double *ys = y + s * outputs;
        const double *xs = x + s * inner;
        for (int64_t n = 0; n < outputs; n++) ys[n] = bias ? bias[n] : 0.0;
        for (int64_t k = 0; k < inner; k++) {
            const double xk = xs[k];
            const double *wk = w + k * outputs;
            for (int64_t n = 0; n < outputs; n++) ys[n] = fma(xk, wk[n], ys[n]);
        }
    }
}

static void weight_gradient_portable(const double *d, const double *x, double *g, int64_t count, int64_t outputs,
                                     int64_t inputs) {
    for (int64_t s = 0; s < count; s++) {
        const double *xs = x + s * inputs;
        for (int64_t o = 0; o < outputs; o++) {
            const double ds = d[s * outputs + o];
            double *go = g + o * inputs;
            for (int64_t j = 0; j < inputs; j++) go[j] = fma(ds, xs[j], go[j]);
        }
    }
}

static void bias_gradient(const double *d, double *gb, int64_t count, int64_t outputs) {
    for (int64_t s = 0; s < count; s++) {
        for (int64_t o = 0; o < outputs; o++) gb[o] += d[s * outputs + o];
    }
}

static void adam_portable(double *p, const double *g, double *m, double *v, int64_t start, int64_t n, double scale, double c1,
                          double c2, double lr, double eps) {
    for (int64_t i = start; i < n; i++) {
        const double gi = g[i] * scale;
        m[i] = 0.9 * m[i] + 0.1 * gi;
        v[i] = 0.999 * v[i] + 0.001 * gi * gi;
        p[i] = p[i] - lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
    }
}

static double combine16(const double *s) {
    double t[16];
    for (int i = 0; i < 16; i++) t[i] = s[i];
    for (int width = 16; width > 1; width /= 2) {
        for (int i = 0; i < width / 2; i++) t[i] = t[2 * i] + t[2 * i + 1];
    }
    return t[0];
}

// MARK: - AVX2 + FMA path

#if CROC_X86
#define VECTOR __attribute__((target("avx2,fma")))
#define TILE static inline __attribute__((always_inline, target("avx2,fma")))

// Rows `R` × `V` vectors of 4 outputs: y (partial sums) += x[·][k0..<k1] · w[k0..<k1][·].
TILE void forward_tile(const int R, const int V, const double *x, int64_t inner, const double *w, int64_t outputs, double *y,
                       int64_t k0, int64_t k1) {
    __m256d a[6][8];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) a[r][v] = _mm256_loadu_pd(y + r * outputs + 4 * v);
    for (int64_t k = k0; k < k1; k++) {
        const double *wk = w + k * outputs;
        __m256d wv[8];
        for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_pd(wk + 4 * v);
        for (int r = 0; r < R; r++) {
            const __m256d xb = _mm256_broadcast_sd(x + r * inner + k);
            for (int v = 0; v < V; v++) a[r][v] = _mm256_fmadd_pd(xb, wv[v], a[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) _mm256_storeu_pd(y + r * outputs + 4 * v, a[r][v]);
}

// The outputs of `R` rows from column `n0` on, for k in k0..<k1.
TILE void forward_rows(const int R, const double *x, int64_t inner, const double *w, int64_t outputs, double *y, int64_t k0,
                       int64_t k1, int64_t n0) {
    int64_t n = n0;
    if (R == 1) {
        for (; n + 32 <= outputs; n += 32) forward_tile(1, 8, x, inner, w + n, outputs, y + n, k0, k1);
    }
    for (; n + 8 <= outputs; n += 8) forward_tile(R, 2, x, inner, w + n, outputs, y + n, k0, k1);
    for (; n + 4 <= outputs; n += 4) forward_tile(R, 1, x, inner, w + n, outputs, y + n, k0, k1);
    for (; n < outputs; n++) {
        for (int r = 0; r < R; r++) {
            double acc = y[r * outputs + n];
            for (int64_t k = k0; k < k1; k++) acc = fma(x[r * inner + k], w[k * outputs + n], acc);
            y[r * outputs + n] = acc;
        }
    }
}

// The forward pass over blocks of 256 inputs (the block's weights, 256 × outputs, stay in the
// second-level cache while every group of rows passes over them), six rows at a time through
// `ROWS` (`forward_rows` or `forward_rows512`: the row count must be a constant for their tiles).
#define FORWARD_BLOCKS(ROWS)                                                                                        \
    for (int64_t s = 0; s < count; s++)                                                                             \
        for (int64_t n = 0; n < outputs; n++) y[s * outputs + n] = bias ? bias[n] : 0.0;                            \
    for (int64_t k0 = 0; k0 < inner; k0 += 256) {                                                                   \
        const int64_t k1 = k0 + 256 < inner ? k0 + 256 : inner;                                                     \
        int64_t s = 0;                                                                                              \
        for (; s + 6 <= count; s += 6) ROWS(6, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0);       \
        switch (count - s) {                                                                                        \
        case 5: ROWS(5, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0); break;                       \
        case 4: ROWS(4, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0); break;                       \
        case 3: ROWS(3, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0); break;                       \
        case 2: ROWS(2, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0); break;                       \
        case 1: ROWS(1, x + s * inner, inner, w, outputs, y + s * outputs, k0, k1, 0); break;                       \
        default: break;                                                                                             \
        }                                                                                                           \
    }

VECTOR static void forward_avx2(const double *x, const double *w, const double *bias, double *y, int64_t count, int64_t inner,
                                int64_t outputs) {
    FORWARD_BLOCKS(forward_rows)
}

// `R` outputs × `V` vectors of 4 inputs: g += Σ_s d[s][·] · x[s][·], samples in order.
TILE void gradient_tile(const int R, const int V, const double *d, int64_t outputs, const double *x, int64_t inputs, double *g,
                        int64_t count) {
    __m256d a[6][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) a[r][v] = _mm256_loadu_pd(g + r * inputs + 4 * v);
    for (int64_t s = 0; s < count; s++) {
        __m256d xv[2];
        for (int v = 0; v < V; v++) xv[v] = _mm256_loadu_pd(x + s * inputs + 4 * v);
        for (int r = 0; r < R; r++) {
            const __m256d db = _mm256_broadcast_sd(d + s * outputs + r);
            for (int v = 0; v < V; v++) a[r][v] = _mm256_fmadd_pd(db, xv[v], a[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) _mm256_storeu_pd(g + r * inputs + 4 * v, a[r][v]);
}

// `R` outputs (from d's and g's first), inputs j0..<j1.
TILE void gradient_outputs(const int R, const double *d, int64_t outputs, const double *x, int64_t inputs, double *g,
                           int64_t count, int64_t j0, int64_t j1) {
    int64_t j = j0;
    for (; j + 8 <= j1; j += 8) gradient_tile(R, 2, d, outputs, x + j, inputs, g + j, count);
    for (; j + 4 <= j1; j += 4) gradient_tile(R, 1, d, outputs, x + j, inputs, g + j, count);
    for (; j < j1; j++) {
        for (int r = 0; r < R; r++) {
            double acc = g[r * inputs + j];
            for (int64_t s = 0; s < count; s++) acc = fma(d[s * outputs + r], x[s * inputs + j], acc);
            g[r * inputs + j] = acc;
        }
    }
}

// The weight gradient over blocks of 64 inputs (the samples' values of a block, count × 64, stay
// in the first cache levels while every group of outputs passes over them), six outputs at a
// time through `OUTPUTS` (`gradient_outputs` or `gradient_outputs512`).
#define GRADIENT_BLOCKS(OUTPUTS)                                                                                    \
    for (int64_t j0 = 0; j0 < inputs; j0 += 64) {                                                                   \
        const int64_t j1 = j0 + 64 < inputs ? j0 + 64 : inputs;                                                     \
        int64_t o = 0;                                                                                              \
        for (; o + 6 <= outputs; o += 6) OUTPUTS(6, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1);      \
        switch (outputs - o) {                                                                                      \
        case 5: OUTPUTS(5, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1); break;                        \
        case 4: OUTPUTS(4, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1); break;                        \
        case 3: OUTPUTS(3, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1); break;                        \
        case 2: OUTPUTS(2, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1); break;                        \
        case 1: OUTPUTS(1, d + o, outputs, x, inputs, g + o * inputs, count, j0, j1); break;                        \
        default: break;                                                                                             \
        }                                                                                                           \
    }

VECTOR static void weight_gradient_avx2(const double *d, const double *x, double *g, int64_t count, int64_t outputs,
                                        int64_t inputs) {
    GRADIENT_BLOCKS(gradient_outputs)
}

// Adam `W` doubles a vector with the intrinsics prefixed `P` (_mm256, _mm512) on vectors of type
// `T`, the tail to the portable loop: one body for the AVX2 and AVX-512 paths, the same
// operations in the same order as `adam_portable`.
#define ADAM_VECTOR(W, T, P)                                                                                        \
    const T vs = P##_set1_pd(scale), a1 = P##_set1_pd(0.9), b1 = P##_set1_pd(0.1);                                  \
    const T a2 = P##_set1_pd(0.999), b2 = P##_set1_pd(0.001);                                                        \
    const T vc1 = P##_set1_pd(c1), vc2 = P##_set1_pd(c2), vlr = P##_set1_pd(lr), veps = P##_set1_pd(eps);            \
    int64_t i = 0;                                                                                                  \
    for (; i + W <= n; i += W) {                                                                                    \
        const T gi = P##_mul_pd(P##_loadu_pd(g + i), vs);                                                           \
        const T mi = P##_add_pd(P##_mul_pd(a1, P##_loadu_pd(m + i)), P##_mul_pd(b1, gi));                           \
        const T vi = P##_add_pd(P##_mul_pd(a2, P##_loadu_pd(v + i)), P##_mul_pd(P##_mul_pd(b2, gi), gi));           \
        P##_storeu_pd(m + i, mi);                                                                                   \
        P##_storeu_pd(v + i, vi);                                                                                   \
        const T step = P##_div_pd(P##_mul_pd(vlr, P##_div_pd(mi, vc1)), P##_add_pd(P##_sqrt_pd(P##_div_pd(vi, vc2)), veps)); \
        P##_storeu_pd(p + i, P##_sub_pd(P##_loadu_pd(p + i), step));                                                \
    }                                                                                                               \
    adam_portable(p, g, m, v, i, n, scale, c1, c2, lr, eps);

VECTOR static void adam_avx2(double *p, const double *g, double *m, double *v, int64_t n, double scale, double c1, double c2,
                             double lr, double eps) {
    ADAM_VECTOR(4, __m256d, _mm256)
}

VECTOR static double sum_squares_avx2(const double *x, int64_t n) {
    __m256d q0 = _mm256_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256d x0 = _mm256_loadu_pd(x + i), x1 = _mm256_loadu_pd(x + i + 4);
        const __m256d x2 = _mm256_loadu_pd(x + i + 8), x3 = _mm256_loadu_pd(x + i + 12);
        q0 = _mm256_add_pd(q0, _mm256_mul_pd(x0, x0));
        q1 = _mm256_add_pd(q1, _mm256_mul_pd(x1, x1));
        q2 = _mm256_add_pd(q2, _mm256_mul_pd(x2, x2));
        q3 = _mm256_add_pd(q3, _mm256_mul_pd(x3, x3));
    }
    double s[16];
    _mm256_storeu_pd(s, q0);
    _mm256_storeu_pd(s + 4, q1);
    _mm256_storeu_pd(s + 8, q2);
    _mm256_storeu_pd(s + 12, q3);
    for (int k = 0; i < n; i++, k++) s[k] = s[k] + x[i] * x[i];
    return combine16(s);
}
#endif

// MARK: - AVX-512 path (8 doubles a vector; the same operations per element, in the same order)

#if CROC_X86
#define VECTOR512 __attribute__((target("avx512f,avx2,fma")))
#define TILE512 static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

// Rows `R` × `V` vectors of 8 outputs: y (partial sums) += x[·][k0..<k1] · w[k0..<k1][·].
TILE512 void forward_tile512(const int R, const int V, const double *x, int64_t inner, const double *w, int64_t outputs, double *y,
                             int64_t k0, int64_t k1) {
    __m512d a[6][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) a[r][v] = _mm512_loadu_pd(y + r * outputs + 8 * v);
    for (int64_t k = k0; k < k1; k++) {
        const double *wk = w + k * outputs;
        __m512d wv[4];
        for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_pd(wk + 8 * v);
        for (int r = 0; r < R; r++) {
            const __m512d xb = _mm512_set1_pd(x[r * inner + k]);
            for (int v = 0; v < V; v++) a[r][v] = _mm512_fmadd_pd(xb, wv[v], a[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) _mm512_storeu_pd(y + r * outputs + 8 * v, a[r][v]);
}

// `forward_rows` with 32-, 16- and 8-wide tiles, then `forward_rows` (4-wide tiles, single
// columns) from where they stop.
TILE512 void forward_rows512(const int R, const double *x, int64_t inner, const double *w, int64_t outputs, double *y, int64_t k0,
                             int64_t k1, int64_t n0) {
    int64_t n = n0;
    for (; n + 32 <= outputs; n += 32) forward_tile512(R, 4, x, inner, w + n, outputs, y + n, k0, k1);
    for (; n + 16 <= outputs; n += 16) forward_tile512(R, 2, x, inner, w + n, outputs, y + n, k0, k1);
    for (; n + 8 <= outputs; n += 8) forward_tile512(R, 1, x, inner, w + n, outputs, y + n, k0, k1);
    forward_rows(R, x, inner, w, outputs, y, k0, k1, n);
}

VECTOR512 static void forward_avx512(const double *x, const double *w, const double *bias, double *y, int64_t count, int64_t inner,
                                     int64_t outputs) {
    FORWARD_BLOCKS(forward_rows512)
}

// `R` outputs × `V` vectors of 8 inputs: g += Σ_s d[s][·] · x[s][·], samples in order.
TILE512 void gradient_tile512(const int R, const int V, const double *d, int64_t outputs, const double *x, int64_t inputs, double *g,
                              int64_t count) {
    __m512d a[6][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) a[r][v] = _mm512_loadu_pd(g + r * inputs + 8 * v);
    for (int64_t s = 0; s < count; s++) {
        __m512d xv[4];
        for (int v = 0; v < V; v++) xv[v] = _mm512_loadu_pd(x + s * inputs + 8 * v);
        for (int r = 0; r < R; r++) {
            const __m512d db = _mm512_set1_pd(d[s * outputs + r]);
            for (int v = 0; v < V; v++) a[r][v] = _mm512_fmadd_pd(db, xv[v], a[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) _mm512_storeu_pd(g + r * inputs + 8 * v, a[r][v]);
}

// `gradient_outputs` with 32-, 16- and 8-wide tiles, then `gradient_outputs` (4-wide tiles,
// single inputs) from where they stop.
TILE512 void gradient_outputs512(const int R, const double *d, int64_t outputs, const double *x, int64_t inputs, double *g,
                                 int64_t count, int64_t j0, int64_t j1) {
    int64_t j = j0;
    for (; j + 32 <= j1; j += 32) gradient_tile512(R, 4, d, outputs, x + j, inputs, g + j, count);
    for (; j + 16 <= j1; j += 16) gradient_tile512(R, 2, d, outputs, x + j, inputs, g + j, count);
    for (; j + 8 <= j1; j += 8) gradient_tile512(R, 1, d, outputs, x + j, inputs, g + j, count);
    gradient_outputs(R, d, outputs, x, inputs, g, count, j, j1);
}

VECTOR512 static void weight_gradient_avx512(const double *d, const double *x, double *g, int64_t count, int64_t outputs,
                                             int64_t inputs) {
    GRADIENT_BLOCKS(gradient_outputs512)
}

VECTOR512 static void adam_avx512(double *p, const double *g, double *m, double *v, int64_t n, double scale, double c1, double c2,
                                  double lr, double eps) {
    ADAM_VECTOR(8, __m512d, _mm512)
}
#endif

// MARK: - Entry points

void croc_transpose(const double *src, double *dst, int64_t rows, int64_t cols) {
    // Blocks of 8 × 8: the 8 source rows and the 8 destination rows a block touches stay in the
    // first-level cache (a plain loop writes one element per cache line).
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        const int64_t r1 = r0 + 8 < rows ? r0 + 8 : rows;
        for (int64_t c0 = 0; c0 < cols; c0 += 8) {
            const int64_t c1 = c0 + 8 < cols ? c0 + 8 : cols;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

void croc_dense_forward(const double *x, const double *w, const double *bias, double *y, int64_t count, int64_t inner,
                        int64_t outputs) {
    if (count <= 0 || outputs <= 0) return;
#if CROC_X86
    const int path = croc_kernels_vector_path();
    if (path >= 2) {
        forward_avx512(x, w, bias, y, count, inner, outputs);
        return;
    }
    if (path == 1) {
        forward_avx2(x, w, bias, y, count, inner, outputs);
        return;
    }
#endif
    forward_portable(x, w, bias, y, count, inner, outputs);
}

void croc_dense_weight_gradient(const double *d, const double *x, double *g, double *gb, int64_t count, int64_t outputs,
                                int64_t inputs) {
    if (count <= 0 || outputs <= 0) return;
    if (gb) bias_gradient(d, gb, count, outputs);
#if CROC_X86
    const int path = croc_kernels_vector_path();
    if (path >= 2) {
        weight_gradient_avx512(d, x, g, count, outputs, inputs);
        return;
    }
    if (path == 1) {
        weight_gradient_avx2(d, x, g, count, outputs, inputs);
        return;
    }
#endif
    weight_gradient_portable(d, x, g, count, outputs, inputs);
}

void croc_adam_update(double *p, const double *g, double *m, double *v, int64_t n, double scale, double c1, double c2,
                      double lr, double eps) {
#if CROC_X86
    const int path = croc_kernels_vector_path();
    if (path >= 2) {
        adam_avx512(p, g, m, v, n, scale, c1, c2, lr, eps);
        return;
    }
    if (path == 1) {
        adam_avx2(p, g, m, v, n, scale, c1, c2, lr, eps);
        return;
    }
#endif
    adam_portable(p, g, m, v, 0, n, scale, c1, c2, lr, eps);
}

double croc_sum_squares(const double *x, int64_t n) {
#if CROC_X86
    if (croc_kernels_vector_path()) return sum_squares_avx2(x, n);
#endif
    double s[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) s[k] = s[k] + x[i + k] * x[i + k];
    for (int k = 0; i < n; i++, k++) s[k] = s[k] + x[i] * x[i];
    return combine16(s);
}
