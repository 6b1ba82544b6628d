#include "optim/sgd.h"

static void group_step(const sm_sgd_group *g, float *w, const float *grad, float *buf)
{
    const float lr = g->lr, mom = g->momentum, wd = g->weight_decay;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < g->count; i++) {
        float d_p = grad[i] + wd * w[i];
        buf[i] = mom * buf[i] + d_p;
        w[i] -= lr * buf[i];
    }
}

void sm_sgd_step(const sm_sgd_group *groups, size_t n_groups, float *params, const float *grads,
                 float *momentum_buf)
{
    for (size_t k = 0; k < n_groups; k++) {
        const sm_sgd_group *g = &groups[k];
        group_step(g, params + g->offset, grads + g->offset, momentum_buf + g->offset);
    }
}
