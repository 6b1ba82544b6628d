#include "nn/gemm.h"

#include <cblas.h>

/* Rows of C per block.  Every block repacks the whole op(B), so small blocks
 * cost: a 256 × 512 × 512 linear layer runs at ~80 GFLOP/s on one core with
 * 32-row blocks, ~92 with 64 and ~104 as one call.  64 still gives a 256-row
 * batch 4 blocks to share among threads. */
enum { BLOCK_ROWS = 64 };

int sm_gemm_pin_blas(void)
{
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}

void sm_gemm_restore_blas(int saved)
{
    if (saved != 1) openblas_set_num_threads(saved);
}

void sm_gemm_rows(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc)
{
    const int blocks = (m + BLOCK_ROWS - 1) / BLOCK_ROWS;
    int saved = sm_gemm_pin_blas();
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < blocks; blk++) {
        int r0 = blk * BLOCK_ROWS, rows = m - r0 < BLOCK_ROWS ? m - r0 : BLOCK_ROWS;
        /* Row r0 of op(A): row r0 of A, or column r0 of A when transposed. */
        const float *a_blk = trans_a ? a + r0 : a + (long)r0 * lda;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    rows, n, k, 1.0f, a_blk, lda, b, ldb, beta, c + (long)r0 * ldc, ldc);
    }
    sm_gemm_restore_blas(saved);
}
