/**
 * A starting plan for a tier and a strategy, written by `drctl init`. It is valid as written, so
 * `drctl validate` passes at once and `drctl analyze` points at what is still to do; every value meant to
 * be replaced says so. The strategy's suggested actions (seed 002) become a setup runbook of manual steps
 * whose evidence is the seed's validation list.
 */
import { formatDuration, parseDuration } from './duration.ts';
import { TIER_DEFAULTS } from './defaults.ts';
import type { Strategy, TierLevel } from './model.ts';
import { STRATEGY_GUIDES } from './strategies.ts';

export interface ScaffoldOptions {
  tier: TierLevel;
  strategy: Strategy;
  /** Plan name. @default 'my-service' */
  name?: string;
}

/** The strategy seed 002 suggests for each tier, used when `drctl init` is given a tier only. */
export const SUGGESTED_STRATEGY: Record<TierLevel, Strategy> = {
  0: 'active-active',
  1: 'warm-standby',
  2: 'cold-standby',
  3: 'backup-restore',
};

const q = (text: string): string => JSON.stringify(text);

const ROUND_DURATIONS = [
  '1s',
  '2s',
  '5s',
  '10s',
  '30s',
  '1m',
  '2m',
  '5m',
  '10m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '6h',
  '12h',
  '1d',
];

/** The largest round duration not above `ms`, as a person would write it. */
function duration(ms: number): string {
  let best = ROUND_DURATIONS[0]!;
  for (const candidate of ROUND_DURATIONS) if ((parseDuration(candidate) ?? Infinity) <= ms) best = candidate;
  return best;
}

function block(text: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return `|\n${text
    .split('\n')
    .map((line) => `${pad}${line}`)
    .join('\n')}`;
}

interface StepSketch {
  id: string;
  name: string;
  needs?: string[];
  approval?: boolean;
  manual?: string;
  evidence?: string[];
  check?: string;
}

export function scaffoldPlan(options: ScaffoldOptions): string {
  const { tier, strategy } = options;
  const name = options.name ?? 'my-service';
  const policy = TIER_DEFAULTS[tier];
  const guide = STRATEGY_GUIDES[strategy];
  const backupOnly = strategy === 'backup-restore';
  const secondary = backupOnly ? 'vault' : 'secondary';

  const lines: string[] = [];
  const out = (...more: string[]): void => {
    lines.push(...more);
  };

  out(
    `# drctl plan: tier ${tier} (${policy.name}), strategy ${strategy} (${guide.title}).`,
    '# Written by `drctl init`. It validates as it is; replace every value marked "replace" and run',
    '#   drctl validate plan.yaml && drctl analyze plan.yaml',
    '# The reference for every key is docs/plan.md.',
    'version: 1',
    `name: ${q(name)}`,
    `description: ${q(`Replace: what ${name} does and who relies on it.`)}`,
    '',
    'review: { interval: 365d }',
    '',
    'sites:',
    '  primary: { role: primary, location: "replace: region or data centre" }',
    backupOnly
      ? '  vault: { role: backup, location: "replace: where the backups are kept, away from the primary" }'
      : '  secondary: { role: secondary, location: "replace: region or data centre of the standby" }',
    '',
    '# Seed 000: every person with a backup and an escalation path.',
    'contacts:',
    '  - { id: dr-lead, name: "Replace: DR lead", role: DR lead, email: dr-lead@example.com, phone: "+1 555 0100", backup: dr-backup, escalation: [technical-owner] }',
    '  - { id: dr-backup, name: "Replace: DR lead backup", role: DR executor, email: dr-backup@example.com, phone: "+1 555 0101", backup: dr-lead, escalation: [dr-lead] }',
    '  - { id: business-owner, name: "Replace: business owner", role: Business owner, email: owner@example.com, backup: technical-owner, roles: [business-owner] }',
    '  - { id: technical-owner, name: "Replace: technical owner", role: Technical owner, email: tech@example.com, backup: business-owner, roles: [technical-owner] }',
    '',
    'activation:',
    '  criteria:',
    `    - ${q(backupOnly ? 'Replace: the data is lost or corrupted and cannot be repaired in place.' : 'Replace: the primary site has not answered its health probes for 15 minutes.')}`,
    '  approvers: [business-owner, technical-owner]',
    '  quorum: 1',
    '',
    'workloads:',
    '  - id: app',
    `    name: ${q(`Replace: ${name}`)}`,
    `    tier: ${tier}`,
    `    strategy: ${strategy}`,
    '    owner: business-owner',
    `    # RTO ${formatDuration(policy.rtoMs)} and RPO ${formatDuration(policy.rpoMs)} come from the tier (${policy.source}); tighten them here.`,
    '    flows:',
    '      - { name: "Replace: a user flow", users: "Replace: who relies on it", impact: "Replace: what happens to them when it is down" }',
    '    components:',
    '      - id: database',
    '        kind: postgres',
    '        placement:',
    '          primary: { url: "postgres://db.primary.example.invalid:5432/app" }',
  );
  if (!backupOnly)
    out('          secondary: { url: "postgres://db.secondary.example.invalid:5432/app", standby: true }');
  out(...dataProtection(tier, strategy, secondary));
  out(
    '      - id: service',
    '        kind: http-service',
    '        depends_on: [database]',
    '        placement:',
    '          primary: { url: "http://app.primary.example.invalid" }',
  );
  if (!backupOnly)
    out(
      `          secondary: { url: "http://app.secondary.example.invalid"${strategy === 'active-active' ? '' : ', standby: true'} }`,
    );
  out('        probe: { url: "http://app.primary.example.invalid/health" }', '', '    runbooks:');

  const recovery = backupOnly ? restoreSteps() : failoverSteps(strategy);
  const perStep = duration(policy.rtoMs / (2 * recovery.length));
  out(
    `      ${backupOnly ? 'restore' : 'failover'}:`,
    `        description: ${q(backupOnly ? 'Restore the workload from its backups.' : 'Move the workload to the secondary site.')}`,
    '        prerequisites:',
    `          - ${q(backupOnly ? 'A verified backup newer than the RPO exists at the vault.' : 'The secondary site answers its health probes.')}`,
    '        steps:',
    ...recovery.flatMap((s) => stepYaml(s, perStep)),
  );
  if (!backupOnly) {
    out(
      '      failback:',
      '        description: "Return to the primary site in a window the approvers choose (seed 002: failback is as important as failover)."',
      '        steps:',
      ...failbackSteps().flatMap((s) => stepYaml(s, undefined)),
    );
  }
  out(
    '      setup:',
    '        kind: custom',
    `        description: ${q(`Seed 002's suggested actions for ${guide.title}: configure each, then keep its validation as evidence.`)}`,
    '        steps:',
    ...guide.actions.flatMap((action) =>
      stepYaml(
        {
          id: action.id,
          name: action.title,
          manual: [
            'Configure:',
            ...action.configuration.map((item) => `- ${item}`),
            'Replace these lines with the concrete steps for this workload.',
          ].join('\n'),
          evidence: action.validation,
        },
        undefined,
      ),
    ),
    '',
    'drills:',
    '  scenarios:',
    `    - { id: ${backupOnly ? 'data-loss' : 'site-loss'}, disaster: ${backupOnly ? 'data-corruption' : 'site-loss'}, workload: app, runbook: ${backupOnly ? 'restore' : 'failover'}, type: ${backupOnly ? 'backup-restore' : 'partial'} }`,
    '',
  );
  return lines.join('\n');
}

function dataProtection(tier: TierLevel, strategy: Strategy, secondary: string): string[] {
  const rpo = TIER_DEFAULTS[tier].rpoMs;
  const lines: string[] = [];
  if (strategy !== 'backup-restore') {
    // the replication mode is chosen so the tier's default RPO holds; analysis checks it either way
    if (tier === 0) lines.push('        replication: { mode: sync, from: primary, to: secondary }');
    else if (tier === 1)
      lines.push('        replication: { mode: async, from: primary, to: secondary, max_lag: 1m }');
    else
      lines.push(
        `        replication: { mode: snapshot, from: primary, to: secondary, every: ${duration(rpo / 2)} }`,
      );
  }
  lines.push(
    '        backups:',
    `          - { every: ${duration(Math.min(rpo / 2, 86_400_000))}, to: ${secondary}, media: disk }`,
    `          - { every: 1d, to: ${secondary}, media: object, immutable: true }`,
  );
  return lines;
}

function failoverSteps(strategy: Strategy): StepSketch[] {
  const start =
    strategy === 'active-active'
      ? 'Scale the secondary site up to take the full load.'
      : strategy === 'hot-standby'
        ? 'Confirm the service at the secondary site is running and points at the promoted database.'
        : 'Start (or provision) the service at the secondary site and point it at the promoted database.';
  return [
    { id: 'declare', name: 'Declare DR', approval: true },
    {
      id: 'promote-database',
      name: 'Promote the standby database',
      needs: ['declare'],
      manual: 'Replace: how to promote the database at the secondary site (or use action: postgres.promote).',
      evidence: ['The database at the secondary site accepts writes'],
    },
    {
      id: 'start-service',
      name: 'Start the service at the secondary site',
      needs: ['promote-database'],
      manual: start,
      evidence: ['The service answers its health check at the secondary site'],
    },
    {
      id: 'switch-traffic',
      name: 'Send traffic to the secondary site',
      needs: ['start-service'],
      manual: 'Replace: how traffic moves (front door priority, DNS, load balancer).',
      check: 'http://app.secondary.example.invalid/health',
    },
  ];
}

function failbackSteps(): StepSketch[] {
  return [
    { id: 'approve-window', name: 'Approve the failback window', approval: true },
    {
      id: 'resync-primary',
      name: 'Bring the primary site back in sync',
      needs: ['approve-window'],
      manual:
        'Replace: rebuild the primary database as a standby of the secondary and wait until it has caught up.',
      evidence: ['Replication lag from the secondary to the primary is zero'],
    },
    {
      id: 'switch-back',
      name: 'Switch traffic back to the primary site',
      needs: ['resync-primary'],
      manual: 'Replace: promote the primary database, start the service there, move traffic back.',
      check: 'http://app.primary.example.invalid/health',
    },
  ];
}

function restoreSteps(): StepSketch[] {
  return [
    { id: 'declare', name: 'Declare the restore', approval: true },
    {
      id: 'provision-target',
      name: 'Provision the restore target',
      needs: ['declare'],
      manual: 'Replace: where the workload is restored to, and how it is provisioned.',
      evidence: ['The target environment is reachable'],
    },
    {
      id: 'restore-data',
      name: 'Restore the newest verified backup',
      needs: ['provision-target'],
      manual: 'Replace: how to restore the database from the vault (or use action: postgres.restore-pitr).',
      evidence: ['The backup id and its time stamp', 'Row counts of the key tables after the restore'],
    },
    {
      id: 'start-service',
      name: 'Start the service on the restored data',
      needs: ['restore-data'],
      manual: 'Replace: start the service and point it at the restored database.',
      check: 'http://app.primary.example.invalid/health',
    },
  ];
}

function stepYaml(step: StepSketch, expected: string | undefined): string[] {
  const lines = [`          - id: ${step.id}`, `            name: ${q(step.name)}`];
  if (step.needs) lines.push(`            needs: [${step.needs.join(', ')}]`);
  if (step.approval) lines.push('            approval: { by: [business-owner, technical-owner], quorum: 1 }');
  if (step.manual !== undefined)
    lines.push(`            manual: ${step.manual.includes('\n') ? block(step.manual, 14) : q(step.manual)}`);
  if (expected !== undefined) lines.push(`            expected: ${expected}`);
  if (step.check !== undefined) {
    lines.push(
      '            validate:',
      `              - { name: service answers, http: ${q(step.check)}, evidence: "The service answers its health check" }`,
    );
  }
  if (step.evidence && step.evidence.length > 0) {
    lines.push('            evidence:', ...step.evidence.map((item) => `              - ${q(item)}`));
  }
  if (step.manual !== undefined)
    lines.push('            on_failure: escalate', '            escalate_to: dr-lead');
  return lines;
}
