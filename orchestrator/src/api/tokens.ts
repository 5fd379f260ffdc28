/**
 * Tokens of the jobs HTTP API: made, listed and revoked by the CLI (`gramfleet token
 * create|list|revoke`), checked by the API server on every request.
 *
 * Semantics: a token is `gft_<id>_<secret>` — `id` (12 hex digits) names it in lists and
 * revocations, `secret` is 32 random bytes (base64url). Only the sha256 of the whole token is
 * stored (in `<dataDir>/api/tokens.json`, mode 0600, written by rename so a reader never sees
 * half a file); the token itself is printed once, by `create`. A fast hash is enough because
 * the secret has 256 random bits (nothing to guess from a dictionary); comparison is in
 * constant time. A token is refused with `API_UNAUTHENTICATED` when it is missing,
 * malformed, unknown or revoked, and with `API_TOKEN_EXPIRED` once past its expiry. The
 * server reads the file again when it changed, so a revocation takes effect on the next
 * request without a restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { GramfleetError } from '@gramfleet/core';

/** One stored token (never the token itself). */
export interface TokenRecord {
  /** 12 hex digits: names the token in `list` and `revoke`. */
  readonly id: string;
  /** What the token is for (free text). */
  readonly name: string;
  /** Lower-case hex sha256 of the whole token. */
  readonly hash: string;
  readonly createdAt: string;
  /** ISO time after which it is refused; absent: never expires. */
  readonly expiresAt?: string;
  /** ISO time it was revoked; absent while it is valid. */
  readonly revokedAt?: string;
}

interface TokenFile {
  readonly version: 1;
  readonly tokens: TokenRecord[];
}

/** Where a data directory's API tokens are stored. */
export function tokenFile(dataDir: string): string {
  return path.join(dataDir, 'api', 'tokens.json');
}

const TOKEN_RE = /^gft_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Parses a duration such as `90s`, `30m`, `12h`, `7d` into ms; `INPUT_INVALID` naming `field` otherwise. */
export function parseDuration(s: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(s.trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  if (m === null || Number(m[1]) <= 0)
    throw new GramfleetError('INPUT_INVALID', `${field} must be a positive duration like 90s, 30m, 12h or 7d, got ${JSON.stringify(s)}`, { field });
  return Number(m[1]) * unit[m[2] as keyof typeof unit];
}

/** The token store of one data directory. */
export class TokenStore {
  private cache: { mtimeMs: number; size: number; file: TokenFile } | undefined;

  constructor(readonly file: string) {}

  /** The store of a local cluster's data directory. */
  static of(dataDir: string): TokenStore {
    return new TokenStore(tokenFile(dataDir));
  }

  private read(): TokenFile {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return { version: 1, tokens: [] };
    }
    if (this.cache !== undefined && this.cache.mtimeMs === st.mtimeMs && this.cache.size === st.size) return this.cache.file;
    const file = JSON.parse(fs.readFileSync(this.file, 'utf8')) as TokenFile;
    this.cache = { mtimeMs: st.mtimeMs, size: st.size, file };
    return file;
  }

  private write(f: TokenFile): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.cache = undefined;
  }

  /** Makes a token; returns it (shown once) and its record. */
  create(o: { readonly name?: string; readonly ttlMs?: number; readonly now?: Date } = {}): { token: string; record: TokenRecord } {
    const now = o.now ?? new Date();
    const id = randomBytes(6).toString('hex');
    const token = `gft_${id}_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id,
      name: o.name ?? '',
      hash: sha256(token),
      createdAt: now.toISOString(),
      ...(o.ttlMs !== undefined ? { expiresAt: new Date(now.getTime() + o.ttlMs).toISOString() } : {}),
    };
    const f = this.read();
    this.write({ version: 1, tokens: [...f.tokens, record] });
    return { token, record };
  }

  /** Every token's record, revoked ones included. */
  list(): readonly TokenRecord[] {
    return this.read().tokens;
  }

  /** Revokes a token by id (idempotent); `API_NOT_FOUND` naming the id when there is none. */
  revoke(id: string, now: Date = new Date()): TokenRecord {
    const f = this.read();
    const t = f.tokens.find((x) => x.id === id);
    if (t === undefined)
      throw new GramfleetError('API_NOT_FOUND', `no API token with id ${JSON.stringify(id)} (see 'gramfleet token list')`, { field: 'id', id });
    if (t.revokedAt !== undefined) return t;
    const revoked: TokenRecord = { ...t, revokedAt: now.toISOString() };
    this.write({ version: 1, tokens: f.tokens.map((x) => (x === t ? revoked : x)) });
    return revoked;
  }

  /**
   * The record of a valid token; `API_UNAUTHENTICATED` (missing, malformed, unknown, revoked)
   * or `API_TOKEN_EXPIRED` otherwise. `header` is the `Authorization` header's value.
   */
  verify(header: string | undefined, now: Date = new Date()): TokenRecord {
    if (header === undefined || header === '')
      throw new GramfleetError('API_UNAUTHENTICATED', "no token: send 'Authorization: Bearer <token>' (make one with 'gramfleet token create')", {
        field: 'authorization',
      });
    const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
    const tm = m === null ? null : TOKEN_RE.exec(m[1] as string);
    if (m === null || tm === null)
      throw new GramfleetError('API_UNAUTHENTICATED', "malformed Authorization header: expected 'Bearer gft_<id>_<secret>'", { field: 'authorization' });
    const token = m[1] as string;
    const id = tm[1] as string;
    const t = this.read().tokens.find((x) => x.id === id);
    const want = Buffer.from(t?.hash ?? sha256(`no such token ${id}`), 'hex');
    const got = Buffer.from(sha256(token), 'hex');
    if (t === undefined || !timingSafeEqual(want, got))
      throw new GramfleetError('API_UNAUTHENTICATED', `unknown token gft_${id}_…: it was never made here or its secret is wrong`, {
        field: 'authorization',
        id,
      });
    if (t.revokedAt !== undefined)
      throw new GramfleetError('API_UNAUTHENTICATED', `token ${id} was revoked at ${t.revokedAt}`, { field: 'authorization', id, revokedAt: t.revokedAt });
    if (t.expiresAt !== undefined && Date.parse(t.expiresAt) <= now.getTime())
      throw new GramfleetError('API_TOKEN_EXPIRED', `token ${id} expired at ${t.expiresAt}; make a new one with 'gramfleet token create'`, {
        field: 'authorization',
        id,
        expiresAt: t.expiresAt,
      });
    return t;
  }
}
