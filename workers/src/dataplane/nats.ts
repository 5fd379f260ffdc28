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
import { connectRefusal, natsConnectOptions, type NatsAuth } from '../security/auth';
import {
  GramfleetError,
  UNCOUNTED_LOSSES,
  WORKER_CLASSES,
  allResultsFilter,
  allTasksFilter,
  consumerName,
  taskFilter,
  type ResourceNames,
} from '@gramfleet/core';

// The object store hashes every chunk it puts and gets (SHA-256, its own integrity check);
// its default is a pure-JS hash, which capped puts and gets near 65 MB/s. Every process of the
// data plane runs on Node: use node:crypto's.
setSha256Backend('native');

const GIB = 1024 ** 3;

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
  /** Tasks the durable queue holds at most; a publish beyond it is refused (QUEUE_FULL). @default 2,000,000 */
  readonly tasksMaxMsgs?: number;
  /**
   * Bytes the durable queue holds at most (discard new, as above). JetStream reserves a stream's
   * byte limit from the server's store: a default that does not fit is halved until it does
   * (down to 64 MiB); a limit set here that does not fit is an error. @default 2 GiB
   */
  readonly tasksMaxBytes?: number;
  /** Bytes the results stream holds at most (discard new; results also expire after `resultsMaxAgeMs`). @default 2 GiB */
  readonly resultsMaxBytes?: number;
  /** Bytes the array object store holds at most; a put beyond it is refused (STORE_FULL). @default 8 GiB */
  readonly arraysMaxBytes?: number;
  /**
   * Copies JetStream keeps of every stream, KV bucket and object store the data plane creates
   * (1, 3 or 5; more than 1 needs a clustered NATS with at least that many servers). Applies
   * when a resource is created: an existing one keeps its replica count. @default 1
   */
  readonly replicas?: number;
}

/** Replica counts JetStream accepts for a stream (an odd count keeps a Raft majority). */
export const NATS_REPLICA_COUNTS: readonly number[] = [1, 3, 5];

/** Validated, defaulted {@link DataPlaneOptions}; `explicit` names the byte limits the caller set. */
export type CompiledDataPlaneOptions = Required<DataPlaneOptions> & { readonly explicit: readonly string[] };

/** Fills in defaults. */
export function compileDataPlaneOptions(o: DataPlaneOptions = {}): CompiledDataPlaneOptions {
  return Object.freeze({
    ackWaitMs: o.ackWaitMs ?? 15_000,
    maxDeliver: o.maxDeliver ?? 5,
    duplicateWindowMs: o.duplicateWindowMs ?? 6 * 3600_000,
    resultsMaxAgeMs: o.resultsMaxAgeMs ?? 7 * 24 * 3600_000,
    workerTtlMs: o.workerTtlMs ?? 15_000,
    tasksMaxMsgs: o.tasksMaxMsgs ?? 2_000_000,
    tasksMaxBytes: o.tasksMaxBytes ?? 2 * GIB,
    resultsMaxBytes: o.resultsMaxBytes ?? 2 * GIB,
    arraysMaxBytes: o.arraysMaxBytes ?? 8 * GIB,
    replicas: checkReplicas(o.replicas ?? 1),
    explicit: (['tasksMaxBytes', 'resultsMaxBytes', 'arraysMaxBytes'] as const).filter((k) => o[k] !== undefined),
  });
}

/** `n` when it is a replica count JetStream keeps (1, 3 or 5), else INPUT_OUT_OF_RANGE naming `replicas`. */
export function checkReplicas(n: number, field = 'replicas'): number {
  if (!NATS_REPLICA_COUNTS.includes(n))
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `${field} must be one of ${NATS_REPLICA_COUNTS.join(', ')}, got ${n}`, {
      field,
      bound: NATS_REPLICA_COUNTS.join(' | '),
      value: n,
    });
  return n;
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
  /** Limits as declared on this server (a default may have been lowered to fit its store). */
  readonly limits: { readonly arraysMaxBytes: number };
  /**
   * Object-store chunk size for this server: its largest message less room for headers (a
   * 1 MB default payload gives ~1 MB chunks, an eighth of the messages of the client's
   * 128 KiB default, so puts, gets and deletes of large arrays handle fewer messages).
   */
  readonly chunkBytes: number;
  /**
   * Declares every stream, consumer and bucket again (what {@link openDataPlane} does), for a server
   * that came back without them (a one-replica store wiped or lost); resolves once they exist, or
   * after 30 s of failed tries. Runs by itself after each reconnect; callers that see a resource
   * missing may call it too (one run at a time). @returns whether it succeeded
   */
  redeclare(): Promise<boolean>;
  /** Times the resources were declared again after a reconnect or a call (see {@link redeclare}). */
  readonly redeclared: () => number;
  /**
   * Times this process found the task queue's stream made anew since it last looked (its creation
   * time changed: the server lost it, and this process or another declared it again): tasks this
   * process had queued there are gone, and an owner sends them again.
   */
  readonly queueLost: () => number;
  /** Drains and closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects with endless reconnects (servers restart; clients must ride through it), as the
 * identity and with the TLS trust of `auth` (GRAMFLEET_NATS_CREDS / _CA / _CERT / _KEY). A server
 * that refuses the identity, or whose certificate the CA does not vouch for, fails with
 * (respectively)
 * `CLUSTER_UNAUTHENTICATED` or `CLUSTER_TLS_FAILED`.
 */
export async function connectNats(servers: string, name: string, auth: NatsAuth = {}): Promise<NatsConnection> {
  const opts = natsConnectOptions(auth);
  try {
    return await connect({
      servers: natsServerList(servers),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
      timeout: 5_000,
      ...opts,
    });
  } catch (e) {
    const refused = connectRefusal(e);
    const why =
      refused === 'CLUSTER_UNAUTHENTICATED'
        ? " (the server refused the credentials: set GRAMFLEET_NATS_CREDS to this cluster's .creds file)"
        : refused === 'CLUSTER_TLS_FAILED'
          ? " (TLS failed: GRAMFLEET_NATS_CA must name the CA that signed the server's certificate)"
          : '';
    throw new GramfleetError(refused ?? 'CLUSTER_UNAVAILABLE', `cannot connect to NATS at ${servers}${why}: ${(e as Error).message}`, {
      servers,
      ...(auth.credsFile !== undefined ? { creds: auth.credsFile } : {}),
      ...(auth.caFile !== undefined ? { ca: auth.caFile } : {}),
    });
  }
}

/** The servers of a NATS URL list: `nats://a:4222,nats://b:4222` names two (a clustered NATS's seeds). */
export function natsServerList(servers: string): string[] {
  return servers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Declares (or finds) every stream, consumer and bucket, and returns handles to them.
 * Safe to call from many processes at once.
 */
export async function openDataPlane(nc: NatsConnection, names: ResourceNames, opts: DataPlaneOptions = {}): Promise<DataPlane> {
  const o = compileDataPlaneOptions(opts);
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const js = jetstream(nc, { timeout: 10_000 });
  const arraysBytes = await declareResources(nc, jsm, names, o);
  const arrays = await new Objm(nc).open(names.arraysBucket);
  const workers = await new Kvm(nc).open(names.workersBucket);
  const chunkBytes = Math.max(128 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - 8 * 1024);
  let redeclaring: Promise<boolean> | undefined;
  let redeclared = 0;
  let queueLost = 0;
  const queueCreated = (): Promise<string | undefined> =>
    jsm.streams.info(names.tasksStream).then(
      (i) => i.created,
      () => undefined,
    );
  let tasksCreated = await queueCreated();
  const redeclare = (): Promise<boolean> =>
    (redeclaring ??= (async () => {
      // Right after a restart the server may not serve JetStream yet: tries for 30 s.
      for (const until = Date.now() + 30_000; !nc.isClosed();) {
        try {
          await declareResources(nc, jsm, names, o);
          redeclared++;
          const created = await queueCreated();
          if (created !== undefined && tasksCreated !== undefined && created !== tasksCreated) queueLost++;
          if (created !== undefined) tasksCreated = created;
          return true;
        } catch {
          if (Date.now() > until) return false;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      return false;
    })().finally(() => {
      redeclaring = undefined;
    }));
  // A server that comes back may have lost its store (one replica, disk wiped): declaring is
  // idempotent, so every reconnect declares again. An identity that may not create a resource
  // (a worker) leaves it to one that may (the orchestrator).
  void (async () => {
    for await (const st of nc.status()) if (st.type === 'reconnect') void redeclare();
  })().catch(() => undefined);
  return {
    nc,
    js,
    jsm,
    arrays,
    workers,
    names,
    options: o,
    limits: { arraysMaxBytes: arraysBytes },
    chunkBytes,
    redeclare,
    redeclared: () => redeclared,
    queueLost: () => queueLost,
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/** Declares (or finds) the data plane's streams, consumers and buckets; returns the arrays bucket's byte limit. */
async function declareResources(nc: NatsConnection, jsm: JetStreamManager, names: ResourceNames, o: CompiledDataPlaneOptions): Promise<number> {
  const fit = { ...o, prefix: names.prefix };
  const ctx: FitContext = {};
  await ensureStream(jsm, fit, ctx, 'tasksMaxBytes', {
    name: names.tasksStream,
    subjects: [allTasksFilter(names.prefix)],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(o.duplicateWindowMs),
    // A full queue refuses new tasks (the publisher gets QUEUE_FULL) rather than dropping old ones.
    discard: DiscardPolicy.New,
    max_msgs: o.tasksMaxMsgs,
    max_bytes: o.tasksMaxBytes,
    num_replicas: o.replicas,
  });
  await ensureStream(jsm, fit, ctx, 'resultsMaxBytes', {
    name: names.resultsStream,
    subjects: [allResultsFilter(names.prefix)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(o.duplicateWindowMs),
    max_age: nanos(o.resultsMaxAgeMs),
    discard: DiscardPolicy.New,
    max_bytes: o.resultsMaxBytes,
    num_replicas: o.replicas,
  });
  for (const cls of WORKER_CLASSES) {
    await ensureConsumer(jsm, names.tasksStream, {
      durable_name: consumerName(cls),
      filter_subject: taskFilter(names.prefix, cls),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(o.ackWaitMs),
      // One more than the deliveries a task may use: maxDeliver counted ones, plus the shared
      // losses that are not counted (core UNCOUNTED_LOSSES); the worker that sees the one after
      // dead-letters the shard instead of running it (a shard that crashes its worker still ends).
      max_deliver: o.maxDeliver + UNCOUNTED_LOSSES + 1,
      max_ack_pending: 10_000,
    });
  }
  const arraysBytes = await fitting(jsm, fit, ctx, 'arraysMaxBytes', o.arraysMaxBytes, async (max_bytes) => {
    await new Objm(nc).create(names.arraysBucket, { storage: StorageType.File, max_bytes, replicas: o.replicas });
    await ensureLimits(jsm, `OBJ_${names.arraysBucket}`, { max_bytes, discard: DiscardPolicy.New });
  });
  await new Kvm(nc).create(names.workersBucket, { ttl: o.workerTtlMs, history: 1, storage: StorageType.File, replicas: o.replicas });
  return arraysBytes;
}

type StreamConfigArg = Parameters<JetStreamManager['streams']['add']>[0];
type ConsumerConfigArg = Parameters<JetStreamManager['consumers']['add']>[1];

/** The smallest byte limit a default is lowered to. */
const MIN_FITTED_BYTES = 64 * 1024 * 1024;

/** Where defaults had to be lowered: the cap every later default gets too (a quarter of the room found). */
interface FitContext {
  cap?: number;
}

function isShortOfStore(e: unknown): boolean {
  return /insufficient (storage )?resources/i.test((e as Error).message ?? '');
}

/**
 * The largest byte limit the server will still reserve from its JetStream store, found by
 * declaring (and deleting) a probe stream with halving limits. Called only when a default did
 * not fit.
 */
async function storeRoom(jsm: JetStreamManager, prefix: string, replicas: number): Promise<number> {
  const name = `${prefix}_LIMITS_PROBE_${Math.random().toString(36).slice(2, 8)}`;
  for (let b = 2 ** 44; b >= MIN_FITTED_BYTES; b = Math.floor(b / 2)) {
    try {
      await jsm.streams.add({ name, subjects: [`${prefix}.limits-probe.${name}`], storage: StorageType.File, max_bytes: b, num_replicas: replicas });
      await jsm.streams.delete(name).catch(() => undefined);
      return b;
    } catch (e) {
      if (!isShortOfStore(e)) throw e;
    }
  }
  return 0;
}

/**
 * Runs `declare` with the byte limit `bytes`. JetStream reserves a stream's byte limit from the
 * server's store; where a default does not fit, the room left is measured once and this and every
 * later default are capped at a quarter of it (the rest stays for buckets and other streams). A
 * limit the caller set that does not fit is INPUT_OUT_OF_RANGE naming it. Returns the limit declared.
 */
async function fitting(
  jsm: JetStreamManager,
  o: CompiledDataPlaneOptions & { readonly prefix: string },
  ctx: FitContext,
  field: string,
  bytes: number,
  declare: (maxBytes: number) => Promise<void>,
): Promise<number> {
  const explicit = o.explicit.includes(field);
  let b = explicit || ctx.cap === undefined ? bytes : Math.min(bytes, ctx.cap);
  for (;;) {
    try {
      await declare(b);
      return b;
    } catch (e) {
      if (!isShortOfStore(e)) throw e;
      if (!explicit && ctx.cap === undefined) {
        ctx.cap = Math.floor((await storeRoom(jsm, o.prefix, o.replicas)) / 4);
        b = Math.min(b, ctx.cap);
      } else {
        b = explicit ? b : Math.floor(b / 2);
      }
      if (explicit || b < MIN_FITTED_BYTES) {
        throw new GramfleetError(
          'INPUT_OUT_OF_RANGE',
          `${field} = ${explicit ? bytes : b} bytes does not fit the NATS server's JetStream store (${(e as Error).message})`,
          {
            field,
            bound: 'the JetStream store (max_file_store) less the other streams',
            value: explicit ? bytes : b,
          },
        );
      }
    }
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  o: CompiledDataPlaneOptions & { readonly prefix: string },
  ctx: FitContext,
  field: string,
  cfg: StreamConfigArg,
): Promise<void> {
  await fitting(jsm, o, ctx, field, cfg.max_bytes ?? -1, (max_bytes) => declareStream(jsm, { ...cfg, max_bytes }));
}

async function declareStream(jsm: JetStreamManager, cfg: StreamConfigArg): Promise<void> {
  try {
    await jsm.streams.add(cfg);
  } catch (e) {
    // Already exists with a different (older) config: give it limits if it has none.
    const name = cfg.name ?? '';
    await jsm.streams.info(name).catch(() => {
      throw e;
    });
    await ensureLimits(jsm, name, {
      ...(cfg.max_msgs !== undefined ? { max_msgs: cfg.max_msgs } : {}),
      ...(cfg.max_bytes !== undefined ? { max_bytes: cfg.max_bytes } : {}),
      ...(cfg.discard !== undefined ? { discard: cfg.discard } : {}),
    });
  }
}

/**
 * Gives a stream declared before limits existed (no max_msgs/max_bytes) the limits and discard
 * policy of `want`. A stream that has limits keeps them: they were set on purpose, by whoever
 * declared it first or by an operator.
 */
async function ensureLimits(jsm: JetStreamManager, name: string, want: { max_msgs?: number; max_bytes?: number; discard?: DiscardPolicy }): Promise<void> {
  const cur = (await jsm.streams.info(name)).config;
  const upd: Partial<typeof cur> = {};
  if (want.max_msgs !== undefined && cur.max_msgs <= 0) upd.max_msgs = want.max_msgs;
  if (want.max_bytes !== undefined && cur.max_bytes <= 0) upd.max_bytes = want.max_bytes;
  if (Object.keys(upd).length === 0) return;
  if (want.discard !== undefined) upd.discard = want.discard;
  await jsm.streams.update(name, upd);
}

/** The NATS error codes of a publish refused by a stream's limits (10077: store failed, e.g. "maximum messages exceeded"). */
const LIMIT_ERR_CODES = new Set([10077, 10023, 10047]);

/**
 * A typed error for a publish that a stream or bucket refused because it is at its limits:
 * QUEUE_FULL for the task and results streams, STORE_FULL for the array store (both retryable:
 * room comes back as jobs finish). Undefined for any other failure.
 */
export function limitError(e: unknown, what: 'tasks' | 'results' | 'arrays', limit: number): GramfleetError | undefined {
  const err = e as { api_error?: { err_code?: number; description?: string }; code?: string; message?: string };
  const code = err.api_error?.err_code;
  const text = `${err.api_error?.description ?? ''} ${err.message ?? ''}`;
  // The server's own disk full (its store volume, below any stream limit): the same code, saying so.
  const disk = /no space left on device/i.test(text);
  const full =
    disk ||
    (code !== undefined && LIMIT_ERR_CODES.has(code)) ||
    /maximum (messages|bytes)|insufficient (storage )?resources|resource limits exceeded/i.test(text);
  if (!full) return undefined;
  if (disk)
    return new GramfleetError(
      what === 'arrays' ? 'STORE_FULL' : 'QUEUE_FULL',
      `the NATS server's disk is full (its JetStream store volume, below the ${what === 'arrays' ? 'array store' : `${what} stream`}'s own limit): ${text.trim()}; free space on that volume or make it larger`,
      { field: 'jetstream store volume', bound: limit },
    );
  const field = what === 'tasks' ? 'tasksMaxBytes/tasksMaxMsgs' : what === 'results' ? 'resultsMaxBytes' : 'arraysMaxBytes';
  return new GramfleetError(
    what === 'arrays' ? 'STORE_FULL' : 'QUEUE_FULL',
    `the ${what === 'arrays' ? 'array store' : `${what} stream`} is full (${field} = ${limit}): ${text.trim()}; retry when running jobs have finished, or raise the limit`,
    { field, bound: limit },
  );
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, cfg: ConsumerConfigArg): Promise<void> {
  const have = await jsm.consumers.info(stream, cfg.durable_name ?? '').catch(() => null);
  if (have !== null && have.config.ack_wait === cfg.ack_wait && have.config.max_deliver === cfg.max_deliver) return;
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
      // An identity that may not manage consumers (a worker, a client) uses the one there.
      await jsm.consumers.info(stream, name).catch(() => {
        throw e;
      });
    }
  }
}
