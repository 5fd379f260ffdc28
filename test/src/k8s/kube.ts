/** Small helpers over the client library for the Kubernetes tests. */
import * as assert from 'node:assert/strict';
import { RawObjectApi, k8sApi, type KubeConfig, type KubernetesObject } from '@gramfleet/orchestrator/internal';

/** Server-side applies one object (optionally as a dry run); returns what the server answered. */
export async function apply(kc: KubeConfig, obj: KubernetesObject, dryRun = false): Promise<KubernetesObject> {
  return RawObjectApi.for(kc).apply(obj, { dryRun, fieldManager: 'gramfleet-test' });
}

/** Creates one object (POST). */
export async function create(kc: KubeConfig, obj: KubernetesObject): Promise<KubernetesObject> {
  return RawObjectApi.for(kc).createRaw(obj);
}

/** Creates a namespace unless it exists. */
export async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  await apply(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** Applies a CRD and waits until the API server reports it Established. */
export async function installCrd(kc: KubeConfig, crd: KubernetesObject): Promise<void> {
  await apply(kc, crd);
  const api = kc.makeApiClient(k8sApi.ApiextensionsV1Api);
  const end = Date.now() + 30_000;
  for (;;) {
    const c = await api.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
    if ((c.status?.conditions ?? []).some((x) => x.type === 'Established' && x.status === 'True')) break;
    if (Date.now() > end) throw new Error(`CRD ${crd.metadata?.name} not established`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // discovery of the new group can lag the Established condition by a moment
  const objs = k8sApi.KubernetesObjectApi.makeApiClient(kc);
  const group = (crd as unknown as { spec: { group: string; versions: { name: string }[]; names: { kind: string } } }).spec;
  for (;;) {
    try {
      await objs.list(`${group.group}/${group.versions[0]?.name ?? ''}`, group.names.kind);
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The HTTP status and message of a client error. */
export function apiError(e: unknown): { code: number; message: string } {
  const code = (e as { code?: unknown }).code;
  const body = (e as { body?: unknown }).body;
  let message = (e as Error).message;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      message = body;
    }
  } else if (body !== null && typeof body === 'object') {
    message = (body as { message?: string }).message ?? message;
  }
  return { code: typeof code === 'number' ? code : 0, message };
}

/** Asserts that `p` is rejected by the API server with `code` and a message matching `re`. */
export async function expectRejected(p: Promise<unknown>, code: number, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    const a = apiError(e);
    assert.equal(a.code, code, `expected HTTP ${code}, got ${a.code}: ${a.message}`);
    assert.match(a.message, re);
    return;
  }
  assert.fail(`expected the API server to reject with ${code} ${re}`);
}
