// The public status page in Chromium during a real failover of the two-site shop: `drctl serve` of the
// warm-standby example as its own process, a failover run started through the API with an operator
// token, and a fresh browser that signs in to nothing. On this machine no snapshot was ever shipped to
// west, so the run's restore fails and escalates, and the operator aborts it: the incident drctl opened
// gets drctl's own update for that, and the operator's update, on the page.
import { cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import { createToken } from '../../src/server/index.ts';
import { openStore } from '../../src/store/index.ts';
import { freePort } from '../../src/system/ports.ts';
import { startCli, stopAll } from '../engine/cli-process.ts';
import type { CliProcess } from '../engine/cli-process.ts';
import { tempDir } from '../support/tmp.ts';
import { eventually } from './support.ts';

const executablePath = findChromium();
const reason = 'Chromium is not installed (apt-get install chromium); the browser tests need it';
const EXAMPLE = resolve(import.meta.dirname, '../../examples/two-site');
const WORKLOAD = 'shop';
const RUNBOOK = 'failover';

/**
 * What the plan's graph says a run of the runbook takes away, walked here from the compiled plan by the
 * rule docs/status-page.md states: the components the runbook acts on or checks (and the front door);
 * a flow needs its `depends_on` and everything those depend on; a flow that `survives` every lost
 * component it needs is degraded, any other it needs makes it a major outage.
 */
function expectedFlows(plan: Plan): Map<string, string> {
  const workload = plan.workloads.find((w) => w.id === WORKLOAD)!;
  const runbook = workload.runbooks.find((r) => r.name === RUNBOOK)!;
  const lost = new Set<string>();
  for (const step of runbook.steps) {
    if (typeof step.with.component === 'string') lost.add(step.with.component);
    for (const check of step.validate) if (check.component !== undefined) lost.add(check.component);
  }
  if (workload.frontDoor !== undefined) lost.add(workload.frontDoor.component);
  const dependsOn = new Map(plan.workloads.flatMap((w) => w.components).map((c) => [c.id, c.dependsOn]));
  const expected = new Map<string, string>();
  for (const w of plan.workloads)
    for (const flow of w.flows) {
      const needs = new Set<string>();
      const stack = [...flow.dependsOn];
      while (stack.length > 0) {
        const id = stack.pop()!;
        if (needs.has(id)) continue;
        needs.add(id);
        stack.push(...(dependsOn.get(id) ?? []));
      }
      const hit = [...needs].filter((id) => lost.has(id));
      if (hit.length === 0) continue;
      const degraded = hit.every((id) => flow.survives.includes(id));
      expected.set(`${w.id}/${flow.name}`, degraded ? 'degraded' : 'major-outage');
    }
  return expected;
}

describe.skipIf(executablePath === undefined)(
  `the status page in Chromium${executablePath ? '' : ` (skipped: ${reason})`}`,
  () => {
    let browser: Browser;
    let serve: CliProcess;
    let base: string;
    let token: string;
    let plan: Plan;
    const dir = tempDir('drctl-status-browser-');

    beforeAll(async () => {
      // the example writes its sites' data under .drctl next to the plan: a copy keeps the checkout clean
      cpSync(EXAMPLE, dir, { recursive: true });
      const state = join(dir, 'state');
      const store = await openStore(state);
      token = (await createToken(store, { name: 'alice', role: 'operator', createdBy: 'test' })).token;
      await store.close();
      plan = await loadPlan(join(dir, 'warm-standby.yaml'));
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      serve = startCli(
        ['serve', 'warm-standby.yaml', '--state', state, '--listen', `127.0.0.1:${port}`, '--poll-ms', '50'],
        { cwd: dir },
      );
      await eventually(
        () =>
          fetch(`${base}/healthz`).then(
            (r) => r.ok || undefined,
            () => undefined,
          ),
        20_000,
      );
      browser = await chromium.launch({ executablePath: executablePath!, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      serve?.child.kill('SIGTERM');
      await serve?.exit;
      stopAll();
    });

    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.ok, `${method} ${path}: ${response.status}`).toBe(true);
      return (await response.json()) as T;
    };

    it("shows a real failover's incident, its updates and the flows the graph says, to someone not signed in", async () => {
      const expected = expectedFlows(plan);
      // the example's browse flow survives the loss (read-only copy), ordering does not
      expect(new Set(expected.values())).toEqual(new Set(['degraded', 'major-outage']));

      const run = await api<{ id: string }>('POST', '/runs', { runbook: `${WORKLOAD}/${RUNBOOK}` });
      const incidentId = `run-${run.id}`;
      // nothing shipped a snapshot to west: the restore fails and waits for a decision; the operator aborts
      const waiting = await eventually(async () => {
        const view = await api<{ steps: Array<{ id: string; status: string }> }>('GET', `/runs/${run.id}`);
        return view.steps.find((s) => s.id === 'restore-west' && s.status === 'waiting');
      }, 20_000);
      await api('POST', `/runs/${run.id}/steps/${waiting.id}/decide`, { choice: 'abort' });
      await eventually(async () => {
        const view = await api<{ status: string }>('GET', `/runs/${run.id}`);
        return ['failed', 'rolled-back', 'cancelled'].includes(view.status) || undefined;
      }, 20_000);
      await api('POST', `/incidents/${incidentId}/updates`, {
        body: 'Restoring from the nightly copy at east instead.',
      });

      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const incident = page.locator(`article.incident[data-id="${incidentId}"]`);
      // the page has no script: reload until the half-second snapshot cache shows every update
      await expect
        .poll(
          async () => {
            await page.goto(`${base}/status`);
            return incident.locator('li.update').count();
          },
          { timeout: 10_000, interval: 250 },
        )
        .toBe(3);
      expect(new URL(page.url()).pathname).toBe('/status');
      expect(await page.locator('#overall').getAttribute('data-state')).toBe('major-outage');
      expect(await incident.locator('.incident-title').innerText()).toBe('Shop: failover in progress');
      expect(await incident.getAttribute('data-state')).toBe('identified');
      const updates = await incident.locator('li.update .update-body').allInnerTexts();
      // newest first: the operator, drctl on the failed run, drctl's opening text from the plan's template
      expect(updates[0]).toBe('Restoring from the nightly copy at east instead.');
      expect(updates[1]).toBe('Recovering Shop takes longer than planned; the team is on it.');
      expect(updates[2]).toBe(
        plan.communications.templates.find((t) => t.id === 'status-opened')!.body.trim(),
      );

      const shown = new Map<string, string>();
      for (const item of await incident.locator('li[data-flow]').all()) {
        const state = (await item.getAttribute('class'))!.replace(/^s-/, '');
        shown.set((await item.getAttribute('data-flow'))!, state);
      }
      expect(shown).toEqual(expected);
      await context.close();
    });
  },
);
