/*
 * The reference for bench/gpu: one cuBLAS GEMM called from C on device-resident operands,
 * timed with CUDA events after warm-up. Prototypes are declared here, so no CUDA headers are
 * needed (link against libcuda.so.1 and the nvidia-cublas-cu12 wheel's libcublas.so.12).
 *   gemm_ref d|s|tf32 m n k reps   → one JSON line {"ms_per_call":…, "gflops":…}
 * Row-major C = A·B is issued exactly as gramfleet issues it: column-major Cᵀ = Bᵀ·Aᵀ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
extern CUresult cuInit(unsigned int);
extern CUresult cuDeviceGet(int *, int);
extern CUresult cuCtxCreate_v2(void **, unsigned int, int);
extern CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
extern CUresult cuMemcpyHtoD_v2(CUdeviceptr, const void *, size_t);
extern CUresult cuEventCreate(void **, unsigned int);
extern CUresult cuEventRecord(void *, void *);
extern CUresult cuEventSynchronize(void *);
extern CUresult cuEventElapsedTime(float *, void *, void *);
extern int cublasCreate_v2(void **);
extern int cublasSetMathMode(void *, int);
extern int cublasDgemm_v2(void *, int, int, int, int, int, const double *, const double *, int, const double *, int, const double *, double *, int);
extern int cublasSgemm_v2(void *, int, int, int, int, int, const float *, const float *, int, const float *, int, const float *, float *, int);

#define CHECK(x) do { int s_ = (x); if (s_ != 0) { fprintf(stderr, "%s failed: %d\n", #x, s_); return 1; } } while (0)

static CUdeviceptr upload_random(size_t count, size_t elem) {
  unsigned char *h = malloc(count * elem);
  unsigned int s = 12345;
  for (size_t i = 0; i < count; i++) {
    s = s * 1664525u + 1013904223u;
    double v = (double)(s >> 8) / 16777216.0 - 0.5;
    if (elem == 8) ((double *)h)[i] = v; else ((float *)h)[i] = (float)v;
  }
  CUdeviceptr d = 0;
  if (cuMemAlloc_v2(&d, count * elem) != 0 || cuMemcpyHtoD_v2(d, h, count * elem) != 0) d = 0;
  free(h);
  return d;
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: gemm_ref d|s|tf32 m n k reps\n"); return 2; }
  const char *t = argv[1];
  int m = atoi(argv[2]), n = atoi(argv[3]), k = atoi(argv[4]), reps = atoi(argv[5]);
  int dbl = strcmp(t, "d") == 0;
  size_t elem = dbl ? 8 : 4;
  void *ctx, *h, *e0, *e1;
  int dev;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&dev, 0));
  CHECK(cuCtxCreate_v2(&ctx, 0, dev));
  CHECK(cublasCreate_v2(&h));
  if (strcmp(t, "tf32") == 0) CHECK(cublasSetMathMode(h, 3));
  CUdeviceptr a = upload_random((size_t)m * k, elem), b = upload_random((size_t)k * n, elem), c = upload_random((size_t)m * n, elem);
  if (!a || !b || !c) { fprintf(stderr, "allocation failed\n"); return 1; }
  double one = 1, zero = 0;
  float onef = 1, zerof = 0;
  CHECK(cuEventCreate(&e0, 0));
  CHECK(cuEventCreate(&e1, 0));
  for (int r = 0; r < reps + 2; r++) {
    if (r == 2) CHECK(cuEventRecord(e0, 0));
    if (dbl) CHECK(cublasDgemm_v2(h, 0, 0, n, m, k, &one, (const double *)b, n, (const double *)a, k, &zero, (double *)c, n));
    else CHECK(cublasSgemm_v2(h, 0, 0, n, m, k, &onef, (const float *)b, n, (const float *)a, k, &zerof, (float *)c, n));
  }
  CHECK(cuEventRecord(e1, 0));
  CHECK(cuEventSynchronize(e1));
  float ms = 0;
  CHECK(cuEventElapsedTime(&ms, e0, e1));
  double per = ms / reps;
  printf("{\"ms_per_call\": %.6f, \"gflops\": %.3f}\n", per, 2.0 * m * n * (double)k / (per * 1e6));
  return 0;
}
