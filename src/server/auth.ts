/**
 * Accounts, roles and sessions. A token is shown once when it is created; the store keeps only the
 * SHA-256 of its secret (documents collection `tokens`). The token's name is the person: it is the `by`
 * of every approval and confirmation made with it, so the engine's approver lists and four-eyes rule
 * apply to it unchanged. Console sessions live in the `sessions` collection, keyed by the hash of the
 * cookie value, each with its own CSRF token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.ts';
import type { RunStore, StoredDocument } from '../store/index.ts';

export const ROLES = ['viewer', 'operator', 'approver', 'admin', 'alerts'] as const;
/**
 * viewer: reads everything but secrets; operator: starts, confirms, decides, cancels and resumes runs;
 * approver: approves and rejects; admin: all of these, and manages tokens; alerts: what an alerting
 * system (Alertmanager) is given: posts alerts, which open recoveries that wait at their declaration.
 */
export type Role = (typeof ROLES)[number];
/** What a route asks for; `public` needs no token. */
export type RouteRole = Role | 'public';

export const TOKENS = 'tokens';
export const SESSIONS = 'sessions';
export const SESSION_COOKIE = 'drctl_session';
const TOKEN_PREFIX = 'drctl_';

/** Whether `role` may use a route that asks for `required`. Operator and approver are separate duties. */
export function allows(role: Role, required: RouteRole): boolean {
  if (required === 'public' || required === 'viewer' || role === 'admin') return true;
  return role === required;
}

/** Who is calling, once their token or session checked out. */
export interface Principal {
  /** The person: the token's name. */
  name: string;
  role: Role;
  tokenId: string;
  via: 'bearer' | 'session';
  /** The session's CSRF token, for cookie-authenticated calls. */
  csrf?: string;
  sessionId?: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  revokedAt: string | undefined;
  revokedBy: string | undefined;
}

interface TokenData {
  name: string;
  role: Role;
  /** SHA-256 of the secret part, hex. */
  hash: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function info(doc: StoredDocument): TokenInfo {
  const data = doc.data as unknown as TokenData;
  return {
    id: doc.id,
    name: data.name,
    role: data.role,
    createdAt: doc.createdAt.toISOString(),
    createdBy: data.createdBy,
    revokedAt: data.revokedAt,
    revokedBy: data.revokedBy,
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function checkRole(role: string): Role {
  if ((ROLES as readonly string[]).includes(role)) return role as Role;
  throw new UsageError('DRCTL_TOKEN_ROLE', `${role} is not a role`, { hint: `roles: ${ROLES.join(', ')}` });
}

/** Creates a token; the returned `token` is the only time its secret exists outside the caller. */
export async function createToken(
  store: RunStore,
  input: { name: string; role: string; createdBy: string },
): Promise<TokenInfo & { token: string }> {
  if (!NAME.test(input.name)) {
    throw new UsageError('DRCTL_TOKEN_NAME', `${JSON.stringify(input.name)} cannot name a token`, {
      hint: "use the person's id as in the plan's contacts: letters, digits, . _ @ - (at most 64)",
    });
  }
  const role = checkRole(input.role);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const data: TokenData = { name: input.name, role, hash: sha256(secret), createdBy: input.createdBy };
  const doc = await store.putDocument(TOKENS, id, { ...data }, { expectVersion: 0 });
  return { ...info(doc), token: `${TOKEN_PREFIX}${id}.${secret}` };
}

export async function listTokens(store: RunStore): Promise<TokenInfo[]> {
  return (await store.listDocuments(TOKENS, { limit: 10_000 })).map(info);
}

/** Revokes a token (kept, marked revoked, so the audit still names it); its sessions end with it. */
export async function revokeToken(store: RunStore, id: string, by: string): Promise<TokenInfo> {
  const doc = await store.getDocument(TOKENS, id);
  if (doc === undefined) {
    throw new UsageError('DRCTL_TOKEN_NOT_FOUND', `no token ${id}`, {
      hint: 'list tokens with `drctl token list`',
    });
  }
  const data = doc.data as unknown as TokenData;
  if (data.revokedAt !== undefined) return info(doc);
  const revoked = await store.putDocument(
    TOKENS,
    id,
    { ...data, revokedAt: new Date().toISOString(), revokedBy: by },
    { expectVersion: doc.version },
  );
  return info(revoked);
}

/** The token's owner and role, or undefined for an unknown, malformed or revoked token. */
export async function verifyToken(
  store: RunStore,
  token: string,
): Promise<{ id: string; name: string; role: Role } | undefined> {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const dot = token.indexOf('.', TOKEN_PREFIX.length);
  if (dot < 0) return undefined;
  const id = token.slice(TOKEN_PREFIX.length, dot);
  if (!/^[0-9a-f]{12}$/.test(id)) return undefined;
  const doc = await store.getDocument(TOKENS, id);
  if (doc === undefined) return undefined;
  const data = doc.data as unknown as TokenData;
  const given = Buffer.from(sha256(token.slice(dot + 1)), 'hex');
  const kept = Buffer.from(data.hash, 'hex');
  if (given.length !== kept.length || !timingSafeEqual(given, kept)) return undefined;
  if (data.revokedAt !== undefined) return undefined;
  return { id, name: data.name, role: data.role };
}

interface SessionData {
  tokenId: string;
  name: string;
  role: Role;
  csrf: string;
  expiresAt: string;
}

/** Opens a console session for a valid token; the cookie value is returned once, like a token. */
export async function createSession(
  store: RunStore,
  token: { id: string; name: string; role: Role },
  ttlMs: number,
): Promise<{ cookie: string; csrf: string; expiresAt: Date }> {
  const cookie = randomBytes(32).toString('base64url');
  const csrf = randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlMs);
  const data: SessionData = {
    tokenId: token.id,
    name: token.name,
    role: token.role,
    csrf,
    expiresAt: expiresAt.toISOString(),
  };
  await store.putDocument(SESSIONS, sha256(cookie), { ...data }, { expectVersion: 0 });
  return { cookie, csrf, expiresAt };
}

/** The session's principal, while it has not expired and its token is not revoked. */
export async function verifySession(store: RunStore, cookie: string): Promise<Principal | undefined> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(cookie)) return undefined;
  const id = sha256(cookie);
  const doc = await store.getDocument(SESSIONS, id);
  if (doc === undefined) return undefined;
  const data = doc.data as unknown as SessionData;
  if (Date.parse(data.expiresAt) <= Date.now()) {
    await store.deleteDocument(SESSIONS, id);
    return undefined;
  }
  const token = await store.getDocument(TOKENS, data.tokenId);
  if (token === undefined || (token.data as unknown as TokenData).revokedAt !== undefined) return undefined;
  return {
    name: data.name,
    role: data.role,
    tokenId: data.tokenId,
    via: 'session',
    csrf: data.csrf,
    sessionId: id,
  };
}

/**
 * Whether the token (and session) a principal signed in with still hold. An answer that lasts (an
 * event stream) asks again while it runs, so a revoked token or an ended session stops it too.
 */
export async function principalHolds(store: RunStore, principal: Principal): Promise<boolean> {
  if (principal.sessionId !== undefined) {
    const session = await store.getDocument(SESSIONS, principal.sessionId);
    if (session === undefined) return false;
    if (Date.parse((session.data as unknown as SessionData).expiresAt) <= Date.now()) return false;
  }
  const token = await store.getDocument(TOKENS, principal.tokenId);
  return token !== undefined && (token.data as unknown as TokenData).revokedAt === undefined;
}

export async function endSession(store: RunStore, sessionId: string): Promise<void> {
  await store.deleteDocument(SESSIONS, sessionId);
}

/** Compares a CSRF token in constant time. */
export function csrfMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
