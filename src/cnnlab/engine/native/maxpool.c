/* Max pooling over channels-last (N, H, W, C) arrays, windows that do not overlap.
 *
 * Forward keeps, per output value, the position of the first maximum in row-major window
 * order (as TensorFlow and torch pick it), or NO_GRAD when a fused relu zeroed the value.
 * Backward writes every input position once (gradient or zero): no zero-fill pass.
 */
#include <stdint.h>
#include <string.h>

#define NO_GRAD 255

/* Built with -fopenmp where torch ships its own libgomp: the batch loop then runs on torch's
 * thread pool (same runtime, same thread count), never on extra threads of its own. */
#ifdef _OPENMP
#define PARALLEL _Pragma("omp parallel for if (n * h * w * c >= PARALLEL_FROM) schedule(static)")
#else
#define PARALLEL
#endif
#define PARALLEL_FROM (1 << 17) /* elements: below this, waking threads costs more */

static inline uint16_t f32_to_bf16(float f) { /* exact: f came from a bf16 */
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Any window: channels in chunks, the running maximum kept as float. */
#define CHUNK 64
#define FORWARD(NAME, T, LOAD, STORE)                                                          \
static void NAME(const T *x, T *out, uint8_t *arg, int64_t n, int64_t h, int64_t w, int64_t c, \
          int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t oh, int64_t ow, int relu) {   \
    PARALLEL                                                                                    \
    for (int64_t b = 0; b < n; b++)                                                            \
        for (int64_t i = 0; i < oh; i++)                                                       \
            for (int64_t j = 0; j < ow; j++) {                                                 \
                float best[CHUNK];                                                             \
                uint8_t pick[CHUNK];                                                           \
                const T *corner = x + ((b * h + i * sh) * w + j * sw) * c;                     \
                int64_t at = ((b * oh + i) * ow + j) * c;                                      \
                for (int64_t c0 = 0; c0 < c; c0 += CHUNK) {                                    \
                    int64_t m = c - c0 < CHUNK ? c - c0 : CHUNK;                               \
                    for (int64_t ch = 0; ch < m; ch++) { best[ch] = LOAD(corner[c0 + ch]); pick[ch] = 0; } \
                    for (int64_t p = 0; p < kh; p++)                                           \
                        for (int64_t q = 0; q < kw; q++) {                                     \
                            if (p == 0 && q == 0) continue;                                    \
                            const T *v = corner + (p * w + q) * c + c0;                        \
                            uint8_t k = (uint8_t)(p * kw + q);                                 \
                            for (int64_t ch = 0; ch < m; ch++) {                               \
                                float nv = LOAD(v[ch]);                                        \
                                int up = (nv > best[ch]) | (nv != nv);                         \
                                best[ch] = up ? nv : best[ch];                                 \
                                pick[ch] = up ? k : pick[ch];                                  \
                            }                                                                  \
                        }                                                                      \
                    if (relu)                                                                  \
                        for (int64_t ch = 0; ch < m; ch++) {                                   \
                            int off = best[ch] <= 0.0f;                                        \
                            best[ch] = off ? 0.0f : best[ch];                                  \
                            pick[ch] = off ? NO_GRAD : pick[ch];                               \
                        }                                                                      \
                    for (int64_t ch = 0; ch < m; ch++) {                                       \
                        out[at + c0 + ch] = STORE(best[ch]);                                   \
                        arg[at + c0 + ch] = pick[ch];                                          \
                    }                                                                          \
                }                                                                              \
            }                                                                                  \
}

/* The common 2x2 window, stride 2: one pass over two input rows per output row. */
#define FORWARD_2X2(NAME, T, LOAD, STORE)                                                      \
static void NAME(const T *restrict x, T *restrict out, uint8_t *restrict arg, int64_t n,      \
                 int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int relu) {          \
    PARALLEL                                                                                    \
    for (int64_t b = 0; b < n; b++)                                                            \
        for (int64_t i = 0; i < oh; i++) {                                                     \
            const T *top = x + (b * h + 2 * i) * w * c, *bottom = top + w * c;                 \
            T *o = out + (b * oh + i) * ow * c;                                                \
            uint8_t *a = arg + (b * oh + i) * ow * c;                                          \
            for (int64_t j = 0; j < ow; j++) {                                                 \
                const T *p0 = top + 2 * j * c, *p1 = p0 + c, *p2 = bottom + 2 * j * c, *p3 = p2 + c; \
                for (int64_t ch = 0; ch < c; ch++) {                                           \
                    float best = LOAD(p0[ch]), v;                                              \
                    uint8_t k = 0;                                                             \
                    v = LOAD(p1[ch]); if (v > best || v != v) { best = v; k = 1; }             \
                    v = LOAD(p2[ch]); if (v > best || v != v) { best = v; k = 2; }             \
                    v = LOAD(p3[ch]); if (v > best || v != v) { best = v; k = 3; }             \
                    if (relu && best <= 0.0f) { best = 0.0f; k = NO_GRAD; }                    \
                    o[j * c + ch] = STORE(best);                                               \
                    a[j * c + ch] = k;                                                         \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
}

#define BACKWARD(NAME, T)                                                                      \
void NAME(const T *g, const uint8_t *arg, T *gx, int64_t n, int64_t h, int64_t w, int64_t c, \
          int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t oh, int64_t ow) {            \
    PARALLEL                                                                                    \
    for (int64_t b = 0; b < n; b++)                                                            \
        for (int64_t y = 0; y < h; y++) {                                                      \
            int64_t i = y / sh, p = y % sh;                                                    \
            T *row = gx + (b * h + y) * w * c;                                                 \
            if (i >= oh || p >= kh) { memset(row, 0, sizeof(T) * w * c); continue; }           \
            for (int64_t x = 0; x < w; x++) {                                                  \
                int64_t j = x / sw, q = x % sw;                                                \
                T *dst = row + x * c;                                                          \
                if (j >= ow || q >= kw) { memset(dst, 0, sizeof(T) * c); continue; }           \
                const T *src = g + ((b * oh + i) * ow + j) * c;                                \
                const uint8_t *a = arg + ((b * oh + i) * ow + j) * c;                          \
                uint8_t k = (uint8_t)(p * kw + q);                                             \
                for (int64_t ch = 0; ch < c; ch++) dst[ch] = a[ch] == k ? src[ch] : 0;         \
            }                                                                                  \
        }                                                                                      \
}


#define LOAD_F32(v) (v)
#define LOAD_BF16(v) bf16_to_f32(v)
#define STORE_F32(v) (v)
#define STORE_BF16(v) f32_to_bf16(v)
FORWARD(general_forward_f32, float, LOAD_F32, STORE_F32)
FORWARD_2X2(forward_2x2_f32, float, LOAD_F32, STORE_F32)
FORWARD(general_forward_bf16, uint16_t, LOAD_BF16, STORE_BF16)
FORWARD_2X2(forward_2x2_bf16, uint16_t, LOAD_BF16, STORE_BF16)
BACKWARD(maxpool_backward_f32, float)
BACKWARD(maxpool_backward_bf16, uint16_t)

/* Entry points: the 2x2/2 window of nearly every lesson model, or any non-overlapping one. */
#define DISPATCH(NAME, T, SUFFIX)                                                              \
void NAME(const T *x, T *out, uint8_t *arg, int64_t n, int64_t h, int64_t w, int64_t c, \
          int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t oh, int64_t ow, int relu) {   \
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2)                                              \
        forward_2x2_##SUFFIX(x, out, arg, n, h, w, c, oh, ow, relu);                           \
    else                                                                                       \
        general_forward_##SUFFIX(x, out, arg, n, h, w, c, kh, kw, sh, sw, oh, ow, relu);       \
}
DISPATCH(maxpool_forward_f32, float, f32)
DISPATCH(maxpool_forward_bf16, uint16_t, bf16)

