/* simsiam-mi train [--config FILE] [key=value ...] (DESIGN.md §2): resolve the
 * configuration, train (src/simsiam/train.h), print the summary as the last
 * stdout line. */
#include <stdio.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "io/config.h"
#include "simsiam/train.h"

int cli_train(int argc, char **argv)
{
    cli_opt opts[] = {{"config", 1, NULL}};
    sm_status st;
    sm_status_clear(&st);
    const char **assignments = sm_mem_alloc((size_t)argc, sizeof *assignments, &st);
    if (!assignments) return cli_fail(&st);
    size_t n = 0;
    int rc = cli_parse(argc, argv, 1, opts, 1, assignments, (size_t)argc, &n);
    sm_config cfg;
    if (!rc && sm_config_load(&cfg, cli_get(opts, 1, "config"), (int)n, assignments, &st)) rc = cli_fail(&st);
    sm_mem_free(assignments);
    if (rc) return rc;
    sm_train_result res;
    if (sm_train_run(&cfg, &res, &st)) return cli_fail(&st);
    char line[SM_TRAIN_JSON_MAX];
    sm_train_summary_json(&res, line, sizeof line);
    printf("%s\n", line);
    return fflush(stdout) == 0 ? 0 : cli_error(1, "cannot write to standard output");
}
