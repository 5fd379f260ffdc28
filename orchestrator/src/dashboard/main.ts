/**
 * Entrypoint of the local cluster's dashboard process: `node orchestrator/dist/dashboard/main.js
 * --cluster=DIR --port=P`. It attaches to the cluster of `DIR` (its state file), connects to its
 * Temporal server and to NATS with the cluster's client identity, and serves the dashboard on
 * 127.0.0.1:P. The local cluster starts it (see LocalCluster.startDashboard) and records its
 * address; `gramfleet up`, `status` and `dashboard` print it.
 */
import { Client, Connection } from '@temporalio/client';
import { resourceNames } from '@gramfleet/core';
import { connectNats, createJsonLogger, openArrayStore, openDataPlane } from '@gramfleet/workers';
import { LocalCluster } from '../cluster/local-cluster';
import { createCampaignClient } from '../campaign/client';
import { startDashboard } from './server';

function arg(name: string): string | undefined {
  const p = `--${name}=`;
  return process.argv.find((a) => a.startsWith(p))?.slice(p.length);
}

async function main(): Promise<void> {
  const log = createJsonLogger({ proc: 'dashboard' }, 'info');
  const dataDir = arg('cluster');
  const port = Number(arg('port') ?? '0');
  if (dataDir === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: node orchestrator/dist/dashboard/main.js --cluster=DIR [--port=P]\n');
    process.exit(2);
  }
  const local = await LocalCluster.attach(dataDir);
  if (local === null) {
    log.error('no local cluster runs from the data directory', { dataDir });
    process.exit(3);
  }
  const s = local.state;
  const nc = await connectNats(s.natsUrl, 'gramfleet-dashboard', local.natsAuth('client'));
  const dp = await openDataPlane(nc, resourceNames(s.prefix), s.dataPlane);
  const hs = s.hostStore;
  const arrays = await openArrayStore(dp, hs !== undefined ? { hostDir: hs.dir, hostBytes: hs.maxBytes } : {}, log);
  const connection = await Connection.connect({ address: s.temporalAddress });
  const client = new Client({ connection, namespace: s.namespace });
  const dash = await startDashboard(
    {
      client,
      dp,
      store: arrays.store,
      taskQueue: s.taskQueue,
      campaigns: createCampaignClient({ client, nc, prefix: s.prefix, taskQueue: s.taskQueue, store: arrays.store, bucket: dp.names.arraysBucket }),
      // The state file as it is now (the supervisor rewrites it when it restarts a process).
      processes: async () => (await LocalCluster.find(dataDir))?.status() ?? [],
    },
    { port, log },
  );
  log.info('dashboard serving', { url: dash.url });
  const stop = (): void => {
    void (async () => {
      await dash.close();
      await connection.close().catch(() => undefined);
      await arrays.close().catch(() => undefined);
      await dp.close().catch(() => undefined);
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main().catch((e: unknown) => {
  process.stderr.write(JSON.stringify({ level: 'error', proc: 'dashboard', msg: 'dashboard failed', err: (e as Error).stack ?? String(e) }) + '\n');
  process.exit(1);
});
