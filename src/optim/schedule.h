/* Learning-rate schedules (SimSiam: cosine decay, no warm-up).
 *
 *   cosine  lr_t = base · ½ (1 + cos(π t / T)),  from base at t = 0 to 0 at t = T
 *   const   lr_t = base
 *
 * t and T are in whatever unit the trainer steps the schedule by (SimSiam's
 * reference code uses epochs; steps give a smoother decay). */
#ifndef SM_OPTIM_SCHEDULE_H
#define SM_OPTIM_SCHEDULE_H

#include <stddef.h>

/* Values in the order of the `schedule` key's words (io/config.c parses them). */
typedef enum { SM_SCHEDULE_COSINE, SM_SCHEDULE_CONST } sm_schedule_kind;

const char *sm_schedule_name(sm_schedule_kind kind);

/* The lr at time t of total, 0 <= t <= total, total > 0. */
double sm_schedule_lr(sm_schedule_kind kind, double base, double t, double total);

/* SimSiam's linear scaling rule: the effective base lr is lr · batch / 256. */
double sm_schedule_scaled_lr(double lr, size_t batch);

#endif
