#include "nn/conv_direct.h"

#include <assert.h>
#include <string.h>

/* The padded geometry of an h × w map: pitch P, plane (h + 2)·P, and the
 * output lanes, h·P rounded up to whole blocks of LANES. */
enum { LANES = 32, VEC = 16, TAPS = 9 };

/* Past the last plane: a block's last lane reads at most lanes − 1 + 2P + 2
 * < plane + LANES + 2 floats from its plane's start. */
enum { SLACK = 48 };

static size_t pitch_of(int w) { return (size_t)w + 2; }
static size_t plane_of(int h, int w) { return ((size_t)h + 2) * pitch_of(w); }
static size_t lanes_of(int h, int w) { return ((size_t)h * pitch_of(w) + LANES - 1) / LANES * LANES; }

size_t sm_conv_direct_padded_floats(int c, int h, int w) { return (size_t)c * plane_of(h, w) + SLACK; }

size_t sm_conv_direct_out_floats(int h, int w) { return SM_CONV_DIRECT_PLANES * lanes_of(h, w); }

/* Each float once: a row of w values is followed by the two zeros of its
 * right and the next row's left padding.  Loops rather than memcpy/memset:
 * the runs are a few dozen floats, where a call costs more than the copy. */
void sm_conv_direct_pad(int c, int h, int w, const float *x, float *xpad)
{
    const size_t p = pitch_of(w), plane = plane_of(h, w);
    for (int ch = 0; ch < c; ch++) {
        float *dst = xpad + ch * plane;
        for (size_t t = 0; t <= p; t++) dst[t] = 0.0f; /* top row, first left pad */
        for (int r = 0; r < h; r++) {
            const float *src = x + ((size_t)ch * h + r) * w;
            float *row = dst + (r + 1) * p + 1;
#pragma omp simd
            for (int t = 0; t < w; t++) row[t] = src[t];
            row[w] = row[w + 1] = 0.0f;
        }
        for (size_t t = (h + 1) * p + 1; t < plane; t++) dst[t] = 0.0f; /* bottom row */
    }
    memset(xpad + c * plane, 0, SLACK * sizeof *xpad);
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

int sm_conv_direct_supported(void)
{
    static int supported = -1; /* a benign race: every thread stores the same value */
    if (supported < 0) supported = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return supported;
}

/* out[o][0 .. LANES) = Σ_c Σ_tap wt[o][c][tap] · xpad[c][tap's shift ..] for the
 * block of lanes starting at xpad, o < 8; out rows `stride` floats apart. */
AVX512 static void block_forward(int c_in, size_t p, size_t plane, const float *xpad, const float *wt, float *out,
                                 size_t stride)
{
    __m512 acc[SM_CONV_DIRECT_PLANES][LANES / VEC];
#pragma GCC unroll 8
    for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++)
#pragma GCC unroll 2
        for (int v = 0; v < LANES / VEC; v++) acc[o][v] = _mm512_setzero_ps();
    const size_t w_plane = (size_t)c_in * TAPS; /* one output plane's weights */
    for (int c = 0; c < c_in; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                const float *in = xpad + c * plane + ky * p + kx, *wo = wt + (size_t)c * TAPS + ky * 3 + kx;
                __m512 x[LANES / VEC];
#pragma GCC unroll 2
                for (int v = 0; v < LANES / VEC; v++) x[v] = _mm512_loadu_ps(in + v * VEC);
#pragma GCC unroll 8
                for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++) {
                    const __m512 wv = _mm512_set1_ps(wo[o * w_plane]);
#pragma GCC unroll 2
                    for (int v = 0; v < LANES / VEC; v++) acc[o][v] = _mm512_fmadd_ps(wv, x[v], acc[o][v]);
                }
            }
#pragma GCC unroll 8
    for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++)
#pragma GCC unroll 2
        for (int v = 0; v < LANES / VEC; v++) _mm512_storeu_ps(out + o * stride + v * VEC, acc[o][v]);
}

void sm_conv_direct_forward(int c_in, int c_out, int h, int w, const float *xpad, const float *wt, float *y,
                            int add, float *out)
{
    assert(c_out % SM_CONV_DIRECT_PLANES == 0);
    const size_t p = pitch_of(w), plane = plane_of(h, w), lanes = lanes_of(h, w), hw = (size_t)h * w;
    for (int o0 = 0; o0 < c_out; o0 += SM_CONV_DIRECT_PLANES) {
        const float *wt_o = wt + (size_t)o0 * c_in * TAPS;
        for (size_t q = 0; q < lanes; q += LANES) block_forward(c_in, p, plane, xpad + q, wt_o, out + q, lanes);
        /* keep the lanes of real pixels: ox < w of every row */
        for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++)
            for (int r = 0; r < h; r++) {
                float *dst = y + (o0 + o) * hw + (size_t)r * w;
                const float *src = out + o * lanes + r * p;
                if (add) {
#pragma omp simd
                    for (int t = 0; t < w; t++) dst[t] += src[t];
                } else {
#pragma omp simd
                    for (int t = 0; t < w; t++) dst[t] = src[t];
                }
            }
    }
}

/* dw[o + j][c][t0 .. t0 + nt) += Σ_q dy_j · xpad[c][q + tap's shift] for
 * the four planes j < 4 of dy, read in output coordinates (already shifted
 * by P + 1), over all lanes.  Four planes share each load of x, so 4 · nt
 * fused multiply-adds need 4 + nt loads; nt <= 5 keeps the 4 · nt
 * accumulators and 4 dy vectors in 32 registers.  Inlined with constant
 * t0 and nt, its loops unroll fully. */
AVX512 static inline __attribute__((always_inline)) void quad_taps(size_t p, size_t plane, size_t lanes,
                                                                  const float *dy, const float *xc, float *dw,
                                                                  size_t w_plane, int t0, int nt)
{
    __m512 a[4][5];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) a[j][t] = _mm512_setzero_ps();
    for (size_t q = 0; q < lanes; q += VEC) {
        __m512 g[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) g[j] = _mm512_loadu_ps(dy + j * plane + q);
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) {
            const __m512 x = _mm512_loadu_ps(xc + q + (size_t)((t0 + t) / 3) * p + (t0 + t) % 3);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) a[j][t] = _mm512_fmadd_ps(g[j], x, a[j][t]);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) dw[j * w_plane + t0 + t] += _mm512_reduce_add_ps(a[j][t]);
}

/* All 9 taps of four output planes and one input plane, in two passes. */
AVX512 static void quad_weight_grad(size_t p, size_t plane, size_t lanes, const float *dy, const float *xc, float *dw,
                                    size_t w_plane)
{
    quad_taps(p, plane, lanes, dy, xc, dw, w_plane, 0, 5);
    quad_taps(p, plane, lanes, dy, xc, dw, w_plane, 5, 4);
}

void sm_conv_direct_weight_grad(int c_in, int c_out, int h, int w, const float *xpad, const float *dypad,
                                float *dw)
{
    /* The lanes run to h·P rounded up to a vector (< h·P + VEC); a lane past
     * h·P reads dy in the bottom padding row and the next plane's top one
     * (or the slack), 2P zeros, enough for P >= VEC / 2. */
    assert(c_out % 4 == 0 && pitch_of(w) >= VEC / 2);
    const size_t p = pitch_of(w), plane = plane_of(h, w), w_plane = (size_t)c_in * TAPS;
    const size_t lanes = ((size_t)h * p + VEC - 1) / VEC * VEC;
    for (int o = 0; o < c_out; o += 4)
        for (int c = 0; c < c_in; c++)
            quad_weight_grad(p, plane, lanes, dypad + o * plane + p + 1, xpad + c * plane,
                             dw + o * w_plane + (size_t)c * TAPS, w_plane);
}

#else

int sm_conv_direct_supported(void) { return 0; }

/* Never called where sm_conv_direct_supported() is 0. */
void sm_conv_direct_forward(int c_in, int c_out, int h, int w, const float *xpad, const float *wt, float *y,
                            int add, float *out)
{
    (void)c_in, (void)c_out, (void)h, (void)w, (void)xpad, (void)wt, (void)y, (void)add, (void)out;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_weight_grad(int c_in, int c_out, int h, int w, const float *xpad, const float *dypad,
                                float *dw)
{
    (void)c_in, (void)c_out, (void)h, (void)w, (void)xpad, (void)dypad, (void)dw;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

#endif
