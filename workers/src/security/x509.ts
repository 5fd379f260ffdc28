/**
 * A small X.509 issuer on node:crypto: an ECDSA P-256 certificate authority and the certificates
 * it signs (a server certificate with its DNS names and IP addresses, or a client certificate),
 * DER-encoded by hand — the handful of structures RFC 5280 needs, nothing parsed. It exists so a
 * local cluster can make its own CA at `up` without a CLI or a dependency that patches globals;
 * production certificates come from the operator's CA (cert-manager, Secrets).
 * The output is checked by node's own `X509Certificate` in the tests and used by nats-server (Go).
 */
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as net from 'node:net';

/** A key pair and its certificate, PEM-encoded. */
export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a certificate is for. */
export interface CertRequest {
  /** Subject common name. */
  readonly commonName: string;
  /** DNS names and IP addresses it is valid for (server certificates). */
  readonly hosts?: readonly string[];
  /** `server` (serverAuth), `client` (clientAuth) or both. @default 'server' */
  readonly usage?: 'server' | 'client' | 'both';
  /** Days from now. @default 825 */
  readonly days?: number;
}

// ---- DER ----

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLen(body.length), body]);
}
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
function int(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
function oid(s: string): Buffer {
  const p = s.split('.').map(Number);
  const out: number[] = [40 * (p[0] ?? 0) + (p[1] ?? 0)];
  for (const n of p.slice(2)) {
    const b: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) b.unshift((v & 0x7f) | 0x80);
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}
const name = (cn: string): Buffer =>
  seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))), set(seq(oid('2.5.4.10'), tlv(0x0c, Buffer.from('gramfleet')))));
const ext = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const KU_DIGITAL_SIGNATURE = 0x80;
const KU_KEY_CERT_SIGN = 0x04;
const KU_CRL_SIGN = 0x02;

function keyId(spki: Buffer): Buffer {
  // RFC 5280 4.2.1.2 method 1 over the whole SubjectPublicKeyInfo (a stable, unique id is all it needs).
  return createHash('sha1').update(spki).digest();
}

function certificate(o: { subject: string; issuer: string; spki: Buffer; signer: KeyObject; days: number; extensions: Buffer[] }): string {
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(o.issuer),
    seq(time(new Date(now - 86_400_000)), time(new Date(now + o.days * 86_400_000))),
    name(o.subject),
    o.spki,
    tlv(0xa3, seq(...o.extensions)),
  );
  const sig = sign('sha256', tbs, { key: o.signer, dsaEncoding: 'der' });
  const der = seq(tbs, ECDSA_SHA256, bits(sig));
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function newKey(): { priv: KeyObject; spki: Buffer; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { priv: privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A new self-signed certificate authority (ECDSA P-256, 10 years). */
export function createCertificateAuthority(commonName: string, days = 3650): IssuedCert {
  const k = newKey();
  const certPem = certificate({
    subject: commonName,
    issuer: commonName,
    spki: k.spki,
    signer: k.priv,
    days,
    extensions: [
      ext('2.5.29.19', true, seq(bool(true), int(Buffer.from([0])))),
      ext('2.5.29.15', true, bits(Buffer.from([KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN]), 1)),
      ext('2.5.29.14', false, octets(keyId(k.spki))),
    ],
  });
  return { certPem, keyPem: k.keyPem };
}

/** A certificate for `req`, signed by `ca`. */
export function issueCertificate(ca: IssuedCert, req: CertRequest): IssuedCert {
  const caCert = new X509Certificate(ca.certPem);
  const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
  const k = newKey();
  const usage = req.usage ?? 'server';
  const eku = [...(usage !== 'client' ? [oid('1.3.6.1.5.5.7.3.1')] : []), ...(usage !== 'server' ? [oid('1.3.6.1.5.5.7.3.2')] : [])];
  const san = (req.hosts ?? []).map((h) => {
    const v = net.isIP(h);
    if (v === 4) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
    if (v === 6) return tlv(0x87, ipv6Bytes(h));
    return tlv(0x82, Buffer.from(h, 'ascii'));
  });
  const certPem = certificate({
    subject: req.commonName,
    issuer: caCert.subject.match(/CN=([^\n]+)/)?.[1] ?? '',
    spki: k.spki,
    signer: createPrivateKey(ca.keyPem),
    days: req.days ?? 825,
    extensions: [
      ext('2.5.29.19', true, seq()),
      ext('2.5.29.15', true, bits(Buffer.from([KU_DIGITAL_SIGNATURE]), 7)),
      ext('2.5.29.37', false, seq(...eku)),
      ...(san.length > 0 ? [ext('2.5.29.17', false, seq(...san))] : []),
      ext('2.5.29.14', false, octets(keyId(k.spki))),
      ext('2.5.29.35', false, seq(tlv(0x80, keyId(caSpki)))),
    ],
  });
  return { certPem, keyPem: k.keyPem };
}

function ipv6Bytes(h: string): Buffer {
  const [head = '', tail = ''] = h.split('::');
  const parts = (s: string): number[] => (s === '' ? [] : s.split(':').map((x) => parseInt(x, 16)));
  const a = parts(head),
    b = parts(tail);
  const words = h.includes('::') ? [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b] : a;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}
