/**
 * `drctl hosts check PLAN [--json]`: reach every host the plan names, in parallel, and say for each whether
 * it is reachable, logged in to, its key known, the tools its steps run present (with versions), and the
 * free disk where its placements keep data. Exit 1 when any host fails (docs/hosts.md).
 */
import { printJson, type RegisterCommand } from '../context.ts';

export const registerHosts: RegisterCommand = (program, context) => {
  const hosts = program.command('hosts').description('the machines of the plan drctl reaches over SSH');
  hosts
    .command('check')
    .description('reach every host in parallel: SSH, host key, tools with versions, free disk')
    .argument('<plan>', 'plan file (YAML)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const [{ loadPlanForCommand }, { checkHosts }, { closeExecutors }] = await Promise.all([
        import('../load-plan.ts'),
        import('../../hosts/check.ts'),
        import('../../exec/index.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      try {
        const report = await checkHosts(plan);
        context.exitCode = report.ok ? 0 : 1;
        if (options.json) {
          printJson(context, report);
          return;
        }
        const out = (line: string): void => void context.out.write(`${line}\n`);
        if (report.hosts.length === 0) out('the plan names no hosts: everything runs on this machine');
        for (const host of report.hosts) {
          out(
            `${host.ok ? 'ok  ' : 'FAIL'} ${host.host} (${host.site}, ${host.address}) in ${Math.round(host.durationMs)} ms`,
          );
          if (host.error !== undefined) out(`     ${host.error.code}: ${host.error.message}`);
          for (const tool of host.tools)
            out(
              `     ${tool.present ? `${tool.name}: ${tool.version ?? 'present'}` : `${tool.name}: MISSING`}`,
            );
          for (const disk of host.disk)
            out(`     ${disk.path}: ${(disk.freeBytes / 2 ** 30).toFixed(1)} GiB free`);
        }
      } finally {
        await closeExecutors();
      }
    });
};
