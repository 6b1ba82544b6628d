#include "nn/conv2d.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/conv_direct.h"
#include "nn/gemm.h"

/* dW is reduced over at most this many fixed chunks of the batch (see the
 * header): enough to keep 16 threads busy, few enough that the partial sums
 * stay small (16 × c_out × c_in·k·k floats). */
enum { DW_CHUNKS = 16 };
/* The chunks' partial sums are added this many elements at a time: 16 × 4 KB, in L1. */
enum { SUM_BLOCK = 1024 };

/* Scratch regions start on 64-byte boundaries so threads never share a line. */
static size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }

int sm_conv2d_h_out(const sm_conv2d_shape *s) { return (s->h_in + 2 * s->pad - s->k) / s->stride + 1; }

int sm_conv2d_w_out(const sm_conv2d_shape *s) { return (s->w_in + 2 * s->pad - s->k) / s->stride + 1; }

size_t sm_conv2d_weight_count(const sm_conv2d_shape *s)
{
    return (size_t)s->c_out * (size_t)s->c_in * (size_t)s->k * (size_t)s->k;
}

static void check_shape(const sm_conv2d_shape *s)
{
    assert(s->n >= 1 && s->c_in >= 1 && s->c_out >= 1 && s->k >= 1);
    assert(s->stride >= 1 && s->pad >= 0);
    assert(s->h_in + 2 * s->pad >= s->k && s->w_in + 2 * s->pad >= s->k);
}

/* Rows of the column matrix (c_in·k·k) and its columns (output pixels). */
static size_t col_rows(const sm_conv2d_shape *s) { return (size_t)s->c_in * (size_t)s->k * (size_t)s->k; }
static size_t col_cols(const sm_conv2d_shape *s)
{
    return (size_t)sm_conv2d_h_out(s) * (size_t)sm_conv2d_w_out(s);
}

/* Floats of one image's input and output. */
static size_t x_image(const sm_conv2d_shape *s) { return (size_t)s->c_in * s->h_in * s->w_in; }
static size_t y_image(const sm_conv2d_shape *s) { return (size_t)s->c_out * col_cols(s); }

static int dw_chunks(const sm_conv2d_shape *s) { return s->n < DW_CHUNKS ? s->n : DW_CHUNKS; }

/* Images whose columns go side by side into one sgemm: enough for about
 * GROUP_COLS output pixels, one image when its map alone has that many
 * (256 timed best of 64-512: 7 × 7 maps go five at a time, 4 × 4 sixteen).  A
 * product per image on a small map is mostly overhead: at 128 channels on
 * 4 × 4 the weights (147k floats) are packed again for 16 columns, and dW's
 * partial sum is read and written for an inner dimension of 16.  The group
 * depends on the shape only (never on threads), so results stay independent
 * of the thread count. */
enum { GROUP_COLS = 256 };
static int group_images(const sm_conv2d_shape *s)
{
    size_t g = GROUP_COLS / col_cols(s);
    if (g < 1) g = 1;
    return g < (size_t)s->n ? (int)g : s->n;
}

/* The input gradient of a stride-1 convolution is itself a convolution: of
 * dy with the kernel flipped in space and transposed in channels, padded by
 * k − 1 − pad.  Run like a forward (im2col of dy, then one sgemm with
 * K = c_out·k·k adding straight onto dx), it replaces an sgemm with
 * K = c_out, which writes c_in·k·k column gradients per pixel for 2·c_out
 * flops each (slow at 16 channels), and col2im's scatter-add of them.  The
 * columns of dy then give dW too (image_backward_from_dy). */
static int dx_by_convolution(const sm_conv2d_shape *s) { return s->stride == 1 && s->pad <= s->k - 1; }

static sm_conv2d_shape transposed(const sm_conv2d_shape *s)
{
    return (sm_conv2d_shape){.n = s->n, .c_in = s->c_out, .h_in = sm_conv2d_h_out(s), .w_in = sm_conv2d_w_out(s),
                             .c_out = s->c_in, .k = s->k, .stride = 1, .pad = s->k - 1 - s->pad};
}

/* wt[c][o][k−1−ky][k−1−kx] = w[o][c][ky][kx]: the kernel of `transposed`. */
static void flip_kernel(const sm_conv2d_shape *s, const float *w, float *wt)
{
    const size_t kk = (size_t)s->k * (size_t)s->k;
    for (size_t o = 0; o < (size_t)s->c_out; o++)
        for (size_t c = 0; c < (size_t)s->c_in; c++)
            for (size_t j = 0; j < kk; j++) wt[(c * s->c_out + o) * kk + (kk - 1 - j)] = w[(o * s->c_in + c) * kk + j];
}

/* The direct convolution (src/nn/conv_direct.h) replaces im2col + sgemm, on
 * CPUs with AVX-512 unless sm_conv2d_allow_direct(0) said otherwise, where
 * it was timed faster (one thread, batch 256, forward + backward against
 * im2col + sgemm):
 *   forward: 3 × 3 layers with padding 1 whose output has at least
 *     DIRECT_MIN_WIDTH columns (1.3–1.5× at stride 1 on 28 × 28 and
 *     14 × 14, 1.25× at stride 2 onto 14 × 14 and 7 × 7, 1.13× at stride 1
 *     on 7 × 7);
 *   backward: of those, the ones whose weight gradient can take the output
 *     planes in lanes (sm_conv_direct_transposed_shape: 32, 64, … output
 *     planes), at stride 1 or 2 (DIRECT_TRANSPOSED), and the other stride-1
 *     ones on maps of DIRECT_BACKWARD_MIN_WIDTH columns or more (DIRECT: 1.3×
 *     at 28 × 28 and 14 × 14, 2.7× for the 1-plane stem; its sums across
 *     lanes made it 1.6–1.8× slower than sgemm onto 7 × 7 maps).  In cache,
 *     one core, the transposed weight gradient ran at 159–190 GFLOP/s where
 *     the other ran at 64–129 (stride 2, 14 × 14 and 7 × 7 maps), 182
 *     against 172 for 32 planes on 28 × 28, but 119 against 171 for 16
 *     planes (its broadcasts bound it there); the whole backward of the
 *     small network's layers over 256 images went from 8.8–9.0 to 7.7–8.2
 *     ms at stride 2, 12.7–13.1 to 11.0–11.5 on 14 × 14 and 12.6–12.9 to
 *     11.9–12.1 on 7 × 7 (2026-12-06).  Either gives dW, and dX when the
 *     input planes come in blocks of 8; otherwise dX goes through sgemm and
 *     col2im;
 *   dX alone: the other stride-2 layers of the forward's choice (16 output
 *     planes; direct_dx), whose dW takes sgemm on columns copied from the
 *     padded planes (group_columns). */
enum { DIRECT_MIN_WIDTH = 7, DIRECT_BACKWARD_MIN_WIDTH = 14 };
static int direct_allowed = 1;

void sm_conv2d_allow_direct(int allow) { direct_allowed = allow; }

/* The shape alone (scratch is sized by it), then the switch and the CPU. */
static int direct_shape(const sm_conv2d_shape *s)
{
    return sm_conv_direct_shape(s) && sm_conv2d_w_out(s) >= DIRECT_MIN_WIDTH;
}
static int direct(const sm_conv2d_shape *s)
{
    return direct_shape(s) && direct_allowed && sm_conv_direct_supported();
}
static int direct_backward(const sm_conv2d_shape *s)
{
    return direct(s) && (sm_conv_direct_transposed_shape(s) ||
                         (s->stride == 1 && sm_conv2d_w_out(s) >= DIRECT_BACKWARD_MIN_WIDTH));
}

/* Per thread, for a group of images: the columns of x, then those of dy (dX
 * by convolution) or the column gradients (col2im), then the group's planes
 * side by side (planes_floats), then its images of x through the input map
 * or one image padded for the direct kernels (mapped_floats); forward uses
 * the first and third parts, backward from dy the second and third, and
 * either the last when there is a map; backward from x all four. */
static size_t x_cols_floats(const sm_conv2d_shape *s)
{
    return round_up_16((size_t)group_images(s) * col_rows(s) * col_cols(s));
}
static size_t dx_cols_floats(const sm_conv2d_shape *s)
{
    if (!dx_by_convolution(s)) return x_cols_floats(s);
    sm_conv2d_shape t = transposed(s);
    return round_up_16((size_t)group_images(s) * col_rows(&t) * col_cols(&t));
}
static size_t planes_floats(const sm_conv2d_shape *s)
{
    const size_t in = x_image(s), out = y_image(s);
    return round_up_16((size_t)group_images(s) * (in > out ? in : out));
}
/* The group's images through the map or, for the direct convolution's
 * shapes, one image padded (group_columns). */
static size_t mapped_floats(const sm_conv2d_shape *s)
{
    const size_t mapped = (size_t)group_images(s) * x_image(s);
    const size_t padded = direct_shape(s) ? sm_conv_direct_input_floats(s) : 0;
    return round_up_16(mapped > padded ? mapped : padded);
}
/* The direct convolution's per-thread scratch: x padded, dy padded (the
 * backward), the lanes of a stride-2 input gradient, dy with its planes in
 * lanes (the transposed weight gradient, where the shape takes it). */
static size_t direct_floats(const sm_conv2d_shape *s)
{
    const size_t dyt = sm_conv_direct_transposed_shape(s) ? sm_conv_direct_transposed_floats(s) : 0;
    return round_up_16(sm_conv_direct_input_floats(s)) + round_up_16(sm_conv_direct_output_floats(s)) +
           round_up_16(sm_conv_direct_lanes_floats(s)) + dyt;
}
static size_t thread_floats(const sm_conv2d_shape *s);

typedef struct {
    float *xpad, *dypad, *lanes, *dyt;
} direct_scratch;

/* The calling thread's direct scratch. */
static direct_scratch direct_region(const sm_conv2d_shape *s, float *scratch)
{
    direct_scratch d;
    d.xpad = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
    d.dypad = d.xpad + round_up_16(sm_conv_direct_input_floats(s));
    d.lanes = d.dypad + round_up_16(sm_conv_direct_output_floats(s));
    d.dyt = d.lanes + round_up_16(sm_conv_direct_lanes_floats(s));
    return d;
}

static size_t thread_floats(const sm_conv2d_shape *s)
{
    const size_t lowered = x_cols_floats(s) + dx_cols_floats(s) + planes_floats(s) + mapped_floats(s);
    return direct_shape(s) && direct_floats(s) > lowered ? direct_floats(s) : lowered;
}

size_t sm_conv2d_scratch_floats(const sm_conv2d_shape *s, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    /* the threads' regions, then the dW partials and the flipped kernel */
    size_t w_floats = round_up_16(sm_conv2d_weight_count(s));
    return (size_t)threads * thread_floats(s) + (size_t)dw_chunks(s) * w_floats + w_floats;
}

/* Output columns ox whose input column ix = ox·stride + shift (shift = kx − pad)
 * lies in [0, w_in): [lo, hi).  Everything outside reads padding. */
static void valid_range(const sm_conv2d_shape *s, int shift, int w_out, int *lo, int *hi)
{
    int first = shift >= 0 ? 0 : (-shift + s->stride - 1) / s->stride;
    int last = s->w_in - 1 - shift; /* the largest ox·stride allowed */
    int end = last < 0 ? 0 : last / s->stride + 1;
    *lo = first < w_out ? first : w_out;
    *hi = end < w_out ? end : w_out;
    if (*hi < *lo) *hi = *lo;
}

/* The part of column row (ky, kx) that reads the image rather than padding:
 * output rows [y0, y1) and, within each, output columns [lo, hi). */
typedef struct {
    int y0, y1, lo, hi;
} row_window;

static row_window window(const sm_conv2d_shape *s, int ky, int kx)
{
    const int h_out = sm_conv2d_h_out(s);
    row_window r;
    /* iy = oy·stride − pad + ky must lie in [0, h_in) */
    r.y0 = ky >= s->pad ? 0 : (s->pad - ky + s->stride - 1) / s->stride;
    r.y1 = s->h_in + s->pad - ky <= 0 ? 0 : (s->h_in + s->pad - ky - 1) / s->stride + 1;
    if (r.y0 > h_out) r.y0 = h_out;
    if (r.y1 > h_out) r.y1 = h_out;
    if (r.y1 < r.y0) r.y1 = r.y0;
    valid_range(s, kx - s->pad, sm_conv2d_w_out(s), &r.lo, &r.hi);
    return r;
}

/* Stride 1 and w_out == w_in (the "same" convolution, k = 2·pad + 1): column
 * row (ky, kx) is then the input plane read at a fixed offset, so its valid
 * rows are ONE contiguous span [q0, q1) of the row, read from the plane at
 * q + offset.  Inside the span, the gaps between consecutive output rows'
 * valid columns, [oy·w + hi, (oy + 1)·w + lo), fall into padding.  One long
 * copy or add per column row instead of one per output row: per-row runs are
 * 28 floats on a 28 × 28 map, where the call overhead dominates. */
static int same_width(const sm_conv2d_shape *s) { return s->stride == 1 && sm_conv2d_w_out(s) == s->w_in; }

typedef struct {
    size_t q0, q1;
    long offset;
} row_span;

/* Empty (q0 == q1) when the window is. */
static row_span span(const sm_conv2d_shape *s, row_window r, int ky, int kx)
{
    const size_t w = (size_t)s->w_in;
    if (r.y1 <= r.y0 || r.hi <= r.lo) return (row_span){0, 0, 0};
    return (row_span){r.y0 * w + (size_t)r.lo, (r.y1 - 1) * w + (size_t)r.hi,
                      (long)(ky - s->pad) * (long)w + (kx - s->pad)};
}

static void zero_gaps(const sm_conv2d_shape *s, row_window r, float *row)
{
    const size_t w = (size_t)s->w_in, gap = w - (size_t)(r.hi - r.lo);
    /* Column by column: a gap is a float or two, and gcc turns a loop over
     * a gap's floats into a memset call, which costs more than the stores. */
    for (size_t j = 0; j < gap; j++)
        for (int oy = r.y0; oy + 1 < r.y1; oy++) row[oy * w + (size_t)r.hi + j] = 0.0f;
}

/* One column row of im2col: row[oy·w_out + ox] = plane[oy·s − p + ky][ox·s − p + kx]
 * (0 outside); r and sp are (ky, kx)'s window and span. */
static void im2col_row(const sm_conv2d_shape *s, row_window r, row_span sp, const float *plane, int ky, int kx,
                       float *row)
{
    const int w_out = sm_conv2d_w_out(s), shift = kx - s->pad;
    const size_t p = (size_t)sm_conv2d_h_out(s) * (size_t)w_out;
    if (same_width(s)) {
        memset(row, 0, sp.q0 * sizeof(float));
        memcpy(row + sp.q0, plane + (long)sp.q0 + sp.offset, (sp.q1 - sp.q0) * sizeof(float));
        memset(row + sp.q1, 0, (p - sp.q1) * sizeof(float));
        if (sp.q1 > sp.q0) zero_gaps(s, r, row);
        return;
    }
    memset(row, 0, (size_t)r.y0 * w_out * sizeof(float));
    for (int oy = r.y0; oy < r.y1; oy++) {
        const float *in = plane + (size_t)(oy * s->stride - s->pad + ky) * (size_t)s->w_in;
        float *out = row + (size_t)oy * w_out;
        for (int ox = 0; ox < r.lo; ox++) out[ox] = 0.0f;
        for (int ox = r.lo; ox < r.hi; ox++) out[ox] = in[ox * s->stride + shift];
        for (int ox = r.hi; ox < w_out; ox++) out[ox] = 0.0f;
    }
    memset(row + (size_t)r.y1 * w_out, 0, (p - (size_t)r.y1 * w_out) * sizeof(float));
}

/* The adjoint of im2col_row: plane[iy][ix] += every entry of row that copied
 * it.  Same-width rows have their gaps zeroed first (row is scratch), so the
 * span adds 0 there instead of splitting into per-output-row runs. */
static void col2im_row_add(const sm_conv2d_shape *s, row_window r, row_span sp, float *row, int ky, int kx,
                           float *plane)
{
    const int w_out = sm_conv2d_w_out(s), shift = kx - s->pad;
    if (same_width(s)) {
        if (sp.q1 == sp.q0) return;
        zero_gaps(s, r, row);
        float *in = plane + sp.offset;
#pragma omp simd
        for (size_t q = sp.q0; q < sp.q1; q++) in[q] += row[q];
        return;
    }
    for (int oy = r.y0; oy < r.y1; oy++) {
        float *in = plane + (size_t)(oy * s->stride - s->pad + ky) * (size_t)s->w_in;
        const float *g = row + (size_t)oy * w_out;
        for (int ox = r.lo; ox < r.hi; ox++) in[ox * s->stride + shift] += g[ox];
    }
}

/* cols[(c·k + ky)·k + kx][oy·w_out + ox] = x[c][oy·s − p + ky][ox·s − p + kx] (0 outside),
 * rows ld floats apart (a group's images sit side by side in each row); or,
 * with dx, its adjoint: dx[c][iy][ix] += every column entry that copied it
 * (x unused, and cols is scratch: col2im_row_add may zero entries that read
 * padding).  (ky, kx) outermost: their window is computed once for all c_in
 * planes. */
static void im2col_or_adjoint(const sm_conv2d_shape *s, const float *x, float *cols, size_t ld, float *dx)
{
    const int k = s->k;
    const size_t plane = (size_t)s->h_in * s->w_in;
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            row_window r = window(s, ky, kx);
            row_span sp = span(s, r, ky, kx);
            for (int c = 0; c < s->c_in; c++) {
                float *row = cols + (size_t)((c * k + ky) * k + kx) * ld;
                if (dx) col2im_row_add(s, r, sp, row, ky, kx, dx + c * plane);
                else im2col_row(s, r, sp, x + c * plane, ky, kx, row);
            }
        }
}

/* A group: images [first, first + m) of the batch. */
typedef struct {
    int first, m;
} group;

/* The group starting at image first: per_group images, fewer at end. */
static group group_at(int first, int end, int per_group)
{
    return (group){first, end - first < per_group ? end - first : per_group};
}

/* The group's c planes of p floats side by side, as one c × m·p matrix:
 * wide[c][j·p + q] = images[first + j][c][q] (image stride img).  A group of
 * one image already is that matrix, so it is returned in place. */
static const float *side_by_side(const float *images, size_t img, int c, size_t p, group g, float *wide)
{
    const float *src = images + (size_t)g.first * img;
    if (g.m == 1) return src;
    for (int j = 0; j < g.m; j++)
        for (int ch = 0; ch < c; ch++)
            memcpy(wide + (ch * (size_t)g.m + j) * p, src + (size_t)j * img + ch * p, p * sizeof(float));
    return wide;
}

/* The inverse of side_by_side for a product computed into wide: copies (add
 * = 0) or adds (add = 1) it into the group's images.  Nothing to do for a
 * group of one image, whose product went to the image directly. */
static void put_back(const float *wide, size_t img, int c, size_t p, group g, float *images, int add)
{
    if (g.m == 1) return;
    for (int j = 0; j < g.m; j++)
        for (int ch = 0; ch < c; ch++) {
            float *dst = images + (size_t)(g.first + j) * img + ch * p;
            const float *src = wide + (ch * (size_t)g.m + j) * p;
            if (!add) {
                memcpy(dst, src, p * sizeof(float));
                continue;
            }
#pragma omp simd
            for (size_t q = 0; q < p; q++) dst[q] += src[q];
        }
}

/* Where a group's product goes: the image itself for a group of one (with
 * beta 1 when adding), else wide, to be put back. */
static float *product_target(float *images, size_t img, group g, float *wide)
{
    return g.m == 1 ? images + (size_t)g.first * img : wide;
}

/* The same group counted from its first image (for a pointer to that image). */
static group from_first(group g) { return (group){0, g.m}; }

/* Floats from image i's planes to image i + 1's (of size image), or 0 for
 * the last image: the direct padding fetches the next image's values into L2
 * while it reads image i's (sm_conv_direct_pad_input). */
static size_t next_image(const sm_conv2d_shape *s, int i, size_t image) { return i + 1 < s->n ? image : 0; }

/* The group's images of x, through the input map into mapped unless map is
 * NULL; the returned images are those of from_first(g). */
static const float *group_input(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, group g,
                                float *mapped)
{
    const float *src = x + (size_t)g.first * x_image(s);
    if (!map) return src;
    const size_t plane = (size_t)s->h_in * s->w_in;
    for (int j = 0; j < g.m; j++)
        for (int c = 0; c < s->c_in; c++) {
            const size_t at = (size_t)j * x_image(s) + c * plane;
            sm_channel_map_run(map, c, src + at, 1, plane, NULL, mapped + at);
        }
    return mapped;
}

/* The columns of the group's images side by side: rows of m·p floats. */
static void group_im2col(const sm_conv2d_shape *s, const float *images, size_t img, group g, float *cols)
{
    const size_t p = col_cols(s);
    for (int j = 0; j < g.m; j++)
        im2col_or_adjoint(s, images + (size_t)(g.first + j) * img, cols + (size_t)j * p, g.m * p, NULL);
}

/* The columns of the group's images (x through map) side by side: for the
 * direct convolution's layers copied a row at a time from each image padded
 * into work (the map applied by the padding, with its bits), else by
 * im2col after the map into work; the same columns either way.  At
 * stride 2 im2col reads every other float, one at a time: the padded
 * copy took the backward of 16 planes 28 × 28 → 32 planes 14 × 14 from
 * 12.0 to 9.9 ms and the 1-plane stem's onto 14 × 14 from 0.57 to 0.43
 * (one thread, batch 256, medians of 4; onto 7 × 7 unchanged, 9.5 ms).
 * work: mapped_floats. */
static void group_columns(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, group g,
                          float *cols, float *work)
{
    if (!direct(s)) {
        group_im2col(s, group_input(s, x, map, g, work), x_image(s), from_first(g), cols);
        return;
    }
    const size_t p = col_cols(s);
    for (int j = 0; j < g.m; j++) {
        const int i = g.first + j;
        sm_conv_direct_pad_input(s, x + (size_t)i * x_image(s), map, next_image(s, i, x_image(s)), work);
        sm_conv_direct_columns(s, work, cols + (size_t)j * p, g.m * p);
    }
}

/* Image by image, each thread in its own scratch (no sgemm). */
static void forward_direct(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                           float *y, float *scratch, int threads)
{
#pragma omp parallel num_threads(threads)
    {
        const direct_scratch d = direct_region(s, scratch);
#pragma omp for schedule(static)
        for (int i = 0; i < s->n; i++) {
            sm_conv_direct_pad_input(s, x + (size_t)i * x_image(s), map, next_image(s, i, x_image(s)), d.xpad);
            sm_conv_direct_forward(s, d.xpad, w, y + (size_t)i * y_image(s), 0);
        }
    }
}

void sm_conv2d_forward(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                       float *y, float *scratch, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    if (direct(s)) {
        forward_direct(s, x, map, w, y, scratch, threads);
        return;
    }
    const int rows = (int)col_rows(s), per_group = group_images(s);
    const int groups = (s->n + per_group - 1) / per_group;
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
        float *cols = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
        float *wide = cols + x_cols_floats(s) + dx_cols_floats(s), *mapped = wide + planes_floats(s);
#pragma omp for schedule(static)
        for (int gi = 0; gi < groups; gi++) {
            const group g = group_at(gi * per_group, s->n, per_group);
            const int ld = g.m * (int)col_cols(s);
            group_im2col(s, group_input(s, x, map, g, mapped), x_image(s), from_first(g), cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, ld, rows, 1.0f, w, rows, cols, ld, 0.0f,
                        product_target(y, y_image(s), g, wide), ld);
            put_back(wide, y_image(s), s->c_out, col_cols(s), g, y, 0);
        }
    }
    sm_gemm_restore_blas(saved);
}

/* One group's backward through the columns of dy (stride 1, dx wanted).
 * Those columns give dx by convolution and also the weight gradient, so x
 * needs no im2col at all:
 *   G (c_out·k·k × c_in) (+)= dy columns · Xᵀ, with G[o·k·k + k·k−1−q][c] = dw[o][c][q]
 *   dX (c_in × m·h_in·w_in) += w_flipped (c_in × c_out·k·k) · dy columns
 * (X and dX: the group's planes side by side). */
static void group_backward_from_dy(const sm_conv2d_shape *s, const float *xg, const float *dy,
                                   const float *w_flipped, float *dx, int accumulate, group g, float *partial,
                                   float beta, float *cols, float *wide)
{
    const sm_conv2d_shape t = transposed(s);
    const int t_rows = (int)col_rows(&t), ld = g.m * (int)col_cols(&t);
    group_im2col(&t, dy, y_image(s), g, cols);
    const float *xs = side_by_side(xg, x_image(s), s->c_in, col_cols(&t), from_first(g), wide);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t_rows, s->c_in, ld, 1.0f, cols, ld, xs, ld, beta, partial,
                s->c_in);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_in, ld, t_rows, 1.0f, w_flipped, t_rows, cols, ld,
                g.m == 1 && accumulate ? 1.0f : 0.0f, product_target(dx, x_image(s), g, wide), ld);
    put_back(wide, x_image(s), s->c_in, col_cols(&t), g, dx, accumulate);
}

/* dx (+)= col2im(wᵀ · dY) for the group, dys its dy planes side by side;
 * without accumulate the group's dx images are zeroed first, while they are
 * about to be written anyway. */
static void group_dx_by_col2im(const sm_conv2d_shape *s, const float *dys, const float *w, float *dx, int accumulate,
                               group g, float *dcols)
{
    const int rows = (int)col_rows(s), p = (int)col_cols(s), ld = g.m * p;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, ld, s->c_out, 1.0f, w, rows, dys, ld, 0.0f, dcols, ld);
    if (!accumulate) memset(dx + (size_t)g.first * x_image(s), 0, (size_t)g.m * x_image(s) * sizeof *dx);
    for (int j = 0; j < g.m; j++)
        im2col_or_adjoint(s, NULL, dcols + (size_t)j * p, (size_t)ld, dx + (size_t)(g.first + j) * x_image(s));
}

/* Otherwise through the columns of x:
 *   dWᵀ (c_in·k·k × c_out) (+)= columns · dYᵀ
 *   dx (+)= col2im(wᵀ · dY), when dx is wanted.
 * dWᵀ rather than dW because OpenBLAS runs that orientation faster: 83
 * against 66 GFLOP/s for 16 output planes on a 28 × 28 map (one core). */
static void group_backward_from_x(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map,
                                  const float *dy, const float *w, float *dx, int accumulate, group g, float *partial,
                                  float beta, float *cols, float *dcols, float *wide, float *mapped)
{
    const int rows = (int)col_rows(s), p = (int)col_cols(s), ld = g.m * p;
    group_columns(s, x, map, g, cols, mapped);
    const float *dys = side_by_side(dy, y_image(s), s->c_out, (size_t)p, g, wide);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, s->c_out, ld, 1.0f, cols, ld, dys, ld, beta, partial,
                s->c_out);
    if (dx) group_dx_by_col2im(s, dys, w, dx, accumulate, g, dcols);
}

/* Image i's dx (+)= by the direct kernels, from its dy padded in d.dypad;
 * w_dx from sm_conv_direct_input_grad_kernel. */
static void image_dx_direct(const sm_conv2d_shape *s, const float *w_dx, float *dx, int accumulate, int i,
                            direct_scratch d)
{
    sm_conv_direct_input_grad(s, d.dypad, w_dx, dx + (size_t)i * x_image(s), accumulate, d.lanes);
}

/* How backward runs, and so how a chunk's partial sum of dw is laid out:
 * the direct path's weight gradient sums across lanes (DIRECT) or takes
 * the output planes in lanes (DIRECT_TRANSPOSED, where the shape allows). */
typedef enum { FROM_X, FROM_DY, DIRECT, DIRECT_TRANSPOSED } backward_path;

/* Image i's backward by the direct convolution: dw into the chunk's
 * partial sum, in the path's layout, and dx unless it is NULL; dy
 * through dy_map unless it is NULL. */
static void image_backward_direct(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map,
                                  const float *dy, const sm_grad_map *dy_map, const float *w_dx, float *dx,
                                  int accumulate, int i, backward_path path, float *partial, direct_scratch d)
{
    sm_conv_direct_pad_input(s, x + (size_t)i * x_image(s), map, next_image(s, i, x_image(s)), d.xpad);
    sm_grad_map image_map; /* dy_map with the image's x */
    if (dy_map) image_map = *dy_map, image_map.x += (size_t)i * y_image(s);
    sm_conv_direct_pad_output(s, dy + (size_t)i * y_image(s), dy_map ? &image_map : NULL,
                              next_image(s, i, y_image(s)), d.dypad);
    if (path == DIRECT_TRANSPOSED) sm_conv_direct_weight_grad_transposed(s, d.xpad, d.dypad, d.dyt, partial);
    else sm_conv_direct_weight_grad(s, d.xpad, d.dypad, partial);
    if (dx) image_dx_direct(s, w_dx, dx, accumulate, i, d);
}

/* Where dw[o][c][q] (q = ky·k + kx) sits in a chunk's partial sum: G of
 * group_backward_from_dy, dWᵀ of group_backward_from_x and the transposed
 * direct kernel, dw itself for the other. */
static size_t partial_index(const sm_conv2d_shape *s, size_t o, size_t c, size_t q, backward_path path)
{
    const size_t kk = (size_t)s->k * (size_t)s->k, c_in = (size_t)s->c_in;
    switch (path) {
    case FROM_DY: return (o * kk + kk - 1 - q) * c_in + c;
    case FROM_X:
    case DIRECT_TRANSPOSED: return (c * kk + q) * (size_t)s->c_out + o;
    default: return (o * c_in + c) * kk + q;
    }
}

static backward_path path_of(const sm_conv2d_shape *s, const float *dx)
{
    if (direct_backward(s)) return sm_conv_direct_transposed_shape(s) ? DIRECT_TRANSPOSED : DIRECT;
    return dx && dx_by_convolution(s) ? FROM_DY : FROM_X;
}

/* dx by the direct kernels rather than col2im: in the direct path, and for
 * the stride-2 layers that take the direct forward, whose dW stays with
 * sgemm (FROM_X: the layer's backward then took 19.2 instead of 23.5 ms for
 * 16 planes 28 × 28 → 32 planes 14 × 14, 15.2 instead of 17.7 for 32 14 × 14
 * → 64 7 × 7, one thread, batch 256); dx's planes must come in the kernels'
 * blocks of 8. */
static int direct_dx(const sm_conv2d_shape *s, backward_path path)
{
    return path != FROM_DY && direct(s) && s->c_in % SM_CONV_DIRECT_PLANES == 0;
}

/* Images [first, end) of one chunk into its partial sum, in image order. */
static void chunk_backward(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                           const float *w_dx, const float *dy, const sm_grad_map *dy_map, float *dx, int accumulate,
                           backward_path path, int first, int end, float *partial, float *scratch)
{
    const int per_group = group_images(s);
    float *cols = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
    float *dcols = cols + x_cols_floats(s), *wide = dcols + dx_cols_floats(s), *mapped = wide + planes_floats(s);
    /* the direct scratch and the columns share the thread's region: a
     * group's images are done before its dx uses the columns */
    const direct_scratch d = direct_region(s, scratch);
    float *image_dx = direct_dx(s, path) ? dx : NULL;
    const int direct_path = path == DIRECT || path == DIRECT_TRANSPOSED;
    if (direct_path) memset(partial, 0, sm_conv2d_weight_count(s) * sizeof *partial);
    for (int i = first; i < end; i += per_group) {
        const group g = group_at(i, end, per_group);
        const float beta = i == first ? 0.0f : 1.0f;
        if (direct_path) {
            for (int j = g.first; j < g.first + g.m; j++)
                image_backward_direct(s, x, map, dy, dy_map, w_dx, image_dx, accumulate, j, path, partial, d);
            if (dx && !image_dx)
                group_dx_by_col2im(s, side_by_side(dy, y_image(s), s->c_out, col_cols(s), g, wide), w, dx,
                                   accumulate, g, dcols);
        } else if (path == FROM_DY)
            group_backward_from_dy(s, group_input(s, x, map, g, mapped), dy, w_dx, dx, accumulate, g, partial, beta,
                                   dcols, wide);
        else {
            group_backward_from_x(s, x, map, dy, w, image_dx ? NULL : dx, accumulate, g, partial, beta, cols, dcols,
                                  wide, mapped);
            /* the group's columns are done with: the direct scratch may reuse them */
            for (int j = g.first; image_dx && j < g.first + g.m; j++) {
                sm_conv_direct_pad_output(s, dy + (size_t)j * y_image(s), NULL, next_image(s, j, y_image(s)),
                                          d.dypad);
                image_dx_direct(s, w_dx, image_dx, accumulate, j, d);
            }
        }
    }
}

int sm_conv2d_backward_takes_dy_map(const sm_conv2d_shape *s, int with_dx)
{
    return direct_backward(s) && (!with_dx || direct_dx(s, DIRECT));
}

void sm_conv2d_backward(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                        const float *dy, const sm_grad_map *dy_map, float *dx, int accumulate, float *dw,
                        float *scratch, int threads)
{
    check_shape(s);
    assert(threads >= 1 && (!dy_map || sm_conv2d_backward_takes_dy_map(s, dx != NULL)));
    const size_t w_count = sm_conv2d_weight_count(s);
    const size_t partial_stride = round_up_16(w_count);
    const int chunks = dw_chunks(s);
    const backward_path path = path_of(s, dx);
    float *partials = scratch + (size_t)threads * thread_floats(s);
    /* the kernel of dx by convolution: sgemm's (flipped) or the direct one */
    float *w_dx = partials + (size_t)chunks * partial_stride;
    if (dx && path == FROM_DY) flip_kernel(s, w, w_dx);
    if (dx && direct_dx(s, path)) sm_conv_direct_input_grad_kernel(s, w, w_dx);
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int c = 0; c < chunks; c++) {
            int first = (int)((long)c * s->n / chunks), end = (int)((long)(c + 1) * s->n / chunks);
            chunk_backward(s, x, map, w, w_dx, dy, dy_map, dx, accumulate, path, first, end,
                           partials + (size_t)c * partial_stride, scratch);
        }
        /* Chunk sums in chunk order, element by element (independent of
         * threads): into chunk 0's partial, a block of elements at a time
         * so that the adds run across elements as vectors (one element's
         * chain of dependent adds at a time was 4% of the default network's
         * step), then into dw through the layout's index. */
#pragma omp for schedule(static)
        for (size_t b = 0; b < w_count; b += SUM_BLOCK) {
            const size_t len = w_count - b < SUM_BLOCK ? w_count - b : SUM_BLOCK;
            float *sum = partials + b;
#pragma omp simd
            for (size_t a = 0; a < len; a++) sum[a] = 0.0f + sum[a]; /* as the sums began: −0 becomes +0 */
            for (int c = 1; c < chunks; c++) {
                const float *part = partials + (size_t)c * partial_stride + b;
#pragma omp simd
                for (size_t a = 0; a < len; a++) sum[a] += part[a];
            }
        }
        const size_t kk = (size_t)s->k * (size_t)s->k;
#pragma omp for schedule(static)
        for (size_t oc = 0; oc < (size_t)s->c_out * (size_t)s->c_in; oc++)
            for (size_t q = 0; q < kk; q++)
                dw[oc * kk + q] += partials[partial_index(s, oc / (size_t)s->c_in, oc % (size_t)s->c_in, q, path)];
    }
    sm_gemm_restore_blas(saved);
}
