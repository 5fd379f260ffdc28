"""fast-graph-gp reference for bench/grf: time its GRF sampler on a graph given as .npy files.

Usage: python fggp_ref.py <dir with indptr.npy indices.npy weights.npy> <walks> <p_halt> <max_walk_length> <processes>
The weights are already W = c*D^{-1/2} A D^{-1/2} (the same W gramfleet walks on);
grf_gp.GRFSampler multiplies the load by deg*W/(1-p_halt) per step, as gramfleet does.
Prints {"seconds": .., "n": .., "walks": .., "steps": .., "processes": .., "nnz_phi": ..} on its last line.
Timed: GRFSampler(...) construction (torch CSR) + sample_random_walk_matrices() (the walks in
`processes` forked processes, merging, one sparse matrix per step). Not timed: loading the
.npy files. The per-step matrices are Φ before the modulation weights f are applied.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from grf_gp import GRFSampler

d, walks, p_halt, steps, procs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
indptr = np.load(os.path.join(d, "indptr.npy")).astype(np.int64)
indices = np.load(os.path.join(d, "indices.npy")).astype(np.int64)
weights = np.load(os.path.join(d, "weights.npy")).astype(np.float64)
n = len(indptr) - 1
t = time.perf_counter()
adj = torch.sparse_csr_tensor(torch.from_numpy(indptr), torch.from_numpy(indices), torch.from_numpy(weights), size=(n, n))
sampler = GRFSampler(adj, walks_per_node=walks, p_halt=p_halt, max_walk_length=steps, seed=1, use_tqdm=False, n_processes=procs)
mats = sampler.sample_random_walk_matrices()
sec = time.perf_counter() - t
nnz = None
try:
    nnz = int(sum(m.sparse_csr_tensor._nnz() for m in mats))  # best effort, for the log only
except Exception:
    pass
print(json.dumps({"seconds": sec, "n": n, "walks": walks, "steps": steps, "processes": procs, "nnz_phi_steps": nnz}))
