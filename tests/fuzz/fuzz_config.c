/* libFuzzer harness: configuration files through sm_config_read_file
 * (src/io/config.h), under the contract of tests/fuzz/harness.h (a
 * configuration is not an output that must stay zeroed: a failed file
 * leaves the keys before the bad line applied, as documented).  A file that
 * reads also round-trips: sm_config_fprint's text, read again, gives the
 * same configuration, which is what a run directory's config.txt and a
 * checkpoint's config section rely on. */
#define _GNU_SOURCE /* open_memstream's declaration under -std=c11 (it is POSIX 2008) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/harness.h"
#include "io/config.h"

/* The defaults over zeroed bytes, so two configurations compare with memcmp. */
static void fresh(sm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    sm_config_defaults(cfg);
}

/* Bytes after a text field's terminator keep an earlier, longer value:
 * zero them so that only the values compare. */
static void clear_tails(sm_config *cfg)
{
    char *fields[] = {cfg->data_dir, cfg->resume, cfg->out};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        size_t len = strlen(fields[i]);
        memset(fields[i] + len, 0, SM_CONFIG_TEXT_MAX - len);
    }
}

static void check_round_trip(sm_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sm_fuzz_require(f != NULL, "out of memory");
    sm_config_fprint(f, cfg);
    sm_fuzz_require(fclose(f) == 0, "out of memory");
    sm_config again;
    sm_status st;
    fresh(&again);
    int rc = sm_config_parse_text(&again, text, "round trip", &st);
    if (rc) fprintf(stderr, "%s\n", st.msg);
    sm_fuzz_require(rc == SM_OK, "sm_config_fprint's text does not read back");
    clear_tails(cfg);
    clear_tails(&again);
    sm_fuzz_require(memcmp(cfg, &again, sizeof again) == 0, "sm_config_fprint's text reads back to another configuration");
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("x.config", data, size);
    sm_status st;
    sm_config cfg;
    fresh(&cfg);
    int rc = sm_config_read_file(&cfg, path, &st);
    sm_fuzz_check(rc, &st, path, 1);
    if (!rc) check_round_trip(&cfg);
    return 0;
}
