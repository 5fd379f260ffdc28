/**
 * Entrypoint of a WASM worker process. Configuration from the environment:
 * GRAMFLEET_NATS_URL (required), GRAMFLEET_PREFIX, GRAMFLEET_THREADS, GRAMFLEET_WORKER_ID,
 * GRAMFLEET_ACK_WAIT_MS, GRAMFLEET_MAX_DELIVER, GRAMFLEET_LOG_LEVEL, GRAMFLEET_HEALTH_PORT
 * (serves /healthz and /readyz: ready while pulling, not while draining).
 */
import * as fs from 'node:fs';
import { kernelsWasmPath } from '@gramfleet/wasm';
import { OPS, USER_WASM_OP } from '@gramfleet/core';
import { createKernelPool } from './pool';
import { startWorker } from './runtime';
import { createJsonLogger } from './log';
import { createSandbox } from './sandbox/sandbox';
import { withUserWasm } from './sandbox/with-user-wasm';
import { healthPortFromEnv, startHealthServer } from './health';

async function main(): Promise<void> {
  const env = process.env;
  const natsUrl = env['GRAMFLEET_NATS_URL'];
  const workerId = env['GRAMFLEET_WORKER_ID'];
  const level = (env['GRAMFLEET_LOG_LEVEL'] ?? 'info') as 'debug' | 'info' | 'warn' | 'error';
  const log = createJsonLogger({ proc: 'wasm-worker', ...(workerId !== undefined ? { workerId } : {}) }, level);
  if (natsUrl === undefined) {
    log.error('GRAMFLEET_NATS_URL is not set');
    process.exit(2);
  }
  let serving = false;
  const healthPort = healthPortFromEnv(env);
  if (healthPort !== undefined) await startHealthServer({ port: healthPort, ready: () => serving });
  const module = await WebAssembly.compile(fs.readFileSync(kernelsWasmPath));
  const pool = withUserWasm(createKernelPool({ module, threads: Number(env['GRAMFLEET_THREADS'] ?? '1') }), createSandbox({ threads: Number(env['GRAMFLEET_THREADS'] ?? '1') }));
  const dataPlane = {
    ...(env['GRAMFLEET_ACK_WAIT_MS'] !== undefined ? { ackWaitMs: Number(env['GRAMFLEET_ACK_WAIT_MS']) } : {}),
    ...(env['GRAMFLEET_MAX_DELIVER'] !== undefined ? { maxDeliver: Number(env['GRAMFLEET_MAX_DELIVER']) } : {}),
  };
  const w = await startWorker({
    natsUrl, cls: 'wasm', pool, log, ops: [...OPS.ids(), USER_WASM_OP], dataPlane,
    ...(env['GRAMFLEET_PREFIX'] !== undefined ? { prefix: env['GRAMFLEET_PREFIX'] } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  });
  serving = true;
  let draining = false;
  const stop = (): void => {
    if (draining) return;
    draining = true;
    serving = false;
    void w.drain().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: Error) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'worker failed to start', err: e.message }) + '\n');
  process.exit(1);
});
