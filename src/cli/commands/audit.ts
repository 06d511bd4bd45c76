/** `drctl audit verify RUN` and `drctl audit export RUN`: prove a run's hash-chained journal intact, or write it as JSON Lines. */
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { printJson, type RegisterCommand } from '../context.ts';
import { withStateOptions, type StateOptions } from '../state-options.ts';

export const registerAudit: RegisterCommand = (program, context) => {
  const audit = program.command('audit').description("verify or export a run's audit log");
  withStateOptions(
    audit
      .command('verify')
      .description('check the hash chain; names the first bad record')
      .argument('<run>', 'run id'),
  ).action(async (runId: string, options: StateOptions) => {
    const [{ verifyRun }, { openState }] = await Promise.all([
      import('../../engine/audit.ts'),
      import('./run-state.ts'),
    ]);
    const store = await openState(options);
    try {
      const report = await verifyRun(store, runId);
      context.exitCode = report.ok ? 0 : 1;
      if (options.json) {
        printJson(context, report);
        return;
      }
      if (report.ok)
        context.out.write(
          `run ${runId}: audit log intact (${report.records} records, head ${report.headHash.slice(0, 16)})\n`,
        );
      else {
        const bad = report.problem;
        context.out.write(
          `run ${runId}: audit log BROKEN at record ${bad?.seq ?? '?'}${bad?.type ? ` (${bad.type}${bad.step ? ` of step ${bad.step}` : ''})` : ''}: ${bad?.reason ?? ''}\n`,
        );
      }
    } finally {
      await store.close();
    }
  });
  withStateOptions(
    audit
      .command('export')
      .description('write every record as JSON Lines')
      .argument('<run>', 'run id')
      .option('--out <file>', 'write to a file instead of stdout'),
  ).action(async (runId: string, options: StateOptions & { out?: string }) => {
    const [{ exportRun }, { openState }] = await Promise.all([
      import('../../engine/audit.ts'),
      import('./run-state.ts'),
    ]);
    const store = await openState(options);
    try {
      const sink = options.out ? createWriteStream(options.out) : context.out;
      for await (const line of exportRun(store, runId)) sink.write(`${line}\n`);
      if (options.out && 'end' in sink) {
        sink.end();
        await finished(sink);
      }
    } finally {
      await store.close();
    }
  });
};
