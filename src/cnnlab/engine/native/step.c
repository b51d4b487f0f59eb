/* A training step's forward and backward pass as one list of operations, run in one call.
 *
 * The direct training step (engine/direct.py) calls about 30 kernels and torch operators a
 * step; at batch 32 the Python between them took a fifth of the step. step.py turns the same
 * step into a list of operations over fixed buffers: calls into the other kernels (onednn.c's
 * convolutions and products, maxpool.c, pixels.c, passed in as function pointers), and the
 * small operations that were torch operators (activations and their backward, bias
 * gradients, the loss, dropout's mask, padding, dtype casts), written out here. The list runs
 * in one call per step.
 *
 * dtypes: 0 float32, 1 bfloat16 (uint16_t holding the upper half of a float32).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

enum {
    PIXELS,        /* fn(x, out, scale, n): the step's images (uint8 or float32) to the input dtype */
    CONV_FORWARD,  /* fn(handle, x, w, b, y) -> status */
    CONV_BACKWARD, /* fn(handle, gy, x, w, gx, gw, gb) -> status */
    MATMUL,        /* fn(handle, a, b, bias, c) -> status */
    POOL_FORWARD,  /* fn(x, out, argmax, 10 geometry numbers, relu) */
    POOL_BACKWARD, /* fn(g, argmax, gx, 10 geometry numbers) */
    ACTIVATE,      /* p[1] = f(p[0]), n values (p[1] may be p[0]); f in rows: relu, sigmoid, tanh */
    ACTIVATE_BACKWARD, /* p[0] (grad, in place) through f, whose output was p[1]; f as above */
    COLUMN_SUM,    /* p[1][j] = sum over rows of p[0] (rows x n), the bias gradient */
    CAST,          /* p[1] (dtype2) = p[0] (dtype), n values */
    LOSS,          /* logits p[0] (rows x n) -> loss p[2] (f32), grad p[1] (dtype), correct p[3] (i64) */
    MULTIPLY,      /* p[2][i] = p[0][i] * p[1][i], n values (dropout's mask; p[2] may be p[0]) */
    PAD,           /* p[0] (N, H, W, C) into the window of p[1] (N, H2, W2, C) at (top, left) */
    CROP,          /* the window of p[0] (N, H2, W2, C) at (top, left) into p[1] (N, H, W, C) */
};

typedef struct {
    int64_t kind, dtype, dtype2, rows, n;
    void *fn;
    void *p[8];
    int64_t geometry[10];
    float scale;
} op_t;

typedef int (*conv_forward_fn)(void *, void *, void *, void *, void *);
typedef int (*conv_backward_fn)(void *, void *, void *, void *, void *, void *, void *);
typedef int (*matmul_fn)(void *, void *, void *, void *, void *);
typedef void (*pool_forward_fn)(void *, void *, void *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, int64_t, int);
typedef void (*pool_backward_fn)(void *, void *, void *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                 int64_t, int64_t, int64_t, int64_t);
typedef void (*pixels_fn)(const void *, void *, float, int64_t);

static inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t f32_to_bf16(float f) { /* round to nearest even; a NaN stays a (quiet) NaN */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (f != f) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float load(const void *p, int64_t dtype, int64_t i) {
    return dtype ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline void store(void *p, int64_t dtype, int64_t i, float v) {
    if (dtype)
        ((uint16_t *)p)[i] = f32_to_bf16(v);
    else
        ((float *)p)[i] = v;
}

enum { RELU_F, SIGMOID_F, TANH_F };

/* relu keeps a NaN and gives +0 for -0; sigmoid is 1 / (1 + exp(-x)); all in float32 and
 * rounded once to the dtype, as torch's bf16 kernels do. One loop per function and dtype,
 * so that each vectorises. */
#define ACTIVATE_LOOP(EXPR)                                                                    \
    do {                                                                                       \
        if (dtype)                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                  \
                float v = bf16_to_f32(((const uint16_t *)x)[i]);                               \
                ((uint16_t *)out)[i] = f32_to_bf16(EXPR);                                      \
            }                                                                                  \
        else                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                  \
                float v = ((const float *)x)[i];                                               \
                ((float *)out)[i] = EXPR;                                                      \
            }                                                                                  \
    } while (0)

static void activate(const void *x, void *out, int64_t dtype, int64_t n, int64_t f) {
    if (f == RELU_F)
        ACTIVATE_LOOP(v > 0.0f || v != v ? v : 0.0f);
    else if (f == SIGMOID_F)
        ACTIVATE_LOOP(1.0f / (1.0f + expf(-v)));
    else
        ACTIVATE_LOOP(tanhf(v));
}

/* torch's threshold_backward(grad, out, 0), sigmoid_backward and tanh_backward */
#define BACKWARD_LOOP(EXPR)                                                                    \
    do {                                                                                       \
        if (dtype)                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                  \
                float g = bf16_to_f32(((uint16_t *)grad)[i]), y = bf16_to_f32(((const uint16_t *)out)[i]); \
                ((uint16_t *)grad)[i] = f32_to_bf16(EXPR);                                     \
            }                                                                                  \
        else                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                  \
                float g = ((float *)grad)[i], y = ((const float *)out)[i];                     \
                ((float *)grad)[i] = EXPR;                                                     \
            }                                                                                  \
    } while (0)

static void activate_backward(void *grad, const void *out, int64_t dtype, int64_t n, int64_t f) {
    if (f == RELU_F)
        BACKWARD_LOOP(y <= 0.0f ? 0.0f : g);
    else if (f == SIGMOID_F)
        BACKWARD_LOOP(g * (1.0f - y) * y);
    else
        BACKWARD_LOOP(g * (1.0f - y * y));
}

static void column_sum(const void *m, void *out, int64_t dtype, int64_t rows, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        float sum = 0.0f;
        for (int64_t r = 0; r < rows; r++) sum += load(m, dtype, r * n + j);
        store(out, dtype, j, sum);
    }
}

static void multiply(const void *a, const void *b, void *out, int64_t dtype, int64_t n) {
    for (int64_t i = 0; i < n; i++) store(out, dtype, i, load(a, dtype, i) * load(b, dtype, i));
}

/* Copies between an (n, h, w, c) array and the window at (top, left) of an (n, h2, w2, c)
 * one; g: n, h, w, c, h2, w2, top, left. The padding around the window is never written. */
static void window_copy(const char *from, char *to, int64_t size, const int64_t *g, int into_window) {
    int64_t n = g[0], h = g[1], w = g[2], c = g[3], h2 = g[4], w2 = g[5], top = g[6], left = g[7];
    size_t row = (size_t)(w * c * size);
    for (int64_t b = 0; b < n; b++)
        for (int64_t y = 0; y < h; y++) {
            int64_t small = ((b * h + y) * w) * c * size, big = ((b * h2 + y + top) * w2 + left) * c * size;
            if (into_window)
                memcpy(to + big, from + small, row);
            else
                memcpy(to + small, from + big, row);
        }
}

static void cast(const void *from, int64_t from_dtype, void *to, int64_t to_dtype, int64_t n) {
    for (int64_t i = 0; i < n; i++) store(to, to_dtype, i, load(from, from_dtype, i));
}

/* Mean sparse cross-entropy of softmax(logits), its gradient (softmax - one_hot) / rows, and
 * how many rows' first largest logit is the label, in the order of torch's log_softmax,
 * nll_loss and their backward (NaN counts as the largest, as in torch's argmax).
 * Returns -1 (nothing written) if a label is not a class index. */
static int loss(const void *logits, void *grad, float *loss_out, int64_t *correct, const int64_t *labels,
                int64_t dtype, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        if (labels[r] < 0 || labels[r] >= n) return -1;
    double total = 0.0;
    int64_t hits = 0;
    float upstream = -1.0f / (float)rows; /* nll_loss's gradient at the label */
    for (int64_t r = 0; r < rows; r++) {
        float top = load(logits, dtype, r * n);
        int64_t best = 0;
        for (int64_t j = 1; j < n; j++) {
            float v = load(logits, dtype, r * n + j);
            if (top == top && (v > top || v != v)) top = v, best = j;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; j++) sum += expf(load(logits, dtype, r * n + j) - top);
        float log_sum = logf(sum);
        int64_t label = labels[r];
        total -= (double)((load(logits, dtype, r * n + label) - top) - log_sum);
        hits += best == label;
        for (int64_t j = 0; j < n; j++) {
            float log_p = (load(logits, dtype, r * n + j) - top) - log_sum;
            store(grad, dtype, r * n + j, (j == label ? upstream : 0.0f) - expf(log_p) * upstream);
        }
    }
    *loss_out = (float)(total / (double)rows);
    *correct = hits;
    return 0;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs ops[0 .. count-1] on this step's images x (uint8 or float32, as the PIXELS op reads) and labels. Returns 0, or the
 * 1-based index of the operation that failed: a oneDNN call (onednn.c's last_error says why)
 * or the loss (a label that is not a class index). With `seconds` (NULL in training), each
 * operation's wall time is added to seconds[k], for the step profile. */
int64_t step_run(const op_t *ops, int64_t count, const void *x, const int64_t *labels, double *seconds) {
    double started = seconds ? now_seconds() : 0.0;
    for (int64_t k = 0; k < count; k++) {
        const op_t *o = &ops[k];
        const int64_t *g = o->geometry;
        int status = 0;
        switch (o->kind) {
        case PIXELS:
            ((pixels_fn)o->fn)(x, o->p[0], o->scale, o->n);
            break;
        case CONV_FORWARD:
            status = ((conv_forward_fn)o->fn)(o->p[0], o->p[1], o->p[2], o->p[3], o->p[4]);
            break;
        case CONV_BACKWARD:
            status = ((conv_backward_fn)o->fn)(o->p[0], o->p[1], o->p[2], o->p[3], o->p[4], o->p[5], o->p[6]);
            break;
        case MATMUL:
            status = ((matmul_fn)o->fn)(o->p[0], o->p[1], o->p[2], o->p[3], o->p[4]);
            break;
        case POOL_FORWARD:
            ((pool_forward_fn)o->fn)(o->p[0], o->p[1], o->p[2], g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                                     g[8], g[9], (int)o->n);
            break;
        case POOL_BACKWARD:
            ((pool_backward_fn)o->fn)(o->p[0], o->p[1], o->p[2], g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
                                      g[8], g[9]);
            break;
        case ACTIVATE:
            activate(o->p[0], o->p[1], o->dtype, o->n, o->rows);
            break;
        case ACTIVATE_BACKWARD:
            activate_backward(o->p[0], o->p[1], o->dtype, o->n, o->rows);
            break;
        case COLUMN_SUM:
            column_sum(o->p[0], o->p[1], o->dtype, o->rows, o->n);
            break;
        case CAST:
            cast(o->p[0], o->dtype, o->p[1], o->dtype2, o->n);
            break;
        case MULTIPLY:
            multiply(o->p[0], o->p[1], o->p[2], o->dtype, o->n);
            break;
        case PAD:
        case CROP:
            window_copy(o->p[0], o->p[1], o->dtype ? 2 : 4, g, o->kind == PAD);
            break;
        case LOSS:
            status = loss(o->p[0], o->p[1], o->p[2], o->p[3], labels, o->dtype, o->rows, o->n);
            break;
        default:
            return k + 1;
        }
        if (status != 0) return k + 1;
        if (seconds) {
            double t = now_seconds();
            seconds[k] += t - started;
            started = t;
        }
    }
    return 0;
}
