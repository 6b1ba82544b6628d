#include "optim/schedule.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static const char *const NAMES[] = {[SM_SCHEDULE_COSINE] = "cosine", [SM_SCHEDULE_CONST] = "const"};

const char *sm_schedule_name(sm_schedule_kind kind)
{
    assert(kind == SM_SCHEDULE_COSINE || kind == SM_SCHEDULE_CONST);
    return NAMES[kind];
}

double sm_schedule_lr(sm_schedule_kind kind, double base, double t, double total)
{
    assert(total > 0.0 && t >= 0.0 && t <= total);
    if (kind == SM_SCHEDULE_CONST) return base;
    /* π t / T as acos(−1) · t / T: M_PI is not in strict C11. */
    return base * 0.5 * (1.0 + cos(acos(-1.0) * t / total));
}

double sm_schedule_scaled_lr(double lr, size_t batch) { return lr * (double)batch / 256.0; }
