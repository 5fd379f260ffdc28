/**
 * The setup the wiped-store tests share (store-wiped.test.ts): a real nats-server whose
 * JetStream store can be wiped, an owner data plane with a task client, and workers of a `negate`
 * kernel started on demand. No mocks.
 */
import { randomBytes } from 'node:crypto';
import { resourceNames, silentLogger, type NdArray } from '@gramfleet/core';
import {
  connectNats,
  createArrayStore,
  createTaskClient,
  openDataPlane,
  startWorker,
  type ArrayStore,
  type DataPlane,
  type KernelPool,
  type KernelRun,
  type RunningWorker,
  type TaskClient,
} from '@gramfleet/workers';
import { startNatsOnly, type NatsOnly } from '../integration/nats-only';

/** Deliveries of a task before its missing input is final. */
export const MAX_DELIVER = 2;

/** One line of the test's report. */
export const say = (s: string): void => void process.stdout.write(`# ${s}\n`);

/** `p`, or a failure naming `what` after `ms` (a hang is reported, not waited out). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** `negate`: −x. */
const pool: KernelPool = {
  threads: 1,
  async run(_op: string, _attrs: unknown, inputs: NdArray[]): Promise<KernelRun> {
    const x = (inputs[0]?.data ?? new Float64Array(0)) as Float64Array;
    return { outputs: [{ dtype: 'f64', shape: [x.length], data: x.map((v) => -v) }], backend: 'test', computeMs: 0 };
  },
  async close() {
    /* nothing */
  },
};

/** A nats-server that can be wiped, its owner, a task client and (on demand) a worker. */
export interface WipedRig {
  readonly nats: NatsOnly;
  readonly owner: DataPlane;
  readonly client: TaskClient;
  /** The owner's store over the object bucket, with no cache (nothing survives a wipe in memory). */
  readonly store: ArrayStore;
  /** Starts a `negate` worker (replacing the running one, which must have been drained). */
  startWorker(workerId: string): Promise<RunningWorker>;
  /** The worker started last, if any. */
  readonly worker: RunningWorker | undefined;
  /** Drains the worker and stops everything. */
  close(): Promise<void>;
}

/** Starts a rig for the suite `name`. */
export async function startWipedRig(name: string): Promise<WipedRig> {
  const nats = await startNatsOnly(name);
  const prefix = `w${randomBytes(3).toString('hex')}`;
  const dpOptions = { maxDeliver: MAX_DELIVER, ackWaitMs: 2000, workerTtlMs: 5000 };
  const owner = await openDataPlane(await connectNats(nats.url, 'owner'), resourceNames(prefix), dpOptions);
  const client = createTaskClient({ dp: owner, laneTimeoutMs: 3000, resendMs: 1000, spillAfterMs: 5000, spillFailMs: 20_000 });
  let worker: RunningWorker | undefined;
  return {
    nats,
    owner,
    client,
    store: createArrayStore(owner, { cacheBytes: 0 }),
    get worker() {
      return worker;
    },
    async startWorker(workerId) {
      worker = await startWorker({
        natsUrl: nats.url,
        prefix,
        cls: 'wasm',
        pool,
        ops: ['negate'],
        log: silentLogger,
        workerId,
        dataPlane: dpOptions,
        heartbeatMs: 500,
      });
      return worker;
    },
    async close() {
      await client.close();
      if (worker !== undefined) await within(worker.drain(), 15_000, 'worker drain').catch(() => undefined);
      await owner.close();
      await nats.stop();
    },
  };
}
