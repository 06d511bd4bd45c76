/**
 * The postgres provider's part in an isolated test failover: the copy is a base backup of the server at
 * the recovery site (the standby), started on a free port as a standby cut off from production
 * (pg/clone.ts), so the runbook's own promotion step promotes the copy. The fingerprint reads every
 * placement's role, replication and the rows of each table, so the drill proves production untouched.
 */
import { isAbsolute, join } from 'node:path';
import { DrctlError } from '../../errors.ts';
import { cloneServer } from '../../pg/clone.ts';
import { findPgBinaries } from '../../pg/binaries.ts';
import { withClient } from '../../pg/client.ts';
import { expandEnv } from '../../plan/lookup.ts';
import type { Component, Placement } from '../../plan/model.ts';
import { freePort } from '../../system/ports.ts';
import type { ActionContext, Isolation } from '../provider.ts';

function placementUrl(component: Component, placement: Placement): string {
  return expandEnv(
    placement.url ?? '',
    (name) =>
      new DrctlError(
        'DRCTL_PG_SECRET_MISSING',
        `the url of component ${component.id} at site ${placement.site} uses \${${name}}, which is not set`,
        { hint: `export ${name} before running drctl` },
      ),
  );
}

/** The url with its host and port replaced, credentials (and `${NAME}` references) kept as written. */
function atAddress(url: string, port: number): string {
  return url.replace(/^(postgres(?:ql)?:\/\/(?:[^@/]*@)?)[^/:?]+(?::\d+)?/i, `$1127.0.0.1:${port}`);
}

/** Role, replication and a digest of every table's rows at one server; only reads. */
async function serverPicture(component: Component, placement: Placement): Promise<Record<string, unknown>> {
  const subject = { component: component.id, site: placement.site };
  try {
    return await withClient(subject, placementUrl(component, placement), async (client) => {
      const role = await client.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
      const replication = await client.query(
        'select application_name, state, sync_state from pg_stat_replication order by application_name',
      );
      const slots = await client.query(
        'select slot_name, active from pg_replication_slots order by slot_name',
      );
      const tables = await client.query<{ schema: string; name: string }>(
        'select schemaname as schema, relname as name from pg_stat_user_tables order by 1, 2',
      );
      const rows: Record<string, unknown> = {};
      for (const table of tables.rows) {
        const name = `${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
        const digest = await client.query<{ count: number; md5: string }>(
          `select count(*)::int as count, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from ${name} t`,
        );
        rows[`${table.schema}.${table.name}`] = digest.rows[0];
      }
      return {
        role: role.rows[0]?.standby === true ? 'standby' : 'primary',
        replication: replication.rows,
        slots: slots.rows,
        rows,
      };
    });
  } catch (error) {
    if (!(error instanceof DrctlError)) throw error;
    return { reachable: false, error: error.code };
  }
}

export const postgresIsolation: Isolation = {
  source(component, site) {
    const placement = component.placement.find((p) => p.site === site);
    if (placement?.url === undefined)
      return { none: `${component.id} has no placement with a url at site ${site} to copy` };
    return {
      from: `a base backup of the ${placement.standby ? 'standby' : 'server'} at ${site} (pg_basebackup)`,
    };
  },

  async copy(component, { site, ctx }) {
    const placement = component.placement.find((p) => p.site === site);
    if (placement?.url === undefined)
      throw new DrctlError('DRCTL_PG_NO_PLACEMENT', `component ${component.id} has no url at site ${site}`, {
        location: component.at,
      });
    const binDir = placement.fields.bin_dir;
    const clone = await cloneServer({
      binaries: findPgBinaries(
        typeof binDir === 'string'
          ? isAbsolute(binDir)
            ? binDir
            : join(ctx.plan.baseDir, binDir)
          : undefined,
      ),
      sourceUrl: placementUrl(component, placement),
      subject: { component: component.id, site },
      port: await freePort(),
      // the server's OS user must reach its directory: the drill's scratch directory may be private
      signal: ctx.signal,
    });
    return {
      fields: { url: atAddress(placement.url, clone.port), data_dir: clone.dataDir, listen_port: clone.port },
      from: `a base backup of the ${placement.standby ? 'standby' : 'server'} at ${site} (pg_basebackup)`,
      ...(clone.dataAsOf === undefined ? {} : { dataAsOf: clone.dataAsOf }),
      remove: () => clone.remove(),
    };
  },

  async fingerprint(component, _ctx: ActionContext) {
    const picture: Record<string, unknown> = {};
    for (const placement of component.placement.filter((p) => p.url !== undefined))
      picture[placement.site] = await serverPicture(component, placement);
    return picture;
  },
};
