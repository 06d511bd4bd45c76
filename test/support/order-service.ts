/** Starts the two-site shop's order service as a real child process for tests; every one is stopped afterwards. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ORDER_SERVICE = fileURLToPath(
  new URL('../../examples/two-site/app/order-service.mjs', import.meta.url),
);

export interface OrderServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
let cleanupRegistered = false;

/** Runs the service with `env` (PORT defaults to 0) and resolves once it logged that it listens. */
export async function startOrderService(env: Record<string, string>): Promise<OrderServiceProcess> {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    afterAll(() => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, [ORDER_SERVICE], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`order service did not start in 10 s: ${stderr}`)),
      10_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (!line.includes('"listening"')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`order service exited before listening: ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
