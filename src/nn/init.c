#include "nn/init.h"

#include <assert.h>
#include <math.h>

void sm_init_kaiming_uniform(float *w, size_t count, size_t fan_in, sm_rng *rng)
{
    assert(fan_in >= 1);
    double bound = 1.0 / sqrt((double)fan_in);
    for (size_t i = 0; i < count; i++) w[i] = (float)((2.0 * sm_rng_uniform(rng) - 1.0) * bound);
}
