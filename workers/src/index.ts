// Public entry of @gramfleet/workers. Explicit exports only.
export { WasmArena } from './backends/wasm/arena';
export type { WasmArenaOptions } from './backends/wasm/arena';
