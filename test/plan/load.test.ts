import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError, type PlanProblem } from '../../src/errors.ts';
import { loadPlan } from '../../src/plan/index.ts';
import { runCli } from '../support/cli.ts';
import { tempDir, writeFiles } from '../support/tmp.ts';

const SHOP = `version: 1
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice Ng, role: DR lead, backup: bob }
  - { id: bob, name: Bob Park, backup: alice }
activation: { criteria: ["east unreachable for 15 minutes"], approvers: [alice, bob] }
workloads:
  - id: shop
    tier: 1
    strategy: hot-standby
    owner: alice
    rto: 10m
    components:
      - id: db
        kind: postgres
        placement: { east: { url: "postgres://127.0.0.1:5433/shop" }, west: { url: "postgres://127.0.0.1:5434/shop", standby: true } }
        replication: { mode: sync }
        backups: [{ every: 1h, to: west }]
      - id: api
        kind: http-service
        depends_on: [db]
        probe: { url: "http://127.0.0.1:8081/health", interval: 1s, timeout: 500ms, failures: 3 }
    runbooks:
      failover:
        steps:
          - { id: declare, approval: { by: [alice, bob] }, expected: 5m }
          - id: promote-db
            needs: [declare]
            run: echo promote
            expected: 30s
            contingency: 30s
            on_failure: escalate
            escalate_to: bob
`;

async function problemsOf(
  files: Record<string, string | Buffer>,
  root = 'plan.yaml',
): Promise<PlanProblem[]> {
  const dir = writeFiles(files);
  try {
    await loadPlan(join(dir, root));
  } catch (error) {
    expect(error).toBeInstanceOf(PlanInvalidError);
    return (error as PlanInvalidError).problems.map((p) => ({
      ...p,
      location: { ...p.location, file: p.location.file.replace(`${dir}/`, '') },
    }));
  }
  throw new Error('the plan loaded, but a problem was expected');
}

describe('loading a plan', () => {
  it('compiles durations to milliseconds and applies tier defaults', async () => {
    const dir = writeFiles({ 'plan.yaml': SHOP });
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    const shop = plan.workloads[0]!;
    expect(shop.rtoMs).toBe(600_000);
    expect(shop.rpoMs).toBe(15 * 60_000); // tier 1 default
    expect(shop.objectivesFrom).toEqual({ rto: 'plan', rpo: 'tier' });
    const promote = shop.runbooks[0]!.steps[1]!;
    expect(promote).toMatchObject({
      kind: 'shell',
      expectedMs: 30_000,
      contingencyMs: 30_000,
      onFailure: 'escalate',
    });
    expect(promote.at).toMatchObject({ line: 27, column: 13 });
    expect(shop.components[1]!.probe).toMatchObject({
      intervalMs: 1000,
      timeoutMs: 500,
      failures: 3,
      successes: 2,
    });
    expect(shop.components[0]!.backups[0]!.keep).toEqual({ daily: 7, weekly: 4, monthly: 12, yearly: 7 });
    expect(plan.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('merges included files and hashes them all', async () => {
    const [head, rest] = SHOP.split('workloads:');
    const dir = writeFiles({
      'plan.yaml': `${head!.replace('version: 1', 'version: 1\ninclude: [team/contacts.yaml, workloads.yaml]').replace(/contacts:\n(  - .*\n)+/, '')}`,
      'team/contacts.yaml':
        'contacts:\n  - { id: alice, name: Alice Ng, backup: bob }\n  - { id: bob, name: Bob Park, backup: alice }\n',
      'workloads.yaml': `workloads:${rest}`,
    });
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    expect(plan.files).toHaveLength(3);
    expect(plan.contacts.map((c) => c.id)).toEqual(['alice', 'bob']);
    expect(plan.workloads[0]!.components[0]!.at.file).toMatch(/workloads\.yaml$/);
    writeFileSync(
      join(dir, 'team/contacts.yaml'),
      readFileSync(join(dir, 'team/contacts.yaml'), 'utf8').replace('Park', 'Parker'),
    );
    expect((await loadPlan(join(dir, 'plan.yaml'))).hash).not.toBe(plan.hash);
  });
});

describe('a bad plan', () => {
  it('reports every schema problem at once with file, line and column', async () => {
    const bad = SHOP.replace('depends_on: [db]', 'depend_on: [db]')
      .replace('expected: 30s', 'expected: 30x')
      .replace('tier: 1', 'tier: 7');
    const problems = await problemsOf({ 'plan.yaml': bad });
    expect(
      problems.map(
        (p) => `${p.location.file}:${p.location.line}:${p.location.column} ${p.code} ${p.message}`,
      ),
    ).toMatchInlineSnapshot(`
      [
        "plan.yaml:9:11 DRCTL_PLAN_VALUE workloads[0].tier: 7 is not allowed; use one of 0, 1, 2, 3",
        "plan.yaml:21:9 DRCTL_PLAN_UNKNOWN_KEY workloads[0].components[1]: unknown key "depend_on"; did you mean "depends_on"?",
        "plan.yaml:30:23 DRCTL_PLAN_VALUE workloads[0].runbooks.failover.steps[1].expected: not a duration",
      ]
    `);
    expect(problems[2]!.hint).toBe('write it like 500ms, 90s, 15m, 4h, 2d or 1h30m');
  });

  it('names an unknown reference and suggests the closest id', async () => {
    const problems = await problemsOf({ 'plan.yaml': SHOP.replace('depends_on: [db]', 'depends_on: [dbb]') });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      code: 'DRCTL_PLAN_UNKNOWN_REF',
      location: { line: 21, column: 22 },
      hint: 'write db',
    });
  });

  it('finds a cycle between steps', async () => {
    const problems = await problemsOf({
      'plan.yaml': SHOP.replace(
        'approval: { by: [alice, bob] }',
        'needs: [promote-db], approval: { by: [alice, bob] }',
      ),
    });
    expect(problems.map((p) => p.code)).toEqual(['DRCTL_PLAN_CYCLE']);
    expect(problems[0]!.message).toContain('declare → promote-db → declare');
  });

  it('finds a cycle between components', async () => {
    const problems = await problemsOf({
      'plan.yaml': SHOP.replace(
        'replication: { mode: sync }',
        'replication: { mode: sync }\n        depends_on: [api]',
      ),
    });
    expect(problems.map((p) => p.code)).toEqual(['DRCTL_PLAN_CYCLE']);
  });

  it('refuses duplicate ids', async () => {
    const problems = await problemsOf({
      'plan.yaml': SHOP.replace('  - { id: bob,', '  - { id: bob, name: Bob Two }\n  - { id: bob,'),
    });
    expect(problems.map((p) => [p.code, p.location.line])).toEqual([['DRCTL_PLAN_DUPLICATE_ID', 6]]);
  });

  it('reports malformed YAML at its position', async () => {
    const problems = await problemsOf({ 'plan.yaml': 'version: 1\nsites:\n  east: { role: primary\n' });
    expect(problems[0]).toMatchObject({ code: 'DRCTL_PLAN_YAML', location: { file: 'plan.yaml', line: 4 } });
  });

  it('reports a missing include where it is included', async () => {
    const problems = await problemsOf({ 'plan.yaml': 'version: 1\ninclude:\n  - contacts.yaml\n' });
    expect(problems[0]).toMatchObject({
      code: 'DRCTL_PLAN_INCLUDE_MISSING',
      location: { file: 'plan.yaml', line: 3, column: 5 },
    });
  });

  it('reports an include loop with the files around it', async () => {
    const problems = await problemsOf({
      'plan.yaml': 'version: 1\ninclude: [a.yaml]\n',
      'a.yaml': 'include: [b.yaml]\n',
      'b.yaml': 'include: [a.yaml]\n',
    });
    expect(problems.map((p) => p.code)).toEqual(['DRCTL_PLAN_INCLUDE_LOOP']);
    expect(problems[0]!.message).toBe('include loop: a.yaml → b.yaml → a.yaml');
  });

  it('refuses an empty file or one holding only comments, saying how to start one', async () => {
    for (const text of ['', '# nothing yet\n']) {
      const problems = await problemsOf({ 'plan.yaml': text });
      expect(problems).toEqual([
        {
          code: 'DRCTL_PLAN_EMPTY',
          message: 'the plan file is empty: a plan needs at least version: 1 and one workload',
          hint: '`drctl init` makes a start',
          location: { file: 'plan.yaml', line: 1, column: 1 },
        },
      ]);
    }
  });

  it('refuses a plan without a version, but not an included file without one', async () => {
    const problems = await problemsOf({ 'plan.yaml': SHOP.replace('version: 1\n', '') });
    expect(problems.map((p) => [p.code, p.location.line, p.location.column])).toEqual([
      ['DRCTL_PLAN_VERSION_MISSING', 1, 1],
    ]);
    expect(problems[0]!.hint).toContain('drctl init');

    const contacts = SHOP.slice(SHOP.indexOf('contacts:'), SHOP.indexOf('activation:'));
    const dir = writeFiles({
      'plan.yaml': `${SHOP.replace(contacts, '')}include: [people.yaml]\n`,
      'people.yaml': contacts,
    });
    await expect(loadPlan(join(dir, 'plan.yaml'))).resolves.toMatchObject({ contacts: [{}, {}] });
  });

  it('refuses a plan with no workloads in it or in its includes, at the workloads key when there is one', async () => {
    const bare = await problemsOf({
      'plan.yaml': 'version: 1\ninclude: [sites.yaml]\n',
      'sites.yaml': 'sites: { east: { role: primary } }\n',
    });
    expect(bare).toEqual([
      {
        code: 'DRCTL_PLAN_NO_WORKLOADS',
        message: 'the plan defines no workloads, so there is nothing to recover',
        hint: 'add a workload under workloads: (here or in an included file); `drctl init` makes a start',
        location: { file: 'plan.yaml', line: 1, column: 1 },
      },
    ]);
    const listed = await problemsOf({ 'plan.yaml': 'version: 1\nsites: {}\nworkloads: []\n' });
    expect(listed.map((p) => [p.code, p.location.line, p.location.column])).toEqual([
      ['DRCTL_PLAN_NO_WORKLOADS', 3, 12],
    ]);
  });

  it('refuses a file with a second YAML document, pointing at its separator', async () => {
    const problems = await problemsOf({ 'plan.yaml': `${SHOP}--- # more\nworkloads: []\n` });
    expect(problems.map((p) => [p.code, p.location.line, p.location.column])).toEqual([
      ['DRCTL_PLAN_MULTIPLE_DOCUMENTS', SHOP.split('\n').length, 1],
    ]);
  });

  it('accepts a leading or trailing document separator and a `---` line inside a block scalar', async () => {
    const withNotes = SHOP.replace('name: Bob Park,', 'name: Bob Park, role: "on call",').replace(
      'owner: alice\n',
      'owner: alice\n    description: |\n      ---\n      see the wiki\n',
    );
    const dir = writeFiles({ 'plan.yaml': `---\n${withNotes}---\n` });
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    expect(plan.workloads[0]!.description).toBe('---\nsee the wiki\n');
  });

  it('refuses a 50 MB file without reading it', async () => {
    const problems = await problemsOf({ 'plan.yaml': Buffer.alloc(50 * 1024 * 1024, 0x20) });
    expect(problems[0]).toMatchObject({ code: 'DRCTL_PLAN_TOO_LARGE', location: { line: 1, column: 1 } });
  });

  it('stops a YAML alias bomb instead of expanding it', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9)
          .fill(`*${'abcdefghi'[i - 1]}`)
          .join(',')}]`,
      );
    const started = Date.now();
    const problems = await problemsOf({ 'plan.yaml': `${levels.join('\n')}\n` });
    expect(problems.map((p) => p.code)).toEqual(['DRCTL_PLAN_ALIAS_BOMB']);
    expect(Date.now() - started).toBeLessThan(10_000); // a hang would be the failure, not slowness
  });

  it('accepts a step that does two things only as an error naming both', async () => {
    const problems = await problemsOf({
      'plan.yaml': SHOP.replace(
        'run: echo promote',
        'run: echo promote\n            manual: press the button',
      ),
    });
    expect(problems[0]).toMatchObject({
      code: 'DRCTL_PLAN_STEP_KIND',
      message: 'step promote-db has run and manual; a step does exactly one thing',
    });
  });
});

describe('drctl validate', () => {
  it('prints each problem as file:line:column with a hint and exits 1, without a stack trace', async () => {
    const dir = writeFiles({ 'plan.yaml': SHOP.replace('strategy: hot-standby', 'strategy: hot-stanby') });
    const result = await runCli('validate', join(dir, 'plan.yaml'));
    expect(result.code).toBe(1);
    expect(result.stderr.replaceAll(`${dir}/`, '')).toMatchInlineSnapshot(`
      "plan.yaml:10:15: DRCTL_PLAN_VALUE workloads[0].strategy: "hot-stanby" is not allowed; use one of "backup-restore", "cold-standby", "warm-standby", "hot-standby", "active-active" (did you mean "hot-standby"?)
        hint: write hot-standby
      1 problem found
      "
    `);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 0 for a valid plan and 2 for a usage error', async () => {
    const dir = writeFiles({ 'plan.yaml': SHOP });
    expect((await runCli('validate', join(dir, 'plan.yaml'))).code).toBe(0);
    expect((await runCli('validate')).code).toBe(2);
    const missing = await runCli('validate', join(tempDir(), 'absent.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DRCTL_PLAN_NOT_FOUND');
  });

  it('prints problems as JSON with --json', async () => {
    const dir = writeFiles({ 'plan.yaml': SHOP.replace('owner: alice', 'owner: alicia') });
    const result = await runCli('validate', join(dir, 'plan.yaml'), '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      valid: false,
      problems: [{ code: 'DRCTL_PLAN_UNKNOWN_REF', line: 11 }],
    });
  });
});

describe('the published JSON Schema', () => {
  it('is the one the schema command prints (run `drctl schema --out schema/plan.schema.json` after changing the schema)', async () => {
    const committed = readFileSync(new URL('../../schema/plan.schema.json', import.meta.url), 'utf8');
    expect((await runCli('schema')).stdout).toBe(committed);
  });
});

describe('a plan with values out of range', () => {
  const lineOf = (text: string, needle: string): number =>
    text.split('\n').findIndex((line) => line.includes(needle)) + 1;
  const refused = async (edit: (plan: string) => string): Promise<Array<[string, number, string]>> =>
    (await problemsOf({ 'plan.yaml': edit(SHOP) })).map((p) => [p.code, p.location.line, p.message]);

  it('refuses durations longer than ten years, however many digits they have', async () => {
    const huge = `1${'0'.repeat(309)}s`;
    const plan = SHOP.replace('expected: 30s', `expected: ${huge}`).replace(
      'rto: 10m',
      'rto: 99999999999999999999w',
    );
    const problems = await problemsOf({ 'plan.yaml': plan });
    expect(problems.map((p) => [p.code, p.location.line, p.hint])).toEqual([
      ['DRCTL_PLAN_VALUE', lineOf(plan, 'rto:'), 'write at most 3650d'],
      ['DRCTL_PLAN_VALUE', lineOf(plan, 'expected: 1000'), 'write at most 3650d'],
    ]);
    expect(problems[1]!.message).toBe(
      'workloads[0].runbooks.failover.steps[1].expected: 10000000000000000000… is longer than ten years',
    );
  });

  it('refuses zero probe intervals and timeouts, zero backup intervals and unbounded retries', async () => {
    const plan = SHOP.replace('interval: 1s, timeout: 500ms', 'interval: 0s, timeout: 0ms')
      .replace('every: 1h', 'every: 0m')
      .replace(
        'contingency: 30s',
        'contingency: 30s\n            retries: { attempts: 1000000000, backoff: 0s }',
      );
    const problems = await problemsOf({ 'plan.yaml': plan });
    expect(problems.map((p) => [p.code, p.message])).toEqual([
      ['DRCTL_PLAN_VALUE', 'workloads[0].components[0].backups[0].every: 0m is zero'],
      ['DRCTL_PLAN_VALUE', 'workloads[0].components[1].probe.interval: 0s is zero'],
      ['DRCTL_PLAN_VALUE', 'workloads[0].components[1].probe.timeout: 0ms is zero'],
      ['DRCTL_PLAN_VALUE', 'workloads[0].runbooks.failover.steps[1].retries.attempts: more than 100'],
    ]);
  });

  it('refuses impossible dates and numbers that are not dates, instead of rolling them over', async () => {
    for (const [at, message] of [
      ['2026-02-31', '2026-02-31 is not a day of the calendar'],
      ['"1"', 'not a date'],
      ['2026-13-01', '2026-13-01 is not a day of the calendar'],
      ['12026-01-01', 'not a date'],
      ['1900-01-01', '1900-01-01 is out of range'],
    ] as const) {
      const plan = SHOP.replace('rto: 10m', `rto: 10m\n    signoff: { by: alice, at: ${at} }`);
      expect(await refused(() => plan)).toEqual([
        ['DRCTL_PLAN_VALUE', lineOf(plan, 'signoff'), `workloads[0].signoff.at: ${message}`],
      ]);
    }
    const plan = SHOP.replace('rto: 10m', 'rto: 10m\n    signoff: { by: alice, at: 2028-02-29T23:59:59Z }');
    expect(
      (await loadPlan(join(writeFiles({ 'plan.yaml': plan }), 'plan.yaml'))).workloads[0]!.signoff?.at,
    ).toEqual(new Date('2028-02-29T23:59:59Z'));
  });

  it('refuses ports outside 1-65535', async () => {
    expect(
      await refused((p) =>
        p
          .replace('interval: 1s,', 'tcp: "127.0.0.1:70000", interval: 1s,')
          .replace('url: "http://127.0.0.1:8081/health", ', ''),
      ),
    ).toEqual([
      ['DRCTL_PLAN_VALUE', 22, 'workloads[0].components[1].probe.tcp: the port is outside 1-65535'],
    ]);
  });

  it('refuses two primary sites, replication to the same site, a contact backing up themselves and a quorum no approvers can meet', async () => {
    const plan = SHOP.replace('west: { role: secondary }', 'west: { role: primary }')
      .replace('replication: { mode: sync }', 'replication: { mode: sync, from: east, to: east }')
      .replace('backup: alice }', 'backup: bob }')
      .replace('approval: { by: [alice, bob] }', 'approval: { by: [alice, bob], quorum: 3 }');
    expect(await refused(() => plan)).toEqual([
      ['DRCTL_PLAN_VALUE', 5, 'contacts[1].backup: a contact cannot be their own backup'],
      [
        'DRCTL_PLAN_VALUE',
        lineOf(plan, 'from: east'),
        'workloads[0].components[0].replication.to: replication from a site to itself',
      ],
      [
        'DRCTL_PLAN_VALUE',
        lineOf(plan, 'quorum: 3'),
        'workloads[0].runbooks.failover.steps[0].approval.quorum: the quorum is more than the approvers named in by',
      ],
    ]);
    expect(await refused(() => SHOP.replace('west: { role: secondary }', 'west: { role: primary }'))).toEqual(
      [['DRCTL_PLAN_SITE_ROLE', 2, 'site west is a second primary site (east is the first)']],
    );
  });

  it('reports a missing required choice as missing, not as "undefined is not allowed"', async () => {
    expect(await refused((p) => p.replace('    tier: 1\n', ''))).toEqual([
      ['DRCTL_PLAN_MISSING', 8, 'workloads[0].tier: is required'],
    ]);
  });

  it('refuses a __proto__ key where it is written instead of dropping what it holds', async () => {
    const plan = SHOP.replace(
      '      failover:\n',
      '      __proto__:\n        steps: [{ id: gone, run: "true" }]\n      failover:\n',
    );
    expect(await refused(() => plan)).toEqual([
      ['DRCTL_PLAN_RESERVED_KEY', lineOf(plan, '__proto__'), 'the key __proto__ cannot be used'],
    ]);
  });

  it('reports an unknown YAML tag and deep nesting at their position, without overflowing the stack', async () => {
    expect(await refused((p) => p.replace('rto: 10m', 'rto: !duration 10m'))).toEqual([
      ['DRCTL_PLAN_YAML', 12, 'unknown scalar tag !<!duration>'],
    ]);
    for (const levels of [150, 5_000]) {
      const deep = `version: 1\ndescription: ok\nworkloads: ${'['.repeat(levels)}${']'.repeat(levels)}\n`;
      expect(await refused(() => deep)).toEqual([
        ['DRCTL_PLAN_YAML', 3, 'mappings and lists are nested more than 100 levels deep'],
      ]);
    }
  });

  it('counts what aliases expand to in bytes: one long text repeated is refused', async () => {
    const text = 'x'.repeat(100_000);
    const plan = `version: 1\ndescription: &d "${text}"\nsites: { ${Array.from({ length: 200 }, (_, i) => `s${i}: { role: backup, description: *d }`).join(', ')} }\n`;
    expect((await refused(() => plan)).map(([code]) => code)).toEqual(['DRCTL_PLAN_ALIAS_BOMB']);
  });

  it('refuses control characters in a plan and never prints them to a terminal', async () => {
    const plan = SHOP.replace('run: echo promote', 'run: "echo \\e]0;owned\\a\\e[2J"').replace(
      'id: bob,',
      '"b\\eb": 1, id: bob,',
    );
    const dir = writeFiles({ 'plan.yaml': plan });
    const result = await runCli('validate', join(dir, 'plan.yaml'));
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(result.stderr).toContain(
      'DRCTL_PLAN_CONTROL_CHARACTER a control character (\\u001b) in the text here',
    );
    expect(result.stderr).toContain('unknown key "b\\u001bb"');
  });
});
