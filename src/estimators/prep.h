/* Preprocessing for the k-NN estimators: whitening and jitter, both off by
 * default (docs/design.md §1), applied to a copy (the caller's data is never
 * modified).
 *
 * whiten: a block x (n×d) is mapped to w_i = L⁻¹ (x_i − mean), with L the
 *   Cholesky factor of the block's ML covariance (estimators/gauss.h).  Each
 *   block (x and y of an MI) is whitened separately, so MI is unchanged;
 *   entropies change by the Jacobian, H(x) = H(w) + log det L, which the
 *   estimators add back.  Because L is lower triangular, any lower-triangular
 *   invertible map x ↦ A x with a positive diagonal gives the same w (the
 *   factor of A Σ Aᵀ is A L); any other invertible A gives Q w for an
 *   orthogonal Q, which the max norm sees but the Euclidean norm does not.
 * noise: JIDT-style jitter, out += N(0, S²) per coordinate, seeded
 *   (sm_rng_seed(seed, stream)), applied after whitening: with --whiten, S is
 *   in units of the data's spread, as JIDT adds noise to normalised data.
 *   It breaks ties and duplicate rows; it also changes the data, so it is not
 *   part of the exact estimator (noise = 0 is exact). */
#ifndef SM_ESTIMATORS_PREP_H
#define SM_ESTIMATORS_PREP_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

typedef struct {
    int whiten;    /* 1: whiten the block [0] */
    double noise;  /* S >= 0, standard deviation of the jitter [0 = none] */
    uint64_t seed; /* jitter seed [0] */
} sm_prep_opts;

/* The jitter of block `stream` draws from the rng stream SM_PREP_JITTER_STREAMS
 * + stream of o->seed: apart from the subsample draws' streams 0 .. B − 1 under
 * the same seed (resample.h), which the jitter of blocks 0 and 1 replayed. */
#define SM_PREP_JITTER_STREAMS (UINT64_C(1) << 62)

/* out (n×d, not aliasing x) = x prepared as o says (o NULL: plain copy).
 * stream separates the jitter of the blocks of one call (x: 0, y: 1).
 * *log_det_l (may be NULL) = log det L of the whitening (0 without), to be
 * added to an entropy of out to give the entropy of x.
 * Errors: non-finite input (SM_ERR_DATA), noise < 0 or not finite
 * (SM_ERR_USAGE), covariance not positive definite when whitening
 * (SM_ERR_DATA; where = "whitening <name>"). */
SM_API int sm_prep_block(const double *x, size_t n, size_t d, const sm_prep_opts *o, uint64_t stream,
                         const char *name, double *out, double *log_det_l, sm_arena *ws,
                         sm_status *st);

#endif
