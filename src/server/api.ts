/**
 * The route registrar. Every API route is declared once with `api.route({...})`: its zod schemas validate
 * the request, its role is checked before anything else runs, a mutating call is written to the `audit`
 * event stream, and the same declaration is what /openapi.json lists. Console pages use `api.page` for the
 * same authentication, CSRF and audit without appearing in the OpenAPI document.
 *
 * Order for each request: who is calling (bearer token or session cookie) → role → body parsed → CSRF
 * (cookie callers on mutating requests) → schemas → handler → audit. A refusal at the first three steps
 * is audited as `refused` and changes nothing else.
 */
import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import { allows, csrfMatches, SESSION_COOKIE, verifySession, verifyToken } from './auth.ts';
import type { Principal, RouteRole } from './auth.ts';
import type { ServerContext } from './context.ts';
import { ApiError, httpError } from './errors.ts';
import type { HttpError } from './errors.ts';
import { redactAnswer } from './redact.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const MUTATING: ReadonlySet<Method> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const AUDIT_STREAM = 'audit';
export const API_BASE = '/api/v1';

/**
 * An answer already redacted and serialised, sent as it is: for answers many readers share (a run's
 * view), so the redaction and the JSON are done once rather than per request.
 */
export class RedactedJson {
  readonly text: string;
  constructor(redacted: unknown) {
    this.text = JSON.stringify(redacted);
  }
}

/** A file sent with multipart/form-data (evidence for a manual step). */
export interface UploadedFile {
  field: string;
  name: string;
  type: string;
  bytes: Buffer;
}

export interface RouteRequest<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  files: UploadedFile[];
  /** Undefined only on public routes called without credentials; a handler may set it (sign-in). */
  principal: Principal | undefined;
  /** The caller's address, as the audit records it. */
  remote: string;
  /** A refusal the handler answered itself (a redirect back to a form): audited as refused, with this code. */
  refusal?: string;
  c: Context;
}

export interface RouteDefinition<P, Q, B> {
  method: Method;
  /** Under /api/v1, with Hono's `:name` parameters: `/runs/:id`. */
  path: string;
  role: RouteRole;
  summary: string;
  description?: string;
  /** OpenAPI tag (the area). @default the path's first segment */
  tag?: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** What a successful answer holds (documentation only). */
  response?: z.ZodType;
  /** Also accepts multipart/form-data with files. @default false */
  files?: boolean;
  /** Status of a successful JSON answer. @default 200 */
  status?: 200 | 201 | 202;
  /** A Response is sent as it is (streams, HTML, redirects); anything else as redacted JSON. */
  handler(request: RouteRequest<P, Q, B>): Promise<unknown> | unknown;
}

export interface PageDefinition<P, Q, B> extends Omit<RouteDefinition<P, Q, B>, 'tag' | 'response'> {
  /** An absolute path (`/runs/:id`). */
  path: string;
}

/** What /openapi.json and the route-enumerating test read. */
export interface RouteInfo {
  method: Method;
  /** The full path in Hono syntax. */
  path: string;
  role: RouteRole;
  mutating: boolean;
}

/**
 * Headers of what the server answers that is not the console (the status page, its JSON and feed, a
 * rendered runbook): nothing loaded from anywhere, the styles they carry inline, never framed, the
 * content type never guessed.
 */
export const DOCUMENT_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
} as const;

/** People get a page they can act on; programs (the API, or anything not asking for HTML) get JSON. */
export function wantsPage(c: Context): boolean {
  return !c.req.path.startsWith(`${API_BASE}/`) && (c.req.header('accept') ?? '').includes('text/html');
}

export class Api {
  readonly app: Hono;
  readonly ctx: ServerContext;
  readonly routes: RouteInfo[] = [];
  /** How a page's refusal (403, CSRF, a bad form) is shown to a browser; the console sets it. */
  errorPage: ((c: Context, answer: HttpError) => Response | Promise<Response>) | undefined;
  readonly #documented: Array<RouteDefinition<unknown, unknown, unknown> & { fullPath: string }> = [];

  constructor(app: Hono, ctx: ServerContext) {
    this.app = app;
    this.ctx = ctx;
  }

  route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
    definition: RouteDefinition<P, Q, B>,
  ): void {
    const fullPath = `${API_BASE}${definition.path}`;
    this.#documented.push({ ...(definition as RouteDefinition<unknown, unknown, unknown>), fullPath });
    this.#mount(definition, fullPath, false);
  }

  page<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
    definition: PageDefinition<P, Q, B>,
  ): void {
    this.#mount(definition, definition.path, true);
  }

  /** Who is calling: a bearer token, else a session cookie. Throws 401 for a bad bearer token. */
  async authenticate(c: Context): Promise<Principal | undefined> {
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const token = match?.[1] === undefined ? undefined : await verifyToken(this.ctx.store, match[1]);
      if (token === undefined) {
        throw ApiError.tokenInvalid('the bearer token is not valid');
      }
      return { name: token.name, role: token.role, tokenId: token.id, via: 'bearer' };
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    return cookie === undefined ? undefined : verifySession(this.ctx.store, cookie);
  }

  #mount<P, Q, B>(definition: RouteDefinition<P, Q, B>, path: string, page: boolean): void {
    const mutating = MUTATING.has(definition.method);
    this.routes.push({ method: definition.method, path, role: definition.role, mutating });
    this.app.on(definition.method, path, async (c) => {
      const remote = remoteAddress(c);
      let principal: Principal | undefined;
      let refused = true;
      let request: RouteRequest<P, Q, B> | undefined;
      try {
        principal = await this.authenticate(c);
        if (definition.role !== 'public') {
          if (principal === undefined) {
            if (page && definition.method === 'GET') {
              return c.redirect(`/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
            }
            throw ApiError.tokenMissing();
          }
          if (!allows(principal.role, definition.role)) {
            throw ApiError.roleMissing(
              `${principal.name} (${principal.role})`,
              definition.summary.toLowerCase(),
              definition.role,
            );
          }
        }
        // a cookie caller's CSRF token may come in a form field even when the route takes no body
        const raw =
          definition.body === undefined && !(mutating && principal?.via === 'session')
            ? { fields: {}, files: [] }
            : await readBody(c);
        if (mutating && principal?.via === 'session') {
          const given = c.req.header('x-csrf-token') ?? stringField(raw.fields, '_csrf');
          if (!csrfMatches(principal.csrf ?? '', given)) {
            throw new ApiError(403, 'DRCTL_API_CSRF', 'the CSRF token is missing or wrong', {
              hint: 'send the session\'s CSRF token in the x-csrf-token header or the "_csrf" form field',
            });
          }
        }
        refused = false;
        delete raw.fields._csrf;
        request = {
          params: parse(definition.params, c.req.param(), 'params') as P,
          query: parse(definition.query, c.req.query(), 'query') as Q,
          body: parse(definition.body, raw.fields, 'body') as B,
          files: raw.files,
          principal,
          remote,
          c,
        };
        const result = await definition.handler(request);
        principal = request.principal;
        const status = result instanceof Response ? result.status : (definition.status ?? 200);
        if (mutating)
          await this.#audit(
            request.refusal === undefined ? 'call' : 'refused',
            principal,
            c,
            path,
            remote,
            status,
            request.refusal,
          );
        if (result instanceof Response) return result;
        if (result instanceof RedactedJson) {
          return c.body(result.text, definition.status ?? 200, { 'content-type': 'application/json' });
        }
        return c.json(redactAnswer(this.ctx, result), definition.status ?? 200);
      } catch (error) {
        const answer = httpError(error);
        if (answer.unexpected) {
          this.ctx.logger.error(
            { err: error, method: definition.method, path: c.req.path },
            'request failed',
          );
        }
        principal = request?.principal ?? principal;
        if (mutating || (refused && (answer.status === 401 || answer.status === 403))) {
          await this.#audit(
            refused ? 'refused' : 'call',
            principal,
            c,
            path,
            remote,
            answer.status,
            answer.body.error.code,
          ).catch((auditError: unknown) =>
            this.ctx.logger.error({ err: auditError }, 'the audit record could not be written'),
          );
        }
        if (page && this.errorPage !== undefined && wantsPage(c))
          return this.errorPage(c, { ...answer, body: redactAnswer(this.ctx, answer.body) });
        return c.json(redactAnswer(this.ctx, answer.body), answer.status as 400);
      }
    });
  }

  async #audit(
    type: 'call' | 'refused',
    principal: Principal | undefined,
    c: Context,
    route: string,
    remote: string,
    status: number,
    code: string | undefined,
  ): Promise<void> {
    await this.ctx.store.appendEvent(AUDIT_STREAM, {
      type,
      actor: principal?.name ?? 'anonymous',
      data: {
        method: c.req.method,
        path: c.req.path,
        route,
        status,
        remote,
        ...(principal === undefined ? {} : { role: principal.role, via: principal.via }),
        ...(code === undefined ? {} : { code }),
      },
    });
  }

  /** The OpenAPI 3.1 document of every route declared with `route`. */
  openapi(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.#documented) {
      const openapiPath = route.fullPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const parameters = [...parametersOf(route.params, 'path'), ...parametersOf(route.query, 'query')];
      const operation: Record<string, unknown> = {
        summary: route.summary,
        ...(route.description === undefined ? {} : { description: route.description }),
        tags: [route.tag ?? route.path.split('/')[1] ?? 'api'],
        'x-drctl-role': route.role,
        ...(route.role === 'public' ? { security: [] } : {}),
        ...(parameters.length > 0 ? { parameters } : {}),
        responses: {
          [String(route.status ?? 200)]: {
            description: 'success',
            ...(route.response === undefined
              ? {}
              : { content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } }),
          },
          default: {
            description: 'an error: its code, message and hint',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
      };
      if (route.body !== undefined) {
        const schema = jsonSchema(route.body, 'input');
        const content: Record<string, unknown> = {
          'application/json': { schema },
          'application/x-www-form-urlencoded': { schema },
        };
        if (route.files) {
          content['multipart/form-data'] = {
            schema: {
              ...schema,
              properties: {
                ...((schema.properties as Record<string, unknown> | undefined) ?? {}),
                file: { type: 'string', format: 'binary' },
              },
            },
          };
        }
        operation.requestBody = { required: true, content };
      }
      (paths[openapiPath] ??= {})[route.method.toLowerCase()] = operation;
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'drctl',
        version: '1',
        description: 'The drctl server: plans, readiness, runs, approvals, drills and audit.',
      },
      servers: [{ url: '/' }],
      security: [{ bearer: [] }, { session: [] }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'a token from `drctl token create`' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  hint: { type: 'string' },
                  field: { type: 'string' },
                },
              },
            },
          },
        },
      },
      paths,
    };
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const json = jsonSchema(schema, 'input');
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries((json.properties as Record<string, Record<string, unknown>> | undefined) ?? {}).map(
    ([name, property]) => ({
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof property.description === 'string' ? { description: property.description } : {}),
      schema: property,
    }),
  );
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return where === 'body' ? undefined : value;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const [first] = result.error.issues;
  const field = [where, ...(first?.path ?? []).map(String)].join('.');
  throw ApiError.invalid(
    result.error.issues
      .map((issue) => `${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`)
      .join('; '),
    { field, hint: 'the OpenAPI document at /openapi.json describes every request' },
  );
}

async function readBody(c: Context): Promise<{ fields: Record<string, unknown>; files: UploadedFile[] }> {
  const type = c.req.header('content-type') ?? '';
  if (type.includes('application/json')) {
    const text = await c.req.text();
    if (text.trim() === '') return { fields: {}, files: [] };
    try {
      const value: unknown = JSON.parse(text);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new Error('not an object');
      return { fields: value as Record<string, unknown>, files: [] };
    } catch (error) {
      throw ApiError.invalid('the body is not a JSON object', {
        field: 'body',
        cause: error,
      });
    }
  }
  if (type.includes('application/x-www-form-urlencoded') || type.includes('multipart/form-data')) {
    let form: Awaited<ReturnType<typeof c.req.parseBody>>;
    try {
      form = await c.req.parseBody({ all: true });
    } catch (error) {
      // a malformed part (a raw `"` in a file name, a cut boundary) is the client's to fix, not a 500
      throw ApiError.invalid('the form cannot be read: a part of it is malformed', {
        field: 'body',
        hint: 'send the file again; a file name with a double quote is sent as %22 by browsers',
        cause: error,
      });
    }
    const fields: Record<string, unknown> = {};
    const files: UploadedFile[] = [];
    for (const [name, value] of Object.entries(form)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string') {
          if (item !== '') fields[name] = item;
        } else if (item.size > 0 || item.name !== '') {
          files.push({
            field: name,
            name: item.name,
            type: item.type,
            bytes: Buffer.from(await item.arrayBuffer()),
          });
        }
      }
    }
    return { fields, files };
  }
  const text = await c.req.text();
  if (text === '') return { fields: {}, files: [] };
  throw ApiError.invalid(`a body of type ${type || 'unknown'} cannot be read`, {
    field: 'body',
    hint: 'send application/json, a form, or multipart/form-data',
  });
}

function stringField(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
}

/** The peer address of the connection (no proxy headers are trusted). */
export function remoteAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'in-process';
}
