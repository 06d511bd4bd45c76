/** `drctl schema`: the plan's JSON Schema, for editors (committed as schema/plan.schema.json). */
import { writeFile } from 'node:fs/promises';
import type { RegisterCommand } from '../context.ts';

export async function planJsonSchemaText(): Promise<string> {
  const { planJsonSchema } = await import('../../plan/json-schema.ts');
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}

export const registerSchema: RegisterCommand = (program, context) => {
  program
    .command('schema')
    .description('print the JSON Schema of plan files, for editor completion and checking')
    .option('--out <file>', 'write it to a file instead of standard output')
    .action(async (options: { out?: string }) => {
      const text = await planJsonSchemaText();
      if (options.out) await writeFile(options.out, text);
      else context.out.write(text);
    });
};
