/* simsiam-mi estimate entropy|mi|nll|bound (docs/design.md §2): load samples, run
 * one estimator (optionally with subsampling intervals), print one JSON line. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/threads.h"
#include "core/timer.h"
#include "estimators/bound.h"
#include "estimators/entropy.h"
#include "estimators/mi.h"
#include "estimators/nll.h"
#include "estimators/registry.h"
#include "estimators/resample.h"
#include "io/matrix.h"

enum { OPT_X, OPT_Y, OPT_Z, OPT_P, OPT_Z1, OPT_Z2, OPT_P1, OPT_ESTIMATOR, OPT_FAMILY, OPT_K,
       OPT_WHITEN, OPT_NOISE, OPT_SEED, OPT_SUBSAMPLE, OPT_THREADS, OPT_RIDGE, OPT_COMPONENTS, NOPTS };

typedef struct {
    cli_opt opt[NOPTS];
    size_t k;
    double ridge;
    long subsample;
    size_t components; /* of --family mix */
    sm_prep_opts prep;
} est_args;

/* Load a required --name file; a missing option is a usage error. */
static int load_input(const est_args *a, int which, sm_matrix *m)
{
    const char *path = a->opt[which].value;
    if (!path) return cli_error(2, "missing --%s FILE (see --help)", a->opt[which].name);
    sm_status st;
    if (sm_matrix_load(path, m, &st)) return cli_fail(&st);
    return 0;
}

/* An estimator's failure (duplicate samples, a singular covariance, too few
 * rows for it) is about the data: the input files join its "(where)",
 * "... (KL entropy; x.npy)", one parenthesis as every message has.  Every
 * option was range-checked before the call, so what the library still calls
 * a usage error is the data's size (the mixture's K (d + 1) rows per half):
 * exit 1, as k >= N is. */
static int fail_on_inputs(const sm_status *st, const char *const *paths, size_t n)
{
    char where[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof where; i++)
        len += (size_t)snprintf(where + len, sizeof where - len, "%s%s", i ? ", " : "", paths[i]);
    sm_status out;
    sm_status_wrap(&out, st, "", where);
    out.code = SM_ERR_DATA;
    return cli_fail(&out);
}

static int check_rows(const sm_matrix *a, const char *pa, const sm_matrix *b, const char *pb)
{
    if (a->n == b->n) return 0;
    return cli_error(1, "row counts differ: %zu in %s, %zu in %s (%s)", a->n, pa, b->n, pb, pb);
}

/* Every estimator needs two samples and the k-NN ones 1 <= k < N: with N
 * fixed by the data these are data errors (exit 1), whatever the estimator. */
static int check_k(size_t k, size_t n, const char *path)
{
    if (n < 2) return cli_error(1, "need at least 2 samples, got %zu (%s)", n, path);
    if (k < n) return 0;
    return cli_error(1, "k = %zu must be below the number of samples N = %zu (%s)", k, n, path);
}

/* Options outside `allowed` (space-separated names) do not apply to this
 * quantity or estimator: silently ignoring them would mislead. */
static int check_applicable(const est_args *a, const char *what, const char *allowed)
{
    for (int i = 0; i < NOPTS; i++) {
        if (!a->opt[i].value) continue;
        const char *name = a->opt[i].name, *p = allowed;
        size_t len = strlen(name);
        int found = 0;
        while (!found && (p = strstr(p, name)) != NULL) {
            found = (p == allowed || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0');
            p += len;
        }
        if (!found) return cli_error(2, "option '--%s' does not apply to %s", name, what);
    }
    return 0;
}

/* JSON has no inf or nan: a non-finite result is an error, not output. */
static int check_finite(const char *name, double v, const char *path)
{
    if (isfinite(v)) return 0;
    return cli_error(1, "%s is not finite (%g): rescale the data (%s)", name, v, path);
}

static int parse_common(int argc, char **argv, est_args *a)
{
    static const char *names[NOPTS] = {"x", "y", "z", "p", "z1", "z2", "p1", "estimator", "family",
                                       "k", "whiten", "noise", "seed", "subsample", "threads",
                                       "ridge", "components"};
    for (int i = 0; i < NOPTS; i++) a->opt[i] = (cli_opt){names[i], i != OPT_WHITEN, NULL, NULL, 0};
    const char *pos[1];
    size_t npos;
    if (cli_parse(argc, argv, 2, a->opt, NOPTS, pos, 0, &npos)) return 2;
    long k, seed, threads, components;
    double noise;
    if (cli_get_long(a->opt, NOPTS, "k", 3, 1, 1000000, &k) ||
        cli_get_long(a->opt, NOPTS, "components", 4, 1, 1000, &components) ||
        cli_get_long(a->opt, NOPTS, "seed", 0, 0, 2147483647L, &seed) ||
        cli_get_long(a->opt, NOPTS, "subsample", 0, 0, 100000, &a->subsample) ||
        cli_get_long(a->opt, NOPTS, "threads", 0, 0, 1024, &threads) ||
        cli_get_double(a->opt, NOPTS, "noise", 0, 0, 1e300, &noise) ||
        cli_get_double(a->opt, NOPTS, "ridge", 0, 0, 1e300, &a->ridge))
        return 2;
    if (a->subsample == 1) return cli_error(2, "--subsample needs at least 2 resamples");
    a->k = (size_t)k;
    a->components = (size_t)components;
    a->prep = (sm_prep_opts){.whiten = a->opt[OPT_WHITEN].value != NULL, .noise = noise,
                             .seed = (uint64_t)seed};
    sm_threads_set((int)threads);
    return 0;
}

static void print_interval(const sm_resample_result *r)
{
    if (r->resamples)
        printf(",\"ci_low\":%.17g,\"ci_high\":%.17g,\"resamples\":%zu", r->ci_low, r->ci_high,
               r->resamples);
}

static int load_same_shape(const est_args *a, int which, const sm_matrix *ref, int ref_which,
                           sm_matrix *m)
{
    int rc = load_input(a, which, m);
    if (rc) return rc;
    if (m->d != ref->d)
        return cli_error(1, "column counts differ: %zu in %s, %zu in %s (%s)", ref->d,
                         a->opt[ref_which].value, m->d, a->opt[which].value, a->opt[which].value);
    return check_rows(ref, a->opt[ref_which].value, m, a->opt[which].value);
}

/* The options a row takes, by name, for check_applicable. */
static void applicable(const sm_estimator *e, char *buf, size_t n)
{
    static const char *const INPUTS[SM_EST_NKINDS] = {"x estimator", "x y estimator", "z p family"};
    snprintf(buf, n, "%s threads%s%s%s%s", INPUTS[e->kind], e->kind != SM_EST_NLL ? " seed subsample" : "",
             e->uses & SM_EST_USES_KNN ? " k whiten noise" : "", e->uses & SM_EST_USES_RIDGE ? " ridge" : "",
             e->uses & SM_EST_USES_MIXTURE ? " components seed" : "");
}

/* The row chosen by --estimator (entropy, mi) or --family (nll), after
 * checking that every option given applies to it; NULL after a usage
 * error. */
static const sm_estimator *choose(sm_est_kind kind, const est_args *a)
{
    const char *q = sm_est_kind_name(kind), *flag = kind == SM_EST_NLL ? "family" : "estimator";
    const char *name = a->opt[kind == SM_EST_NLL ? OPT_FAMILY : OPT_ESTIMATOR].value;
    const sm_estimator *e = name ? sm_estimator_find(kind, name) : sm_estimator_default(kind);
    char text[256];
    if (!e) {
        sm_estimator_choices(kind, text, sizeof text);
        cli_error(2, "unknown --%s '%s' for %s (choose %s)", flag, name, q, text);
        return NULL;
    }
    char what[96];
    snprintf(what, sizeof what, "'estimate %s --%s %s'", q, flag, e->name);
    applicable(e, text, sizeof text);
    return check_applicable(a, what, text) ? NULL : e;
}

/* The two input options of entropy / mi (x, y) and nll (z, p). */
static int first_input(sm_est_kind kind) { return kind == SM_EST_NLL ? OPT_Z : OPT_X; }
static int second_input(sm_est_kind kind) { return kind == SM_EST_NLL ? OPT_P : OPT_Y; }

/* Load the inputs of kind (x; x and y; z and p) and check their shapes. */
static int load_inputs(sm_est_kind kind, const sm_estimator *e, const est_args *a, sm_matrix *x, sm_matrix *y)
{
    const int first = first_input(kind), second = second_input(kind);
    int rc = load_input(a, first, x);
    if (!rc && kind == SM_EST_MI) rc = load_input(a, second, y);
    if (!rc && kind == SM_EST_MI) rc = check_rows(x, a->opt[OPT_X].value, y, a->opt[OPT_Y].value);
    if (!rc && kind == SM_EST_NLL) rc = load_same_shape(a, second, x, first, y);
    if (!rc && kind == SM_EST_NLL && !strcmp(e->name, "vmf") && x->d < 2)
        rc = cli_error(1, "the vmf family needs at least 2 columns, got %zu (%s)", x->d, a->opt[first].value);
    int knn = e->uses & SM_EST_USES_KNN;
    if (!rc && kind != SM_EST_NLL) rc = check_k(knn ? a->k : 1, x->n, a->opt[OPT_X].value);
    if (!rc && a->subsample && knn) {
        char where[1100];
        snprintf(where, sizeof where, "subsamples of N/2 rows; %s", a->opt[OPT_X].value);
        rc = check_k(a->k, x->n / 2, where);
    }
    return rc;
}

/* The JSON line of one estimate (docs/design.md §2.3). */
static void print_result(sm_est_kind kind, const sm_estimator *e, const est_args *a, const sm_est_opts *o,
                         const sm_matrix *x, const sm_matrix *y, const sm_resample_result *r, double seconds)
{
    printf("{\"quantity\":\"%s\",\"%s\":\"%s\"", sm_est_kind_name(kind), kind == SM_EST_NLL ? "family" : "estimator",
           e->name);
    if (e->uses & SM_EST_USES_KNN) printf(",\"k\":%zu", a->k);
    if (e->uses & SM_EST_USES_MIXTURE) printf(",\"components\":%zu", o->components);
    if (kind == SM_EST_MI) printf(",\"n\":%zu,\"dx\":%zu,\"dy\":%zu", x->n, x->d, y->d);
    else printf(",\"n\":%zu,\"d\":%zu", x->n, x->d);
    printf(",\"value\":%.17g", r->value);
    print_interval(r);
    if (!strcmp(e->name, "vmf")) printf(",\"kappa\":%.17g", o->kappa);
    if (e->uses & SM_EST_HELD_OUT)
        printf(",\"note\":\"held out: fitted on each half of the rows, scored on the other\"");
    printf(",\"unit\":\"nats\",\"seconds\":%.6f}\n", seconds);
}

/* entropy, mi and nll: one registry row on its inputs, optionally with
 * subsampling intervals. */
static int run_estimator(sm_est_kind kind, est_args *a)
{
    const sm_estimator *e = choose(kind, a);
    if (!e) return 2;
    sm_matrix x = {0}, y = {0};
    int rc = load_inputs(kind, e, a, &x, &y);
    sm_est_opts o = {.k = a->k, .prep = a->prep, .ridge = a->ridge, .components = a->components, .seed = a->prep.seed};
    sm_resample_result r = {0};
    sm_arena ws = {0};
    sm_status st;
    double t0 = sm_timer_now();
    if (!rc && (a->subsample ? sm_resample_subsample(x.data, x.d, y.data, y.d, x.n, (size_t)a->subsample,
                                                     a->prep.seed, e->fn, &o, &r, &ws, &st)
                             : e->fn(&o, x.data, x.d, y.data, y.d, x.n, &r.value, &ws, &st))) {
        const char *paths[] = {a->opt[first_input(kind)].value, a->opt[second_input(kind)].value};
        rc = fail_on_inputs(&st, paths, kind == SM_EST_ENTROPY ? 1 : 2);
    }
    double seconds = sm_timer_now() - t0;
    sm_arena_free(&ws);
    const double values[] = {r.value, r.ci_low, r.ci_high}; /* the interval is 0 without --subsample */
    const char *what = kind == SM_EST_NLL ? "the mean NLL" : "the estimate";
    const char *path = a->opt[first_input(kind)].value;
    for (size_t i = 0; i < 3 && !rc; i++) rc = check_finite(what, values[i], path);
    if (!rc) print_result(kind, e, a, &o, &x, &y, &r, seconds);
    sm_matrix_free(&x);
    sm_matrix_free(&y);
    return rc;
}

/* The --family of bound (every nll family but mix, a fit of the residual's
 * form rather than a family of Q with mean p1); vmf also needs d >= 2 (z's
 * path in the message). */
static int parse_family(const est_args *a, size_t d, sm_nll_family *f)
{
    sm_status st;
    const char *name = a->opt[OPT_FAMILY].value ? a->opt[OPT_FAMILY].value : "full";
    if (strcmp(name, "mix") == 0 || sm_nll_family_parse(name, f, &st))
        return cli_error(2, "unknown --family '%s' for bound (choose l2, iso, diag, full or vmf: every nll family "
                            "but mix)", name);
    if (*f == SM_NLL_VMF && d < 2)
        return cli_error(1, "the vmf family needs at least 2 columns, got %zu (%s)", d,
                         a->opt[OPT_Z].value ? a->opt[OPT_Z].value : a->opt[OPT_Z2].value);
    return 0;
}

/* The chain of docs/design.md §1 in one line (sm_bound_chain_estimate):
 * Ĥ(z2), E[NLL_Q], Ĥ(z2|z1) (KSG-1 structure, whitened blocks as the
 * tracker's), Î_KSG1, BA = Ĥ(z2) − E[NLL_Q], InfoNCE and its cap log N.  For
 * vmf every entropy is taken on the sphere, like Q. */
static int run_bound(est_args *a)
{
    sm_matrix z1 = {0}, z2 = {0}, p1 = {0};
    sm_arena ws = {0};
    sm_status st;
    if (check_applicable(a, "'estimate bound'", "z1 z2 p1 family k noise seed threads")) return 2;
    int rc = load_input(a, OPT_Z2, &z2);
    if (!rc) rc = load_same_shape(a, OPT_Z1, &z2, OPT_Z2, &z1);
    if (!rc) rc = load_same_shape(a, OPT_P1, &z2, OPT_Z2, &p1);
    if (!rc) rc = check_k(a->k, z2.n, a->opt[OPT_Z2].value);
    sm_bound_chain_opts o = {.k = a->k, .prep = a->prep};
    if (!rc) rc = parse_family(a, z2.d, &o.family);
    double t0 = sm_timer_now();
    sm_bound_chain c = {0};
    const char *paths[] = {a->opt[OPT_Z1].value, a->opt[OPT_Z2].value, a->opt[OPT_P1].value};
    if (!rc && sm_bound_chain_estimate(z1.data, z2.data, p1.data, z2.n, z2.d, &o, &c, &ws, &st))
        rc = fail_on_inputs(&st, paths, 3);
    const double values[] = {c.h_z2, c.nll, c.h_z2_given_z1, c.i_ksg, c.nce.value};
    for (size_t i = 0; i < sizeof values / sizeof *values && !rc; i++)
        rc = check_finite("a bound term", values[i], a->opt[OPT_Z2].value);
    if (rc) goto done;
    printf("{\"quantity\":\"bound\",\"family\":\"%s\",\"k\":%zu,\"n\":%zu,\"d\":%zu,"
           "\"h_z2\":%.17g,\"nll\":%.17g,\"h_z2_given_z1\":%.17g,\"gap\":%.17g,\"i_ksg\":%.17g,"
           "\"ba\":%.17g,\"infonce\":%.17g,\"infonce_cap\":%.17g,",
           sm_nll_family_name(o.family), a->k, z2.n, z2.d, c.h_z2, c.nll, c.h_z2_given_z1, c.gap, c.i_ksg, c.ba,
           c.nce.value, c.nce.cap);
    if (o.family == SM_NLL_VMF) printf("\"kappa\":%.17g,\"measure\":\"sphere\",", c.kappa);
    printf("\"note\":\"infonce never exceeds infonce_cap = log n\",\"unit\":\"nats\","
           "\"seconds\":%.6f}\n", sm_timer_now() - t0);
done:
    sm_arena_free(&ws);
    sm_matrix_free(&z1);
    sm_matrix_free(&z2);
    sm_matrix_free(&p1);
    return rc;
}

/* --list: every registry row, tab-separated after a header line (README's
 * estimator table is made from it: scripts/readme-table.sh). */
static int print_list(void)
{
    printf("kind\tname\tdefault\tdoc\n");
    for (size_t i = 0; i < SM_NESTIMATORS; i++) {
        const sm_estimator *e = &SM_ESTIMATORS[i];
        printf("%s\t%s\t%d\t%s\n", sm_est_kind_name(e->kind), e->name, (e->uses & SM_EST_DEFAULT) != 0, e->doc);
    }
    return 0;
}

int cli_estimate(int argc, char **argv)
{
    if (argc < 2) return cli_error(2, "estimate needs a quantity: entropy, mi, nll or bound (see --help)");
    const char *q = argv[1];
    if (!strcmp(q, "--list"))
        return argc > 2 ? cli_error(2, "--list takes no other argument (it only lists the estimators)")
                        : cli_done(print_list());
    sm_est_kind kind = SM_EST_ENTROPY;
    while (kind < SM_EST_NKINDS && strcmp(q, sm_est_kind_name(kind))) kind++;
    if (kind == SM_EST_NKINDS && strcmp(q, "bound"))
        return cli_error(2, "unknown quantity '%s' (choose entropy, mi, nll or bound)", q);
    est_args a;
    if (parse_common(argc, argv, &a)) return 2;
    return kind == SM_EST_NKINDS ? run_bound(&a) : run_estimator(kind, &a);
}

void cli_estimate_help(FILE *f)
{
    fprintf(f, "estimators (--estimator E for entropy and mi, --family F for nll and bound;\n"
               "bound takes every nll family but mix; * marks the default):\n");
    for (size_t i = 0; i < SM_NESTIMATORS; i++) {
        const sm_estimator *e = &SM_ESTIMATORS[i];
        fprintf(f, "  %-8s %-6s%s %s\n", sm_est_kind_name(e->kind), e->name, e->uses & SM_EST_DEFAULT ? "*" : " ", e->doc);
    }
}
