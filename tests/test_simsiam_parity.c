/* PyTorch parity of one SimSiam training step, as llm.c checks its model
 * against PyTorch.  For each loss (cosine, l2, gauss) and architecture
 * (resnet, mlp), with pred_steps = 2 and BN in training mode,
 * sm_model_train_step from a seeded initial state on one fixed pair of views
 * is compared with scripts/ref_step.py, the same step in float64 PyTorch from
 * the same parameters, tensor by tensor: the loss, the gradient of the full
 * backward and of the predictor-only step, the updated parameters and
 * momentum buffers, and the BN running statistics.  The finite-difference
 * checks of test_simsiam_model.c hold our backward to our own forward; this
 * holds the forward to SimSiam's.
 *
 * Needs /usr/bin/python3 with torch (dev-only; make test installs
 * python3-torch): without it every case FAILS, so parity cannot go unchecked
 * silently.  The group setup writes all cases and runs the reference once
 * (importing torch takes seconds); each test runs our step and compares. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "io/config.h"
#include "io/npy.h"
#include "simsiam/model.h"
#include "support/support.h"

enum { N_ARCHS = 2, N_LOSSES = 3, N_CASES = N_ARCHS * N_LOSSES, BATCH = 8, IMAGE_C = 1, IMAGE_HW = 28 };
enum { MAX_SPANS = 2 * SM_MODEL_MAX_OPS };

#define SEED 11
/* max |ours − ref| / max |ref| per tensor: float32 against float64 stays
 * below 2e-5 here (the deepest gradients); a wrong convention or a broken
 * backward is off by far more.  The loss: relative too, the cosine case
 * closest to it (L ≈ −0.05, so float32's ~2e-7 in it is 4e-6). */
#define TENSOR_TOL 1e-4
#define LOSS_TOL 1e-5

typedef struct {
    sm_config cfg;
    char name[64]; /* "resnet_cosine", ... */
    char test_name[96];
    char dir[1024];
    sm_model *m;
    float *x1, *x2;
} parity_case;

static parity_case cases[N_CASES];
/* Why the reference produced nothing (NULL when it ran). */
static char *reference_failure;

/* A tensor of a flat array: [offset, offset + count), op `op`'s `name`. */
typedef struct {
    size_t offset, count;
    int op;
    const char *name;
} tensor_span;

/* ---- the cases ---------------------------------------------------------- */

/* Small networks (seconds; ~20 s under valgrind).  wd 0.01, above the 5e-4
 * default, so a weight-decay difference shows in the momentum buffers;
 * pred_lr_mult 2, so the two SGD groups differ; lr is the step's (ref_step.py). */
static sm_config case_config(sm_arch_kind arch, sm_loss_kind loss)
{
    sm_config cfg;
    sm_config_defaults(&cfg);
    cfg.arch = arch;
    cfg.loss = loss;
    /* the mlp's hidden layers: 16w = 32; the l2 case's last stage has 32
     * planes on 7 × 7 maps, whose weight gradient then takes them in lanes */
    cfg.width = arch == SM_ARCH_MLP ? 2 : loss == SM_LOSS_L2 ? 8 : 4;
    cfg.stem_stride = loss == SM_LOSS_GAUSS ? 2 : 1; /* both stems, in the resnet cases */
    cfg.proj_hidden = 32;
    cfg.z_dim = 8;
    cfg.pred_hidden = 16;
    cfg.batch = BATCH;
    cfg.lr = 0.05;
    cfg.momentum = 0.9;
    cfg.wd = 0.01;
    cfg.pred_lr_mult = 2;
    cfg.pred_steps = 2;
    return cfg;
}

/* The SGD groups of the step, as ref_step.py forms them from config.txt. */
static void step_groups(const sm_config *cfg, const sm_model *m, sm_sgd_group groups[2])
{
    sm_model_sgd_groups(m, groups);
    for (int g = 0; g < 2; g++) {
        groups[g].momentum = (float)cfg->momentum;
        groups[g].weight_decay = (float)cfg->wd;
    }
    groups[0].lr = (float)cfg->lr;
    groups[1].lr = (float)(cfg->pred_lr_mult * cfg->lr);
}

static float *random_view(uint64_t stream)
{
    sm_rng rng;
    sm_rng_seed(&rng, SEED, stream);
    size_t count = (size_t)BATCH * IMAGE_C * IMAGE_HW * IMAGE_HW;
    float *x = sm_test_floats(count);
    sm_test_fill_uniform(x, count, &rng, 0.0, 1.0);
    return x;
}

static void write_f32(const char *path, const float *data, size_t n, size_t d, int ndim)
{
    sm_status st;
    const sm_npy_array a = {data, SM_NPY_F32, n, d, ndim};
    if (sm_npy_write(path, &a, SM_NPY_F32, &st)) fail_msg("%s", st.msg);
}

/* The case's configuration and names (before cmocka lists the tests). */
static void define_case(parity_case *c, sm_arch_kind arch, sm_loss_kind loss)
{
    c->cfg = case_config(arch, loss);
    snprintf(c->name, sizeof c->name, "%s_%s", arch == SM_ARCH_MLP ? "mlp" : "resnet", sm_loss_name(loss));
    snprintf(c->test_name, sizeof c->test_name, "test_step_matches_pytorch_%s", c->name);
}

/* The case's model at its initial state, its views, and ref_step.py's inputs. */
static void prepare_case(parity_case *c)
{
    char dir[128];
    snprintf(dir, sizeof dir, "parity_%s", c->name);
    snprintf(c->dir, sizeof c->dir, "%s", sm_test_dir(dir));
    sm_status st;
    c->m = sm_model_alloc(&c->cfg, IMAGE_C, IMAGE_HW, IMAGE_HW, BATCH, &st);
    assert_non_null(c->m);
    sm_model_init(c->m, SEED);
    c->x1 = random_view(1);
    c->x2 = random_view(2);
    const sm_model *m = c->m;
    size_t image = m->in_c * m->in_h * m->in_w;
    if (sm_config_write(sm_test_join(c->dir, "config.txt"), &c->cfg, &st)) fail_msg("%s", st.msg);
    write_f32(sm_test_join(c->dir, "params.npy"), m->params, m->n_params, 1, 1);
    write_f32(sm_test_join(c->dir, "stats.npy"), m->stats, m->n_stats, 1, 1);
    write_f32(sm_test_join(c->dir, "x1.npy"), c->x1, BATCH, image, 2);
    write_f32(sm_test_join(c->dir, "x2.npy"), c->x2, BATCH, image, 2);
}

/* Runs the reference once over every case; reference_failure says why not. */
static void run_reference(void)
{
    char cmd[8192];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "/usr/bin/python3 scripts/ref_step.py %d %d %d", IMAGE_C,
                                  IMAGE_HW, IMAGE_HW);
    for (int i = 0; i < N_CASES; i++) len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", cases[i].dir);
    assert_true(len < sizeof cmd);
    char *err = NULL;
    int rc = sm_test_run(cmd, NULL, &err);
    if (rc != 0) {
        char msg[4096];
        const char *hint = sm_test_have_python("torch") ? "" : " (/usr/bin/python3 cannot import torch: "
                                                              "make test installs python3-torch)";
        snprintf(msg, sizeof msg, "scripts/ref_step.py exited with %d%s: %s", rc, hint, err ? err : "");
        reference_failure = strdup(msg);
    }
    free(err);
}

static int setup_cases(void **state)
{
    (void)state;
    for (int i = 0; i < N_CASES; i++) prepare_case(&cases[i]);
    run_reference();
    return 0;
}

static int teardown_cases(void **state)
{
    (void)state;
    for (int i = 0; i < N_CASES; i++) {
        sm_model_free(cases[i].m);
        free(cases[i].x1);
        free(cases[i].x2);
    }
    free(reference_failure);
    return 0;
}

/* ---- tensors of the flat arrays ------------------------------------------- */

static const char *const OP_NAMES[] = {[SM_OP_CONV] = "conv", [SM_OP_BN] = "bn", [SM_OP_ADD] = "add",
                                       [SM_OP_POOL] = "pool", [SM_OP_LINEAR] = "linear"};

static void add_span(tensor_span *s, int *n, size_t offset, size_t count, int op, const char *name)
{
    if (offset == SM_MODEL_NONE) return;
    assert_true(*n < MAX_SPANS);
    s[(*n)++] = (tensor_span){offset, count, op, name};
}

/* Every parameter tensor: conv and linear weights, biases, BN γ and β. */
static int param_spans(const sm_model *m, tensor_span *s)
{
    int n = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_CONV) add_span(s, &n, op->w, sm_conv2d_weight_count(&op->conv), i, "weight");
        if (op->kind == SM_OP_LINEAR) {
            add_span(s, &n, op->w, op->n_in * op->n_out, i, "weight");
            add_span(s, &n, op->b, op->n_out, i, "bias");
        }
        if (op->kind == SM_OP_BN) {
            add_span(s, &n, op->w, op->c, i, "gamma");
            add_span(s, &n, op->b, op->c, i, "beta");
        }
    }
    return n;
}

/* Every BN layer's running statistics, its mean and variance as one tensor:
 * the mean alone can be 0 but for rounding (the predictor's first BN sees z,
 * whose affine-free BN and the bias-free Linear after it leave every feature
 * with batch mean 0), so it is measured against the layer's variance (≈ 1). */
static int stat_spans(const sm_model *m, tensor_span *s)
{
    int n = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_BN) add_span(s, &n, op->stats, 2 * op->c, i, "running mean and var");
    }
    return n;
}

/* The spans must tile the array, or some of it would go unchecked. */
static void assert_tiles(const tensor_span *s, int n, size_t total)
{
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        assert_int_equal(s[k].offset, at);
        at += s[k].count;
    }
    assert_int_equal(at, total);
}

/* ---- comparing ------------------------------------------------------------ */

/* max |a − b| / max |b| over n values (0 when both are all zero). */
static double rel_error(const float *a, const double *b, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return diff / fmax(scale, 1e-30);
}

static double *read_reference(const parity_case *c, const char *file, size_t count)
{
    sm_status st;
    double *ref;
    size_t n, d;
    if (sm_npy_read(sm_test_join(c->dir, file), &ref, &n, &d, &st)) fail_msg("%s", st.msg);
    if (n * d != count) fail_msg("%s/%s: %zu values, expected %zu", c->dir, file, n * d, count);
    return ref;
}

/* The largest per-tensor relative error of ours against the reference file;
 * fails naming the tensor when one exceeds TENSOR_TOL. */
static double check_tensors(const parity_case *c, const char *file, const float *ours, const tensor_span *s,
                            int n)
{
    double *ref = read_reference(c, file, s[n - 1].offset + s[n - 1].count);
    double worst = 0.0;
    for (int k = 0; k < n; k++) {
        double e = rel_error(ours + s[k].offset, ref + s[k].offset, s[k].count);
        if (!(e <= TENSOR_TOL))
            fail_msg("%s: %s, op %d (%s) %s: relative error %.3g > %g", c->name, file, s[k].op,
                     OP_NAMES[c->m->ops[s[k].op].kind], s[k].name, e, TENSOR_TOL);
        worst = fmax(worst, e);
    }
    sm_mem_free(ref);
    return worst;
}

static double check_loss(const parity_case *c, double loss)
{
    double *ref = read_reference(c, "ref_loss.npy", 1);
    double e = fabs(loss - ref[0]) / fabs(ref[0]);
    if (!(e <= LOSS_TOL))
        fail_msg("%s: loss %.9g, PyTorch %.9g: relative error %.3g > %g", c->name, loss, ref[0], e, LOSS_TOL);
    sm_mem_free(ref);
    return e;
}

/* ---- the test ------------------------------------------------------------- */

static void test_step_matches_pytorch(void **state)
{
    parity_case *c = *state;
    if (reference_failure) fail_msg("%s", reference_failure);
    sm_model *m = c->m;
    const sm_loss_kind loss_kind = c->cfg.loss;
    tensor_span params[MAX_SPANS], stats[MAX_SPANS];
    int n_params = param_spans(m, params), n_stats = stat_spans(m, stats);
    assert_tiles(params, n_params, m->n_params);
    assert_tiles(stats, n_stats, m->n_stats);

    /* The step's full gradient, which the step itself overwrites: its first
     * act, run alone from the same initial state. */
    sm_model_zero_grads(m);
    double first_loss = sm_model_step_loss(m, c->x1, c->x2, BATCH, loss_kind);
    float *grad = sm_test_floats(m->n_params);
    memcpy(grad, m->grads, m->n_params * sizeof *grad);
    sm_model_init(m, SEED);

    sm_sgd_group groups[2];
    step_groups(&c->cfg, m, groups);
    double loss = sm_model_train_step(m, c->x1, c->x2, BATCH, loss_kind, groups, c->cfg.pred_steps);
    assert_true(loss == first_loss); /* the same computation, so the same gradient */

    double e_loss = check_loss(c, loss);
    double e_grad = check_tensors(c, "ref_grad.npy", grad, params, n_params);
    double e_pred = check_tensors(c, "ref_pred_grad.npy", m->grads, params, n_params);
    double e_params = check_tensors(c, "ref_params.npy", m->params, params, n_params);
    double e_mom = check_tensors(c, "ref_momentum.npy", m->momentum, params, n_params);
    double e_stats = check_tensors(c, "ref_stats.npy", m->stats, stats, n_stats);
    print_message("%s: loss %.9g; largest relative errors: loss %.1e, gradient %.1e, predictor-step gradient "
                  "%.1e, parameters %.1e, momentum %.1e, BN statistics %.1e\n",
                  c->name, loss, e_loss, e_grad, e_pred, e_params, e_mom, e_stats);
    free(grad);
}

int main(void)
{
    const sm_arch_kind archs[N_ARCHS] = {SM_ARCH_RESNET, SM_ARCH_MLP};
    const sm_loss_kind losses[N_LOSSES] = {SM_LOSS_COSINE, SM_LOSS_L2, SM_LOSS_GAUSS};
    struct CMUnitTest tests[N_CASES];
    for (int i = 0; i < N_CASES; i++) {
        define_case(&cases[i], archs[i / N_LOSSES], losses[i % N_LOSSES]);
        tests[i] = (struct CMUnitTest){.name = cases[i].test_name, .test_func = test_step_matches_pytorch,
                                       .initial_state = &cases[i]};
    }
    return cmocka_run_group_tests(tests, setup_cases, teardown_cases);
}
