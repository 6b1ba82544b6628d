#include "nn/conv2d.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/gemm.h"

/* dW is reduced over at most this many fixed chunks of the batch (see the
 * header): enough to keep 16 threads busy, few enough that the partial sums
 * stay small (16 × c_out × c_in·k·k floats). */
enum { DW_CHUNKS = 16 };

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

static int dw_chunks(const sm_conv2d_shape *s) { return s->n < DW_CHUNKS ? s->n : DW_CHUNKS; }

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

/* Per thread: the columns of x, then those of dy (dX by convolution) or the
 * column gradients (col2im); forward uses only the first part, backward
 * from dy only the second. */
static size_t x_cols_floats(const sm_conv2d_shape *s) { return round_up_16(col_rows(s) * col_cols(s)); }
static size_t dx_cols_floats(const sm_conv2d_shape *s)
{
    if (!dx_by_convolution(s)) return x_cols_floats(s);
    sm_conv2d_shape t = transposed(s);
    return round_up_16(col_rows(&t) * col_cols(&t));
}
static size_t thread_floats(const sm_conv2d_shape *s) { return x_cols_floats(s) + dx_cols_floats(s); }

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

/* cols[(c·k + ky)·k + kx][oy·w_out + ox] = x[c][oy·s − p + ky][ox·s − p + kx] (0 outside).
 * (ky, kx) outermost: their window is computed once for all c_in planes. */
static void im2col(const sm_conv2d_shape *s, const float *x, float *cols)
{
    const int k = s->k;
    const size_t plane = (size_t)s->h_in * s->w_in, p = col_cols(s);
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            row_window r = window(s, ky, kx);
            row_span sp = span(s, r, ky, kx);
            for (int c = 0; c < s->c_in; c++)
                im2col_row(s, r, sp, x + c * plane, ky, kx, cols + (size_t)((c * k + ky) * k + kx) * p);
        }
}

/* The adjoint of im2col: dx[c][iy][ix] += every column entry that copied it
 * (cols is scratch: col2im_row_add may zero entries that read padding). */
static void col2im_add(const sm_conv2d_shape *s, float *cols, float *dx)
{
    const int k = s->k;
    const size_t plane = (size_t)s->h_in * s->w_in, p = col_cols(s);
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            row_window r = window(s, ky, kx);
            row_span sp = span(s, r, ky, kx);
            for (int c = 0; c < s->c_in; c++)
                col2im_row_add(s, r, sp, cols + (size_t)((c * k + ky) * k + kx) * p, ky, kx, dx + c * plane);
        }
}

void sm_conv2d_forward(const sm_conv2d_shape *s, const float *x, const float *w, float *y,
                       float *scratch, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    const int rows = (int)col_rows(s), cols_n = (int)col_cols(s);
    const size_t x_img = (size_t)s->c_in * s->h_in * s->w_in;
    const size_t y_img = (size_t)s->c_out * cols_n;
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
        float *cols = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
#pragma omp for schedule(static)
        for (int i = 0; i < s->n; i++) {
            im2col(s, x + (size_t)i * x_img, cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, cols_n, rows, 1.0f, w,
                        rows, cols, cols_n, 0.0f, y + (size_t)i * y_img, cols_n);
        }
    }
    sm_gemm_restore_blas(saved);
}

/* One image's backward through the columns of dy (stride 1, dx wanted).
 * Those columns give dx by convolution and also the weight gradient, so x
 * needs no im2col at all:
 *   G (c_out·k·k × c_in) (+)= dy columns · x_iᵀ, with G[o·k·k + k·k−1−q][c] = dw[o][c][q]
 *   dx_i (c_in × h_in·w_in) += w_flipped (c_in × c_out·k·k) · dy columns */
static void image_backward_from_dy(const sm_conv2d_shape *s, const float *x_i, const float *dy_i,
                                   const float *w_flipped, float *dx_i, float *partial, float beta, float *cols)
{
    const sm_conv2d_shape t = transposed(s);
    const int t_rows = (int)col_rows(&t), t_cols = (int)col_cols(&t);
    im2col(&t, dy_i, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t_rows, s->c_in, t_cols, 1.0f, cols, t_cols, x_i, t_cols,
                beta, partial, s->c_in);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_in, t_cols, t_rows, 1.0f, w_flipped, t_rows, cols,
                t_cols, 1.0f, dx_i, t_cols);
}

/* Otherwise through the columns of x:
 *   dWᵀ (c_in·k·k × c_out) (+)= columns · dy_iᵀ
 *   dx_i += col2im(wᵀ · dy_i), when dx_i is wanted.
 * dWᵀ rather than dW because OpenBLAS runs that orientation faster: 83
 * against 66 GFLOP/s for 16 output planes on a 28 × 28 map (one core). */
static void image_backward_from_x(const sm_conv2d_shape *s, const float *x_i, const float *dy_i, const float *w,
                                  float *dx_i, float *partial, float beta, float *cols, float *dcols)
{
    const int rows = (int)col_rows(s), cols_n = (int)col_cols(s);
    im2col(s, x_i, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, s->c_out, cols_n, 1.0f, cols, cols_n, dy_i, cols_n,
                beta, partial, s->c_out);
    if (!dx_i) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols_n, s->c_out, 1.0f, w, rows, dy_i, cols_n, 0.0f,
                dcols, cols_n);
    col2im_add(s, dcols, dx_i);
}

/* Where dw[j] = dw[o][c][q] (q = ky·k + kx) sits in a chunk's partial sum:
 * G of image_backward_from_dy or dWᵀ of image_backward_from_x. */
static size_t partial_index(const sm_conv2d_shape *s, size_t j, int from_dy)
{
    const size_t kk = (size_t)s->k * (size_t)s->k, c_in = (size_t)s->c_in;
    const size_t o = j / (c_in * kk), c = j / kk % c_in, q = j % kk;
    return from_dy ? (o * kk + kk - 1 - q) * c_in + c : (c * kk + q) * (size_t)s->c_out + o;
}

void sm_conv2d_backward(const sm_conv2d_shape *s, const float *x, const float *w, const float *dy,
                        float *dx, float *dw, float *scratch, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    const size_t x_img = (size_t)s->c_in * s->h_in * s->w_in;
    const size_t y_img = (size_t)s->c_out * col_cols(s);
    const size_t w_count = sm_conv2d_weight_count(s);
    const size_t partial_stride = round_up_16(w_count);
    const int chunks = dw_chunks(s), from_dy = dx && dx_by_convolution(s);
    float *partials = scratch + (size_t)threads * thread_floats(s);
    float *w_flipped = partials + (size_t)chunks * partial_stride;
    if (from_dy) flip_kernel(s, w, w_flipped);
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
        float *cols = scratch + (size_t)omp_get_thread_num() * thread_floats(s);
        float *dcols = cols + x_cols_floats(s);
#pragma omp for schedule(static)
        for (int c = 0; c < chunks; c++) {
            float *partial = partials + (size_t)c * partial_stride;
            int first = (int)((long)c * s->n / chunks), end = (int)((long)(c + 1) * s->n / chunks);
            for (int i = first; i < end; i++) {
                const float *x_i = x + (size_t)i * x_img, *dy_i = dy + (size_t)i * y_img;
                float *dx_i = dx ? dx + (size_t)i * x_img : NULL, beta = i == first ? 0.0f : 1.0f;
                if (from_dy)
                    image_backward_from_dy(s, x_i, dy_i, w_flipped, dx_i, partial, beta, dcols);
                else
                    image_backward_from_x(s, x_i, dy_i, w, dx_i, partial, beta, cols, dcols);
            }
        }
        /* Chunk sums in chunk order, element by element: independent of threads. */
#pragma omp for schedule(static)
        for (size_t j = 0; j < w_count; j++) {
            const size_t at = partial_index(s, j, from_dy);
            float sum = 0.0f;
            for (int c = 0; c < chunks; c++) sum += partials[(size_t)c * partial_stride + at];
            dw[j] += sum;
        }
    }
    sm_gemm_restore_blas(saved);
}
