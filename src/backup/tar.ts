/**
 * Tar streams on drctl's side of a transfer to or from a host: the host's own `tar` packs a source tree or
 * a set of chunk files into one SSH channel, and unpacks what drctl sends into a staging directory; drctl
 * reads and writes the streams with tar-stream, one entry at a time, waiting when the other side is slow.
 */
import type { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import type { Headers, Pack } from 'tar-stream';

export interface TarEntry {
  header: Headers & { size: number; mode: number; mtime: Date };
  body: Readable;
}

/**
 * The entries of a tar stream in order. The next one is read only when the loop asks for it, after the
 * body of this one was read to its end (or is drained here, when the loop did not need it).
 */
export async function* tarEntries(input: NodeJS.ReadableStream): AsyncGenerator<TarEntry> {
  const parser = extract();
  const waiting: (TarEntry & { next: () => void })[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: unknown;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  parser.on('entry', (header, body, next) => {
    waiting.push({ header, body, next: () => next() });
    notify();
  });
  parser.on('finish', () => {
    finished = true;
    notify();
  });
  parser.on('error', (error) => {
    failure = error;
    notify();
  });
  input.on('error', (error: unknown) => {
    failure ??= error;
    notify();
  });
  input.pipe(parser);
  for (;;) {
    const entry = waiting.shift();
    if (entry !== undefined) {
      yield { header: entry.header, body: entry.body };
      entry.body.resume();
      entry.next();
      continue;
    }
    if (failure !== undefined) throw failure;
    if (finished) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

/** A file's bytes from its entry, whole. */
export async function readBody(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A tar stream drctl writes: entries added in order, each waiting until the stream takes it. */
export class TarWriter {
  readonly stream: Pack = pack();

  /** A whole entry; resolves when the stream has room for the next. */
  add(header: Headers, data: Buffer = Buffer.alloc(0)): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.entry({ mode: 0o644, ...header, size: data.length }, data, (error) =>
        error === undefined || error === null ? resolve() : reject(error),
      );
    });
  }

  /** A file entry of `size` bytes written in pieces, each awaited: for files too large to hold at once. */
  file(header: Headers & { size: number }): {
    write: (piece: Buffer) => Promise<void>;
    end: () => Promise<void>;
  } {
    let closed: Promise<void> | undefined;
    const sink = this.stream.entry({ ...header, type: 'file' }, () => undefined);
    closed = new Promise((resolve, reject) => {
      sink.once('finish', resolve);
      sink.once('error', reject);
    });
    return {
      write: (piece) =>
        sink.write(piece) ? Promise.resolve() : new Promise((resolve) => sink.once('drain', resolve)),
      end: () => {
        sink.end();
        const done = closed ?? Promise.resolve();
        closed = undefined;
        return done;
      },
    };
  }

  finish(): void {
    this.stream.finalize();
  }
}
