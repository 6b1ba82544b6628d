/* simsiam-mi track --checkpoint F [key=value ...] (docs/design.md §2, §4): one
 * tracking event (src/simsiam/track.h) on a checkpoint's model, at its step,
 * with the run's configuration.  Only the tracking keys, seed and threads may
 * be changed; with the run's own values the row is the one the run tracked
 * at that step (up to the last bits: the model runs in other chunks).
 * Output: track.csv's header and row on stdout; with out=DIR also
 * DIR/track.csv and DIR/track_detail.csv, which must not exist yet (a run's
 * own files are never replaced). */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "core/threads.h"
#include "io/atomic.h"
#include "simsiam/state.h"
#include "simsiam/track.h"
#include "simsiam/tracker.h"

static const char *const TRACK_KEYS[] = {"track_samples",   "track_views", "track_images", "track_mix",
                                         "track_resamples", "seed",        "threads",      "out"};

static const char *const OUT_NAMES[] = {"track.csv", "track_detail.csv"};
static const sm_track_file OUT_FILES[] = {SM_TRACK_CSV, SM_TRACK_DETAIL_CSV};
enum {
    N_OUT = sizeof OUT_NAMES / sizeof *OUT_NAMES,
    OUT_NAME_MAX = sizeof "track_detail.csv" - 1, /* the longer of OUT_NAMES */
    OUT_PATH_MAX = SM_CONFIG_TEXT_MAX + 32
};

/* SM_ERR_DATA if either output exists: checked before the event and again
 * before writing, so that neither file is written when one is refused. */
static int refuse_existing(const char *dir, sm_status *st)
{
    char path[OUT_PATH_MAX];
    struct stat sb;
    for (int i = 0; i < N_OUT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, OUT_NAMES[i]);
        if (stat(path, &sb) == 0) return sm_status_fail(st, SM_ERR_DATA, path, "already exists; not replaced");
    }
    return SM_OK;
}

/* Both files or neither: when the second cannot be written (a full disk),
 * the first, which did not exist before (refuse_existing), is removed, so
 * that the same command can be run again. */
static int write_outputs(const char *dir, const sm_track_row *row, sm_status *st)
{
    if (dir) {
        int rc = sm_make_dirs(dir, OUT_NAME_MAX, st);
        if (!rc) rc = refuse_existing(dir, st);
        char path[N_OUT][OUT_PATH_MAX];
        sm_atomic_file af;
        int written = 0;
        for (; !rc && written < N_OUT; written++) {
            snprintf(path[written], sizeof path[written], "%s/%s", dir, OUT_NAMES[written]);
            if ((rc = sm_atomic_open(&af, path[written], st))) break;
            sm_track_fprint(af.f, OUT_FILES[written], row, 1);
            if ((rc = sm_atomic_commit(&af, st))) break;
        }
        if (rc) {
            while (written-- > 0) unlink(path[written]);
            return rc;
        }
    }
    sm_track_fprint(stdout, SM_TRACK_CSV, row, 1);
    return SM_OK;
}

/* The checkpoint's configuration with the overrides, its model, step and
 * predictor: one event, written out. */
static int track(const char *checkpoint, const char **kv, size_t nkv, const char *out, sm_status *st)
{
    sm_config cfg;
    sm_dataset train = {0};
    sm_model *m = NULL;
    uint64_t step = 0;
    sm_predictor *pred = NULL;
    sm_state_file f = {0};
    int rc = out ? sm_out_dir_fits(out, OUT_NAME_MAX, st) : SM_OK; /* before the event, as the next check */
    if (!rc && out) rc = refuse_existing(out, st);
    if (!rc) rc = sm_state_open(&f, checkpoint, st);
    if (!rc) rc = sm_state_read_config(&f, kv, nkv, &cfg, st);
    if (!rc) rc = sm_state_restore_tracking(&f, &cfg, SM_STATE_BATCH, NULL, &train, &m, &pred, &step, st);
    sm_state_close(&f);
    sm_tracker *t = NULL;
    if (!rc) {
        sm_threads_set((int)cfg.threads);
        t = sm_tracker_alloc(&cfg, &train, m->z_dim, st);
        rc = t ? SM_OK : st->code;
    }
    sm_track_row row;
    if (!rc) rc = sm_tracker_event(t, m, pred, step, &row, st);
    if (!rc && row.warning[0]) fprintf(stderr, "simsiam-mi: warning: tracking at step %llu: %s\n",
                                       (unsigned long long)step, row.warning);
    if (!rc) rc = write_outputs(out, &row, st);
    sm_tracker_free(t);
    sm_predictor_free(pred);
    sm_model_free(m);
    sm_dataset_free(&train);
    return rc;
}

/* --columns: every tracked column, one per line: name, the files that carry
 * it, unit, description (tab-separated, after a header line). */
static void print_columns(void)
{
    static const char *const FILES[] = {"track.csv", "track_detail.csv", "refit.csv"};
    printf("column\tfiles\tunit\tdescription\n");
    for (size_t c = 0; c < SM_TRACK_NCOLUMNS; c++) {
        const sm_track_column *col = &SM_TRACK_COLUMNS[c];
        printf("%s\t", col->name);
        const char *sep = "";
        for (int f = 0; f < 3; f++)
            if (col->files & (1u << f)) printf("%s%s", sep, FILES[f]), sep = ",";
        printf("\t%s\t%s\n", col->unit[0] ? col->unit : "-", col->doc);
    }
}

int cli_track(int argc, char **argv)
{
    cli_opt opts[] = {{"checkpoint", 1, NULL, NULL, 0}, {"columns", 0, NULL, NULL, 0}};
    sm_status st;
    sm_status_clear(&st);
    const char **kv, *out = NULL;
    size_t n;
    int rc = cli_parse_kv(argc, argv, opts, 2, &kv, &n);
    int columns = !rc && cli_get(opts, 2, "columns");
    if (columns && (n || cli_get(opts, 2, "checkpoint")))
        rc = cli_error(2, "--columns takes no other argument (it only lists the columns)");
    if (!rc && columns) print_columns();
    if (!rc && !columns) rc = cli_offline_keys("track", kv, n, TRACK_KEYS, sizeof TRACK_KEYS / sizeof *TRACK_KEYS, &out);
    const char *checkpoint = cli_get(opts, 2, "checkpoint");
    if (!rc && !columns && !checkpoint) rc = cli_error(2, "missing --checkpoint F (see --help)");
    if (!rc && !columns && track(checkpoint, kv, n, out, &st)) rc = cli_fail(&st);
    sm_mem_free(kv);
    return cli_done(rc);
}
