/**
 * Entrypoint of the orchestrator process: a Temporal worker hosting the workflows and the
 * activities. When the Temporal server goes away the worker is rebuilt with backoff, so a
 * restarted dev server is ridden through. Configuration from the environment:
 * GRAMFLEET_TEMPORAL_ADDRESS, GRAMFLEET_NAMESPACE, GRAMFLEET_TASK_QUEUE, GRAMFLEET_NATS_URL,
 * GRAMFLEET_PREFIX, GRAMFLEET_ACK_WAIT_MS, GRAMFLEET_MAX_DELIVER, GRAMFLEET_LOG_LEVEL,
 * GRAMFLEET_SPILL_AFTER_MS (a task that waits this long for a free worker goes to the durable
 * queue, where autoscalers see it as lag; default 30000),
 * GRAMFLEET_HEALTH_PORT (serves /healthz and /readyz: ready while the Temporal worker runs), and the
 * array store's tiers (GRAMFLEET_HOST_STORE_DIR, GRAMFLEET_HOST_STORE_MB, GRAMFLEET_PEER_*: see
 * storeTiersFromEnv in @gramfleet/workers).
 */
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { GramfleetError, resourceNames } from '@gramfleet/core';
import { connectNats, createJsonLogger, createTaskClient, openArrayStore, openDataPlane, storeTiersFromEnv } from '@gramfleet/workers';
import { healthPortFromEnv, startHealthServer } from '@gramfleet/workers';
import { hostActivities } from '../registry';
import { createCampaignActivities } from '../campaign/activities';
import { openCampaignTable } from '../campaign/table';

async function main(): Promise<void> {
  const env = process.env;
  const level = (env['GRAMFLEET_LOG_LEVEL'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const log = createJsonLogger({ proc: 'orchestrator' }, level);
  const address = env['GRAMFLEET_TEMPORAL_ADDRESS'] ?? '127.0.0.1:7233';
  const namespace = env['GRAMFLEET_NAMESPACE'] ?? 'default';
  const taskQueue = env['GRAMFLEET_TASK_QUEUE'] ?? 'gramfleet';
  const natsUrl = env['GRAMFLEET_NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const names = resourceNames(env['GRAMFLEET_PREFIX'] ?? 'gf');
  let running = false;
  const healthPort = healthPortFromEnv(env);
  if (healthPort !== undefined) await startHealthServer({ port: healthPort, ready: () => running });
  Runtime.install({ logger: new DefaultLogger(level === 'debug' ? 'DEBUG' : 'WARN') });
  const nc = await connectNats(natsUrl, 'gramfleet-orchestrator');
  const dp = await openDataPlane(nc, names, {
    ...(env['GRAMFLEET_ACK_WAIT_MS'] !== undefined ? { ackWaitMs: Number(env['GRAMFLEET_ACK_WAIT_MS']) } : {}),
    ...(env['GRAMFLEET_MAX_DELIVER'] !== undefined ? { maxDeliver: Number(env['GRAMFLEET_MAX_DELIVER']) } : {}),
  });
  const arrays = await openArrayStore(dp, storeTiersFromEnv(env), log);
  const store = arrays.store;
  // One owner of tasks for every activity of this process.
  const spill = env['GRAMFLEET_SPILL_AFTER_MS'];
  const spillAfterMs = spill === undefined ? undefined : Number(spill);
  if (spillAfterMs !== undefined && !(Number.isInteger(spillAfterMs) && spillAfterMs >= 0)) {
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `GRAMFLEET_SPILL_AFTER_MS must be an integer >= 0 (ms), got ${JSON.stringify(spill)}`, { field: 'GRAMFLEET_SPILL_AFTER_MS', bound: '>= 0' });
  }
  const tasks = createTaskClient({ dp, log, ...(spillAfterMs !== undefined ? { spillAfterMs } : {}) });
  // The cluster's shard activities and every workload's, from the registry.
  const activities = hostActivities({ dp, store, tasks, log });
  const campaignActivities = createCampaignActivities({ dp, store, log, table: await openCampaignTable(nc, names.prefix) });
  let stopping = false;
  let current: Worker | undefined;
  const stop = (): void => {
    stopping = true;
    current?.shutdown();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let backoff = 250;
  while (!stopping) {
    try {
      const connection = await NativeConnection.connect({ address });
      const worker = await Worker.create({
        connection, namespace, taskQueue, activities: { ...activities, ...campaignActivities },
        workflowsPath: require.resolve('@gramfleet/workflows'),
        maxConcurrentActivityTaskExecutions: 64,
      });
      current = worker;
      log.info('orchestrator worker running', { address, namespace, taskQueue });
      backoff = 250;
      running = true;
      await worker.run();
      running = false;
      await connection.close().catch(() => undefined);
    } catch (e) {
      running = false;
      if (stopping) break;
      log.warn('temporal worker stopped; rebuilding', { err: (e as Error).message, backoffMs: backoff });
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(5_000, backoff * 2);
    }
  }
  await tasks.close();
  await arrays.close();
  await dp.close();
  process.exit(0);
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'orchestrator failed', err: e.message, stack: e.stack }) + '\n');
  process.exit(1);
});
