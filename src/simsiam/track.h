/* Tracking the mutual-information view of the loss during training
 * (docs/design.md §1, §4): one row of track.csv (and of track_detail.csv) per
 * event, in nats.
 *
 * A sample for one event: a fixed probe set of n images, two fresh views
 * each, gives z1, z2 (encoder + projector, inference mode) and p1 = h(z1),
 * p2 = h(z2) (the predictor); a few images with V views each give zv for
 * H(z2|x).  From it (sm_track_estimate):
 *   loss_cos      ½ D_cos(p1, z2) + ½ D_cos(p2, z1), D_cos = −cos (not an NLL)
 *   nll_<family>  mean −log Q(z2; μ = p1), the family fitted by maximum
 *                 likelihood (estimators/nll.h); kappa = vMF κ
 *   h_z_kl        Kozachenko–Leonenko Ĥ(z2) on the dim_used coordinates
 *   h_z_gauss     Gaussian Ĥ(z2) in all d dimensions (an upper bound on H)
 *   h_z_given_z1  Ĥ(z2|z1) with the KSG-1 neighbour structure (the
 *                 Ĥ(z1,z2) − Ĥ(z1) of KL estimators sharing k and ε_i)
 *   h_z_given_x   Ĥ(z2|x): the KL entropy of each image's V views, averaged
 *   i_ksg         Î_KSG1(z1; z2), both blocks whitened (estimators/mi.h)
 *   i_gauss       Gaussian Î(z1; z2) in all d dimensions
 *   i_ba          Barber–Agakov Ĥ(z2) − E[NLL_full], Ĥ = h_z_kl when
 *                 dim_used = d, else h_z_gauss (then an over-estimate)
 *   i_infonce     InfoNCE with critic log Q_full(z2_j; p1_i) over the n
 *                 pairs; infonce_cap = log n, which it never exceeds
 *   z_std         collapse metric of z1 (sm_track_z_std)
 *   dim_used      d when d <= max_dim, else max_dim: the k-NN columns are
 *                 then taken on the first max_dim principal coordinates of
 *                 z2 (one orthonormal projection for z1, z2, p1 and zv,
 *                 centred at z2's mean), since k-NN estimators are reliable
 *                 in a few dimensions only.
 * track_detail.csv puts the chain E[NLL] >= H(z2|z1) >= H(z2|x) in those
 * same coordinates, with 95% subsampling intervals (estimators/resample.h,
 * m = n/2, `resamples` subsamples; for h_z_given_x the images are
 * subsampled):
 *   nll_r       E[NLL_full] of the projected z2 given the projected p1
 *               (= nll_full when dim_used = d)
 *   nll_r_opt   the same with the best affine predictor of projected z2
 *               from projected z1, least squares cross-fitted on two halves
 *               of the probe set (each half predicted by the fit on the
 *               other): docs/design.md §1's min over h', conditioning on what
 *               h_z_given_z1 conditions on.  nll_r − nll_r_opt is the
 *               predictor's share of the gap, nll_r_opt − h_z_given_z1 the
 *               family's.
 *   nll_mlp     the same with a wider MLP predictor h(z1) = A z1 + b +
 *               W2 relu(W1 z1 + b1) trained on one half, scored on the
 *               other (cross-fitted, estimators/mlp.h): a non-linear floor
 *   nll_mix     E[NLL] of a valid richer Q: a K-component Gaussian mixture
 *               on the residual z2 − p1 (K = opts.mix), fitted by EM on one
 *               half of the probe set and scored on the other, both ways
 *               (estimators/mix.h).  nll_r − nll_mix shows how much of the
 *               family share is the Gaussian form of the residual.
 *               nll_mlp and nll_mix are NaN, without a warning, when the
 *               probe set is too small for them (the estimators' usage
 *               errors: n >= 10 (2 dim_used + 1) pairs for the MLP,
 *               n >= 2 K (dim_used + 1) for the mixture).
 *   h_s_z, h_s_given_z1, h_s_given_x
 *               the chain of the cosine loss on the sphere (docs/design.md §1):
 *               entropies of ẑ = z/‖z‖ w.r.t. surface measure on S^{d−1}
 *               (KL with intrinsic dimension d − 1; KSG-1 with per-side
 *               Euclidean norms), compared with nll_vmf.  Only when
 *               dim_used = d (a projection of unit vectors is not on a
 *               sphere); NaN otherwise.
 *   *_lo, *_hi  the 95% intervals (nll_vmf's too).
 *   gap_lo, gap_hi, gap_s_lo, gap_s_hi
 *               the paired intervals of the gaps nll_r − h_z_given_z1 and
 *               nll_vmf − h_s_given_z1: both terms on each subsample's
 *               rows, the difference subsampled.  The terms share their
 *               probe pairs and their noise, so this is narrower than the
 *               two terms' intervals combined (docs/design.md §1.6).
 * With dim_used < d the network's p1 sees all of z1, so nll_r bounds
 * H(z2'|z1) (z2' the projection), which is at most the H(z2'|z1') that
 * h_z_given_z1 estimates: the chain is then a heuristic, rigorous only when
 * dim_used = d (and the predictor share may come out negative).
 * An estimator that cannot run (a singular covariance, duplicate points,
 * too few rows: nll_full needs n > d, docs/design.md §1.4) leaves NaN in
 * its columns, and so does a column computed from one (i_ba, i_infonce from
 * nll_full); row->warning has the first failure's message and the names of
 * the later ones ("...; also failed: h_s, nll_mix"); the others still run.  Exactness as in the estimators: no
 * jitter, no clipping. */
#ifndef SM_SIMSIAM_TRACK_H
#define SM_SIMSIAM_TRACK_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

enum { SM_TRACK_K = 3, SM_TRACK_MAX_DIM = 8, SM_TRACK_RESAMPLES = 20, SM_TRACK_MIX = 4, SM_TRACK_WARNING_MAX = 768,
       SM_TRACK_LINE_MAX = 4096 /* a header or row of any file */ };

typedef struct {
    double lo, hi;
} sm_track_interval;

struct sm_track_row {
    uint64_t step;
    uint64_t refit_step; /* refit.csv only (src/simsiam/refit.h) */
    double loss_cos, nll_l2, nll_iso, nll_diag, nll_full, nll_vmf, kappa;
    double h_z_kl, h_z_gauss, h_z_given_z1, h_z_given_x;
    double i_ksg, i_gauss, i_ba, i_infonce, infonce_cap, z_std;
    size_t dim_used;
    /* track_detail.csv */
    size_t n, views, images;
    double nll_r, nll_r_opt, nll_mlp, nll_mix;
    double h_s_z, h_s_given_z1, h_s_given_x;
    sm_track_interval nll_r_ci, h_z_given_z1_ci, h_z_given_x_ci, i_ksg_ci;
    sm_track_interval nll_vmf_ci, h_s_z_ci, h_s_given_z1_ci, h_s_given_x_ci;
    sm_track_interval gap_ci, gap_s_ci; /* paired: of nll_r − h_z_given_z1, nll_vmf − h_s_given_z1 */
    char warning[SM_TRACK_WARNING_MAX]; /* first estimator failure, "" if none */
};

/* The CSV files a row goes to. */
typedef enum { SM_TRACK_CSV, SM_TRACK_DETAIL_CSV, SM_TRACK_REFIT_CSV } sm_track_file;

/* One column: its name, where its value lives in sm_track_row (or, for a
 * derived column, the function that computes it from the row's others),
 * which files carry it, and what it measures.  SM_TRACK_COLUMNS is the
 * single list: headers, rows and the NaN defaults of a row come from it,
 * each file's columns in table order (refit.csv: every column once). */
typedef enum { SM_TRACK_U64, SM_TRACK_SIZE, SM_TRACK_REAL, SM_TRACK_DERIVED } sm_track_kind;
typedef struct sm_track_row sm_track_row;
typedef struct {
    const char *name;
    size_t offset; /* not for SM_TRACK_DERIVED */
    sm_track_kind kind;
    unsigned files; /* bit (1 << sm_track_file) per file */
    const char *unit, *doc;
    double (*derive)(const sm_track_row *r); /* SM_TRACK_DERIVED only */
} sm_track_column;
SM_API extern const sm_track_column SM_TRACK_COLUMNS[];
SM_API extern const size_t SM_TRACK_NCOLUMNS;

/* One event's embeddings, row-major doubles. */
typedef struct {
    const double *z1, *z2, *p1, *p2; /* n × d: two views of the probe images;
                                        p2 may be NULL: loss_cos is then NaN */
    size_t n, d;
    const double *zv; /* images × views × d: views of image i at rows i·views …;
                         NULL with images = 0: the *given_x columns are NaN */
    size_t images, views;
} sm_track_sample;

typedef struct {
    size_t k;         /* neighbour order of every k-NN estimator [SM_TRACK_K] */
    size_t max_dim;   /* k-NN coordinates at most [SM_TRACK_MAX_DIM] */
    size_t resamples; /* subsamples per interval [SM_TRACK_RESAMPLES] */
    uint64_t seed;    /* subsampling seed */
    size_t mix;       /* nll_mix components [SM_TRACK_MIX]; 0 = off (NaN) */
    int mlp;          /* nll_mlp: fit the MLP floor [1]; 0 = off (NaN) */
} sm_track_opts;

SM_API void sm_track_defaults(sm_track_opts *o, uint64_t seed);

/* Every column but step and z_std from sample s.  Usage errors only
 * (SM_ERR_USAGE: k or max_dim 0, resamples < 2, n < 4, d < 2, images > 0
 * with views <= k); estimator
 * failures are NaN + row->warning (above). */
SM_API int sm_track_estimate(const sm_track_sample *s, const sm_track_opts *o, sm_track_row *row, sm_arena *ws,
                             sm_status *st);

/* z_std of n >= 1 rows of z (d floats each): rows l2-normalised, the
 * standard deviation over the rows (divided by n) per dimension, averaged
 * over the dimensions, times √d: ≈ 1 for well-spread embeddings, 0 for
 * collapse (SimSiam paper, Fig. 2).  NaN when its n row norms cannot be
 * allocated. */
SM_API double sm_track_z_std(const float *z, size_t n, size_t d);

/* The event of a tracker (simsiam/tracker.h) on a sample its caller has
 * embedded, as the Python module's Tracker calls it: row->step = step,
 * sm_track_estimate with the subsampling seed mixed from (o->seed, step),
 * and z_std of z1 in single precision, the trainer's embeddings' (exact for
 * z1 that came from floats).  Errors as sm_track_estimate's, or SM_ERR_DATA
 * when memory runs out; on an error *row is left as it was. */
SM_API int sm_track_event(const sm_track_sample *s, const sm_track_opts *o, uint64_t step, sm_track_row *row,
                          sm_arena *ws, sm_status *st);

/* file's header line (with '\n') and the row of r (no '\n'; NaN as
 * "nan"); both return snprintf's count. */
SM_API int sm_track_header(sm_track_file file, char *buf, size_t n);
SM_API int sm_track_format(const sm_track_row *r, sm_track_file file, char *buf, size_t n);

/* file's header and then the n rows into f, each line ending in '\n'. */
SM_API void sm_track_fprint(FILE *f, sm_track_file file, const sm_track_row *rows, size_t n);

/* A row with every real column NaN and every count 0. */
SM_API void sm_track_row_clear(sm_track_row *r);

/* For callers that do not compile against sm_track_row (python/simsiam_mi
 * reads its values through SM_TRACK_COLUMNS' offsets): a cleared row on the
 * heap (NULL + status when memory runs out), its free, and its warning. */
SM_API sm_track_row *sm_track_row_alloc(sm_status *st);
SM_API void sm_track_row_free(sm_track_row *r);
SM_API const char *sm_track_warning(const sm_track_row *r);

#endif
