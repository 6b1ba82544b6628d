#include "simsiam/model.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "dist/dist.h"
#include "nn/batchnorm.h"
#include "nn/gemm.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/residual.h"

/* The init stream id ("model" in ASCII), so other users of the same seed
 * (augmentation, sampling) draw different numbers. */
#define INIT_STREAM 0x6d6f64656cULL

/* Every activation region starts on a 64-byte boundary (SIMD loops). */
static size_t round_up_16(size_t n) { return (n + 15) / 16 * 16; }

/* ---- building the layer list ---------------------------------------- */

/* A feature map while building: tensor id and its c × h × w shape (vectors
 * are c × 1 × 1). */
typedef struct {
    int t;
    int c, h, w;
} fmap;

static size_t fmap_size(fmap x) { return (size_t)x.c * (size_t)x.h * (size_t)x.w; }

/* A new tensor written by the next op.  share >= 0: an in-place op's output,
 * stored over tensor `share`'s values.  Where its value and gradient are
 * stored is planned once the graph is built (plan_value_storage,
 * plan_grad_storage). */
static int new_tensor(sm_model *m, size_t size, int share, int has_grad)
{
    assert(m->n_tensors < SM_MODEL_MAX_TENSORS);
    sm_model_tensor *t = &m->tensors[m->n_tensors];
    t->size = size;
    t->producer = m->n_ops;
    t->alias = share;
    t->grad_set = 0; /* decided by plan_grad_writes */
    t->grad = has_grad ? 0 : SM_MODEL_NONE;
    return m->n_tensors++;
}

static size_t take_params(sm_model *m, size_t count)
{
    size_t offset = m->n_params;
    m->n_params += count;
    return offset;
}

static sm_model_op *new_op(sm_model *m, sm_model_op_kind kind, int in, int out)
{
    assert(m->n_ops < SM_MODEL_MAX_OPS);
    sm_model_op *op = &m->ops[m->n_ops++];
    *op = (sm_model_op){.kind = kind, .in = in, .in2 = -1, .out = out, .w = SM_MODEL_NONE,
                        .b = SM_MODEL_NONE, .stats = SM_MODEL_NONE, .save = SM_MODEL_NONE,
                        .map = SM_MODEL_NONE, .gmap = SM_MODEL_NONE, .dy_bn = -1};
    return op;
}

static fmap add_conv(sm_model *m, fmap x, int c_out, int k, int stride, int pad)
{
    sm_conv2d_shape s = {.n = 1, .c_in = x.c, .h_in = x.h, .w_in = x.w, .c_out = c_out,
                         .k = k, .stride = stride, .pad = pad};
    fmap y = {.c = c_out, .h = sm_conv2d_h_out(&s), .w = sm_conv2d_w_out(&s)};
    y.t = new_tensor(m, fmap_size(y), -1, 1);
    sm_model_op *op = new_op(m, SM_OP_CONV, x.t, y.t);
    op->conv = s;
    op->w = take_params(m, sm_conv2d_weight_count(&s));
    return y;
}

/* relu: the ReLU after the BN fused into it (nn/batchnorm.h). */
static fmap add_bn(sm_model *m, fmap x, int affine, int relu)
{
    fmap y = x;
    y.t = new_tensor(m, fmap_size(x), -1, 1);
    sm_model_op *op = new_op(m, SM_OP_BN, x.t, y.t);
    op->c = (size_t)x.c;
    op->hw = (size_t)x.h * (size_t)x.w;
    op->relu = relu;
    if (affine) {
        op->w = take_params(m, op->c);
        op->b = take_params(m, op->c);
    }
    op->stats = m->n_stats;
    m->n_stats += 2 * op->c;
    op->save = m->save_floats;
    m->save_floats += 2 * op->c;
    return y;
}

/* max(a + b, 0), stored over a unless a is mapped (its values are needed
 * by no backward). */
static fmap add_residual_relu(sm_model *m, fmap a, fmap b)
{
    assert(a.c == b.c && a.h == b.h && a.w == b.w);
    fmap y = a;
    y.t = new_tensor(m, fmap_size(a), a.t, 1);
    sm_model_op *op = new_op(m, SM_OP_ADD, a.t, y.t);
    op->in2 = b.t;
    op->c = (size_t)a.c;
    op->hw = (size_t)a.h * (size_t)a.w;
    op->relu = 1;
    return y;
}

static fmap add_pool(sm_model *m, fmap x)
{
    fmap y = {.c = x.c, .h = 1, .w = 1};
    y.t = new_tensor(m, (size_t)x.c, -1, 1);
    sm_model_op *op = new_op(m, SM_OP_POOL, x.t, y.t);
    op->c = (size_t)x.c;
    op->hw = (size_t)x.h * (size_t)x.w;
    return y;
}

/* Flattens x: a c × h × w image is c·h·w features in NCHW order. */
static fmap add_linear(sm_model *m, fmap x, int n_out, int bias)
{
    fmap y = {.c = n_out, .h = 1, .w = 1};
    y.t = new_tensor(m, (size_t)n_out, -1, 1);
    sm_model_op *op = new_op(m, SM_OP_LINEAR, x.t, y.t);
    op->n_in = fmap_size(x);
    op->n_out = (size_t)n_out;
    op->w = take_params(m, op->n_in * op->n_out);
    if (bias) op->b = take_params(m, op->n_out);
    return y;
}

static fmap add_conv_bn(sm_model *m, fmap x, int c_out, int k, int stride, int relu)
{
    return add_bn(m, add_conv(m, x, c_out, k, stride, k / 2), 1, relu);
}

static fmap add_basic_block(sm_model *m, fmap x, int c_out, int stride)
{
    fmap h = add_conv_bn(m, x, c_out, 3, stride, 1);
    h = add_conv_bn(m, h, c_out, 3, 1, 0);
    fmap shortcut = (stride != 1 || c_out != x.c) ? add_conv_bn(m, x, c_out, 1, stride, 0) : x;
    return add_residual_relu(m, h, shortcut);
}

static fmap add_linear_bn_relu(sm_model *m, fmap x, int n_out)
{
    return add_bn(m, add_linear(m, x, n_out, 0), 1, 1);
}

static fmap add_encoder(sm_model *m, sm_arch_kind arch, fmap x, int width, int stem_stride)
{
    if (arch == SM_ARCH_MLP) {
        fmap h = add_linear_bn_relu(m, x, 16 * width);
        return add_linear_bn_relu(m, h, 16 * width);
    }
    fmap h = add_conv_bn(m, x, width, 3, stem_stride, 1);
    h = add_basic_block(m, h, width, 1);
    h = add_basic_block(m, h, 2 * width, 2);
    h = add_basic_block(m, h, 4 * width, 2);
    return add_pool(m, h);
}

/* Kinds whose backward can set its input gradients instead of adding. */
static int can_set_grad(sm_model_op_kind kind)
{
    return kind == SM_OP_BN || kind == SM_OP_ADD || kind == SM_OP_CONV;
}

/* The op that writes tensor t's gradient first in a backward pass, i.e. its
 * last consumer; n_ops for z and p, whose gradients the caller starts
 * before the pass (p has no consumer, z gets ∂L/∂z added). */
static void first_grad_writers(const sm_model *m, int first_writer[SM_MODEL_MAX_TENSORS],
                               int slot[SM_MODEL_MAX_TENSORS])
{
    for (int t = 0; t < m->n_tensors; t++) first_writer[t] = m->n_ops, slot[t] = -1;
    for (int i = 0; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        assert(op->in != op->in2);
        first_writer[op->in] = i, slot[op->in] = 0;
        if (op->in2 >= 0) first_writer[op->in2] = i, slot[op->in2] = 1;
    }
    first_writer[m->t_z] = m->n_ops, slot[m->t_z] = -1;
}

/* Marks how each gradient's first writer starts it: set (=) by a BN, ReLU
 * or residual backward (sets_grad), else zeroed just before that op adds
 * into it (zeroes_grad).  z and p are zeroed by begin_backward. */
static void plan_grad_writes(sm_model *m, const int first_writer[], const int slot[])
{
    for (int t = 0; t < m->n_tensors; t++) {
        if (slot[t] < 0 || m->tensors[t].grad == SM_MODEL_NONE) continue;
        sm_model_op *op = &m->ops[first_writer[t]];
        int set = can_set_grad(op->kind);
        op->sets_grad[slot[t]] = set;
        op->zeroes_grad[slot[t]] = !set;
        m->tensors[t].grad_set = set;
    }
}

/* Whether BN op i may hand the convolution before it its input gradient
 * as a map (model.h, gmap): a 2-D BN whose input is a convolution's output
 * read by it alone, and which sets that gradient. */
static int grad_map_candidate(const sm_model *m, int i)
{
    const sm_model_op *bn = &m->ops[i];
    if (bn->kind != SM_OP_BN || bn->hw == 1 || !bn->sets_grad[0]) return 0;
    const int producer = m->tensors[bn->in].producer;
    if (producer < 0 || m->ops[producer].kind != SM_OP_CONV) return 0;
    for (int j = 0; j < m->n_ops; j++)
        if (j != i && (m->ops[j].in == bn->in || m->ops[j].in2 == bn->in)) return 0;
    return 1;
}

/* gmap and dy_bn (model.h) for every candidate. */
static void plan_grad_maps(sm_model *m)
{
    for (int i = 0; i < m->n_ops; i++) {
        if (!grad_map_candidate(m, i)) continue;
        sm_model_op *bn = &m->ops[i];
        bn->gmap = m->save_floats;
        m->save_floats += 6 * bn->c;
        m->ops[m->tensors[bn->in].producer].dy_bn = i;
    }
}

/* A stretch of storage wanted from op `from` to op `to` (closed: the ends'
 * ops read or write it), placed at `offset`. */
typedef struct {
    int tensor, from, to;
    size_t floats, offset;
} span;

/* Places spans whose op intervals overlap at disjoint offsets, largest
 * first, each at the lowest offset that fits (first fit); spans live at
 * different times may share floats.  Returns the floats they need. */
static size_t pack_spans(span *spans, int count)
{
    for (int i = 1; i < count; i++) /* insertion sort: larger first, then lower tensor id */
        for (int j = i; j > 0 && spans[j].floats > spans[j - 1].floats; j--) {
            span tmp = spans[j];
            spans[j] = spans[j - 1], spans[j - 1] = tmp;
        }
    size_t end = 0;
    for (int i = 0; i < count; i++) {
        span *s = &spans[i];
        s->offset = 0;
        for (int moved = 1; moved;) { /* bump past every conflicting placed span */
            moved = 0;
            for (int j = 0; j < i; j++) {
                const span *u = &spans[j];
                if (u->from <= s->to && s->from <= u->to && s->offset < u->offset + u->floats &&
                    u->offset < s->offset + s->floats)
                    s->offset = u->offset + u->floats, moved = 1;
            }
        }
        if (s->offset + s->floats > end) end = s->offset + s->floats;
    }
    return end;
}

static size_t region_floats(const sm_model *m, int t) { return round_up_16(m->max_batch * m->tensors[t].size); }

/* The BN op with a gradient map (gmap) that reads tensor t, or NULL. */
static const sm_model_op *grad_map_reader(const sm_model *m, int t)
{
    const int producer = m->tensors[t].producer;
    if (producer < 0 || m->ops[producer].kind != SM_OP_CONV || m->ops[producer].dy_bn < 0) return NULL;
    return &m->ops[m->ops[producer].dy_bn];
}

/* Places every activation gradient in act_grad: in backward order a
 * gradient lives from its first writer down to its producer, which reads it
 * (an op's dy and dx must not share storage).  A BN with a gradient map
 * (gmap) is the exception: its output gradient lives on down to the
 * convolution before it, which may read it through the map, and its input
 * gradient, where the BN writes one, shares that storage (the BN's
 * backward runs in place: each dx from its own dy, after the sums).  A
 * backward pass holds only a few maps at a time, so this needs a fraction
 * of one region per tensor. */
static void plan_grad_storage(sm_model *m, const int first_writer[])
{
    span spans[SM_MODEL_MAX_TENSORS];
    int count = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        if (m->tensors[t].grad == SM_MODEL_NONE || grad_map_reader(m, t)) continue;
        int reader = m->tensors[t].producer;
        if (reader >= 0 && m->ops[reader].gmap != SM_MODEL_NONE) reader = m->tensors[m->ops[reader].in].producer;
        spans[count++] = (span){t, reader, first_writer[t], region_floats(m, t), 0};
    }
    m->act_grad_floats = pack_spans(spans, count);
    for (int i = 0; i < count; i++) m->tensors[spans[i].tensor].grad = spans[i].offset;
    for (int t = 0; t < m->n_tensors; t++) {
        const sm_model_op *bn = m->tensors[t].grad == SM_MODEL_NONE ? NULL : grad_map_reader(m, t);
        if (bn) m->tensors[t].grad = m->tensors[bn->out].grad;
    }
}

/* Whether tensor t is mapped (model.h): a BN's output map read only by
 * convolutions and residual adds, which read the BN's input through its map
 * (and whose backward passes read no values of it). */
static int mapped(const sm_model *m, int t)
{
    const int producer = m->tensors[t].producer;
    if (producer < 0 || m->ops[producer].kind != SM_OP_BN || m->ops[producer].hw == 1) return 0;
    for (int i = producer + 1; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if ((op->in == t || op->in2 == t) && op->kind != SM_OP_CONV && op->kind != SM_OP_ADD) return 0;
    }
    return 1;
}

/* Values: a region each, in order; in-place outputs over their input's,
 * unless that is mapped; mapped tensors none, but their BN keeps its map
 * (3c floats) in save[v] + map. */
static void plan_value_storage(sm_model *m)
{
    m->act_floats = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        sm_model_tensor *x = &m->tensors[t];
        x->mapped = mapped(m, t);
        if (x->mapped) {
            sm_model_op *bn = &m->ops[x->producer];
            x->value = SM_MODEL_NONE;
            bn->map = m->save_floats;
            m->save_floats += 3 * bn->c;
        } else if (x->alias >= 0 && !m->tensors[x->alias].mapped) {
            x->value = m->tensors[x->alias].value;
        } else {
            x->alias = -1;
            x->value = m->act_floats;
            m->act_floats += region_floats(m, t);
        }
    }
}

static void build(sm_model *m, const sm_config *cfg)
{
    fmap x = {.c = (int)m->in_c, .h = (int)m->in_h, .w = (int)m->in_w};
    x.t = new_tensor(m, fmap_size(x), -1, 0);
    m->tensors[x.t].producer = -1; /* given, not computed: no backward reaches it */
    m->t_input = x.t;
    fmap f = add_encoder(m, cfg->arch, x, (int)cfg->width, (int)cfg->stem_stride);
    m->t_f = f.t;
    fmap h = add_linear_bn_relu(m, f, (int)cfg->proj_hidden);
    h = add_linear_bn_relu(m, h, (int)cfg->proj_hidden);
    fmap z = add_bn(m, add_linear(m, h, (int)cfg->z_dim, 0), 0, 0);
    m->t_z = z.t;
    m->n_backbone = m->n_params;
    m->op_pred = m->n_ops;
    h = add_linear_bn_relu(m, z, (int)cfg->pred_hidden);
    m->t_p = add_linear(m, h, (int)cfg->z_dim, 1).t;
    m->features = (size_t)f.c;
    int first_writer[SM_MODEL_MAX_TENSORS], slot[SM_MODEL_MAX_TENSORS];
    first_grad_writers(m, first_writer, slot);
    plan_grad_writes(m, first_writer, slot);
    plan_grad_maps(m);
    plan_grad_storage(m, first_writer);
    plan_value_storage(m);
}

/* ---- allocation ------------------------------------------------------ */

/* Dimensions must be positive and small enough for the layers' int shapes
 * (4w channels, 16w features, C·H·W inputs). */
static int check_dims(const sm_config *cfg, int c, int h, int w, size_t max_batch, sm_status *st)
{
    const long limit = INT_MAX / 16;
    const long dims[] = {cfg->width, cfg->proj_hidden, cfg->z_dim, cfg->pred_hidden};
    const char *names[] = {"width", "proj_hidden", "z_dim", "pred_hidden"};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
        if (dims[i] < 1 || dims[i] > limit)
            return sm_status_fail(st, SM_ERR_USAGE, "model", "%s must be in [1, %ld], got %ld", names[i],
                                  limit, dims[i]);
    if (c < 1 || h < 1 || w < 1 || (size_t)c * (size_t)h * (size_t)w > (size_t)SM_DATASET_MAX_IMAGE)
        return sm_status_fail(st, SM_ERR_USAGE, "model", "bad input shape %d x %d x %d", c, h, w);
    if (max_batch < 1 || max_batch > INT_MAX) /* conv2d counts images in an int */
        return sm_status_fail(st, SM_ERR_USAGE, "model", "max_batch must be in [1, %d], got %zu", INT_MAX,
                              max_batch);
    return SM_OK;
}

static size_t conv_scratch_floats(const sm_model *m)
{
    size_t most = 0;
    for (int i = 0; i < m->n_ops; i++) {
        if (m->ops[i].kind != SM_OP_CONV) continue;
        sm_conv2d_shape s = m->ops[i].conv;
        s.n = (int)m->max_batch;
        size_t need = sm_conv2d_scratch_floats(&s, m->scratch_threads);
        if (need > most) most = need;
    }
    return most;
}

/* The second lane (act_grad[1], scratch[1]: the views side by side) only
 * where there are two cores or more to run them. */
static int alloc_buffers(sm_model *m, sm_status *st)
{
    const int lanes = m->scratch_threads >= 2 ? 2 : 1;
    float **bufs[] = {&m->params, &m->grads, &m->view_grads, &m->momentum, &m->stats, &m->act[0], &m->act[1],
                      &m->save[0], &m->save[1], &m->act_grad[0], &m->scratch[0], &m->act_grad[1], &m->scratch[1]};
    size_t counts[] = {m->n_params, m->n_params, m->n_params, m->n_params, m->n_stats, m->act_floats,
                       m->act_floats, m->save_floats, m->save_floats, m->act_grad_floats, conv_scratch_floats(m),
                       m->act_grad_floats, conv_scratch_floats(m)};
    const size_t n_bufs = sizeof bufs / sizeof *bufs - (lanes == 1 ? 2 : 0);
    for (size_t i = 0; i < n_bufs; i++) {
        *bufs[i] = sm_mem_alloc_aligned(counts[i], sizeof(float), st);
        if (!*bufs[i]) return st ? st->code : SM_ERR_DATA;
    }
    m->bn_defer = sm_mem_alloc(m->n_stats, sizeof(double), st);
    return m->bn_defer ? SM_OK : (st ? st->code : SM_ERR_DATA);
}

/* Everything about m that follows from the configuration and the image
 * shape, with no buffer allocated: the dimensions checked, then the layer
 * plan with every offset and count.  sm_model_alloc and sm_model_counts
 * both start here, so the sizes a checkpoint is checked against are those
 * of the network that would be built. */
static int plan(sm_model *m, const sm_config *cfg, int c, int h, int w, size_t max_batch, sm_status *st)
{
    int rc = check_dims(cfg, c, h, w, max_batch, st);
    if (rc) return rc;
    m->arch = cfg->arch;
    m->in_c = (size_t)c;
    m->in_h = (size_t)h;
    m->in_w = (size_t)w;
    m->z_dim = (size_t)cfg->z_dim;
    m->max_batch = max_batch;
    build(m, cfg);
    return SM_OK;
}

sm_model *sm_model_alloc(const sm_config *cfg, int c, int h, int w, size_t max_batch, sm_status *st)
{
    assert(cfg);
    sm_model *m = sm_mem_alloc(1, sizeof *m, st);
    if (!m) return NULL;
    /* Sized for every core, so a later sm_threads_set cannot outgrow it. */
    int avail = sm_threads_available(), now = sm_threads_get();
    m->scratch_threads = avail > now ? avail : now;
    if (plan(m, cfg, c, h, w, max_batch, st) || alloc_buffers(m, st)) {
        sm_model_free(m);
        return NULL;
    }
    return m;
}

int sm_model_counts(const sm_config *cfg, int c, int h, int w, size_t *n_params, size_t *n_stats, sm_status *st)
{
    assert(cfg);
    sm_model m = {0};
    int rc = plan(&m, cfg, c, h, w, 1, st);
    *n_params = rc ? 0 : m.n_params;
    *n_stats = rc ? 0 : m.n_stats;
    return rc;
}

void sm_model_free(sm_model *m)
{
    if (!m) return;
    float *bufs[] = {m->params, m->grads, m->view_grads, m->momentum, m->stats, m->act[0], m->act[1],
                     m->save[0], m->save[1], m->act_grad[0], m->scratch[0], m->act_grad[1], m->scratch[1]};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) sm_mem_free(bufs[i]);
    sm_mem_free(m->bn_defer);
    sm_mem_free(m->sync);
    sm_mem_free(m);
}

int sm_model_sync(sm_model *m, sm_status *st)
{
    size_t c = 0;
    for (int i = 0; i < m->n_ops; i++)
        if (m->ops[i].kind == SM_OP_BN && m->ops[i].c > c) c = m->ops[i].c;
    m->sync = sm_mem_alloc(sm_batchnorm_sync_work(c), sizeof(double), st);
    return m->sync ? SM_OK : (st ? st->code : SM_ERR_DATA);
}

/* ---- initialisation and groups --------------------------------------- */

static size_t op_fan_in(const sm_model_op *op)
{
    if (op->kind == SM_OP_LINEAR) return op->n_in;
    return (size_t)op->conv.c_in * (size_t)op->conv.k * (size_t)op->conv.k;
}

/* PyTorch's default initialisation of the ops from `first` on, drawn in
 * layer order from one stream of seed; their gradients and momentum zeroed. */
static void init_ops(sm_model *m, uint64_t seed, int first)
{
    sm_rng rng;
    sm_rng_seed(&rng, seed, INIT_STREAM);
    for (int i = first; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_CONV) {
            sm_init_kaiming_uniform(m->params + op->w, sm_conv2d_weight_count(&op->conv), op_fan_in(op), &rng);
        } else if (op->kind == SM_OP_LINEAR) {
            sm_init_kaiming_uniform(m->params + op->w, op->n_in * op->n_out, op_fan_in(op), &rng);
            if (op->b != SM_MODEL_NONE) sm_init_kaiming_uniform(m->params + op->b, op->n_out, op_fan_in(op), &rng);
        } else if (op->kind == SM_OP_BN) {
            float *gamma = op->w == SM_MODEL_NONE ? NULL : m->params + op->w;
            float *beta = op->b == SM_MODEL_NONE ? NULL : m->params + op->b;
            sm_batchnorm_init(op->c, gamma, beta, m->stats + op->stats, m->stats + op->stats + op->c);
        }
    }
    size_t from = first == 0 ? 0 : m->n_backbone;
    memset(m->grads + from, 0, (m->n_params - from) * sizeof(float));
    memset(m->momentum + from, 0, (m->n_params - from) * sizeof(float));
    m->fwd_n[0] = m->fwd_n[1] = 0;
}

void sm_model_init(sm_model *m, uint64_t seed) { init_ops(m, seed, 0); }

void sm_model_init_predictor(sm_model *m, uint64_t seed) { init_ops(m, seed, m->op_pred); }

void sm_model_zero_grads(sm_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

int sm_model_find_non_finite(const sm_model *m, const char **array, size_t *index)
{
    const char *names[] = {"params", "momentum", "bn_stats"};
    const float *arrays[] = {m->params, m->momentum, m->stats};
    const size_t counts[] = {m->n_params, m->n_params, m->n_stats};
    for (size_t a = 0; a < sizeof names / sizeof *names; a++)
        for (size_t i = 0; i < counts[a]; i++)
            if (!isfinite(arrays[a][i])) {
                *array = names[a], *index = i;
                return 1;
            }
    return 0;
}

void sm_model_sgd_groups(const sm_model *m, sm_sgd_group groups[2])
{
    groups[0] = (sm_sgd_group){.offset = 0, .count = m->n_backbone};
    groups[1] = (sm_sgd_group){.offset = m->n_backbone, .count = m->n_params - m->n_backbone};
}

/* ---- running the layer list ------------------------------------------ */

/* Where one view's pass works: its activations (view v), activation
 * gradients and convolution scratch (lane 0, or 1 for view 1 while the other
 * view runs beside it), the parameter gradients it adds into, and NULL or
 * where BatchNorm defers its running moves (n_stats doubles, at each BN's
 * stats offset). */
typedef struct {
    sm_model *m;
    int v;
    float *act_grad, *scratch, *grads;
    double *defer;
} view_pass;

/* A single view's pass (the public calls): lane 0, straight into grads. */
static view_pass solo_pass(sm_model *m, int v)
{
    return (view_pass){m, v, m->act_grad[0], m->scratch[0], m->grads, NULL};
}

/* View v's half of a paired pass (both views, for_each_view): view 1 adds
 * into view_grads and defers its running moves, which for_each_view applies
 * after view 0's, whether the halves ran side by side or not. */
static view_pass paired_pass(sm_model *m, int v, int lane)
{
    return (view_pass){m, v, m->act_grad[lane], m->scratch[lane], v ? m->view_grads : m->grads,
                       v ? m->bn_defer : NULL};
}

static float *value(sm_model *m, int v, int t)
{
    assert(!m->tensors[t].mapped);
    return m->act[v] + m->tensors[t].value;
}

static float *grad_of(const view_pass *p, int t)
{
    size_t g = p->m->tensors[t].grad;
    return g == SM_MODEL_NONE ? NULL : p->act_grad + g;
}

static float *param(sm_model *m, size_t offset) { return offset == SM_MODEL_NONE ? NULL : m->params + offset; }
static float *param_grad(const view_pass *p, size_t offset)
{
    return offset == SM_MODEL_NONE ? NULL : p->grads + offset;
}

static int conv_threads(const sm_model *m)
{
    int t = sm_threads_get();
    return t < m->scratch_threads ? t : m->scratch_threads;
}

/* What an op reads of tensor t: its values, or for a mapped tensor its
 * BN's input, with *use set to the BN's map (NULL otherwise).  A forward
 * reads the map its BN has just made; a backward (remake) makes the
 * training forward's map again from the saved statistics, since an
 * inference pass of the view may have replaced it since. */
static const float *read_through(const view_pass *p, int t, int remake, sm_channel_map *map,
                                 const sm_channel_map **use)
{
    sm_model *m = p->m;
    *use = NULL;
    if (!m->tensors[t].mapped) return value(m, p->v, t);
    const sm_model_op *bn = &m->ops[m->tensors[t].producer];
    const float *save = m->save[p->v] + bn->save;
    float *stored = m->save[p->v] + bn->map;
    if (remake)
        *map = sm_batchnorm_map_saved(bn->c, param(m, bn->w), param(m, bn->b), bn->relu, save, save + bn->c, stored);
    else
        *map = (sm_channel_map){stored, stored + bn->c, stored + 2 * bn->c, bn->relu};
    *use = map;
    return value(m, p->v, bn->in);
}

/* BN op's forward; for a mapped output only its statistics (training) and
 * its map, which the convolutions and adds reading the output apply
 * themselves. */
static void bn_forward(const view_pass *p, const sm_model_op *op, size_t n, int train)
{
    sm_model *m = p->m;
    const float *x = value(m, p->v, op->in);
    const int read_through_map = m->tensors[op->out].mapped;
    float *y = read_through_map ? NULL : value(m, p->v, op->out);
    float *mean = m->stats + op->stats, *var = mean + op->c, *save = m->save[p->v] + op->save;
    float *map = read_through_map ? m->save[p->v] + op->map : NULL;
    double *defer = p->defer ? p->defer + op->stats : NULL;
    if (train) {
        sm_batchnorm_forward_train_sync(n, op->c, op->hw, x, param(m, op->w), param(m, op->b), op->relu, y, save,
                                        save + op->c, defer ? NULL : mean, defer ? NULL : var, defer, m->sync);
        if (map) sm_batchnorm_map_saved(op->c, param(m, op->w), param(m, op->b), op->relu, save, save + op->c, map);
    } else if (map) {
        sm_batchnorm_map_eval(op->c, param(m, op->w), param(m, op->b), op->relu, mean, var, map);
    } else {
        sm_batchnorm_forward_eval(n, op->c, op->hw, x, param(m, op->w), param(m, op->b), op->relu, mean, var, y);
    }
}

static void op_forward(const view_pass *p, const sm_model_op *op, size_t n, int train)
{
    sm_model *m = p->m;
    sm_channel_map maps[2];
    const sm_channel_map *use[2];
    switch (op->kind) {
    case SM_OP_BN:
        bn_forward(p, op, n, train);
        break;
    case SM_OP_CONV: {
        const float *x = read_through(p, op->in, 0, &maps[0], &use[0]);
        sm_conv2d_shape s = op->conv;
        s.n = (int)n;
        sm_conv2d_forward(&s, x, use[0], m->params + op->w, value(m, p->v, op->out), p->scratch, conv_threads(m));
        break;
    }
    case SM_OP_ADD: {
        const float *a = read_through(p, op->in, 0, &maps[0], &use[0]);
        const float *b = read_through(p, op->in2, 0, &maps[1], &use[1]);
        sm_residual_forward(n, op->c, op->hw, a, use[0], b, use[1], op->relu, value(m, p->v, op->out));
        break;
    }
    case SM_OP_POOL:
        sm_pool_forward(n, op->c, op->hw, value(m, p->v, op->in), value(m, p->v, op->out));
        break;
    case SM_OP_LINEAR:
        sm_linear_forward(n, op->n_in, op->n_out, value(m, p->v, op->in), m->params + op->w, param(m, op->b),
                          value(m, p->v, op->out));
        break;
    }
}

/* Gradient of tensor t if the backward pass starting at op `first` reaches
 * it; NULL for the input images and, in a predictor-only pass, for z. */
static float *input_grad(const view_pass *p, int t, int first)
{
    return p->m->tensors[t].producer >= first ? grad_of(p, t) : NULL;
}

/* Whether BN op bn hands the convolution before it its input gradient as
 * a map in this pass: planned (gmap), and that convolution's backward takes
 * one here (it pads dy for the direct kernels, with or without dx). */
static int grad_mapped(const view_pass *p, const sm_model_op *bn, int first)
{
    if (bn->gmap == SM_MODEL_NONE || !input_grad(p, bn->in, first)) return 0;
    const sm_model_op *conv = &p->m->ops[p->m->tensors[bn->in].producer];
    return sm_conv2d_backward_takes_dy_map(&conv->conv, input_grad(p, conv->in, first) != NULL);
}

static void op_backward(const view_pass *p, const sm_model_op *op, size_t n, int first)
{
    sm_model *m = p->m;
    const float *dy = grad_of(p, op->out);
    float *dx = input_grad(p, op->in, first);
    switch (op->kind) {
    case SM_OP_CONV: {
        sm_channel_map map;
        const sm_channel_map *use;
        const float *x = read_through(p, op->in, 1, &map, &use);
        const sm_model_op *bn = op->dy_bn >= 0 ? &m->ops[op->dy_bn] : NULL;
        sm_grad_map map_of_dy;
        const sm_grad_map *dy_map = NULL;
        if (bn && grad_mapped(p, bn, first)) { /* dy through the BN's map, from the BN's output gradient */
            map_of_dy = sm_batchnorm_grad_map(bn->c, bn->relu, m->save[p->v] + bn->gmap, value(m, p->v, bn->in));
            dy_map = &map_of_dy;
            dy = grad_of(p, bn->out);
        }
        sm_conv2d_shape s = op->conv;
        s.n = (int)n;
        sm_conv2d_backward(&s, x, use, m->params + op->w, dy, dy_map, dx, !op->sets_grad[0], p->grads + op->w,
                           p->scratch, conv_threads(m));
        break;
    }
    case SM_OP_BN: {
        const float *save = m->save[p->v] + op->save;
        if (grad_mapped(p, op, first)) {
            sm_batchnorm_backward_map_sync(n, op->c, op->hw, value(m, p->v, op->in), param(m, op->w),
                                           param(m, op->b), op->relu, save, save + op->c, dy, param_grad(p, op->w),
                                           param_grad(p, op->b), m->sync, m->save[p->v] + op->gmap);
            break;
        }
        assert(dx);
        sm_batchnorm_backward_sync(n, op->c, op->hw, value(m, p->v, op->in), param(m, op->w), param(m, op->b),
                                   op->relu, save, save + op->c, dy, dx, !op->sets_grad[0], param_grad(p, op->w),
                                   param_grad(p, op->b), m->sync);
        break;
    }
    case SM_OP_ADD:
        assert(dx);
        sm_residual_backward(n * m->tensors[op->out].size, op->relu ? value(m, p->v, op->out) : NULL, dy, dx,
                             !op->sets_grad[0], input_grad(p, op->in2, first), !op->sets_grad[1]);
        break;
    case SM_OP_POOL:
        assert(dx);
        sm_pool_backward(n, op->c, op->hw, dy, dx);
        break;
    case SM_OP_LINEAR:
        sm_linear_backward(n, op->n_in, op->n_out, value(m, p->v, op->in), m->params + op->w, dy, dx,
                           p->grads + op->w, param_grad(p, op->b));
        break;
    }
}

/* Ops [first, n_ops) of the pass's view, those before train_from in
 * inference mode, the rest in training mode. */
static void run_forward(const view_pass *p, size_t n, int first, int train_from)
{
    for (int i = first; i < p->m->n_ops; i++) op_forward(p, &p->m->ops[i], n, i >= train_from);
}

/* Zero the gradients of z and p (those from `first` on), ready for the caller
 * to add ∂L/∂p (and ∂L/∂z) before run_backward; every other gradient is
 * started by its first writer (plan_grad_writes). */
static void begin_backward(const view_pass *p, size_t n, int first)
{
    const sm_model *m = p->m;
    const int live[] = {m->t_z, m->t_p};
    for (size_t i = 0; i < sizeof live / sizeof *live; i++)
        if (m->tensors[live[i]].producer >= first)
            memset(grad_of(p, live[i]), 0, n * m->tensors[live[i]].size * sizeof(float));
}

/* The input gradients op i adds into are zeroed first: they share storage
 * with gradients that are dead by now. */
static void zero_first_writes(const view_pass *p, const sm_model_op *op, size_t n, int first)
{
    const int in[2] = {op->in, op->in2};
    for (int s = 0; s < 2; s++) {
        float *g = op->zeroes_grad[s] ? input_grad(p, in[s], first) : NULL;
        if (g) memset(g, 0, n * p->m->tensors[in[s]].size * sizeof(float));
    }
}

static void run_backward(const view_pass *p, size_t n, int first)
{
    for (int i = p->m->n_ops - 1; i >= first; i--) {
        zero_first_writes(p, &p->m->ops[i], n, first);
        op_backward(p, &p->m->ops[i], n, first);
    }
}

static void check_view(const sm_model *m, int v, size_t n)
{
    assert(v == 0 || v == 1);
    assert(n >= 1 && n <= m->max_batch);
    (void)m, (void)v, (void)n;
}

/* ---- the two views together ------------------------------------------ */

static void add_into(float *dst, const float *src, size_t count)
{
    for (size_t i = 0; i < count; i++) dst[i] += src[i];
}

/* What a paired pass does to each view: a forward of ops [first, n_ops)
 * (training mode from train_from on) after copying x[v] in unless NULL, or
 * the symmetric loss's stop-gradient backward through the ops from first. */
typedef struct {
    const float *x[2];
    size_t n;
    int first, train_from, backward;
    sm_loss_kind loss;
} pair_job;

static void run_view(const view_pass *p, const pair_job *job)
{
    sm_model *m = p->m;
    const int v = p->v;
    if (!job->backward) {
        const size_t in_floats = job->n * m->tensors[m->t_input].size;
        if (job->x[v]) memcpy(value(m, v, m->t_input), job->x[v], in_floats * sizeof(float));
        run_forward(p, job->n, job->first, job->train_from);
        return;
    }
    begin_backward(p, job->n, job->first);
    sm_loss_backward(job->loss, job->n, m->z_dim, value(m, v, m->t_p), value(m, 1 - v, m->t_z), 0.5f,
                     grad_of(p, m->t_p));
    run_backward(p, job->n, job->first);
}

/* Parameters a backward from op `first` (0 or op_pred) reaches: from this one on. */
static size_t first_param(const sm_model *m, int first)
{
    assert(first == 0 || first == m->op_pred);
    return first == 0 ? 0 : m->n_backbone;
}

/* The views' halves run side by side (half the threads each) when there are
 * two threads or more, a second lane and no SyncBN, whose collective calls
 * must come in the same order on every process; otherwise one after the
 * other on lane 0.  OpenBLAS is pinned to one thread around them (nn/gemm.h),
 * so neither half's sgemm starts threads of its own.  Then view 1's deferred
 * running moves follow view 0's, and its parameter gradients are added into
 * grads: the same bits for either schedule, hence for any thread count. */
static void for_each_view(sm_model *m, const pair_job *job)
{
    const int threads = conv_threads(m), side_by_side = threads >= 2 && m->act_grad[1] && !m->sync;
    const size_t from = first_param(m, job->first);
    if (job->backward) memset(m->view_grads + from, 0, (m->n_params - from) * sizeof(float));
    if (!side_by_side) {
        for (int v = 0; v < 2; v++) {
            view_pass p = paired_pass(m, v, 0);
            run_view(&p, job);
        }
    } else {
        const int share[2] = {(threads + 1) / 2, threads / 2};
        int saved_blas = sm_gemm_pin_blas(), saved_levels = omp_get_max_active_levels();
        omp_set_max_active_levels(2);
#pragma omp parallel num_threads(2)
        {
            const int team = omp_get_num_threads();
            for (int v = omp_get_thread_num(); v < 2; v += team) {
                omp_set_num_threads(share[v]);
                view_pass p = paired_pass(m, v, team == 2 ? v : 0);
                run_view(&p, job);
            }
        }
        omp_set_max_active_levels(saved_levels);
        sm_gemm_restore_blas(saved_blas);
    }
    if (job->backward) {
        add_into(m->grads + from, m->view_grads + from, m->n_params - from);
        return;
    }
    const int moved_from = job->first > job->train_from ? job->first : job->train_from;
    for (int i = moved_from; i < m->n_ops; i++) {
        const sm_model_op *op = &m->ops[i];
        if (op->kind == SM_OP_BN)
            sm_batchnorm_move_running(op->c, m->bn_defer + op->stats, m->stats + op->stats,
                                      m->stats + op->stats + op->c);
    }
}

/* ½ D(p1, z2) + ½ D(p2, z1) from both views' current values, and its
 * stop-gradient backward through the ops from `first` on. */
static double symmetric_loss_backward(sm_model *m, size_t n, sm_loss_kind loss, int first)
{
    const size_t d = m->z_dim;
    const float *z[2] = {value(m, 0, m->t_z), value(m, 1, m->t_z)};
    const float *p[2] = {value(m, 0, m->t_p), value(m, 1, m->t_p)};
    double total = 0.5 * sm_loss_forward(loss, n, d, p[0], z[1]) + 0.5 * sm_loss_forward(loss, n, d, p[1], z[0]);
    for_each_view(m, &(pair_job){.n = n, .first = first, .backward = 1, .loss = loss});
    return total;
}

/* Both views' training forwards (fwd_n set): x[v] copied in unless NULL, ops
 * from `first` on, inference mode before train_from. */
static void paired_forward(sm_model *m, const float *x1, const float *x2, size_t n, int first, int train_from)
{
    for (int v = 0; v < 2; v++) {
        check_view(m, v, n);
        assert(n >= 2);
    }
    for_each_view(m, &(pair_job){.x = {x1, x2}, .n = n, .first = first, .train_from = train_from});
    m->fwd_n[0] = m->fwd_n[1] = n;
}

/* ---- public passes --------------------------------------------------- */

void sm_model_forward(sm_model *m, int v, const float *x, size_t n, sm_model_mode mode,
                      sm_model_outputs *out)
{
    check_view(m, v, n);
    assert(mode == SM_MODEL_EVAL || n >= 2); /* batch statistics need two samples */
    memcpy(value(m, v, m->t_input), x, n * m->tensors[m->t_input].size * sizeof(float));
    view_pass p = solo_pass(m, v);
    run_forward(&p, n, 0, mode == SM_MODEL_TRAIN ? 0 : m->n_ops);
    m->fwd_n[v] = mode == SM_MODEL_TRAIN ? n : 0;
    if (out) *out = (sm_model_outputs){value(m, v, m->t_f), value(m, v, m->t_z), value(m, v, m->t_p)};
}

void sm_model_backward(sm_model *m, int v, size_t n, const float *dz, const float *dp)
{
    check_view(m, v, n);
    assert(m->fwd_n[v] == n);
    view_pass p = solo_pass(m, v);
    begin_backward(&p, n, 0);
    if (dz) add_into(grad_of(&p, m->t_z), dz, n * m->z_dim);
    if (dp) add_into(grad_of(&p, m->t_p), dp, n * m->z_dim);
    run_backward(&p, n, 0);
}

double sm_model_step_loss(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss)
{
    paired_forward(m, x1, x2, n, 0, 0);
    return symmetric_loss_backward(m, n, loss, 0);
}

double sm_model_predictor_step_loss(sm_model *m, size_t n, sm_loss_kind loss)
{
    assert(m->fwd_n[0] == n && m->fwd_n[1] == n);
    paired_forward(m, NULL, NULL, n, m->op_pred, m->op_pred);
    return symmetric_loss_backward(m, n, loss, m->op_pred);
}

double sm_model_predictor_refit_loss(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss)
{
    paired_forward(m, x1, x2, n, 0, m->op_pred);
    return symmetric_loss_backward(m, n, loss, m->op_pred);
}

double sm_model_sync_loss(const sm_model *m, double loss)
{
    if (!m->sync) return loss;
    sm_dist_sum_f64(&loss, 1);
    return loss / sm_dist_size();
}

void sm_model_sync_grads(sm_model *m, size_t first, size_t count)
{
    if (!m->sync) return;
    float *g = m->grads + first;
    sm_dist_sum_f32(g, count);
    const float scale = 1.0f / (float)sm_dist_size();
    for (size_t i = 0; i < count; i++) g[i] *= scale;
}

double sm_model_train_step(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss,
                           const sm_sgd_group groups[2], long pred_steps)
{
    sm_model_zero_grads(m);
    double total = sm_model_sync_loss(m, sm_model_step_loss(m, x1, x2, n, loss));
    if (!isfinite(total)) return total;
    sm_model_sync_grads(m, 0, m->n_params);
    sm_sgd_step(groups, 2, m->params, m->grads, m->momentum);
    for (long k = 1; k < pred_steps; k++) {
        sm_model_zero_grads(m);
        double pred_loss = sm_model_sync_loss(m, sm_model_predictor_step_loss(m, n, loss));
        if (!isfinite(pred_loss)) return pred_loss;
        sm_model_sync_grads(m, m->n_backbone, m->n_params - m->n_backbone);
        sm_sgd_step(groups + 1, 1, m->params, m->grads, m->momentum);
    }
    return total;
}

static void copy_rows(float *dst, const float *src, size_t rows, size_t cols)
{
    if (dst) memcpy(dst, src, rows * cols * sizeof(float));
}

void sm_model_embed(sm_model *m, const float *x, size_t n, float *f, float *z, float *p)
{
    const size_t in_size = m->tensors[m->t_input].size;
    for (size_t done = 0; done < n;) {
        size_t chunk = n - done < m->max_batch ? n - done : m->max_batch;
        sm_model_outputs out;
        sm_model_forward(m, 0, x + done * in_size, chunk, SM_MODEL_EVAL, &out);
        copy_rows(f ? f + done * m->features : NULL, out.f, chunk, m->features);
        copy_rows(z ? z + done * m->z_dim : NULL, out.z, chunk, m->z_dim);
        copy_rows(p ? p + done * m->z_dim : NULL, out.p, chunk, m->z_dim);
        done += chunk;
    }
}

int sm_model_embed_dataset(sm_model *m, const sm_dataset *ds, size_t n, float *f, float *z, sm_status *st)
{
    size_t image = sm_dataset_image_size(ds), chunk = m->max_batch;
    float *x = sm_mem_alloc_aligned(chunk * image, sizeof *x, st);
    size_t *idx = x ? sm_mem_alloc(chunk, sizeof *idx, st) : NULL;
    if (!idx) {
        sm_mem_free(x);
        return st ? st->code : SM_ERR_DATA;
    }
    for (size_t done = 0; done < n; done += chunk) {
        size_t nb = n - done < chunk ? n - done : chunk;
        for (size_t i = 0; i < nb; i++) idx[i] = done + i;
        sm_dataset_gather(ds, idx, nb, x);
        sm_model_embed(m, x, nb, f ? f + done * m->features : NULL, z ? z + done * m->z_dim : NULL, NULL);
    }
    sm_mem_free(x);
    sm_mem_free(idx);
    return SM_OK;
}
