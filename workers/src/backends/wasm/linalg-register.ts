/**
 * Registers the wasm kernels of the factorisation / eigen / mode-product family
 * (cholesky, triangular-solve, qr, eigh, eigh-topk, mode-product, eig-small).
 */
import type { KernelRegistry } from '@gramfleet/core';
import type { WasmArena } from './arena';
import { registerCholeskyWasm } from './cholesky';
import { registerEigSmallWasm } from './eig-small';
import { registerEighWasm } from './eigh';
import { registerEighTopkWasm } from './eigh-topk';
import { registerModeProductWasm } from './mode-product';
import { registerQrWasm } from './qr';
import { registerTriangularSolveWasm } from './triangular-solve';

/** Registers every factorisation-family wasm kernel under backend `'wasm'`. */
export function registerFactorisationWasm(registry: KernelRegistry, arena: () => WasmArena): void {
  registerCholeskyWasm(registry, arena);
  registerTriangularSolveWasm(registry, arena);
  registerQrWasm(registry, arena);
  registerEighWasm(registry, arena);
  registerEighTopkWasm(registry, arena);
  registerModeProductWasm(registry, arena);
  registerEigSmallWasm(registry, arena);
}
