/**
 * `drctl token create NAME --role ROLE`, `drctl token list`, `drctl token revoke ID`: the accounts of
 * `drctl serve`. A token is printed once; the state keeps only its hash.
 */
import { createToken, listTokens, revokeToken, ROLES } from '../../server/auth.ts';
import type { RunStore } from '../../store/index.ts';
import { printJson } from '../context.ts';
import type { RegisterCommand } from '../context.ts';
import { actor, withStateOptions } from '../state-options.ts';

interface TokenOptions {
  state: string;
  json?: boolean;
  as?: string;
}

async function withStore<T>(options: TokenOptions, act: (store: RunStore) => Promise<T>): Promise<T> {
  const { openState } = await import('./run-state.ts');
  const store = await openState(options);
  try {
    return await act(store);
  } finally {
    await store.close();
  }
}

export const registerToken: RegisterCommand = (program, context) => {
  const token = program
    .command('token')
    .description("manage the tokens of drctl serve (the token's name is the person)");
  const common = withStateOptions;

  common(
    token
      .command('create')
      .description('create a token and print it once')
      .argument('<name>', "the person, as in the plan's contacts")
      .requiredOption('--role <role>', ROLES.join('|')),
  ).action(async (name: string, options: TokenOptions & { role: string }) => {
    const created = await withStore(options, (store) =>
      createToken(store, { name, role: options.role, createdBy: actor(options.as) }),
    );
    if (options.json) printJson(context, created);
    else {
      context.out.write(`${created.token}\n`);
      context.err.write(`token ${created.id} for ${created.name} (${created.role}); it is not shown again\n`);
    }
  });

  common(token.command('list').description('list tokens (never their secrets)')).action(
    async (options: TokenOptions) => {
      const tokens = await withStore(options, (store) => listTokens(store));
      if (options.json) {
        printJson(context, { tokens });
        return;
      }
      for (const t of tokens) {
        context.out.write(
          `${t.id}  ${t.name.padEnd(16)} ${t.role.padEnd(9)} created ${t.createdAt} by ${t.createdBy}${t.revokedAt ? `  revoked ${t.revokedAt} by ${t.revokedBy}` : ''}\n`,
        );
      }
      if (tokens.length === 0) context.err.write('no tokens yet: drctl token create NAME --role ROLE\n');
    },
  );

  common(
    token
      .command('revoke')
      .description('revoke a token; its console sessions end too')
      .argument('<id>', 'token id (from token list)'),
  ).action(async (id: string, options: TokenOptions) => {
    const revoked = await withStore(options, (store) => revokeToken(store, id, actor(options.as)));
    if (options.json) printJson(context, revoked);
    else context.out.write(`revoked ${revoked.id} (${revoked.name}, ${revoked.role})\n`);
  });
};
