/**
 * The part of tar-stream 2 (a dependency without type declarations of its own) the repository uses to
 * read and write tar streams on either side of a transfer to or from a host.
 */
declare module 'tar-stream' {
  import type { Readable, Writable } from 'node:stream';

  export interface Headers {
    name: string;
    size?: number;
    mode?: number;
    mtime?: Date;
    type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo' | string;
    linkname?: string | null;
    uid?: number;
    gid?: number;
  }

  export interface Pack extends Readable {
    entry(headers: Headers, buffer: Buffer | string, callback?: (error?: Error | null) => void): Writable;
    entry(headers: Headers, callback?: (error?: Error | null) => void): Writable;
    finalize(): void;
  }

  export interface Extract extends Writable {
    on(
      event: 'entry',
      listener: (
        headers: Headers & { size: number; mode: number; mtime: Date },
        stream: Readable,
        next: (error?: unknown) => void,
      ) => void,
    ): this;
    on(event: 'finish' | 'close', listener: () => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
  }

  export function pack(): Pack;
  export function extract(): Extract;
}
