/**
 * The KernelCampaign controller against a real kube-apiserver + etcd and a real local cluster
 * (Temporal dev server, NATS JetStream, orchestrator, WASM workers). The controller runs as
 * its service account with only the RBAC the renderer/chart grant it. Proves: a KernelCampaign
 * starts exactly one campaign workflow whose progress `.status` follows to Succeeded; bad run
 * parameters fail the resource with the typed error and start nothing; a controller restart
 * mid-campaign starts no second workflow; deletion cancels the workflow and then removes the
 * finalizer. Also checks the health endpoints of the worker and orchestrator processes. The
 * controller reaches Temporal through mutual TLS: a real TLS terminator (../security/grpc-tls-proxy)
 * that requires a client certificate stands before the dev server.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { type KernelCampaign } from '@gramfleet/orchestrator';
import {
  KERNEL_CAMPAIGN,
  K8S_GROUP,
  K8S_VERSION,
  KernelCampaignController,
  checkTemporalSecurity,
  k8sApi,
  kernelCampaignCrd,
  kernelCampaignWorkflowId,
  renderManifests,
  type KubernetesObject,
} from '@gramfleet/orchestrator/internal';
import { campaignAttemptId, campaignRunId, campaignTable, type Logger } from '@gramfleet/core';
import { natsAuthEnv } from '@gramfleet/workers';
import { sharedGraph, startTestCluster, until, type TestCluster } from '../integration/harness';
import { CONTROLLER_SA, envTestUnavailable, startEnvTest, type EnvTest } from './envtest';
import { apply, create, ensureNamespace, installCrd } from './kube';
import { createTestCa, issueTestCert, opensslAvailable } from '../security/certs';
import { startGrpcTlsProxy, type GrpcTlsProxy } from '../security/grpc-tls-proxy';

const skip = envTestUnavailable();
if (skip !== undefined) console.log(`# skipping the KernelCampaign controller tests: ${skip}`);
const NS = 'team-a';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('KernelCampaign controller (real kube-apiserver + Temporal + NATS)', { skip }, () => {
  let env: EnvTest;
  let t: TestCluster;
  let client: Client;
  let ctrl: KernelCampaignController | undefined;
  let tlsDir: string | undefined;
  let proxy: GrpcTlsProxy | undefined;
  let temporalSecurity: ReturnType<typeof checkTemporalSecurity>;
  const api = (): InstanceType<typeof k8sApi.CustomObjectsApi> => env.admin.makeApiClient(k8sApi.CustomObjectsApi);
  const base = { group: K8S_GROUP, version: K8S_VERSION, plural: KERNEL_CAMPAIGN.plural, namespace: NS };
  const get = async (name: string): Promise<KernelCampaign | undefined> => {
    try {
      return (await api().getNamespacedCustomObject({ ...base, name })) as KernelCampaign;
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  };
  const startController = async (): Promise<KernelCampaignController> =>
    KernelCampaignController.start({
      kubeConfig: env.controller,
      temporalAddress: proxy?.address ?? t.cluster.state.temporalAddress,
      ...(temporalSecurity !== undefined ? { temporalSecurity } : {}),
      taskQueue: t.cluster.state.taskQueue,
      prefix: t.cluster.state.prefix,
      pollIntervalMs: 300,
      resyncMs: 5000,
      log: captured,
    });
  const kc = (name: string, spec: Record<string, unknown>): KubernetesObject =>
    ({ apiVersion: `${K8S_GROUP}/${K8S_VERSION}`, kind: KERNEL_CAMPAIGN.kind, metadata: { name, namespace: NS }, spec }) as KubernetesObject;
  const karate = { kind: 'grf', graph: sharedGraph('karate.adjlist'), kernel: 'reg-laplacian', scale: 0.25, walks: 8, pHalt: 0.5 };
  const karateParams = Object.fromEntries(Object.entries(karate).filter(([k]) => k !== 'kind'));
  // a run that takes a while: many walks on cora in small shards
  const slow = { kind: 'grf', graph: sharedGraph('cora.npz'), kernel: 'reg-laplacian', scale: 0.25, walks: 1024, pHalt: 0.5, shardNodes: 50 };
  const warnings: string[] = [];
  const captured: Logger = {
    debug() {},
    info() {},
    warn(msg) {
      warnings.push(msg);
    },
    error(msg) {
      warnings.push(msg);
    },
  };
  const executions = async (workflowId: string): Promise<number> => {
    let n = 0;
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) if (w.workflowId === workflowId) n++;
    return n;
  };

  before(async () => {
    env = await startEnvTest('controller');
    await installCrd(env.admin, kernelCampaignCrd() as KubernetesObject);
    await ensureNamespace(env.admin, CONTROLLER_SA.namespace);
    await ensureNamespace(env.admin, NS);
    // the controller's RBAC exactly as rendered (ServiceAccount, ClusterRole, ClusterRoleBinding)
    for (const o of renderManifests({ namespace: CONTROLLER_SA.namespace })) {
      if (['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind ?? '')) await apply(env.admin, o);
    }
    t = await startTestCluster('k8s-ctrl', { workers: 2 });
    client = new Client({ connection: await Connection.connect({ address: t.cluster.state.temporalAddress }), namespace: t.cluster.state.namespace });
    if (opensslAvailable()) {
      tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-ctrl-tls-'));
      const ca = createTestCa(tlsDir);
      const server = issueTestCert(ca, tlsDir, 'server', { cn: 'temporal-frontend', server: { ips: ['127.0.0.1'] } });
      const cert = issueTestCert(ca, tlsDir, 'controller', { cn: 'gramfleet-controller', client: true });
      proxy = await startGrpcTlsProxy({ upstream: t.cluster.state.temporalAddress, certPem: server.certPem, keyPem: server.keyPem, clientCa: ca.certPem });
      temporalSecurity = checkTemporalSecurity({ caFile: ca.certFile, certFile: cert.certFile, keyFile: cert.keyFile });
    } else console.log('# the controller reaches Temporal in plaintext: the openssl command line (test certificates) is not installed');
    ctrl = await startController();
  });
  after(async () => {
    await ctrl?.stop();
    await client?.connection.close().catch(() => undefined);
    await proxy?.close();
    if (tlsDir !== undefined) fs.rmSync(tlsDir, { recursive: true, force: true });
    await t?.stop();
    await env?.stop();
  });

  it('the rendered service account name is the one the controller authenticates as', () => {
    const sa = renderManifests({ namespace: CONTROLLER_SA.namespace }).find((o) => o.kind === 'ServiceAccount');
    assert.equal(sa?.metadata?.name, CONTROLLER_SA.name);
    assert.equal(ctrl?.ready(), true);
  });

  it('a KernelCampaign starts exactly one campaign workflow and .status follows it to Succeeded', async () => {
    await create(env.admin, kc('sweep', { concurrency: 2, grid: { kind: 'grf', base: karateParams, axes: { seed: [1, 2, 3] } } }));
    const seen = new Set<string>();
    await until(
      async () => {
        const s = (await get('sweep'))?.status;
        if (s?.phase !== undefined) seen.add(s.phase);
        return s?.phase === 'Succeeded' || s?.phase === 'Failed';
      },
      180_000,
      'sweep to finish',
    );
    const obj = (await get('sweep'))!;
    const s = obj.status!;
    assert.equal(s.phase, 'Succeeded', JSON.stringify(s));
    assert.ok(seen.has('Running'), `phases seen: ${[...seen].join(',')}`);
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed, s.runsRunning], [3, 3, 0, 0]);
    assert.equal(s.workflowId, kernelCampaignWorkflowId(obj.metadata!.uid!));
    assert.deepEqual(s.resultRef, { bucket: campaignTable(t.cluster.state.prefix).runsBucket, keyPrefix: `kc-${obj.metadata!.uid!}.` });
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status]),
      [
        ['Accepted', 'True'],
        ['Started', 'True'],
        ['Complete', 'True'],
      ],
    );
    assert.deepEqual(obj.metadata?.finalizers, [KERNEL_CAMPAIGN.finalizer]);
    const d = await client.workflow.getHandle(s.workflowId!).describe();
    assert.equal(d.status.name, 'COMPLETED');
    assert.equal(d.runId, s.workflowRunId);
    assert.equal(await executions(s.workflowId!), 1);
  });

  it('the controller reached Temporal through mutual TLS only, with its client certificate', (c) => {
    if (proxy === undefined) return c.skip('no TLS terminator: the openssl command line (test certificates) is not installed');
    assert.ok(proxy.counts.forwarded > 0, 'calls went through the terminator');
    assert.deepEqual([...proxy.seen.clientCns], ['gramfleet-controller']);
  });

  it('a KernelCampaign mixing workload kinds (a Kronecker GP lengthscale grid beside a datagen run) runs every run to Succeeded', async () => {
    const kron = {
      axes: [
        [0, 0.5, 1],
        [0, 1],
      ],
      y: [0.1, 0.3, 0.2, 0.5, 0.4, 0.6],
      kernel: 'rbf',
      noise: 0.05,
    };
    await create(
      env.admin,
      kc('kinds', {
        concurrency: 2,
        runs: [{ kind: 'datagen', pde: 'poisson-rhs', grid: 6, count: 2 }],
        grid: {
          kind: 'kron-gp',
          base: kron,
          axes: {
            lengthscales: [
              [0.2, 0.5],
              [0.5, 1],
            ],
          },
        },
      }),
    );
    await until(async () => ['Succeeded', 'Failed'].includes((await get('kinds'))?.status?.phase ?? ''), 180_000, 'kinds to finish');
    const s = (await get('kinds'))!.status!;
    assert.equal(s.phase, 'Succeeded', JSON.stringify(s));
    assert.deepEqual([s.runsTotal, s.runsDone, s.runsFailed], [3, 3, 0]);
  });

  it('bad run parameters: phase Failed with the typed error naming the field, no workflow started', async () => {
    await create(env.admin, kc('bad-scale', { runs: [{ ...karate, scale: 0.8 }] }));
    await until(async () => (await get('bad-scale'))?.status?.phase === 'Failed', 60_000, 'bad-scale to fail');
    const obj = (await get('bad-scale'))!;
    const accepted = obj.status?.conditions?.find((c) => c.type === 'Accepted');
    assert.equal(accepted?.status, 'False');
    assert.equal(accepted?.reason, 'INPUT_OUT_OF_RANGE');
    assert.match(accepted?.message ?? '', /runs\[0\]\.scale/);
    await assert.rejects(client.workflow.getHandle(kernelCampaignWorkflowId(obj.metadata!.uid!)).describe(), WorkflowNotFoundError);
    // recorded as a Warning event on the object (the controller's RBAC allows events)
    const events = await env.admin
      .makeApiClient(k8sApi.CoreV1Api)
      .listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.uid=${obj.metadata!.uid!}` });
    assert.deepEqual(
      events.items.map((e) => [e.type, e.reason]),
      [['Warning', 'INPUT_OUT_OF_RANGE']],
    );
  });

  it('a missing gf:file: reference: refused before any run starts, Accepted=False naming the field; a held one is accepted', async () => {
    const held = (await t.fleet.objects.putFile(sharedGraph('karate.adjlist'))).ref;
    const missing = `gf:file:${'0'.repeat(64)}:123`;
    await create(
      env.admin,
      kc('bad-ref', {
        concurrency: 2,
        runs: [
          { ...karate, graph: held },
          { ...karate, graph: held, seed: 2 },
          { ...karate, graph: missing },
        ],
      }),
    );
    await until(async () => (await get('bad-ref'))?.status?.phase === 'Failed', 60_000, 'bad-ref to fail');
    const obj = (await get('bad-ref'))!;
    const s = obj.status!;
    const accepted = s.conditions?.find((c) => c.type === 'Accepted');
    assert.equal(accepted?.status, 'False', JSON.stringify(s));
    assert.equal(accepted?.reason, 'STORE_MISSING_OBJECT');
    assert.match(accepted?.message ?? '', /runs\[2\]\.graph/);
    assert.match(accepted?.message ?? '', /gramfleet put/);
    assert.equal(s.conditions?.find((c) => c.type === 'Complete')?.reason, 'InputsRefused');
    assert.deepEqual([s.runsDone, s.runsFailed, s.runsRunning], [0, 0, 0]);
    // the workflow failed at its first step: no run's child workflow was ever started, the held file's runs included
    assert.equal((await client.workflow.getHandle(s.workflowId!).describe()).status.name, 'FAILED');
    for (const i of [0, 1, 2])
      await assert.rejects(client.workflow.getHandle(campaignAttemptId(campaignRunId(s.campaignId!, i), 1)).describe(), WorkflowNotFoundError);
    const events = await env.admin
      .makeApiClient(k8sApi.CoreV1Api)
      .listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.uid=${obj.metadata!.uid!}` });
    assert.ok(
      events.items.some((e) => e.type === 'Warning' && e.reason === 'STORE_MISSING_OBJECT'),
      JSON.stringify(events.items.map((e) => e.reason)),
    );
    // the same campaign with only the held reference runs
    await create(env.admin, kc('good-ref', { runs: [{ ...karate, graph: held }] }));
    await until(async () => ['Succeeded', 'Failed'].includes((await get('good-ref'))?.status?.phase ?? ''), 120_000, 'good-ref to finish');
    const g = (await get('good-ref'))!.status!;
    assert.equal(g.phase, 'Succeeded', JSON.stringify(g));
    assert.equal(g.runsDone, 1);
  });

  it('restarting the controller mid-campaign starts no second workflow', async () => {
    await create(env.admin, kc('restart', { concurrency: 1, runs: [slow, { ...slow, seed: 2 }, karate] }));
    await until(async () => (await get('restart'))?.status?.phase === 'Running', 60_000, 'restart to run');
    const before = (await get('restart'))!.status!;
    await ctrl!.stop();
    ctrl = undefined;
    // mid-campaign: the workflow is still running while no controller runs
    assert.equal((await client.workflow.getHandle(before.workflowId!).describe()).status.name, 'RUNNING');
    // the campaign goes on without a controller; a new one picks it up from the API server and Temporal
    ctrl = await startController();
    await until(async () => ['Succeeded', 'Failed'].includes((await get('restart'))?.status?.phase ?? ''), 240_000, 'restart to finish');
    const s = (await get('restart'))!.status!;
    assert.equal(s.phase, 'Succeeded', JSON.stringify(s));
    assert.equal(s.runsDone, 3);
    assert.equal(s.workflowRunId, before.workflowRunId);
    assert.equal(await executions(s.workflowId!), 1);
  });

  it('deleting a KernelCampaign cancels its workflow, then removes the finalizer', async () => {
    await create(
      env.admin,
      kc('doomed', {
        concurrency: 1,
        runs: [
          { ...slow, walks: 4096 },
          { ...slow, walks: 4096, seed: 9 },
        ],
      }),
    );
    await until(async () => (await get('doomed'))?.status?.phase === 'Running', 60_000, 'doomed to run');
    const obj = (await get('doomed'))!;
    assert.equal((await client.workflow.getHandle(obj.status!.workflowId!).describe()).status.name, 'RUNNING');
    await api().deleteNamespacedCustomObject({ ...base, name: 'doomed' });
    // the finalizer holds the object until the workflow has closed
    const held = await get('doomed');
    assert.ok(held === undefined || held.metadata?.deletionTimestamp !== undefined);
    await until(async () => (await get('doomed')) === undefined, 120_000, 'doomed to be gone');
    const d = await client.workflow.getHandle(kernelCampaignWorkflowId(obj.metadata!.uid!)).describe();
    assert.equal(d.status.name, 'CANCELLED');
  });

  it('a workflow that vanished from Temporal is not started again: the resource fails with WorkflowNotFound', async () => {
    await create(
      env.admin,
      kc('vanish', {
        concurrency: 1,
        runs: [
          { ...slow, walks: 4096 },
          { ...slow, walks: 4096, seed: 5 },
        ],
      }),
    );
    await until(async () => (await get('vanish'))?.status?.phase === 'Running', 60_000, 'vanish to run');
    const s0 = (await get('vanish'))!.status!;
    // Temporal deletes a running workflow by terminating it first and removing it later; a
    // controller polling in between sees TERMINATED (and reports WorkflowTerminated, correctly).
    // The case under test is a workflow that is simply gone (as past its retention), so the
    // deletion completes while no controller runs, and a new controller then finds nothing.
    await ctrl!.stop();
    ctrl = undefined;
    await client.workflowService.deleteWorkflowExecution({ namespace: t.cluster.state.namespace, workflowExecution: { workflowId: s0.workflowId! } });
    await until(
      async () =>
        client.workflow
          .getHandle(s0.workflowId!)
          .describe()
          .then(
            () => false,
            (e: unknown) => e instanceof WorkflowNotFoundError,
          ),
      60_000,
      'the deletion to complete',
    );
    ctrl = await startController();
    await until(async () => (await get('vanish'))?.status?.phase === 'Failed', 60_000, 'vanish to fail');
    const s = (await get('vanish'))!.status!;
    assert.equal(s.conditions?.find((c) => c.type === 'Complete')?.reason, 'WorkflowNotFound');
    assert.equal(s.workflowRunId, s0.workflowRunId);
    await assert.rejects(client.workflow.getHandle(s0.workflowId!).describe(), WorkflowNotFoundError);
    assert.equal(await executions(s0.workflowId!), 0, 'no second workflow was started');
  });

  it('two controller processes elect one leader over a Lease; SIGKILL of the leader: the standby takes over, no campaign starts twice, SIGTERM releases the Lease', async () => {
    // The in-process controller steps aside: two real `gramfleet k8s controller` processes, as the
    // chart runs them, with the leader-election RBAC exactly as rendered.
    await ctrl!.stop();
    ctrl = undefined;
    for (const o of renderManifests({ namespace: CONTROLLER_SA.namespace })) {
      if (['Role', 'RoleBinding'].includes(o.kind ?? '') && o.metadata?.name === 'gramfleet-controller-leader') await apply(env.admin, o);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-ctrl-elect-'));
    const kubeconfig = path.join(dir, 'kubeconfig.json');
    fs.writeFileSync(kubeconfig, env.controller.exportConfig(), { mode: 0o600 });
    const leaseMs = 3000;
    const coord = env.admin.makeApiClient(k8sApi.CoordinationV1Api);
    const lease = async (): Promise<{ holder: string; transitions: number } | undefined> => {
      try {
        const l = await coord.readNamespacedLease({ name: 'gramfleet-controller', namespace: CONTROLLER_SA.namespace });
        return { holder: l.spec?.holderIdentity ?? '', transitions: l.spec?.leaseTransitions ?? 0 };
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    };
    type Proc = { child: ReturnType<typeof spawn>; lines: { msg?: string; identity?: string }[]; exit: Promise<number | null> };
    const procs: Proc[] = [];
    const startProc = (): Proc => {
      const child = spawn(process.execPath, [path.join(ROOT, 'orchestrator', 'bin', 'gramfleet.js'), 'k8s', 'controller'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
          GRAMFLEET_TEMPORAL_ADDRESS: t.cluster.state.temporalAddress,
          GRAMFLEET_NAMESPACE: t.cluster.state.namespace,
          GRAMFLEET_TASK_QUEUE: t.cluster.state.taskQueue,
          GRAMFLEET_PREFIX: t.cluster.state.prefix,
          GRAMFLEET_POLL_MS: '300',
          GRAMFLEET_LEADER_ELECTION_NAMESPACE: CONTROLLER_SA.namespace,
          GRAMFLEET_LEADER_ELECTION_LEASE: 'gramfleet-controller',
          GRAMFLEET_LEADER_ELECTION_LEASE_MS: String(leaseMs),
          GRAMFLEET_LOG_LEVEL: 'info',
        },
      });
      const p: Proc = { child, lines: [], exit: new Promise((r) => child.once('exit', (code) => r(code))) };
      let buf = '';
      const take = (b: Buffer): void => {
        buf += b.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            p.lines.push(JSON.parse(line) as { msg?: string; identity?: string });
          } catch {
            /* not a log line */
          }
        }
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      procs.push(p);
      return p;
    };
    const identity = (p: Proc): string | undefined => p.lines.find((l) => l.msg === 'kernelcampaign controller standing by for the lease')?.identity;
    const reconciling = (p: Proc): boolean => p.lines.some((l) => l.msg === 'kernelcampaign controller running');
    try {
      const a = startProc();
      const b = startProc();
      await until(async () => identity(a) !== undefined && identity(b) !== undefined, 60_000, 'both controllers to stand by');
      await until(async () => [identity(a), identity(b)].includes((await lease())?.holder), 60_000, 'a leader to be elected');
      const first = (await lease())!;
      const [leader, standby] = first.holder === identity(a) ? [a, b] : [b, a];
      await until(async () => reconciling(leader), 30_000, 'the leader to reconcile');
      assert.equal(reconciling(standby), false, 'the standby does not reconcile while the leader holds the Lease');
      await create(env.admin, kc('elect', { concurrency: 1, runs: [slow, karate] }));
      await until(async () => (await get('elect'))?.status?.phase === 'Running', 60_000, 'elect to run under the first leader');
      const running = (await get('elect'))!.status!;
      // the leader dies without releasing anything
      leader.child.kill('SIGKILL');
      await leader.exit;
      const killedAt = Date.now();
      await until(async () => (await lease())?.holder === identity(standby), 60_000, 'the standby to take the Lease');
      const tookMs = Date.now() - killedAt;
      console.log(`# the standby took the Lease ${tookMs} ms after the leader was SIGKILLed (lease ${leaseMs} ms)`);
      assert.ok((await lease())!.transitions >= first.transitions + 1);
      await until(async () => reconciling(standby), 30_000, 'the new leader to reconcile');
      await create(env.admin, kc('elect-after', { runs: [karate] }));
      for (const n of ['elect', 'elect-after'])
        await until(async () => ['Succeeded', 'Failed'].includes((await get(n))?.status?.phase ?? ''), 240_000, `${n} to finish`);
      const s = (await get('elect'))!.status!;
      assert.equal(s.phase, 'Succeeded', JSON.stringify(s));
      assert.equal(s.runsDone, 2);
      assert.equal(s.workflowRunId, running.workflowRunId, 'the new leader followed the same workflow run');
      assert.equal(await executions(s.workflowId!), 1, 'no campaign started twice');
      assert.equal((await get('elect-after'))!.status!.phase, 'Succeeded');
      // a graceful stop releases the Lease at once (no holder) and exits 0
      standby.child.kill('SIGTERM');
      assert.equal(await standby.exit, 0);
      assert.equal((await lease())!.holder, '', 'released on SIGTERM');
    } catch (e) {
      // what the controllers said about the Lease and their errors, to see why
      for (const [i, p] of procs.entries())
        for (const l of p.lines) if (/leader election|lease|error/i.test(JSON.stringify(l))) console.log(`# controller ${i}: ${JSON.stringify(l)}`);
      throw e;
    } finally {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exit));
      fs.rmSync(dir, { recursive: true, force: true });
      ctrl = await startController();
    }
  });

  it('rides through a kube-apiserver restart: the broken watch is restarted with backoff and relists', async () => {
    warnings.length = 0;
    await env.restartApiServer();
    await create(env.admin, kc('after-restart', { runs: [karate] }));
    await until(async () => ['Succeeded', 'Failed'].includes((await get('after-restart'))?.status?.phase ?? ''), 120_000, 'after-restart to finish');
    assert.equal((await get('after-restart'))!.status!.phase, 'Succeeded');
    assert.ok(warnings.includes('kernelcampaign watch failed; restarting'), `warnings: ${warnings.join(' | ')}`);
  });

  it('health endpoints: the WASM worker and the orchestrator answer /healthz and become ready on /readyz', async () => {
    const get200 = (port: number, p: string): Promise<number> =>
      new Promise((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: p }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          })
          .on('error', () => resolve(0));
      });
    const procs: [string, Record<string, string>][] = [
      [path.join(ROOT, 'workers', 'dist', 'main.js'), { GRAMFLEET_WORKER_ID: 'health-probe', ...natsAuthEnv(t.cluster.natsAuth('wasm-worker')) }],
      [
        path.join(ROOT, 'orchestrator', 'dist', 'host', 'worker-host.js'),
        {
          GRAMFLEET_TEMPORAL_ADDRESS: t.cluster.state.temporalAddress,
          GRAMFLEET_TASK_QUEUE: `${t.cluster.state.taskQueue}-health`,
          ...natsAuthEnv(t.cluster.natsAuth('orchestrator')),
        },
      ],
    ];
    for (const [script, extra] of procs) {
      // A port the OS just handed out (a random pick could collide with a listening server,
      // and the child would exit on EADDRINUSE).
      const port = await new Promise<number>((resolve, reject) => {
        const srv = net.createServer().listen(0, '127.0.0.1', () => {
          const a = srv.address();
          srv.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
        });
      });
      const child = spawn(process.execPath, [script], {
        stdio: 'ignore',
        env: {
          ...process.env,
          GRAMFLEET_NATS_URL: t.cluster.state.natsUrl,
          GRAMFLEET_PREFIX: t.cluster.state.prefix,
          GRAMFLEET_HEALTH_PORT: String(port),
          GRAMFLEET_LOG_LEVEL: 'warn',
          ...extra,
        },
      });
      try {
        await until(async () => (await get200(port, '/healthz')) === 200, 60_000, `${path.basename(script)} /healthz`);
        await until(async () => (await get200(port, '/readyz')) === 200, 60_000, `${path.basename(script)} /readyz`);
        assert.equal(await get200(port, '/nope'), 404);
      } finally {
        // A child that has already exited (and failed the wait above) emits no second 'exit'.
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
      }
    }
  });
});
