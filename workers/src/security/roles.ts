/**
 * The NATS roles of a gramfleet cluster and what each may publish and subscribe to (least
 * privilege). The permissions are written for one resource prefix (core/src/protocol.ts:
 * resourceNames).
 *
 * - `admin`, `orchestrator`: everything in the cluster's account (stream and bucket management,
 *   purges and deletions included).
 * - `client` (SDK, CLI): read the JetStream state it needs, put and get arrays, push tasks to
 *   worker lanes or the durable queue (a job's tasks), cancel jobs, read and write campaign rows.
 *   It receives replies only on its own inbox prefix and owner subjects (both named after its
 *   identity), creates consumers on the results stream only filtered to one job's progress
 *   subject (it cannot tail other jobs' results), cannot create, update or delete streams,
 *   buckets or the workers' consumers, cannot purge the task, result or KV streams, and cannot
 *   write the worker registry, and cannot purge any stream: deleting an array is a filtered purge
 *   of the arrays bucket's stream, and NATS permissions see only a request's subject, not its
 *   filter, so a purge right would be a right to empty the whole bucket. What a client may delete
 *   (a finished datagen job's pages) is deleted for it by the orchestrator (the
 *   `datagenReleaseWorkflow` and its activity, which check that each object is a page of that
 *   job); a client's own delete is refused with CLUSTER_FORBIDDEN (object-tier.ts).
 *   Its own arrays bucket, `<prefix>-arrays-<token>` (core clientArraysBucket), where it exists,
 *   holds what it uploads; it reads and writes that bucket and the shared one, and no other
 *   client's (message reads and consumers are allowed stream by stream).
 *   Not scoped by these permissions (docs/operations.md, "What a client identity can reach"): the
 *   objects of the shared arrays bucket, which a client reads (direct gets whose subject is in the
 *   request body) and whose metadata it writes by name (content-addressed names; readers check
 *   every array against its digest, so a forged metadata is a denial of that object, never
 *   different bytes).
 * - `wasm-worker`, `gpu-worker`: pull tasks of its own class only, acknowledge them, publish
 *   results (results stream, owner subjects, replies to requests it receives), read and write
 *   arrays, holders and its registry entry, receive its lane's tasks and cancellations. It cannot
 *   publish tasks (durable queue or lanes) or cancellations, nor create, purge or delete anything.
 */
import { campaignTable, clientArraysBucket, resourceNames, type WorkerClass } from '@gramfleet/core';

/** The NATS identities of a cluster. */
export const NATS_ROLES = ['admin', 'orchestrator', 'client', 'wasm-worker', 'gpu-worker'] as const;
/** A NATS role. */
export type NatsRole = (typeof NATS_ROLES)[number];

/** Publish and subscribe permissions in the shape of a NATS user JWT's (allow/deny lists). */
export interface NatsPermissions {
  readonly pub: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly sub: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  /** Replies to requests received may be published (NATS `allow_responses`). */
  readonly resp?: { readonly max: number; readonly ttl: number };
}

/** Whose permissions to build. */
export interface RoleScope {
  /** Resource prefix of the cluster. */
  readonly prefix: string;
  /**
   * Subject token naming this identity: its inbox prefix is `_INBOX_<token>` and (clients) its
   * owner subjects `<prefix>.owner.<token>.>`. See {@link identityToken}.
   */
  readonly token: string;
  /** Workers: the lane token (core pinToken) it may subscribe to; `'*'` (any) when unknown. @default '*' */
  readonly pin?: string;
}

/** The subject token for an identity name (letters, digits, `-`, `_`). */
export function identityToken(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The inbox prefix of an identity: replies to its requests arrive under it. */
export function inboxPrefixOf(token: string): string {
  return `_INBOX_${token}`;
}

const MANAGE_DENY = [
  '$JS.API.STREAM.CREATE.>',
  '$JS.API.STREAM.UPDATE.>',
  '$JS.API.STREAM.DELETE.>',
  '$JS.API.STREAM.PURGE.>',
  '$JS.API.STREAM.MSG.DELETE.>',
  '$JS.API.STREAM.SNAPSHOT.>',
  '$JS.API.STREAM.RESTORE.>',
  '$JS.API.STREAM.PEER.>',
  '$JS.API.STREAM.LEADER.>',
  '$JS.API.ACCOUNT.>',
  '$JS.API.META.>',
  '$JS.API.SERVER.>',
];

/** The durable task consumers (core consumerName) may be neither replaced nor deleted. */
function durableConsumerDeny(): string[] {
  return ['wasm', 'gpu'].flatMap((cls) => [
    `$JS.API.CONSUMER.CREATE.*.workers-${cls}`,
    `$JS.API.CONSUMER.CREATE.*.workers-${cls}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.*.workers-${cls}`,
    `$JS.API.CONSUMER.DELETE.*.workers-${cls}`,
    `$JS.API.CONSUMER.PAUSE.*.workers-${cls}`,
  ]);
}

/** JetStream reads every non-admin role needs (stream/consumer info, direct and message gets, ordered consumers). */
const JS_READ = [
  '$JS.API.INFO',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.LIST',
  '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.>',
  '$JS.API.CONSUMER.INFO.>',
  '$JS.API.CONSUMER.NAMES.*',
  '$JS.API.CONSUMER.LIST.*',
  '$JS.API.CONSUMER.CREATE.>',
  '$JS.API.CONSUMER.DELETE.>',
  '$JS.ACK.>',
  '$JS.FC.>',
];

/**
 * The consumers a client may create: ordered consumers on the buckets' streams, and on the results
 * stream only filtered to one job's progress subject (no tailing other jobs' results).
 */
function clientConsumers(p: string, token: string): string[] {
  const n = resourceNames(p);
  return [
    ...[...bucketStreams(p), `OBJ_${clientArraysBucket(p, token)}`].flatMap((st) => [
      `$JS.API.CONSUMER.CREATE.${st}`,
      `$JS.API.CONSUMER.CREATE.${st}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${st}.*`,
    ]),
    `$JS.API.CONSUMER.CREATE.${n.resultsStream}.*.${p}.result.*.progress`,
    // Pulls from its consumers there (which can only be the progress-filtered ones above).
    `$JS.API.CONSUMER.MSG.NEXT.${n.resultsStream}.*`,
  ];
}

/**
 * Message reads (direct and by sequence) a client may make: the streams of its own arrays bucket,
 * the shared one, the KV buckets and the task and result streams, and no other client's bucket
 * (a stream name is one subject token, so "every other client's bucket" cannot be denied by a
 * wildcard: reads are allowed stream by stream instead).
 */
function clientMessageReads(p: string, token: string): string[] {
  const n = resourceNames(p);
  return [
    ...[...bucketStreams(p), `OBJ_${clientArraysBucket(p, token)}`].flatMap((st) => [
      `$JS.API.STREAM.MSG.GET.${st}`,
      `$JS.API.DIRECT.GET.${st}`,
      `$JS.API.DIRECT.GET.${st}.>`,
    ]),
    // A result by its subject (an owner checking the results stream); the queue, on the dashboard.
    ...[n.tasksStream, n.resultsStream].map((st) => `$JS.API.STREAM.MSG.GET.${st}`),
  ];
}

/**
 * What a client is refused although an allow entry would match: deleting the workers' durable
 * consumers (`$JS.API.CONSUMER.DELETE.>` is allowed for its own), and, kept explicit, any stream
 * deletion or purge. The other management subjects of MANAGE_DENY match none of its allow entries;
 * they are not repeated: a user JWT travels in the client's CONNECT line, which the server caps
 * (max_control_line: 4 KiB by default, 16 KiB in gramfleet's server configurations, local.ts
 * NATS_MAX_CONTROL_LINE), and a client's names its streams one by one.
 */
const CLIENT_DENY = ['$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.PURGE.>', ...['wasm', 'gpu'].map((cls) => `$JS.API.CONSUMER.DELETE.*.workers-${cls}`)];

/** The streams behind the buckets (object store and KV) of a prefix. */
function bucketStreams(p: string): string[] {
  const n = resourceNames(p);
  const c = campaignTable(p);
  return [`OBJ_${n.arraysBucket}`, ...[n.holdersBucket, n.workersBucket, c.campaignsBucket, c.runsBucket].map((b) => `KV_${b}`)];
}

/** The permissions of `role` in scope `s`. */
export function rolePermissions(role: NatsRole, s: RoleScope): NatsPermissions {
  const p = s.prefix;
  const n = resourceNames(p);
  const c = campaignTable(p);
  const inbox = `${inboxPrefixOf(s.token)}.>`;
  switch (role) {
    case 'admin':
    case 'orchestrator':
      return { pub: { allow: ['>'], deny: [] }, sub: { allow: ['>'], deny: [] }, resp: { max: -1, ttl: 0 } };
    case 'client':
      return {
        pub: {
          allow: [
            ...JS_READ.filter(
              (x) => !x.startsWith('$JS.API.CONSUMER.CREATE') && !x.startsWith('$JS.API.STREAM.MSG.GET') && !x.startsWith('$JS.API.DIRECT.GET'),
            ),
            ...clientMessageReads(p, s.token),
            ...clientConsumers(p, s.token),
            `${p}.task.>`,
            `${p}.lane.>`,
            `${p}.cancel.*`,
            `$O.${n.arraysBucket}.>`,
            `$O.${clientArraysBucket(p, s.token)}.>`,
            `$KV.${n.holdersBucket}.>`,
            `$KV.${c.campaignsBucket}.>`,
            `$KV.${c.runsBucket}.>`,
          ],
          deny: CLIENT_DENY,
        },
        sub: { allow: [inbox, `${p}.owner.${s.token}.>`], deny: [] },
      };
    case 'wasm-worker':
    case 'gpu-worker': {
      const cls: WorkerClass = role === 'gpu-worker' ? 'gpu' : 'wasm';
      const other: WorkerClass = cls === 'gpu' ? 'wasm' : 'gpu';
      return {
        pub: {
          allow: [
            ...JS_READ,
            `$JS.API.CONSUMER.MSG.NEXT.${n.tasksStream}.workers-${cls}`,
            ...bucketStreams(p).map((st) => `$JS.API.CONSUMER.MSG.NEXT.${st}.*`),
            `${p}.result.>`,
            `${p}.owner.>`,
            `$O.${n.arraysBucket}.>`,
            `$KV.${n.holdersBucket}.>`,
            `$KV.${n.workersBucket}.>`,
          ],
          deny: [
            ...MANAGE_DENY,
            ...durableConsumerDeny(),
            // Tasks of the other class, and any task publishing.
            `$JS.API.CONSUMER.MSG.NEXT.${n.tasksStream}.workers-${other}`,
            `${p}.task.>`,
            `${p}.lane.>`,
            `${p}.cancel.>`,
          ],
        },
        sub: { allow: [inbox, `${p}.lane.${s.pin ?? '*'}`, `${p}.cancel.*`], deny: [] },
        resp: { max: 1, ttl: 0 },
      };
    }
  }
}
