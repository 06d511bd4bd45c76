/**
 * Test support: Debian's BIND (named) serving a zone on loopback with a free port, updatable with a TSIG
 * key the test generates, and optionally a secondary on another port fed by NOTIFY and zone transfers,
 * so a zone has two authoritative servers as in production. (named listens only on addresses of an
 * interface, so the secondary cannot have 127.0.0.2 and the zone's own port; its NS record names the
 * primary only.) Stopped by `stop()`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../../system/ports.ts';
import { exchange, query } from './wire.ts';

export interface TestKey {
  name: string;
  algorithm: 'hmac-sha256';
  /** Base64, as in a BIND key file. */
  secret: string;
}

export interface TestBind {
  zone: string;
  port: number;
  /** 127.0.0.1:port, the primary. */
  primary: string;
  /** 127.0.0.1:port of the secondary, when started with one. */
  secondary: string | undefined;
  /** May update the zone. */
  key: TestKey;
  /** Known to the server, not allowed to update: its updates are REFUSED. */
  readOnlyKey: TestKey;
  stop(): Promise<void>;
}

export interface TestBindOptions {
  zone?: string;
  /** Records of the zone, in zone-file syntax relative to the origin. */
  records?: string[];
  secondary?: boolean;
}

export function namedBinary(): string | undefined {
  return ['/usr/sbin/named'].find((path) => existsSync(path));
}

function keyClause(key: TestKey): string {
  return `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret}"; };`;
}

export async function startTestBind(options: TestBindOptions = {}): Promise<TestBind> {
  const binary = namedBinary();
  if (binary === undefined) throw new Error('named is not installed (apt-get install bind9)');
  const zone = options.zone ?? 'example.test';
  const dir = mkdtempSync(join(tmpdir(), 'drctl-bind-'));
  const port = await freePort();
  const secondaryPort = options.secondary ? await freePort() : 0;
  const key: TestKey = {
    name: 'drctl-key',
    algorithm: 'hmac-sha256',
    secret: randomBytes(32).toString('base64'),
  };
  const readOnlyKey: TestKey = { ...key, name: 'reader-key', secret: randomBytes(32).toString('base64') };
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const options_ = (listen: number, home: string): string =>
    [
      'options {',
      `  directory "${home}";`,
      `  listen-on port ${listen} { 127.0.0.1; };`,
      '  listen-on-v6 { none; };',
      '  recursion no;',
      '  dnssec-validation no;',
      `  pid-file "${home}/named.pid";`,
      `  session-keyfile "${home}/session.key";`,
      `  managed-keys-directory "${home}";`,
      '  notify explicit;',
      '  notify-delay 0;',
      '};',
      'controls { };',
      keyClause(key),
      keyClause(readOnlyKey),
    ].join('\n');
  const zoneFile = [
    `$ORIGIN ${zone}.`,
    '$TTL 60',
    `@ IN SOA ns1 hostmaster 1 60 10 600 5`,
    '@ IN NS ns1',
    'ns1 IN A 127.0.0.1',
    ...(options.records ?? []),
    '',
  ].join('\n');
  const start = async (name: string, config: string): Promise<void> => {
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'named.conf'), config.replaceAll('HOME', home));
    if (name === 'primary') writeFileSync(join(home, `${zone}.zone`), zoneFile);
    const child = spawn(binary, ['-g', '-c', join(home, 'named.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const listen = name === 'primary' ? port : secondaryPort;
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const answer = await exchange({ host: '127.0.0.1', port: listen }, query(zone, 'SOA'), {
          timeoutMs: 300,
        });
        if (answer.response.rcode === 'NOERROR' && answer.response.flag_aa) return;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`named (${name}) did not start: ${stderr.slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await start(
    'primary',
    [
      options_(port, 'HOME'),
      `zone "${zone}" {`,
      '  type primary;',
      `  file "HOME/${zone}.zone";`,
      `  update-policy { grant ${key.name} zonesub ANY; };`,
      ...(options.secondary
        ? [`  also-notify { 127.0.0.1 port ${secondaryPort}; };`, '  allow-transfer { 127.0.0.0/8; };']
        : []),
      '};',
    ].join('\n'),
  );
  if (options.secondary) {
    await start(
      'secondary',
      [
        options_(secondaryPort, 'HOME'),
        `zone "${zone}" {`,
        '  type secondary;',
        `  file "HOME/${zone}.zone";`,
        `  primaries { 127.0.0.1 port ${port}; };`,
        '};',
      ].join('\n'),
    );
  }
  return {
    zone,
    port,
    primary: `127.0.0.1:${port}`,
    secondary: options.secondary ? `127.0.0.1:${secondaryPort}` : undefined,
    key,
    readOnlyKey,
    stop,
  };
}

export interface TestPowerDns {
  zone: string;
  /** 127.0.0.1:port of its DNS service. */
  server: string;
  /** Base URL of its HTTP API. */
  api: string;
  apiKey: string;
  stop(): Promise<void>;
}

const PDNS_SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';

export function pdnsBinary(): string | undefined {
  return existsSync('/usr/sbin/pdns_server') && existsSync(PDNS_SCHEMA) ? '/usr/sbin/pdns_server' : undefined;
}

/**
 * Debian's PowerDNS (pdns-server with the SQLite backend) on loopback with free ports, its HTTP API on,
 * and a zone created through that API with `records` (name relative to the zone, type, content).
 */
export async function startTestPowerDns(
  records: { name: string; type: string; ttl: number; content: string }[] = [],
): Promise<TestPowerDns> {
  const binary = pdnsBinary();
  if (binary === undefined) throw new Error('pdns-server and pdns-backend-sqlite3 are not installed');
  const zone = 'example.test';
  const dir = mkdtempSync(join(tmpdir(), 'drctl-pdns-'));
  const [port, apiPort] = [await freePort(), await freePort()];
  const apiKey = randomBytes(16).toString('hex');
  const database = join(dir, 'pdns.db');
  const db = new Database(database);
  db.exec(readFileSync(PDNS_SCHEMA, 'utf8'));
  db.close();
  writeFileSync(
    join(dir, 'pdns.conf'),
    [
      'launch=gsqlite3',
      `gsqlite3-database=${database}`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      'api=yes',
      `api-key=${apiKey}`,
      'webserver=yes',
      'webserver-address=127.0.0.1',
      `webserver-port=${apiPort}`,
      'webserver-allow-from=127.0.0.0/8',
      `socket-dir=${dir}`,
      // no query for the security status of this version to the internet
      'security-poll-suffix=',
      'guardian=no',
      'daemon=no',
      'disable-syslog=yes',
      'write-pid=no',
      '',
    ].join('\n'),
  );
  const child = spawn(binary, [`--config-dir=${dir}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const api = `http://127.0.0.1:${apiPort}`;
  const headers = { 'x-api-key': apiKey, 'content-type': 'application/json' };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`${api}/api/v1/servers/localhost`, { headers });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`pdns_server did not start: ${stderr.slice(-2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const created = await fetch(`${api}/api/v1/servers/localhost/zones`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: `${zone}.`,
      kind: 'Native',
      nameservers: [`ns1.${zone}.`],
      rrsets: records.map((record) => ({
        name: `${record.name}.${zone}.`,
        type: record.type,
        ttl: record.ttl,
        records: [{ content: record.content, disabled: false }],
      })),
    }),
  });
  if (!created.ok) {
    await stop();
    throw new Error(`PowerDNS did not create the zone: ${await created.text()}`);
  }
  return { zone, server: `127.0.0.1:${port}`, api, apiKey, stop };
}
