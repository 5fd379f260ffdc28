'use strict';
/**
 * bench/cluster/telemetry-sink.js — the other end of the telemetry bench's "on" side, in its own
 * process so its work does not run on the bench's event loop: an OTLP/HTTP receiver that takes
 * every POST to /v1/traces (answered 200 with an empty ExportTraceServiceResponse, as a collector
 * does) and a Prometheus-like scraper that GETs each /metrics URL given on the command line every
 * SCRAPE_MS (the URLs arrive later, as one JSON array on stdin, once the cluster is up). On
 * SIGTERM it prints what it got as one JSON line on stdout and exits.
 *
 *   node bench/cluster/telemetry-sink.js PORT   (env: SCRAPE_MS=15000)
 */
const http = require('node:http');

const port = Number(process.argv[2] ?? 0);
let urls = [];
let input = '';
process.stdin.on('data', (c) => {
  input += c;
  const nl = input.indexOf('\n');
  if (nl >= 0) urls = JSON.parse(input.slice(0, nl));
});
const SCRAPE_MS = Number(process.env.SCRAPE_MS ?? 15000);
const got = { traceRequests: 0, traceBytes: 0, scrapes: 0, scrapeBytes: 0, scrapeErrors: 0 };

const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => {
    n += c.length;
  });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces') {
      got.traceRequests++;
      got.traceBytes += n;
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
    res.end();
  });
});
server.listen(port, '127.0.0.1', () => process.stderr.write(`[telemetry-sink] OTLP on http://127.0.0.1:${server.address().port}\n`));

const timer = setInterval(() => {
  for (const u of urls)
    fetch(u)
      .then((r) => r.text())
      .then((t) => {
        got.scrapes++;
        got.scrapeBytes += t.length;
      })
      .catch(() => {
        got.scrapeErrors++;
      });
}, SCRAPE_MS);

process.on('SIGTERM', () => {
  clearInterval(timer);
  process.stdout.write(JSON.stringify(got) + '\n');
  server.close();
  process.exit(0);
});
