/**
 * End to end on a GPU machine: a real cluster (Temporal + NATS + one WASM worker) plus one GPU
 * worker process. The GPU worker registers its device; `auto` and `gpu` jobs run on it (the
 * shards' stats say `gpu`), and Φ is byte-identical to the WASM-only run (the GPU walk kernel
 * reproduces the reference bit for bit). Skipped, with the reason printed, where no CUDA
 * device is found — which is the case on CI machines; see gpu-routing.test for that side.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { openDriver } from '@gramfleet/gpu-workers/internal';
import { csrDigest, sharedGraph, startTestCluster, type TestCluster } from './harness';

let skip: string | false = false;
try {
  openDriver();
} catch (e) {
  skip = `no CUDA device: ${(e as Error).message}`;
  console.log(`skipping the GPU end-to-end test: ${skip}`);
}

describe('GRF with GPU and WASM workers together (real Temporal + NATS + GPU)', { skip }, () => {
  let t: TestCluster;
  before(async () => {
    t = await startTestCluster('gpu-cluster', { workers: 1 });
    await t.cluster.addGpuWorker(0); // resolves once the GPU worker is registered
  });
  after(async () => {
    await t?.stop();
  });

  it('the GPU worker advertises its device (name, memory, compute capability) and its GPU ops', async () => {
    const g = (await t.fleet.workers()).find((w) => w.cls === 'gpu');
    assert.ok(g?.device !== undefined);
    assert.equal(typeof g.device['name'], 'string');
    assert.ok(Number(g.device['totalMemBytes']) > 0);
    assert.match(String(g.device['computeCapability']), /^\d+\.\d+$/);
    assert.ok(g.ops.includes('grf-walks'));
  });

  it('Cora on the GPU (auto and gpu) equals the WASM run byte for byte', async () => {
    const spec = {
      kind: 'grf' as const,
      graph: sharedGraph('cora.npz'),
      kernel: 'reg-laplacian',
      scale: 0.25,
      walks: 16,
      pHalt: 0.5,
      seed: 11,
      shardNodes: 200,
      estimator: 'independent' as const,
      variance: 'antithetic' as const,
    };
    const onGpu = await (await t.fleet.submit({ ...spec, backend: 'gpu' })).result();
    const auto = await (await t.fleet.submit({ ...spec, backend: 'auto' })).result();
    const onWasm = await (await t.fleet.submit({ ...spec, backend: 'wasm' })).result();
    assert.equal(onGpu.route?.cls, 'gpu');
    assert.equal(auto.route?.cls, 'gpu');
    assert.deepEqual(Object.keys(onGpu.backends), ['gpu']);
    assert.deepEqual(Object.keys(onWasm.backends), ['wasm']);
    assert.deepEqual(onGpu.phi.map(csrDigest), onWasm.phi.map(csrDigest));
    assert.deepEqual(auto.phi.map(csrDigest), onWasm.phi.map(csrDigest));
  });
});
