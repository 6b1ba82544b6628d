/* What a long library call (training, refitting) tells its caller while it
 * runs, and how the caller asks it to stop: the library never prints and
 * never handles signals itself; the CLI draws progress, prints warnings and
 * sets the stop flag from its signal handlers.  Any member may be NULL, and
 * so may the hooks pointer itself (silent, never stopped). */
#ifndef SM_CORE_HOOKS_H
#define SM_CORE_HOOKS_H

#include <signal.h>
#include <stdint.h>

typedef struct {
    uint64_t done, total; /* steps */
    uint64_t epoch;       /* 0-based epoch of the last step (training) */
    double loss;          /* of the last step (refit: E[NLL_full] at the last event) */
    double images_per_s;  /* 0 when not measured */
    double eta_seconds;   /* for the remaining steps at the rate so far */
} sm_progress;

typedef struct {
    void (*progress)(void *ctx, const sm_progress *p);
    void (*warning)(void *ctx, const char *msg);
    void *ctx;
    /* nonzero: finish the current step, save what a resume needs and
     * return (the caller's result says it stopped) */
    volatile sig_atomic_t *stop;
} sm_hooks;

void sm_hooks_progress(const sm_hooks *h, const sm_progress *p);
/* A one-line warning, printf-style, made printable (sm_status_printable). */
void sm_hooks_warn(const sm_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sm_hooks_stop_requested(const sm_hooks *h);

#endif
