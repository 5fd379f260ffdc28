/**
 * A worker process for test/src/chaos/poison-isolation.test.ts: the real worker runtime
 * (startWorker) with a one-op kernel pool (`negate`, −x after `DELAY_MS`), whose shard
 * `POISON` kills this process (SIGKILL) on every try, through the runtime's test-only crash
 * hook. Configured by environment: NATS_URL, PREFIX, WORKER_ID, POISON, DELAY_MS, SLOTS,
 * MAX_DELIVER, ACK_WAIT_MS.
 */
import { silentLogger, type NdArray } from '@gramfleet/core';
import { startWorker, type KernelPool, type KernelRun } from '@gramfleet/workers';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};

const delayMs = Number(env('DELAY_MS'));
const pool: KernelPool = {
  threads: 1,
  async run(_op: string, _attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
    await new Promise((r) => setTimeout(r, delayMs));
    const x = (inputs[0]?.data ?? new Float64Array(0)) as Float64Array;
    return { outputs: [{ dtype: 'f64', shape: [x.length], data: x.map((v) => -v) }], backend: 'test', computeMs: delayMs };
  },
  async close() {
    /* nothing */
  },
};

startWorker({
  natsUrl: env('NATS_URL'),
  prefix: env('PREFIX'),
  cls: 'wasm',
  pool,
  ops: ['negate'],
  log: silentLogger,
  workerId: env('WORKER_ID'),
  slots: Number(env('SLOTS')),
  dataPlane: { maxDeliver: Number(env('MAX_DELIVER')), ackWaitMs: Number(env('ACK_WAIT_MS')) },
  heartbeatMs: 300,
  testOnlyFaults: [{ kind: 'crash', shardId: env('POISON') }],
}).then(
  () => process.stdout.write('ready\n'),
  (e: Error) => {
    process.stderr.write(`crash-worker failed to start: ${e.message}\n`);
    process.exit(1);
  },
);
