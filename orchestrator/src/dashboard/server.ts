/**
 * The dashboard's HTTP server: the page (orchestrator/assets/dashboard), the charting library
 * (uPlot, served from node_modules as it is published) and a small JSON API the page polls:
 *
 * - `GET /api/cluster`: workers (the NATS registry) and the local processes;
 * - `GET /api/jobs?kind=K&limit=N`: jobs newest first (Temporal visibility);
 * - `GET /api/jobs/ID`: one job's state, progress and per-kind series;
 * - `POST /api/jobs/ID/cancel`: cancels it (Temporal cancellation, as `handle.cancel()`).
 *
 * Every answer is read from the cluster when asked (see ./data.ts); the server keeps nothing.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { isGramfleetError, type Logger, silentLogger } from '@gramfleet/core';
import { DASHBOARD_KINDS, cancelJob, clusterView, jobDetail, listJobs, type DashboardSource } from './data';

/** A running dashboard server. */
export interface Dashboard {
  /** Its address, `http://HOST:PORT/`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Address to bind. @default '127.0.0.1' */
  readonly host?: string;
  readonly log?: Logger;
}

/** The directory of the page's own files (index.html, app.js, app.css). */
export function dashboardAssetsDir(): string {
  return path.join(__dirname, '..', '..', 'assets', 'dashboard');
}

/** Static files by URL path: the page's and uPlot's. */
function staticFiles(): Map<string, { file: string; type: string }> {
  const assets = dashboardAssetsDir();
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return new Map([
    ['/', { file: path.join(assets, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/app.js', { file: path.join(assets, 'app.js'), type: 'text/javascript; charset=utf-8' }],
    ['/app.css', { file: path.join(assets, 'app.css'), type: 'text/css; charset=utf-8' }],
    ['/vendor/uPlot.iife.min.js', { file: path.join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['/vendor/uPlot.min.css', { file: path.join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  if (isGramfleetError(e)) {
    const status = e.code === 'JOB_NOT_FOUND' ? 404 : e.code.startsWith('INPUT_') ? 400 : e.code.startsWith('CLUSTER_') ? 503 : 500;
    sendJson(res, status, { error: { code: e.code, message: e.message, details: e.details } });
  } else sendJson(res, 500, { error: { code: 'INTERNAL', message: (e as Error).message ?? String(e) } });
}

/** Starts the dashboard on `source`; resolves once it listens. */
export async function startDashboard(source: DashboardSource, o: DashboardOptions = {}): Promise<Dashboard> {
  const log = o.log ?? silentLogger;
  const files = staticFiles();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const p = url.pathname;
    void (async () => {
      try {
        const f = files.get(p);
        if (f !== undefined && req.method === 'GET') {
          const body = await fs.promises.readFile(f.file);
          res.writeHead(200, { 'content-type': f.type, 'content-length': body.length });
          res.end(body);
          return;
        }
        if (p === '/api/kinds' && req.method === 'GET') return sendJson(res, 200, { kinds: DASHBOARD_KINDS });
        if (p === '/api/cluster' && req.method === 'GET') return sendJson(res, 200, await clusterView(source));
        if (p === '/api/jobs' && req.method === 'GET') {
          const kind = url.searchParams.get('kind') ?? undefined;
          const limit = Number(url.searchParams.get('limit') ?? 200);
          return sendJson(res, 200, {
            jobs: await listJobs(source, { ...(kind !== undefined ? { kind } : {}), limit: Number.isFinite(limit) && limit > 0 ? limit : 200 }),
          });
        }
        const m = /^\/api\/jobs\/([A-Za-z0-9_.-]{1,200})(\/cancel)?$/.exec(p);
        if (m !== null) {
          const jobId = m[1] as string;
          if (m[2] === undefined && req.method === 'GET') return sendJson(res, 200, await jobDetail(source, jobId));
          if (m[2] !== undefined && req.method === 'POST') {
            const r = await cancelJob(source, jobId);
            log.info('job cancel asked from the dashboard', { jobId, cancelRequested: r.cancelRequested });
            return sendJson(res, r.cancelRequested ? 202 : 200, r);
          }
          return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method ?? '?'} ${p}` } });
        }
        sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no such page: ${p}` } });
      } catch (e) {
        log.warn('dashboard request failed', { path: p, error: (e as Error).message });
        if (!res.headersSent) sendError(res, e);
        else res.end();
      }
    })();
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
