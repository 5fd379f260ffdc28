/**
 * The job types of every workload kind: the union `fleet.submit` takes and what a handle of
 * each kind returns. It is the type half of the registry (`./registry.ts` holds the workloads
 * themselves and checks at compile time that both list the same kinds): the SDK's `Fleet` and
 * `JobHandle` (`./client/fleet.ts`) are typed from here, so the CLI commands that the registry
 * lists can use them without an import cycle through the registry.
 */
import type { GrfTypes } from './grf/submit';
import type { EigenProTypes } from './eigenpro/submit';
import type { KronGpTypes } from './kron/submit';
import type { DatagenTypes } from './datagen/submit';

/** The type bundles of every workload (a union), one line each, as in `WORKLOADS`. */
export type AnyWorkloadTypes = GrfTypes | EigenProTypes | KronGpTypes | DatagenTypes;

/** A workload kind. */
export type JobKind = AnyWorkloadTypes['kind'];
/** The type bundle of one kind. */
export type TypesFor<K extends JobKind> = Extract<AnyWorkloadTypes, { readonly kind: K }>;
/** Every job spec `fleet.submit` takes: a union discriminated by `kind`. */
export type JobSpec = AnyWorkloadTypes['spec'];
/** The spec of one kind. */
export type SpecFor<K extends JobKind> = TypesFor<K>['spec'];
/** The result of one kind. */
export type ResultFor<K extends JobKind> = TypesFor<K>['result'];
/** The progress of one kind. */
export type ProgressFor<K extends JobKind> = TypesFor<K>['progress'];
/** The progress events of one kind. */
export type EventFor<K extends JobKind> = TypesFor<K>['event'];
