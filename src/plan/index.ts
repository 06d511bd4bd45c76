/**
 * Plan as code: load YAML plan files (with includes), validate them against the schema, and compile
 * them into the model that analysis, rendering and the engine read.
 */
export { loadPlan, type LoadPlanOptions } from './load.ts';
export { planJsonSchema } from './json-schema.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { findCycle } from './cycle.ts';
export { Redactor, inlineCredentials, inlineSecrets, redactCredentials } from './secrets.ts';
export type { InlineCredential } from './secrets.ts';
export { TIER_DEFAULTS, DRILL_SCHEDULE_DEFAULTS, RETENTION_DEFAULTS, CADENCE_DEFAULTS } from './defaults.ts';
export type * from './model.ts';
export { expandEnv, findComponent, findPlacement, findRunbook, findWorkload } from './lookup.ts';
