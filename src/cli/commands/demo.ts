/**
 * `drctl demo`: the reference disaster, end to end, on this machine. It runs the two-site shop's
 * warm-standby drill (SQLite, snapshots shipped to west; needs nothing but Node), and the hot-standby drill
 * (PostgreSQL synchronous streaming) when the PostgreSQL server programs are installed. Ports are always
 * remapped to free ones, and every process it started is stopped before it returns. See docs/demo.md.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DrillOutcome } from '../../drill/index.ts';
import { DrctlError } from '../../errors.ts';
import { DEFAULT_STATE_DIR } from '../../store/state-dir.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import { printOutcome, withInterrupt } from './drill.ts';

/** The two-site shop ships with drctl; the demo finds it beside the sources. */
const EXAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples/two-site');

interface DemoOptions {
  state: string;
  keep?: boolean;
  json?: boolean;
  hot?: boolean;
}

export const registerDemo: RegisterCommand = (program, context) => {
  program
    .command('demo')
    .description(
      'run the reference disaster: two sites, a client writing every 10 ms, east killed, failover, RTO and RPO measured',
    )
    .option(
      '--state <dir>',
      'state directory (store, logs, reports)',
      process.env.DRCTL_STATE ?? join(DEFAULT_STATE_DIR, 'demo'),
    )
    .option('--keep', "leave the last drill's sites and front door running until Ctrl-C")
    .option('--no-hot', 'skip the hot-standby drill even when PostgreSQL is installed')
    .option('--json', 'print the reports as JSON')
    .action(async (options: DemoOptions) => {
      const say = (line: string): void => {
        if (!options.json) context.err.write(`${line}\n`);
      };
      const [{ pino }, { runDrill }, { findPgBinaries }, { loadPlanForCommand }] = await Promise.all([
        import('pino'),
        import('../../drill/index.ts'),
        import('../../pg/binaries.ts'),
        import('../load-plan.ts'),
      ]);
      const { stateDirectory } = await import('./run-state.ts');
      const stateDir = stateDirectory(options.state, 'demo');
      const drills: { name: string; file: string }[] = [
        { name: 'warm standby (SQLite, a snapshot shipped to west every second)', file: 'warm-standby.yaml' },
      ];
      let hotSkipped: string | undefined;
      if (options.hot !== false) {
        try {
          findPgBinaries();
          drills.push({
            name: 'hot standby (PostgreSQL, synchronous streaming replication)',
            file: 'plan.yaml',
          });
        } catch (error) {
          hotSkipped = error instanceof DrctlError ? error.message : String(error);
        }
      }
      const outcomes: DrillOutcome[] = [];
      for (const [index, drill] of drills.entries()) {
        const file = join(EXAMPLE_DIR, drill.file);
        if (!existsSync(file))
          throw new DrctlError('DRCTL_DEMO_MISSING', `the demo plan ${file} is missing`, {
            hint: 'run the demo from a complete drctl checkout or package',
            exitCode: 2,
          });
        say(`\n== ${drill.name}`);
        const plan = await loadPlanForCommand(file);
        const keepUp = options.keep === true && index === drills.length - 1;
        const outcome = await withInterrupt(context, (signal) =>
          runDrill({
            plan,
            scenario: 'east-killed',
            stateDir,
            remapPorts: true,
            keepUp,
            signal,
            log: pino({ level: context.debug ? 'debug' : 'silent' }, process.stderr),
            onProgress: say,
          }),
        );
        outcomes.push(outcome);
        if (!options.json) await printOutcome(context, outcome);
        if (outcome.environment !== undefined) {
          context.err.write(
            `the sites keep running; front door ${outcome.environment.url}. Ctrl-C stops everything.\n`,
          );
          await new Promise<void>((done) => {
            const stop = (): void => {
              process.off('SIGINT', stop);
              process.off('SIGTERM', stop);
              done();
            };
            process.on('SIGINT', stop);
            process.on('SIGTERM', stop);
          });
          await outcome.environment.close();
        }
      }
      if (hotSkipped !== undefined)
        say(`\nhot-standby drill skipped: PostgreSQL is not installed (${hotSkipped})`);
      if (options.json)
        printJson(
          context,
          outcomes.map((o) => ({ ...o.report, files: o.files })),
        );
      context.exitCode = outcomes.every((o) => o.report.passed) ? 0 : 1;
    });
};
