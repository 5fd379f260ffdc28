/**
 * Liveness and readiness over HTTP for Kubernetes probes: `GET /healthz` answers 200 while
 * the process runs; `GET /readyz` answers 200 when `ready()` holds (connected, serving) and
 * 503 otherwise; `GET /metrics` answers the process's Prometheus metrics when it has some
 * (./metrics.ts). Started by each process entrypoint when its configuration names a port
 * (GRAMFLEET_HEALTH_PORT).
 */
import * as http from 'node:http';

/** Options of {@link startHealthServer}. */
export interface HealthServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** Whether the process is ready to serve (checked on every /readyz). */
  readonly ready: () => boolean;
  /** The Prometheus exposition served at `/metrics` (404 there without it). */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/** A running health server. */
export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the health server; resolves once it listens. */
export function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      let ok = false;
      try {
        ok = o.ready();
      } catch {
        ok = false;
      }
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics' && o.metrics !== undefined) {
      o.metrics().then(
        (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e.message}\n`),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.unref();
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a !== null ? a.port : o.port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
