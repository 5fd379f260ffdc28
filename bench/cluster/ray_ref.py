"""Ray reference for bench/cluster: the same three things gramfleet's run.js measures.

Prints one JSON object on its last stdout line:
  {"latency_ms": [...], "makespan_s": float, "put_s": float, "get_s": float, "ray": version}
Usage: python ray_ref.py <latency_samples> <tiny_tasks> <array_mb>
"""
import json
import sys
import time

import numpy as np
import ray

samples, tiny, mb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)


@ray.remote
def noop():
    return None


# warm the worker pool (Ray starts workers lazily)
ray.get([noop.remote() for _ in range(50)])

# (a) empty-task round trip: submit one no-op remote task and wait for its result
lat = []
for _ in range(samples):
    t = time.perf_counter()
    ray.get(noop.remote())
    lat.append((time.perf_counter() - t) * 1e3)

# (b) makespan of `tiny` no-op tasks submitted at once
t = time.perf_counter()
ray.get([noop.remote() for _ in range(tiny)])
makespan = time.perf_counter() - t

# (c) put + get of an mb-MB float64 array (fresh random bytes)
a = np.random.default_rng(1).random(mb * 1024 * 1024 // 8)
t = time.perf_counter()
ref = ray.put(a)
put_s = time.perf_counter() - t
t = time.perf_counter()
b = ray.get(ref)  # zero-copy: a read-only view over the plasma store
get_s = time.perf_counter() - t
t = time.perf_counter()
c = np.array(b, copy=True)  # what materialising the bytes in the driver costs on top
copy_s = time.perf_counter() - t
assert c.shape == a.shape and c[-1] == a[-1]
ray.shutdown()
print(json.dumps({"latency_ms": lat, "makespan_s": makespan, "put_s": put_s, "get_s": get_s, "copy_s": copy_s, "ray": ray.__version__}))
