/* OpenBLAS called directly from C, for W7.sgemm (1024³, row-major, C preallocated): the figure
 * Crhn's OpenBLAS provider is compared with. Same inputs as WORKLOADS.md (SplitMix64 seeds 701,
 * 702), same rule (3 warm-up calls, then >= 20 calls and >= 1 s, median).
 * Build and run: gcc -O2 -o /tmp/sgemm_direct bench/native/sgemm_direct.c -l:libopenblas.so.0 && /tmp/sgemm_direct */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { RowMajor = 101, NoTrans = 111 };
void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
char *openblas_get_corename(void);

static void uniform(uint64_t seed, float *out, int n) {
    for (int i = 0; i < n; i++) {
        uint64_t z = seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        out[i] = (float)((double)(z >> 40) * (1.0 / 16777216.0));
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    uniform(701, a, n * n);
    uniform(702, b, n * n);
    for (int i = 0; i < 3; i++) cblas_sgemm(RowMajor, NoTrans, NoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double times[200];
    int reps = 0;
    double start = now();
    while (reps < 200 && (reps < 20 || now() - start < 1.0)) {
        double t0 = now();
        cblas_sgemm(RowMajor, NoTrans, NoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        times[reps++] = now() - t0;
    }
    qsort(times, reps, sizeof(double), cmp);
    double median = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    printf("{\"key\": \"W7.sgemm_openblas_c[m=1024,n=1024,k=1024]\", \"median_s\": %.6g, \"gflops\": %.1f, \"repeats\": %d, \"core\": \"%s\"}\n",
           median, 2.0 * n * n * n / median / 1e9, reps, openblas_get_corename());
    free(a); free(b); free(c);
    return 0;
}
