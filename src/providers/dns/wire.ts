/**
 * DNS on the wire: queries and RFC 2136 updates sent to one server over UDP (TCP when the answer is
 * truncated), signed with TSIG (RFC 8945) and the answer's signature verified.
 *
 * Why dns-packet and node:crypto rather than Debian's nsupdate: drctl's providers run no processes of
 * their own (one execution layer does that), the answer's RCODE and TSIG error come back as data to tell
 * REFUSED from NOTAUTH and a bad key from a bad clock, and the secret stays in this process instead of in
 * a key file or on a command line. dns-packet (a widely used encoder) writes and reads the messages; the
 * TSIG record and its MAC are written here, since the library has no TSIG support.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { DrctlError } from '../../errors.ts';

/** Codecs dns-packet exports that its type declarations leave out: names and whole records. */
const codec = packet as unknown as {
  name: {
    encode(name: string): Buffer;
    decode: { (buf: Buffer, offset: number): string; bytes: number };
  };
  answer: {
    encode(record: { name: string; type: string; class: string; ttl: number; data: Buffer }): Buffer;
  };
};

export interface Server {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`, or a host alone (port 53). */
export function parseServer(text: string): Server {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed !== null) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 53) };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host = '', port = ''] = text.split(':');
    if (/^\d{1,5}$/.test(port) && host !== '') return { host, port: Number(port) };
  } else if (text !== '' && !text.includes(' ')) return { host: text, port: 53 };
  throw new DrctlError('DRCTL_DNS_SERVER_INVALID', `"${text}" is not a DNS server address`, {
    hint: 'write host:port (port 53 when left out), e.g. 192.0.2.53 or 127.0.0.1:5353',
  });
}

export function formatServer(server: Server): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** The TSIG algorithms drctl signs with, by the names BIND's key files use. */
export const TSIG_ALGORITHMS = {
  'hmac-sha256': { wire: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha512': { wire: 'hmac-sha512', hash: 'sha512' },
  'hmac-sha384': { wire: 'hmac-sha384', hash: 'sha384' },
  'hmac-sha224': { wire: 'hmac-sha224', hash: 'sha224' },
  'hmac-sha1': { wire: 'hmac-sha1', hash: 'sha1' },
  'hmac-md5': { wire: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** TSIG error codes (RFC 8945 §5.3). */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export interface Exchange {
  response: DecodedPacket & { rcode: string };
  /** The TSIG error the server put in its answer (BADKEY, BADSIG, BADTIME), when there is one. */
  tsigError: string | undefined;
  /** The answer carried a TSIG record whose MAC drctl checked with the key. */
  signed: boolean;
  rttMs: number;
}

export interface ExchangeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  tsig?: TsigKey;
}

/** Sends one message and returns the answer, retrying over TCP when the UDP answer is truncated. */
export async function exchange(server: Server, message: Packet, options: ExchangeOptions): Promise<Exchange> {
  const id = randomInt(0, 0x10000);
  let wire = packet.encode({ ...message, id });
  let requestMac: Buffer | undefined;
  if (options.tsig !== undefined) ({ wire, mac: requestMac } = sign(wire, id, options.tsig));
  const started = performance.now();
  let raw = await send(server, wire, 'udp', options);
  // the declarations leave out the RCODE that decode() sets
  let response = packet.decode(raw) as Exchange['response'];
  if (response.flag_tc) {
    raw = await send(server, wire, 'tcp', options);
    response = packet.decode(raw) as Exchange['response'];
  }
  const rttMs = performance.now() - started;
  if (response.id !== id) throw unreachable(server, 'answered with another message id', undefined);
  const tsigRecord = response.additionals?.find((record) => record.type === 'TSIG');
  let tsigError: string | undefined;
  let signed = false;
  if (tsigRecord !== undefined && options.tsig !== undefined && requestMac !== undefined) {
    const tsig = readTsig(dataOf(tsigRecord) as Buffer);
    if (tsig.error !== 0) tsigError = TSIG_ERRORS[tsig.error] ?? `TSIG error ${tsig.error}`;
    else {
      verify(raw, tsig, options.tsig, requestMac, server);
      signed = true;
    }
  }
  if (options.tsig !== undefined && !signed && tsigError === undefined && response.rcode === 'NOERROR')
    throw new DrctlError(
      'DRCTL_DNS_TSIG_BAD_ANSWER',
      `${formatServer(server)} answered a signed message unsigned`,
      {
        hint: 'something between drctl and the server answered in its place, or the server does not check TSIG',
      },
    );
  return { response, tsigError, signed, rttMs };
}

function send(
  server: Server,
  wire: Buffer,
  transport: 'udp' | 'tcp',
  options: ExchangeOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let done = false;
    let close = (): void => undefined;
    const finish = (error: Error | undefined, value?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      close();
      if (error !== undefined) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(
      () =>
        finish(
          unreachable(server, `did not answer within ${options.timeoutMs} ms (${transport})`, undefined),
        ),
      options.timeoutMs,
    );
    const onAbort = (): void =>
      finish(unreachable(server, 'was not asked: the step was cancelled', undefined));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (transport === 'udp') {
      const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
      close = () => socket.close();
      socket.on('error', (error) =>
        finish(unreachable(server, `refused the query (${error.message})`, error)),
      );
      // a UDP port with nothing behind it answers ICMP "port unreachable", which Linux reports on connect()ed sockets
      socket.connect(server.port, server.host, () => socket.send(wire));
      socket.on('message', (message) => finish(undefined, message));
    } else {
      const socket = net.connect(server.port, server.host);
      close = () => socket.destroy();
      const length = Buffer.alloc(2);
      length.writeUInt16BE(wire.length);
      socket.on('connect', () => socket.write(Buffer.concat([length, wire])));
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0))
          finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
      });
      socket.on('error', (error) =>
        finish(unreachable(server, `refused the connection (${error.message})`, error)),
      );
      socket.on('close', () =>
        finish(unreachable(server, 'closed the connection without answering', undefined)),
      );
    }
  });
}

function unreachable(server: Server, reason: string, cause: unknown): DrctlError {
  return new DrctlError('DRCTL_DNS_SERVER_UNREACHABLE', `the DNS server ${formatServer(server)} ${reason}`, {
    hint: 'check the server address and port (host:port, 53 by default) and that it serves DNS',
    cause,
    details: { server: formatServer(server), retryable: true },
  });
}

/** A name in canonical wire form (lowercase, uncompressed), as the MAC covers it. */
function canonicalName(name: string): Buffer {
  return codec.name.encode(name.toLowerCase().replace(/\.$/, ''));
}

interface Tsig {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function readTsig(data: Buffer): Tsig {
  const algorithm = codec.name.decode(data, 0);
  let offset = codec.name.decode.bytes;
  const timeSigned = data.readUIntBE(offset, 6);
  const fudge = data.readUInt16BE(offset + 6);
  const macSize = data.readUInt16BE(offset + 8);
  offset += 10;
  const mac = data.subarray(offset, offset + macSize);
  offset += macSize;
  const originalId = data.readUInt16BE(offset);
  const error = data.readUInt16BE(offset + 2);
  const otherLength = data.readUInt16BE(offset + 4);
  const other = data.subarray(offset + 6, offset + 6 + otherLength);
  return { algorithm, timeSigned, fudge, mac, originalId, error, other };
}

/** The TSIG variables of RFC 8945 §4.3.3, the part of the record the MAC covers besides the message. */
function tsigVariables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(255); // class ANY
  fixed.writeUInt32BE(0, 2); // TTL
  const times = Buffer.alloc(10);
  times.writeUIntBE(timeSigned, 0, 6);
  times.writeUInt16BE(fudge, 6);
  times.writeUInt16BE(error, 8);
  const otherLength = Buffer.alloc(2);
  otherLength.writeUInt16BE(other.length);
  return Buffer.concat([
    canonicalName(key.name),
    fixed,
    canonicalName(TSIG_ALGORITHMS[key.algorithm].wire),
    times,
    otherLength,
    other,
  ]);
}

const FUDGE_S = 300;

function sign(wire: Buffer, id: number, key: TsigKey): { wire: Buffer; mac: Buffer } {
  const timeSigned = Math.floor(Date.now() / 1000);
  const { hash, wire: algorithmName } = TSIG_ALGORITHMS[key.algorithm];
  const mac = createHmac(hash, key.secret)
    .update(wire)
    .update(tsigVariables(key, timeSigned, FUDGE_S, 0, Buffer.alloc(0)))
    .digest();
  const algorithm = codec.name.encode(algorithmName);
  const rdata = Buffer.alloc(algorithm.length + 16 + mac.length);
  algorithm.copy(rdata);
  let offset = algorithm.length;
  rdata.writeUIntBE(timeSigned, offset, 6);
  rdata.writeUInt16BE(FUDGE_S, offset + 6);
  rdata.writeUInt16BE(mac.length, offset + 8);
  mac.copy(rdata, offset + 10);
  offset += 10 + mac.length;
  rdata.writeUInt16BE(id, offset);
  rdata.writeUInt16BE(0, offset + 2); // error
  rdata.writeUInt16BE(0, offset + 4); // other length
  const record = codec.answer.encode({ name: key.name, type: 'TSIG', class: 'ANY', ttl: 0, data: rdata });
  const signed = Buffer.concat([wire, record]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10); // ARCOUNT
  return { wire: signed, mac };
}

/** Checks the answer's MAC (RFC 8945 §5.3): a forged or altered answer must not pass for a success. */
function verify(raw: Buffer, tsig: Tsig, key: TsigKey, requestMac: Buffer, server: Server): void {
  const macSize = Buffer.alloc(2);
  macSize.writeUInt16BE(requestMac.length);
  const expected = createHmac(TSIG_ALGORITHMS[key.algorithm].hash, key.secret)
    .update(macSize)
    .update(requestMac)
    .update(withoutTsig(raw, tsig.originalId))
    .update(tsigVariables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other))
    .digest();
  if (expected.length !== tsig.mac.length || !timingSafeEqual(expected, tsig.mac)) {
    throw new DrctlError(
      'DRCTL_DNS_TSIG_BAD_ANSWER',
      `the answer of ${formatServer(server)} is not signed by key ${key.name}`,
      {
        hint: 'something between drctl and the server altered the answer, or the server holds another secret',
      },
    );
  }
}

/**
 * The answer's own bytes up to its TSIG record (always the last one), with ARCOUNT one less and the
 * original id, as the MAC covers them. Re-encoding would change name compression and break the MAC.
 */
function withoutTsig(raw: Buffer, originalId: number): Buffer {
  const head = Buffer.from(raw.subarray(0, lastRecordStart(raw)));
  head.writeUInt16BE(originalId, 0);
  head.writeUInt16BE(head.readUInt16BE(10) - 1, 10);
  return head;
}

/** Where the last record of the message starts (the TSIG record is always last). */
function lastRecordStart(raw: Buffer): number {
  const counts = [4, 6, 8, 10].map((at) => raw.readUInt16BE(at));
  let offset = 12;
  for (let i = 0; i < counts[0]!; i++) {
    codec.name.decode(raw, offset);
    offset += codec.name.decode.bytes + 4;
  }
  const records = counts[1]! + counts[2]! + counts[3]!;
  let start = offset;
  for (let i = 0; i < records; i++) {
    start = offset;
    codec.name.decode(raw, offset);
    offset += codec.name.decode.bytes;
    const rdlength = raw.readUInt16BE(offset + 8);
    offset += 10 + rdlength;
  }
  return start;
}

/** A query for one name and type, without recursion: drctl asks authoritative servers directly. */
export function query(name: string, type: Question['type']): Packet {
  return { type: 'query', flags: 0, questions: [{ name, type, class: 'IN' }] };
}

export const UPDATE_FLAGS = 5 << 11;

export type RecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT';

/** The RFC 2136 message that replaces the record set `name type` with `values` in `zone`. */
export function replaceRecordSet(
  zone: string,
  name: string,
  type: RecordType,
  values: readonly string[],
  ttl: number,
): Packet {
  const typeCode = { A: 1, AAAA: 28, CNAME: 5, TXT: 16 }[type];
  const remove = { name, type: `UNKNOWN_${typeCode}`, class: 'ANY', ttl: 0, data: Buffer.alloc(0) };
  const add = values.map((value) => ({
    name,
    type,
    class: 'IN',
    ttl,
    data: type === 'TXT' ? [value] : value,
  }));
  return {
    type: 'query',
    flags: UPDATE_FLAGS,
    questions: [{ name: zone, type: 'SOA', class: 'IN' }],
    authorities: [remove, ...add] as unknown as Answer[],
  };
}

/** The values of an answer's records of one type, in a form comparable with what the plan writes. */
export function valuesOf(answers: readonly Answer[] | undefined, name: string, type: RecordType): string[] {
  return (answers ?? [])
    .filter((record) => record.type === type && sameName(record.name, name))
    .map((record) => {
      const data = dataOf(record);
      if (type === 'TXT') return (data as Buffer[]).map((part) => part.toString('utf8')).join('');
      if (type === 'CNAME') return normalizeName(String(data));
      if (type === 'AAAA') return normalizeAddress(String(data));
      return String(data);
    })
    .sort();
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

/** An IPv6 address in one spelling, so `2001:db8::1` and `2001:0db8:0:0::1` compare equal. */
export function normalizeAddress(address: string): string {
  return net.isIPv6(address) ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

export function dataOf(record: Answer): unknown {
  return 'data' in record ? record.data : undefined;
}
