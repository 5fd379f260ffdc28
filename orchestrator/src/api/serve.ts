/**
 * The jobs HTTP API as a process beside a cluster (`gramfleet api`, which `gramfleet up`
 * starts): it connects to the cluster like any SDK client and serves ./server.ts. By default the
 * cluster is the local one of `dataDir`; with a remote `context` (`gramfleet api --context NAME`)
 * it is that cluster, and `dataDir` holds only the API's tokens and objects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GramfleetError, isGramfleetError, type Logger } from '@gramfleet/core';
import { LocalCluster } from '../cluster/local-cluster';
import { createApiServer } from './server';
import { TokenStore } from './tokens';
import { ObjectStore } from './objects';

/** Options of {@link serveApi}. */
export interface ServeApiOptions {
  /** The local cluster's directory (addresses, tokens, objects); with a remote `context`, the API's tokens and objects only. */
  readonly dataDir: string;
  /** A cluster context (client/context.ts) to serve instead of the local cluster of `dataDir`. @default 'local' */
  readonly context?: string;
  /** The contexts file. @default GRAMFLEET_CONTEXTS_FILE, else the XDG config file */
  readonly contextsFile?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default a free port */
  readonly port?: number;
  /** Largest uploaded object, bytes. @default 4 GiB */
  readonly maxObjectBytes?: number;
  /** An API object unused this long is deleted (./objects.ts, `gc`), ms; swept at start and every quarter of it (at most hourly). @default 7 days */
  readonly objectsTtlMs?: number;
  readonly log: Logger;
}

/** A listening API server. */
export interface ApiHandle {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** How long an API object is kept unused by default: 7 days. */
export const API_OBJECTS_TTL_MS = 7 * 24 * 3_600_000;

/** Where a data directory's API keeps its objects. */
export function apiObjectsDir(dataDir: string): string {
  return path.join(dataDir, 'api', 'objects');
}

/** Connects to the cluster (the local one of `dataDir`, or `context`'s) and serves the API until `close()`. */
export async function serveApi(o: ServeApiOptions): Promise<ApiHandle> {
  const remote = o.context !== undefined && o.context !== 'local';
  if (!remote && (await LocalCluster.attach(o.dataDir)) === null)
    throw new GramfleetError('CLUSTER_NOT_RUNNING', `no local cluster runs from ${o.dataDir}; start one with 'npx gramfleet up'`, { dataDir: o.dataDir });
  fs.mkdirSync(path.join(o.dataDir, 'api'), { recursive: true, mode: 0o700 });
  const { connect } = await import('../client/sdk.js');
  const fleet = await connect({
    ...(remote ? { context: o.context } : { dataDir: o.dataDir }),
    ...(o.contextsFile !== undefined ? { contextsFile: o.contextsFile } : {}),
    startLocal: false,
    log: o.log,
  });
  const objects = new ObjectStore(apiObjectsDir(o.dataDir), o.maxObjectBytes ?? 4 * 1024 ** 3);
  const ttlMs = o.objectsTtlMs ?? API_OBJECTS_TTL_MS;
  const sweep = (): void => {
    objects
      .gc(ttlMs, Date.now(), {
        // A job the cluster no longer knows (deleted, or past its retention): its objects go too.
        jobGone: async (jobId) => {
          try {
            await fleet.jobs.describe(jobId, { progress: false });
            return false;
          } catch (e) {
            return isGramfleetError(e) && e.code === 'JOB_NOT_FOUND';
          }
        },
      })
      .then((r) => {
        if (r.objects + r.partial + (r.jobObjects ?? 0) + (r.jobsGone ?? 0) > 0)
          o.log.info('API objects past their time to live or of deleted jobs deleted', { ...r, ttlMs });
      })
      .catch((e: unknown) => o.log.warn('API object sweep failed', { err: String(e) }));
  };
  sweep();
  const sweeper = setInterval(sweep, Math.max(1_000, Math.min(ttlMs / 4, 3_600_000)));
  sweeper.unref();
  const app = await createApiServer({
    fleet,
    tokens: TokenStore.of(o.dataDir),
    objects,
    log: o.log,
    version: (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version,
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  o.log.info('jobs API listening', { url: address, openapi: `${address}/openapi.json` });
  return {
    url: address,
    async close() {
      clearInterval(sweeper);
      await app.close();
      await fleet.close();
    },
  };
}
