/* Tests for src/simsiam/model: parameter counts written out layer by layer,
 * initialisation, central-difference gradient checks of the whole network
 * (every layer kind, both architectures, through z and p), SimSiam's
 * stop-gradient, the predictor-only step, inference mode with running
 * statistics, bitwise identity across thread counts, and stale activation
 * gradients left out of backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "core/threads.h"
#include "io/config.h"
#include "nn/loss.h"
#include "simsiam/model.h"
#include "support/support.h"

/* The tiny network of the gradient checks: width 2, P = 8, z = 4, H = 6 on
 * 2 × 8 × 8 images, batch 4. */
enum { TINY_C = 2, TINY_HW = 8, TINY_N = 4 };

static sm_config tiny_config(sm_arch_kind arch)
{
    sm_config cfg;
    sm_config_defaults(&cfg);
    cfg.arch = arch;
    cfg.width = 2;
    cfg.proj_hidden = 8;
    cfg.z_dim = 4;
    cfg.pred_hidden = 6;
    return cfg;
}

/* The small configuration's network (experiments/small.config): resnet,
 * P 512, z 64 from the defaults. */
static sm_config small_config(void)
{
    sm_config cfg;
    sm_config_defaults(&cfg);
    cfg.width = 16;
    cfg.stem_stride = 1;
    cfg.pred_hidden = 128;
    return cfg;
}

static sm_model *tiny_model(sm_arch_kind arch, size_t max_batch, uint64_t seed)
{
    sm_config cfg = tiny_config(arch);
    sm_status st = {0};
    sm_model *m = sm_model_alloc(&cfg, TINY_C, TINY_HW, TINY_HW, max_batch, &st);
    assert_non_null(m);
    sm_model_init(m, seed);
    return m;
}

static float *copy_floats(const float *src, size_t n)
{
    float *p = sm_test_floats(n);
    memcpy(p, src, n * sizeof *p);
    return p;
}

static float *random_images(const sm_model *m, size_t n, uint64_t stream)
{
    sm_rng rng;
    sm_rng_seed(&rng, 7, stream);
    size_t count = n * m->in_c * m->in_h * m->in_w;
    float *x = sm_test_floats(count);
    for (size_t i = 0; i < count; i++) x[i] = (float)sm_rng_normal(&rng);
    return x;
}

/* ---- parameter counts and initialisation ------------------------------ */

/* sm_model_counts gives the sizes of the model sm_model_alloc built. */
static void expect_counts(const sm_config *cfg, const sm_model *m)
{
    size_t n_params = 0, n_stats = 0;
    sm_status st = {0};
    assert_int_equal(sm_model_counts(cfg, (int)m->in_c, (int)m->in_h, (int)m->in_w, &n_params, &n_stats, &st), SM_OK);
    assert_int_equal(n_params, m->n_params);
    assert_int_equal(n_stats, m->n_stats);
}

static void test_param_count_resnet_small(void **state)
{
    (void)state;
    sm_config cfg = small_config();
    sm_status st = {0};
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 2, &st);
    assert_non_null(m);
    /* conv weights c_out·c_in·3·3 (1·1 for shortcuts), BN γ and β 2·c. */
    size_t stem = 16 * 1 * 9 + 2 * 16;
    size_t block1 = 16 * 16 * 9 + 2 * 16 + 16 * 16 * 9 + 2 * 16;
    size_t block2 = 32 * 16 * 9 + 2 * 32 + 32 * 32 * 9 + 2 * 32 + 32 * 16 + 2 * 32;
    size_t block3 = 64 * 32 * 9 + 2 * 64 + 64 * 64 * 9 + 2 * 64 + 64 * 32 + 2 * 64;
    size_t projector = 64 * 512 + 2 * 512 + 512 * 512 + 2 * 512 + 512 * 64; /* last BN: no affine */
    size_t predictor = 64 * 128 + 2 * 128 + 128 * 64 + 64;
    assert_int_equal(stem + block1 + block2 + block3, 77104);
    assert_int_equal(projector, 329728);
    assert_int_equal(predictor, 16704);
    assert_int_equal(m->n_backbone, stem + block1 + block2 + block3 + projector);
    assert_int_equal(m->n_params, 423536);
    /* Running mean and variance for every BN channel. */
    size_t bn_channels = 16 + 2 * 16 + 3 * 32 + 3 * 64 + 512 + 512 + 64 + 128;
    assert_int_equal(m->n_stats, 2 * bn_channels);
    assert_int_equal(m->features, 64);
    assert_int_equal(m->z_dim, 64);

    sm_sgd_group g[2];
    sm_model_sgd_groups(m, g);
    assert_int_equal(g[0].offset, 0);
    assert_int_equal(g[0].count, 406832);
    assert_int_equal(g[1].offset, g[0].count);
    assert_int_equal(g[1].count, predictor);
    assert_int_equal(g[0].count + g[1].count, m->n_params);
    expect_counts(&cfg, m);
    sm_model_free(m);
}

/* The activation storage of the small configuration's network, by hand,
 * per image of a view (every size a multiple of 16, so no padding).  Own
 * regions: the input 784; per 28×28 map of 16 planes 12544: the stem conv,
 * block 1's two convs and its residual sum (its ReLU stored over it);
 * block 2 (32 planes on 14×14, 6272) and block 3 (64 on 7×7, 3136) four
 * each: two convs, the residual sum, the shortcut conv; the pool's 64; the
 * projector's 512 ×4 and 64 ×2, the predictor's 128 ×2 and 64.  Mapped
 * (never stored, read through their BN's map by convolutions and residual
 * adds): the outputs of all nine BNs on maps.  save: the batch mean and
 * 1/σ of every BN (2 × 1552 channels: stem 16, blocks 16 + 16, 3 × 32,
 * 3 × 64, projector 512 + 512 + 64, predictor 128) and the nine maps
 * (3 × 336 channels). */
static void test_value_storage_small(void **state)
{
    (void)state;
    sm_config cfg = small_config();
    sm_status st = {0};
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 1, &st);
    assert_non_null(m);
    size_t own = 784 + 4 * 12544 + 4 * 6272 + 4 * 3136 + 64 + 4 * 512 + 2 * 64 + 2 * 128 + 64;
    assert_int_equal(m->act_floats, own);
    /* every BN's statistics; the 9 feature-map BNs' output maps, and their input gradients' maps */
    assert_int_equal(m->save_floats, 2 * 1552 + 3 * 336 + 6 * 336);
    int mapped = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const sm_model_tensor *x = &m->tensors[t];
        mapped += x->mapped;
        if (x->mapped) assert_int_equal(m->ops[x->producer].kind, SM_OP_BN);
        if (x->alias >= 0) assert_false(m->tensors[x->alias].mapped); /* nothing is stored over a mapped tensor */
    }
    assert_int_equal(mapped, 9);
    int grad_maps = 0; /* each a BN after a convolution, which knows it */
    for (int i = 0; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_CONV && op->dy_bn >= 0) assert_int_equal(m->ops[op->dy_bn].in, op->out);
        if (op->gmap == SM_MODEL_NONE) continue;
        grad_maps++;
        assert_int_equal(m->ops[m->tensors[op->in].producer].dy_bn, i);
    }
    assert_int_equal(grad_maps, 9);
    sm_model_free(m);
}

static void test_param_count_mlp_w16(void **state)
{
    (void)state;
    sm_config cfg;
    sm_config_defaults(&cfg);
    cfg.arch = SM_ARCH_MLP;
    cfg.width = 16; /* hidden = 16 · w = 256 */
    cfg.pred_hidden = 128;
    sm_status st = {0};
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 2, &st);
    assert_non_null(m);
    size_t encoder = 784 * 256 + 2 * 256 + 256 * 256 + 2 * 256;
    size_t projector = 256 * 512 + 2 * 512 + 512 * 512 + 2 * 512 + 512 * 64;
    size_t predictor = 64 * 128 + 2 * 128 + 128 * 64 + 64;
    assert_int_equal(m->features, 256);
    assert_int_equal(m->n_backbone, encoder + projector);
    assert_int_equal(m->n_params, 712000);
    assert_int_equal(m->n_params - m->n_backbone, predictor);
    expect_counts(&cfg, m);
    sm_model_free(m);
}

static void test_alloc_rejects_bad_dimensions(void **state)
{
    (void)state;
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_status st = {0};
    assert_null(sm_model_alloc(&cfg, 0, 28, 28, 8, &st));
    assert_int_equal(st.code, SM_ERR_USAGE);
    assert_string_equal(st.msg, "bad input shape 0 x 28 x 28 (model)");
    assert_null(sm_model_alloc(&cfg, 1, 28, 28, 0, &st));
    assert_string_equal(st.msg, "max_batch must be in [1, 2147483647], got 0 (model)");
    cfg.z_dim = 0;
    assert_null(sm_model_alloc(&cfg, 1, 28, 28, 8, &st));
    assert_int_equal(st.code, SM_ERR_USAGE);
    assert_string_equal(st.msg, "z_dim must be in [1, 134217727], got 0 (model)");
    size_t n_params = 1, n_stats = 1;
    assert_int_equal(sm_model_counts(&cfg, 1, 28, 28, &n_params, &n_stats, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "z_dim must be in [1, 134217727], got 0 (model)");
    assert_true(n_params == 0 && n_stats == 0);
}

static void test_init_is_seeded_and_matches_pytorch_defaults(void **state)
{
    (void)state;
    sm_model *a = tiny_model(SM_ARCH_RESNET, TINY_N, 3), *b = tiny_model(SM_ARCH_RESNET, TINY_N, 3);
    sm_model *c = tiny_model(SM_ARCH_RESNET, TINY_N, 4);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_not_equal(a->params, c->params, a->n_params * sizeof(float));
    int kinds_seen = 0;
    for (int i = 0; i < a->n_ops; i++) {
        const sm_model_op *op = &a->ops[i];
        if (op->kind == SM_OP_BN) {
            for (size_t j = 0; j < op->c; j++) {
                if (op->w != SM_MODEL_NONE) assert_true(a->params[op->w + j] == 1.0f);
                if (op->b != SM_MODEL_NONE) assert_true(a->params[op->b + j] == 0.0f);
                assert_true(a->stats[op->stats + j] == 0.0f);
                assert_true(a->stats[op->stats + op->c + j] == 1.0f);
            }
            kinds_seen |= 1;
        } else if (op->kind == SM_OP_CONV || op->kind == SM_OP_LINEAR) {
            size_t fan_in = op->kind == SM_OP_LINEAR ? op->n_in : (size_t)(op->conv.c_in * op->conv.k * op->conv.k);
            size_t count = op->kind == SM_OP_LINEAR ? op->n_in * op->n_out : sm_conv2d_weight_count(&op->conv);
            double bound = 1.0 / sqrt((double)fan_in), most = 0.0;
            for (size_t j = 0; j < count; j++) most = fmax(most, fabs(a->params[op->w + j]));
            assert_true(most <= bound && most > 0.5 * bound);
            if (op->b != SM_MODEL_NONE)
                for (size_t j = 0; j < op->n_out; j++) assert_true(fabs(a->params[op->b + j]) <= bound);
            kinds_seen |= op->kind == SM_OP_CONV ? 2 : 4;
        }
    }
    assert_int_equal(kinds_seen, 7);
    for (size_t i = 0; i < a->n_params; i++) assert_true(a->grads[i] == 0.0f && a->momentum[i] == 0.0f);
    sm_model_free(a);
    sm_model_free(b);
    sm_model_free(c);
}

/* ---- finite differences ------------------------------------------------ */

/* A scalar function of the parameters, evaluated by forwards in training
 * mode; the checker restores the running statistics after each call so the
 * finite-difference forwards leave no trace. */
typedef double (*objective_fn)(sm_model *m, const void *ctx);

static double eval_restoring(sm_model *m, objective_fn f, const void *ctx, const float *stats)
{
    double v = f(m, ctx);
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    return v;
}

/* Finite differences w.r.t. `samples` random entries of params[offset ..
 * offset + count), against the analytic gradient with tolerance
 * tol · max|analytic over the range| + 2e-3.
 *
 * The tiny network is only piecewise smooth, and sharply curved: BN over 4
 * images (z's BN has no affine to damp it) lets one ReLU input crossing zero
 * change a slope by as much as the slope itself, and at the seeds below one
 * projector ReLU input sits 3e-5 from zero; without the stop-gradient a
 * stem weight's slope swings from −4 to +3 within 2e-3.  The analytic
 * gradient is the derivative of the piece holding θ: a kink in (θ, θ + h]
 * spoils the right and the central difference but not the left one, and
 * vice versa.  So each entry is tried with steps 1e-3, 2.5e-4 and 6.25e-5
 * (the float loss's ~1e-7 rounding allows no smaller) and passes if the
 * central difference or a one-sided one agrees at one of them.  (Checked on
 * 16 other seeds; scaling the loss gradient by 1.1, or one block's shortcut
 * gradient by 0.9, fails it.)  The model seed of the whole-network checks
 * is 14: with seed 2 the Sandybridge sgemm kernel (what OpenBLAS picks on a
 * virtual "Intel Xeon Processor" with SSE2 only) rounded one stem input
 * close enough to a kink that even the smallest step crossed it; seed 14
 * passes with the default, Haswell, SkylakeX, Sandybridge and Prescott
 * kernels (OPENBLAS_CORETYPE). */
static void check_range(sm_model *m, objective_fn f, const void *ctx, const float *analytic, size_t offset,
                        size_t count, int samples, double tol, const char *what)
{
    static const double steps[] = {1e-3, 2.5e-4, 6.25e-5};
    float *stats = copy_floats(m->stats, m->n_stats);
    double scale = 0.0;
    for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs(analytic[offset + i]));
    assert_true(scale > 1e-3); /* the layer really receives a gradient */
    const double allowed = tol * scale + 2e-3;
    sm_rng rng;
    sm_rng_seed(&rng, offset, 11);
    for (int s = 0; s < samples; s++) {
        size_t i = offset + sm_rng_below(&rng, count);
        const float keep = m->params[i];
        const double g = analytic[i], f0 = eval_restoring(m, f, ctx, stats);
        int ok = 0;
        double central[3];
        for (int k = 0; k < 3; k++) {
            const float up_at = keep + (float)steps[k], down_at = keep - (float)steps[k];
            m->params[i] = up_at;
            double up = eval_restoring(m, f, ctx, stats);
            m->params[i] = down_at;
            double down = eval_restoring(m, f, ctx, stats);
            m->params[i] = keep;
            /* The float steps actually taken, not the nominal ones. */
            double h_up = (double)up_at - keep, h_down = (double)keep - down_at;
            central[k] = (up - down) / (h_up + h_down);
            ok |= fabs(central[k] - g) <= allowed || fabs((up - f0) / h_up - g) <= allowed ||
                  fabs((f0 - down) / h_down - g) <= allowed;
        }
        if (!ok)
            fail_msg("%s: param %zu analytic %.7g, central differences %.7g / %.7g / %.7g (scale %.3g)", what,
                     i, g, central[0], central[1], central[2], scale);
    }
    free(stats);
}

/* Every parameter tensor of every layer (conv and linear weights, BN γ and
 * β, the predictor bias), `samples` entries each; returns a bit mask of
 * the kinds checked (1 conv, 2 linear weight, 4 linear bias, 8 BN). */
static int check_all_layers(sm_model *m, objective_fn f, const void *ctx, const float *analytic, int samples,
                            double tol)
{
    int kinds = 0;
    char what[64];
    for (int i = 0; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        snprintf(what, sizeof what, "op %d", i);
        if (op->kind == SM_OP_CONV) {
            check_range(m, f, ctx, analytic, op->w, sm_conv2d_weight_count(&op->conv), samples, tol, what);
            kinds |= 1;
        } else if (op->kind == SM_OP_LINEAR) {
            check_range(m, f, ctx, analytic, op->w, op->n_in * op->n_out, samples, tol, what);
            kinds |= 2;
            if (op->b != SM_MODEL_NONE) {
                check_range(m, f, ctx, analytic, op->b, op->n_out, samples, tol, what);
                kinds |= 4;
            }
        } else if (op->kind == SM_OP_BN && op->w != SM_MODEL_NONE) {
            check_range(m, f, ctx, analytic, op->w, op->c, samples, tol, what);
            check_range(m, f, ctx, analytic, op->b, op->c, samples, tol, what);
            kinds |= 8;
        } else if (op->w != SM_MODEL_NONE || op->b != SM_MODEL_NONE) {
            fail_msg("op %d (kind %d) has parameters this check does not know how to perturb", i, (int)op->kind);
        }
    }
    return kinds;
}

/* L = Σ a·z + Σ b·p over view 0: exercises the backward through both
 * outputs with nothing held constant. */
typedef struct {
    const float *x, *a, *b;
    size_t n;
} functional_ctx;

static double functional_objective(sm_model *m, const void *ctx)
{
    const functional_ctx *c = ctx;
    sm_model_outputs out;
    sm_model_forward(m, 0, c->x, c->n, SM_MODEL_TRAIN, &out);
    double l = 0.0;
    for (size_t i = 0; i < c->n * m->z_dim; i++) l += (double)c->a[i] * out.z[i] + (double)c->b[i] * out.p[i];
    return l;
}

static void check_functional_gradient(sm_arch_kind arch)
{
    sm_model *m = tiny_model(arch, TINY_N, 14);
    float *x = random_images(m, TINY_N, 1);
    size_t nz = TINY_N * m->z_dim;
    float *a = sm_test_floats(nz), *b = sm_test_floats(nz);
    sm_rng rng;
    sm_rng_seed(&rng, 5, 0);
    for (size_t i = 0; i < nz; i++) {
        a[i] = (float)sm_rng_normal(&rng);
        b[i] = (float)sm_rng_normal(&rng);
    }
    functional_ctx ctx = {x, a, b, TINY_N};
    float *stats = copy_floats(m->stats, m->n_stats);
    functional_objective(m, &ctx);
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    sm_model_backward(m, 0, TINY_N, a, b);
    float *g = copy_floats(m->grads, m->n_params);
    int kinds = check_all_layers(m, functional_objective, &ctx, g, 4, 2e-2);
    assert_int_equal(kinds, arch == SM_ARCH_RESNET ? 15 : 14);
    free(stats);
    free(g);
    free(a);
    free(b);
    free(x);
    sm_model_free(m);
}

static void test_gradient_through_z_and_p_resnet(void **state)
{
    (void)state;
    check_functional_gradient(SM_ARCH_RESNET);
}

static void test_gradient_through_z_and_p_mlp(void **state)
{
    (void)state;
    check_functional_gradient(SM_ARCH_MLP);
}

/* The SimSiam loss with its targets frozen at their values for the
 * unperturbed parameters: terms = 2 gives ½ D(p1, z2*) + ½ D(p2, z1*),
 * terms = 1 gives D(p1, z2*).  With terms = 1 and z2 = NULL, z2 is
 * recomputed at the perturbed parameters instead (the derivative WITHOUT
 * stop-gradient). */
typedef struct {
    const float *x1, *x2, *z1, *z2;
    size_t n;
    sm_loss_kind loss;
    int terms;
} simsiam_ctx;

static double simsiam_objective(sm_model *m, const void *ctx)
{
    const simsiam_ctx *c = ctx;
    sm_model_outputs o1, o2;
    sm_model_forward(m, 0, c->x1, c->n, SM_MODEL_TRAIN, &o1);
    if (c->terms == 1 && c->z2) return sm_loss_forward(c->loss, c->n, m->z_dim, o1.p, c->z2);
    sm_model_forward(m, 1, c->x2, c->n, SM_MODEL_TRAIN, &o2);
    if (c->terms == 1) return sm_loss_forward(c->loss, c->n, m->z_dim, o1.p, o2.z);
    return 0.5 * sm_loss_forward(c->loss, c->n, m->z_dim, o1.p, c->z2) +
           0.5 * sm_loss_forward(c->loss, c->n, m->z_dim, o2.p, c->z1);
}

/* sm_model_step_loss: its value is the symmetric loss of the two views'
 * outputs, and its gradient the frozen-target derivative, in every layer. */
static void check_step_loss_gradient(sm_arch_kind arch, sm_loss_kind loss)
{
    sm_model *m = tiny_model(arch, TINY_N, 14);
    float *x1 = random_images(m, TINY_N, 1), *x2 = random_images(m, TINY_N, 2);
    float *stats = copy_floats(m->stats, m->n_stats);
    double l = sm_model_step_loss(m, x1, x2, TINY_N, loss);
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    size_t nz = TINY_N * m->z_dim;
    float *z1 = copy_floats(m->act[0] + m->tensors[m->t_z].value, nz);
    float *z2 = copy_floats(m->act[1] + m->tensors[m->t_z].value, nz);
    float *g = copy_floats(m->grads, m->n_params);
    simsiam_ctx ctx = {x1, x2, z1, z2, TINY_N, loss, 2};
    assert_true(simsiam_objective(m, &ctx) == l);
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    int kinds = check_all_layers(m, simsiam_objective, &ctx, g, 3, 2e-2);
    assert_int_equal(kinds, arch == SM_ARCH_RESNET ? 15 : 14);
    free(stats);
    free(g);
    free(z1);
    free(z2);
    free(x1);
    free(x2);
    sm_model_free(m);
}

static void test_step_loss_gradient_resnet_cosine(void **state)
{
    (void)state;
    check_step_loss_gradient(SM_ARCH_RESNET, SM_LOSS_COSINE);
}

static void test_step_loss_gradient_mlp_gauss(void **state)
{
    (void)state;
    check_step_loss_gradient(SM_ARCH_MLP, SM_LOSS_GAUSS);
}

/* D(p1, sg(z2)) alone through the public backward.  Its gradient g_sg
 * matches the finite differences with z2 computed once and frozen.  Adding
 * the path through z2 — view 1's backward with dz2 = ∂D/∂z2, which for the
 * symmetric cosine loss is sm_loss_backward with p and z swapped — gives
 * the derivative with z2 live, and that path is far from negligible: the
 * stop-gradient really cuts something. */
static void test_stop_gradient(void **state)
{
    (void)state;
    sm_model *m = tiny_model(SM_ARCH_RESNET, TINY_N, 3);
    float *x1 = random_images(m, TINY_N, 3), *x2 = random_images(m, TINY_N, 4);
    float *stats = copy_floats(m->stats, m->n_stats);
    size_t nz = TINY_N * m->z_dim;
    sm_model_outputs o1, o2;
    sm_model_forward(m, 0, x1, TINY_N, SM_MODEL_TRAIN, &o1);
    sm_model_forward(m, 1, x2, TINY_N, SM_MODEL_TRAIN, &o2);
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    float *z2 = copy_floats(o2.z, nz), *dp = sm_test_floats(nz), *dz = sm_test_floats(nz);
    sm_loss_backward(SM_LOSS_COSINE, TINY_N, m->z_dim, o1.p, z2, 1.0f, dp);
    sm_loss_backward(SM_LOSS_COSINE, TINY_N, m->z_dim, z2, o1.p, 1.0f, dz);
    sm_model_backward(m, 0, TINY_N, NULL, dp);
    float *g_sg = copy_floats(m->grads, m->n_params);
    sm_model_backward(m, 1, TINY_N, dz, NULL);
    float *g_live = copy_floats(m->grads, m->n_params);

    double path = 0.0, sg = 0.0;
    for (size_t i = 0; i < m->n_backbone; i++) {
        path = fmax(path, fabs(g_live[i] - g_sg[i]));
        sg = fmax(sg, fabs(g_sg[i]));
    }
    /* Five times the 2e-2 tolerance of the checks below (it is 0.15 here). */
    assert_true(path > 0.1 * sg);
    for (size_t i = m->n_backbone; i < m->n_params; i++) assert_true(g_live[i] == g_sg[i]); /* z2 ignores h */

    simsiam_ctx frozen = {x1, x2, NULL, z2, TINY_N, SM_LOSS_COSINE, 1};
    assert_int_equal(check_all_layers(m, simsiam_objective, &frozen, g_sg, 3, 2e-2), 15);
    simsiam_ctx live = {x1, x2, NULL, NULL, TINY_N, SM_LOSS_COSINE, 1};
    assert_int_equal(check_all_layers(m, simsiam_objective, &live, g_live, 3, 2e-2), 15);
    free(stats);
    free(g_sg);
    free(g_live);
    free(dp);
    free(dz);
    free(z2);
    free(x1);
    free(x2);
    sm_model_free(m);
}

/* ---- predictor-only step ------------------------------------------------ */

static void test_predictor_step_touches_only_predictor(void **state)
{
    (void)state;
    sm_model *m = tiny_model(SM_ARCH_RESNET, TINY_N, 4);
    float *x1 = random_images(m, TINY_N, 5), *x2 = random_images(m, TINY_N, 6);
    double full = sm_model_step_loss(m, x1, x2, TINY_N, SM_LOSS_L2);
    float *g_full = copy_floats(m->grads, m->n_params);
    sm_model_zero_grads(m);
    /* Same parameters and frozen z: the same loss and the same predictor
     * gradient, bit for bit, and nothing for the backbone. */
    double pred = sm_model_predictor_step_loss(m, TINY_N, SM_LOSS_L2);
    assert_true(pred == full);
    for (size_t i = 0; i < m->n_backbone; i++) assert_true(m->grads[i] == 0.0f);
    size_t count = m->n_params - m->n_backbone;
    assert_memory_equal(m->grads + m->n_backbone, g_full + m->n_backbone, count * sizeof(float));
    double norm = 0.0;
    for (size_t i = m->n_backbone; i < m->n_params; i++) norm += fabs(m->grads[i]);
    assert_true(norm > 0.0);
    /* The z both passes used are untouched. */
    float *z1 = copy_floats(m->act[0] + m->tensors[m->t_z].value, TINY_N * m->z_dim);
    sm_model_predictor_step_loss(m, TINY_N, SM_LOSS_L2);
    assert_memory_equal(z1, m->act[0] + m->tensors[m->t_z].value, TINY_N * m->z_dim * sizeof(float));
    free(z1);
    free(g_full);
    free(x1);
    free(x2);
    sm_model_free(m);
}

/* ---- refit: the predictor alone on a frozen backbone ----------------------- */

typedef struct {
    const float *x1, *x2;
    size_t n;
    sm_loss_kind loss;
} refit_ctx;

/* The refit loss at the current parameters (its gradient side effect is
 * not looked at). */
static double refit_objective(sm_model *m, const void *ctx)
{
    const refit_ctx *c = ctx;
    return sm_model_predictor_refit_loss(m, c->x1, c->x2, c->n, c->loss);
}

/* z in inference mode (what the tracker sees), p in training mode; the
 * gradient reaches the predictor only and matches finite differences in
 * every predictor tensor; the backbone's parameters and statistics stay. */
static void test_refit_loss_gradient(void **state)
{
    (void)state;
    sm_model *m = tiny_model(SM_ARCH_RESNET, TINY_N, 5);
    float *x1 = random_images(m, TINY_N, 7), *x2 = random_images(m, TINY_N, 8);
    size_t nz = TINY_N * m->z_dim;
    float *z1 = sm_test_floats(nz), *z2 = sm_test_floats(nz);
    sm_model_embed(m, x1, TINY_N, NULL, z1, NULL);
    sm_model_embed(m, x2, TINY_N, NULL, z2, NULL);
    float *params = copy_floats(m->params, m->n_params), *stats = copy_floats(m->stats, m->n_stats);

    double l = sm_model_predictor_refit_loss(m, x1, x2, TINY_N, SM_LOSS_GAUSS);
    assert_memory_equal(m->act[0] + m->tensors[m->t_z].value, z1, nz * sizeof(float));
    assert_memory_equal(m->act[1] + m->tensors[m->t_z].value, z2, nz * sizeof(float));
    const float *p1 = m->act[0] + m->tensors[m->t_p].value, *p2 = m->act[1] + m->tensors[m->t_p].value;
    assert_true(l == 0.5 * sm_loss_forward(SM_LOSS_GAUSS, TINY_N, m->z_dim, p1, z2) +
                         0.5 * sm_loss_forward(SM_LOSS_GAUSS, TINY_N, m->z_dim, p2, z1));
    for (size_t i = 0; i < m->n_backbone; i++) assert_true(m->grads[i] == 0.0f);
    assert_memory_equal(m->params, params, m->n_params * sizeof(float));
    size_t backbone_stats = m->ops[m->op_pred].kind == SM_OP_BN ? m->ops[m->op_pred].stats : m->n_stats;
    for (int i = m->op_pred; i < m->n_ops; i++)
        if (m->ops[i].kind == SM_OP_BN && m->ops[i].stats < backbone_stats) backbone_stats = m->ops[i].stats;
    assert_memory_equal(m->stats, stats, backbone_stats * sizeof(float)); /* the predictor's BN moved on */

    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    float *g = copy_floats(m->grads, m->n_params);
    refit_ctx ctx = {x1, x2, TINY_N, SM_LOSS_GAUSS};
    int kinds = 0;
    for (int i = m->op_pred; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_LINEAR) {
            check_range(m, refit_objective, &ctx, g, op->w, op->n_in * op->n_out, 4, 2e-2, "predictor linear");
            if (op->b != SM_MODEL_NONE) check_range(m, refit_objective, &ctx, g, op->b, op->n_out, 4, 2e-2, "bias");
            kinds |= op->b != SM_MODEL_NONE ? 6 : 2;
        } else if (op->kind == SM_OP_BN) {
            check_range(m, refit_objective, &ctx, g, op->w, op->c, 4, 2e-2, "predictor BN gamma");
            check_range(m, refit_objective, &ctx, g, op->b, op->c, 4, 2e-2, "predictor BN beta");
            kinds |= 8;
        }
    }
    assert_int_equal(kinds, 14);
    free(g);
    free(params);
    free(stats);
    free(z1);
    free(z2);
    free(x1);
    free(x2);
    sm_model_free(m);
}

/* A fresh predictor: seeded, different from the first one, backbone kept. */
static void test_init_predictor(void **state)
{
    (void)state;
    sm_model *a = tiny_model(SM_ARCH_MLP, TINY_N, 6), *b = tiny_model(SM_ARCH_MLP, TINY_N, 6);
    float *before = copy_floats(a->params, a->n_params);
    a->momentum[a->n_params - 1] = 1.0f;
    sm_model_init_predictor(a, 99);
    sm_model_init_predictor(b, 99);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_equal(a->params, before, a->n_backbone * sizeof(float));
    assert_memory_not_equal(a->params + a->n_backbone, before + a->n_backbone,
                            (a->n_params - a->n_backbone) * sizeof(float));
    assert_true(a->momentum[a->n_params - 1] == 0.0f);
    free(before);
    sm_model_free(a);
    sm_model_free(b);
}

/* ---- inference mode and threads ------------------------------------------ */

static void test_eval_uses_running_stats(void **state)
{
    (void)state;
    enum { N = 6 };
    sm_model *m = tiny_model(SM_ARCH_RESNET, N, 5);
    float *x = random_images(m, N, 7);
    sm_model_outputs train;
    sm_model_forward(m, 0, x, N, SM_MODEL_TRAIN, &train);
    size_t nz = N * m->z_dim;
    float *z_train = copy_floats(train.z, nz);

    /* The training forward moved z's BN running statistics by momentum 0.1
     * towards its input's batch mean and unbiased variance. */
    const sm_model_op *zbn = &m->ops[m->op_pred - 1];
    assert_int_equal(zbn->out, m->t_z);
    const float *pre = m->act[0] + m->tensors[zbn->in].value;
    for (size_t j = 0; j < zbn->c; j++) {
        double mean = 0.0, ss = 0.0;
        for (size_t i = 0; i < N; i++) mean += pre[i * zbn->c + j] / (double)N;
        for (size_t i = 0; i < N; i++) ss += pow(pre[i * zbn->c + j] - mean, 2);
        assert_true(fabs(m->stats[zbn->stats + j] - 0.1 * mean) < 1e-6);
        assert_true(fabs(m->stats[zbn->stats + zbn->c + j] - (0.9 + 0.1 * ss / (N - 1))) < 1e-5);
    }

    float *stats = copy_floats(m->stats, m->n_stats);
    float *f = sm_test_floats(N * m->features), *z = sm_test_floats(nz), *p = sm_test_floats(nz);
    float *z_again = sm_test_floats(nz), *z_one = sm_test_floats(m->z_dim);
    sm_model_embed(m, x, N, f, z, p);
    sm_model_embed(m, x, N, NULL, z_again, NULL);
    assert_memory_equal(stats, m->stats, m->n_stats * sizeof(float)); /* nothing updated */
    assert_memory_equal(z, z_again, nz * sizeof(float));               /* deterministic */
    /* Each image's embedding does not depend on the rest of the batch... */
    size_t in_size = m->in_c * m->in_h * m->in_w;
    for (size_t i = 0; i < N; i++) {
        sm_model_embed(m, x + i * in_size, 1, NULL, z_one, NULL);
        for (size_t j = 0; j < m->z_dim; j++) assert_true(fabs(z_one[j] - z[i * m->z_dim + j]) < 1e-5);
    }
    /* ...and differs from the batch-statistics forward. */
    double diff = 0.0;
    for (size_t i = 0; i < nz; i++) diff = fmax(diff, fabs(z[i] - z_train[i]));
    assert_true(diff > 1e-2);
    /* Chunks of max_batch: 2N images in two chunks give the same rows twice. */
    float *x2 = sm_test_floats(2 * N * in_size), *z2 = sm_test_floats(2 * nz);
    memcpy(x2, x, N * in_size * sizeof(float));
    memcpy(x2 + N * in_size, x, N * in_size * sizeof(float));
    sm_model_embed(m, x2, 2 * N, NULL, z2, NULL);
    assert_memory_equal(z2, z, nz * sizeof(float));
    assert_memory_equal(z2 + nz, z, nz * sizeof(float));
    free(x2);
    free(z2);
    free(stats);
    free(f);
    free(z);
    free(p);
    free(z_again);
    free(z_one);
    free(z_train);
    free(x);
    sm_model_free(m);
}

/* Training and inference forwards with 1 and 2 threads, at a batch large
 * enough that the linear layers split into several row blocks. */
static void test_forward_bitwise_across_threads(void **state)
{
    (void)state;
    enum { N = 130 };
    int saved = sm_threads_get();
    sm_model *m = tiny_model(SM_ARCH_RESNET, N, 6);
    float *x = random_images(m, N, 8);
    float *stats = copy_floats(m->stats, m->n_stats);
    size_t nz = N * m->z_dim;
    float *p[2], *z[2], *stats_after[2];
    for (int t = 0; t < 2; t++) {
        sm_threads_set(t + 1);
        memcpy(m->stats, stats, m->n_stats * sizeof(float));
        sm_model_outputs out;
        sm_model_forward(m, 0, x, N, SM_MODEL_TRAIN, &out);
        p[t] = copy_floats(out.p, nz);
        stats_after[t] = copy_floats(m->stats, m->n_stats);
        z[t] = sm_test_floats(nz);
        sm_model_embed(m, x, N, NULL, z[t], NULL);
    }
    sm_threads_set(saved);
    assert_memory_equal(p[0], p[1], nz * sizeof(float));
    assert_memory_equal(z[0], z[1], nz * sizeof(float));
    assert_memory_equal(stats_after[0], stats_after[1], m->n_stats * sizeof(float));
    for (int t = 0; t < 2; t++) {
        free(p[t]);
        free(z[t]);
        free(stats_after[t]);
    }
    free(stats);
    free(x);
    sm_model_free(m);
}

/* One step's parameter gradients with act_grad first filled with `fill`
 * (grads zeroed, running statistics restored: the same step every time). */
static float *step_grads(sm_model *m, const float *stats, const float *x1, const float *x2, size_t n, float fill)
{
    for (int lane = 0; lane < 2; lane++)
        for (size_t i = 0; m->act_grad[lane] && i < m->act_grad_floats; i++) m->act_grad[lane][i] = fill;
    memcpy(m->stats, stats, m->n_stats * sizeof(float));
    sm_model_zero_grads(m);
    sm_model_step_loss(m, x1, x2, n, SM_LOSS_COSINE);
    return copy_floats(m->grads, m->n_params);
}

/* Activation gradients whose first writer sets them are never zeroed: stale
 * values, even NaN, must not reach the parameter gradients. */
static void test_backward_ignores_stale_activation_gradients(void **state)
{
    (void)state;
    sm_arch_kind archs[2] = {SM_ARCH_RESNET, SM_ARCH_MLP};
    for (int a = 0; a < 2; a++) {
        sm_model *m = tiny_model(archs[a], TINY_N, 12);
        float *x1 = random_images(m, TINY_N, 1), *x2 = random_images(m, TINY_N, 2);
        float *stats = copy_floats(m->stats, m->n_stats);
        float *clean = step_grads(m, stats, x1, x2, TINY_N, 0.0f);
        float *stale = step_grads(m, stats, x1, x2, TINY_N, NAN);
        assert_memory_equal(clean, stale, m->n_params * sizeof(float));
        free(clean);
        free(stale);
        free(stats);
        free(x1);
        free(x2);
        sm_model_free(m);
    }
}

/* A whole step's gradients (every backward, convolution dW chunks included)
 * are bitwise identical with 1 and 2 threads. */
static void test_step_gradients_bitwise_across_threads(void **state)
{
    (void)state;
    enum { N = 130 };
    int saved = sm_threads_get();
    sm_model *m = tiny_model(SM_ARCH_RESNET, N, 13);
    float *x1 = random_images(m, N, 3), *x2 = random_images(m, N, 4);
    float *stats = copy_floats(m->stats, m->n_stats);
    float *grads[2];
    for (int t = 0; t < 2; t++) {
        sm_threads_set(t + 1);
        grads[t] = step_grads(m, stats, x1, x2, N, 0.0f);
    }
    sm_threads_set(saved);
    assert_memory_equal(grads[0], grads[1], m->n_params * sizeof(float));
    free(grads[0]);
    free(grads[1]);
    free(stats);
    free(x1);
    free(x2);
    sm_model_free(m);
}

static int any_nonzero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 1;
    return 0;
}

/* Whole training steps (two predictor steps each) and a refit step on 1–4
 * threads: with two or more the views run side by side (3: two threads and
 * one, 4: two each, nested), and parameters, running statistics and
 * gradients come out the same bits as on one, where they take turns. */
static void test_train_steps_bitwise_across_threads(void **state)
{
    (void)state;
    enum { N = 24, RUNS = 4 };
    int saved = sm_threads_get();
    float *params[RUNS], *stats[RUNS], *grads[RUNS];
    float *x1 = NULL, *x2 = NULL;
    for (int r = 0; r < RUNS; r++) {
        sm_threads_set(RUNS); /* scratch for 4 threads, so 3 and 4 are not capped */
        sm_model *m = tiny_model(SM_ARCH_RESNET, N, 13);
        if (!x1) x1 = random_images(m, N, 5), x2 = random_images(m, N, 6);
        sm_threads_set(r + 1);
        sm_sgd_group g[2];
        sm_model_sgd_groups(m, g);
        for (int k = 0; k < 2; k++) g[k].lr = 0.05f, g[k].momentum = 0.9f, g[k].weight_decay = 1e-4f;
        for (int step = 0; step < 2; step++)
            assert_true(isfinite(sm_model_train_step(m, step ? x2 : x1, step ? x1 : x2, N, SM_LOSS_COSINE, g, 2)));
        assert_true(isfinite(sm_model_predictor_refit_loss(m, x1, x2, N, SM_LOSS_L2)));
        /* lane 1 is used exactly when the views run side by side */
        assert_int_equal(any_nonzero(m->act_grad[1], m->act_grad_floats), r > 0);
        params[r] = copy_floats(m->params, m->n_params);
        stats[r] = copy_floats(m->stats, m->n_stats);
        grads[r] = copy_floats(m->grads, m->n_params);
        if (r > 0) {
            assert_memory_equal(params[0], params[r], m->n_params * sizeof(float));
            assert_memory_equal(stats[0], stats[r], m->n_stats * sizeof(float));
            assert_memory_equal(grads[0], grads[r], m->n_params * sizeof(float));
        }
        sm_model_free(m);
    }
    sm_threads_set(saved);
    for (int r = 0; r < RUNS; r++) free(params[r]), free(stats[r]), free(grads[r]);
    free(x1);
    free(x2);
}

/* The tiny networks gain nothing from threads, and on a loaded machine the
 * thousands of short OpenMP regions of the finite-difference checks would
 * wait on descheduled threads: run on one, except where a test sets more. */
static int saved_threads;

static int one_thread(void **state)
{
    (void)state;
    saved_threads = sm_threads_get();
    sm_threads_set(1);
    return 0;
}

static int restore_threads(void **state)
{
    (void)state;
    sm_threads_set(saved_threads);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_count_resnet_small),
        cmocka_unit_test(test_value_storage_small),
        cmocka_unit_test(test_param_count_mlp_w16),
        cmocka_unit_test(test_alloc_rejects_bad_dimensions),
        cmocka_unit_test(test_init_is_seeded_and_matches_pytorch_defaults),
        cmocka_unit_test(test_gradient_through_z_and_p_resnet),
        cmocka_unit_test(test_gradient_through_z_and_p_mlp),
        cmocka_unit_test(test_step_loss_gradient_resnet_cosine),
        cmocka_unit_test(test_step_loss_gradient_mlp_gauss),
        cmocka_unit_test(test_stop_gradient),
        cmocka_unit_test(test_predictor_step_touches_only_predictor),
        cmocka_unit_test(test_refit_loss_gradient),
        cmocka_unit_test(test_init_predictor),
        cmocka_unit_test(test_eval_uses_running_stats),
        cmocka_unit_test(test_forward_bitwise_across_threads),
        cmocka_unit_test(test_backward_ignores_stale_activation_gradients),
        cmocka_unit_test(test_step_gradients_bitwise_across_threads),
        cmocka_unit_test(test_train_steps_bitwise_across_threads),
    };
    return cmocka_run_group_tests(tests, one_thread, restore_threads);
}
