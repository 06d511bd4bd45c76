/**
 * A repository's directory reached through the execution layer (src/exec): on a host of the plan over
 * SSH, or on this machine when only the other end of a transfer is on a host. Every operation is one
 * shell command on the repository's side (a listing, the lock, a commit) or one streamed transfer (chunk
 * files out with `tar -T -`, new chunks and the manifest in with `tar -x`), never a command per chunk.
 * Needs a POSIX shell, GNU tar, find, base64, mv and sync there (Debian's coreutils, findutils, tar).
 */
import { Readable } from 'node:stream';
import { DrctlError } from '../errors.ts';
import { CommandMissingError, missingCommand, runChecked, shellQuote } from '../exec/index.ts';
import type { Executor, StreamHandle } from '../exec/index.ts';
import type { LockFile } from './lock.ts';

/** Output a listing may have: every manifest of a large repository, base64. */
const LISTING_LIMIT = 1 << 30;

/** A path on the side a command runs, as one shell word: a relative one is under the login directory. */
export function pathWord(path: string): string {
  return path.startsWith('/') ? shellQuote(path) : `"$HOME"/${shellQuote(path)}`;
}

/** A failed transfer command: what it was doing, where, and the last words it said. */
export function transferFailed(
  executor: Executor,
  what: string,
  result: { exitCode: number | null; signal: string | null; stderr: string },
): DrctlError {
  const missing = missingCommand({ ...result, stdout: '', durationMs: 0 });
  if (missing !== undefined) return new CommandMissingError(missing, executor.where);
  const tail = result.stderr.trim().split('\n').slice(-3).join('; ');
  return new DrctlError(
    'DRCTL_EXEC_FAILED',
    `${what} failed on ${executor.where} (${result.signal ?? `exit ${String(result.exitCode)}`})${tail === '' ? '' : `: ${tail}`}`,
    { details: { where: executor.where, exitCode: result.exitCode, stderr: tail } },
  );
}

/** What one listing of the repository finds: its format file and each backup's manifest text. */
export interface Listing {
  repositoryJson: string | undefined;
  /** Backup id → manifest text, or undefined when the directory holds no manifest. */
  manifests: Map<string, string | undefined>;
}

export class HostStore {
  readonly executor: Executor;
  readonly root: string;
  private readonly rootWord: string;

  constructor(executor: Executor, root: string) {
    this.executor = executor;
    this.root = root;
    this.rootWord = pathWord(root);
  }

  /** `/srv/repo on host backup-west (198.18.0.3)`, or the path alone on this machine. */
  get where(): string {
    return this.executor.host === undefined ? this.root : `${this.root} on ${this.executor.where}`;
  }

  /** Run a script in the repository's directory (made first when `create`); its standard output. */
  async sh(
    script: string,
    what: string,
    options: { create?: boolean; signal?: AbortSignal } = {},
  ): Promise<string> {
    const enter =
      options.create === true ? `mkdir -p ${this.rootWord} && cd ${this.rootWord}` : `cd ${this.rootWord}`;
    const result = await runChecked(this.executor, `${enter} || exit 3\n${script}`, {
      what: `${what} in ${this.root}`,
      outputLimit: LISTING_LIMIT,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return result.stdout;
  }

  /** Whether the repository's directory exists. */
  async exists(): Promise<boolean> {
    const result = await this.executor.run(`[ -d ${this.rootWord} ]`);
    return result.exitCode === 0;
  }

  /** repository.json and every manifest, in one command (base64, so a damaged one cannot break the framing). */
  async listing(): Promise<Listing> {
    const listing: Listing = { repositoryJson: undefined, manifests: new Map() };
    if (!(await this.exists())) return listing;
    const out = await this.sh(
      [
        `if [ -f repository.json ]; then printf 'F '; base64 -w0 < repository.json; echo; fi`,
        'for d in backups/*; do',
        '  [ -d "$d" ] || continue',
        '  if [ -f "$d/manifest.json" ]; then printf \'M %s \' "${d#backups/}"; base64 -w0 < "$d/manifest.json"; echo;',
        '  else printf \'X %s\\n\' "${d#backups/}"; fi',
        'done',
      ].join('\n'),
      'listing the backups',
    );
    for (const line of out.split('\n')) {
      const [kind, first, second] = line.split(' ');
      if (kind === 'F' && first !== undefined)
        listing.repositoryJson = Buffer.from(first, 'base64').toString('utf8');
      else if (kind === 'M' && first !== undefined)
        listing.manifests.set(first, Buffer.from(second ?? '', 'base64').toString('utf8'));
      else if (kind === 'X' && first !== undefined) listing.manifests.set(first, undefined);
    }
    return listing;
  }

  /** The stored objects under `dirs` (chunks, format 1 blobs): name, size and path relative to the root. */
  async objects(
    dirs: readonly string[] = ['chunks'],
  ): Promise<{ name: string; size: number; path: string }[]> {
    if (!(await this.exists())) return [];
    const existing = dirs.map((dir) => `[ -d ${dir} ] && find ${dir} -type f -printf '%s %p\\n'`);
    const out = await this.sh(`${existing.join('\n')}\ntrue`, 'listing the stored chunks');
    return out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [size, path] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
        return { name: path.slice(path.lastIndexOf('/') + 1), size: Number(size), path };
      });
  }

  /** Small text files (verification reports), one per line. */
  async texts(glob: string): Promise<string[]> {
    if (!(await this.exists())) return [];
    const out = await this.sh(
      `for f in ${glob}; do [ -f "$f" ] && { base64 -w0 < "$f"; echo; }; done; true`,
      'reading',
    );
    return out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => Buffer.from(line, 'base64').toString('utf8'));
  }

  /** Write a small file atomically: a temporary name, synced, renamed. */
  async writeText(path: string, text: string, what: string): Promise<void> {
    const data = Buffer.from(text).toString('base64');
    const temp = `${path}.tmp-$$`;
    await this.sh(
      `mkdir -p "$(dirname ${shellQuote(path)})" && printf '%s' ${shellQuote(data)} | base64 -d > ${temp} && { sync ${temp} 2>/dev/null || true; } && mv -f ${temp} ${shellQuote(path)}`,
      what,
      { create: true },
    );
  }

  /** Stream the files named (relative to the root) out as one tar; a missing one is simply not in it. */
  readFiles(paths: readonly string[], signal?: AbortSignal): StreamHandle {
    // a missing file is left out with a warning; the reader tells which by what arrives
    return this.executor.stream(`cd ${this.rootWord} && tar -cf - --ignore-failed-read -T -`, {
      stdin: Readable.from([paths.map((path) => `${path}\n`).join('')]),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** A tar stream from drctl unpacked into a directory under the root (made first). */
  unpackInto(dir: string, input: NodeJS.ReadableStream, signal?: AbortSignal): StreamHandle {
    const target = `${this.rootWord}/${shellQuote(dir)}`;
    return this.executor.stream(`mkdir -p ${target} && tar -C ${target} --no-same-owner -xf -`, {
      stdin: input,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** Remove files (relative to the root) in one command, their names on its standard input. */
  async removeFiles(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const removing = this.executor.stream(`cd ${this.rootWord} && xargs rm -f`, {
      stdin: Readable.from([paths.map((path) => `${path}\n`).join('')]),
    });
    removing.stdout.resume();
    const result = await removing.done;
    if (result.exitCode !== 0) throw transferFailed(this.executor, 'removing unused chunks', result);
  }

  /** The lock file of this repository (lock.ts), and its staging directories. */
  lockFile(): LockFile {
    return {
      where: this.where,
      create: async (text) =>
        (
          await this.sh(
            `if ( set -C; printf '%s' ${shellQuote(text)} > lock ) 2>/dev/null; then echo taken; elif [ -e lock ]; then echo held; else echo 'cannot write the lock file' >&2; exit 4; fi`,
            'locking the repository',
            { create: true },
          )
        ).trim() === 'taken',
      read: async () => {
        const out = await this.sh(`[ -f lock ] && cat lock; true`, 'reading the lock');
        return out === '' ? undefined : out;
      },
      ageMs: async () => {
        const out = (
          await this.sh(
            `[ -f lock ] && echo $(( $(date +%s) - $(stat -c %Y lock) )); true`,
            'reading the lock',
          )
        ).trim();
        return out === '' ? undefined : Number(out) * 1000;
      },
      remove: async () => {
        await this.sh('rm -f lock', 'unlocking the repository');
      },
      clearStaging: async () => {
        await this.sh(
          'for d in backups/.[!.]*; do [ -e "$d" ] && rm -rf "$d"; done; true',
          'removing interrupted backups',
        );
      },
    };
  }
}
