/**
 * `drctl render PLAN --format md|html|pdf`: the plan as a runbook document people can follow offline.
 * Without --out it writes `<plan-name>.runbook.<ext>` in the current directory and prints the path, so a
 * PDF never lands on a terminal by accident; `--out -` writes to stdout.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { RENDER_FORMATS, type RenderFormat } from '../../render/formats.ts';
import type { RenderOptions } from '../../render/index.ts';
import { printJson, type RegisterCommand } from '../context.ts';

interface RenderFlags {
  format: string;
  out?: string;
  runbook?: string;
  json?: boolean;
}

/** A file name from the plan name: letters, digits, dots, dashes and underscores only. */
export function defaultOutputName(planName: string, format: RenderFormat): string {
  const base = planName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'plan';
  return `${base}.runbook.${format}`;
}

export const registerRender: RegisterCommand = (program, context) => {
  program
    .command('render')
    .description('render the plan as a runbook document (Markdown, self-contained HTML, or PDF)')
    .argument('<plan>', 'plan file (YAML)')
    .option('-f, --format <format>', `document format: ${RENDER_FORMATS.join(', ')}`, 'html')
    .option(
      '-o, --out <file>',
      'output file, or - for stdout (default: <plan-name>.runbook.<ext> in the current directory)',
    )
    .option('--runbook <workload/name>', 'only this runbook, e.g. shop/failover')
    .option('--json', 'print what was written as JSON')
    .action(async (file: string, flags: RenderFlags) => {
      const format = flags.format as RenderFormat;
      if (!RENDER_FORMATS.includes(format)) {
        throw new UsageError('DRCTL_RENDER_FORMAT', `unknown format "${flags.format}"`, {
          hint: `use --format ${RENDER_FORMATS.join(', --format ')}`,
        });
      }
      const [{ loadPlanForCommand }, { renderHtml, renderMarkdown, renderPdf }] = await Promise.all([
        import('../load-plan.ts'),
        import('../../render/index.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      const options: RenderOptions = flags.runbook === undefined ? {} : { runbook: flags.runbook };
      const content: string | Uint8Array =
        format === 'md'
          ? renderMarkdown(plan, options)
          : format === 'html'
            ? renderHtml(plan, options)
            : await renderPdf(plan, options);
      const bytes = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;

      if (flags.out === '-') {
        context.out.write(content);
        return;
      }
      const target = resolve(flags.out ?? defaultOutputName(plan.name, format));
      try {
        await writeFile(target, content);
      } catch (error) {
        throw new UsageError(
          'DRCTL_RENDER_WRITE',
          `cannot write ${target}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          {
            hint: 'choose a writable path with --out, or --out - for stdout',
            cause: error,
          },
        );
      }
      if (flags.json)
        printJson(context, {
          file: target,
          format,
          bytes,
          plan: plan.name,
          hash: plan.hash,
          runbook: flags.runbook ?? null,
        });
      else context.out.write(`${target}\n`);
    });
};
