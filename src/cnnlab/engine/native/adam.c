/* Adam over float32 tensors, the same bits as torch's fused CPU kernel (_fused_adam_).
 *
 * torch's kernel handles each tensor in two parts, and their rounding differs:
 *  - the first `vector` elements (whole SIMD vectors: its own AVX512 loop, then the
 *    compiler's 8-wide remainder loop): exp_avg_sq = fma(c2 * g, g, exp_avg_sq * beta2);
 *  - the last few, one at a time: exp_avg_sq = fma(exp_avg_sq, beta2, (c2 * g) * g).
 * Everything else is the same in both parts: exp_avg moves towards g by c1 = 1 - beta1 as
 * torch's lerp does (fma(c1, g - m, m), or fma(c1 - 1, g - m, g) when c1 >= 0.5), and
 * param -= step_size * exp_avg / denom with denom = sqrt(exp_avg_sq) / sqrt(bias_correction2)
 * + eps. Bias corrections are computed in double from the float step count, as torch does.
 * adam.py sets `width` from torch's CPU capability and checks the result against torch once
 * per process before using this.
 *
 * The order of operations is written out here, so the compiler must not contract a * b + c
 * into an fma on its own (the pragma for clang; GCC's -std=c99 already has it off).
 */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The update of elements [from, to) of one tensor whose first `vector` elements are torch's
 * SIMD part: each element's result depends only on which part it is in. */
static void update(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                   int64_t from, int64_t to, int64_t vector, float c1, float c2, float beta2,
                   float step_size, float bc2_sqrt, float eps) {
    int64_t split = vector < from ? from : vector > to ? to : vector;
    int small = fabsf(c1) < 0.5f;
    float weight = small ? c1 : c1 - 1.0f;
    for (int64_t i = from; i < split; i++) {
        float mi = fmaf(weight, g[i] - m[i], small ? m[i] : g[i]);
        float vi = fmaf(c2 * g[i], g[i], v[i] * beta2);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] + (-step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
    }
    for (int64_t i = split; i < to; i++) {
        float mi = fmaf(weight, g[i] - m[i], small ? m[i] : g[i]);
        float vi = fmaf(v[i], beta2, (c2 * g[i]) * g[i]);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] - (step_size * mi) / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

#define PARALLEL_FROM 16384 /* elements in all: below this, waking a thread costs more */

/* One step for `count` tensors; steps[k] is each tensor's float32 step count, incremented here.
 * width: the floats per vector of torch's kernel; the last n % width elements are its tail.
 * The elements of all tensors together are split evenly over the threads. Returns 0, or -1
 * when out of memory (nothing is changed then). */
int adam_step(int64_t count, float **params, float **grads, float **exp_avgs, float **exp_avg_sqs,
              float **steps, const int64_t *sizes, double lr, double beta1, double beta2, double eps,
              int64_t width) {
    float *step_size = malloc(sizeof(float) * 2 * count), *bc2_sqrt = step_size + count;
    int64_t *vector = malloc(sizeof(int64_t) * (2 * count + 1)), *start = vector + count;
    if (!step_size || !vector) {
        free(step_size);
        free(vector);
        return -1;
    }
    start[0] = 0;
    for (int64_t k = 0; k < count; k++) {
        *steps[k] += 1.0f;
        double step = *steps[k];
        double bc1 = 1 - pow(beta1, step), bc2 = 1 - pow(beta2, step);
        step_size[k] = (float)(lr / bc1);
        bc2_sqrt[k] = (float)sqrt(bc2);
        vector[k] = sizes[k] - sizes[k] % width;
        start[k + 1] = start[k] + sizes[k];
    }
    int64_t total = start[count];
    float c1 = (float)(1 - beta1), c2 = (float)(1 - beta2), b2 = (float)beta2, e = (float)eps;
#ifdef _OPENMP
#pragma omp parallel if (total >= PARALLEL_FROM)
#endif
    {
        int64_t threads = 1, me = 0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        me = omp_get_thread_num();
#endif
        int64_t from = total * me / threads, to = total * (me + 1) / threads;
        for (int64_t k = 0; k < count; k++) {
            int64_t lo = from > start[k] ? from : start[k], hi = to < start[k + 1] ? to : start[k + 1];
            if (lo < hi)
                update(params[k], grads[k], exp_avgs[k], exp_avg_sqs[k], lo - start[k], hi - start[k],
                       vector[k], c1, c2, b2, step_size[k], bc2_sqrt[k], e);
        }
    }
    free(step_size);
    free(vector);
    return 0;
}
