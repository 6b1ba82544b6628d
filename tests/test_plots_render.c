/* Tests for the gnuplot scripts in plots/: each renders a fixture into a non-empty PNG
 * and SVG with nothing on gnuplot's stderr (no warning), with its title, axis
 * labels in nats and legend in the SVG; the training loss is labelled by the
 * run's loss (cosine, l2, gauss) and shares an axis only with values of its
 * unit; columns without a finite value are left out (`skip`) and an all-empty
 * panel says so; a missing variable is a usage error.  Fixtures are smooth
 * made-up training curves. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

enum { STEPS = 300, TRACK_EVERY = 10 };

/* A text buffer grown by appending formatted lines. */
typedef struct {
    char *s;
    size_t n, cap;
} text;

static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int need = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        assert_true(need >= 0);
        if (t->s && t->n + (size_t)need < t->cap) {
            t->n += (size_t)need;
            return;
        }
        t->cap = 2 * (t->cap + (size_t)need + 64);
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
}

static void save(text *t, const char *path)
{
    sm_test_write_text(path, t->s);
    free(t->s);
    *t = (text){0};
}

/* Training curves of a 4-d run: the loss falls from 0 towards −0.9, the
 * entropies and NLLs fall, the informations rise.  vmf_nan: the vMF columns
 * are nan at every step (else at one step only). */
static void write_run(const char *dir, int vmf_nan)
{
    text t = {0};
    add(&t, "step,epoch,lr,pred_lr,loss,z_std,seconds\n");
    for (int s = 1; s <= STEPS; s++)
        add(&t, "%d,%.4f,%.6f,%.6f,%.6f,%.4f,%.3f\n", s, s / 94.0, 0.0075 * cos(s / 200.0), 0.0075, -0.9 * (1 - exp(-s / 60.0)),
            1 - 0.15 * s / STEPS, 0.01 * s);
    save(&t, sm_test_join(dir, "train.csv"));
    add(&t, "step,loss_cos,nll_l2,nll_iso,nll_diag,nll_full,nll_vmf,kappa,h_z_kl,h_z_gauss,h_z_given_z1,h_z_given_x,"
            "i_ksg,i_gauss,i_ba,i_infonce,infonce_cap,z_std,dim_used\n");
    for (int s = 0; s <= STEPS; s += TRACK_EVERY) {
        double f = exp(-s / 80.0), i = 2.6 * (1 - f);
        const char *vmf = vmf_nan || s == 150 ? "nan,nan" : NULL;
        char vmf_cells[64];
        snprintf(vmf_cells, sizeof vmf_cells, "%.4f,%.3f", -3.0 * (1 - f), 1 + 40 * (1 - f));
        add(&t, "%d,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,4\n", s,
            -0.9 * (1 - f), 3 + 2.5 * f, 2.1 + 3.5 * f, 1.9 + 3.7 * f, 1.7 + 3.9 * f, vmf ? vmf : vmf_cells,
            4.4 + 1.3 * f, 4.7 + 1.0 * f, 5.6 - i, 4.9 - 5.2 * (1 - f), i, 0.9 * i, 1.05 * i, 0.7 * i, log(256.0),
            1 - 0.14 * (1 - f));
    }
    save(&t, sm_test_join(dir, "track.csv"));
    add(&t, "step,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1,h_z_given_z1_lo,h_z_given_z1_hi,h_z_given_x,"
            "h_z_given_x_lo,h_z_given_x_hi\n");
    for (int s = 0; s <= STEPS; s += TRACK_EVERY) {
        double f = exp(-s / 80.0), nll = 1.7 + 3.9 * f, z1 = 5.6 - 2.6 * (1 - f), x = 4.9 - 5.2 * (1 - f);
        add(&t, "%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", s, nll, nll - 0.08, nll + 0.08,
            nll - 0.1 * (1 - f), z1, z1 - 0.12, z1 + 0.12, x, x - 0.2, x + 0.2);
    }
    save(&t, sm_test_join(dir, "chain.csv"));
}

/* A gap table of six runs and Î-vs-loss blocks of three runs. */
static void write_experiment_tables(const char *dir)
{
    static const char *runs[] = {"steps1", "steps2", "steps5", "steps10", "optimal", "directpred"};
    text t = {0};
    add(&t, "index,run,step,gap,gap_lo,gap_hi,predictor_share,family_share\n");
    for (int r = 0; r < 6; r++) {
        double pred = 0.4 / (r + 1), fam = 0.9 + 0.02 * (r % 2);
        add(&t, "%d,%s,300,%.3f,%.3f,%.3f,%.3f,%.3f\n", r + 1, runs[r], pred + fam, pred + fam - 0.15, pred + fam + 0.15,
            pred, fam);
    }
    save(&t, sm_test_join(dir, "gap.csv"));
    for (int r = 0; r < 3; r++) {
        add(&t, "step,loss_cos,i_ksg\n");
        for (int s = 0; s <= STEPS; s += 30) {
            double f = exp(-s / (60.0 + 20 * r));
            add(&t, "%d,%.4f,%.4f\n", s, -0.9 * (1 - f), (2.2 + 0.3 * r) * (1 - f));
        }
        add(&t, "\n\n");
    }
    save(&t, sm_test_join(dir, "mi_loss.csv"));
}

/* gnuplot -e "vars" plots/script.gp: exit 0 and silence on stderr. */
static void render(const char *script, const char *vars)
{
    char cmd[8192], *err;
    snprintf(cmd, sizeof cmd, "gnuplot -e \"%s\" plots/%s.gp", vars, script);
    int rc = sm_test_run(cmd, NULL, &err);
    if (rc != 0 || strcmp(err, "") != 0) fail_msg("%s: exit %d, stderr:\n%s", cmd, rc, err);
    free(err);
}

/* prefix.png is a PNG and prefix.svg an SVG holding every needle (NULL-ended). */
static void expect_images(const char *prefix, const char *const *needles)
{
    char path[4096];
    size_t n;
    snprintf(path, sizeof path, "%s.png", prefix);
    char *png = sm_test_read(path, &n);
    if (!png) fail_msg("missing %s", path);
    assert_true(n > 5000);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    snprintf(path, sizeof path, "%s.svg", prefix);
    char *svg = sm_test_read(path, &n);
    if (!svg) fail_msg("missing %s", path);
    assert_true(n > 5000);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    for (; *needles; needles++)
        if (!strstr(svg, *needles)) fail_msg("%s: no \"%s\"", path, *needles);
    free(svg);
}

/* The SVG of prefix holds the needles in this order (NULL-ended) and none of
 * the absent ones (NULL-ended). */
static void expect_svg_order(const char *prefix, const char *const *needles, const char *const *absent)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.svg", prefix);
    char *svg = sm_test_read(path, NULL);
    if (!svg) fail_msg("missing %s", path);
    const char *at = svg;
    for (; *needles; needles++) {
        const char *found = strstr(at, *needles);
        if (!found)
            fail_msg("%s: no \"%s\"%s", path, *needles, strstr(svg, *needles) ? " after the previous needle" : "");
        at = found + strlen(*needles);
    }
    for (; *absent; absent++)
        if (strstr(svg, *absent)) fail_msg("%s: unexpected \"%s\"", path, *absent);
    free(svg);
}

static const char *run_dir(const char *name, int vmf_nan)
{
    static char dir[2048];
    snprintf(dir, sizeof dir, "%s", sm_test_dir(name));
    write_run(dir, vmf_nan);
    return dir;
}

/* train.gp for a run of the given loss (config.txt's key, "" for none): the plots' prefix. */
static const char *render_train(const char *name, const char *loss)
{
    static char prefix[2200];
    char vars[4096], plots[256];
    const char *dir = run_dir(name, 0);
    snprintf(plots, sizeof plots, "%s/plots", name);
    sm_test_dir(plots);
    snprintf(vars, sizeof vars, "run='%s'; loss='%s'", dir, loss);
    render("train", vars);
    snprintf(prefix, sizeof prefix, "%s/plots/train", dir);
    return prefix;
}

/* The loss panel says what the run's D is and the unit of its values. */
static void test_train(void **state)
{
    (void)state;
    expect_images(render_train("pl_train", "cosine"),
                  (const char *const[]){"collapse metric", "optimizer step", "loss ½D(p1, sg(z2)) + ½D(p2, sg(z1)),",
                                        "D = −cos (not an NLL)", "loss (negative cosine, no unit)", NULL});
    expect_images(render_train("pl_train_l2", "l2"),
                  (const char *const[]){"D = ½‖p − z‖², the l2 NLL without its constant (d/2) log 2π",
                                        "loss (nats, up to (d/2) log 2π)", NULL});
    expect_svg_order(render_train("pl_train_gauss", "gauss"),
                     (const char *const[]){"loss (nats)", "D = NLL of N(p, σ̂²I), σ̂² fitted on the batch", NULL},
                     (const char *const[]){"cosine", NULL});
    expect_images(render_train("pl_train_unknown", ""),
                  (const char *const[]){"D not recorded (no loss in config.txt)", "loss (unit unknown)", NULL});
}

/* loss.gp for a run of the given loss into DIR/loss: the prefix. */
static const char *render_loss(const char *name, const char *loss)
{
    static char prefix[2200];
    char vars[8192];
    const char *dir = run_dir(name, 0);
    snprintf(prefix, sizeof prefix, "%s/loss", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; train='%s/train.csv'; out='%s'; note=' — fixture'; loss='%s'", dir,
             dir, prefix, loss);
    render("loss", vars);
    return prefix;
}

/* A cosine training loss shares the probe loss's axis (both negative cosines). */
static void test_loss(void **state)
{
    (void)state;
    const char *prefix = render_loss("pl_loss", "cosine");
    expect_images(prefix, (const char *const[]){"SimSiam loss and E[NLL_Q] vs step — fixture", "E[NLL_Q] (nats)",
                                                "E[NLL_vMF] (nats, sphere measure)", "optimizer step",
                                                "E[NLL] N(p1, Σ)", "E[NLL] N(p1, diag s²)", "E[NLL] von Mises–Fisher",
                                                "SimSiam loss (not an NLL)",
                                                ">loss (negative cosine, no unit)<",
                                                "training loss (batch, negative cosine, no unit)",
                                                "probe loss, negative cosine", NULL});
    expect_svg_order(prefix, (const char *const[]){NULL}, (const char *const[]){"right axis", "nats, up to", NULL});
}

/* A gauss training loss is an NLL in nats: it is drawn in the Gaussian panel
 * next to E[NLL] N(p1, σ²I) of the probe set (gnuplot writes a panel's
 * legend before its title: the line comes after the first panel's title and
 * before the second's); the first panel has the probe loss alone. */
static void test_loss_gauss(void **state)
{
    (void)state;
    const char *prefix = render_loss("pl_loss_gauss", "gauss");
    expect_images(prefix, (const char *const[]){"probe loss (negative cosine, no unit)", "probe loss, negative cosine",
                                                "E[NLL_Q] (nats)", "E[NLL] N(p1, σ²I)", NULL});
    expect_svg_order(prefix,
                     (const char *const[]){"probe loss (not an NLL)", "training loss, NLL N(p, σ̂²I) (batch)",
                                           "Gaussian families, mean p1, and the training loss",
                                           "von Mises–Fisher on the unit sphere", NULL},
                     (const char *const[]){"SimSiam loss (not an NLL)", "training loss (batch", NULL});
}

/* An l2 training loss (nats up to a constant) has the first panel's left axis,
 * the probe loss (a negative cosine) its right one. */
static void test_loss_l2(void **state)
{
    (void)state;
    const char *prefix = render_loss("pl_loss_l2", "l2");
    expect_images(prefix, (const char *const[]){"training loss (nats, up to (d/2) log 2π)",
                                                "probe loss (negative cosine, no unit)", "probe loss, negative cosine",
                                                NULL});
    expect_svg_order(prefix,
                     (const char *const[]){"training loss (batch, nats, up to (d/2) log 2π)",
                                           "SimSiam loss: training (left axis), probe (right axis)",
                                           "Gaussian families, mean p1<", NULL},
                     (const char *const[]){"not an NLL", "σ̂²", NULL});
}

static void test_info(void **state)
{
    (void)state;
    const char *dir = run_dir("pl_info", 0);
    char vars[8192], prefix[2200];
    snprintf(prefix, sizeof prefix, "%s/info", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; out='%s'", dir, prefix);
    render("info", vars);
    expect_images(prefix, (const char *const[]){"entropies and mutual information vs step", "Ĥ (nats)",
                                                "Î(z1;z2) (nats)", "Ĥ(z2|z1) KSG", "Ĥ(z2|x) per image",
                                                "Î(z1;z2) KSG-1", "Î Barber–Agakov", "InfoNCE cap log N", NULL});
}

static void test_chain(void **state)
{
    (void)state;
    const char *dir = run_dir("pl_chain", 0);
    char vars[8192], prefix[2200];
    snprintf(prefix, sizeof prefix, "%s/chain", dir);
    snprintf(vars, sizeof vars, "in='%s/chain.csv'; out='%s'", dir, prefix);
    render("chain", vars);
    expect_images(prefix, (const char *const[]){"E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x)", "nats", "E[NLL_Q] (trained h)",
                                                "E[NLL_Q] (best affine h*)", "Ĥ(z2|x) per image", NULL});
}

static void test_zstd(void **state)
{
    (void)state;
    const char *dir = run_dir("pl_zstd", 0);
    char vars[8192], prefix[2200];
    snprintf(prefix, sizeof prefix, "%s/zstd", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; train='%s/train.csv'; out='%s'", dir, dir, prefix);
    render("zstd", vars);
    expect_images(prefix, (const char *const[]){"collapse metric z_std", "z_std, training batches",
                                                "z_std, probe set", NULL});
}

/* One run: every estimator; several runs: one colour (legend entry) per run. */
static void test_mi_loss(void **state)
{
    (void)state;
    const char *dir = run_dir("pl_mi", 0);
    char vars[8192], prefix[2200];
    snprintf(prefix, sizeof prefix, "%s/mi_run", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; out='%s'; runs='fixture'", dir, prefix);
    render("mi_loss", vars);
    expect_images(prefix, (const char *const[]){"mutual information vs loss", "Î(z1;z2) (nats)", "Î(z1;z2) Gaussian",
                                                "Î InfoNCE", "probe loss", NULL});
    write_experiment_tables(dir);
    snprintf(prefix, sizeof prefix, "%s/mi_runs", dir);
    snprintf(vars, sizeof vars, "in='%s/mi_loss.csv'; out='%s'; runs='alpha beta gamma'; series='i_ksg'", dir, prefix);
    render("mi_loss", vars);
    expect_images(prefix, (const char *const[]){">alpha<", ">beta<", ">gamma<", "Î(z1;z2) (nats)", NULL});
}

static void test_gap(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("pl_gap");
    char vars[8192], prefix[2200];
    write_experiment_tables(dir);
    snprintf(prefix, sizeof prefix, "%s/gap", dir);
    snprintf(vars, sizeof vars, "in='%s/gap.csv'; out='%s'", dir, prefix);
    render("gap", vars);
    expect_images(prefix, (const char *const[]){"bound gap and its shares", "nats", "gap E[NLL_Q] − Ĥ(z2|z1)",
                                                "predictor share E[NLL_Q(h)] − E[NLL_Q(h*)]",
                                                "family share E[NLL_Q(h*)] − Ĥ(z2|z1)", ">steps10<", ">directpred<",
                                                NULL});
}

/* The vMF columns are nan throughout: with skip naming them, the panel says
 * "no finite values" and gnuplot stays silent. */
static void test_empty_columns_are_skipped(void **state)
{
    (void)state;
    const char *dir = run_dir("pl_skip", 1);
    char vars[8192], prefix[2200];
    snprintf(prefix, sizeof prefix, "%s/loss", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; train='%s/train.csv'; out='%s'; skip='nll_vmf kappa'", dir, dir,
             prefix);
    render("loss", vars);
    expect_images(prefix, (const char *const[]){"no finite values", "E[NLL] N(p1, Σ)", NULL});
    /* No finite training loss (train_skip): the l2 run's probe loss takes the left axis, no right
     * one is drawn (an axis without a point is an error); the gauss run's Gaussian panel, with its
     * families left out as well, says so. */
    snprintf(prefix, sizeof prefix, "%s/loss_l2", dir);
    snprintf(vars, sizeof vars,
             "in='%s/track.csv'; train='%s/train.csv'; out='%s'; loss='l2'; train_skip='loss'; skip='nll_vmf'", dir,
             dir, prefix);
    render("loss", vars);
    expect_svg_order(prefix, (const char *const[]){">probe loss (negative cosine, no unit)<", ">SimSiam loss<", NULL},
                     (const char *const[]){"training loss", "right axis", NULL});
    snprintf(prefix, sizeof prefix, "%s/loss_gauss", dir);
    snprintf(vars, sizeof vars,
             "in='%s/track.csv'; train='%s/train.csv'; out='%s'; loss='gauss'; train_skip='loss'; "
             "skip='nll_l2 nll_iso nll_diag nll_full nll_vmf'",
             dir, dir, prefix);
    render("loss", vars);
    expect_svg_order(prefix, (const char *const[]){"probe loss (not an NLL)", "no finite values",
                                                   "Gaussian families, mean p1, and the training loss", NULL},
                     (const char *const[]){"training loss,", NULL});
    snprintf(prefix, sizeof prefix, "%s/mi", dir);
    snprintf(vars, sizeof vars, "in='%s/track.csv'; out='%s'; runs='r'; skip='loss_cos'", dir, prefix);
    render("mi_loss", vars);
    expect_images(prefix, (const char *const[]){"no finite values", NULL});
}

static void test_usage(void **state)
{
    (void)state;
    for (const char *const *p = (const char *const[]){"loss", "info", "chain", "zstd", "mi_loss", "gap", NULL}; *p;
         p++) {
        char cmd[256], *err;
        snprintf(cmd, sizeof cmd, "gnuplot plots/%s.gp", *p);
        assert_int_equal(sm_test_run(cmd, NULL, &err), 2);
        if (!strstr(err, "usage: gnuplot -e")) fail_msg("%s: %s", cmd, err);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train),  cmocka_unit_test(test_loss),    cmocka_unit_test(test_loss_gauss),
        cmocka_unit_test(test_loss_l2), cmocka_unit_test(test_info),
        cmocka_unit_test(test_chain),  cmocka_unit_test(test_zstd),    cmocka_unit_test(test_mi_loss),
        cmocka_unit_test(test_gap),    cmocka_unit_test(test_empty_columns_are_skipped),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
