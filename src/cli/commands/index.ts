/** Every command of the CLI, in the order `drctl --help` lists them. One line per command file. */
import type { RegisterCommand } from '../context.ts';
import { registerAnalyze } from './analyze.ts';
import { registerSchema } from './schema.ts';
import { registerValidate } from './validate.ts';

export const commands: RegisterCommand[] = [registerValidate, registerAnalyze, registerSchema];
