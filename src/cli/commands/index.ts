// To add a command: write commands/<name>.ts exporting `registerXxx: RegisterCommand` and list it below with
// the names it registers. Registration only declares arguments and options: import heavy modules (plan,
// engine, store, providers) inside the action with `await import(...)`.
import type { RegisterCommand } from '../context.ts';

export interface CommandEntry {
  /** The top-level command names the file registers. */
  names: string[];
  load: () => Promise<RegisterCommand>;
}

/** Every command of the CLI, in the order `drctl --help` lists them. One line per command file. */
export const commands: CommandEntry[] = [
  { names: ['init'], load: async () => (await import('./init.ts')).registerInit },
  { names: ['validate'], load: async () => (await import('./validate.ts')).registerValidate },
  { names: ['hosts'], load: async () => (await import('./hosts.ts')).registerHosts },
  { names: ['analyze'], load: async () => (await import('./analyze.ts')).registerAnalyze },
  { names: ['readiness'], load: async () => (await import('./readiness.ts')).registerReadiness },
  { names: ['render'], load: async () => (await import('./render.ts')).registerRender },
  { names: ['schema'], load: async () => (await import('./schema.ts')).registerSchema },
  { names: ['run'], load: async () => (await import('./run.ts')).registerRun },
  { names: ['status'], load: async () => (await import('./status.ts')).registerStatus },
  { names: ['approve', 'reject'], load: async () => (await import('./approve.ts')).registerApprove },
  { names: ['confirm'], load: async () => (await import('./confirm.ts')).registerConfirm },
  { names: ['resume'], load: async () => (await import('./resume.ts')).registerResume },
  { names: ['cancel'], load: async () => (await import('./cancel.ts')).registerCancel },
  { names: ['audit'], load: async () => (await import('./audit.ts')).registerAudit },
  { names: ['router'], load: async () => (await import('./router.ts')).registerRouter },
  { names: ['monitor'], load: async () => (await import('./monitor.ts')).registerMonitor },
  { names: ['drill'], load: async () => (await import('./drill.ts')).registerDrill },
  { names: ['compliance'], load: async () => (await import('./compliance.ts')).registerCompliance },
  { names: ['attest'], load: async () => (await import('./attest.ts')).registerAttest },
  { names: ['tabletop'], load: async () => (await import('./tabletop.ts')).registerTabletop },
  { names: ['pir'], load: async () => (await import('./pir.ts')).registerPir },
  { names: ['report'], load: async () => (await import('./report.ts')).registerReport },
  { names: ['demo'], load: async () => (await import('./demo.ts')).registerDemo },
  { names: ['serve'], load: async () => (await import('./serve.ts')).registerServe },
  { names: ['token'], load: async () => (await import('./token.ts')).registerToken },
  { names: ['notify'], load: async () => (await import('./notify.ts')).registerNotify },
  { names: ['preflight'], load: async () => (await import('./preflight.ts')).registerPreflight },
  { names: ['verify'], load: async () => (await import('./verify.ts')).registerVerify },
];

/**
 * The commands to register for `argv`: only the one it names, so that a command loads no other command's
 * file; every command for help, no command or a name drctl does not have, so that help and the "unknown
 * command" message list them all.
 */
export async function commandsFor(argv: string[]): Promise<RegisterCommand[]> {
  // --debug, the only program option, takes no value: the first operand is the command name
  const name = argv.find((arg) => !arg.startsWith('-'));
  const help = argv.includes('--help') || argv.includes('-h');
  const named = help || name === undefined ? undefined : commands.find((entry) => entry.names.includes(name));
  return Promise.all((named ? [named] : commands).map((entry) => entry.load()));
}
