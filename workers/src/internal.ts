// Internal entry of @gramfleet/workers (`@gramfleet/workers/internal`), for sibling packages'
// test suites and benchmarks only: the WASM backend's per-op parts that the conformance suite
// and the kernel benchmarks drive one by one. Not part of the public API; nothing outside this
// repository should import it. Explicit exports only.
export { WasmArena } from './backends/wasm/arena';
export { RELAXED_SIMD_NODE_FLAG, kernelsFmaWasmPath, loadKernelModuleBytes, relaxedSimdAvailable, relaxedSimdNodeArgs } from './backends/wasm/kernel-module';
export { callDense } from './backends/wasm/dense-host';
export { registerDenseSparseWasm } from './backends/wasm/dense-register';
export { createCholeskyKernel, registerCholeskyWasm } from './backends/wasm/cholesky';
export { registerTriangularSolveWasm } from './backends/wasm/triangular-solve';
export { createEighKernel, registerEighWasm } from './backends/wasm/eigh';
export { createEighTopkKernel, registerEighTopkWasm } from './backends/wasm/eigh-topk';
export { registerQrWasm } from './backends/wasm/qr';
export { registerModeProductWasm } from './backends/wasm/mode-product';
export { registerEigSmallWasm } from './backends/wasm/eig-small';
export { registerKronGpWasm } from './backends/wasm/kron-linalg';
export { createWasmKrylovDense } from './backends/wasm/krylov-dense';
export { registerWasmKernels } from './backends/wasm/register-all';
export {
  createParallelKernels,
  parallelCsrSpmv,
  parallelGemm,
  parallelKernelBlock,
  registerParallelWasm,
  splitCsrRows,
  splitRows,
} from './backends/wasm/parallel';
export type { ParallelKernels } from './backends/wasm/parallel';
export { createGrfWalksWasmKernel } from './backends/wasm/grf-walks';
export { digestOf } from './dataplane/digest';
export { mappedFileOf } from './dataplane/mmap';
export { kernelCacheBudgetFromEnv } from './config';
export { withHostGather } from './host-gather';
export { withKernelRowCache } from './kernel-cache';
export type { KernelRowCache, KernelRowCacheOptions, KernelRowCacheStats } from './kernel-cache';
export { limitError } from './dataplane/nats';
