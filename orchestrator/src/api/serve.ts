/**
 * The jobs HTTP API as a process beside a cluster (`gramfleet api`, which `gramfleet up`
 * starts): it connects to the cluster like any SDK client and serves ./server.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GramfleetError, type Logger } from '@gramfleet/core';
import { LocalCluster } from '../cluster/local-cluster';
import { createApiServer } from './server';
import { TokenStore } from './tokens';
import { ObjectStore } from './objects';

/** Options of {@link serveApi}. */
export interface ServeApiOptions {
  /** The local cluster's directory (addresses, tokens, objects). */
  readonly dataDir: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default a free port */
  readonly port?: number;
  /** Largest uploaded object, bytes. @default 4 GiB */
  readonly maxObjectBytes?: number;
  readonly log: Logger;
}

/** A listening API server. */
export interface ApiHandle {
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Where a data directory's API keeps its objects. */
export function apiObjectsDir(dataDir: string): string {
  return path.join(dataDir, 'api', 'objects');
}

/** Connects to the local cluster of `dataDir` and serves the API until `close()`. */
export async function serveApi(o: ServeApiOptions): Promise<ApiHandle> {
  const cluster = await LocalCluster.attach(o.dataDir);
  if (cluster === null)
    throw new GramfleetError('CLUSTER_NOT_RUNNING', `no local cluster runs from ${o.dataDir}; start one with 'npx gramfleet up'`, { dataDir: o.dataDir });
  const { connect } = await import('../client/sdk.js');
  const fleet = await connect({ dataDir: o.dataDir, startLocal: false, log: o.log });
  const app = await createApiServer({
    fleet,
    tokens: TokenStore.of(o.dataDir),
    objects: new ObjectStore(apiObjectsDir(o.dataDir), o.maxObjectBytes ?? 4 * 1024 ** 3),
    log: o.log,
    version: (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version,
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  o.log.info('jobs API listening', { url: address, openapi: `${address}/openapi.json` });
  return {
    url: address,
    async close() {
      await app.close();
      await fleet.close();
    },
  };
}
