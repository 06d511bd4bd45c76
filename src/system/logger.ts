/** The loggers drctl builds: one that writes nothing, and one that redacts every line it writes. */
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

export interface RedactingLoggerOptions {
  level: string;
  /** Takes secrets out of a finished log line (the plans' redactor). */
  redact(line: string): string;
  /** Appended to, synchronously, its directory made first. */
  file?: string;
  /** Also told every redacted line (stderr with --debug, or for a server). */
  echo?(line: string): void;
}

/**
 * A logger every line of which is redacted before it is written anywhere: the one shape of logger for
 * commands (`<state>/logs/*.log`) and the server (stderr).
 */
export function redactingLogger(options: RedactingLoggerOptions): Logger {
  const loaded = require('pino') as { pino: typeof pino };
  const file =
    options.file === undefined
      ? undefined
      : loaded.pino.destination({ dest: options.file, sync: true, mkdir: true });
  return loaded.pino(
    { level: options.level },
    {
      write(line: string) {
        const clean = options.redact(line);
        file?.write(clean);
        options.echo?.(clean);
      },
    },
  );
}
