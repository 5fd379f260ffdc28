'use strict';
/**
 * bench/cluster/hosts.js — an array between two hosts, against the raw TCP rate of the same link.
 *
 *   sudo node bench/cluster/hosts.js      (env: ARRAY_MB=1024 RUNS=3 MTU=9000)
 *
 * Two hosts are simulated on this machine as network namespaces joined by a veth pair (created
 * here and removed at the end; needs root and `ip netns`). nats-server runs in host A. A process
 * in host A opens the array store as a worker does (its host store under /dev/shm, a peer server
 * advertised in the holders directory) and puts an ARRAY_MB MB f64 array that only it holds
 * (durable: 'none'). A process in host B then reads it RUNS times through its own array store,
 * dropping its copy before each read (the hosts share a peer secret: every connection proves it) (the previous read's array dropped and garbage-collected first,
 * as a worker drops a task's inputs, so the copy's memory is free for the next one): the store finds
 * the holder in the directory and pulls the
 * array leaf by leaf over the veth pair into host B's host store, checking each 4 MiB leaf against
 * the array's tree digest as it arrives. Timed: from get() to a checked, usable Float64Array.
 *
 * Then host B reads a second array of the same size, one with a durable copy, through the object
 * store alone (nats-server in host A): what a read from another host cost before peer pulls.
 *
 * Reference: the raw TCP rate of the same veth pair (one connection, memory to memory, nothing
 * checked), measured before and after ours. Figure: GB/s (10^9 bytes), ratio ours / raw (the raw
 * rate is the limit: 1 would be the link's speed). The MTU is 9000 (jumbo frames, as data-center
 * links between hosts use); both sides share it.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { emit, machineNote } = require('../lib/common');

const MB = Number(process.env.ARRAY_MB ?? 1024);
const RUNS = Number(process.env.RUNS ?? 3);
const MTU = Number(process.env.MTU ?? 9000);
const B = 'cluster-hosts';
const FIGURE = `${MB} MB array from a worker on one host to a worker on another (veth), checked per leaf`;
const log = (...a) => process.stderr.write(`[bench/cluster/hosts] ${a.join(' ')}\n`);
const root = path.resolve(__dirname, '..', '..');
const node = path.join(__dirname, 'hosts-node.js');

function sh(...cmd) {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/** Starts `args` in namespace `ns`; resolves each JSON line it prints to `lines`. */
const SECRET = randomBytes(16).toString('hex');

function inNs(ns, args, children) {
  const p = spawn('ip', ['netns', 'exec', ns, ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, GRAMFLEET_PEER_SECRET: SECRET },
  });
  children.push(p);
  const lines = [];
  let waiting = [];
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d.toString();
    for (let i; (i = buf.indexOf('\n')) >= 0;) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(l));
      } catch {
        continue;
      }
      for (const w of waiting) w();
      waiting = [];
    }
  });
  const exited = new Promise((r) => p.once('exit', r));
  const next = async () => {
    while (lines.length === 0) {
      const alive = await Promise.race([new Promise((r) => waiting.push(() => r(true))), exited.then(() => false)]);
      if (!alive && lines.length === 0) throw new Error(`${args.join(' ')} exited without output`);
    }
    return lines.shift();
  };
  return { p, next, exited };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  log(machineNote());
  if (process.getuid?.() !== 0) {
    emit(B, FIGURE, null, null, 'GB/s', { higherIsBetter: true, note: 'needs root (ip netns)' });
    return;
  }
  const tag = randomBytes(3).toString('hex');
  const nsA = `gfA${tag}`,
    nsB = `gfB${tag}`,
    vA = `gfa${tag}`,
    vB = `gfb${tag}`;
  const net = `10.${200 + (parseInt(tag.slice(0, 2), 16) % 50)}.${parseInt(tag.slice(2, 4), 16)}`;
  const ipA = `${net}.1`,
    ipB = `${net}.2`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-hosts-'));
  const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : tmp;
  const dirA = path.join(shm, `gf-bench-hostA-${tag}`),
    dirB = path.join(shm, `gf-bench-hostB-${tag}`);
  const children = [];
  let ours = [],
    raw = [],
    viaObject;
  let err;
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns]);
    for (const d of [dirA, dirB, tmp]) fs.rmSync(d, { recursive: true, force: true });
  };
  // Namespaces and shared memory must not outlive an interrupted run.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
  process.stderr.on('error', () => undefined);
  try {
    sh('ip', 'netns', 'add', nsA);
    sh('ip', 'netns', 'add', nsB);
    sh('ip', 'link', 'add', vA, 'type', 'veth', 'peer', 'name', vB);
    sh('ip', 'link', 'set', vA, 'netns', nsA);
    sh('ip', 'link', 'set', vB, 'netns', nsB);
    for (const [ns, dev, ip] of [
      [nsA, vA, ipA],
      [nsB, vB, ipB],
    ]) {
      sh('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev);
      sh('ip', '-n', ns, 'link', 'set', dev, 'mtu', String(MTU));
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    log(`hosts ${nsA} (${ipA}) and ${nsB} (${ipB}) joined by a veth pair, MTU ${MTU}`);

    const rawRate = async () => {
      const s = inNs(nsA, [process.execPath, node, 'raw-send', '9700', String(MB)], children);
      await s.next();
      const r = inNs(nsB, [process.execPath, node, 'raw-recv', ipA, '9700'], children);
      const { seconds, bytes } = await r.next();
      s.p.stdin.end();
      await s.exited;
      return bytes / seconds / 1e9;
    };
    raw.push(await rawRate());
    log(`raw TCP over the veth pair: ${raw[0].toFixed(2)} GB/s`);

    const natsBin = fs.existsSync(path.join(root, '.gramfleet', 'bin', 'nats-server')) ? path.join(root, '.gramfleet', 'bin', 'nats-server') : 'nats-server';
    const nats = inNs(nsA, [natsBin, '-js', '-sd', path.join(tmp, 'nats'), '-a', ipA, '-p', '4222', '-l', path.join(tmp, 'nats.log')], children);
    void nats;
    await new Promise((r) => setTimeout(r, 1500));
    const natsUrl = `nats://${ipA}:4222`;
    const prefix = `bh${tag}`;
    const holder = inNs(nsA, [process.execPath, node, 'holder', natsUrl, prefix, dirA, String(MB), ipA], children);
    const { ref, durableRef, peer } = await holder.next();
    log(`host A holds ${ref.digest} (${ref.bytes} bytes), serving at ${peer}`);
    const puller = inNs(
      nsB,
      [process.execPath, '--expose-gc', node, 'puller', natsUrl, prefix, dirB, JSON.stringify(ref), String(RUNS), JSON.stringify(durableRef)],
      children,
    );
    const { seconds, objectSeconds, cpu } = await puller.next();
    log(`the pulling process's CPU per run: ${cpu.join('; ')}`);
    ours = seconds.map((s) => ref.bytes / s / 1e9);
    viaObject = durableRef.bytes / objectSeconds / 1e9;
    log(`through the object store: ${objectSeconds.toFixed(3)} s, ${viaObject.toFixed(2)} GB/s`);
    log(`pulled and checked in ${seconds.map((s) => s.toFixed(3)).join(', ')} s: ${ours.map((x) => x.toFixed(2)).join(', ')} GB/s`);
    holder.p.stdin.end();
    await holder.exited;
    raw.push(await rawRate());
    log(`raw TCP over the veth pair again: ${raw[1].toFixed(2)} GB/s`);
  } catch (e) {
    err = e;
    log(`failed: ${e.stack}`);
  } finally {
    for (const c of children) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    cleanup();
  }
  log(machineNote());
  const note = [
    err && `failed: ${err.message}`,
    ours.length > 0 && `median of ${ours.length} runs: ${ours.map((x) => x.toFixed(3)).join(', ')} GB/s`,
    raw.length > 0 && `raw TCP before/after: ${raw.map((x) => x.toFixed(3)).join(', ')} GB/s`,
    `MTU ${MTU}`,
    `load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  ]
    .filter(Boolean)
    .join('; ');
  emit(B, FIGURE, ours.length > 0 ? median(ours) : null, raw.length > 0 ? median(raw) : null, 'GB/s', { higherIsBetter: true, note });
  emit(
    B,
    `${MB} MB array between hosts through the object store (no peers; what it cost before), against the raw TCP rate`,
    viaObject ?? null,
    raw.length > 0 ? median(raw) : null,
    'GB/s',
    { higherIsBetter: true, note: 'one run; JetStream direct-get batches, leaves checked as they arrive' },
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
