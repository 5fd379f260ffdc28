/** A one-line progress bar on stderr (redrawn in place on a TTY, every 10 % otherwise). */
export interface ProgressBar {
  update(done: number, total: number, note?: string): void;
  finish(note?: string): void;
}

/** Creates a {@link ProgressBar} with a label. */
export function createProgressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = stream.isTTY === true;
  const t0 = Date.now();
  let lastDecile = -1;
  let last = '';
  const render = (done: number, total: number, note: string): string => {
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const full = Math.round(frac * width);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    return `${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${done}/${total} ${(frac * 100).toFixed(0)}% ${secs}s${note ? ' ' + note : ''}`;
  };
  return {
    update(done, total, note = '') {
      const line = render(done, total, note);
      if (tty) {
        if (line !== last) stream.write(`\r${line}\x1b[K`);
      } else {
        const dec = total > 0 ? Math.floor((10 * done) / total) : 0;
        if (dec !== lastDecile) stream.write(line + '\n');
        lastDecile = dec;
      }
      last = line;
    },
    finish(note = '') {
      if (tty) stream.write(`\r${last}${note ? ' ' + note : ''}\x1b[K\n`);
      else if (note) stream.write(`${label} ${note}\n`);
    },
  };
}

/** One step of an array's upload: its digest, bytes acknowledged so far, its size (the SDK's `onUpload`). */
export interface UploadStep {
  readonly digest: string;
  readonly sent: number;
  readonly total: number;
  /** Of `sent`, the bytes the cluster already held (a resumed upload: not sent again). */
  readonly stored?: number;
}

/**
 * An upload progress bar for a command's inputs (`connect({ onUpload })`): arrays of at least
 * `minBytes` count; the bar shows their MiB sent of the MiB started so far, and finishes when all
 * of them are acknowledged (a later upload starts a new bar). When the cluster already held part of
 * them (a resumed upload) the bar ends with how much, and how much was sent.
 */
export function createUploadProgress(stream: NodeJS.WriteStream = process.stderr, minBytes = 8 * 1024 * 1024): (e: UploadStep) => void {
  const arrays = new Map<string, { sent: number; total: number; stored: number }>();
  let bar: ProgressBar | undefined;
  const mib = (b: number): number => Math.round((10 * b) / 1024 ** 2) / 10;
  return (e) => {
    if (e.total < minBytes) return;
    arrays.set(e.digest, { sent: e.sent, total: e.total, stored: e.stored ?? 0 });
    let sent = 0;
    let total = 0;
    let stored = 0;
    for (const a of arrays.values()) {
      sent += a.sent;
      total += a.total;
      stored += a.stored;
    }
    bar ??= createProgressBar('uploading inputs (MiB)', stream);
    bar.update(mib(sent), mib(total), `${arrays.size} array${arrays.size === 1 ? '' : 's'}`);
    if (sent === total) {
      bar.finish(stored > 0 ? `(resumed: ${mib(stored)} MiB were already on the cluster, ${mib(sent - stored)} MiB sent)` : '');
      bar = undefined;
      arrays.clear();
    }
  };
}
