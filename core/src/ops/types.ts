/**
 * The op catalogue's types. An op is one file in `core/src/ops/`: its wire name, attribute
 * validation, input checks and a float64 reference implementation. Backends (wasm, gpu)
 * register kernels for op ids in a {@link KernelRegistry}; the reference is the oracle the
 * conformance suite compares every backend against.
 */
import type { NdArray } from '../array';
import { GramfleetError } from '../errors';

/** Definition of one op. `A` is the validated attribute type. */
export interface OpDef<A> {
  /** Stable lowercase wire name (add, never rename). */
  readonly id: string;
  /** One line for docs and `--help`. */
  readonly summary: string;
  /** Validates raw attributes (from JSON) and returns a frozen normalised copy. Throws `INPUT_*`. */
  parseAttrs(raw: unknown): A;
  /** Validates input arrays against the attributes. Throws `INPUT_*`. */
  /**
   * Checks the inputs against the attributes. With `verified`, these very inputs (the same
   * content digests) passed this op's checks before in this process: checks that only scan the
   * inputs' data may be skipped (those that involve `attrs` may not).
   */
  checkInputs(attrs: A, inputs: readonly NdArray[], o?: { readonly verified?: boolean }): void;
  /** The float64 reference implementation (the test oracle). */
  reference(attrs: A, inputs: readonly NdArray[]): NdArray[];
}

/** An op with its attribute type erased, as held by catalogues. */
export type AnyOpDef = OpDef<unknown>;

/** What a kernel may use while it runs. */
export interface KernelContext {
  /** Called now and then by long kernels; the host turns it into in-progress acks. */
  readonly progress?: (fraction: number) => void;
  /** The inputs' content digests (one per input, undefined where unknown): a backend may keep a copy of a read-only input by it. */
  readonly keys?: readonly (string | undefined)[];
  /** The inputs passed this op's data checks before in this process (see {@link OpDef.checkInputs}). */
  readonly verified?: boolean;
}

/** A backend's implementation of one op. */
export type KernelImpl<A = unknown> = (attrs: A, inputs: readonly NdArray[], ctx: KernelContext) => NdArray[] | Promise<NdArray[]>;

/** A kernel registry, created per process and passed down (no global state). */
export interface KernelRegistry {
  /** Registers a kernel; registering the same (backend, op) twice throws `KERNEL_DUPLICATE`. */
  register<A>(backend: string, op: OpDef<A>, impl: KernelImpl<A>): void;
  /** The kernel for (backend, op), or throws `KERNEL_NOT_REGISTERED`. */
  get(backend: string, opId: string): KernelImpl;
  /** Whether (backend, op) has a kernel. */
  has(backend: string, opId: string): boolean;
  /** Op ids a backend implements. */
  ops(backend: string): string[];
  /** Backends that registered anything. */
  backends(): string[];
}

/** Creates an empty {@link KernelRegistry}. */
export function createKernelRegistry(): KernelRegistry {
  const m = new Map<string, Map<string, KernelImpl>>();
  return {
    register<A>(backend: string, op: OpDef<A>, impl: KernelImpl<A>): void {
      let b = m.get(backend);
      if (b === undefined) {
        b = new Map();
        m.set(backend, b);
      }
      if (b.has(op.id)) throw new GramfleetError('KERNEL_DUPLICATE', `kernel ${backend}/${op.id} registered twice`, { backend, op: op.id });
      b.set(op.id, impl as KernelImpl);
    },
    get(backend: string, opId: string): KernelImpl {
      const k = m.get(backend)?.get(opId);
      if (k === undefined) throw new GramfleetError('KERNEL_NOT_REGISTERED', `no ${backend} kernel for op ${opId}`, { backend, op: opId });
      return k;
    },
    has(backend: string, opId: string): boolean {
      return m.get(backend)?.has(opId) ?? false;
    },
    ops(backend: string): string[] {
      return [...(m.get(backend)?.keys() ?? [])].sort();
    },
    backends(): string[] {
      return [...m.keys()].sort();
    },
  };
}

/** A read-only catalogue of ops by id. */
export interface OpCatalogue {
  get(id: string): AnyOpDef;
  has(id: string): boolean;
  ids(): string[];
}

/** Builds a catalogue; duplicate ids throw `KERNEL_DUPLICATE`. */
export function createOpCatalogue(ops: readonly AnyOpDef[]): OpCatalogue {
  const m = new Map<string, AnyOpDef>();
  for (const op of ops) {
    if (m.has(op.id)) throw new GramfleetError('KERNEL_DUPLICATE', `op ${op.id} defined twice`, { op: op.id });
    m.set(op.id, op);
  }
  return {
    get(id: string): AnyOpDef {
      const op = m.get(id);
      if (op === undefined) throw new GramfleetError('INPUT_UNKNOWN_OP', `unknown op ${JSON.stringify(id)}; known: ${[...m.keys()].join(', ')}`, { op: id });
      return op;
    },
    has: (id: string) => m.has(id),
    ids: () => [...m.keys()].sort(),
  };
}
