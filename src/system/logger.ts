/** The logger for code that was given none. */
import { createRequire } from 'node:module';
import type { Logger, pino } from 'pino';

const require = createRequire(import.meta.url);

/**
 * A logger that writes nothing. pino (a few dozen CommonJS files) is loaded here, on the first call, so
 * that importing a module that may log costs a command nothing until it makes one.
 */
export function silentLogger(): Logger {
  const loaded = require('pino') as { pino: typeof pino };
  return loaded.pino({ level: 'silent' });
}
