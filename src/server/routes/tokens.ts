/** Tokens, for admins: the same operations as `drctl token create|list|revoke`. */
import { z } from 'zod';
import type { Api } from '../api.ts';
import { createToken, listTokens, revokeToken, ROLES } from '../auth.ts';
import type { ServerContext } from '../context.ts';

const Token = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().optional(),
  revokedBy: z.string().optional(),
});

export function registerTokens(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/tokens',
    role: 'admin',
    summary: 'List tokens',
    response: z.object({ tokens: z.array(Token) }),
    handler: async () => ({ tokens: await listTokens(ctx.store) }),
  });
  api.route({
    method: 'POST',
    path: '/tokens',
    role: 'admin',
    summary: 'Create a token',
    description: 'The answer holds the token itself; it is never shown again (only its hash is kept).',
    status: 201,
    body: z.object({
      name: z.string().describe("the person, as in the plan's contacts"),
      role: z.enum(ROLES),
    }),
    response: Token.extend({ token: z.string() }),
    handler: async ({ body, principal }) =>
      createToken(ctx.store, { name: body.name, role: body.role, createdBy: principal?.name ?? 'admin' }),
  });
  api.route({
    method: 'DELETE',
    path: '/tokens/:id',
    role: 'admin',
    summary: 'Revoke a token',
    params: z.object({ id: z.string() }),
    response: Token,
    handler: async ({ params, principal }) => revokeToken(ctx.store, params.id, principal?.name ?? 'admin'),
  });
}
