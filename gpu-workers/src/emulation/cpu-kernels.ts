/**
 * CPU emulation of the backend's CUDA C kernels, for tests on machines without a GPU: the very
 * sources NVRTC compiles are compiled as C++ by the host compiler (`-ffp-contract=off`, the
 * CPU counterpart of `--fmad=false`) with a small shim (`__global__`, `blockIdx`/`blockDim`/
 * `threadIdx`, `__umulhi`), plus one launcher per entry point that unpacks `kernelParams`
 * exactly as `cuLaunchKernel` does and runs every thread of the grid in turn. This checks the
 * kernels' logic and the host code's argument packing; it says nothing about the CUDA driver,
 * the GPU's math library or real concurrency.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { GramfleetError } from '@gramfleet/core';
import { koffi, type CFunction } from '../cuda/ffi';
import { CUDA_MODULES, EPILOGUE_KERNELS } from '../kernels/sources';

const SHIM = `
#include <math.h>
#include <stdint.h>
#define __global__
struct gf_dim { unsigned x; };
static gf_dim blockIdx, blockDim, threadIdx;
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
`;

/** Kernel signatures: the C type of each argument, in order (as the .cu sources declare them). */
export const KERNEL_SIGNATURES: Readonly<Record<string, readonly string[]>> = {
  gf_row_sqnorm: ['const double*', 'long long', 'int', 'int', 'int', 'double*'],
  gf_f32_to_f64: ['const float*', 'double*', 'long long'],
  gf_f64_to_f32: ['const double*', 'float*', 'long long'],
  ...Object.fromEntries(EPILOGUE_KERNELS.map((k) => [`gf_kernel_epilogue_${k}`, ['double*', 'const double*', 'const double*', 'int', 'int', 'double']])),
  gf_csr_spmv: ['int', 'const int*', 'const int*', 'const double*', 'const double*', 'double', 'double', 'const double*', 'int', 'double*'],
  gf_mode_product: ['const double*', 'const double*', 'double*', 'long long', 'int', 'long long', 'int', 'int'],
  gf_philox_blocks: ['int', 'unsigned', 'unsigned', 'unsigned', 'unsigned', 'unsigned', 'unsigned*'],
  gf_grf_walks: [
    'const int*',
    'const int*',
    'const double*',
    'const double*',
    'int',
    'int',
    'double',
    'double',
    'int',
    'int',
    'int',
    'unsigned',
    'unsigned',
    'unsigned',
    'int*',
    'double*',
    'int*',
  ],
};

/** The C++ translation unit: shim, every module, one launcher per entry. */
export function emulationSource(): string {
  const launchers = Object.entries(KERNEL_SIGNATURES).map(([name, sig]) => {
    const args = sig.map((t, i) => `*(${t}*)p[${i}]`).join(', ');
    return `extern "C" void gf_launch_${name}(unsigned grid, unsigned block, void** p) {
  blockDim.x = block;
  for (unsigned b = 0; b < grid; b++) { blockIdx.x = b; for (unsigned t = 0; t < block; t++) { threadIdx.x = t; ${name}(${args}); } }
}`;
  });
  return [SHIM, ...CUDA_MODULES.map((m) => `// ---- ${m.name}\n${m.source}`), ...launchers].join('\n');
}

/** Compiled CPU kernels: entry name → a function (grid, block, kernelParams). */
export interface CpuKernels {
  readonly path: string;
  readonly launchers: Map<string, CFunction>;
}

/**
 * Compiles the emulation with the host C++ compiler (cached by source hash in the temp
 * directory). Throws `GPU_COMPILE_FAILED` with the compiler's message when it fails, or when
 * no compiler is found.
 */
export function buildCpuKernels(cxx = 'g++'): CpuKernels {
  const src = emulationSource();
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const so = path.join(os.tmpdir(), `gf-cuda-emulation-${hash}.so`);
  if (!fs.existsSync(so)) {
    const cpp = so.replace(/\.so$/, `.${process.pid}.cpp`);
    fs.writeFileSync(cpp, src);
    const r = spawnSync(cxx, ['-O1', '-ffp-contract=off', '-fno-fast-math', '-shared', '-fPIC', '-o', `${so}.${process.pid}`, cpp], { encoding: 'utf8' });
    fs.rmSync(cpp, { force: true });
    if (r.status !== 0)
      throw new GramfleetError('GPU_COMPILE_FAILED', `${cxx} could not compile the CPU emulation of the CUDA kernels: ${r.error?.message ?? r.stderr}`, {
        cxx,
      });
    fs.renameSync(`${so}.${process.pid}`, so);
  }
  const lib = koffi.load(so);
  const launchers = new Map<string, CFunction>();
  for (const name of Object.keys(KERNEL_SIGNATURES))
    launchers.set(name, lib.func(`void gf_launch_${name}(unsigned int grid, unsigned int block, void **params)`) as CFunction);
  return { path: so, launchers };
}
