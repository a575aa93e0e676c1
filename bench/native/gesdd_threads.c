/* LAPACK gesdd (jobz = 'S') of square uniform(-0.5, 0.5) matrices against OpenBLAS's thread count:
 * the measurement behind Crhn's one-thread gesdd policy (OpenBlasNative.gesddSingleThreaded;
 * figures in bench/results/issue20-gesdd-threads.txt). Best of 2-16 calls per size and count.
 *
 *   gcc -O2 -o gesdd_threads gesdd_threads.c -L/usr/lib/x86_64-linux-gnu/openblas-pthread -l:libopenblas.so.0
 *   env -u OPENBLAS_CORETYPE ./gesdd_threads [max_threads]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void dgesdd_(char*, int*, int*, double*, int*, double*, double*, int*, double*, int*, double*, int*, int*, int*, size_t);
extern void sgesdd_(char*, int*, int*, float*, int*, float*, float*, int*, float*, int*, float*, int*, int*, int*, size_t);
extern void openblas_set_num_threads(int);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

static int lw = 32 << 20, *iw;
static double *a0, *a, *w, *u, *vt, *s;
static float *fa0, *fa, *fw, *fu, *fvt, *fs;

/* The fastest of `reps` gesdd calls of the leading n×n block, in float32 (single) or float64. */
static double best_of(int single, int n, int reps) {
    char jobz = 'S';
    int info;
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        if (single) memcpy(fa, fa0, 4L * n * n); else memcpy(a, a0, 8L * n * n);
        double t0 = now();
        if (single) sgesdd_(&jobz, &n, &n, fa, &n, fs, fu, &n, fvt, &n, fw, &lw, iw, &info, 1);
        else dgesdd_(&jobz, &n, &n, a, &n, s, u, &n, vt, &n, w, &lw, iw, &info, 1);
        double d = now() - t0;
        if (d < best) best = d;
    }
    return best;
}

int main(int argc, char** argv) {
    int most = argc > 1 ? atoi(argv[1]) : 2;
    int sizes[] = {128, 256, 512, 1024};
    a0 = malloc(8L << 20); a = malloc(8L << 20); w = malloc(8L * lw); u = malloc(8L << 20); vt = malloc(8L << 20); s = malloc(8L * 1024);
    fa0 = malloc(4L << 20); fa = malloc(4L << 20); fw = malloc(4L * lw); fu = malloc(4L << 20); fvt = malloc(4L << 20); fs = malloc(4L * 1024);
    iw = malloc(4L * 8 * 1024);
    srand(1);
    for (int i = 0; i < 1 << 20; i++) { a0[i] = rand() / (double)RAND_MAX - 0.5; fa0[i] = (float)a0[i]; }
    for (int si = 0; si < 4; si++)
        for (int t = 1; t <= most; t *= 2) {
            int n = sizes[si], reps = 1024 / n * 2;
            openblas_set_num_threads(t);
            double best = best_of(0, n, reps), fbest = best_of(1, n, reps);
            printf("n %4d threads %d  dgesdd %8.2f ms  sgesdd %8.2f ms\n", n, t, 1e3 * best, 1e3 * fbest);
        }
    return 0;
}
