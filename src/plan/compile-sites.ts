/**
 * Sites and their hosts: one definition per site across the plan's files, host paths resolved against
 * the plan's directory, one primary site, and unique host ids (a host's `jump` is checked with the
 * other references).
 */
import { resolve } from 'node:path';
import { HOST_CONNECT_TIMEOUT_MS } from './defaults.ts';
import type { Host, Site } from './model.ts';
import type { PlanFileInput } from './schema.ts';
import { locate, type SourceFile } from './source.ts';
import { duplicates, optMs, type CompileContext } from './compile-context.ts';

type SiteInput = NonNullable<PlanFileInput['sites']>[string];

export function compileSites(ctx: CompileContext): Site[] {
  const { report } = ctx;
  const sites: Site[] = [];
  for (const file of ctx.files) {
    for (const [id, site] of Object.entries(file.input.sites ?? {})) {
      const location = locate(file.source, ['sites', id], { key: true });
      if (sites.some((s) => s.id === id))
        report(
          'DRCTL_PLAN_DUPLICATE_ID',
          `site ${id} is defined twice`,
          location,
          'give each site one definition',
        );
      else
        sites.push({
          id,
          role: site.role,
          description: site.description,
          location: site.location,
          ...(site.production === true ? { production: true } : {}),
          ...(site.alerts === undefined ? {} : { alerts: site.alerts }),
          hosts: compileHosts(ctx, file.source, id, site),
          provider: site.provider,
          region: site.region,
          failureDomains: site.failure_domains ?? [],
          at: location,
        });
    }
  }
  // failover moves a primary's workloads to a secondary: with two primaries nobody knows which one moves
  for (const extra of sites.filter((s) => s.role === 'primary').slice(1))
    report(
      'DRCTL_PLAN_SITE_ROLE',
      `site ${extra.id} is a second primary site (${sites.find((s) => s.role === 'primary')!.id} is the first)`,
      extra.at,
      'give one primary site; make the others secondary or backup',
    );
  const hosts = sites.flatMap((s) => s.hosts);
  duplicates(hosts, 'host', report);
  for (const host of hosts)
    if (host.jump !== undefined)
      ctx.refs.host.push({ id: host.jump, location: () => host.at, what: `jump of host ${host.id}` });
  return sites;
}

function compileHosts(ctx: CompileContext, source: SourceFile, site: string, input: SiteInput): Host[] {
  return Object.entries(input.hosts ?? {}).map(([hostId, host]) => ({
    id: hostId,
    site,
    address: host.address,
    user: host.user,
    port: host.port,
    identityFile: host.identity_file === undefined ? undefined : resolve(ctx.baseDir, host.identity_file),
    passphraseEnv: host.passphrase_env,
    jump: host.jump,
    knownHostsFile: host.known_hosts === undefined ? undefined : resolve(ctx.baseDir, host.known_hosts),
    connectTimeoutMs: optMs(host.connect_timeout) ?? HOST_CONNECT_TIMEOUT_MS,
    stateDir: host.state_dir ?? '.drctl',
    at: locate(source, ['sites', site, 'hosts', hostId], { key: true }),
  }));
}
