/** Runs the CLI in process and captures what a user would see. */
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  const code = await main(argv, { out: sink((t) => (stdout += t)), err: sink((t) => (stderr += t)) });
  return { code, stdout, stderr };
}
