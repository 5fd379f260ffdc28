/** Absolute path of the compiled AssemblyScript kernel module (`build/kernels.wasm`). */
export declare const kernelsWasmPath: string;
