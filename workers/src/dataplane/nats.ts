/**
 * Connecting to NATS and declaring the JetStream resources of the data plane: the task
 * work-queue stream (one durable pull consumer per worker class), the results stream, the
 * array object store and the worker-registry KV bucket. Declaration is idempotent.
 */
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Objm, setSha256Backend, type ObjectStore } from '@nats-io/obj';
import { Kvm, type KV } from '@nats-io/kv';
import { GramfleetError, WORKER_CLASSES, allResultsFilter, allTasksFilter, consumerName, taskFilter, type ResourceNames } from '@gramfleet/core';

// The object store hashes every chunk it puts and gets (SHA-256, its own integrity check);
// its default is a pure-JS hash, which capped puts and gets near 65 MB/s. Every process of the
// data plane runs on Node: use node:crypto's.
setSha256Backend('native');

/** Tunables of the data plane. */
export interface DataPlaneOptions {
  /** Redelivery wait when a worker neither acks nor reports progress. @default 15000 */
  readonly ackWaitMs?: number;
  /** Deliveries after which a shard is dead-lettered. @default 5 */
  readonly maxDeliver?: number;
  /** Window in which a re-published task or result with the same id is dropped. @default 6 h */
  readonly duplicateWindowMs?: number;
  /** Age after which results are deleted. @default 7 days */
  readonly resultsMaxAgeMs?: number;
  /** TTL of worker registry entries (workers refresh them by heartbeat). @default 15000 */
  readonly workerTtlMs?: number;
}

/** Validated, defaulted {@link DataPlaneOptions}. */
export type CompiledDataPlaneOptions = Required<DataPlaneOptions>;

/** Fills in defaults. */
export function compileDataPlaneOptions(o: DataPlaneOptions = {}): CompiledDataPlaneOptions {
  return Object.freeze({
    ackWaitMs: o.ackWaitMs ?? 15_000,
    maxDeliver: o.maxDeliver ?? 5,
    duplicateWindowMs: o.duplicateWindowMs ?? 6 * 3600_000,
    resultsMaxAgeMs: o.resultsMaxAgeMs ?? 7 * 24 * 3600_000,
    workerTtlMs: o.workerTtlMs ?? 15_000,
  });
}

/** Handles of a connected data plane. */
export interface DataPlane {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly arrays: ObjectStore;
  readonly workers: KV;
  readonly names: ResourceNames;
  readonly options: CompiledDataPlaneOptions;
  /**
   * Object-store chunk size for this server: its largest message less room for headers (a
   * 1 MB default payload gives ~1 MB chunks, an eighth of the messages of the client's
   * 128 KiB default, so puts, gets and deletes of large arrays handle fewer messages).
   */
  readonly chunkBytes: number;
  /** Drains and closes the connection. */
  close(): Promise<void>;
}

/** Connects with endless reconnects (servers restart; clients must ride through it). */
export async function connectNats(servers: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5_000, timeout: 5_000 });
  } catch (e) {
    throw new GramfleetError('CLUSTER_UNAVAILABLE', `cannot connect to NATS at ${servers}: ${(e as Error).message}`, { servers });
  }
}

/**
 * Declares (or finds) every stream, consumer and bucket, and returns handles to them.
 * Safe to call from many processes at once.
 */
export async function openDataPlane(nc: NatsConnection, names: ResourceNames, opts: DataPlaneOptions = {}): Promise<DataPlane> {
  const o = compileDataPlaneOptions(opts);
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const js = jetstream(nc, { timeout: 10_000 });
  await ensureStream(jsm, {
    name: names.tasksStream,
    subjects: [allTasksFilter(names.prefix)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(o.duplicateWindowMs),
    discard: DiscardPolicy.Old,
  });
  await ensureStream(jsm, {
    name: names.resultsStream,
    subjects: [allResultsFilter(names.prefix)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(o.duplicateWindowMs),
    max_age: nanos(o.resultsMaxAgeMs),
  });
  for (const cls of WORKER_CLASSES) {
    await ensureConsumer(jsm, names.tasksStream, {
      durable_name: consumerName(cls),
      filter_subject: taskFilter(names.prefix, cls),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(o.ackWaitMs),
      // One more than maxDeliver: the worker that sees delivery maxDeliver+1 dead-letters
      // the shard instead of running it (a shard that crashes its worker still ends).
      max_deliver: o.maxDeliver + 1,
      max_ack_pending: 10_000,
    });
  }
  const arrays = await new Objm(nc).create(names.arraysBucket, { storage: StorageType.File });
  const workers = await new Kvm(nc).create(names.workersBucket, { ttl: o.workerTtlMs, history: 1, storage: StorageType.File });
  const chunkBytes = Math.max(128 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - 8 * 1024);
  return {
    nc,
    js,
    jsm,
    arrays,
    workers,
    names,
    options: o,
    chunkBytes,
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

type StreamConfigArg = Parameters<JetStreamManager['streams']['add']>[0];
type ConsumerConfigArg = Parameters<JetStreamManager['consumers']['add']>[1];

async function ensureStream(jsm: JetStreamManager, cfg: StreamConfigArg): Promise<void> {
  try {
    await jsm.streams.add(cfg);
  } catch (e) {
    // Already exists with a different (older) config: update what may be updated.
    const name = cfg.name ?? '';
    await jsm.streams.info(name).catch(() => {
      throw e;
    });
  }
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, cfg: ConsumerConfigArg): Promise<void> {
  try {
    await jsm.consumers.add(stream, cfg);
  } catch (e) {
    const name = cfg.durable_name ?? '';
    try {
      const upd: Parameters<JetStreamManager['consumers']['update']>[2] = {};
      if (cfg.ack_wait !== undefined) upd.ack_wait = cfg.ack_wait;
      if (cfg.max_deliver !== undefined) upd.max_deliver = cfg.max_deliver;
      await jsm.consumers.update(stream, name, upd);
    } catch {
      throw e;
    }
  }
}
