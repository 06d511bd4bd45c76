/** `drctl schema`: the plan's JSON Schema, for editors (committed as schema/plan.schema.json). */
import { writeFile } from 'node:fs/promises';
import { planJsonSchema } from '../../plan/index.ts';
import type { RegisterCommand } from '../context.ts';

export function planJsonSchemaText(): string {
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}

export const registerSchema: RegisterCommand = (program, context) => {
  program
    .command('schema')
    .description('print the JSON Schema of plan files, for editor completion and checking')
    .option('--out <file>', 'write it to a file instead of standard output')
    .action(async (options: { out?: string }) => {
      if (options.out) await writeFile(options.out, planJsonSchemaText());
      else context.out.write(planJsonSchemaText());
    });
};
