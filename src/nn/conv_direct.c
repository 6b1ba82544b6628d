#include "nn/conv_direct.h"

#include <assert.h>
#include <string.h>

enum { LANES = 32, VEC = 16, TAPS = 9 };

/* Past the last padded plane: a forward block's last lane reads at most
 * LANES + 2 floats beyond its plane (stride 1; P + 1 more within the four
 * phases of stride 2, which end with a whole plane). */
enum { SLACK = 48 };

/* Where the taps read: the output lanes have pitch p; an input plane (or
 * its four phases) spans cstride floats; tap t of a plane reads at its
 * start + off[t]. */
typedef struct {
    size_t h_out, w_out, p, plane, cstride, lanes;
    size_t off[TAPS];
} geometry;

/* A tap's phase (odd = 1) and shift within it, for stride 2. */
static void phase_of(int k, int *odd, int *shift)
{
    *odd = k != 1;
    *shift = k != 0;
}

static geometry geometry_of(const sm_conv2d_shape *s)
{
    geometry g;
    g.h_out = (size_t)sm_conv2d_h_out(s);
    g.w_out = (size_t)sm_conv2d_w_out(s);
    g.p = g.w_out + 2;
    g.plane = (g.h_out + 2) * g.p;
    g.cstride = s->stride == 1 ? g.plane : 4 * g.plane;
    g.lanes = (g.h_out * g.p + LANES - 1) / LANES * LANES;
    for (int t = 0; t < TAPS; t++) {
        const int ky = t / 3, kx = t % 3;
        if (s->stride == 1) {
            g.off[t] = (size_t)ky * g.p + (size_t)kx;
            continue;
        }
        int a, b, dy, dx;
        phase_of(ky, &a, &dy);
        phase_of(kx, &b, &dx);
        g.off[t] = (size_t)(2 * a + b) * g.plane + (size_t)dy * g.p + (size_t)dx;
    }
    return g;
}

int sm_conv_direct_shape(const sm_conv2d_shape *s)
{
    return s->k == 3 && s->pad == 1 && (s->stride == 1 || s->stride == 2) && s->c_out % SM_CONV_DIRECT_PLANES == 0 &&
           sm_conv2d_w_out(s) >= 6;
}

size_t sm_conv_direct_input_floats(const sm_conv2d_shape *s)
{
    return (size_t)s->c_in * geometry_of(s).cstride + SLACK;
}

size_t sm_conv_direct_output_floats(const sm_conv2d_shape *s)
{
    return (size_t)s->c_out * geometry_of(s).plane + SLACK;
}

size_t sm_conv_direct_lanes_floats(const sm_conv2d_shape *s)
{
    return 2 * SM_CONV_DIRECT_PLANES * geometry_of(s).lanes;
}

/* Output lanes q = oy·P + ox of dy transposed (rounded up to a vector). */
static size_t transposed_lanes(const geometry *g) { return (g->h_out * g->p + VEC - 1) / VEC * VEC; }

size_t sm_conv_direct_transposed_floats(const sm_conv2d_shape *s)
{
    const geometry g = geometry_of(s);
    return (size_t)s->c_out * transposed_lanes(&g);
}

int sm_conv_direct_transposed_shape(const sm_conv2d_shape *s)
{
    return sm_conv_direct_shape(s) && s->c_out % (2 * VEC) == 0 && s->c_in % 4 == 0;
}

/* Phase f of dx (stride 2: dx[c][2i + a][2j + b], a = f / 2, b = f % 2;
 * stride 1: dx itself) in lanes q = i·P + j: the kernel taps that reach it,
 * in the order its weights are stored, and where each reads padded dy
 * relative to q.  Stride 1: all nine, flipped (tap 8 − t reads at
 * (t / 3)·P + t % 3).  Stride 2: tap ky of output row oy reads input row
 * 2·oy − 1 + ky, so even rows 2i take ky = 1 (dy row i), odd rows 2i + 1
 * take ky = 0 (dy row i + 1) and ky = 2 (row i); columns alike: 1, 2, 2 and
 * 4 taps. */
static int phase_taps(const sm_conv2d_shape *s, size_t p, int f, int taps[TAPS], size_t off[TAPS])
{
    int nt = 0;
    for (int t = 0; t < TAPS; t++) {
        const int ky = t / 3, kx = t % 3;
        if (s->stride == 1) {
            taps[nt] = TAPS - 1 - t;
            off[nt++] = (size_t)ky * p + (size_t)kx;
            continue;
        }
        if ((ky == 1) != (f / 2 == 0) || (kx == 1) != (f % 2 == 0)) continue;
        taps[nt] = t;
        off[nt++] = (size_t)(1 + (ky == 0)) * p + (size_t)(1 + (kx == 0));
    }
    return nt;
}

void sm_conv_direct_input_grad_kernel(const sm_conv2d_shape *s, const float *w, float *wt)
{
    assert(sm_conv_direct_shape(s));
    for (int f = 0; f < s->stride * s->stride; f++) {
        int taps[TAPS];
        size_t off[TAPS];
        const int nt = phase_taps(s, 0, f, taps, off);
        for (size_t c = 0; c < (size_t)s->c_in; c++)
            for (size_t o = 0; o < (size_t)s->c_out; o++)
                for (int t = 0; t < nt; t++) *wt++ = w[(o * (size_t)s->c_in + c) * TAPS + (size_t)taps[t]];
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

/* libgcc reads the CPU's features once, at load time: this is a lookup. */
int sm_conv_direct_supported(void) { return __builtin_cpu_supports("avx512f") ? 1 : 0; }

/* The lanes below n (n <= VEC, or more for all 16). */
static __mmask16 low_lanes(size_t n) { return n >= VEC ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* A channel's map (nn/channel_map.h) in every lane, or none. */
typedef struct {
    __m512 mean, scale, shift;
    int on, relu;
} lane_map;

AVX512 static lane_map lane_map_of(const sm_channel_map *map, int ch)
{
    lane_map f = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), map != NULL, 0};
    if (!map) return f;
    f.mean = _mm512_set1_ps(map->mean[ch]);
    f.scale = _mm512_set1_ps(map->scale[ch]);
    f.shift = _mm512_set1_ps(map->shift[ch]);
    f.relu = map->relu;
    return f;
}

/* x through the map: sm_channel_value's float operations, one by one (so
 * nothing is contracted), so its bits; the ReLU keeps v > 0 only, so NaN
 * and −0 become +0 as there. */
AVX512 static __m512 map_lanes(lane_map f, __m512 x)
{
    if (!f.on) return x;
    const __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, f.mean), f.scale), f.shift);
    return f.relu ? _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), v) : v;
}

/* Where a padded plane's values come from: the plane v through channel
 * ch's map f (or as they are), or with grad, BatchNorm's input gradient
 * read from its output gradient v and its input x (nn/channel_map.h,
 * sm_grad_map), with the channel's a, b and d. */
typedef struct {
    const float *v, *x;
    lane_map f;
    __m512 a, b, d;
    int grad;
    size_t ahead; /* to the next image's values, fetched meanwhile; 0: none */
} plane_source;

AVX512 static plane_source map_source(const float *v, const sm_channel_map *map, int ch, size_t ahead)
{
    const __m512 zero = _mm512_setzero_ps();
    return (plane_source){v, NULL, lane_map_of(map, ch), zero, zero, zero, 0, ahead};
}

/* Channel ch of the gradient map, whose x planes are plane floats apart. */
AVX512 static plane_source grad_source(const float *dy, const sm_grad_map *gm, int ch, size_t plane, size_t ahead)
{
    return (plane_source){dy,
                          gm->x + (size_t)ch * plane,
                          lane_map_of(&gm->map, ch),
                          _mm512_set1_ps(gm->a[ch]),
                          _mm512_set1_ps(gm->b[ch]),
                          _mm512_set1_ps(gm->d[ch]),
                          1,
                          ahead};
}

/* The n <= 16 values of the source from float at, zeros above.  The
 * gradient spells out BatchNorm's input_grad_body, a · g + b · (x − μ) + d
 * with g = dy masked by the map's ReLU test, in its order, so its bits. */
AVX512 static __m512 source_lanes(const plane_source *s, size_t at, size_t n)
{
    const __mmask16 m = low_lanes(n);
    /* the next image's line that matches at, asked for into L2 (here and
     * not in a function of its own: GCC deletes calls to a void function
     * that only prefetches) */
    if (s->ahead) _mm_prefetch((const char *)(s->v + at + s->ahead), _MM_HINT_T1);
    const __m512 v = _mm512_maskz_loadu_ps(m, s->v + at);
    if (!s->grad) return map_lanes(s->f, v);
    if (s->ahead) _mm_prefetch((const char *)(s->x + at + s->ahead), _MM_HINT_T1);
    const __m512 xc = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, s->x + at), s->f.mean);
    const __m512 kept = _mm512_add_ps(_mm512_mul_ps(xc, s->f.scale), s->f.shift);
    const __m512 g = s->f.relu ? _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(kept, _mm512_setzero_ps(), _CMP_GT_OQ), v) : v;
    return _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(s->a, g), _mm512_mul_ps(s->b, xc)), s->d);
}

/* dst[0 .. n) = 0, 16 floats a store, the last one masked. */
AVX512 static void zero_run(float *dst, size_t n)
{
    size_t t = 0;
    for (; t + VEC <= n; t += VEC) _mm512_storeu_ps(dst + t, _mm512_setzero_ps());
    if (t < n) _mm512_mask_storeu_ps(dst + t, low_lanes(n - t), _mm512_setzero_ps());
}

/* A padded plane (pitch p, plane_rows rows) is zero but for its rows 1..
 * and columns 1..; each of its rows is written as one run of p floats from
 * its column 1: its values, then zeros to the next row's column 0 (its
 * right padding and the next row's left).  The rows of 7 to 28 values of
 * the networks here take one or two stores, and no scalar ones.  Where
 * p >= 8 (every shape the kernels take) the stores of a run are whole
 * vectors, zero past the run, as masked stores are slow on the AMD EPYC
 * host (the padding took 25–40% less time without them, 2026-12-06).  So a
 * run's last store may write up to 15 zeros past it: into the next row's
 * run, written after it, or below the last row, where the plane is zero
 * (2p > 15 keeps them off the following plane's first row of values); the
 * last plane's land in the slack. */

/* The top row and the first row's left padding. */
AVX512 static void zero_top(float *plane, size_t p) { zero_run(plane, p + 1); }

/* Everything past the run of the last of rows. */
AVX512 static void zero_below(float *plane, size_t rows, size_t p, size_t plane_rows)
{
    const size_t below = (rows + 1) * p + 1;
    zero_run(plane + below, plane_rows * p - below);
}

/* Floats t .. t + 16 of a run of p (run[t] is column t + 1): v's first n
 * lanes, zeros above; a whole vector when p >= 8 (the shapes the kernels
 * take), masked at the run's end for the narrower planes padding also
 * serves. */
AVX512 static void store_run_part(float *run, size_t p, size_t t, size_t n, __m512 v)
{
    v = _mm512_maskz_mov_ps(low_lanes(n), v);
    if (p >= VEC / 2)
        _mm512_storeu_ps(run + t, v);
    else
        _mm512_mask_storeu_ps(run + t, low_lanes(p - t), v);
}

/* How many of the next m values from t a row of cols values still has. */
static size_t values_from(size_t cols, size_t t, size_t m) { return cols > t ? (cols - t < m ? cols - t : m) : 0; }

/* Plane dst = the source's plane (rows × cols), padded: read 16 at a time
 * with masks. */
AVX512 static void pad_plane(const plane_source *src, size_t rows, size_t cols, size_t p, size_t plane_rows,
                             float *dst)
{
    zero_top(dst, p);
    for (size_t r = 0; r < rows; r++) {
        float *run = dst + (r + 1) * p + 1;
        for (size_t t = 0; t < p; t += VEC) {
            const size_t n = values_from(cols, t, VEC);
            store_run_part(run, p, t, n, source_lanes(src, r * cols + t, n));
        }
    }
    zero_below(dst, rows, p, plane_rows);
}

/* The four phases of the source's plane (h × w), each padded like a plane
 * of g's output (phase (a, b) at dst + (2a + b)·plane: its row i + 1,
 * column j + 1 = src[2i + a][2j + b]).  Each row of the plane is read once,
 * 32 values a time, and split into its even and odd columns in registers:
 * those go to the row's two phases. */
AVX512 static void pad_phases(const plane_source *src, size_t h, size_t w, const geometry *g, float *dst)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int k = 0; k < 4; k++) zero_top(dst + k * g->plane, g->p);
    for (size_t y = 0; y < h; y++) {
        float *run_even = dst + 2 * (y % 2) * g->plane + (y / 2 + 1) * g->p + 1, *run_odd = run_even + g->plane;
        for (size_t t = 0; t < g->p; t += VEC) { /* the phases' columns t .., src's 2t .. */
            const size_t n = values_from(w, 2 * t, 2 * VEC), at = y * w + 2 * t;
            const __m512 lo = source_lanes(src, at, n < VEC ? n : VEC);
            /* lo again where the row ends within lo: the lanes it gives are cut */
            const __m512 hi = n > VEC ? source_lanes(src, at + VEC, n - VEC) : lo;
            store_run_part(run_even, g->p, t, (n + 1) / 2, _mm512_permutex2var_ps(lo, even, hi));
            store_run_part(run_odd, g->p, t, n / 2, _mm512_permutex2var_ps(lo, odd, hi));
        }
    }
    for (size_t a = 0; a < 2; a++)
        for (size_t b = 0; b < 2; b++) zero_below(dst + (2 * a + b) * g->plane, (h - a + 1) / 2, g->p, g->h_out + 2);
}

/* c planes of h_out × w_out (x at stride 1 through map, or dy, through gm
 * unless NULL) padded whole, one after the other, then the zeroed slack. */
AVX512 static void pad_planes(int c, const geometry *g, const float *src, const sm_channel_map *map,
                              const sm_grad_map *gm, size_t ahead, float *dst)
{
    const size_t plane = g->h_out * g->w_out;
    for (int ch = 0; ch < c; ch++) {
        const float *at = src + ch * plane;
        const plane_source ps = gm ? grad_source(at, gm, ch, plane, ahead) : map_source(at, map, ch, ahead);
        pad_plane(&ps, g->h_out, g->w_out, g->p, g->h_out + 2, dst + ch * g->plane);
    }
    memset(dst + c * g->plane, 0, SLACK * sizeof *dst);
}

/* Each float written once, by loops rather than memcpy/memset: the runs are
 * a few dozen floats, where a call costs more than the copy. */
void sm_conv_direct_pad_input(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, size_t ahead,
                              float *xpad)
{
    const geometry g = geometry_of(s);
    if (s->stride == 1) {
        pad_planes(s->c_in, &g, x, map, NULL, ahead, xpad);
        return;
    }
    const size_t h = (size_t)s->h_in, w = (size_t)s->w_in;
    for (int c = 0; c < s->c_in; c++) {
        const plane_source ps = map_source(x + c * h * w, map, c, ahead);
        pad_phases(&ps, h, w, &g, xpad + c * g.cstride);
    }
    memset(xpad + s->c_in * g.cstride, 0, SLACK * sizeof *xpad);
}

void sm_conv_direct_pad_output(const sm_conv2d_shape *s, const float *dy, const sm_grad_map *gm, size_t ahead,
                               float *dypad)
{
    const geometry g = geometry_of(s);
    pad_planes(s->c_out, &g, dy, NULL, gm, ahead, dypad);
}

/* dst[r·cols + t] = src[r·p + t] for r < rows, t < cols: 16 floats a copy. */
AVX512 static void copy_rows(const float *src, size_t rows, size_t cols, size_t p, float *dst)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t t = 0; t < cols; t += VEC) {
            const __mmask16 n = low_lanes(cols - t);
            _mm512_mask_storeu_ps(dst + r * cols + t, n, _mm512_maskz_loadu_ps(n, src + r * p + t));
        }
}

void sm_conv_direct_columns(const sm_conv2d_shape *s, const float *xpad, float *cols, size_t ld)
{
    assert(sm_conv_direct_shape(s));
    const geometry g = geometry_of(s);
    for (size_t c = 0; c < (size_t)s->c_in; c++)
        for (int t = 0; t < TAPS; t++)
            copy_rows(xpad + c * g.cstride + g.off[t], g.h_out, g.w_out, g.p, cols + (c * TAPS + (size_t)t) * ld);
}

/* Which lanes q .. q + VEC of an output plane are kept (lane l when
 * (q + l) mod P < w_out and q + l < h_out·P), and where in the plane of
 * h_out × w_out the first kept one goes: lane r·P + t goes to r·w_out + t,
 * so the kept lanes of a vector go to consecutive floats.  A vector spans
 * at most three rows (P >= 8), so two conditional subtractions of P give
 * each lane's column. */
AVX512 static __mmask16 kept_lanes(const geometry *g, size_t q, size_t *first)
{
    const size_t t = q % g->p;
    *first = q / g->p * g->w_out + (t < g->w_out ? t : g->w_out);
    const __m512i p = _mm512_set1_epi32((int)g->p);
    __m512i col = _mm512_add_epi32(_mm512_set1_epi32((int)t),
                                   _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    col = _mm512_mask_sub_epi32(col, _mm512_cmpge_epi32_mask(col, p), col, p);
    col = _mm512_mask_sub_epi32(col, _mm512_cmpge_epi32_mask(col, p), col, p);
    const size_t end = g->h_out * g->p;
    return _mm512_mask_cmplt_epi32_mask(low_lanes(end > q ? end - q : 0), col, _mm512_set1_epi32((int)g->w_out));
}

/* The first n lanes of v into dst[0 .. n), set or added. */
AVX512 static void store_run(float *dst, size_t n, __m512 v, int add)
{
    const __mmask16 run = low_lanes(n);
    if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(run, dst), v);
    _mm512_mask_storeu_ps(dst, run, v);
}

/* The kept lanes of acc (keep) into dst, set or added: compressed to the
 * front of a register, then one store of the run.  The compress writes a
 * register, not memory: its memory form is reported slow on AMD's Zen 4
 * (not measured here).  When set with room for a whole vector before the
 * plane's end, the store is whole, zeros past the run (masked stores are
 * slow there, see the padding above): the floats past it are the next kept
 * lanes', stored after it. */
AVX512 static void store_kept(__mmask16 keep, __m512 acc, float *dst, int add, size_t room)
{
    const __m512 run = _mm512_maskz_compress_ps(keep, acc);
    if (!add && room >= VEC)
        _mm512_storeu_ps(dst, run);
    else
        store_run(dst, (size_t)__builtin_popcount(keep), run, add);
}

/* The 8 planes' sums for the LANES lanes from q: straight into the planes
 * of h_out × w_out from y, set or added, or with y NULL into
 * lanes[o][q ..] (planes g->lanes apart). */
AVX512 static void block_store(const geometry *g, size_t q, __m512 acc[SM_CONV_DIRECT_PLANES][LANES / VEC],
                               float *y, int add, float *lanes)
{
#pragma GCC unroll 2
    for (int v = 0; v < LANES / VEC; v++) {
        const size_t qv = q + (size_t)v * VEC;
        if (!y) {
#pragma GCC unroll 8
            for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++) _mm512_storeu_ps(lanes + o * g->lanes + qv, acc[o][v]);
            continue;
        }
        size_t first;
        const __mmask16 keep = kept_lanes(g, qv, &first);
        if (!keep) continue; /* past the last row: first would point past the plane */
        const size_t plane = g->h_out * g->w_out;
#pragma GCC unroll 8
        for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++)
            store_kept(keep, acc[o][v], y + first + o * plane, add, plane - first);
    }
}

/* Σ_c Σ_{t < nt} wt[o][c][t] · in[c·cstride + off[t] + q ..] for the LANES
 * lanes from q and the 8 planes o of wt (a plane's weights c_in·nt apart),
 * stored by block_store. */
AVX512 static void block_forward(int c_in, int nt, const geometry *g, const float *in, size_t q, const float *wt,
                                 float *y, int add, float *lanes)
{
    __m512 acc[SM_CONV_DIRECT_PLANES][LANES / VEC];
#pragma GCC unroll 8
    for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++)
#pragma GCC unroll 2
        for (int v = 0; v < LANES / VEC; v++) acc[o][v] = _mm512_setzero_ps();
    const size_t w_plane = (size_t)c_in * (size_t)nt; /* one output plane's weights */
    for (int c = 0; c < c_in; c++)
        for (int t = 0; t < nt; t++) {
            const float *at = in + q + c * g->cstride + g->off[t], *wo = wt + (size_t)c * (size_t)nt + t;
            __m512 x[LANES / VEC];
#pragma GCC unroll 2
            for (int v = 0; v < LANES / VEC; v++) x[v] = _mm512_loadu_ps(at + v * VEC);
#pragma GCC unroll 8
            for (int o = 0; o < SM_CONV_DIRECT_PLANES; o++) {
                const __m512 wv = _mm512_set1_ps(wo[o * w_plane]);
#pragma GCC unroll 2
                for (int v = 0; v < LANES / VEC; v++) acc[o][v] = _mm512_fmadd_ps(wv, x[v], acc[o][v]);
            }
        }
    block_store(g, q, acc, y, add, lanes);
}

/* y (c_out planes of h_out × w_out) (+)= the convolution of the padded
 * planes in (c_in of them) by the nt taps of g, weights wt[o][c][t]. */
static void convolve(int c_in, int c_out, int nt, const geometry *g, const float *in, const float *wt, float *y,
                     int add)
{
    for (int o0 = 0; o0 < c_out; o0 += SM_CONV_DIRECT_PLANES)
        for (size_t q = 0; q < g->lanes; q += LANES)
            block_forward(c_in, nt, g, in, q, wt + (size_t)o0 * (size_t)c_in * (size_t)nt,
                          y + (size_t)o0 * g->h_out * g->w_out, add, NULL);
}

/* The 8 planes' lanes of the convolution by one block of weights wt, in
 * lanes (planes g->lanes apart). */
static void convolve_lanes(int c_in, int nt, const geometry *g, const float *in, const float *wt, float *lanes)
{
    for (size_t q = 0; q < g->lanes; q += LANES) block_forward(c_in, nt, g, in, q, wt, NULL, 0, lanes);
}

/* Rows a, a + 2, … of 8 planes of dx (h × w, planes h·w apart), set or
 * added, from the lanes of its phases (a, 0) and (a, 1), even and odd:
 * dx[2i + a][2j + b] = phase b's lane i·P + j.  The two phases' columns are
 * interleaved in registers, 32 columns of dx from 16 of each. */
AVX512 static void interleave_phases(const geometry *g, const float *even, const float *odd, size_t h, size_t w,
                                     size_t a, float *dx, int add)
{
    const __m512i front = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i back = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (size_t o = 0; o < SM_CONV_DIRECT_PLANES; o++)
        for (size_t i = 0; 2 * i + a < h; i++) {
            const float *e = even + o * g->lanes + i * g->p, *d = odd + o * g->lanes + i * g->p;
            float *row = dx + o * h * w + (2 * i + a) * w;
            for (size_t j = 0; j < w; j += 2 * VEC) {
                const size_t n = w - j < 2 * VEC ? w - j : 2 * VEC; /* columns of dx here */
                const __m512 ve = _mm512_maskz_loadu_ps(low_lanes((n + 1) / 2), e + j / 2);
                const __m512 vo = _mm512_maskz_loadu_ps(low_lanes(n / 2), d + j / 2);
                store_run(row + j, n, _mm512_permutex2var_ps(ve, front, vo), add);
                if (n > VEC) store_run(row + j + VEC, n - VEC, _mm512_permutex2var_ps(ve, back, vo), add);
            }
        }
}

void sm_conv_direct_forward(const sm_conv2d_shape *s, const float *xpad, const float *wt, float *y, int add)
{
    assert(sm_conv_direct_shape(s));
    const geometry g = geometry_of(s);
    convolve(s->c_in, s->c_out, TAPS, &g, xpad, wt, y, add);
}

/* Stride 2: per block of 8 planes of dx, its rows of each parity a from
 * the lanes of phases (a, 0) and (a, 1), whose weights follow one another
 * in wt (sm_conv_direct_input_grad_kernel). */
static void input_grad_stride2(const sm_conv2d_shape *s, geometry g, const float *dypad, const float *wt, float *dx,
                               int add, float *lanes)
{
    const size_t h = (size_t)s->h_in, w = (size_t)s->w_in, per_tap = (size_t)s->c_in * (size_t)s->c_out;
    geometry phase[4];
    const float *w_phase[4];
    int nt[4];
    for (int f = 0; f < 4; f++) {
        int taps[TAPS];
        phase[f] = g;
        nt[f] = phase_taps(s, g.p, f, taps, phase[f].off);
        w_phase[f] = f ? w_phase[f - 1] + per_tap * (size_t)nt[f - 1] : wt;
    }
    float *odd = lanes + SM_CONV_DIRECT_PLANES * g.lanes;
    for (int c0 = 0; c0 < s->c_in; c0 += SM_CONV_DIRECT_PLANES)
        for (int a = 0; a < 2; a++) {
            const size_t block = (size_t)c0 * (size_t)s->c_out;
            convolve_lanes(s->c_out, nt[2 * a], &phase[2 * a], dypad, w_phase[2 * a] + block * (size_t)nt[2 * a],
                           lanes);
            convolve_lanes(s->c_out, nt[2 * a + 1], &phase[2 * a + 1], dypad,
                           w_phase[2 * a + 1] + block * (size_t)nt[2 * a + 1], odd);
            interleave_phases(&g, lanes, odd, h, w, (size_t)a, dx + (size_t)c0 * h * w, add);
        }
}

void sm_conv_direct_input_grad(const sm_conv2d_shape *s, const float *dypad, const float *wt, float *dx, int add,
                               float *lanes)
{
    assert(sm_conv_direct_shape(s) && s->c_in % SM_CONV_DIRECT_PLANES == 0);
    geometry g = geometry_of(s);
    g.cstride = g.plane; /* dy's planes are padded whole */
    if (s->stride == 2) {
        input_grad_stride2(s, g, dypad, wt, dx, add, lanes);
        return;
    }
    int taps[TAPS];
    const int nt = phase_taps(s, g.p, 0, taps, g.off);
    convolve(s->c_out, s->c_in, nt, &g, dypad, wt, dx, add); /* dx has the output's size */
}

/* dw[o + j][c][t0 .. t0 + nt) += Σ_q dy_j[q] · xc[q + off[t]] for the four
 * planes j < 4 of dy, read in output coordinates (already shifted by
 * P + 1), over n lanes.  Four planes share each load of x, so 4 · nt fused
 * multiply-adds need 4 + nt loads; nt <= 5 keeps the 4 · nt accumulators and
 * 4 dy vectors in 32 registers.  Inlined with constant t0 and nt, its loops
 * unroll fully. */
AVX512 static inline __attribute__((always_inline)) void quad_taps(const geometry *g, size_t n, const float *dy,
                                                                  const float *xc, float *dw, size_t w_plane, int t0,
                                                                  int nt)
{
    __m512 a[4][5];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) a[j][t] = _mm512_setzero_ps();
    for (size_t q = 0; q < n; q += VEC) {
        __m512 d[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) d[j] = _mm512_loadu_ps(dy + j * g->plane + q);
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) {
            const __m512 x = _mm512_loadu_ps(xc + g->off[t0 + t] + q);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) a[j][t] = _mm512_fmadd_ps(d[j], x, a[j][t]);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
#pragma GCC unroll 5
        for (int t = 0; t < nt; t++) dw[j * w_plane + t0 + t] += _mm512_reduce_add_ps(a[j][t]);
}

/* All 9 taps of four output planes and one input plane, in two passes. */
AVX512 static void quad_weight_grad(const geometry *g, size_t n, const float *dy, const float *xc, float *dw,
                                    size_t w_plane)
{
    quad_taps(g, n, dy, xc, dw, w_plane, 0, 5);
    quad_taps(g, n, dy, xc, dw, w_plane, 5, 4);
}

void sm_conv_direct_weight_grad(const sm_conv2d_shape *s, const float *xpad, const float *dypad, float *dw)
{
    assert(sm_conv_direct_shape(s));
    const geometry g = geometry_of(s);
    const size_t w_plane = (size_t)s->c_in * TAPS;
    /* The lanes run to h_out·P rounded up to a vector (< h_out·P + VEC); a
     * lane past h_out·P reads dy in the bottom padding row and the next
     * plane's top one (or the slack), 2P zeros, enough for P >= VEC / 2
     * (sm_conv_direct_shape's w_out >= 6). */
    const size_t n = (g.h_out * g.p + VEC - 1) / VEC * VEC;
    for (int o = 0; o < s->c_out; o += 4)
        for (int c = 0; c < s->c_in; c++)
            quad_weight_grad(&g, n, dypad + o * g.plane + g.p + 1, xpad + c * g.cstride,
                             dw + o * w_plane + (size_t)c * TAPS, w_plane);
}

/* The 16 × 16 floats of r transposed in registers: r[i][j] becomes r[j][i]
 * (pairs of rows, then quads within 128-bit lanes, then the lanes). */
AVX512 static void transpose16(__m512 r[VEC])
{
    __m512 t[VEC];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
        t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
    }
}

/* dyt[q·c_out + o] = dy[o] at lane q = oy·P + ox, read from dypad (shifted
 * by P + 1), 16 planes × 16 lanes a transposition; the lanes past w_out
 * get the padding's values (or the next plane's, or the slack's), which
 * nothing reads. */
AVX512 static void transpose_output(const sm_conv2d_shape *s, const geometry *g, const float *dypad, float *dyt)
{
    const size_t c_out = (size_t)s->c_out, n = transposed_lanes(g);
    for (size_t o = 0; o < c_out; o += VEC) {
        const float *from = dypad + o * g->plane + g->p + 1;
        for (size_t q = 0; q < n; q += VEC) {
            __m512 r[VEC];
            for (int i = 0; i < VEC; i++) r[i] = _mm512_loadu_ps(from + i * g->plane + q);
            transpose16(r);
            for (int i = 0; i < VEC; i++) _mm512_storeu_ps(dyt + (q + (size_t)i) * c_out + o, r[i]);
        }
    }
}

/* dwt[((c + i)·9 + 3·ky + kx)·c_out + o + 16·v] += Σ_{oy, ox} dyt[q][o + 16·v] ·
 * xc[i·cstride + off[3·ky + kx] + oy·P + ox] for the cb input planes i, the
 * three taps of row ky and the ov vectors v of output planes: the output
 * planes sit in the lanes, so each pixel adds outer products, ov loads of
 * dy and 3·cb broadcasts of x for 3·cb·ov fused multiply-adds, and no sums
 * across lanes are left at the end (the small maps' cost in
 * sm_conv_direct_weight_grad).  Inlined with constant ov and cb (3·cb·ov
 * <= 24 accumulators), its loops unroll fully. */
AVX512 static inline __attribute__((always_inline)) void outer_row(const geometry *g, size_t c_out, const float *dyt,
                                                                  const float *xc, int ky, float *dwt, int ov,
                                                                  int cb)
{
    __m512 a[4][3][4];
    float *at[4][3];
#pragma GCC unroll 4
    for (int i = 0; i < cb; i++)
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++) {
            at[i][kx] = dwt + ((size_t)i * TAPS + (size_t)(3 * ky + kx)) * c_out;
#pragma GCC unroll 4
            for (int v = 0; v < ov; v++) a[i][kx][v] = _mm512_loadu_ps(at[i][kx] + v * VEC);
        }
    for (size_t oy = 0; oy < g->h_out; oy++) {
        const float *d = dyt + oy * g->p * c_out, *x = xc + oy * g->p;
        for (size_t ox = 0; ox < g->w_out; ox++, d += c_out, x++) {
            __m512 dv[4];
#pragma GCC unroll 4
            for (int v = 0; v < ov; v++) dv[v] = _mm512_loadu_ps(d + v * VEC);
#pragma GCC unroll 4
            for (int i = 0; i < cb; i++)
#pragma GCC unroll 3
                for (int kx = 0; kx < 3; kx++) {
                    const __m512 xv = _mm512_set1_ps(x[i * g->cstride + g->off[3 * ky + kx]]);
#pragma GCC unroll 4
                    for (int v = 0; v < ov; v++) a[i][kx][v] = _mm512_fmadd_ps(dv[v], xv, a[i][kx][v]);
                }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < cb; i++)
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; kx++)
#pragma GCC unroll 4
            for (int v = 0; v < ov; v++) _mm512_storeu_ps(at[i][kx] + v * VEC, a[i][kx][v]);
}

/* All input planes and taps for the ov vectors of output planes from o
 * (two input planes at a time when ov = 4, four when 2: 24 accumulators).
 * Not for 16 output planes: with one vector of dy (and eight input planes)
 * each fused multiply-add needs a broadcast of its own, which bounds it at
 * ~115 GFLOP/s, under sm_conv_direct_weight_grad on those layers' maps. */
AVX512 static void outer_planes(const sm_conv2d_shape *s, const geometry *g, const float *xpad, const float *dyt,
                                float *dwt, size_t o, int ov)
{
    const size_t c_out = (size_t)s->c_out;
    for (size_t c = 0; c < (size_t)s->c_in; c += (size_t)(8 / ov)) {
        const float *xc = xpad + c * g->cstride;
        float *dw = dwt + c * TAPS * c_out + o;
        for (int ky = 0; ky < 3; ky++)
            if (ov == 4) outer_row(g, c_out, dyt + o, xc, ky, dw, 4, 2);
            else outer_row(g, c_out, dyt + o, xc, ky, dw, 2, 4);
    }
}

void sm_conv_direct_weight_grad_transposed(const sm_conv2d_shape *s, const float *xpad, const float *dypad,
                                           float *dyt, float *dwt)
{
    assert(sm_conv_direct_transposed_shape(s));
    const geometry g = geometry_of(s);
    transpose_output(s, &g, dypad, dyt);
    size_t o = 0;
    for (; o + 4 * VEC <= (size_t)s->c_out; o += 4 * VEC) outer_planes(s, &g, xpad, dyt, dwt, o, 4);
    if (o < (size_t)s->c_out) outer_planes(s, &g, xpad, dyt, dwt, o, 2);
}

#else

int sm_conv_direct_supported(void) { return 0; }

/* Never called where sm_conv_direct_supported() is 0. */
void sm_conv_direct_pad_input(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, size_t ahead,
                              float *xpad)
{
    (void)s, (void)x, (void)map, (void)ahead, (void)xpad;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_pad_output(const sm_conv2d_shape *s, const float *dy, const sm_grad_map *gm, size_t ahead,
                               float *dypad)
{
    (void)s, (void)dy, (void)gm, (void)ahead, (void)dypad;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_columns(const sm_conv2d_shape *s, const float *xpad, float *cols, size_t ld)
{
    (void)s, (void)xpad, (void)cols, (void)ld;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_forward(const sm_conv2d_shape *s, const float *xpad, const float *wt, float *y, int add)
{
    (void)s, (void)xpad, (void)wt, (void)y, (void)add;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_input_grad(const sm_conv2d_shape *s, const float *dypad, const float *wt, float *dx, int add,
                               float *lanes)
{
    (void)s, (void)dypad, (void)wt, (void)dx, (void)add, (void)lanes;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_weight_grad(const sm_conv2d_shape *s, const float *xpad, const float *dypad, float *dw)
{
    (void)s, (void)xpad, (void)dypad, (void)dw;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

void sm_conv_direct_weight_grad_transposed(const sm_conv2d_shape *s, const float *xpad, const float *dypad,
                                           float *dyt, float *dwt)
{
    (void)s, (void)xpad, (void)dypad, (void)dyt, (void)dwt;
    assert(!"AVX-512 direct convolution on a CPU without it");
}

#endif
