/**
 * Secret redaction. The values of the plan's secret environment variables (`secrets.env`, every `*_env`
 * and `${NAME}`), of its password files and KEY=value secrets file, and the passwords written inline in it
 * are replaced by `[redacted:NAME]`, and every URL's password by
 * `[redacted]`, in everything the engine writes: journal, evidence, logs, reports.
 */
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import type { Plan } from '../plan/model.ts';
import { inlineSecrets, secretReferences } from '../plan/secrets.ts';

export { Redactor } from '../plan/secrets.ts';

/** Parses a KEY=value secrets file: `#` comments and blank lines are ignored, values may be quoted. */
export function parseSecretsFile(text: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line
      .slice(0, eq)
      .replace(/^export\s+/, '')
      .trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0])
      value = value.slice(1, -1);
    secrets[key] = value;
  }
  return secrets;
}

/**
 * Every secret value the plan holds inline or names: from the environment (`secrets.env`, every `*_env`
 * and `${NAME}`), from password files and from its secrets file.
 */
export function planSecrets(plan: Plan, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const secrets: Record<string, string> = inlineSecrets(plan);
  const named = secretReferences(plan);
  for (const name of named.env) {
    const value = env[name];
    if (value !== undefined && value !== '') secrets[name] = value;
  }
  for (const written of named.files) {
    try {
      const value = readFileSync(planFile(plan, written), 'utf8').trim();
      if (value !== '') secrets[basename(written)] = value;
    } catch {
      // a password file that cannot be read holds nothing to hide here; the step that needs it says so
    }
  }
  if (plan.secrets.file !== undefined) {
    const file = planFile(plan, plan.secrets.file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError('DRCTL_RUN_SECRETS_FILE', `cannot read the plan's secrets file ${file}`, {
        hint: 'create it (KEY=value lines) or fix secrets.file in the plan',
        cause: error,
      });
    }
    Object.assign(secrets, parseSecretsFile(text));
  }
  return secrets;
}

function planFile(plan: Plan, file: string): string {
  return isAbsolute(file) ? file : resolve(plan.baseDir, file);
}

/** Caps a piece of evidence: what does not fit is cut, and the record says so. */
export function capEvidence(
  value: unknown,
  limitBytes: number,
): { value: unknown; truncated: boolean; bytes: number } {
  const json = JSON.stringify(value ?? null);
  const bytes = Buffer.byteLength(json);
  if (bytes <= limitBytes) return { value, truncated: false, bytes };
  const text = typeof value === 'string' ? value : json;
  return {
    value: `${text.slice(0, Math.max(0, limitBytes - 64))}… [${bytes} bytes, cut at ${limitBytes}]`,
    truncated: true,
    bytes,
  };
}
