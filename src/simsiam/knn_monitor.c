/* kNN monitor (see knn_monitor.h). */
#include "simsiam/knn_monitor.h"

#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "nn/gemm.h"

/* Queries per similarity block: QUERY_CHUNK × n_bank floats at a time. */
enum { QUERY_CHUNK = 256 };

typedef struct {
    float sim;
    size_t index;
} neighbour;

void sm_knn_monitor_normalize(float *rows, size_t n, size_t d)
{
    for (size_t i = 0; i < n; i++) {
        float *r = rows + i * d;
        double ss = 0;
        for (size_t j = 0; j < d; j++) ss += (double)r[j] * r[j];
        double norm = sqrt(ss);
        if (norm < 1e-12) norm = 1e-12;
        for (size_t j = 0; j < d; j++) r[j] = (float)(r[j] / norm);
    }
}

/* a ranks above b: more similar, or as similar with a lower bank index (a
 * total order, so the selected set never depends on the scan order). */
static int ranks_above(neighbour a, neighbour b)
{
    return a.sim > b.sim || (a.sim == b.sim && a.index < b.index);
}

/* Restore the heap below position i; the root is the WORST kept neighbour,
 * the one a better candidate replaces. */
static void sift_down(neighbour *heap, size_t k, size_t i)
{
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < k && ranks_above(heap[worst], heap[l])) worst = l;
        if (r < k && ranks_above(heap[worst], heap[r])) worst = r;
        if (worst == i) return;
        neighbour t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

/* The k best of sims[0..n) into heap (k <= n). */
static void select_top(const float *sims, size_t n, size_t k, neighbour *heap)
{
    for (size_t j = 0; j < k; j++) heap[j] = (neighbour){sims[j], j};
    for (size_t i = k / 2; i-- > 0;) sift_down(heap, k, i);
    for (size_t j = k; j < n; j++) {
        neighbour c = {sims[j], j};
        if (ranks_above(c, heap[0])) {
            heap[0] = c;
            sift_down(heap, k, 0);
        }
    }
}

static uint8_t vote(const neighbour *nb, size_t k, const uint8_t *labels, size_t classes, double temperature,
                    double *score)
{
    memset(score, 0, classes * sizeof *score);
    for (size_t j = 0; j < k; j++) score[labels[nb[j].index]] += exp(nb[j].sim / temperature);
    size_t best = 0;
    for (size_t c = 1; c < classes; c++)
        if (score[c] > score[best]) best = c;
    return (uint8_t)best;
}

int sm_knn_monitor_classify(const float *bank, const uint8_t *bank_labels, size_t n_bank,
                            const float *query, size_t n_query, size_t d, size_t classes, size_t k,
                            double temperature, uint8_t *pred, sm_status *st)
{
    if (k > n_bank) k = n_bank;
    size_t chunk = n_query < QUERY_CHUNK ? n_query : QUERY_CHUNK;
    float *sims = sm_mem_alloc_aligned(chunk * n_bank, sizeof *sims, st);
    neighbour *heaps = sims ? sm_mem_alloc(chunk * k, sizeof *heaps, st) : NULL;
    double *scores = heaps ? sm_mem_alloc(chunk * classes, sizeof *scores, st) : NULL;
    if (!scores) {
        sm_mem_free(sims);
        sm_mem_free(heaps);
        return st ? st->code : SM_ERR_DATA;
    }
    for (size_t q0 = 0; q0 < n_query; q0 += chunk) {
        size_t nq = n_query - q0 < chunk ? n_query - q0 : chunk;
        /* sims = queries · bankᵀ, by sm_gemm_rows: the same bits at every thread count */
        sm_gemm_rows(0, 1, (int)nq, (int)n_bank, (int)d, query + q0 * d, (int)d, bank, (int)d, 0.0f, sims,
                     (int)n_bank);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nq; i++) {
            select_top(sims + i * n_bank, n_bank, k, heaps + i * k);
            pred[q0 + i] = vote(heaps + i * k, k, bank_labels, classes, temperature, scores + i * classes);
        }
    }
    sm_mem_free(sims);
    sm_mem_free(heaps);
    sm_mem_free(scores);
    return SM_OK;
}

int sm_knn_monitor_accuracy_of(float *bank, const sm_dataset *train, float *query, const sm_dataset *test, size_t d,
                               double *acc, sm_status *st)
{
    uint8_t *pred = sm_mem_alloc(test->n, 1, st);
    if (!pred) return st ? st->code : SM_ERR_DATA;
    sm_knn_monitor_normalize(bank, train->n, d);
    sm_knn_monitor_normalize(query, test->n, d);
    int rc = sm_knn_monitor_classify(bank, train->labels, train->n, query, test->n, d, train->classes,
                                     SM_KNN_MONITOR_K, SM_KNN_MONITOR_TEMPERATURE, pred, st);
    if (!rc) {
        size_t correct = 0;
        for (size_t i = 0; i < test->n; i++) correct += pred[i] == test->labels[i];
        *acc = (double)correct / (double)test->n;
    }
    sm_mem_free(pred);
    return rc;
}

int sm_knn_monitor_accuracy(sm_model *m, const sm_dataset *train, const sm_dataset *test, double *acc,
                            sm_status *st)
{
    size_t d = m->features;
    float *bank = sm_mem_alloc_aligned(train->n * d, sizeof *bank, st);
    float *query = bank ? sm_mem_alloc_aligned(test->n * d, sizeof *query, st) : NULL;
    int rc = query ? SM_OK : (st ? st->code : SM_ERR_DATA);
    if (!rc) rc = sm_model_embed_dataset(m, train, train->n, bank, NULL, st);
    if (!rc) rc = sm_model_embed_dataset(m, test, test->n, query, NULL, st);
    if (!rc) rc = sm_knn_monitor_accuracy_of(bank, train, query, test, d, acc, st);
    sm_mem_free(bank);
    sm_mem_free(query);
    return rc;
}
