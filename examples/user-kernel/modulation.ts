// A user kernel in AssemblyScript for `fleet.map`: the GRF modulation function of a custom
// graph kernel. Given the kernel's power-series coefficients α₀..α_{L−1} (K = Σ α_k W^k), it
// returns f₀..f_{L−1} with f ∗ f = α (the "square root" that graph random features weight
// their walks with): f₀ = √α₀, f_k = (α_k − Σ_{j=1}^{k−1} f_j f_{k−j}) / (2 f₀).
//
// Calling convention of gramfleet user kernels: fn(inPtr, inLen, outPtr, outCap) → count ≥ 0
// or a negative status; `alloc(bytes)` gives the host room for the arrays. Built with
// `--runtime stub --importMemory`, so the host caps the memory.

/** Room for `bytes` bytes in the module's memory (8-aligned). */
export function alloc(bytes: i32): usize {
  return heap.alloc(<usize>bytes);
}

/** f from α; status −1 when α₀ ≤ 0, −2 when the output does not fit. */
export function modulation(inPtr: usize, inLen: i32, outPtr: usize, outCap: i32): i32 {
  if (inLen > outCap) return -2;
  if (inLen == 0) return 0;
  const a0 = load<f64>(inPtr);
  if (!(a0 > 0)) return -1;
  const f0 = Math.sqrt(a0);
  store<f64>(outPtr, f0);
  const twoF0 = 2 * f0;
  for (let k = 1; k < inLen; k++) {
    let s: f64 = 0;
    for (let j = 1; j < k; j++) s += load<f64>(outPtr + ((<usize>j) << 3)) * load<f64>(outPtr + ((<usize>(k - j)) << 3));
    store<f64>(outPtr + ((<usize>k) << 3), (load<f64>(inPtr + ((<usize>k) << 3)) - s) / twoF0);
  }
  return inLen;
}
