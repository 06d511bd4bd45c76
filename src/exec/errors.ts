/**
 * What went wrong reaching a host, told apart from what the SSH client prints (it exits 255 for all of them).
 * Each has a stable code and names the host and its address.
 */
import { DrctlError } from '../errors.ts';
import type { HostTarget, RunResult } from './types.ts';

export type HostErrorCode =
  /** DRCTL_HOST_UNREACHABLE: no answer within the connect timeout, refused, no route, or the link dropped. */
  | 'DRCTL_HOST_UNREACHABLE'
  /** DRCTL_HOST_AUTH: the host refused every key offered (or the key could not be unlocked). */
  | 'DRCTL_HOST_AUTH'
  /** DRCTL_HOST_KEY_UNKNOWN: the host's key is not in known_hosts; drctl never accepts one on first sight. */
  | 'DRCTL_HOST_KEY_UNKNOWN'
  /** DRCTL_HOST_KEY_MISMATCH: the host's key differs from the one in known_hosts. */
  | 'DRCTL_HOST_KEY_MISMATCH'
  /** DRCTL_HOST_SSH: any other failure of the SSH client. */
  | 'DRCTL_HOST_SSH';

const HINTS: Record<HostErrorCode, string> = {
  DRCTL_HOST_UNREACHABLE:
    'check that the host is up and that sshd listens on its address and port (docs/hosts.md); `drctl hosts check PLAN` tests every host',
  DRCTL_HOST_AUTH:
    "check the host's user and identity_file, that the public key is in the user's authorized_keys, and the passphrase variable (docs/hosts.md)",
  DRCTL_HOST_KEY_UNKNOWN:
    "add the host's key to known_hosts after checking its fingerprint out of band: `ssh-keyscan -t ed25519 ADDRESS` compared with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host (docs/hosts.md)",
  DRCTL_HOST_KEY_MISMATCH:
    'the host presents a different key than known_hosts records: a reinstalled host or someone in the middle. Find out which before removing the old key with `ssh-keygen -R ADDRESS`',
  DRCTL_HOST_SSH: 'the SSH client said why above; `drctl hosts check PLAN` tests every host',
};

export class HostError extends DrctlError {
  override name = 'HostError';
  readonly host: string;
  constructor(code: HostErrorCode, host: HostTarget, message: string, options: { cause?: unknown } = {}) {
    super(code, `host ${host.name} (${host.address}): ${message}`, {
      hint: HINTS[code],
      details: { host: host.name, address: host.address },
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.host = host.name;
  }
}

/** A command that is not installed where it ran: `sh` exits 127 and says `NAME: not found`. */
export class CommandMissingError extends DrctlError {
  override name = 'CommandMissingError';
  constructor(command: string, where: string) {
    super('DRCTL_HOST_COMMAND_MISSING', `${command} is not installed on ${where} (or not on its PATH)`, {
      hint: `install ${command} there, or give its full path; \`drctl hosts check PLAN\` lists the tools every host has`,
      details: { command, where },
    });
  }
}

/** The command `sh` could not find, when that is why it exited. */
export function missingCommand(result: RunResult): string | undefined {
  if (result.exitCode !== 127) return undefined;
  const match =
    /(?:^|\n)(?:\/bin\/sh|sh|bash)?:?\s*(?:\d+:\s*)?(?:line \d+:\s*)?([^\s:]+): (?:command )?not found/.exec(
      result.stderr,
    );
  return match?.[1];
}

/** The SSH client's own failure (exit 255), classified; undefined when the remote command itself failed. */
export function sshFailure(host: HostTarget, result: RunResult): HostError | undefined {
  if (result.exitCode !== 255) return undefined;
  const text = result.stderr;
  const last =
    text
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('@'))
      .at(-1) ?? '';
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(text))
    return new HostError('DRCTL_HOST_KEY_MISMATCH', host, 'the host key does not match known_hosts; refused');
  if (/No \S+ host key is known|Host key verification failed/.test(text))
    return new HostError('DRCTL_HOST_KEY_UNKNOWN', host, 'the host key is not in known_hosts; refused');
  if (/Permission denied|Too many authentication failures|incorrect passphrase|Load key .*: /.test(text))
    return new HostError('DRCTL_HOST_AUTH', host, `authentication failed: ${last.trim()}`);
  if (
    /timed out|Connection refused|No route to host|Network is unreachable|Could not resolve hostname|Connection closed|Connection reset|not responding|Broken pipe|kex_exchange_identification|banner exchange|Control socket connect/.test(
      text,
    ) ||
    text.trim() === ''
  )
    return new HostError(
      'DRCTL_HOST_UNREACHABLE',
      host,
      `unreachable: ${last.trim() || 'the connection dropped'}`,
    );
  return new HostError('DRCTL_HOST_SSH', host, `ssh failed: ${last.trim()}`);
}
