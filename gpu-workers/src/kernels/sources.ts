/**
 * The CUDA C kernels of the GPU backend, compiled by NVRTC at worker start (cached by source
 * hash). Every module is self-contained (no #include) and is compiled with `--fmad=false`, so
 * element-wise arithmetic rounds exactly as the float64 TypeScript references do: the CSR
 * SpMV, mode product and GRF walk kernels reproduce the reference bit for bit; GEMM-shaped
 * work goes to cuBLAS and matches the reference within the conformance tolerances.
 */

/** One NVRTC program. */
export interface CudaModule {
  /** Program name (NVRTC log, cache). */
  readonly name: string;
  readonly source: string;
  /** `extern "C"` entry points it defines. */
  readonly entries: readonly string[];
  /**
   * Whether its results must equal the float64 reference bit for bit (then its PTX may hold
   * no f64 FMA; libdevice's exp/sqrt use FMA internally, so the epilogue module is not).
   */
  readonly bitExact: boolean;
}

const HEADER = `
typedef unsigned int u32;
typedef long long i64;
#define GF_TID ((i64)blockIdx.x * (i64)blockDim.x + (i64)threadIdx.x)
`;

/** Kernel functions of `kernel-block`, in the order of core's KERNEL_FUNCTIONS. */
export const EPILOGUE_KERNELS = ['laplacian', 'gaussian', 'matern12', 'matern32', 'matern52', 'cauchy'] as const;

/**
 * Kernel-matrix blocks: row norms, dtype conversion, and the fused epilogue that turns a
 * cuBLAS Gram tile G = X·Zᵀ into K[i,j] = k(max(0, ‖x_i‖² + ‖z_j‖² − 2·G[i,j])) in place.
 */
export const KERNEL_BLOCK_MODULE: CudaModule = {
  name: 'gf-kernel-block.cu',
  bitExact: false,
  entries: ['gf_row_sqnorm', 'gf_f32_to_f64', 'gf_f64_to_f32', ...EPILOGUE_KERNELS.map((k) => `gf_kernel_epilogue_${k}`)],
  source: `${HEADER}
extern "C" __global__ void gf_row_sqnorm(const double* x, i64 offset, int n, int d, int ld, double* out) {
  i64 i = GF_TID;
  if (i >= n) return;
  const double* r = x + offset + i * (i64)ld;
  double s = 0.0;
  for (int q = 0; q < d; q++) { double v = r[q]; s = s + v * v; }
  out[i] = s;
}
extern "C" __global__ void gf_f32_to_f64(const float* in, double* out, i64 n) {
  i64 i = GF_TID;
  if (i < n) out[i] = (double)in[i];
}
extern "C" __global__ void gf_f64_to_f32(const double* in, float* out, i64 n) {
  i64 i = GF_TID;
  if (i < n) out[i] = (float)in[i];
}
double gf_k_laplacian(double d2, double s) { return exp(-sqrt(d2) / s); }
double gf_k_matern12(double d2, double s) { return exp(-sqrt(d2) / s); }
double gf_k_gaussian(double d2, double s) { return exp(-d2 / (2.0 * s * s)); }
double gf_k_matern32(double d2, double s) { double t = (sqrt(3.0) * sqrt(d2)) / s; return (1.0 + t) * exp(-t); }
double gf_k_matern52(double d2, double s) { double t = (sqrt(5.0) * sqrt(d2)) / s; return (1.0 + t + (t * t) / 3.0) * exp(-t); }
double gf_k_cauchy(double d2, double s) { return 1.0 / (1.0 + d2 / (s * s)); }
#define GF_EPILOGUE(NAME) \\
extern "C" __global__ void gf_kernel_epilogue_##NAME(double* g, const double* xn, const double* zn, int rows, int m, double sigma) { \\
  i64 t = GF_TID; \\
  if (t >= (i64)rows * (i64)m) return; \\
  i64 i = t / m; i64 j = t - i * m; \\
  double d2 = (xn[i] + zn[j]) - 2.0 * g[t]; \\
  if (d2 < 0.0) d2 = 0.0; \\
  g[t] = gf_k_##NAME(d2, sigma); \\
}
GF_EPILOGUE(laplacian)
GF_EPILOGUE(gaussian)
GF_EPILOGUE(matern12)
GF_EPILOGUE(matern32)
GF_EPILOGUE(matern52)
GF_EPILOGUE(cauchy)
`,
};

/** CSR SpMV (one thread per row, the reference's summation order) and the mode-d product. */
export const SPARSE_MODULE: CudaModule = {
  name: 'gf-sparse.cu',
  bitExact: true,
  entries: ['gf_csr_spmv', 'gf_mode_product'],
  source: `${HEADER}
extern "C" __global__ void gf_csr_spmv(int m, const int* indptr, const int* indices, const double* data, const double* x,
                                       double alpha, double beta, const double* y0, int useY, double* y) {
  i64 i = GF_TID;
  if (i >= m) return;
  double s = 0.0;
  for (int q = indptr[i]; q < indptr[i + 1]; q++) s += data[q] * x[indices[q]];
  y[i] = useY ? beta * y0[i] + alpha * s : alpha * s;
}
// y[l, j, r] = sum_k op(M)[j, k] * x[l, k, r]; x is L x nd x R, y is L x p x R (row-major).
extern "C" __global__ void gf_mode_product(const double* x, const double* mm, double* y, i64 L, int nd, i64 R, int p, int transpose) {
  i64 t = GF_TID;
  if (t >= L * (i64)p * R) return;
  i64 r = t % R;
  i64 lj = t / R;
  i64 j = lj % p;
  i64 l = lj / p;
  double s = 0.0;
  for (int k = 0; k < nd; k++) {
    double mjk = transpose ? mm[(i64)k * p + j] : mm[j * nd + k];
    s = s + mjk * x[(l * nd + k) * R + r];
  }
  y[t] = s;
}
`,
};

/**
 * GRF walks: one thread per (origin, walker) walks exactly as core's grfWalkRowsReference
 * (Philox4x32-10 keyed by the seed, counter (origin, walker, step, stream), 53-bit uniforms,
 * antithetic termination) and records its trajectory (node, load·f[t]/m per step); the host
 * sums the trajectories in walker-major order, so Φ equals the reference bit for bit.
 */
export const GRF_MODULE: CudaModule = {
  name: 'gf-grf-walks.cu',
  bitExact: true,
  entries: ['gf_grf_walks', 'gf_philox_blocks'],
  source: `${HEADER}
void gf_philox(u32 c0, u32 c1, u32 c2, u32 c3, u32 k0, u32 k1, u32* out) {
  for (int r = 0; r < 10; r++) {
    if (r > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    u32 hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    u32 hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
double gf_u53(u32 a, u32 b) { return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * 1.1102230246251565e-16; }
// Philox blocks for counters (i, c1, c2, c3), i in [0, n): a check of the generator against core's philox4x32.
extern "C" __global__ void gf_philox_blocks(int n, u32 c1, u32 c2, u32 c3, u32 k0, u32 k1, u32* out) {
  i64 i = GF_TID;
  if (i < n) gf_philox((u32)i, c1, c2, c3, k0, k1, out + 4 * i);
}
extern "C" __global__ void gf_grf_walks(const int* indptr, const int* indices, const double* w, const double* f, int L, int m,
                                        double pHalt, double q, int antithetic, int nodeStart, int rows, u32 stream, u32 k0, u32 k1,
                                        int* trajNode, double* trajVal, int* trajLen) {
  i64 t = GF_TID;
  if (t >= (i64)rows * (i64)m) return;
  int o = (int)(t / m);
  int wk = (int)(t - (i64)o * m);
  int i = nodeStart + o;
  int odd = antithetic && (wk & 1);
  i64 base = t * (i64)(L + 1);
  int v = i;
  double load = 1.0;
  u32 b[4], bp[4];
  int len = 0;
  for (int st = 0; ; st++) {
    trajNode[base + st] = v;
    trajVal[base + st] = load * (f[st] / (double)m);
    len = st + 1;
    if (st == L) break;
    int s = indptr[v];
    int deg = indptr[v + 1] - s;
    if (deg == 0) break;
    gf_philox((u32)i, (u32)wk, (u32)st, stream, k0, k1, b);
    double u;
    if (odd) {
      gf_philox((u32)i, (u32)(wk - 1), (u32)st, stream, k0, k1, bp);
      double u0 = gf_u53(bp[0], bp[1]);
      u = u0 < 0.5 ? u0 + 0.5 : u0 - 0.5;
    } else {
      u = gf_u53(b[0], b[1]);
    }
    if (u < pHalt) break;
    int k = (int)floor(gf_u53(b[2], b[3]) * (double)deg);
    if (k >= deg) k = deg - 1;
    int p = s + k;
    load = load * (((double)deg * w[p]) * q);
    v = indices[p];
  }
  trajLen[t] = len;
}
`,
};

/** Every module the GPU backend compiles at start-up. */
export const CUDA_MODULES: readonly CudaModule[] = [KERNEL_BLOCK_MODULE, SPARSE_MODULE, GRF_MODULE];
