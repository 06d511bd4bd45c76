/**
 * A plan that analysis finds nothing wrong with at NOW. Each rule's tests start from a copy of it and
 * break one thing, so a finding can only come from the change under test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzePlan, type Finding, type FindingCode } from '../../src/analysis/index.ts';
import {
  loadPlan,
  type Component,
  type Plan,
  type Runbook,
  type Step,
  type Workload,
} from '../../src/plan/index.ts';
import { tempDir } from '../support/tmp.ts';

export const NOW = new Date('2026-03-01T12:00:00Z');

export const BASELINE_YAML = `version: 1
name: shop
review: { last: 2026-01-15, by: alice }
sites:
  east: { role: primary }
  west: { role: secondary }
contacts:
  - { id: alice, name: Alice Ng, role: DR lead, backup: bob }
  - { id: bob, name: Bob Roy, role: DBA, backup: alice, category: technical-sme }
  - { id: carol, name: Carol Diaz, roles: [business-owner], backup: dave, category: business-sme }
  - { id: dave, name: Dave Kim, roles: [business-owner], backup: carol }
  - { id: erin, name: Erin Wu, role: Payments gateway support, category: upstream-support }
  - { id: finn, name: Finn Ode, role: Warehouse system support, category: downstream-support }
  - { id: gil, name: Gil Moss, role: Database vendor support, category: vendor }
activation:
  criteria: ["east unreachable for 15 minutes"]
  approvers: [carol, dave]
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    signoff: { by: carol, at: 2026-01-10 }
    components:
      - id: db
        kind: postgres
        placement:
          east: { url: "postgres://127.0.0.1:5433/shop" }
          west: { url: "postgres://127.0.0.1:5434/shop", standby: true }
        replication: { mode: sync }
        backups:
          - { every: 1h, to: west, media: object }
      - id: api
        kind: http-service
        depends_on: [db]
        placement:
          east: { url: "http://127.0.0.1:8081" }
          west: { url: "http://127.0.0.1:8082" }
    runbooks:
      failover:
        steps:
          - id: declare
            approval: { by: [carol, dave] }
            expected: 5m
          - id: promote-db
            needs: [declare]
            action: postgres.promote
            with: { component: db, site: west }
            expected: 30s
            contingency: 30s
            validate: [{ sql: "select true" }]
          - id: start-api
            needs: [promote-db]
            action: process.start
            with: { component: api, site: west }
            expected: 1m
            validate: [{ http: "http://127.0.0.1:8082/health" }]
      failback:
        steps:
          - id: resync
            action: postgres.rebuild
            with: { component: db, site: east, from: west }
            expected: 20m
            validate: [{ sql: "select true" }]
          - id: tell-users
            needs: [resync]
            manual: Post on the status page that the shop is back home.
            evidence: [status page link]
          - id: switch-back
            needs: [resync]
            action: process.start
            with: { component: api, site: east }
            validate: [{ http: "http://127.0.0.1:8081/health" }]
drills:
  history:
    - { type: tabletop, at: 2026-02-01, workload: shop, result: passed }
    - { type: partial, at: 2025-12-01, result: passed }
    - { type: full, at: 2025-06-01, result: passed }
    - { type: backup-restore, at: 2026-02-20, result: passed }
`;

/** Writes `yaml` as plan.yaml in a fresh temporary directory and loads it. */
export async function loadYaml(yaml: string): Promise<Plan> {
  const file = join(tempDir(), 'plan.yaml');
  writeFileSync(file, yaml);
  return loadPlan(file);
}

let loaded: Promise<Plan> | undefined;

/** A fresh, mutable copy of the baseline plan. */
export async function baseline(): Promise<Plan> {
  loaded ??= loadYaml(BASELINE_YAML);
  return structuredClone(await loaded);
}

export function workloadOf(plan: Plan, id = 'shop'): Workload {
  const found = plan.workloads.find((w) => w.id === id);
  if (!found) throw new Error(`no workload ${id}`);
  return found;
}

export function componentOf(plan: Plan, id: string): Component {
  const found = plan.workloads.flatMap((w) => w.components).find((c) => c.id === id);
  if (!found) throw new Error(`no component ${id}`);
  return found;
}

export function runbookOf(plan: Plan, name: string, workload = 'shop'): Runbook {
  const found = workloadOf(plan, workload).runbooks.find((r) => r.name === name);
  if (!found) throw new Error(`no runbook ${name}`);
  return found;
}

export function stepOf(plan: Plan, runbook: string, id: string): Step {
  const found = runbookOf(plan, runbook).steps.find((s) => s.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found;
}

/** Codes of the findings analysis reports on `plan` at NOW. */
export function codes(plan: Plan): string[] {
  return analyzePlan(plan, { now: NOW }).findings.map((f) => f.code);
}

/** The findings with `code`. */
export function findings(plan: Plan, code: FindingCode): Finding[] {
  return analyzePlan(plan, { now: NOW }).findings.filter((f) => f.code === code);
}
