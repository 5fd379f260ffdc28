/**
 * The SDK's types: `connect()`'s options, the {@link Fleet} it returns and the
 * {@link JobHandle} of a submitted job. They live apart from `./sdk.ts` (which implements them
 * through the workload registry) so that the CLI commands, which the registry lists, can take a
 * `Fleet` without an import cycle: this module reaches the workloads' types only
 * (`../job-types.ts`), never the registry.
 */
import type { ArrayRef, CsrArrays, CsrRef, DatagenJobInput, DatagenJobResult, Logger, NdArray, WorkerRecord } from '@gramfleet/core';
import type { DataPlaneOptions, NatsAuth, StoreTiersConfig, UploadProgress } from '@gramfleet/workers';
import type { LocalCluster } from '../cluster/local-cluster';
import type { CampaignClient } from '../campaign/client';
import type { DatasetManifest } from '../datagen/submit';
import type { EventFor, JobKind, JobSpec, ProgressFor, ResultFor } from '../job-types';
import type { RaySdk } from './ray';
import type { ObjectsClient } from '../io/objects';
import type { TemporalSecurity } from '../security/temporal';
import type { JobDescription, JobOutputRecipe, JobsService } from '../jobs/types';

/** Options of `connect()` (`./sdk.ts`). With none, the current context: the local cluster unless `gramfleet context use` picked another. */
export interface ConnectOptions {
  /**
   * A cluster context by name (`gramfleet context add`), or `local`. Its addresses and
   * credentials are used, each overridden by its environment variable where set.
   * @default $GRAMFLEET_CONTEXT, else the contexts file's current context, else `local`
   */
  readonly context?: string;
  /** The contexts file. @default $GRAMFLEET_CONTEXTS_FILE, else `$XDG_CONFIG_HOME/gramfleet/contexts.json` (`~/.config/…`) */
  readonly contextsFile?: string;
  /** Temporal frontend `host:port` (with `natsUrl`: a remote cluster without a context). */
  readonly temporalAddress?: string;
  /**
   * How the connection to `temporalAddress` is secured: PEM files for TLS or mutual TLS, a file
   * holding an API key (sent as a bearer token). Checked before anything connects (a typed error
   * names the field). @default the GRAMFLEET_TEMPORAL_TLS_* and GRAMFLEET_TEMPORAL_API_KEY_FILE
   * variables (docs/config.md); unset: plaintext. Ignored for the local cluster, whose Temporal
   * dev server listens in plaintext on loopback only.
   */
  readonly temporalSecurity?: TemporalSecurity;
  /** NATS URL(s) (with `temporalAddress`). */
  readonly natsUrl?: string;
  /**
   * How the connection to `natsUrl` authenticates and is encrypted (credentials file, CA, client
   * certificate). @default the GRAMFLEET_NATS_* variables (docs/config.md). Ignored for the local
   * cluster, whose client identity is used.
   */
  readonly natsAuth?: NatsAuth;
  /** Temporal namespace of a remote cluster. @default the context's, else $GRAMFLEET_NAMESPACE, else 'default' */
  readonly namespace?: string;
  /** The orchestrator's task queue on a remote cluster. @default the context's, else $GRAMFLEET_TASK_QUEUE, else 'gramfleet' */
  readonly taskQueue?: string;
  /** Prefix of a remote cluster's NATS resources. @default the context's, else $GRAMFLEET_PREFIX, else 'gf' */
  readonly prefix?: string;
  /** Local cluster directory (the `local` context). @default $GRAMFLEET_HOME or `<repo>/.gramfleet/local` */
  readonly dataDir?: string;
  /** Start a local cluster when none runs (it is stopped by `close()`). @default true */
  readonly startLocal?: boolean;
  /**
   * Trace `submit` (and the Temporal client's calls) and the tasks this process runs, exported
   * over OTLP/HTTP to this collector base URL (see workers/src/tracing.ts for the spans).
   * @default GRAMFLEET_OTLP_ENDPOINT (unset: no tracing)
   */
  readonly otlpEndpoint?: string;
  /**
   * With `otlpEndpoint`: the share of submitted jobs traced, in [0, 1], decided per job from its
   * trace id (a job is traced whole or not at all). @default GRAMFLEET_OTLP_SAMPLE_RATIO, else 0.05
   */
  readonly otlpSampleRatio?: number;
  /** WASM workers of a local cluster started here. @default number of cores */
  readonly workers?: number;
  /** Data-plane tunables of a local cluster started here. */
  readonly dataPlane?: DataPlaneOptions;
  /** Memory budget that submitted problems must fit, bytes. @default 8 GiB */
  readonly memoryBudgetBytes?: number;
  /**
   * Tiers of this connection's array store. @default the local cluster's host store (shared memory
   * with its workers), or the object store only for a remote cluster
   */
  readonly store?: StoreTiersConfig;
  /**
   * Hears the upload of every array this connection writes to the object store (a submit's
   * inputs, `put`): its digest, bytes acknowledged and size, after each chunk. The CLI draws its
   * upload progress bar from it. A remote cluster's large arrays are reported once per stored
   * part, `stored` counting the bytes the cluster already held (a resumed upload).
   */
  readonly onUpload?: (e: UploadProgress) => void;
  /**
   * Arrays (`.npy` bytes) of at least this size that a submit or `put` sends to a remote cluster
   * travel as resumable uploads: parts by content digest, joined by the orchestrator, so an
   * interrupted upload, run again, sends only the missing parts (orchestrator/src/io/upload.ts).
   * @default 8 MiB
   */
  readonly resumableUploadBytes?: number;
  readonly log?: Logger;
}

/** A connection to a gramfleet cluster. */
export interface Fleet {
  /**
   * Validates a job of any kind (`grf`, `eigenpro`, `kron-gp`, `datagen`: the spec's `kind`),
   * reads and uploads its inputs and starts its workflow; bad input throws a typed error naming
   * the field before anything is scheduled. A `datagen` job whose id already runs (the same
   * parameters submitted again) is attached to, so a rerun resumes.
   */
  submit<S extends JobSpec>(spec: S, o?: SubmitOptions): Promise<JobHandle<S['kind']>>;
  /** A handle for a job of kind `kind` submitted earlier. */
  job<K extends JobKind>(kind: K, jobId: string): JobHandle<K>;
  /**
   * A handle for any job of the cluster, whoever submitted it: its kind is read from the
   * cluster (`JOB_NOT_FOUND` when there is no such job).
   */
  job(jobId: string): Promise<JobHandle>;
  /** List, describe and cancel the cluster's jobs of every kind (the module orchestrator/src/jobs/service.ts). */
  readonly jobs: FleetJobs;
  /** Reads a stored array. */
  getArray(ref: ArrayRef): Promise<NdArray>;
  /** Reads a stored CSR matrix (e.g. Φ from a GRF result). */
  getCsr(ref: CsrRef): Promise<CsrArrays>;
  /** Workers currently registered (heartbeating). */
  workers(): Promise<WorkerRecord[]>;
  /** The local cluster this connection started or attached to, if any. */
  readonly local: LocalCluster | undefined;
  /** Closes connections; stops the local cluster if this call started it. */
  close(): Promise<void>;
  /** Experiment campaigns: start, watch, results, cancel, list. */
  readonly campaigns: CampaignClient;
  /** Files (by content digest: deduplicated, resumable) and result arrays in the cluster's object store: `gramfleet put` / `get`. */
  readonly objects: ObjectsClient;
  /** Stores a value (arrays in the object store by reference; small values inline). */
  readonly put: RaySdk['put'];
  /** The value behind an object or task reference. */
  readonly get: RaySdk['get'];
  /** Checks and stores a user's WebAssembly module; returns its content digest. */
  readonly registerWasm: RaySdk['registerWasm'];
  /** One sandboxed task per input on the WASM workers. */
  readonly map: RaySdk['map'];
  /** Waits until some references are ready. */
  readonly wait: RaySdk['wait'];
  /** Writes a finished data-generation job's dataset (`.npy` shards + manifest) into a folder. */
  writeDataset(input: DatagenJobInput, result: DatagenJobResult, outDir: string, o?: { storeSystems?: boolean }): Promise<DatasetManifest>;
  /**
   * Deletes a finished data-generation job's result pages from the object store (once its
   * dataset is written; the CLI does it). Returns how many were deleted; idempotent.
   * Afterwards the job's `result()` fails with `STORE_MISSING_OBJECT` until it is submitted
   * again, which rewrites the pages without solving anything again.
   */
  releaseDatagenPages(jobId: string): Promise<number>;
}

/** Options of `fleet.submit`. */
export interface SubmitOptions {
  /**
   * How the submitting command writes the job's results, recorded with the job so that
   * `gramfleet jobs result ID` writes the same files later, from any machine. The CLI sets it.
   */
  readonly output?: JobOutputRecipe;
  /**
   * Trace this job whatever the sample ratio (with tracing on: `otlpEndpoint` or
   * GRAMFLEET_OTLP_ENDPOINT). @default false (traced with the ratio's probability)
   */
  readonly trace?: boolean;
}

/** `fleet.jobs`: the jobs service of this connection, plus handles by id. */
export interface FleetJobs extends JobsService {
  /** The same as `fleet.job(jobId)`. */
  get(jobId: string): Promise<JobHandle>;
}

/** A submitted job. */
export interface JobHandle<K extends JobKind = JobKind> {
  readonly jobId: string;
  readonly kind: K;
  /** The job's state, progress (while it runs), error (when it did not complete) and recorded output recipe. */
  status(): Promise<JobDescription>;
  /** The job's progress (phase, shards or systems done; the shape is the kind's). */
  progress(): Promise<ProgressFor<K>>;
  /**
   * Calls `onEvent` with the job's progress events until it ends and resolves with its result:
   * EigenPro's setup, per-epoch, checkpoint and resume events; for other kinds each change of
   * `progress()`. A throwing listener does not stop the job.
   */
  watch(onEvent: (e: EventFor<K>) => void): Promise<ResultFor<K>>;
  /** Waits for the result; a failed job rejects with a GramfleetError carrying the code. */
  result(): Promise<ResultFor<K>>;
  /** Cancels the job: outstanding shards are purged and workers drop them. */
  cancel(): Promise<void>;
}
