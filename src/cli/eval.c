/* simsiam-mi eval --checkpoint F [--probe knn|linear] (DESIGN.md §2): the
 * label accuracy on the test split of a checkpoint's frozen encoder, with the
 * training split as the kNN bank (src/simsiam/knn_monitor.h) or as the linear
 * probe's training set (src/simsiam/probe.h, default options).  One JSON line:
 * {"probe":"knn","accuracy":0.8123,"n_train":60000,"n_test":10000,"seconds":1.2} */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "core/timer.h"
#include "data/loader.h"
#include "simsiam/knn_monitor.h"
#include "simsiam/probe.h"

/* Encoder features of both splits, then the probe of probe.h. */
static int linear_accuracy(sm_model *m, const sm_dataset *train, const sm_dataset *test, double *acc, sm_status *st)
{
    size_t d = m->features;
    float *ftrain = sm_mem_alloc_aligned(train->n * d, sizeof *ftrain, st);
    float *ftest = ftrain ? sm_mem_alloc_aligned(test->n * d, sizeof *ftest, st) : NULL;
    int rc = ftest ? SM_OK : (st ? st->code : SM_ERR_DATA);
    if (!rc) rc = sm_model_embed_dataset(m, train, train->n, ftrain, NULL, st);
    if (!rc) rc = sm_model_embed_dataset(m, test, test->n, ftest, NULL, st);
    sm_probe_opts o;
    sm_probe_defaults(&o);
    if (!rc)
        rc = sm_probe_linear(ftrain, train->labels, train->n, ftest, test->labels, test->n, d, train->classes, &o, acc,
                             st);
    sm_mem_free(ftrain);
    sm_mem_free(ftest);
    return rc;
}

static int evaluate(const char *checkpoint, int linear, sm_status *st)
{
    double t0 = sm_timer_now(), acc = 0;
    sm_config cfg;
    sm_dataset train, test = {0};
    sm_model *m;
    int rc = sm_probe_restore(checkpoint, "train", &cfg, &train, &m, st);
    if (rc) return rc;
    rc = sm_data_load(&cfg, "test", &test, st);
    if (!rc)
        rc = linear ? linear_accuracy(m, &train, &test, &acc, st) : sm_knn_monitor_accuracy(m, &train, &test, &acc, st);
    if (!rc)
        printf("{\"probe\":\"%s\",\"accuracy\":%.4f,\"n_train\":%zu,\"n_test\":%zu,\"seconds\":%.3f}\n",
               linear ? "linear" : "knn", acc, train.n, test.n, sm_timer_now() - t0);
    sm_model_free(m);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
    return rc;
}

int cli_eval(int argc, char **argv)
{
    cli_opt opts[] = {{"checkpoint", 1, NULL}, {"probe", 1, NULL}};
    const size_t nopts = sizeof opts / sizeof opts[0];
    size_t npos = 0;
    int rc = cli_parse(argc, argv, 1, opts, nopts, NULL, 0, &npos);
    if (rc) return rc;
    const char *checkpoint = cli_get(opts, nopts, "checkpoint");
    const char *probe = cli_get(opts, nopts, "probe");
    if (!probe) probe = "knn";
    if (!checkpoint) return cli_error(2, "missing --checkpoint F (see --help)");
    if (strcmp(probe, "knn") && strcmp(probe, "linear"))
        return cli_error(2, "unknown --probe '%s' (choose knn or linear)", probe);
    sm_status st;
    sm_status_clear(&st);
    if (evaluate(checkpoint, !strcmp(probe, "linear"), &st)) return cli_fail(&st);
    return fflush(stdout) == 0 ? 0 : cli_error(1, "cannot write to standard output");
}
