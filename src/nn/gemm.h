/* sgemm whose result does not depend on the thread count.
 *
 * OpenBLAS's own threading is not bit-reproducible across thread counts: with
 * its Haswell/Zen kernels a 256 × 128 × 256 product differs in the last bits
 * between 1 and 2 OpenBLAS threads (its AVX-512 kernels happen to agree).
 * So the layers never let OpenBLAS split a product.  Instead the rows of C are
 * cut into fixed blocks (the cut depends on m only), each block is one
 * single-threaded sgemm, and OpenMP runs the blocks in parallel: every block
 * is the same call whatever the thread count, hence the same bits.
 *
 * OpenBLAS's thread count is process-wide; these helpers pin it to 1 while
 * OpenMP threads call sgemm and give the caller's setting back afterwards
 * (an sgemm inside an OpenMP region would otherwise start its own threads on
 * top of ours). */
#ifndef SM_NN_GEMM_H
#define SM_NN_GEMM_H

/* Set OpenBLAS to 1 thread; returns the previous count for the restore. */
int sm_gemm_pin_blas(void);
void sm_gemm_restore_blas(int saved);

/* C (m × n, row-major, leading dimension ldc) = op(A) op(B) + beta · C, with
 * op(A) m × k (A is k × m when trans_a), op(B) k × n (B is n × k when
 * trans_b).  Uses the ambient OpenMP thread count; results are identical for
 * any thread count. */
void sm_gemm_rows(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc);

#endif
