/**
 * A site run through the server: started with the API, one status-page incident for the whole site that
 * follows its children as they come back, messages naming the site, and the console's run page showing
 * each child with its state, where it is and whom its approvals wait on, each tier against its RTO.
 */
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, findChromium } from '../../src/render/index.ts';
import { Communications } from '../../src/notify/communications.ts';
import type { StatusSnapshot } from '../../src/status/index.ts';
import { eventually, testServer } from './support.ts';

const placed = { east: { url: 'http://127.0.0.1:1' }, west: { url: 'http://127.0.0.1:2', standby: true } };

/** accounts (automated) comes back first; shop needs it, then waits for carol's sign-off and a manual switch. */
const WORKLOADS = [
  {
    id: 'shop',
    name: 'Shop',
    tier: 1,
    strategy: 'hot-standby',
    owner: 'alice',
    flows: [{ name: 'Checkout', users: 'customers', impact: 'lost revenue' }],
    components: [{ id: 'shop-api', kind: 'http-service', placement: placed, depends_on: ['accounts-api'] }],
    runbooks: {
      failover: {
        steps: [
          { id: 'promote', run: 'true', validate: [{ run: 'true', component: 'shop-api' }] },
          { id: 'sign', needs: ['promote'], approval: { by: ['carol'] } },
          { id: 'switch', needs: ['sign'], manual: 'move the traffic of shop to west' },
        ],
      },
    },
  },
  {
    id: 'accounts',
    name: 'Accounts',
    tier: 2,
    strategy: 'warm-standby',
    owner: 'dave',
    flows: [{ name: 'Sign-in', users: 'customers', impact: 'nobody signs in' }],
    components: [{ id: 'accounts-api', kind: 'http-service', placement: placed }],
    runbooks: {
      failover: {
        steps: [{ id: 'restore', run: 'true', validate: [{ run: 'true', component: 'accounts-api' }] }],
      },
    },
  },
];

const PAGE = { accept: 'text/html' };
const chromiumPath = findChromium();

describe('a site run in the server', async () => {
  const t = await testServer({
    extra: {
      workloads: WORKLOADS,
      activation: { criteria: ['east is gone'], approvers: ['bob'], quorum: 1 },
      communications: { channels: [{ id: 'ops', type: 'command', command: 'cat > /dev/null' }] },
    },
    server: { listen: '127.0.0.1:0' },
  });
  const statusUntil = (check: (s: StatusSnapshot) => boolean) =>
    eventually(async () => {
      const snapshot = (await (await t.call('GET', '/status.json')).json()) as StatusSnapshot;
      return check(snapshot) ? snapshot : undefined;
    }, 8_000);
  const session = async (token: string) => {
    const response = await t.call('POST', '/api/v1/session', { body: { token } });
    return response.headers.get('set-cookie')!.split(';')[0]!;
  };

  it('shows one incident for the site, its children in the console, and the incident following them', async () => {
    const started = await t.json<{ id: string; workload: string }>('POST', '/api/v1/runs', {
      token: t.tokens.alice,
      body: { site: 'east' },
    });
    expect(started.status).toBe(201);
    expect(started.body.workload).toBe('site:east');
    const runId = started.body.id;
    const incidentId = `run-${runId}`;

    // one incident for the whole site, with the flows of every workload it serves
    const opened = await statusUntil((s) => s.incidents.some((i) => i.id === incidentId));
    expect(opened.incidents).toHaveLength(1);
    expect(opened.incidents[0]!.affected.map((a) => `${a.workload}/${a.flow}`).sort()).toEqual([
      'accounts/Sign-in',
      'shop/Checkout',
    ]);

    const declared = await t.call('POST', `/api/v1/runs/${runId}/steps/activation/approve`, {
      token: t.tokens.bob,
      body: {},
    });
    expect(declared.status).toBe(200);

    // accounts is back: the incident says so and only shop's flow stays down
    const partly = await statusUntil(
      (s) => s.incidents[0]?.updates.some((u) => u.body.startsWith('Accounts works again')) === true,
    );
    expect(partly.incidents).toHaveLength(1);
    expect(partly.incidents[0]!.updates[0]!.body).toBe(
      'Accounts works again (1 of 2). Still recovering: Shop.',
    );
    expect(partly.incidents[0]!.affected.map((a) => `${a.workload}/${a.flow}`)).toEqual(['shop/Checkout']);
    // a second instance on the same store reads the same journal and says nothing twice
    const second = new Communications({ store: t.server.ctx.store, plans: () => t.server.ctx.plans.list() });
    await second.tick();
    await second.stop();
    const incident = await second.incidents.get(incidentId);
    expect(incident?.updates.filter((u) => u.body.startsWith('Accounts works again'))).toHaveLength(1);

    // the console: each child with its state, where it is, whom its approval waits on; tiers against RTO
    const viewer = await session(t.tokens.vera);
    const page = await eventually(async () => {
      const html = await (
        await t.call('GET', `/runs/${runId}`, { headers: { ...PAGE, cookie: viewer } })
      ).text();
      // whitespace as a browser shows it: one space
      return html.includes('data-approval-waiting="shop.sign"') ? html.replace(/\s+/g, ' ') : undefined;
    });
    const card = (id: string) => page.slice(page.indexOf(`id="child-${id}"`)).split('</article>')[0]!;
    expect(card('accounts')).toContain('status-succeeded');
    expect(card('accounts')).toContain('back after <b class="">');
    expect(card('shop')).toContain('class="badge status-waiting"');
    expect(card('shop')).toContain('after accounts');
    expect(card('shop')).toContain(
      '<a href="#step-shop.sign">shop.sign</a> waits for approval from <b>carol</b>',
    );
    expect(card('shop')).toContain('href="/runbooks/shop/failover"');
    expect(page).toContain('id="step-shop.sign"');
    expect(page).toContain(
      '<tr data-tier="2"> <td>tier 2</td> <td><a href="#child-accounts">accounts</a> </td>',
    );
    expect(page).toContain('1 within RTO, 0 late, 0 not recovered, 1 under way');

    await t.call('POST', `/api/v1/runs/${runId}/steps/shop.sign/approve`, {
      token: t.tokens.carol,
      body: {},
    });
    await eventually(async () => {
      const confirmed = await t.call('POST', `/api/v1/runs/${runId}/steps/shop.switch/confirm`, {
        token: t.tokens.alice,
        body: {},
      });
      return confirmed.status === 200 || undefined;
    });
    const done = await statusUntil((s) => s.incidents[0]?.state === 'monitoring');
    expect(done.incidents[0]!.updates.map((u) => u.body)).toContain(
      'Shop works again: every service of site east is back.',
    );
    expect(done.overall).toBe('operational');
    // the messages name the site and its workloads, not a workload called site:east
    const { body: outbox } = await t.json<{
      messages: Array<{ message: { subject: string; recipients: Array<{ id: string }> } }>;
    }>('GET', '/api/v1/messages', { token: t.tokens.vera });
    expect(outbox.messages.map((m) => m.message.subject)).toEqual(
      expect.arrayContaining([
        'site east (accounts, shop): site-lost started',
        'DR declared for site east (accounts, shop)',
        'site east (accounts, shop) recovered',
      ]),
    );
    // to the people of every workload the site serves
    expect(outbox.messages[0]?.message.recipients.map((r) => r.id).sort()).toEqual(['alice', 'dave']);
    const run = await t.json<{ site: { withinRto: unknown; recoveredAfterMs: number } }>(
      'GET',
      `/api/v1/runs/${runId}`,
      { token: t.tokens.vera },
    );
    expect(run.body.site.withinRto).toEqual({ met: 2, missed: 0, notRecovered: 0, open: 0 });
    expect(run.body.site.recoveredAfterMs).toBeGreaterThan(0);
  });

  it.skipIf(chromiumPath === undefined)(
    `in Chromium, the children move live as the run goes on, and a child links to its waiting step${chromiumPath === undefined ? ' (skipped: Chromium is not installed; apt-get install chromium)' : ''}`,
    async () => {
      const { url } = await t.server.listen();
      const browser = await chromium.launch({ executablePath: chromiumPath!, args: CHROMIUM_ARGS });
      try {
        const started = await t.json<{ id: string }>('POST', '/api/v1/runs', {
          token: t.tokens.alice,
          body: { site: 'east' },
        });
        const page = await (await browser.newContext()).newPage();
        await page.goto(`${url}/sign-in?next=${encodeURIComponent(`/runs/${started.body.id}`)}`);
        await page.fill('input[name=token]', t.tokens.vera);
        await page.click('button[type=submit]');
        await page.locator('#run-body[data-live=connected]').waitFor();
        const shop = page.locator('article#child-shop');
        expect(await shop.locator('.badge').innerText()).toBe('pending');
        expect(await page.locator('section.site-run').innerText()).toContain('not declared yet');

        // the declaration is given elsewhere: the page follows without a reload
        await t.call('POST', `/api/v1/runs/${started.body.id}/steps/activation/approve`, {
          token: t.tokens.bob,
          body: {},
        });
        await page.locator('article#child-accounts .badge', { hasText: 'succeeded' }).waitFor();
        await shop.locator('[data-approval-waiting="shop.sign"]').waitFor();
        expect(await shop.locator('.badge').innerText()).toBe('waiting');
        expect(await shop.locator('[data-approval-waiting]').innerText()).toBe(
          'shop.sign waits for approval from carol',
        );
        await shop.locator('[data-approval-waiting] a').click();
        await page.waitForURL(/#step-shop\.sign$/);
        expect(await page.locator('article[id="step-shop.sign"]').isVisible()).toBe(true);
      } finally {
        await browser.close();
      }
    },
  );
});
