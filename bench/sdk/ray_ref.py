"""Ray reference for bench/sdk: put/get of 8 B and of an mb-MB float64 array, and a map of
`tasks` tiny remote tasks (each doubles a 1-element array, as the gramfleet user kernel does).

Prints one JSON object on its last stdout line.
Usage: python ray_ref.py <samples> <array_mb> <tasks> [array_runs]
"""
import json
import sys
import time

import numpy as np
import ray

samples, mb, tasks = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
array_runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)


@ray.remote
def double(x):
    return 2 * x


ray.get([double.remote(np.ones(1)) for _ in range(50)])  # warm the worker pool

small_put, small_get = [], []
for i in range(samples):
    v = np.array([float(i)])  # 8 bytes
    t = time.perf_counter()
    ref = ray.put(v)
    small_put.append((time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    back = ray.get(ref)
    small_get.append((time.perf_counter() - t) * 1e3)
    assert back[0] == float(i)

a = np.random.default_rng(1).random(mb * 1024 * 1024 // 8)
put_s, get_s, copy_s = [], [], []
for k in range(array_runs):
    a[0] = float(k)  # new bytes each run
    t = time.perf_counter()
    ref = ray.put(a)
    put_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    b = ray.get(ref)  # zero-copy read-only view
    get_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    c = np.array(b, copy=True)
    copy_s.append(time.perf_counter() - t)
    assert c[-1] == a[-1] and c[0] == a[0]
    del b, c, ref

t = time.perf_counter()
refs = [double.remote(np.array([float(i)])) for i in range(tasks)]
ready, _ = ray.wait(refs, num_returns=len(refs))
out = ray.get(refs)
map_s = time.perf_counter() - t
assert out[-1][0] == 2.0 * (tasks - 1)
ray.shutdown()
print(json.dumps({"small_put_ms": small_put, "small_get_ms": small_get, "put_s": put_s, "get_s": get_s, "copy_s": copy_s, "map_s": map_s, "ray": ray.__version__}))
