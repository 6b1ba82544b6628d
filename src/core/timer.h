/* Monotonic wall clock in seconds (CLOCK_MONOTONIC). */
#ifndef SM_CORE_TIMER_H
#define SM_CORE_TIMER_H

double sm_timer_now(void);

#endif
