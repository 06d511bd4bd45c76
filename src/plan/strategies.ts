/**
 * The suggested actions of each DR strategy, as data: what to configure and how to validate it.
 * `drctl init` scaffolds them as steps to fill in. An action a plan can show it took names the analysis rule
 * that checks it (`checkedBy`); the others are people's work, recorded with `drctl attest` and shown by
 * `drctl compliance` until they expire after the review interval.
 *
 * The wording follows seed 002 ("Develop a disaster recovery plan"), with cloud product names made generic
 * so a plan reads the same on any platform. Seed 002 has no table of its own for hot standby; it describes
 * hot standby as an active-passive site that is fully provisioned and continuously synchronised, so its list is
 * the warm-standby list with full-scale provisioning and synchronous replication in place of scale-up.
 */
/** The strategies a workload can name, weakest first (here, not in schema.ts, so the CLI can list them without zod). */
export const STRATEGIES = [
  'backup-restore',
  'cold-standby',
  'warm-standby',
  'hot-standby',
  'active-active',
] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface SuggestedAction {
  /** Stable id, also used as the step id `drctl init` writes. */
  id: string;
  title: string;
  /** What to set up. */
  configuration: string[];
  /** How to prove it works: checks to run and evidence to keep. */
  validation: string[];
  /** The analysis finding that checks this action from the plan; absent: a person attests it. */
  checkedBy?: string;
}

export interface StrategyGuide {
  strategy: Strategy;
  title: string;
  summary: string;
  /** Tiers the seed recommends this strategy for. */
  tiers: readonly (0 | 1 | 2 | 3)[];
  actions: SuggestedAction[];
}

const communicationPlan: SuggestedAction = {
  id: 'communication-plan',
  title: 'Create communication plans and protocols',
  configuration: [
    'Establish a clear chain of command for DR activation',
    'Establish stakeholder notification methods for internal and external communication',
    'Configure communication tools and create predefined messaging templates',
    'Document escalation procedures',
  ],
  validation: [
    'Test communication channels during DR drills',
    'Verify notification delivery and escalation paths',
    'Validate external communication effectiveness',
    'Test messaging template accuracy',
  ],
};

const secureCompliance: SuggestedAction = {
  id: 'secure-dr-environment',
  title: 'Secure the DR environment and maintain compliance',
  configuration: [
    'Validate data residency across all sites',
    'Maintain identity and access parity between sites',
    'Keep the audit trail continuous during and after failover',
  ],
  validation: [
    'Audit security configurations across sites',
    'Test identity failover scenarios',
    'Verify compliance during DR events',
    'Validate audit log continuity',
  ],
};

const priorityRouting: SuggestedAction = {
  id: 'priority-routing',
  title: 'Configure priority-based traffic routing',
  configuration: [
    'Front door or traffic manager with priority-based routing',
    'Primary site handles all traffic during normal operations',
    'Secondary site receives traffic only upon failover',
  ],
  validation: [
    'Test traffic failover scenarios',
    'Verify routing priority configurations',
    'Validate DNS propagation and cutover times',
  ],
};

const warmStandbyActions: SuggestedAction[] = [
  {
    id: 'primary-and-secondary-sites',
    title: 'Set up primary and secondary sites',
    configuration: [
      'Deploy the full-scale workload at the primary site',
      'Deploy a minimal viable footprint at the secondary site',
      'Pre-provision critical infrastructure components at the secondary site',
    ],
    validation: [
      'Verify secondary site infrastructure readiness',
      'Test minimal footprint startup times',
      'Validate dependency availability across sites',
    ],
  },
  priorityRouting,
  {
    id: 'secondary-auto-scaling',
    title: 'Enable auto-scaling at the secondary site',
    configuration: [
      'Configure auto-scale rules to increase compute resources after failover',
      'Set appropriate scaling thresholds and limits',
      'Define startup sequences for dependent services',
    ],
    validation: [
      'Test scaling behaviour during failover drills',
      'Validate startup times meet RTO targets',
      'Verify resource availability during scale-up',
    ],
  },
  {
    id: 'continuous-replication',
    checkedBy: 'DRCTL_STRATEGY_WARM_SNAPSHOT',
    title: 'Set up continuous data replication',
    configuration: [
      'Geo-replication for critical data stores',
      'Configure replication lag monitoring',
      'Establish data consistency validation processes',
    ],
    validation: [
      'Test data synchronisation lag against RPO targets',
      'Verify replication status monitoring',
      'Validate data integrity during failover scenarios',
    ],
  },
  {
    id: 'failover-procedures',
    title: 'Configure failover procedures',
    configuration: [
      'Enable automatic failover where supported',
      'Document manual failover procedures for other services',
      'Create orchestrated failover runbooks with step-by-step processes',
    ],
    validation: [
      'Test automated failover mechanisms',
      'Validate manual failover procedures',
      'Verify runbook execution timing and accuracy',
    ],
  },
  {
    id: 'readiness-monitoring',
    title: 'Monitor readiness and health',
    configuration: [
      'Implement health checks for replication status',
      'Configure alerts for auto-scale events and traffic routing',
      'Ensure observability tools cover both sites',
    ],
    validation: [
      'Test monitoring and alerting systems',
      'Verify health check accuracy',
      'Validate observability coverage',
    ],
  },
  secureCompliance,
  communicationPlan,
];

/** Every strategy's guide, keyed by strategy. */
export const STRATEGY_GUIDES: Record<Strategy, StrategyGuide> = {
  'active-active': {
    strategy: 'active-active',
    title: 'Active-active',
    summary:
      'Two or more sites serve live traffic at once; when one fails the others keep handling the load with zero or near-zero disruption.',
    tiers: [0, 1],
    actions: [
      {
        id: 'instant-failover-routing',
        checkedBy: 'DRCTL_STRATEGY_ACTIVE_ROUTING',
        title: 'Configure traffic management for instant failover',
        configuration: [
          'Front door or traffic manager with latency-based or weighted routing',
          'Health probes configured per endpoint',
          'Automatic rerouting of traffic upon failure detection',
        ],
        validation: [
          'Test failover scenarios across sites',
          'Verify health probe accuracy and response times',
          'Validate traffic routing during simulated outages',
        ],
      },
      {
        id: 'replication-consistency',
        checkedBy: 'DRCTL_STRATEGY_HOT_REPLICATION',
        title: 'Set up data replication and maintain consistency',
        configuration: [
          'Multi-site read/write with configurable consistency levels',
          'Readable replicas for relational databases with read-only connections',
          'CQRS, or dual writes with idempotent handling',
          'Define and enforce data consistency levels (strong, eventual, bounded staleness)',
        ],
        validation: [
          'Test data synchronisation lag and consistency',
          'Verify failover data integrity',
          'Validate read/write operations during site failures',
        ],
      },
      {
        id: 'recovery-objectives',
        title: 'Define and document recovery objectives',
        configuration: [
          'RTO: typically measured in seconds',
          'RPO: as close to zero as the architecture allows',
        ],
        validation: [
          'Conduct regular failover testing to validate against these objectives and surface gaps',
          'Measure actual recovery times during drills',
          'Document performance gaps and remediation plans',
        ],
      },
      {
        id: 'load-behaviour',
        title: 'Monitor load behaviour',
        configuration: [
          'Document the load each site handles during normal operation',
          'Expected performance and scale-up behaviour if a peer site fails',
          'Define system behaviour under single-site failure, partial service disruption and network partitioning',
        ],
        validation: [
          'Test site failure scenarios under load',
          'Validate auto-scaling behaviour during failover',
          'Verify performance degradation limits',
          'Test network partition handling',
        ],
      },
      {
        id: 'prepare-operations',
        title: 'Prepare operations',
        configuration: [
          'Infrastructure as code for every site',
          'Deployment automation: CI/CD pipelines for all sites',
          'Runbooks: automated and manual steps for invoking DR procedures',
        ],
        validation: [
          'Scheduled chaos testing or failure injection to validate readiness',
          'Test infrastructure-as-code deployment consistency across sites',
          'Validate runbook execution and timing',
          'Verify CI/CD pipeline resilience',
        ],
      },
      secureCompliance,
      communicationPlan,
    ],
  },
  'hot-standby': {
    strategy: 'hot-standby',
    title: 'Active-passive (hot standby)',
    summary:
      'A fully provisioned, running secondary site, continuously synchronised with the primary and ready for near-instant takeover.',
    tiers: [0, 1],
    actions: warmStandbyActions.map((action) => {
      if (action.id === 'primary-and-secondary-sites') {
        return {
          ...action,
          configuration: [
            'Deploy the full-scale workload at the primary site',
            'Deploy the full-scale workload at the secondary site, running and ready to take traffic',
            'Keep configuration and secrets identical at both sites',
          ],
          validation: [
            'Verify the secondary site serves requests at full scale',
            'Validate dependency availability across sites',
          ],
        };
      }
      if (action.id === 'secondary-auto-scaling') {
        return {
          id: 'standby-capacity',
          title: 'Keep full capacity at the secondary site',
          configuration: [
            'Size the secondary site to absorb the full production load',
            'Define startup sequences for dependent services',
          ],
          validation: [
            'Test the secondary site under production load',
            'Validate startup times meet RTO targets',
          ],
        };
      }
      if (action.id === 'continuous-replication') {
        return {
          ...action,
          checkedBy: 'DRCTL_STRATEGY_HOT_REPLICATION',
          configuration: [
            'Synchronous or low-lag replication for critical data stores',
            'Configure replication lag monitoring',
            'Establish data consistency validation processes',
          ],
        };
      }
      return action;
    }),
  },
  'warm-standby': {
    strategy: 'warm-standby',
    title: 'Active-passive (warm standby)',
    summary:
      'A partially provisioned secondary site runs minimal services and scales up quickly when it takes over.',
    tiers: [1, 2],
    actions: warmStandbyActions,
  },
  'cold-standby': {
    strategy: 'cold-standby',
    title: 'Active-passive (cold standby)',
    summary:
      'The secondary site keeps its compute stopped until needed and is provisioned and restored on activation: lowest cost, longest recovery time.',
    tiers: [2, 3],
    actions: [
      {
        id: 'extend-to-secondary',
        title: 'Extend the active site to the secondary site',
        configuration: [
          'Duplicate network topology, policies and configurations from the primary site',
          'Keep access control, security baselines, monitoring agents and policies consistent',
          'Deploy infrastructure as code with compute resources stopped',
        ],
        validation: [
          'Verify secondary site infrastructure readiness',
          'Test policy consistency across sites',
          'Validate network connectivity and routing',
        ],
      },
      priorityRouting,
      {
        id: 'cross-site-replication',
        title: 'Set up cross-site data replication',
        configuration: [
          'Enable built-in replication of the databases',
          'Enable replication for storage to the secondary site',
          'Configure object replication for blob storage',
        ],
        validation: [
          'Test data synchronisation lag against RPO targets',
          'Verify replication health and latency metrics',
          'Validate data consistency between sites',
        ],
      },
      {
        id: 'automate-provisioning',
        checkedBy: 'DRCTL_STRATEGY_COLD_PROVISION',
        title: 'Automate compute provisioning',
        configuration: [
          'Define infrastructure-as-code templates that provision services on activation',
          'Include service configurations, scaling parameters and dependencies',
          'Pre-define scale targets to meet full load when activated',
        ],
        validation: [
          'Test automated provisioning procedures',
          'Verify compute startup times meet RTO targets',
          'Validate service dependency activation sequences',
        ],
      },
      {
        id: 'protect-virtual-machines',
        title: 'Protect virtual machines with site recovery',
        configuration: [
          'Protect critical virtual machines with replication to the secondary site',
          'Define recovery plans and failover groups',
          'Configure replication policies and retention settings',
        ],
        validation: [
          'Test virtual machine failover scenarios',
          'Verify recovery plan execution',
          'Validate application consistency during failover',
        ],
      },
      {
        id: 'failover-runbook-criteria',
        title: 'Define the failover runbook and criteria',
        configuration: [
          'Establish clear failover triggers and activation criteria',
          'Document manual activation steps including compute startup and DNS updates',
          'Include rollback procedures for failed or temporary activations',
        ],
        validation: [
          'Test failover runbook execution',
          'Verify manual activation procedures',
          'Validate rollback processes and timing',
        ],
      },
      {
        id: 'readiness-monitoring',
        title: 'Monitor readiness and health',
        configuration: [
          'Set alerts on replication health and latency metrics',
          'Monitor secondary site infrastructure status',
          'Track activation readiness across all components',
        ],
        validation: [
          'Test monitoring and alerting systems',
          'Verify infrastructure health checks',
          'Validate readiness indicator accuracy',
        ],
      },
      communicationPlan,
    ],
  },
  'backup-restore': {
    strategy: 'backup-restore',
    title: 'Backup and restore',
    summary:
      'No standby: backups kept at another site are restored when needed. For administrative workloads that tolerate recovery in hours to days.',
    tiers: [3],
    actions: [
      {
        id: 'backup-policies',
        title: 'Configure backup policies and retention',
        configuration: [
          'Back up virtual machines, file shares and blob storage',
          'Store backups in a geo-redundant vault at another site',
          'Define backup frequency and retention aligned with the RPO',
        ],
        validation: [
          'Test backup policy execution',
          'Verify backup completion and integrity',
          'Validate retention policy enforcement',
        ],
      },
      {
        id: 'storage-tiers',
        title: 'Implement cost-effective storage tiers',
        configuration: [
          'Use archive or cool storage tiers for infrequently accessed data',
          'Apply tiering policies that move older backups to lower-cost storage',
          'Configure compression and deduplication to minimise storage costs',
        ],
        validation: [
          'Review storage cost optimisation reports',
          'Verify tiering policy execution',
          'Test data retrieval from each storage tier',
        ],
      },
      {
        id: 'restore-procedures',
        title: 'Document restore procedures',
        configuration: [
          'Maintain runbooks with detailed recovery steps',
          'Define target environments for restoration',
          'Include contact lists for approvals and escalations',
        ],
        validation: [
          'Test restore procedure documentation accuracy',
          'Verify contact information is current',
          'Validate approval processes',
        ],
      },
      {
        id: 'restore-tests',
        checkedBy: 'DRCTL_STRATEGY_RESTORE_UNVERIFIED',
        title: 'Test restore processes regularly',
        configuration: [
          'Schedule periodic restore drills to validate backup integrity',
          'Include restoration to staging environments',
          'Log the time taken and compare it against the RTO',
        ],
        validation: [
          'Execute quarterly restore drills',
          'Verify data consistency after the restore',
          'Document performance against the RTO',
        ],
      },
      {
        id: 'backup-costs-compliance',
        title: 'Monitor backup costs and compliance',
        configuration: [
          'Tag backup resources for cost management',
          'Set budget thresholds for backup-related resources',
          'Ensure retention meets regulatory compliance requirements',
        ],
        validation: [
          'Review backup cost reports monthly',
          'Verify budget threshold effectiveness',
          'Audit compliance with retention policies',
        ],
      },
      {
        id: 'backup-audits',
        title: 'Maintain and audit backup systems',
        configuration: [
          'Perform quarterly audits of backup requirements',
          'Retire obsolete systems and adjust policies',
          'Review and update RPO/RTO requirements based on business changes',
        ],
        validation: [
          'Execute quarterly backup audits',
          'Verify system retirement procedures',
          'Validate requirement changes with stakeholders',
        ],
      },
      {
        id: 'communication-plan',
        title: 'Create communication plans and protocols',
        configuration: [
          'Establish a clear chain of command for restore activation',
          'Document stakeholder notification procedures',
          'Create predefined messaging templates for restore events',
        ],
        validation: [
          'Test communication channels during restore drills',
          'Verify notification delivery mechanisms',
          'Validate escalation procedures',
        ],
      },
    ],
  },
};

/** The guide for one strategy. */
export function strategyGuide(strategy: Strategy): StrategyGuide {
  return STRATEGY_GUIDES[strategy];
}

/** The suggested actions of a strategy that only a person can vouch for: what `drctl attest` records. */
export function attestationItems(strategy: Strategy): SuggestedAction[] {
  return STRATEGY_GUIDES[strategy].actions.filter((action) => action.checkedBy === undefined);
}
