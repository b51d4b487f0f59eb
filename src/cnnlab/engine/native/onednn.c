/* 2-D convolution (forward, backward data, backward weights) and matrix products through
   oneDNN's C API.

   torch calls the same oneDNN kernels, but builds their primitive descriptors again on every
   call, which at batch 32 costs about as much as the kernels themselves. Here the primitives
   of one shape are created once (conv_create, matmul_create) and then only executed.

   Layouts are the ones the training step already has: activations NHWC (torch channels_last),
   weights OHWI (channels_last weights), bias and bias gradient plain. The kernels may prefer a
   blocked weight layout: the weights are then reordered into a buffer the handle owns before
   use, and the weight gradient reordered back. Threads: oneDNN's OpenMP build, which shares
   the GNU OpenMP runtime torch has loaded. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

static char error_text[256];
static dnnl_engine_t engine;
static dnnl_stream_t stream;

typedef struct {
    dnnl_primitive_t reorder; /* NULL: the primitive takes the caller's layout */
    dnnl_memory_t memory;     /* the primitive's layout, owned */
} converted_t;

typedef struct {
    dnnl_primitive_t forward, backward_data, backward_weights;
    converted_t weights_forward, weights_backward, weight_grad;
    dnnl_memory_t src, weights, bias, dst, diff_src, diff_weights, diff_bias, diff_dst;
} conv_t;

const char *last_error(void) { return error_text; }

#define COUNT(array) (sizeof (array) / sizeof *(array))

/* Destroy what is set in these arrays (NULL entries are skipped). */
static void free_memories(dnnl_memory_t *mems, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
}

static void free_descs(dnnl_memory_desc_t *mds, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (mds[i]) dnnl_memory_desc_destroy(mds[i]);
}

static int failed(dnnl_status_t status, const char *what) {
    if (status == dnnl_success) return 0;
    snprintf(error_text, sizeof error_text, "oneDNN: %s failed (status %d)", what, (int)status);
    return 1;
}

#define TRY(call, what) do { if (failed((call), (what))) goto fail; } while (0)

/* The CPU engine and stream all primitives share, made on first use. */
static dnnl_status_t started(void) {
    dnnl_status_t status = dnnl_success;
    if (!engine) status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (status == dnnl_success && !stream) status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    return status;
}

void conv_destroy(conv_t *c) {
    if (!c) return;
    dnnl_primitive_t prims[] = {c->forward, c->backward_data, c->backward_weights, c->weights_forward.reorder,
                                c->weights_backward.reorder, c->weight_grad.reorder};
    for (size_t i = 0; i < COUNT(prims); i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {c->src, c->weights, c->bias, c->dst, c->diff_src, c->diff_weights, c->diff_bias,
                            c->diff_dst, c->weights_forward.memory, c->weights_backward.memory,
                            c->weight_grad.memory};
    free_memories(mems, COUNT(mems));
    free(c);
}

/* The layout `pd` wants for `query`; a reorder to it (to_primitive) or from it, if it differs. */
static int convert(converted_t *out, const_dnnl_primitive_desc_t pd, dnnl_query_t query,
                   const_dnnl_memory_desc_t user, int to_primitive) {
    const_dnnl_memory_desc_t wanted = dnnl_primitive_desc_query_md(pd, query, 0);
    if (dnnl_memory_desc_equal(wanted, user)) return 0;
    dnnl_primitive_desc_t rpd = NULL;
    if (failed(dnnl_memory_create(&out->memory, wanted, engine, DNNL_MEMORY_ALLOCATE), "weight buffer")) return 1;
    if (failed(to_primitive ? dnnl_reorder_primitive_desc_create(&rpd, user, engine, wanted, engine, NULL)
                            : dnnl_reorder_primitive_desc_create(&rpd, wanted, engine, user, engine, NULL),
               "weight reorder"))
        return 1;
    int bad = failed(dnnl_primitive_create(&out->reorder, rpd), "weight reorder");
    dnnl_primitive_desc_destroy(rpd);
    return bad;
}

static const char *impl_name(const_dnnl_primitive_desc_t pd) {
    const char *name = "";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    return name;
}

/* fp32 on AVX2: oneDNN's first choice for the data gradient runs the forward brgemm kernel on
   flipped weights, which is slower on the lesson's channel counts than its direct AVX2 kernel.
   Moves `pd` to that kernel: 1 if it did, 0 if `pd` was another choice (left as it was), -1 if
   the list had no such kernel (`pd` is then at its end and must be created again). */
static int prefer_direct_avx2(dnnl_primitive_desc_t pd) {
    if (strncmp(impl_name(pd), "brg_fwd:avx2+", 13) != 0) return 0;
    while (dnnl_primitive_desc_next_impl(pd) == dnnl_success)
        if (strcmp(impl_name(pd), "jit:avx2") == 0) return 1;
    return -1;
}

/* bf16: 1 for bfloat16, 0 for float32. Shapes: input (n, c, h, w), weights (o, c, kh, kw),
   output (n, o, oh, ow), strides (sh, sw), no padding, no dilation. NULL on failure. */
conv_t *conv_create(int bf16, long n, long c, long h, long w, long o, long kh, long kw, long sh, long sw,
                    long oh, long ow, int with_bias) {
    dnnl_memory_desc_t src_md = NULL, weights_md = NULL, any_md = NULL, bias_md = NULL, dst_md = NULL;
    dnnl_primitive_desc_t fwd_pd = NULL, bwd_data_pd = NULL, bwd_weights_pd = NULL;
    conv_t *c_ = calloc(1, sizeof *c_);
    if (!c_) return NULL;
    TRY(started(), "engine");
    dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t src_dims = {n, c, h, w}, weight_dims = {o, c, kh, kw}, bias_dims = {o}, dst_dims = {n, o, oh, ow};
    dnnl_dims_t strides = {sh, sw}, dilation = {0, 0}, padding = {0, 0};
    TRY(dnnl_memory_desc_create_with_tag(&src_md, 4, src_dims, type, dnnl_nhwc), "input layout");
    TRY(dnnl_memory_desc_create_with_tag(&weights_md, 4, weight_dims, type, dnnl_ohwi), "weight layout");
    TRY(dnnl_memory_desc_create_with_tag(&any_md, 4, weight_dims, type, dnnl_format_tag_any), "weight layout");
    TRY(dnnl_memory_desc_create_with_tag(&bias_md, 1, bias_dims, type, dnnl_a), "bias layout");
    TRY(dnnl_memory_desc_create_with_tag(&dst_md, 4, dst_dims, type, dnnl_nhwc), "output layout");
    const_dnnl_memory_desc_t bias = with_bias ? bias_md : NULL;

    TRY(dnnl_convolution_forward_primitive_desc_create(&fwd_pd, engine, dnnl_forward_training,
            dnnl_convolution_direct, src_md, any_md, bias, dst_md, strides, dilation, padding, padding, NULL),
        "forward convolution");
    TRY(dnnl_convolution_backward_data_primitive_desc_create(&bwd_data_pd, engine, dnnl_convolution_direct,
            src_md, any_md, dst_md, strides, dilation, padding, padding, fwd_pd, NULL),
        "backward-data convolution");
    if (!bf16 && prefer_direct_avx2(bwd_data_pd) < 0) { /* not on the list: oneDNN's first choice again */
        dnnl_primitive_desc_destroy(bwd_data_pd);
        bwd_data_pd = NULL;
        TRY(dnnl_convolution_backward_data_primitive_desc_create(&bwd_data_pd, engine, dnnl_convolution_direct,
                src_md, any_md, dst_md, strides, dilation, padding, padding, fwd_pd, NULL),
            "backward-data convolution");
    }
    TRY(dnnl_convolution_backward_weights_primitive_desc_create(&bwd_weights_pd, engine, dnnl_convolution_direct,
            src_md, any_md, bias, dst_md, strides, dilation, padding, padding, fwd_pd, NULL),
        "backward-weights convolution");
    TRY(dnnl_primitive_create(&c_->forward, fwd_pd), "forward convolution");
    TRY(dnnl_primitive_create(&c_->backward_data, bwd_data_pd), "backward-data convolution");
    TRY(dnnl_primitive_create(&c_->backward_weights, bwd_weights_pd), "backward-weights convolution");
    if (convert(&c_->weights_forward, fwd_pd, dnnl_query_weights_md, weights_md, 1)
        || convert(&c_->weights_backward, bwd_data_pd, dnnl_query_weights_md, weights_md, 1)
        || convert(&c_->weight_grad, bwd_weights_pd, dnnl_query_diff_weights_md, weights_md, 0))
        goto fail;

    struct { dnnl_memory_t *memory; const_dnnl_memory_desc_t md; } user[] = {
        {&c_->src, src_md}, {&c_->weights, weights_md}, {&c_->bias, bias_md}, {&c_->dst, dst_md},
        {&c_->diff_src, src_md}, {&c_->diff_weights, weights_md}, {&c_->diff_bias, bias_md},
        {&c_->diff_dst, dst_md}};
    for (size_t i = 0; i < COUNT(user); i++)
        TRY(dnnl_memory_create(user[i].memory, user[i].md, engine, DNNL_MEMORY_NONE), "memory");
    goto done;
fail:
    conv_destroy(c_);
    c_ = NULL;
done:
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    if (bwd_data_pd) dnnl_primitive_desc_destroy(bwd_data_pd);
    if (bwd_weights_pd) dnnl_primitive_desc_destroy(bwd_weights_pd);
    dnnl_memory_desc_t mds[] = {src_md, weights_md, any_md, bias_md, dst_md};
    free_descs(mds, COUNT(mds));
    return c_;
}

static dnnl_status_t run_reorder(dnnl_primitive_t reorder, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(reorder, stream, 2, args);
}

/* The weights in the layout `to` wants: reordered into its buffer, or the caller's. */
static dnnl_memory_t weights_for(conv_t *c, converted_t *to, dnnl_status_t *status) {
    if (!to->reorder) return c->weights;
    *status = run_reorder(to->reorder, c->weights, to->memory);
    return to->memory;
}

/* y = conv(x, w) + b; b may be NULL (a handle created without bias). Returns 0 on success. */
int conv_forward(conv_t *c, void *x, void *w, void *b, void *y) {
    dnnl_status_t status = dnnl_success;
    dnnl_memory_set_data_handle(c->src, x);
    dnnl_memory_set_data_handle(c->weights, w);
    dnnl_memory_set_data_handle(c->dst, y);
    dnnl_memory_t weights = weights_for(c, &c->weights_forward, &status);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, c->dst},
                               {DNNL_ARG_BIAS, c->bias}};
    if (b) dnnl_memory_set_data_handle(c->bias, b);
    if (status == dnnl_success) status = dnnl_primitive_execute(c->forward, stream, b ? 4 : 3, args);
    if (status == dnnl_success) status = dnnl_stream_wait(stream);
    return failed(status, "forward convolution");
}

/* From the output gradient gy: gx (skipped when NULL), gw and gb (skipped when NULL). */
int conv_backward(conv_t *c, void *gy, void *x, void *w, void *gx, void *gw, void *gb) {
    dnnl_status_t status = dnnl_success;
    dnnl_memory_set_data_handle(c->diff_dst, gy);
    dnnl_memory_set_data_handle(c->src, x);
    dnnl_memory_set_data_handle(c->weights, w);
    dnnl_memory_set_data_handle(c->diff_weights, gw);
    if (gx) {
        dnnl_memory_set_data_handle(c->diff_src, gx);
        dnnl_memory_t weights = weights_for(c, &c->weights_backward, &status);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, c->diff_dst}, {DNNL_ARG_WEIGHTS, weights},
                                   {DNNL_ARG_DIFF_SRC, c->diff_src}};
        if (status == dnnl_success) status = dnnl_primitive_execute(c->backward_data, stream, 3, args);
    }
    dnnl_memory_t diff_weights = c->weight_grad.reorder ? c->weight_grad.memory : c->diff_weights;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, c->diff_dst}, {DNNL_ARG_SRC, c->src},
                               {DNNL_ARG_DIFF_WEIGHTS, diff_weights}, {DNNL_ARG_DIFF_BIAS, c->diff_bias}};
    if (gb) dnnl_memory_set_data_handle(c->diff_bias, gb);
    if (status == dnnl_success) status = dnnl_primitive_execute(c->backward_weights, stream, gb ? 4 : 3, args);
    if (status == dnnl_success && c->weight_grad.reorder)
        status = run_reorder(c->weight_grad.reorder, c->weight_grad.memory, c->diff_weights);
    if (status == dnnl_success) status = dnnl_stream_wait(stream);
    return failed(status, "backward convolution");
}

/* ---- matrix products: c (m x n) = a (m x k) . b (k x n) [+ bias (n)], row-major c ---- */

typedef struct {
    dnnl_primitive_t product;
    dnnl_memory_t a, b, bias, c;
} matmul_t;

void matmul_destroy(matmul_t *p) {
    if (!p) return;
    if (p->product) dnnl_primitive_destroy(p->product);
    dnnl_memory_t mems[] = {p->a, p->b, p->bias, p->c};
    free_memories(mems, COUNT(mems));
    free(p);
}

/* a_transposed: a is stored k x m row-major (and read as its transpose); likewise b (n x k). */
matmul_t *matmul_create(int bf16, long m, long k, long n, int a_transposed, int b_transposed, int with_bias) {
    dnnl_memory_desc_t a_md = NULL, b_md = NULL, bias_md = NULL, c_md = NULL;
    dnnl_primitive_desc_t pd = NULL;
    matmul_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    TRY(started(), "engine");
    dnnl_data_type_t type = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, bias_dims = {1, n}, c_dims = {m, n};
    dnnl_dims_t a_strides = {a_transposed ? 1 : k, a_transposed ? m : 1};
    dnnl_dims_t b_strides = {b_transposed ? 1 : n, b_transposed ? k : 1};
    dnnl_dims_t row_major_n = {n, 1};
    TRY(dnnl_memory_desc_create_with_strides(&a_md, 2, a_dims, type, a_strides), "matrix layout");
    TRY(dnnl_memory_desc_create_with_strides(&b_md, 2, b_dims, type, b_strides), "matrix layout");
    TRY(dnnl_memory_desc_create_with_strides(&bias_md, 2, bias_dims, type, row_major_n), "bias layout");
    TRY(dnnl_memory_desc_create_with_strides(&c_md, 2, c_dims, type, row_major_n), "matrix layout");
    TRY(dnnl_matmul_primitive_desc_create(&pd, engine, a_md, b_md, with_bias ? bias_md : NULL, c_md, NULL),
        "matrix product");
    TRY(dnnl_primitive_create(&p->product, pd), "matrix product");
    TRY(dnnl_memory_create(&p->a, a_md, engine, DNNL_MEMORY_NONE), "memory");
    TRY(dnnl_memory_create(&p->b, b_md, engine, DNNL_MEMORY_NONE), "memory");
    TRY(dnnl_memory_create(&p->bias, bias_md, engine, DNNL_MEMORY_NONE), "memory");
    TRY(dnnl_memory_create(&p->c, c_md, engine, DNNL_MEMORY_NONE), "memory");
    goto done;
fail:
    matmul_destroy(p);
    p = NULL;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_memory_desc_t mds[] = {a_md, b_md, bias_md, c_md};
    free_descs(mds, COUNT(mds));
    return p;
}

int matmul_run(matmul_t *p, void *a, void *b, void *bias, void *c) {
    dnnl_memory_set_data_handle(p->a, a);
    dnnl_memory_set_data_handle(p->b, b);
    dnnl_memory_set_data_handle(p->c, c);
    if (bias) dnnl_memory_set_data_handle(p->bias, bias);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c},
                               {DNNL_ARG_BIAS, p->bias}};
    dnnl_status_t status = dnnl_primitive_execute(p->product, stream, bias ? 4 : 3, args);
    if (status == dnnl_success) status = dnnl_stream_wait(stream);
    return failed(status, "matrix product");
}
