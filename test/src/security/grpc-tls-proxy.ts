/**
 * A real TLS terminator for gRPC, for the tests: the Temporal dev server speaks plaintext only,
 * so this stands in front of it as Temporal Cloud or a TLS-enabled frontend would. It is an
 * HTTP/2 server over TLS (ALPN h2) that forwards every gRPC stream to the dev server's plaintext
 * port (h2c): request headers and data, then the response's headers, data and trailers (or a
 * trailers-only response as it came). With `clientCa` it asks for a client certificate and
 * refuses a handshake without one signed by that CA (mTLS); with `apiKey` it answers any stream
 * whose `authorization` header is not `Bearer <apiKey>` with gRPC status 16 (UNAUTHENTICATED)
 * and never forwards it. It records what reached it (authorization headers, client certificate
 * names, refused handshakes) so the tests can check what a client sent.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type * as tls from 'node:tls';

/** Options of {@link startGrpcTlsProxy}. */
export interface GrpcTlsProxyOptions {
  /** The plaintext gRPC server behind it, host:port. */
  readonly upstream: string;
  /** The server's certificate and key (PEM). */
  readonly certPem: string;
  readonly keyPem: string;
  /** CA a client certificate must chain to; set ⇒ a client certificate is required. */
  readonly clientCa?: string;
  /** Set ⇒ every stream must carry `authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
}

/** A running terminator. */
export interface GrpcTlsProxy {
  /** 127.0.0.1:port it listens on. */
  readonly address: string;
  /** Streams forwarded and streams refused for a bad API key. */
  readonly counts: { forwarded: number; refusedApiKey: number };
  /** What reached it: the `authorization` header of each stream (distinct values), the client certificates' CNs. */
  readonly seen: { authorization: Set<string>; clientCns: Set<string>; tlsRefused: number };
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te']);

function forwardable(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k) && !(k.startsWith(':') && k !== ':status')) out[k] = v;
  return out;
}

/** Starts a TLS terminator on a free loopback port. */
export async function startGrpcTlsProxy(o: GrpcTlsProxyOptions): Promise<GrpcTlsProxy> {
  const upstream = http2.connect(`http://${o.upstream}`);
  upstream.on('error', () => undefined);
  const counts = { forwarded: 0, refusedApiKey: 0 };
  const seen = { authorization: new Set<string>(), clientCns: new Set<string>(), tlsRefused: 0 };
  const server = http2.createSecureServer({
    cert: o.certPem,
    key: o.keyPem,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
    ...(o.clientCa !== undefined ? { ca: o.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  // Sessions are destroyed at close (a worker's long polls would keep the server open).
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('sessionError', () => undefined);
  server.on('tlsClientError', () => {
    seen.tlsRefused++;
  });
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    const cn = sock.getPeerCertificate().subject?.CN;
    if (typeof cn === 'string') seen.clientCns.add(cn);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const auth = headers['authorization'];
    if (typeof auth === 'string') seen.authorization.add(auth);
    if (o.apiKey !== undefined && headers['authorization'] !== `Bearer ${o.apiKey}`) {
      counts.refusedApiKey++;
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'invalid or missing API key' },
        { endStream: true },
      );
      return;
    }
    counts.forwarded++;
    const req = upstream.request(
      {
        ...forwardable(headers),
        ':method': headers[':method'] ?? 'POST',
        ':path': headers[':path'] ?? '/',
        ':scheme': 'http',
        ':authority': o.upstream,
        te: 'trailers',
      },
      { endStream: false },
    );
    req.on('error', () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('close', () => {
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.pipe(req);
    let trailers: http2.OutgoingHttpHeaders | undefined;
    req.on('trailers', (t) => {
      trailers = forwardable(t);
    });
    req.on('response', (h) => {
      if (stream.closed) return;
      if (h['grpc-status'] !== undefined) {
        // A trailers-only response: the status travels in the headers and the stream ends.
        stream.respond(forwardable(h), { endStream: true });
        return;
      }
      stream.respond(forwardable(h), { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? { 'grpc-status': '13', 'grpc-message': 'upstream sent no trailers' }));
      req.pipe(stream);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    counts,
    seen,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      });
      upstream.destroy();
    },
  };
}
