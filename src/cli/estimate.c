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
#include "estimators/gauss.h"
#include "estimators/mi.h"
#include "estimators/mix.h"
#include "estimators/nll.h"
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

/* The estimator under the uniform callback shape that subsampling needs. */
typedef struct {
    const char *name;
    size_t k;
    double ridge;
    sm_prep_opts prep;
} est_ctx;

static int entropy_kl(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                      double *v, sm_arena *ws, sm_status *st)
{
    (void)y, (void)dy;
    const est_ctx *e = c;
    sm_entropy_opts o = {.k = e->k, .prep = e->prep};
    return sm_entropy_kl(x, n, dx, &o, v, ws, st);
}

static int entropy_gauss(void *c, const double *x, size_t dx, const double *y, size_t dy,
                         size_t n, double *v, sm_arena *ws, sm_status *st)
{
    (void)y, (void)dy;
    return sm_gauss_entropy(x, n, dx, ((const est_ctx *)c)->ridge, v, ws, st);
}

static int mi_ksg1(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                   double *v, sm_arena *ws, sm_status *st)
{
    const est_ctx *e = c;
    sm_mi_opts o = {.k = e->k, .prep = e->prep};
    sm_ksg1_result r;
    int rc = sm_mi_ksg1(x, y, n, dx, dy, &o, &r, ws, st);
    if (rc == SM_OK) *v = r.mi;
    return rc;
}

static int mi_ksg2(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                   double *v, sm_arena *ws, sm_status *st)
{
    const est_ctx *e = c;
    sm_mi_opts o = {.k = e->k, .prep = e->prep};
    return sm_mi_ksg2(x, y, n, dx, dy, &o, v, ws, st);
}

static int mi_gauss(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                    double *v, sm_arena *ws, sm_status *st)
{
    return sm_gauss_mi(x, y, n, dx, dy, ((const est_ctx *)c)->ridge, v, ws, st);
}

typedef struct {
    const char *quantity, *name;
    sm_resample_fn fn;
    int knn; /* uses k neighbours (and --whiten, --noise); else a Gaussian (--ridge) */
} estimator;

static const estimator ESTIMATORS[] = {
    {"entropy", "kl", entropy_kl, 1},   {"entropy", "gauss", entropy_gauss, 0},
    {"mi", "ksg1", mi_ksg1, 1},         {"mi", "ksg2", mi_ksg2, 1},
    {"mi", "gauss", mi_gauss, 0},
};

static const estimator *find_estimator(const char *quantity, const char *name)
{
    for (size_t i = 0; i < sizeof ESTIMATORS / sizeof *ESTIMATORS; i++)
        if (!strcmp(ESTIMATORS[i].quantity, quantity) && !strcmp(ESTIMATORS[i].name, name))
            return &ESTIMATORS[i];
    return NULL;
}

/* Load a required --name file; a missing option is a usage error. */
static int load_input(const est_args *a, int which, sm_matrix *m)
{
    const char *path = a->opt[which].value;
    if (!path) return cli_error(2, "missing --%s FILE (see --help)", a->opt[which].name);
    sm_status st;
    if (sm_matrix_load(path, m, &st)) return cli_fail(&st);
    return 0;
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
    for (int i = 0; i < NOPTS; i++) a->opt[i] = (cli_opt){names[i], i != OPT_WHITEN, NULL};
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

/* entropy and mi share everything but the number of inputs. */
static int run_entropy_or_mi(const char *quantity, est_args *a)
{
    int is_mi = !strcmp(quantity, "mi");
    const char *name = a->opt[OPT_ESTIMATOR].value ? a->opt[OPT_ESTIMATOR].value : is_mi ? "ksg1" : "kl";
    const estimator *e = find_estimator(quantity, name);
    if (!e)
        return cli_error(2, "unknown --estimator '%s' for %s (choose %s)", name, quantity,
                         is_mi ? "ksg1, ksg2 or gauss" : "kl or gauss");
    char what[64];
    snprintf(what, sizeof what, "'estimate %s --estimator %s'", quantity, e->name);
    const char *allowed = e->knn ? (is_mi ? "x y estimator k whiten noise seed subsample threads"
                                          : "x estimator k whiten noise seed subsample threads")
                                 : (is_mi ? "x y estimator seed subsample threads ridge"
                                          : "x estimator seed subsample threads ridge");
    if (check_applicable(a, what, allowed)) return 2;
    sm_matrix x = {0}, y = {0};
    int rc = load_input(a, OPT_X, &x);
    if (!rc && is_mi) rc = load_input(a, OPT_Y, &y);
    if (!rc && is_mi) rc = check_rows(&x, a->opt[OPT_X].value, &y, a->opt[OPT_Y].value);
    if (!rc) rc = check_k(e->knn ? a->k : 1, x.n, a->opt[OPT_X].value);
    if (!rc && a->subsample && e->knn) rc = check_k(a->k, x.n / 2, "subsamples of N/2 rows");
    if (rc) goto done;

    est_ctx ctx = {e->name, a->k, a->ridge, a->prep};
    sm_resample_result r = {0};
    sm_arena ws = {0};
    sm_status st;
    double t0 = sm_timer_now();
    if (a->subsample)
        rc = sm_resample_subsample(x.data, x.d, y.data, y.d, x.n, (size_t)a->subsample,
                                   a->prep.seed, e->fn, &ctx, &r, &ws, &st);
    else
        rc = e->fn(&ctx, x.data, x.d, y.data, y.d, x.n, &r.value, &ws, &st);
    double seconds = sm_timer_now() - t0;
    sm_arena_free(&ws);
    if (rc) {
        rc = cli_fail(&st);
        goto done;
    }
    const double values[] = {r.value, r.ci_low, r.ci_high}; /* the interval is 0 without --subsample */
    for (size_t i = 0; i < 3 && !rc; i++) rc = check_finite("the estimate", values[i], a->opt[OPT_X].value);
    if (rc) goto done;
    printf("{\"quantity\":\"%s\",\"estimator\":\"%s\"", quantity, e->name);
    if (e->knn) printf(",\"k\":%zu", a->k);
    if (is_mi) printf(",\"n\":%zu,\"dx\":%zu,\"dy\":%zu", x.n, x.d, y.d);
    else printf(",\"n\":%zu,\"d\":%zu", x.n, x.d);
    printf(",\"value\":%.17g", r.value);
    print_interval(&r);
    printf(",\"unit\":\"nats\",\"seconds\":%.6f}\n", seconds);
done:
    sm_matrix_free(&x);
    sm_matrix_free(&y);
    return rc;
}

/* The --family of nll and bound; vmf also needs d >= 2 (z's path in the message). */
static int parse_family(const est_args *a, size_t d, sm_nll_family *f)
{
    sm_status st;
    const char *name = a->opt[OPT_FAMILY].value ? a->opt[OPT_FAMILY].value : "full";
    if (sm_nll_family_parse(name, f, &st)) return cli_fail(&st);
    if (*f == SM_NLL_VMF && d < 2)
        return cli_error(1, "the vmf family needs at least 2 columns, got %zu (%s)", d,
                         a->opt[OPT_Z].value ? a->opt[OPT_Z].value : a->opt[OPT_Z2].value);
    return 0;
}

/* Fit the family on (z, p). */
static int fit_family(const est_args *a, const sm_matrix *z, const sm_matrix *p, sm_nll_model **m,
                      sm_arena *ws)
{
    sm_status st;
    sm_nll_family f;
    if (parse_family(a, z->d, &f)) return 1;
    *m = sm_nll_model_alloc(f, z->d, &st);
    if (!*m || sm_nll_model_fit(*m, z->data, p->data, z->n, ws, &st)) return cli_fail(&st);
    return 0;
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

/* --family mix: the Gaussian mixture on z − p, cross-fitted over two halves
 * (estimators/mix.h), so the value is held out, unlike the other families'. */
static int run_nll_mix(est_args *a)
{
    sm_matrix z = {0}, p = {0};
    sm_arena ws = {0};
    sm_status st;
    if (check_applicable(a, "'estimate nll --family mix'", "z p family components seed threads")) return 2;
    int rc = load_input(a, OPT_Z, &z);
    if (!rc) rc = load_same_shape(a, OPT_P, &z, OPT_Z, &p);
    sm_mix_opts o;
    sm_mix_defaults(&o, a->prep.seed);
    o.components = a->components;
    double t0 = sm_timer_now(), v = 0.0;
    if (!rc && sm_mix_nll_crossfit(z.data, p.data, z.n, z.d, &o, &v, &ws, &st)) rc = cli_fail(&st);
    if (!rc) rc = check_finite("the mean NLL", v, a->opt[OPT_Z].value);
    if (!rc)
        printf("{\"quantity\":\"nll\",\"family\":\"mix\",\"components\":%zu,\"n\":%zu,\"d\":%zu,"
               "\"value\":%.17g,\"note\":\"held out: fitted on each half of the rows, scored on "
               "the other\",\"unit\":\"nats\",\"seconds\":%.6f}\n",
               o.components, z.n, z.d, v, sm_timer_now() - t0);
    sm_arena_free(&ws);
    sm_matrix_free(&z);
    sm_matrix_free(&p);
    return rc;
}

static int run_nll(est_args *a)
{
    const char *family = a->opt[OPT_FAMILY].value ? a->opt[OPT_FAMILY].value : "full";
    if (!strcmp(family, "mix")) return run_nll_mix(a);
    sm_nll_family f;
    if (sm_nll_family_parse(family, &f, NULL))
        return cli_error(2, "unknown --family '%s' for nll (choose l2, iso, diag, full, vmf or mix)", family);
    char what[96];
    snprintf(what, sizeof what, "'estimate nll --family %s'", family);
    if (check_applicable(a, what, "z p family threads")) return 2;
    sm_matrix z = {0}, p = {0};
    sm_nll_model *m = NULL;
    sm_arena ws = {0};
    int rc = load_input(a, OPT_Z, &z);
    if (!rc) rc = load_same_shape(a, OPT_P, &z, OPT_Z, &p);
    double t0 = sm_timer_now();
    if (!rc) rc = fit_family(a, &z, &p, &m, &ws);
    if (!rc) rc = check_finite("the mean NLL", m->mean_nll, a->opt[OPT_Z].value);
    if (!rc) {
        printf("{\"quantity\":\"nll\",\"family\":\"%s\",\"n\":%zu,\"d\":%zu,\"value\":%.17g",
               sm_nll_family_name(m->family), z.n, z.d, m->mean_nll);
        if (m->family == SM_NLL_VMF) printf(",\"kappa\":%.17g", m->kappa);
        printf(",\"unit\":\"nats\",\"seconds\":%.6f}\n", sm_timer_now() - t0);
    }
    sm_nll_model_free(m);
    sm_arena_free(&ws);
    sm_matrix_free(&z);
    sm_matrix_free(&p);
    return rc;
}

/* The chain of docs/design.md §1 in one line (sm_bound_chain_estimate):
 * Ĥ(z2), E[NLL_Q], Ĥ(z2|z1) (KSG-1 structure), Î_KSG1, BA = Ĥ(z2) − E[NLL_Q],
 * InfoNCE and its cap log N.  For vmf every entropy is taken on the sphere,
 * like Q. */
static int run_bound(est_args *a)
{
    sm_matrix z1 = {0}, z2 = {0}, p1 = {0};
    sm_arena ws = {0};
    sm_status st;
    if (check_applicable(a, "'estimate bound'", "z1 z2 p1 family k whiten noise seed threads")) return 2;
    int rc = load_input(a, OPT_Z2, &z2);
    if (!rc) rc = load_same_shape(a, OPT_Z1, &z2, OPT_Z2, &z1);
    if (!rc) rc = load_same_shape(a, OPT_P1, &z2, OPT_Z2, &p1);
    if (!rc) rc = check_k(a->k, z2.n, a->opt[OPT_Z2].value);
    sm_bound_chain_opts o = {.k = a->k, .prep = a->prep};
    if (!rc) rc = parse_family(a, z2.d, &o.family);
    double t0 = sm_timer_now();
    sm_bound_chain c = {0};
    if (!rc && sm_bound_chain_estimate(z1.data, z2.data, p1.data, z2.n, z2.d, &o, &c, &ws, &st)) rc = cli_fail(&st);
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

int cli_estimate(int argc, char **argv)
{
    if (argc < 2) return cli_error(2, "estimate needs a quantity: entropy, mi, nll or bound (see --help)");
    const char *q = argv[1];
    est_args a;
    if (strcmp(q, "entropy") && strcmp(q, "mi") && strcmp(q, "nll") && strcmp(q, "bound"))
        return cli_error(2, "unknown quantity '%s' (choose entropy, mi, nll or bound)", q);
    if (parse_common(argc, argv, &a)) return 2;
    if (!strcmp(q, "entropy") || !strcmp(q, "mi")) return run_entropy_or_mi(q, &a);
    return !strcmp(q, "nll") ? run_nll(&a) : run_bound(&a);
}
