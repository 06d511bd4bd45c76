// A SQLite database whose rows point at files of a files component: both are backed up, but one file the
// rows point at was gone when the files were backed up. Restoring the pair reports it as dangling.
import Database from 'better-sqlite3';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.ts';
import { loadPlan } from '../plan/index.ts';
import { filesProvider } from '../providers/files/index.ts';
import { sqliteProvider } from '../providers/sqlite/index.ts';
import { testContext } from '../providers/testing.ts';
import { openStore } from '../store/index.ts';
import { findVerification, runVerification } from './index.ts';

describe('references between two stores after a restore', () => {
  it('reports the files a restored table points at that the restored files lack, with counts', async () => {
    const dir = tempDir('drctl-references-');
    writeFileSync(
      join(dir, 'plan.yaml'),
      `version: 1
sites: { east: { role: primary }, vault: { role: backup } }
contacts: [{ id: alice, name: Alice, role: DR lead, email: alice@example.com }]
workloads:
  - id: docs
    tier: 2
    strategy: backup-restore
    owner: alice
    components:
      - id: meta
        kind: sqlite
        references: [blobs]
        placement: { east: { path: meta.db } }
        backups: [{ every: 1h, to: vault, path: backups }]
      - id: blobs
        kind: files
        placement: { east: { path: blobs } }
        backups: [{ every: 1h, to: vault, path: backups }]
    verifications:
      - id: pair
        component: meta
        prove:
          references: [{ sql: "select path from attachments order by path", database: meta.db, files: blobs }]
`,
    );
    const plan = await loadPlan(join(dir, 'plan.yaml'));
    const db = new Database(join(dir, 'meta.db'));
    db.exec('create table attachments (id integer primary key, path text)');
    mkdirSync(join(dir, 'blobs', 'invoices'), { recursive: true });
    for (const n of [1, 2, 3, 4]) {
      db.prepare('insert into attachments (path) values (?)').run(`invoices/${n}.pdf`);
      writeFileSync(join(dir, 'blobs', 'invoices', `${n}.pdf`), `invoice ${n}`);
    }
    db.close();
    const stateDir = join(dir, 'state');
    const ctx = testContext(plan, stateDir);
    await sqliteProvider.actions.backup!.run(
      sqliteProvider.actions.backup!.params.parse({ component: 'meta' }),
      ctx,
    );
    // the file was gone by the time the files were backed up: the backup never holds it
    rmSync(join(dir, 'blobs', 'invoices', '3.pdf'));
    await filesProvider.actions.backup!.run(
      filesProvider.actions.backup!.params.parse({ component: 'blobs' }),
      ctx,
    );

    const store = await openStore(stateDir);
    try {
      const result = await runVerification(plan, findVerification(plan, 'docs', 'pair'), { store, stateDir });
      expect(result.passed).toBe(false);
      expect(result.proofs.find((proof) => proof.name === 'references meta → blobs')).toEqual({
        name: 'references meta → blobs',
        ok: false,
        message:
          '1 of 4 paths meta references are missing from the restored blobs (dangling): invoices/3.pdf',
      });
      expect(result.evidence['references blobs']).toEqual({
        component: 'meta',
        files: 'blobs',
        referenced: 4,
        dangling: 1,
        missing: ['invoices/3.pdf'],
      });
    } finally {
      await store.close();
    }
  });
});
