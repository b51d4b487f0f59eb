/* uint8 pixels to the model's input dtype in one pass: x * scale in float32, then (bf16)
   rounded to nearest even, which is what torch's x.float().mul_(scale).to(bfloat16) does
   in three passes. Tests check all 256 values against torch, bit for bit. float32 images
   (taken as given, not scaled) are copied or rounded to bf16 the same way. */

#include <stdint.h>
#include <string.h>

void pixels_to_f32(const uint8_t *in, float *out, float scale, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)in[i] * scale;
}

void pixels_to_bf16(const uint8_t *in, uint16_t *out, float scale, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float value = (float)in[i] * scale; /* finite and non-negative: no NaN case */
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        out[i] = (uint16_t)(bits >> 16);
    }
}

/* scale is unused: float images are the model's input as they are */
void floats_to_f32(const float *in, float *out, float scale, int64_t n) {
    (void)scale;
    memcpy(out, in, (size_t)n * sizeof *out);
}

void floats_to_bf16(const float *in, uint16_t *out, float scale, int64_t n) {
    (void)scale;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &in[i], sizeof bits);
        if (in[i] != in[i]) { /* NaN stays a quiet NaN */
            out[i] = (uint16_t)((bits >> 16) | 0x40u);
            continue;
        }
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        out[i] = (uint16_t)(bits >> 16);
    }
}
