/* simsiam-mi eval --checkpoint F [--probe knn|linear] [--features encoder|
 * encoder-centred|pixels|pixels-centred] (docs/design.md §2): the label accuracy
 * on the test split of a checkpoint's frozen encoder, with the training split as
 * the kNN bank (src/simsiam/knn_monitor.h) or as the linear probe's training set
 * (src/simsiam/probe.h, default options); --features pixels and
 * pixels-centred measure the raw-pixel baselines the same way (on the
 * checkpoint's data set, or without --checkpoint the default one), and
 * *-centred features have the training split's mean row subtracted first
 * (sm_probe_centre), so encoder-centred compares with pixels-centred.  One JSON
 * line: {"probe":"knn","features":"encoder","accuracy":0.8123,"n_train":60000,
 * "n_test":10000,"seconds":1.2} */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "core/timer.h"
#include "data/loader.h"
#include "simsiam/knn_monitor.h"
#include "simsiam/probe.h"
#include "simsiam/state.h"

typedef enum {
    FEATURES_ENCODER,
    FEATURES_ENCODER_CENTRED,
    FEATURES_PIXELS,
    FEATURES_PIXELS_CENTRED,
    N_FEATURE_KINDS
} feature_kind;
static const char *const FEATURE_NAMES[] = {"encoder", "encoder-centred", "pixels", "pixels-centred"};

static int is_encoder(feature_kind kind) { return kind == FEATURES_ENCODER || kind == FEATURES_ENCODER_CENTRED; }
static int is_centred(feature_kind kind) { return kind == FEATURES_ENCODER_CENTRED || kind == FEATURES_PIXELS_CENTRED; }

/* Features of both splits (*d columns each; free both): the encoder's f, or
 * the raw-pixel baselines, centred when the kind says so. */
static int features(feature_kind kind, sm_model *m, const sm_dataset *train, const sm_dataset *test, float **ftrain,
                    float **ftest, size_t *d, sm_status *st)
{
    *d = is_encoder(kind) ? m->features : sm_dataset_image_size(train);
    *ftrain = sm_mem_alloc_aligned(train->n * *d, sizeof **ftrain, st);
    *ftest = *ftrain ? sm_mem_alloc_aligned(test->n * *d, sizeof **ftest, st) : NULL;
    if (!*ftest) return st ? st->code : SM_ERR_DATA;
    int rc = SM_OK;
    if (is_encoder(kind)) {
        rc = sm_model_embed_dataset(m, train, train->n, *ftrain, NULL, st);
        if (!rc) rc = sm_model_embed_dataset(m, test, test->n, *ftest, NULL, st);
    } else {
        sm_probe_pixel_features(train, test, *ftrain, *ftest);
    }
    return rc || !is_centred(kind) ? rc : sm_probe_centre(*ftrain, train->n, *ftest, test->n, *d, st);
}

/* The data (and, for the encoder, the model): from the checkpoint, or for
 * the pixel baselines without one, from the default configuration. */
static int load(const char *checkpoint, feature_kind kind, sm_config *cfg, sm_dataset *train, sm_dataset *test,
                sm_model **m, sm_status *st)
{
    sm_state_file f = {0};
    int rc = checkpoint ? sm_state_open(&f, checkpoint, st) : SM_OK;
    if (!rc) rc = checkpoint ? sm_state_read_config(&f, NULL, 0, cfg, st) : sm_config_load(cfg, NULL, 0, NULL, st);
    if (!rc) rc = is_encoder(kind) ? sm_state_restore_model(&f, cfg, "train", SM_STATE_BATCH, NULL, train, m, st)
                                           : sm_data_load(cfg, "train", train, st);
    sm_state_close(&f);
    return rc ? rc : sm_data_load_test(cfg, train, test, st);
}

static int evaluate(const char *checkpoint, int linear, feature_kind kind, sm_status *st)
{
    double t0 = sm_timer_now(), acc = 0;
    sm_config cfg;
    sm_dataset train = {0}, test = {0};
    sm_model *m = NULL;
    float *ftrain = NULL, *ftest = NULL;
    size_t d = 0;
    int rc = load(checkpoint, kind, &cfg, &train, &test, &m, st);
    if (!rc) rc = features(kind, m, &train, &test, &ftrain, &ftest, &d, st);
    sm_probe_opts o;
    sm_probe_defaults(&o);
    if (!rc)
        rc = linear ? sm_probe_linear(ftrain, train.labels, train.n, ftest, test.labels, test.n, d, train.classes, &o,
                                      &acc, st)
                    : sm_knn_monitor_accuracy_of(ftrain, &train, ftest, &test, d, &acc, st);
    if (!rc)
        printf("{\"probe\":\"%s\",\"features\":\"%s\",\"accuracy\":%.4f,\"n_train\":%zu,\"n_test\":%zu,"
               "\"seconds\":%.3f}\n", linear ? "linear" : "knn", FEATURE_NAMES[kind], acc, train.n, test.n,
               sm_timer_now() - t0);
    sm_mem_free(ftrain);
    sm_mem_free(ftest);
    sm_model_free(m);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
    return rc;
}

int cli_eval(int argc, char **argv)
{
    cli_opt opts[] = {{"checkpoint", 1, NULL, NULL, 0}, {"probe", 1, NULL, NULL, 0}, {"features", 1, NULL, NULL, 0}};
    const size_t nopts = sizeof opts / sizeof opts[0];
    size_t npos = 0;
    int rc = cli_parse(argc, argv, 1, opts, nopts, NULL, 0, &npos);
    if (rc) return rc;
    const char *checkpoint = cli_get(opts, nopts, "checkpoint");
    const char *probe = cli_get(opts, nopts, "probe");
    const char *feature = cli_get(opts, nopts, "features");
    if (!probe) probe = "knn";
    feature_kind kind = FEATURES_ENCODER;
    while (feature && kind < N_FEATURE_KINDS && strcmp(feature, FEATURE_NAMES[kind])) kind++;
    if (kind == N_FEATURE_KINDS)
        return cli_error(2, "unknown --features '%s' (choose encoder, encoder-centred, pixels or pixels-centred)",
                         feature);
    if (!checkpoint && is_encoder(kind)) return cli_error(2, "missing --checkpoint F (see --help)");
    if (strcmp(probe, "knn") && strcmp(probe, "linear"))
        return cli_error(2, "unknown --probe '%s' (choose knn or linear)", probe);
    sm_status st;
    sm_status_clear(&st);
    return cli_done(evaluate(checkpoint, !strcmp(probe, "linear"), kind, &st) ? cli_fail(&st) : 0);
}
