/**
 * The rehearsal side of `drctl drill`: the isolated test failover (`--isolated`, or a scenario with
 * `environment: isolated`), and the people in the room acting on a running drill —
 * `drctl drill continue ID` ends a pause, `drctl drill note ID TEXT` keeps a note in its report.
 */
import type { Command } from 'commander';
import type { IsolatedDrillOutcome } from '../../drill/isolated.ts';
import type { Plan } from '../../plan/model.ts';
import type { RunStore } from '../../store/store.ts';
import { printJson, type CommandContext } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

/** Whether `drctl drill` runs an isolated test failover: asked for, or the scenario is one. */
export function isolated(plan: Plan, options: { scenario: string; isolated?: boolean }): boolean {
  return (
    options.isolated === true ||
    plan.drills.scenarios.find((s) => s.id === options.scenario)?.environment === 'isolated'
  );
}

export async function runIsolatedCommand(
  context: CommandContext,
  options: {
    plan: Plan;
    stateDir: string;
    scenario: string;
    steps?: string;
    pause?: boolean;
    json?: boolean;
  },
  withInterrupt: <T>(context: CommandContext, work: (signal: AbortSignal) => Promise<T>) => Promise<T>,
): Promise<void> {
  const [{ pino }, { runIsolatedDrill }] = await Promise.all([
    import('pino'),
    import('../../drill/isolated.ts'),
  ]);
  const progress = (line: string): void => void context.err.write(`${line}\n`);
  const outcome = await withInterrupt(context, (signal) =>
    runIsolatedDrill({
      plan: options.plan,
      scenario: options.scenario,
      stateDir: options.stateDir,
      ...(options.steps === undefined ? {} : { steps: options.steps }),
      pause: options.pause === true,
      signal,
      log: pino({ level: context.debug ? 'debug' : 'silent' }, process.stderr),
      onStart: (id) => progress(`drill ${id}; notes: drctl drill note ${id} "…"`),
      ...(options.json === true ? {} : { onProgress: progress }),
    }),
  );
  if (options.json === true) printJson(context, { ...outcome.report, files: outcome.files });
  else await printIsolated(context, outcome);
  context.exitCode = outcome.report.passed ? 0 : 1;
}

async function printIsolated(context: CommandContext, outcome: IsolatedDrillOutcome): Promise<void> {
  const { formatMs } = await import('../../drill/report.ts');
  const { report } = outcome;
  const m = report.measured;
  const out = (line: string): void => void context.out.write(`${line}\n`);
  out(
    `test failover ${report.scenario.id} of ${report.workload.id} into a copy of ${report.site}: ${report.passed ? 'PASSED' : 'FAILED'}`,
  );
  out(
    `  RTO (copy)      ${m.rtoMs === undefined ? 'not measured' : formatMs(m.rtoMs)}   objective ${formatMs(report.targets.rtoMs)}`,
  );
  out(
    `  data as of      ${m.dataAsOf ?? 'unknown'}${m.dataAgeMs === undefined ? '' : ` (${formatMs(m.dataAgeMs)} old; RPO objective ${formatMs(report.targets.rpoMs)})`}`,
  );
  out(
    `  production      ${report.production.unchanged ? 'unchanged (rows, replication, routing)' : `CHANGED: ${report.production.differences.join('; ')}`}`,
  );
  for (const copy of report.copies) out(`  copied          ${copy.component}: ${copy.from}`);
  for (const skip of report.skipped)
    out(
      `  left out        ${skip.step}${skip.check === undefined ? '' : ` (${skip.check})`}: ${skip.reason}`,
    );
  for (const check of report.checks) out(`  ${check.ok ? '✔' : '✖'} ${check.name}: ${check.detail}`);
  for (const pause of report.pauses)
    out(`  paused          ${pause.reason}: ${formatMs((pause.continuedAt ?? pause.at) - pause.at)}`);
  for (const note of report.notes) out(`  note            ${note.by}: ${note.text}`);
  for (const line of report.removed) out(`  removed         ${line}`);
  out(`  left behind     ${report.leftovers.length === 0 ? 'nothing' : report.leftovers.join('; ')}`);
  for (const finding of report.findings) out(`  ${finding.severity} ${finding.code}: ${finding.message}`);
  out(`  report          ${outcome.files.html}`);
}

/** `drctl drill continue ID` and `drctl drill note ID TEXT`. */
export function registerRehearsal(drill: Command, context: CommandContext): void {
  withStateOptions(
    drill
      .command('continue')
      .description('continue a drill that paused (--pause) between the fault and the failover')
      .argument('<drill>', 'drill id (the drill prints it when it starts)'),
  ).action(async (id: string, own: StateOptions, command: Command) => {
    const options = withDrillOptions(own, command);
    const by = actor(options.as);
    await withDrillStore(options, async (store) => {
      const { continueDrill } = await import('../../drill/rehearsal.ts');
      const drill = await continueDrill(store, id, by);
      if (options.json) printJson(context, { drill: id, continuedBy: by, scenario: drill.scenario });
      else context.out.write(`${by} continued drill ${id} (${drill.scenario})\n`);
    });
  });
  withStateOptions(
    drill
      .command('note')
      .description("keep a note from the room in a running drill's report")
      .argument('<drill>', 'drill id')
      .argument('<text...>', 'the note'),
  ).action(async (id: string, words: string[], own: StateOptions, command: Command) => {
    const options = withDrillOptions(own, command);
    const by = actor(options.as);
    await withDrillStore(options, async (store) => {
      const { addDrillNote } = await import('../../drill/rehearsal.ts');
      const note = await addDrillNote(store, id, by, words.join(' '));
      if (options.json) printJson(context, { drill: id, ...note });
      else context.out.write(`note kept in drill ${id} by ${by}\n`);
    });
  });
}

/**
 * `drctl drill` has its own --state and --json, and commander gives them to it wherever they are written,
 * also after `continue` or `note`: those written there count as this subcommand's.
 */
function withDrillOptions(options: StateOptions, command: Command): StateOptions {
  const drill = command.parent;
  if (drill === null) return options;
  const given = (name: 'state' | 'json'): boolean => drill.getOptionValueSource(name) === 'cli';
  return {
    ...options,
    ...(given('state') ? { state: String(drill.opts().state) } : {}),
    ...(given('json') ? { json: true } : {}),
  };
}

async function withDrillStore(
  options: StateOptions,
  work: (store: RunStore) => Promise<void>,
): Promise<void> {
  const { openState } = await import('./run-state.ts');
  const store = await openState(options);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
