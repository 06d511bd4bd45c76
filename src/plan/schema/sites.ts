/** Sites, the hosts drctl reaches at each, and tier overrides. */
import { z } from 'zod';
import { Id, Duration } from './values.ts';

export const SITE_ROLES = ['primary', 'secondary', 'backup'] as const;

/** A machine of a site that drctl reaches over SSH (docs/hosts.md). Names are unique across the plan. */
export const Host = z.strictObject({
  address: z.string().min(1).describe('IP address or DNS name (an alias of ~/.ssh/config works too).'),
  user: z.string().min(1).optional().describe("Login user. @default what the user's ssh would use"),
  port: z.number().int().min(1).max(65535).optional().describe('@default 22'),
  identity_file: z
    .string()
    .optional()
    .describe('Private key, relative to the plan. @default the SSH agent and the default keys'),
  passphrase_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional()
    .describe("Environment variable holding the key's passphrase (never written in the plan)."),
  jump: z.string().optional().describe('Another host of the plan to reach this one through (a bastion).'),
  known_hosts: z
    .string()
    .optional()
    .describe("known_hosts file the host key is checked against, relative to the plan. @default the user's"),
  connect_timeout: Duration.optional().describe('How long reaching and logging in may take. @default 5s'),
  state_dir: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Directory on the host where drctl keeps pid files and logs of the processes it starts there and markers of finished actions; relative to the login directory. @default .drctl',
    ),
});

export const Site = z.strictObject({
  role: z
    .enum(SITE_ROLES)
    .describe('primary serves traffic; secondary takes over; backup only holds copies.'),
  description: z.string().optional(),
  location: z.string().optional().describe('Region or data centre, for the runbook.'),
  production: z
    .boolean()
    .optional()
    .describe(
      "Real users' data lives here: a drill that damages data (a corrupt fault) is refused unless its scenario has allow_production. @default false",
    ),
  alerts: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Alert labels that name this site (e.g. { region: east }): an alert carrying all of them starts its site recovery.',
    ),
  hosts: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/), Host)
    .optional()
    .describe("The site's machines; placements and steps name one with `host:`."),
  provider: z
    .string()
    .optional()
    .describe(
      'Who runs the site: a cloud (azure, aws, gcp) or on-prem. Sites of one provider share its failure domain.',
    ),
  region: z
    .string()
    .optional()
    .describe('The provider region (westeurope, us-east-1); sites of one provider and region share it.'),
  failure_domains: z
    .array(Id)
    .optional()
    .describe(
      'Names of what this site shares with others and could lose with them: a power feed, an identity provider, a DNS provider.',
    ),
});

export const TierOverride = z.strictObject({
  name: z.string().optional(),
  rto: Duration.optional(),
  rpo: Duration.optional(),
  slo: z.string().optional().describe('Availability objective, e.g. "99.95%".'),
  accepts_shared: z
    .array(z.string())
    .optional()
    .describe(
      'Failure domains a workload of this tier may share between its primary and recovery sites: provider, region, a domain name, or "*". @default tier 0 none, tier 1 [provider], tiers 2-3 ["*"]',
    ),
});
