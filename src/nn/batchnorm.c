#include "nn/batchnorm.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/simd.h"
#include "dist/dist.h"
#include "nn/channel_map.h"

void sm_batchnorm_init(size_t c, float *gamma, float *beta, float *running_mean, float *running_var)
{
    for (size_t j = 0; j < c; j++) {
        if (gamma) gamma[j] = 1.0f;
        if (beta) beta[j] = 0.0f;
        if (running_mean) running_mean[j] = 0.0f;
        if (running_var) running_var[j] = 1.0f;
    }
}

/* Channel j's values are n runs of hw floats: x[i·c·hw + j·hw + t]. */
static const float *run(const float *x, size_t c, size_t hw, size_t i, size_t j)
{
    return x + (i * c + j) * hw;
}

/* A channel's two sums (Σ u and Σ v over its values, below) run in a fixed
 * pattern: a run's values are taken LANES at a time into SETS sets of LANES
 * float lanes, sets 0, 1, 2, 3, 0, …, and its last hw mod LANES values into
 * one double lane, in order.  Four sets are 2 · SETS vector chains at once
 * where one would wait on the add latency (the compiler must keep IEEE order
 * and may not reassociate), and float takes 16 values per AVX-512
 * instruction where double took 8, plus conversions: the moments of the
 * bench network's maps came 1.2–2.7× faster than in 16 double lanes.
 * After every block of whole runs of at most BLOCK values (or one longer
 * run) the float lanes are added into LANES double ones, so a float lane
 * adds at most BLOCK / LANES = 16 values of a block, or a quarter of a
 * longer run's vectors (13 for 28 × 28), and double keeps the channel's
 * sum.  The pattern depends on n and hw only, so the sums do not depend on
 * the thread count. */
enum { LANES = 16, SETS = 4, BLOCK = 256 };

/* One set's lanes of the two sums, as GCC vectors so that they stay in
 * registers from run to run (arrays of floats went through memory). */
typedef float lanes_f __attribute__((vector_size(LANES * sizeof(float))));
typedef struct {
    lanes_f u, v;
} lane_set;

static double lanes_total(const double *acc)
{
    double s = 0.0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* What a channel's two sums add: the moments (u, v) = (x − K, (x − K)²)
 * about the shift K, or the backward's (g, g · (x − μ)), g = dy where the
 * map's ReLU kept it (masked, below), with or without a ReLU. */
typedef enum { MOMENTS, GRAD_SUMS, GRAD_SUMS_RELU } sums_kind;

/* Channel j's forward map x ↦ (x − mean) · scale + shift, then max(·, 0)
 * when relu.  Backward recomputes it from x with the same float operations
 * (no contraction, see core/simd.h), so its ReLU mask is the forward's bit
 * for bit and y need not be read. */
typedef struct {
    float mean, scale, shift;
    int relu;
} channel_map;

static channel_map map_of(size_t j, float mean, double invstd, const float *gamma, const float *beta, int relu)
{
    return (channel_map){mean, (float)((gamma ? gamma[j] : 1.0) * invstd), beta ? beta[j] : 0.0f, relu};
}

/* The map before the ReLU: the expression the forward's output and the
 * backward's mask are both computed from (nn/channel_map.h), so they cannot
 * drift apart. */
static inline float map_affine(channel_map f, float x) { return sm_channel_affine(x, f.mean, f.scale, f.shift); }

/* dy where the map's output is kept, +0 where the ReLU cut it (exactly
 * sm_relu_backward's values).  The loops below call it with relu a constant
 * (their bodies are inlined twice, for 0 and 1), so it folds away or
 * becomes vector code: the cut is an AND of dy's bits with the comparison's
 * all-ones or zero, because a select (?:) is control flow, which kept the
 * lane loops scalar at 5× the time. */
static inline float masked(channel_map f, int relu, float x, float dy)
{
    if (!relu) return dy;
    uint32_t bits;
    memcpy(&bits, &dy, sizeof bits);
    bits &= -(uint32_t)(map_affine(f, x) > 0.0f);
    memcpy(&dy, &bits, sizeof dy);
    return dy;
}

/* One value's terms of the kind's two sums; f.mean is K for the moments. */
static inline __attribute__((always_inline)) void sum_terms(sums_kind kind, channel_map f, float x, float dy,
                                                            float *u, float *v)
{
    const float g = kind == MOMENTS ? x - f.mean : masked(f, kind == GRAD_SUMS_RELU, x, dy);
    *u = g;
    *v = g * (x - f.mean);
}

/* The terms of LANES values of xr and gr added into a set's lanes. */
static inline __attribute__((always_inline)) void add_vector(sums_kind kind, channel_map f, const float *xr,
                                                             const float *gr, lane_set *set)
{
    float a[LANES], b[LANES];
#pragma omp simd
    for (int l = 0; l < LANES; l++) sum_terms(kind, f, xr[l], gr[l], &a[l], &b[l]);
    lanes_f va, vb;
    memcpy(&va, a, sizeof va);
    memcpy(&vb, b, sizeof vb);
    set->u += va;
    set->v += vb;
}

/* A set's lanes added into the double ones, then zeroed. */
static inline __attribute__((always_inline)) void flush_set(lane_set *set, double *du, double *dv)
{
    for (int l = 0; l < LANES; l++) {
        du[l] += set->u[l];
        dv[l] += set->v[l];
    }
    set->u = set->v = (lanes_f){0};
}

/* Channel j's two sums of the kind over the batch (dy unread for the
 * moments: their terms do not use it, and gr points at x's run). */
static inline __attribute__((always_inline)) void channel_sums_body(sums_kind kind, size_t n, size_t c, size_t hw,
                                                                    const float *x, const float *dy, size_t j,
                                                                    channel_map f, double *sum_u, double *sum_v)
{
    lane_set s0 = {{0}, {0}}, s1 = s0, s2 = s0, s3 = s0;
    double tail_u = 0.0, tail_v = 0.0;
    double du[LANES] = {0}, dv[LANES] = {0};
    const size_t block_runs = hw >= BLOCK ? 1 : BLOCK / hw;
    for (size_t i = 0; i < n; i++) {
        const float *xr = run(x, c, hw, i, j), *gr = kind == MOMENTS ? xr : run(dy, c, hw, i, j);
        size_t t = 0;
        for (; t + SETS * LANES <= hw; t += SETS * LANES) {
            add_vector(kind, f, xr + t, gr + t, &s0);
            add_vector(kind, f, xr + t + LANES, gr + t + LANES, &s1);
            add_vector(kind, f, xr + t + 2 * LANES, gr + t + 2 * LANES, &s2);
            add_vector(kind, f, xr + t + 3 * LANES, gr + t + 3 * LANES, &s3);
        }
        if (t + LANES <= hw) add_vector(kind, f, xr + t, gr + t, &s0), t += LANES;
        if (t + LANES <= hw) add_vector(kind, f, xr + t, gr + t, &s1), t += LANES;
        if (t + LANES <= hw) add_vector(kind, f, xr + t, gr + t, &s2), t += LANES;
        for (; t < hw; t++) {
            float a, b;
            sum_terms(kind, f, xr[t], gr[t], &a, &b);
            tail_u += a;
            tail_v += b;
        }
        if ((i + 1) % block_runs == 0 || i + 1 == n) {
            flush_set(&s0, du, dv);
            flush_set(&s1, du, dv);
            flush_set(&s2, du, dv);
            flush_set(&s3, du, dv);
        }
    }
    *sum_u = lanes_total(du) + tail_u;
    *sum_v = lanes_total(dv) + tail_v;
}

/* Σ (x − K) and Σ (x − K)² of channel j over this batch, about the
 * channel's first value K (*shift). */
SM_VECTOR_CLONES static void channel_moments(const float *x, size_t n, size_t c, size_t hw, size_t j,
                                             double *shift, double *sum, double *sum_sq)
{
    const float k = run(x, c, hw, 0, j)[0];
    channel_sums_body(MOMENTS, n, c, hw, x, NULL, j, (channel_map){.mean = k}, sum, sum_sq);
    *shift = k;
}

/* Batch mean and biased variance from moments about a shift K over m values:
 * var = (Σ(x − K)² − (Σ(x − K))²/m) / m.  K is a sample, so it lies within a
 * few σ of the mean: the sums' relative error (float lanes of at most 16
 * values for maps up to 32 × 32, then double: ~1e-6 at worst) grows by
 * 1 + ((mean − K)/σ)², a factor of ten or so, and not by (mean/σ)² as
 * moments about 0 would. */
static void moments_stats(double shift, double sum, double sum_sq, double m, double *mean, double *var)
{
    *mean = shift + sum / m;
    *var = (sum_sq - sum * sum / m) / m;
    if (*var < 0.0) *var = 0.0; /* rounding when all values are equal */
}

/* y = (x − μ) · γ/σ + β over channel j, in float, then max(y, 0) when f
 * says relu; subtracting μ first keeps the precision when |μ| is large
 * against σ. */
SM_VECTOR_CLONES static void channel_apply(const float *x, float *y, size_t n, size_t c, size_t hw, size_t j,
                                           channel_map f)
{
    for (size_t i = 0; i < n; i++) {
        const float *xr = run(x, c, hw, i, j);
        float *yr = y + (i * c + j) * hw;
#pragma omp simd
        for (size_t t = 0; t < hw; t++) yr[t] = sm_channel_value(xr[t], f.mean, f.scale, f.shift, f.relu);
    }
}

/* Channel j's running statistics moved towards a batch's mean and unbiased
 * variance. */
static void move_running(size_t j, double mean, double var_unbiased, float *running_mean, float *running_var)
{
    const double mom = SM_BATCHNORM_MOMENTUM;
    running_mean[j] = (float)((1.0 - mom) * running_mean[j] + mom * mean);
    running_var[j] = (float)((1.0 - mom) * running_var[j] + mom * var_unbiased);
}

void sm_batchnorm_move_running(size_t c, const double *batch, float *running_mean, float *running_var)
{
    for (size_t j = 0; j < c; j++) move_running(j, batch[j], batch[c + j], running_mean, running_var);
}

/* Everything after the statistics of channel j (m values in the batch):
 * save them, move the running ones (or defer the move), normalise (unless
 * y is NULL). */
static void channel_finish(const float *x, float *y, size_t n, size_t c, size_t hw, size_t j, double mean,
                           double var, double m, const float *gamma, const float *beta, int relu, float *save_mean,
                           float *save_invstd, float *running_mean, float *running_var, double *defer)
{
    double invstd = 1.0 / sqrt(var + SM_BATCHNORM_EPS);
    save_mean[j] = (float)mean;
    save_invstd[j] = (float)invstd;
    const double var_unbiased = var * m / (m - 1.0);
    if (running_mean) move_running(j, mean, var_unbiased, running_mean, running_var);
    if (defer) defer[j] = mean, defer[c + j] = var_unbiased;
    /* Normalise with the saved (float) statistics, so backward's x̂ is
     * exactly the forward's. */
    if (y) channel_apply(x, y, n, c, hw, j, map_of(j, save_mean[j], save_invstd[j], gamma, beta, relu));
}

size_t sm_batchnorm_sync_work(size_t c) { return 3 * c * (size_t)(sm_dist_size() + 1); }

/* SyncBN's statistics: every process's (K_r, S_r, Q_r) = (shift, Σ(x − K_r),
 * Σ(x − K_r)²) of each channel, gathered into all[r·3c ..], re-centred on
 * rank 0's K and added in rank order, so every process gets the same bits:
 *   S = Σ_r S_r + n_r d_r,  Q = Σ_r Q_r + 2 d_r S_r + n_r d_r²,  d_r = K_r − K.
 * Writes K, S, Q over local[] (3 per channel). */
static void sync_moments(size_t c, double n_r, double *local, double *all)
{
    const int size = sm_dist_size();
    sm_dist_allgather_f64(local, 3 * c, all);
    for (size_t j = 0; j < c; j++) {
        const double k = all[3 * j];
        double sum = 0.0, sum_sq = 0.0;
        for (int r = 0; r < size; r++) {
            const double *p = all + (size_t)r * 3 * c + 3 * j, d = p[0] - k;
            sum += p[1] + n_r * d;
            sum_sq += p[2] + 2.0 * d * p[1] + n_r * d * d;
        }
        local[3 * j] = k;
        local[3 * j + 1] = sum;
        local[3 * j + 2] = sum_sq;
    }
}

void sm_batchnorm_forward_train_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                     const float *beta, int relu, float *y, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, double *defer, double *work)
{
    const double m_local = (double)(n * hw), m = work ? m_local * sm_dist_size() : m_local;
    assert(m >= 2);
    assert(!running_mean == !running_var);
    assert(!(running_mean && defer));
    if (!work) {
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < c; j++) {
            double k, sum, sum_sq, mean, var;
            channel_moments(x, n, c, hw, j, &k, &sum, &sum_sq);
            moments_stats(k, sum, sum_sq, m, &mean, &var);
            channel_finish(x, y, n, c, hw, j, mean, var, m, gamma, beta, relu, save_mean, save_invstd,
                           running_mean, running_var, defer);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) channel_moments(x, n, c, hw, j, &work[3 * j], &work[3 * j + 1], &work[3 * j + 2]);
    sync_moments(c, m_local, work, work + 3 * c);
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) {
        double mean, var;
        moments_stats(work[3 * j], work[3 * j + 1], work[3 * j + 2], m, &mean, &var);
        channel_finish(x, y, n, c, hw, j, mean, var, m, gamma, beta, relu, save_mean, save_invstd, running_mean,
                       running_var, defer);
    }
}

void sm_batchnorm_forward_train(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                const float *beta, int relu, float *y, float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var)
{
    sm_batchnorm_forward_train_sync(n, c, hw, x, gamma, beta, relu, y, save_mean, save_invstd, running_mean,
                                    running_var, NULL, NULL);
}

/* Channel j's inference map, from the running statistics. */
static channel_map eval_map(size_t j, const float *gamma, const float *beta, int relu, const float *running_mean,
                            const float *running_var)
{
    double invstd = 1.0 / sqrt((double)running_var[j] + SM_BATCHNORM_EPS);
    return map_of(j, running_mean[j], invstd, gamma, beta, relu);
}

void sm_batchnorm_forward_eval(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                               const float *beta, int relu, const float *running_mean,
                               const float *running_var, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++)
        channel_apply(x, y, n, c, hw, j, eval_map(j, gamma, beta, relu, running_mean, running_var));
}

/* Channel j's map into the three arrays of out. */
static void store_map(size_t j, channel_map f, float *mean, float *scale, float *shift)
{
    mean[j] = f.mean;
    scale[j] = f.scale;
    shift[j] = f.shift;
}

sm_channel_map sm_batchnorm_map_saved(size_t c, const float *gamma, const float *beta, int relu,
                                      const float *save_mean, const float *save_invstd, float *out)
{
    for (size_t j = 0; j < c; j++)
        store_map(j, map_of(j, save_mean[j], save_invstd[j], gamma, beta, relu), out, out + c, out + 2 * c);
    return (sm_channel_map){out, out + c, out + 2 * c, relu};
}

sm_channel_map sm_batchnorm_map_eval(size_t c, const float *gamma, const float *beta, int relu,
                                     const float *running_mean, const float *running_var, float *out)
{
    for (size_t j = 0; j < c; j++)
        store_map(j, eval_map(j, gamma, beta, relu, running_mean, running_var), out, out + c, out + 2 * c);
    return (sm_channel_map){out, out + c, out + 2 * c, relu};
}

/* Σ g and Σ g · (x − μ) of channel j over this batch, g = masked(dy), with
 * relu a constant in each body (see masked). */
SM_VECTOR_CLONES static void channel_grad_sums(size_t n, size_t c, size_t hw, const float *x, const float *dy,
                                               channel_map f, size_t j, double *sum_dy, double *sum_dy_xc)
{
    if (f.relu)
        channel_sums_body(GRAD_SUMS_RELU, n, c, hw, x, dy, j, f, sum_dy, sum_dy_xc);
    else
        channel_sums_body(GRAD_SUMS, n, c, hw, x, dy, j, f, sum_dy, sum_dy_xc);
}

/* dx (=, or += when accumulate) a · g + b · (x − μ) + d over a run,
 * g = masked(dy). */
static inline __attribute__((always_inline)) void input_grad_body(const float *xr, const float *gr, float *dr,
                                                                  size_t hw, channel_map f, int relu, float a,
                                                                  float b, float d, int accumulate)
{
    if (accumulate) {
#pragma omp simd
        for (size_t t = 0; t < hw; t++) dr[t] += a * masked(f, relu, xr[t], gr[t]) + b * (xr[t] - f.mean) + d;
    } else {
#pragma omp simd
        for (size_t t = 0; t < hw; t++) dr[t] = a * masked(f, relu, xr[t], gr[t]) + b * (xr[t] - f.mean) + d;
    }
}

/* The same over channel j. */
SM_VECTOR_CLONES static void channel_input_grad(const float *x, const float *dy, float *dx, size_t n, size_t c,
                                                size_t hw, size_t j, channel_map f, float a, float b, float d,
                                                int accumulate)
{
    for (size_t i = 0; i < n; i++) {
        const float *xr = run(x, c, hw, i, j), *gr = run(dy, c, hw, i, j);
        float *dr = dx + (i * c + j) * hw;
        if (f.relu)
            input_grad_body(xr, gr, dr, hw, f, 1, a, b, d, accumulate);
        else
            input_grad_body(xr, gr, dr, hw, f, 0, a, b, d, accumulate);
    }
}

/* Where a backward's input gradient goes: into dx, or as its map
 * (sm_grad_map: 6c floats, the forward map's mean, scale and shift, then
 * a, b and d) into map. */
typedef struct {
    float *dx, *map;
    int accumulate;
} dx_out;

/* dx of channel j from the batch's two sums over m values: dx = γ/σ · (g −
 * mean(g) − x̂ · mean(g · x̂)), x̂ = (x − μ)/σ, as dx += a · g + b · (x −
 * μ) + d in float, or a, b and d stored for whoever reads dx through them. */
static void channel_dx(size_t n, size_t c, size_t hw, const float *x, const float *gamma, channel_map f,
                       float invstd, const float *dy, dx_out out, size_t j, double sum_dy, double sum_dy_xhat,
                       double m)
{
    const double k = (gamma ? gamma[j] : 1.0) * invstd;
    const float a = (float)k, b = (float)(-k * invstd * sum_dy_xhat / m), d = (float)(-k * sum_dy / m);
    if (out.dx) {
        channel_input_grad(x, dy, out.dx, n, c, hw, j, f, a, b, d, out.accumulate);
        return;
    }
    store_map(j, f, out.map, out.map + c, out.map + 2 * c);
    out.map[3 * c + j] = a;
    out.map[4 * c + j] = b;
    out.map[5 * c + j] = d;
}

/* SyncBN's backward sums: every process's (Σ dy, Σ dy · x̂) of each channel
 * (local, 2 per channel) gathered and added in rank order over local. */
static void sync_grad_sums(size_t c, double *local, double *all)
{
    const int size = sm_dist_size();
    sm_dist_allgather_f64(local, 2 * c, all);
    for (size_t i = 0; i < 2 * c; i++) {
        double s = 0.0;
        for (int r = 0; r < size; r++) s += all[(size_t)r * 2 * c + i];
        local[i] = s;
    }
}

/* sm_batchnorm_backward_sync into out. */
static void backward(size_t n, size_t c, size_t hw, const float *x, const float *gamma, const float *beta, int relu,
                     const float *save_mean, const float *save_invstd, const float *dy, dx_out out, float *dgamma,
                     float *dbeta, double *work)
{
    const double m_local = (double)(n * hw), m = work ? m_local * sm_dist_size() : m_local;
    assert(!gamma == !dgamma && !gamma == !dbeta);
    if (!work) {
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < c; j++) {
            const channel_map f = map_of(j, save_mean[j], save_invstd[j], gamma, beta, relu);
            double sum_dy, sum_dy_xc;
            channel_grad_sums(n, c, hw, x, dy, f, j, &sum_dy, &sum_dy_xc);
            const double sum_dy_xhat = sum_dy_xc * save_invstd[j];
            if (gamma) {
                dgamma[j] += (float)sum_dy_xhat;
                dbeta[j] += (float)sum_dy;
            }
            channel_dx(n, c, hw, x, gamma, f, save_invstd[j], dy, out, j, sum_dy, sum_dy_xhat, m);
        }
        return;
    }
    /* γ's and β's gradients stay this process's share: the trainer sums
     * every parameter gradient over the processes afterwards. */
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) {
        const channel_map f = map_of(j, save_mean[j], save_invstd[j], gamma, beta, relu);
        channel_grad_sums(n, c, hw, x, dy, f, j, &work[2 * j], &work[2 * j + 1]);
        work[2 * j + 1] *= save_invstd[j];
        if (gamma) {
            dgamma[j] += (float)work[2 * j + 1];
            dbeta[j] += (float)work[2 * j];
        }
    }
    sync_grad_sums(c, work, work + 2 * c);
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++)
        channel_dx(n, c, hw, x, gamma, map_of(j, save_mean[j], save_invstd[j], gamma, beta, relu),
                   save_invstd[j], dy, out, j, work[2 * j], work[2 * j + 1], m);
}

void sm_batchnorm_backward_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                const float *beta, int relu, const float *save_mean, const float *save_invstd,
                                const float *dy, float *dx, int accumulate, float *dgamma, float *dbeta,
                                double *work)
{
    backward(n, c, hw, x, gamma, beta, relu, save_mean, save_invstd, dy, (dx_out){dx, NULL, accumulate}, dgamma,
             dbeta, work);
}

sm_grad_map sm_batchnorm_backward_map_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                           const float *beta, int relu, const float *save_mean,
                                           const float *save_invstd, const float *dy, float *dgamma, float *dbeta,
                                           double *work, float *map)
{
    backward(n, c, hw, x, gamma, beta, relu, save_mean, save_invstd, dy, (dx_out){NULL, map, 0}, dgamma, dbeta,
             work);
    return sm_batchnorm_grad_map(c, relu, map, x);
}

sm_grad_map sm_batchnorm_grad_map(size_t c, int relu, const float *map, const float *x)
{
    return (sm_grad_map){{map, map + c, map + 2 * c, relu}, map + 3 * c, map + 4 * c, map + 5 * c, x};
}

void sm_batchnorm_backward(size_t n, size_t c, size_t hw, const float *x, const float *gamma, const float *beta,
                           int relu, const float *save_mean, const float *save_invstd, const float *dy,
                           float *dx, int accumulate, float *dgamma, float *dbeta)
{
    sm_batchnorm_backward_sync(n, c, hw, x, gamma, beta, relu, save_mean, save_invstd, dy, dx, accumulate, dgamma,
                               dbeta, NULL);
}
