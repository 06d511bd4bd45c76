/**
 * `drctl report audit PLAN --since DATE --out DIR`: the auditor pack of a period (HTML, PDF where Chromium
 * is present, the JSON evidence and journal exports, and a manifest of SHA-256 hashes);
 * `drctl report verify DIR` re-hashes a pack against its manifest (exit 1 when a file changed).
 */
import { resolve } from 'node:path';
import { printJson, type RegisterCommand } from '../context.ts';
import { parseDateOption, type StateOptions, stateFlag } from '../state-options.ts';

export const registerReport: RegisterCommand = (program, context) => {
  const report = program.command('report').description('reports for auditors');
  report
    .command('audit')
    .description('the auditor pack of a period: tests, evidence, approvals, findings, audit verify, manifest')
    .argument('<plan>', 'plan file (YAML)')
    .requiredOption('--since <date>', 'start of the period')
    .option('--until <date>', 'end of the period (default: now)')
    .requiredOption('--out <dir>', 'directory the pack is written to')
    .option('--no-pdf', 'skip the PDF even when Chromium is present')
    .option(...stateFlag())
    .option('--json', 'print the files written as JSON')
    .action(
      async (
        file: string,
        options: StateOptions & { since: string; until?: string; out: string; pdf: boolean },
      ) => {
        const since = parseDateOption('--since', options.since);
        const until = parseDateOption('--until', options.until);
        const [{ writeAuditPack }, { loadPlanForCommand }, { openState }] = await Promise.all([
          import('../../report/index.ts'),
          import('../load-plan.ts'),
          import('./run-state.ts'),
        ]);
        const plan = await loadPlanForCommand(file);
        const store = await openState(options);
        try {
          const pack = await writeAuditPack({
            plan,
            store,
            since,
            until,
            out: resolve(options.out),
            pdf: options.pdf,
          });
          if (options.json) printJson(context, pack);
          else
            context.out.write(
              `auditor pack of ${plan.name}: ${pack.html}${pack.pdf ? `\n  pdf ${pack.pdf}` : ''}\n  ${pack.files.length} files, hashes in ${resolve(options.out, 'manifest.json')}\n`,
            );
        } finally {
          await store.close();
        }
      },
    );
  report
    .command('verify')
    .description("re-hash an auditor pack's files against its manifest")
    .argument('<dir>', 'the pack directory')
    .action(async (dir: string) => {
      const { verifyAuditPack } = await import('../../report/index.ts');
      const result = await verifyAuditPack(dir);
      context.out.write(
        result.ok
          ? `${dir}: all ${result.files} files match the manifest\n`
          : `${dir}: ${result.problems.join('\n  ')}\n`,
      );
      context.exitCode = result.ok ? 0 : 1;
    });
};
