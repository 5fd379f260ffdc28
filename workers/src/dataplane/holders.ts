/**
 * The directory of holders: which hosts hold which arrays in their host stores, and where their
 * peer servers listen, kept in a NATS KV bucket so a reader on another host can pull an array from
 * a holder (peer.ts) instead of the object store.
 *
 * Keys: `o.<digest>.<hostId>` (the host holds the array; written when it seals the array, removed
 * when it deletes it) and `h.<hostId>.<serverId>` (a peer server of the host: `{ addr, at }`,
 * refreshed every `refreshMs`; a server not refreshed for 4 periods counts as gone). An entry
 * for an array a host has since evicted costs a reader one "not held" answer; it then asks the
 * next holder.
 */
import { randomBytes } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';

/** The directory, as seen from one host. */
export interface HoldersDirectory {
  /** Records that this host holds `digest`. */
  add(digest: string): Promise<void>;
  /** Records that this host no longer holds `digest`. */
  remove(digest: string): Promise<void>;
  /** Addresses (`host:port`) of live peer servers of other hosts that hold `digest`, one per host. */
  holders(digest: string): Promise<string[]>;
  /** Advertises a peer server of this host at `addr` until `stop()` (resolves once the first entry is written). */
  advertise(addr: string): Promise<{ stop(): Promise<void> }>;
}

/** Options of {@link openHoldersDirectory}. */
export interface HoldersDirectoryOptions {
  /** How often a server's entry is refreshed. @default 5000 */
  readonly refreshMs?: number;
  /** Replicas of the bucket when this creates it (DataPlaneOptions.replicas). @default 1 */
  readonly replicas?: number;
}

/** Opens (creating if needed) the holders directory in KV bucket `bucket`, for host `hostId`. */
export async function openHoldersDirectory(nc: NatsConnection, bucket: string, hostId: string, o: HoldersDirectoryOptions = {}): Promise<HoldersDirectory> {
  const kv: KV = await new Kvm(nc).create(bucket, { history: 1, storage: StorageType.File, replicas: o.replicas ?? 1 });
  const refreshMs = o.refreshMs ?? 5000;
  const keysOf = async (filter: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const k of await kv.keys(filter)) out.push(k);
    return out;
  };
  return {
    async add(digest) {
      await kv.put(`o.${digest}.${hostId}`, '1');
    },
    async remove(digest) {
      await kv.delete(`o.${digest}.${hostId}`).catch(() => undefined);
    },
    async holders(digest) {
      const hosts = (await keysOf(`o.${digest}.*`)).map((k) => k.slice(k.lastIndexOf('.') + 1)).filter((h) => h !== hostId);
      const out: string[] = [];
      for (const h of hosts) {
        const servers = await keysOf(`h.${h}.*`);
        for (const k of servers) {
          const e = await kv.get(k).catch(() => null);
          if (e === null || e.operation !== 'PUT') continue;
          const v = e.json<{ addr?: unknown; at?: unknown }>();
          if (typeof v.addr === 'string' && typeof v.at === 'number' && Date.now() - v.at < 4 * refreshMs) {
            out.push(v.addr);
            break;
          }
        }
      }
      return out;
    },
    async advertise(addr) {
      const key = `h.${hostId}.${randomBytes(6).toString('hex')}`;
      const beat = (): Promise<unknown> => kv.put(key, JSON.stringify({ addr, at: Date.now() })).catch(() => undefined);
      await beat();
      const t = setInterval(() => void beat(), refreshMs);
      t.unref();
      return {
        async stop() {
          clearInterval(t);
          await kv.delete(key).catch(() => undefined);
        },
      };
    },
  };
}
