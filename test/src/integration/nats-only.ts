/**
 * A real `nats-server -js` on a free port with its store in a throwaway directory, for suites
 * that need the data plane but not Temporal. `restart()` stops it and starts it again on the same
 * port and store (what a restarted server looks like to clients).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** A running server. */
export interface NatsOnly {
  readonly url: string;
  readonly dir: string;
  restart(): Promise<void>;
  /** SIGKILLs the server, removes its JetStream store (every stream, bucket and object) and starts it again empty on the same port. */
  wipe(): Promise<void>;
  stop(): Promise<void>;
}

function binary(): string {
  const local = path.resolve(__dirname, '..', '..', '..', '.gramfleet', 'bin', 'nats-server');
  return fs.existsSync(local) ? local : 'nats-server';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on ${port}`);
}

/** Starts a server for one suite (named after it); `maxFileStore` (e.g. '1GB') caps its JetStream store. */
export async function startNatsOnly(name: string, o: { maxFileStore?: string } = {}): Promise<NatsOnly> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gf-${name}-nats-`));
  const port = await freePort();
  let child: ChildProcess;
  const conf = path.join(dir, 'nats.conf');
  if (o.maxFileStore !== undefined)
    fs.writeFileSync(conf, `jetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))}, max_file_store: ${o.maxFileStore} }\n`);
  const js = o.maxFileStore === undefined ? ['-js', '-sd', path.join(dir, 'js')] : ['-c', conf];
  const start = async (): Promise<void> => {
    child = spawn(binary(), [...js, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitForPort(port, child);
  };
  const halt = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    // A server that has not exited 10 s after SIGTERM is killed, so a suite's after() never hangs on it.
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(kill);
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    dir,
    async restart() {
      await halt();
      await start();
    },
    async wipe() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      fs.rmSync(path.join(dir, 'js'), { recursive: true, force: true });
      await start();
    },
    async stop() {
      await halt();
      if (process.env['GRAMFLEET_KEEP_TEST_DIRS'] === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
