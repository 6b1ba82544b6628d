/* The raw-pixel baselines and the linear probe (see probe.h). */
#include "simsiam/probe.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "core/threads.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "optim/schedule.h"
#include "optim/sgd.h"

/* ---- raw-pixel baselines ------------------------------------------------- */

static void gather_all(const sm_dataset *ds, float *out)
{
    enum { CHUNK = 1024 };
    size_t idx[CHUNK], image = sm_dataset_image_size(ds);
    for (size_t done = 0; done < ds->n; done += CHUNK) {
        size_t n = ds->n - done < CHUNK ? ds->n - done : CHUNK;
        for (size_t i = 0; i < n; i++) idx[i] = done + i;
        sm_dataset_gather(ds, idx, n, out + done * image);
    }
}

int sm_probe_centre(float *ftrain, size_t n_train, float *ftest, size_t n_test, size_t d, sm_status *st)
{
    double *mean = sm_mem_alloc(d, sizeof *mean, st);
    if (!mean) return st ? st->code : SM_ERR_DATA;
    for (size_t i = 0; i < n_train; i++)
        for (size_t j = 0; j < d; j++) mean[j] += ftrain[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n_train;
    for (size_t i = 0; i < n_train; i++)
        for (size_t j = 0; j < d; j++) ftrain[i * d + j] = (float)(ftrain[i * d + j] - mean[j]);
    for (size_t i = 0; i < n_test; i++)
        for (size_t j = 0; j < d; j++) ftest[i * d + j] = (float)(ftest[i * d + j] - mean[j]);
    sm_mem_free(mean);
    return SM_OK;
}

void sm_probe_pixel_features(const sm_dataset *train, const sm_dataset *test, float *ftrain, float *ftest)
{
    gather_all(train, ftrain);
    gather_all(test, ftest);
}

/* ---- linear probe --------------------------------------------------------- */

void sm_probe_defaults(sm_probe_opts *o)
{
    *o = (sm_probe_opts){.epochs = 100, .batch = 256, .lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .seed = 0};
}

/* Column j of the n rows x (d floats each) into (x − mean) / scale. */
static void standardize_column(float *x, size_t n, size_t d, size_t j, double mean, double scale)
{
    for (size_t i = 0; i < n; i++) x[i * d + j] = (float)((x[i * d + j] - mean) / scale);
}

void sm_probe_standardize(float *train, size_t n_train, float *test, size_t n_test, size_t d)
{
    for (size_t j = 0; j < d; j++) {
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < n_train; i++) sum += train[i * d + j];
        double mean = sum / (double)n_train;
        for (size_t i = 0; i < n_train; i++) {
            double c = train[i * d + j] - mean;
            sum2 += c * c;
        }
        double sd = sqrt(sum2 / (double)n_train);
        double scale = sd > 0 ? sd : 1; /* a constant feature carries nothing: leave it at 0 */
        standardize_column(train, n_train, d, j, mean, scale);
        standardize_column(test, n_test, d, j, mean, scale);
    }
}

/* Row i of logits (k floats) into its softmax, computed in double with the
 * maximum subtracted; returns −log softmax[label]. */
static double softmax_row(float *row, size_t k, uint8_t label)
{
    double mx = row[0];
    for (size_t c = 1; c < k; c++) mx = fmax(mx, row[c]);
    double sum = 0;
    for (size_t c = 0; c < k; c++) sum += exp(row[c] - mx);
    double nll = log(sum) - (row[label] - mx);
    for (size_t c = 0; c < k; c++) row[c] = (float)(exp(row[c] - mx) / sum);
    return nll;
}

/* logits = x W + b (n × k). */
static void compute_logits(const float *x, size_t n, size_t d, size_t k, const float *params, float *logits)
{
    const float *b = params + d * k;
    for (size_t i = 0; i < n; i++) memcpy(logits + i * k, b, k * sizeof *b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)d, 1.0f, x, (int)d, params, (int)k,
                1.0f, logits, (int)k);
}

double sm_probe_loss_grad(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const float *params,
                          float *grad, float *logits)
{
    compute_logits(x, n, d, k, params, logits);
    double loss = 0;
    float *gb = grad + d * k;
    memset(gb, 0, k * sizeof *gb);
    /* logits become ∂L/∂logits = (softmax − onehot) / n */
    for (size_t i = 0; i < n; i++) {
        float *row = logits + i * k;
        loss += softmax_row(row, k, y[i]);
        row[y[i]] -= 1.0f;
        for (size_t c = 0; c < k; c++) {
            row[c] /= (float)n;
            gb[c] += row[c];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)k, (int)n, 1.0f, x, (int)d, logits, (int)k, 0.0f,
                grad, (int)k);
    return loss / (double)n;
}

typedef struct {
    float *xb, *grad, *momentum, *logits;
    uint8_t *yb;
    sm_sampler sampler;
} fit_buffers;

static void fit_buffers_free(fit_buffers *b)
{
    sm_mem_free(b->xb);
    sm_mem_free(b->grad);
    sm_mem_free(b->momentum);
    sm_mem_free(b->logits);
    sm_mem_free(b->yb);
    sm_sampler_free(&b->sampler);
}

static int fit_buffers_alloc(fit_buffers *b, size_t n, size_t batch, size_t d, size_t k, uint64_t seed,
                             sm_status *st)
{
    memset(b, 0, sizeof *b);
    size_t np = d * k + k;
    if ((b->xb = sm_mem_alloc_aligned(batch * d, sizeof *b->xb, st)) &&
        (b->grad = sm_mem_alloc_aligned(np, sizeof *b->grad, st)) &&
        (b->momentum = sm_mem_alloc_aligned(np, sizeof *b->momentum, st)) &&
        (b->logits = sm_mem_alloc_aligned(batch * k, sizeof *b->logits, st)) &&
        (b->yb = sm_mem_alloc(batch, 1, st)) && !sm_sampler_alloc(&b->sampler, n, batch, seed, st))
        return SM_OK;
    fit_buffers_free(b);
    return st ? st->code : SM_ERR_DATA;
}

int sm_probe_fit(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const sm_probe_opts *o,
                 float *params, sm_status *st)
{
    size_t batch = o->batch < n ? o->batch : n;
    memset(params, 0, (d * k + k) * sizeof *params);
    fit_buffers b;
    int rc = fit_buffers_alloc(&b, n, batch, d, k, o->seed, st);
    if (rc) return rc;
    memset(b.momentum, 0, (d * k + k) * sizeof *b.momentum);
    sm_sgd_group groups[2] = {
        {.offset = 0, .count = d * k, .lr = (float)o->lr, .momentum = (float)o->momentum,
         .weight_decay = (float)o->weight_decay},
        {.offset = d * k, .count = k, .lr = (float)o->lr, .momentum = (float)o->momentum, .weight_decay = 0},
    };
    /* One thread for both OpenMP and OpenBLAS: a step is a few MFLOP, and
     * parallel regions that small spent 95% of a busy machine's time in
     * libgomp waiting for descheduled team threads (a pixel probe ran for
     * over 11 minutes); one thread also makes the fit thread-independent. */
    const int threads = sm_threads_get();
    sm_threads_set(1);
    const size_t per_epoch = sm_sampler_batches(&b.sampler);
    const double total = (double)(o->epochs * per_epoch);
    for (size_t e = 0; e < o->epochs; e++) {
        sm_sampler_shuffle(&b.sampler, e);
        for (size_t bi = 0; bi < per_epoch; bi++) {
            const size_t *idx = sm_sampler_batch(&b.sampler, bi);
            const double t = (double)(e * per_epoch + bi);
            groups[0].lr = groups[1].lr = (float)sm_schedule_lr(SM_SCHEDULE_COSINE, o->lr, t, total);
            for (size_t i = 0; i < batch; i++) {
                memcpy(b.xb + i * d, x + idx[i] * d, d * sizeof *x);
                b.yb[i] = y[idx[i]];
            }
            sm_probe_loss_grad(b.xb, b.yb, batch, d, k, params, b.grad, b.logits);
            sm_sgd_step(groups, 2, params, b.grad, b.momentum);
        }
    }
    sm_threads_set(threads);
    fit_buffers_free(&b);
    return SM_OK;
}

double sm_probe_accuracy(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const float *params)
{
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double best_logit = -INFINITY;
        for (size_t c = 0; c < k; c++) {
            double logit = params[d * k + c];
            for (size_t j = 0; j < d; j++) logit += (double)x[i * d + j] * params[j * k + c];
            if (logit > best_logit) {
                best_logit = logit;
                best = c;
            }
        }
        correct += best == y[i];
    }
    return (double)correct / (double)n;
}

int sm_probe_linear(float *train, const uint8_t *train_y, size_t n_train, float *test, const uint8_t *test_y,
                    size_t n_test, size_t d, size_t k, const sm_probe_opts *o, double *acc, sm_status *st)
{
    float *params = sm_mem_alloc_aligned(d * k + k, sizeof *params, st);
    if (!params) return st ? st->code : SM_ERR_DATA;
    sm_probe_standardize(train, n_train, test, n_test, d);
    int rc = sm_probe_fit(train, train_y, n_train, d, k, o, params, st);
    if (!rc) *acc = sm_probe_accuracy(test, test_y, n_test, d, k, params);
    sm_mem_free(params);
    return rc;
}
