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

size_t sm_conv2d_scratch_floats(const sm_conv2d_shape *s, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    /* backward: per thread columns + column gradients, then the dW partials;
     * forward needs only the first half of each thread's region. */
    size_t per_thread = 2 * round_up_16(col_rows(s) * col_cols(s));
    size_t partials = (size_t)dw_chunks(s) * round_up_16((size_t)s->c_out * col_rows(s));
    return (size_t)threads * per_thread + partials;
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

/* cols[(c·k + ky)·k + kx][oy·w_out + ox] = x[c][oy·s − p + ky][ox·s − p + kx] (0 outside). */
static void im2col(const sm_conv2d_shape *s, const float *x, float *cols)
{
    const int k = s->k, h_out = sm_conv2d_h_out(s), w_out = sm_conv2d_w_out(s);
    for (int c = 0; c < s->c_in; c++) {
        const float *plane = x + (size_t)c * s->h_in * s->w_in;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + ((size_t)(c * k + ky) * k + kx) * (size_t)(h_out * w_out);
                const int shift = kx - s->pad;
                int lo, hi;
                valid_range(s, shift, w_out, &lo, &hi);
                for (int oy = 0; oy < h_out; oy++) {
                    float *out = row + (size_t)oy * w_out;
                    int iy = oy * s->stride - s->pad + ky;
                    if (iy < 0 || iy >= s->h_in) {
                        memset(out, 0, sizeof(float) * (size_t)w_out);
                        continue;
                    }
                    const float *in = plane + (size_t)iy * s->w_in;
                    for (int ox = 0; ox < lo; ox++) out[ox] = 0.0f;
                    if (s->stride == 1) /* the common case: one contiguous run */
                        memcpy(out + lo, in + lo + shift, sizeof(float) * (size_t)(hi - lo));
                    else
                        for (int ox = lo; ox < hi; ox++) out[ox] = in[ox * s->stride + shift];
                    for (int ox = hi; ox < w_out; ox++) out[ox] = 0.0f;
                }
            }
        }
    }
}

/* The adjoint of im2col: dx[c][iy][ix] += every column entry that copied it. */
static void col2im_add(const sm_conv2d_shape *s, const float *cols, float *dx)
{
    const int k = s->k, h_out = sm_conv2d_h_out(s), w_out = sm_conv2d_w_out(s);
    for (int c = 0; c < s->c_in; c++) {
        float *plane = dx + (size_t)c * s->h_in * s->w_in;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                const float *row = cols + ((size_t)(c * k + ky) * k + kx) * (size_t)(h_out * w_out);
                const int shift = kx - s->pad;
                int lo, hi;
                valid_range(s, shift, w_out, &lo, &hi);
                for (int oy = 0; oy < h_out; oy++) {
                    int iy = oy * s->stride - s->pad + ky;
                    if (iy < 0 || iy >= s->h_in) continue;
                    const float *g = row + (size_t)oy * w_out;
                    float *in = plane + (size_t)iy * s->w_in;
                    if (s->stride == 1)
#pragma omp simd
                        for (int ox = lo; ox < hi; ox++) in[ox + shift] += g[ox];
                    else
                        for (int ox = lo; ox < hi; ox++) in[ox * s->stride + shift] += g[ox];
                }
            }
        }
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
    const size_t region = 2 * round_up_16((size_t)rows * cols_n);
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
        float *cols = scratch + (size_t)omp_get_thread_num() * region;
#pragma omp for schedule(static)
        for (int i = 0; i < s->n; i++) {
            im2col(s, x + (size_t)i * x_img, cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, cols_n, rows, 1.0f, w,
                        rows, cols, cols_n, 0.0f, y + (size_t)i * y_img, cols_n);
        }
    }
    sm_gemm_restore_blas(saved);
}

void sm_conv2d_backward(const sm_conv2d_shape *s, const float *x, const float *w, const float *dy,
                        float *dx, float *dw, float *scratch, int threads)
{
    check_shape(s);
    assert(threads >= 1);
    const int rows = (int)col_rows(s), cols_n = (int)col_cols(s);
    const size_t x_img = (size_t)s->c_in * s->h_in * s->w_in;
    const size_t y_img = (size_t)s->c_out * cols_n;
    const size_t region = 2 * round_up_16((size_t)rows * cols_n);
    const size_t w_count = sm_conv2d_weight_count(s);
    const size_t partial_stride = round_up_16(w_count);
    const int chunks = dw_chunks(s);
    float *partials = scratch + (size_t)threads * region;
    int saved = sm_gemm_pin_blas();
#pragma omp parallel num_threads(threads)
    {
        float *cols = scratch + (size_t)omp_get_thread_num() * region;
        float *dcols = cols + region / 2;
#pragma omp for schedule(static)
        for (int c = 0; c < chunks; c++) {
            float *partial = partials + (size_t)c * partial_stride;
            int first = (int)((long)c * s->n / chunks), end = (int)((long)(c + 1) * s->n / chunks);
            for (int i = first; i < end; i++) {
                const float *dy_i = dy + (size_t)i * y_img;
                im2col(s, x + (size_t)i * x_img, cols);
                /* partial (c_out × rows) (+)= dy_i (c_out × cols_n) · colsᵀ */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->c_out, rows, cols_n, 1.0f,
                            dy_i, cols_n, cols, cols_n, i == first ? 0.0f : 1.0f, partial, rows);
                if (!dx) continue;
                /* dcols (rows × cols_n) = wᵀ · dy_i */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols_n, s->c_out, 1.0f, w,
                            rows, dy_i, cols_n, 0.0f, dcols, cols_n);
                col2im_add(s, dcols, dx + (size_t)i * x_img);
            }
        }
        /* Chunk sums in chunk order, element by element: independent of threads. */
#pragma omp for schedule(static)
        for (size_t j = 0; j < w_count; j++) {
            float sum = 0.0f;
            for (int c = 0; c < chunks; c++) sum += partials[(size_t)c * partial_stride + j];
            dw[j] += sum;
        }
    }
    sm_gemm_restore_blas(saved);
}
