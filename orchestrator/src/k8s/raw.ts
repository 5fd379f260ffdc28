/**
 * Untyped access for manifests. The client library's generic object API and YAML helpers run
 * every object through its generated models, which silently drop keys the models spell
 * differently (`x-kubernetes-validations`, `x-kubernetes-preserve-unknown-fields`, …). Manifests
 * here are plain JSON, so they are sent and printed as they are: server-side apply with the raw
 * JSON body (the URL still comes from the library's discovery), YAML through the `yaml` package.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { k8s, type KubeConfig, type KubernetesObject } from './client';

/** Options of {@link RawObjectApi.apply}. */
export interface RawApplyOptions {
  /** Validate and admit without persisting (`dryRun=All`). @default false */
  readonly dryRun?: boolean;
  /** @default 'gramfleet' */
  readonly fieldManager?: string;
  /** Take over fields owned by another manager. @default true */
  readonly force?: boolean;
}

/** The library's object API plus a server-side apply that sends the object unmodified. */
export class RawObjectApi extends k8s.KubernetesObjectApi {
  /** An API client for `kc`. */
  static for(kc: KubeConfig): RawObjectApi {
    return kc.makeApiClient(RawObjectApi);
  }

  /** Server-side applies `obj` (`application/apply-patch+yaml`, JSON body). */
  async apply(obj: KubernetesObject, o: RawApplyOptions = {}): Promise<KubernetesObject> {
    const path = await this.specUriPath(obj, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', k8s.PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', o.fieldManager ?? 'gramfleet');
    ctx.setQueryParam('force', String(o.force ?? true));
    if (o.dryRun === true) ctx.setQueryParam('dryRun', 'All');
    ctx.setBody(JSON.stringify(obj));
    return this.requestPromise(ctx);
  }

  /** Creates `obj` (POST with the JSON body as it is). */
  async createRaw(obj: KubernetesObject, o: { readonly dryRun?: boolean } = {}): Promise<KubernetesObject> {
    const path = await this.specUriPath(obj, 'create');
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.POST);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', 'application/json');
    if (o.dryRun === true) ctx.setQueryParam('dryRun', 'All');
    ctx.setBody(JSON.stringify(obj));
    return this.requestPromise(ctx);
  }
}

/** Objects as a multi-document YAML stream. */
export function toYamlStream(objs: readonly object[]): string {
  return objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** Every non-empty document of a YAML stream, as plain objects. */
export function parseYamlStream(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null && o !== undefined);
}
