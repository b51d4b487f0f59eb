/* Flush subnormal floats to zero (FTZ and DAZ in MXCSR) on this thread and on every thread of
   the OpenMP pool torch computes on. torch.set_flush_denormal changes the calling thread
   only, and torch's worker threads keep their own setting. Returns 1 where it applies. */

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

#define FTZ_DAZ 0x8040u

static void set_here(int on) {
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | FTZ_DAZ) : (csr & ~FTZ_DAZ));
}

int set_flush_denormal(int on) {
    set_here(on);
#pragma omp parallel
    set_here(on);
    return 1;
}
#else
int set_flush_denormal(int on) { (void)on; return 0; }
#endif
