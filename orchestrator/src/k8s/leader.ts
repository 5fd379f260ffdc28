/**
 * Leader election over a `coordination.k8s.io/v1` Lease, with client-go's semantics, so that of
 * several controller replicas exactly one reconciles at a time and a standby takes over when the
 * leader dies:
 *
 * - A candidate takes the Lease when it is free (no holder) or when its record has not changed
 *   for `leaseDurationMs` *as observed on the candidate's own clock* (the holder's `renewTime` is
 *   never compared with the local clock, so skewed clocks do not shorten a lease). A fresh
 *   candidate therefore waits one whole lease duration before it takes over a lease it has never
 *   seen renewed.
 * - Every write is a replace carrying the `resourceVersion` that was read: of two candidates that
 *   race, the API server lets one win (409 Conflict for the other).
 * - The leader renews every `retryPeriodMs`. If it has not renewed for `renewDeadlineMs` (less
 *   than the lease duration) it stops leading at once, before anyone else may take the Lease.
 * - {@link LeaderElector.stop} releases a held Lease (empty holder, 1 s duration) so a standby
 *   takes over within about a retry period instead of a lease duration.
 */
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { GramfleetError, type Logger } from '@gramfleet/core';
import { k8s, type KubeConfig, type K8s } from './client';

/** Options of {@link LeaderElector.start}. */
export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  readonly namespace: string;
  /** Name of the Lease. @default 'gramfleet-controller' */
  readonly name?: string;
  /** This candidate's identity, written as the Lease's holder. @default `<hostname>_<random>` */
  readonly identity?: string;
  /** How long a Lease not renewed stays held, ms. @default 15000 */
  readonly leaseDurationMs?: number;
  /** A leader that has not renewed for this long stops leading, ms (< leaseDurationMs). @default 10000 */
  readonly renewDeadlineMs?: number;
  /** How often a candidate tries to take, and the leader to renew, the Lease, ms. @default 2000 */
  readonly retryPeriodMs?: number;
  /** Called once when this candidate becomes the leader. */
  readonly onStartedLeading: () => void | Promise<void>;
  /** Called once when it stops leading (lost the Lease, or {@link LeaderElector.stop}). */
  readonly onStoppedLeading: (why: 'lost' | 'stopped') => void | Promise<void>;
  readonly log?: Logger;
}

type Lease = K8s.V1Lease;

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The default identity: the pod's name (a pod's hostname) and a random suffix, unique per process. */
export function defaultLeaderIdentity(): string {
  return `${os.hostname()}_${randomBytes(4).toString('hex')}`;
}

/** One candidate for a Lease. */
export class LeaderElector {
  /** This candidate's identity. */
  readonly identity: string;
  private readonly api: K8s.CoordinationV1Api;
  private readonly name: string;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  /** The last record seen (holder + renew time + version) and when, on the local clock. */
  private observed: { key: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private loop: Promise<void> = Promise.resolve();

  private constructor(private readonly o: LeaderElectionOptions) {
    this.identity = o.identity ?? defaultLeaderIdentity();
    this.name = o.name ?? 'gramfleet-controller';
    this.leaseMs = o.leaseDurationMs ?? 15_000;
    this.renewMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.log = o.log ?? silent;
    for (const [field, v] of [
      ['leaseDurationMs', this.leaseMs],
      ['renewDeadlineMs', this.renewMs],
      ['retryPeriodMs', this.retryMs],
    ] as const) {
      if (!Number.isInteger(v) || v < 100)
        throw new GramfleetError('INPUT_OUT_OF_RANGE', `leader election ${field} = ${v} must be an integer ≥ 100 ms`, { field, bound: '≥ 100', value: v });
    }
    if (this.renewMs >= this.leaseMs)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `leader election renewDeadlineMs = ${this.renewMs} must be less than leaseDurationMs = ${this.leaseMs}`, {
        field: 'renewDeadlineMs',
        bound: `< leaseDurationMs (${this.leaseMs})`,
        value: this.renewMs,
      });
    if (this.retryMs >= this.renewMs)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `leader election retryPeriodMs = ${this.retryMs} must be less than renewDeadlineMs = ${this.renewMs}`, {
        field: 'retryPeriodMs',
        bound: `< renewDeadlineMs (${this.renewMs})`,
        value: this.retryMs,
      });
    this.api = o.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  }

  /** Starts campaigning (in the background); returns at once. */
  static start(o: LeaderElectionOptions): LeaderElector {
    const e = new LeaderElector(o);
    e.schedule(0);
    return e;
  }

  /** Whether this candidate holds the Lease now. */
  isLeader(): boolean {
    return this.leading;
  }

  /** Stops campaigning; a held Lease is released (then onStoppedLeading('stopped')). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    try {
      const cur = await this.read();
      if (cur?.spec?.holderIdentity === this.identity) {
        await this.write({ ...cur, spec: { ...cur.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: micro(new Date()) } });
        this.log.info('leader election: lease released', { lease: this.name, identity: this.identity });
      }
    } catch (e) {
      this.log.warn('leader election: could not release the lease (a standby takes it once it expires)', { err: (e as Error).message });
    }
    await this.o.onStoppedLeading('stopped');
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.loop = this.tick().finally(() => this.schedule(this.retryMs));
    }, ms);
  }

  private async tick(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (e) {
      this.log.warn('leader election: lease call failed', { lease: this.name, err: (e as Error).message });
    }
    if (this.stopped) return;
    const now = Date.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.log.info('leader election: became the leader', { lease: this.name, identity: this.identity });
        await this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew >= this.renewMs) {
      // Not renewed within the deadline: stop before the lease can expire for the others.
      this.leading = false;
      this.stopped = true;
      this.log.error('leader election: lost the lease (not renewed within the deadline); stopping', {
        lease: this.name,
        identity: this.identity,
        renewDeadlineMs: this.renewMs,
      });
      await this.o.onStoppedLeading('lost');
    }
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.name, namespace: this.o.namespace });
    } catch (e) {
      if ((e as { code?: unknown }).code === 404) return undefined;
      throw e;
    }
  }

  private write(l: Lease): Promise<Lease> {
    return this.api.replaceNamespacedLease({ name: this.name, namespace: this.o.namespace, body: l });
  }

  /** One try: true when this candidate holds the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      renewTime: micro(now),
    };
    const cur = await this.read();
    if (cur === undefined) {
      try {
        await this.api.createNamespacedLease({
          namespace: this.o.namespace,
          body: { metadata: { name: this.name, namespace: this.o.namespace }, spec: { ...spec, acquireTime: micro(now), leaseTransitions: 0 } },
        });
        return true;
      } catch (e) {
        if ((e as { code?: unknown }).code === 409) return false; // another candidate created it first
        throw e;
      }
    }
    const s = cur.spec ?? {};
    const holder = s.holderIdentity ?? '';
    const key = `${holder}|${timeText(s.renewTime)}|${cur.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: Date.now() };
    const durationMs = (s.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== this.identity && this.observed.at + durationMs > Date.now()) return false;
    const mine = holder === this.identity;
    try {
      await this.write({
        ...cur,
        spec: {
          ...s,
          ...spec,
          acquireTime: mine && s.acquireTime !== undefined ? micro(s.acquireTime) : micro(now),
          leaseTransitions: (s.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      if (!mine) this.log.info('leader election: took the lease', { lease: this.name, from: holder === '' ? '(released)' : holder });
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === 409) return false; // changed since read: someone else won
      throw e;
    }
  }
}

/** A Lease time (MicroTime: six fractional digits on the wire). */
function micro(d: Date | string): Date {
  return new k8s.V1MicroTime(typeof d === 'string' ? Date.parse(d) : d.getTime());
}

/** A Lease time as read: the client library hands MicroTime fields over as strings, not Dates. */
function timeText(t: unknown): string {
  return t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : '';
}
