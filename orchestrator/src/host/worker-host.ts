/**
 * Entrypoint of the orchestrator process: a Temporal worker hosting the workflows and the
 * activities. When the Temporal server goes away the worker is rebuilt with backoff, so a
 * restarted dev server is ridden through. Its configuration comes from the environment, read
 * and validated by ./config.ts before anything starts (docs/config.md lists the variables: the
 * Temporal and NATS addresses, Temporal's TLS files and API key file, the task queue's consumer, the health port, the array store's
 * tiers, the task client's spill delay); a bad value exits 2 with one JSON line naming it.
 */
import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { isGramfleetError, resourceNames } from '@gramfleet/core';
import {
  connectNats,
  createJsonLogger,
  createProcessMetrics,
  createTaskClient,
  openArrayStore,
  openDataPlane,
  startHealthServer,
  startTracing,
} from '@gramfleet/workers';
import { hostActivities } from '../registry';
import { createCampaignActivities } from '../campaign/activities';
import { openCampaignTable } from '../campaign/table';
import { compileDataRoots } from '../io/data-roots';
import { connectTemporal, describeTemporalSecurity } from '../security/temporal';
import { hostConfig, type HostConfig } from './config';
import { registerHostMetrics, type CountService } from './metrics';
import { freePort } from '../cluster/proc';
import { workflowBundle } from './workflow-bundle';
import { temporalLogFunction } from '../telemetry/temporal-log';
import { temporalTracingOptions } from '../telemetry/tracing';

async function main(): Promise<void> {
  let cfg: HostConfig;
  try {
    cfg = hostConfig();
  } catch (e) {
    process.stderr.write(
      JSON.stringify({
        level: 'error',
        msg: 'bad configuration; the orchestrator does not start',
        code: isGramfleetError(e) ? e.code : undefined,
        field: isGramfleetError(e) ? e.details['field'] : undefined,
        err: (e as Error).message,
      }) + '\n',
    );
    process.exit(2);
  }
  const level = cfg.logLevel;
  const log = createJsonLogger({ proc: 'orchestrator' }, level);
  const { temporalAddress: address, temporalNamespace: namespace, taskQueue } = cfg;
  const names = resourceNames(cfg.prefix);
  let running = false;
  const metrics = createProcessMetrics({ proc: 'orchestrator' });
  // Tracing (GRAMFLEET_OTLP_ENDPOINT): workflow, activity and, through the task client, task spans.
  const tracing =
    cfg.otlpEndpoint !== undefined
      ? startTracing({ endpoint: cfg.otlpEndpoint, serviceName: 'gramfleet-orchestrator', sampleRatio: cfg.otlpSampleRatio })
      : undefined;
  if (tracing !== undefined) log.info('tracing on: spans go over OTLP', { endpoint: cfg.otlpEndpoint });
  if (cfg.healthPort !== undefined) await startHealthServer({ port: cfg.healthPort, ready: () => running, metrics: () => metrics.render() });
  // With a metrics endpoint, the Temporal SDK's own metrics too: its exporter listens on loopback
  // only and /metrics appends what it serves.
  const sdkMetricsPort = cfg.healthPort !== undefined ? await freePort() : undefined;
  Runtime.install({
    // Temporal's records (workflows' and activities' `log` included) as JSON lines carrying jobId.
    logger: new DefaultLogger(level === 'debug' ? 'DEBUG' : 'WARN', temporalLogFunction(log)),
    ...(sdkMetricsPort !== undefined ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } } } : {}),
  });
  const nc = await connectNats(cfg.natsUrl, 'gramfleet-orchestrator', cfg.natsAuth);
  const dp = await openDataPlane(nc, names, cfg.dataPlane);
  const arrays = await openArrayStore(dp, cfg.store, log);
  const store = arrays.store;
  // One owner of tasks for every activity of this process.
  const tasks = createTaskClient({ dp, log, store, ...(cfg.spillAfterMs !== undefined ? { spillAfterMs: cfg.spillAfterMs } : {}) });
  // The cluster's shard activities and every workload's, from the registry.
  const activities = hostActivities({ dp, store, tasks, log, ...(cfg.eigenproProfile !== undefined ? { eigenproProfile: cfg.eigenproProfile } : {}) });
  const dataRoots = await compileDataRoots(cfg.dataRoots);
  log.info('campaign files are confined to the data roots', { roots: dataRoots.roots });
  const campaignActivities = createCampaignActivities({
    dp,
    store,
    log,
    dataRoots,
    table: await openCampaignTable(nc, names.prefix, dp.options.replicas),
    ...(cfg.fileCacheDir !== undefined ? { fileCacheDir: cfg.fileCacheDir } : {}),
    fileCacheMaxBytes: cfg.fileCacheMaxBytes,
  });
  let stopping = false;
  let current: Worker | undefined;
  let currentConnection: NativeConnection | undefined;
  const timeActivities = registerHostMetrics({
    metrics,
    tasks,
    namespace,
    taskQueue,
    workflowService: () => currentConnection?.workflowService as CountService | undefined,
    ...(sdkMetricsPort !== undefined ? { sdkMetricsPort } : {}),
  });
  const stop = (): void => {
    stopping = true;
    current?.shutdown();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  let backoff = 250;
  while (!stopping) {
    try {
      // The files are read at each (re)connect: a rotated certificate or key is picked up.
      const connection = await connectTemporal(address, cfg.temporalSecurity, (o) => NativeConnection.connect(o));
      currentConnection = connection;
      const traced = tracing !== undefined ? temporalTracingOptions(tracing) : undefined;
      // Bundled once per build of the workflow code (cached on disk), not by webpack at every start.
      const code = await workflowBundle({
        workflowsPath: require.resolve('@gramfleet/workflows'),
        ...(traced !== undefined ? { interceptorModules: traced.workflowModules } : {}),
        log,
      });
      const worker = await Worker.create({
        connection,
        // Activity latencies are timed only where /metrics serves them (GRAMFLEET_HEALTH_PORT).
        interceptors: { activity: [...(cfg.healthPort !== undefined ? [timeActivities] : []), ...(traced?.activity ?? [])] },
        ...(traced !== undefined ? { sinks: traced.sinks } : {}),
        namespace,
        taskQueue,
        activities: { ...activities, ...campaignActivities },
        workflowBundle: { code },
        maxConcurrentActivityTaskExecutions: 64,
      });
      current = worker;
      log.info('orchestrator worker running', { address, namespace, taskQueue, temporalTransport: describeTemporalSecurity(cfg.temporalSecurity) });
      backoff = 250;
      running = true;
      await worker.run();
      running = false;
      currentConnection = undefined;
      await connection.close().catch(() => undefined);
    } catch (e) {
      running = false;
      currentConnection = undefined;
      if (stopping) break;
      const code = isGramfleetError(e) ? e.code : undefined;
      // A refused certificate or API key needs an operator (or a rotated file, read at the next try).
      const refused = code === 'CLUSTER_TLS_FAILED' || code === 'CLUSTER_UNAUTHENTICATED';
      (refused ? log.error : log.warn)(refused ? 'temporal refused this orchestrator; retrying' : 'temporal worker stopped; rebuilding', {
        code,
        field: isGramfleetError(e) ? e.details['field'] : undefined,
        err: (e as Error).message,
        backoffMs: backoff,
      });
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(5_000, backoff * 2);
    }
  }
  await tasks.close();
  await tracing?.shutdown().catch(() => undefined);
  await arrays.close();
  await dp.close();
  process.exit(0);
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'orchestrator failed', err: e.message, stack: e.stack }) + '\n');
  process.exit(1);
});
