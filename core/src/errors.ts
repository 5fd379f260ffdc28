/**
 * One error type with a code catalogue. Codes are `AREA_REASON`; each is marked
 * permanent (retrying cannot help) or transient. Messages start with `[CODE]`.
 * Errors cross NATS as {@link ErrorPayload} and Temporal as an `ApplicationFailure`
 * whose `type` is the code. Code branches on `code`, never on message text.
 */

/** The code catalogue. `retryable: false` codes become non-retryable Temporal failures. */
export const ERROR_CODES = {
  INPUT_INVALID: { retryable: false, summary: 'a field is missing or has the wrong type' },
  INPUT_OUT_OF_RANGE: { retryable: false, summary: 'a numeric field is outside its bound' },
  INPUT_NOT_FINITE: { retryable: false, summary: 'a value is NaN or infinite' },
  INPUT_FILE_UNREADABLE: { retryable: false, summary: 'an input file is missing or cannot be parsed' },
  INPUT_SHAPE_MISMATCH: { retryable: false, summary: 'array shapes do not agree' },
  INPUT_NOT_SQUARE: { retryable: false, summary: 'a matrix that must be square is not' },
  INPUT_ASYMMETRIC: { retryable: false, summary: 'a matrix that must be symmetric is not' },
  INPUT_NEGATIVE_WEIGHT: { retryable: false, summary: 'a weight is negative' },
  INPUT_TOO_LARGE: { retryable: false, summary: 'the problem does not fit the configured memory budget' },
  INPUT_PATH_OUTSIDE_ROOTS: { retryable: false, summary: 'a file a campaign run names lies outside the data roots the orchestrator may read and write' },
  INPUT_UNKNOWN_OP: { retryable: false, summary: 'no such op in the catalogue' },
  CLI_USAGE: {
    retryable: false,
    summary: 'the command line does not parse: an unknown command, subcommand or flag, a flag without its value, or a required flag missing',
  },
  KERNEL_STATUS: { retryable: false, summary: 'a kernel returned a non-zero status' },
  KERNEL_TRAP: { retryable: true, summary: 'a WebAssembly instance trapped; the instance was replaced' },
  KERNEL_TIMEOUT: {
    retryable: true,
    summary: 'a kernel ran past its time limit (GRAMFLEET_KERNEL_TIMEOUT_MS or the job deadline); its thread was replaced and the task goes to another try',
  },
  KERNEL_NOT_REGISTERED: { retryable: false, summary: 'no backend has a kernel for this op' },
  KERNEL_DUPLICATE: { retryable: false, summary: 'a kernel was registered twice for one (backend, op)' },
  WORKER_MAX_DELIVER: { retryable: false, summary: 'a shard was delivered too many times and was dead-lettered' },
  WORKER_DRAINING: { retryable: true, summary: 'the worker is shutting down' },
  WORKER_NO_DEVICE: { retryable: false, summary: 'the backend found no device' },
  WORKER_BAD_RESULT: {
    retryable: false,
    summary: "a worker's result did not decode against its schema or did not name the shard it answers, on every try of the shard",
  },
  VERIFY_MISMATCH: { retryable: false, summary: 'a shard run again on a second worker gave different bytes (digests) than on the first' },
  VERIFY_NO_PEER: { retryable: false, summary: 'a shard chosen for verification found no second live worker of its class to run it again' },
  CLUSTER_NOT_RUNNING: { retryable: false, summary: 'no local cluster is running' },
  CLUSTER_START_FAILED: { retryable: false, summary: 'a cluster process failed to start' },
  CLUSTER_BINARY_MISSING: { retryable: false, summary: 'a server binary was not found; run the setup script' },
  CLUSTER_UNAVAILABLE: { retryable: true, summary: 'a cluster service did not answer' },
  CLUSTER_TLS_FAILED: {
    retryable: false,
    summary: 'a TLS connection to a server failed: its certificate is not trusted by the configured CA or names another host, or the server does not speak TLS',
  },
  CLUSTER_UNAUTHENTICATED: {
    retryable: false,
    summary: "a server refused this client's credentials: a missing or untrusted client certificate, or a missing or wrong API key",
  },
  CLUSTER_FORBIDDEN: {
    retryable: false,
    summary: "the NATS server refused an operation this identity's role does not permit (e.g. a client purging a bucket)",
  },
  STORE_MISSING_OBJECT: { retryable: true, summary: 'an object is not (yet) in the object store' },
  STORE_DIGEST_MISMATCH: { retryable: false, summary: 'stored bytes do not match their digest' },
  STORE_PATCH_BASE_MISSING: { retryable: false, summary: 'a patched array names a base this reader does not hold; its sender re-sends it whole' },
  STORE_FULL: { retryable: true, summary: 'the array object store is at its byte limit (GRAMFLEET_ARRAYS_MAX_BYTES); room comes back as jobs finish' },
  QUEUE_FULL: { retryable: true, summary: 'the durable task queue or the results stream is at its limit: back-pressure, retry later' },
  STORE_HOST_FULL: { retryable: true, summary: 'the host-local array store has no room left for an object that has no durable copy' },
  STORE_PEER_LOST: { retryable: true, summary: 'a peer holding an array went away or failed during a transfer' },
  JOB_CANCELLED: { retryable: false, summary: 'the job was cancelled' },
  JOB_FAILED: { retryable: false, summary: 'the job failed' },
  JOB_NOT_FOUND: {
    retryable: false,
    summary: 'no job with this id in the connected cluster (its Temporal namespace), or the id names a workflow that is not a job',
  },
  JOB_TIMEOUT: { retryable: true, summary: 'the job did not finish in time' },
  API_UNAUTHENTICATED: {
    retryable: false,
    summary: "the jobs HTTP API refused the request's token: none was sent, or it is malformed, unknown or revoked (make one with 'gramfleet token create')",
  },
  API_TOKEN_EXPIRED: { retryable: false, summary: "the jobs HTTP API token is past its expiry; make a new one with 'gramfleet token create'" },
  API_NOT_FOUND: { retryable: false, summary: 'the jobs HTTP API has no such job, campaign, object or route' },
  API_INTERNAL: { retryable: true, summary: 'the jobs HTTP API failed unexpectedly while answering; its log has the stack' },
  API_JOB_RUNNING: { retryable: true, summary: "a job's result was asked for before the job ended; wait for it (its events or status) and ask again" },
  // GPU backend
  GPU_LIBRARY_MISSING: { retryable: false, summary: 'a CUDA library (NVRTC, cuBLAS, cuSOLVER) could not be loaded or lacks a symbol' },
  GPU_CUDA_ERROR: { retryable: true, summary: 'a CUDA driver, cuBLAS or cuSOLVER call returned an error' },
  GPU_COMPILE_FAILED: { retryable: false, summary: 'NVRTC could not compile a CUDA C kernel' },
  GPU_OUT_OF_MEMORY: { retryable: true, summary: 'a device allocation would exceed the GPU memory budget' },
  CLUSTER_NO_GPU_WORKER: { retryable: false, summary: "backend 'gpu' was asked for but no GPU worker with the op is registered" },
  KERNEL_USER_TRAP: { retryable: false, summary: "a user's WebAssembly module trapped (its instance was discarded; the worker keeps serving)" },
  KERNEL_USER_TIMEOUT: { retryable: false, summary: "a user's WebAssembly task ran past its time limit and its thread was terminated" },
  KERNEL_USER_MEMORY_LIMIT: { retryable: false, summary: "a user's WebAssembly module needed more memory than its cap" },
  KERNEL_SANDBOX_DENIED: {
    retryable: false,
    summary: "a user's WebAssembly module tried to reach the host (files, sockets, environment) or imports what the sandbox does not provide",
  },
  KERNEL_BAD_MODULE: { retryable: false, summary: "a user's WebAssembly module is invalid or lacks the named export" },
  KERNEL_USER_OVER_LIMIT: {
    retryable: false,
    summary: "a user's WebAssembly task asks for more memory or time, or brings a larger module, than the workers' limits and policy allow",
  },
  SOLVER_NOT_CONVERGED: { retryable: false, summary: 'an iterative solver did not reach its tolerance within its mat-vec budget' },
} as const;

/** A code from {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The shape in which an error crosses NATS and Temporal. */
export interface ErrorPayload {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Type guard for codes received over the wire. */
export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, x);
}

/**
 * The one error class of gramfleet. `instanceof` is not relied on across the Temporal
 * sandbox; use {@link isGramfleetError} or compare `code`.
 */
export class GramfleetError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Whether a retry may succeed. */
  readonly retryable: boolean;
  /** Structured context: the field, the bound, the value. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message.startsWith(`[${code}]`) ? message : `[${code}] ${message}`);
    this.name = 'GramfleetError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.details = Object.freeze({ ...details });
  }

  /** The wire form. */
  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error from its wire form; unknown codes become `JOB_FAILED`. */
  static fromPayload(p: { code?: unknown; message?: unknown; details?: unknown }): GramfleetError {
    const code = isErrorCode(p.code) ? p.code : 'JOB_FAILED';
    const details = typeof p.details === 'object' && p.details !== null ? (p.details as Record<string, unknown>) : {};
    return new GramfleetError(code, typeof p.message === 'string' ? p.message : String(p.code), details);
  }
}

/** True when `e` is a gramfleet error (also across realms, by shape). */
export function isGramfleetError(e: unknown): e is GramfleetError {
  return (
    e instanceof GramfleetError ||
    (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'GramfleetError' && isErrorCode((e as { code?: unknown }).code))
  );
}

/** Error for a field that broke a bound; the message names the field, the bound and the value. */
export function outOfRange(field: string, bound: string, value: unknown): GramfleetError {
  return new GramfleetError('INPUT_OUT_OF_RANGE', `${field} must be ${bound}, got ${String(value)}`, { field, bound, value });
}

/** Error for a missing or mistyped field. */
export function invalidField(field: string, expected: string, value: unknown): GramfleetError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new GramfleetError('INPUT_INVALID', `${field} must be ${expected}, got ${shown}`, { field, expected, value: shown });
}
