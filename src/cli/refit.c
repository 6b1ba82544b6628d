/* simsiam-mi refit --checkpoint F [key=value ...]: the predictor alone,
 * retrained on the checkpoint's frozen encoder, tracked at log-spaced steps
 * (src/simsiam/refit.h).  Only the refit and tracking keys, seed, threads
 * and out may be changed.  out defaults to
 * <checkpoint's directory>/refit-<checkpoint name>-<reinit|continue>.
 * Progress on stderr; the last stdout line is one JSON object:
 * {"checkpoint_step":…,"refit_steps":…,"events":…,"out":"DIR"}. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "io/json.h"
#include "simsiam/state.h"
#include "simsiam/refit.h"

static const char *const REFIT_KEYS[] = {"refit_steps",  "refit_lr",    "refit_reinit", "refit_batch",
                                         "track_samples", "track_views", "track_images", "track_mix",
                                         "track_resamples", "seed",     "threads",      "out"};

/* <dir of path>/refit-<name of path without .bin>-<reinit|continue>. */
static void default_out(const char *path, int reinit, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dir_len = slash ? (size_t)(slash - path) : 1, name_len = strlen(name);
    if (name_len > 4 && !strcmp(name + name_len - 4, ".bin")) name_len -= 4;
    snprintf(out, n, "%.*s/refit-%.*s-%s", (int)dir_len, slash ? path : ".", (int)name_len, name,
             reinit ? "reinit" : "continue");
}

static void progress(void *ctx, const sm_progress *p)
{
    (void)ctx;
    fprintf(stderr, "refit step %llu/%llu nll_full %.4f\n", (unsigned long long)p->done, (unsigned long long)p->total,
            p->loss);
}

static int refit(const char *checkpoint, const char **kv, size_t n, int has_out, sm_status *st)
{
    sm_config cfg;
    sm_state_file f;
    int rc = sm_state_open(&f, checkpoint, st);
    if (!rc) rc = sm_state_read_config(&f, kv, n, &cfg, st);
    sm_state_close(&f);
    if (rc) return rc;
    if (!has_out) default_out(checkpoint, (int)cfg.refit_reinit, cfg.out, sizeof cfg.out);
    sm_refit_result res;
    sm_hooks hooks = {progress, cli_print_warning, NULL, NULL};
    rc = sm_refit_run(checkpoint, &cfg, &hooks, &res, st);
    if (rc) return rc;
    char out[2 * SM_CONFIG_TEXT_MAX + 8];
    sm_json_string(out, sizeof out, cfg.out);
    printf("{\"checkpoint_step\":%llu,\"refit_steps\":%llu,\"events\":%zu,\"out\":%s}\n",
           (unsigned long long)res.checkpoint_step, (unsigned long long)res.steps, res.events, out);
    return SM_OK;
}

int cli_refit(int argc, char **argv)
{
    cli_opt opts[] = {{"checkpoint", 1, NULL, NULL, 0}};
    sm_status st;
    sm_status_clear(&st);
    const char **kv, *out = NULL;
    size_t n;
    int rc = cli_parse_kv(argc, argv, opts, 1, &kv, &n);
    if (!rc) rc = cli_offline_keys("refit", kv, n, REFIT_KEYS, sizeof REFIT_KEYS / sizeof *REFIT_KEYS, &out);
    const char *checkpoint = cli_get(opts, 1, "checkpoint");
    if (!rc && !checkpoint) rc = cli_error(2, "missing --checkpoint F (see --help)");
    if (!rc && refit(checkpoint, kv, n, out != NULL, &st)) rc = cli_fail(&st);
    sm_mem_free(kv);
    return cli_done(rc);
}
