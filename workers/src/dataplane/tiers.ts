/**
 * A process's array store with the tiers its configuration asks for: the object store always,
 * the host store when a directory is given, and peers (a peer server for this host's store, pulls
 * from other hosts' stores through the holders directory) when a peer address or port is given.
 * Process entrypoints build the configuration with {@link storeTiersFromEnv}.
 */
import * as fs from 'node:fs';
import { GramfleetError, silentLogger, type Logger } from '@gramfleet/core';
import { createArrayStore, type ArrayStore, type ArrayStoreOptions, type Durability } from './store';
import { openHostStore } from './host-store';
import { openHoldersDirectory, type HoldersDirectory } from './holders';
import { startPeerServer, type PeerServer } from './peer';
import type { DataPlane } from './nats';

/** Tiers of a process's array store. */
export interface StoreTiersConfig {
  /** Directory of the host store (a tmpfs every process of the host shares). @default none: no host store */
  readonly hostDir?: string;
  /** Size limit of the host store, bytes. @default 1 GiB */
  readonly hostBytes?: number;
  /** Serve the host store to other hosts on this port (0: any free port). @default no server */
  readonly peerPort?: number;
  /** Address the peer server listens on. @default '0.0.0.0' */
  readonly peerBind?: string;
  /** Host name or IP other hosts reach this host at (the peer server's port is appended). Needed to serve. */
  readonly peerAdvertise?: string;
  /** Pull arrays other hosts hold from their peer servers. @default true when serving */
  readonly peerPull?: boolean;
  /** Shared secret of the peer servers (connections prove it). @default none */
  readonly peerSecret?: string;
  /** Durability of puts that do not choose. @default 'sync' */
  readonly durability?: Durability;
  /** Byte budget of the read cache. @default 512 MiB */
  readonly cacheBytes?: number;
}

/** An array store and what it started. */
export interface OpenedArrayStore {
  readonly store: ArrayStore;
  /** The peer server's `host:port`, when serving. */
  readonly peerAddress?: string;
  /** Waits for background durable copies, stops serving, and withdraws this host's server from the directory. */
  close(): Promise<void>;
}

/** Opens a process's array store over a data plane; `o.onUpload` hears each durable copy's upload progress. */
export async function openArrayStore(
  dp: DataPlane,
  cfg: StoreTiersConfig = {},
  log: Logger = silentLogger,
  o: Pick<ArrayStoreOptions, 'onUpload'> = {},
): Promise<OpenedArrayStore> {
  const host = cfg.hostDir !== undefined ? openHostStore({ dir: cfg.hostDir, maxBytes: cfg.hostBytes ?? 1024 ** 3 }) : undefined;
  const serving = host !== undefined && cfg.peerAdvertise !== undefined;
  const pulling = host !== undefined && (cfg.peerPull ?? serving);
  let directory: HoldersDirectory | undefined;
  let server: PeerServer | undefined;
  let advert: { stop(): Promise<void> } | undefined;
  let peerAddress: string | undefined;
  const secret = cfg.peerSecret !== undefined ? new Uint8Array(Buffer.from(cfg.peerSecret, 'utf8')) : undefined;
  if (host !== undefined && (serving || pulling))
    directory = await openHoldersDirectory(dp.nc, dp.names.holdersBucket, host.hostId, { replicas: dp.options.replicas });
  if (serving && host !== undefined && directory !== undefined) {
    server = await startPeerServer({ host, port: cfg.peerPort ?? 0, bind: cfg.peerBind ?? '0.0.0.0', ...(secret !== undefined ? { secret } : {}) });
    peerAddress = `${cfg.peerAdvertise}:${server.port}`;
    advert = await directory.advertise(peerAddress);
    log.info('serving the host store to peers', { peerAddress, hostId: host.hostId, dir: host.dir });
  }
  const store = createArrayStore(dp, {
    chunkBytes: dp.chunkBytes,
    log,
    ...(host !== undefined ? { host } : {}),
    ...(serving || pulling ? { directory: directory as HoldersDirectory } : {}),
    ...(secret !== undefined ? { peer: { secret } } : {}),
    ...(cfg.durability !== undefined ? { durability: cfg.durability } : {}),
    ...(cfg.cacheBytes !== undefined ? { cacheBytes: cfg.cacheBytes } : {}),
    ...(o.onUpload !== undefined ? { onUpload: o.onUpload } : {}),
  });
  return {
    store,
    ...(peerAddress !== undefined ? { peerAddress } : {}),
    async close() {
      await store.flush().catch((e: Error) => log.error('durable copies failed before close', { err: e.message }));
      await advert?.stop();
      await server?.close();
    },
  };
}

/**
 * The tiers an entrypoint's environment asks for: GRAMFLEET_HOST_STORE_DIR,
 * GRAMFLEET_HOST_STORE_MB, GRAMFLEET_PEER_PORT, GRAMFLEET_PEER_BIND, GRAMFLEET_PEER_ADVERTISE,
 * GRAMFLEET_PEER_SECRET or GRAMFLEET_PEER_SECRET_FILE (a file holding it: how Kubernetes mounts
 * the Secret), GRAMFLEET_STORE_DURABILITY (sync | background | none). Serving peers
 * (GRAMFLEET_PEER_ADVERTISE) needs the secret: there is no unauthenticated listener.
 */
export function storeTiersFromEnv(env: NodeJS.ProcessEnv): StoreTiersConfig {
  const num = (name: string, lo: number, hi: number): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`, {
        field: name,
        min: lo,
        max: hi,
      });
    return n;
  };
  const str = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const mb = num('GRAMFLEET_HOST_STORE_MB', 1, 1024 * 1024);
  const port = num('GRAMFLEET_PEER_PORT', 0, 65535);
  const durability = str('GRAMFLEET_STORE_DURABILITY');
  const secretFile = str('GRAMFLEET_PEER_SECRET_FILE');
  let peerSecret = str('GRAMFLEET_PEER_SECRET');
  if (peerSecret === undefined && secretFile !== undefined) {
    try {
      peerSecret = fs.readFileSync(secretFile, 'utf8').trim();
    } catch (e) {
      throw new GramfleetError('INPUT_INVALID', `GRAMFLEET_PEER_SECRET_FILE ${JSON.stringify(secretFile)} cannot be read: ${(e as Error).message}`, {
        field: 'GRAMFLEET_PEER_SECRET_FILE',
      });
    }
    if (peerSecret === '')
      throw new GramfleetError('INPUT_INVALID', `GRAMFLEET_PEER_SECRET_FILE ${JSON.stringify(secretFile)} is empty`, { field: 'GRAMFLEET_PEER_SECRET_FILE' });
  }
  if (str('GRAMFLEET_PEER_ADVERTISE') !== undefined && peerSecret === undefined) {
    // No unauthenticated listener: a host serves its store to peers only with a shared secret.
    throw new GramfleetError('INPUT_INVALID', 'GRAMFLEET_PEER_ADVERTISE needs GRAMFLEET_PEER_SECRET: peers must prove the shared secret', {
      field: 'GRAMFLEET_PEER_SECRET',
    });
  }
  if (durability !== undefined && durability !== 'sync' && durability !== 'background' && durability !== 'none') {
    throw new GramfleetError('INPUT_INVALID', `GRAMFLEET_STORE_DURABILITY must be sync, background or none, got ${JSON.stringify(durability)}`, {
      field: 'GRAMFLEET_STORE_DURABILITY',
    });
  }
  const cfg: Record<string, unknown> = {
    hostDir: str('GRAMFLEET_HOST_STORE_DIR'),
    hostBytes: mb === undefined ? undefined : mb * 1024 * 1024,
    peerPort: port,
    peerBind: str('GRAMFLEET_PEER_BIND'),
    peerAdvertise: str('GRAMFLEET_PEER_ADVERTISE'),
    peerSecret,
    durability,
  };
  for (const k of Object.keys(cfg)) if (cfg[k] === undefined) delete cfg[k];
  return cfg as StoreTiersConfig;
}
