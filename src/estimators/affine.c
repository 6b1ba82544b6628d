#include "estimators/affine.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#include "estimators/gauss.h"
#include "estimators/nll.h"

int sm_affine_fit(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                  double *beta, sm_arena *ws, sm_status *st)
{
    assert(x && y && beta);
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar), a = dx + 1;
    double *xa = sm_arena_alloc(ar, n * a, sizeof *xa, st);
    double *gram = xa ? sm_arena_alloc(ar, a * a, sizeof *gram, st) : NULL;
    int rc = gram ? SM_OK : st ? st->code : SM_ERR_DATA;
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            memcpy(xa + i * a, x + i * dx, dx * sizeof *xa);
            xa[i * a + dx] = 1;
        }
        /* Normal equations [x, 1]ᵀ[x, 1] β = [x, 1]ᵀ y, solved by L Lᵀ. */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)a, (int)a, (int)n, 1.0, xa,
                    (int)a, xa, (int)a, 0.0, gram, (int)a);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)a, (int)dy, (int)n, 1.0, xa,
                    (int)a, y, (int)dy, 0.0, beta, (int)dy);
        rc = sm_gauss_cholesky(gram, a, 0, "affine predictor: [x, 1] of the fit rows", st);
    }
    if (!rc) {
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)a,
                    (int)dy, 1.0, gram, (int)a, beta, (int)dy);
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)a,
                    (int)dy, 1.0, gram, (int)a, beta, (int)dy);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

void sm_affine_apply(const double *x, size_t n, size_t dx, size_t dy, const double *beta,
                     double *pred)
{
    for (size_t i = 0; i < n; i++) memcpy(pred + i * dy, beta + dx * dy, dy * sizeof *pred);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dy, (int)dx, 1.0, x,
                (int)dx, beta, (int)dy, 1.0, pred, (int)dy);
}

int sm_affine_nll_crossfit(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                           double *mean_nll, sm_arena *ws, sm_status *st)
{
    assert(x && y && mean_nll);
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar), half = n / 2;
    const size_t fold[2][2] = {{0, half}, {half, n}};
    double *beta = sm_arena_alloc(ar, (dx + 1) * dy, sizeof *beta, st);
    double *pred = beta ? sm_arena_alloc(ar, n * dy, sizeof *pred, st) : NULL;
    int rc = pred ? SM_OK : st ? st->code : SM_ERR_DATA;
    for (int f = 0; f < 2 && !rc; f++) {
        const size_t lo = fold[f][0], hi = fold[f][1], elo = fold[1 - f][0], ehi = fold[1 - f][1];
        rc = sm_affine_fit(x + lo * dx, y + lo * dy, hi - lo, dx, dy, beta, ar, st);
        if (!rc) sm_affine_apply(x + elo * dx, ehi - elo, dx, dy, beta, pred + elo * dy);
    }
    if (!rc) rc = sm_nll_mean(SM_NLL_FULL, y, pred, n, dy, mean_nll, ar, st);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}
