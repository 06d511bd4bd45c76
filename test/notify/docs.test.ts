// docs/communications.md and docs/status-page.md name everything a plan author or an operator can use.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHANNEL_TYPES, MESSAGE_EVENTS, MESSAGE_FIELDS, WEBHOOK_SHAPES } from '../../src/plan/schema.ts';
import { FLOW_STATES, INCIDENT_STATES } from '../../src/status/index.ts';

const read = (name: string): string => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('communications and status page docs', () => {
  const comms = read('communications.md');
  const status = read('status-page.md');

  it('lists every template field, event, channel type and webhook shape in docs/communications.md', () => {
    for (const field of Object.keys(MESSAGE_FIELDS))
      expect(comms, field).toMatch(new RegExp(`\\| \`${field}\` +\\|`));
    for (const event of MESSAGE_EVENTS) expect(comms, event).toMatch(new RegExp(`\\| \`${event}\` +\\|`));
    for (const type of CHANNEL_TYPES) expect(comms, type).toMatch(new RegExp(`\\| \`${type}\` +\\|`));
    for (const shape of WEBHOOK_SHAPES) expect(comms, shape).toContain(`\`${shape}\``);
    for (const metric of ['drctl_messages_total', 'drctl_channel_failing']) expect(comms).toContain(metric);
  });

  it('lists every flow state and incident state in docs/status-page.md', () => {
    for (const state of [...FLOW_STATES, ...INCIDENT_STATES])
      expect(status, state).toMatch(new RegExp(`\\| \`${state}\` +\\|`));
  });
});
