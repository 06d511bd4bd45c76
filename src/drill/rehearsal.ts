/**
 * Rehearsal controls of a drill (docs/drills.md "Rehearsal controls"): run only part of the runbook
 * (`--steps a..b` or `a,b,c`), pause between the fault and the failover until someone continues it, and
 * notes from the people in the room. A running drill registers itself in the state store (collection
 * `drills`); people's input (continue, notes) is written to a collection of its own per drill, so the
 * drill (the only writer of its registration) and any number of people never write the same document.
 * The CLI, the API and the console all write there; the drill reads it every 100 ms while it waits.
 */
import { randomBytes } from 'node:crypto';
import { DrctlError, UsageError } from '../errors.ts';
import type { Runbook } from '../plan/model.ts';
import type { RunStore } from '../store/index.ts';
import { sleep } from './clock.ts';

/** Store collection of running and finished drills. */
export const DRILLS_COLLECTION = 'drills';
const inputCollection = (drill: string): string => `drill-input:${drill}`;

/** What a drill registers while it runs. */
export interface DrillRegistration {
  scenario: string;
  workload: string;
  /** running: faults and runbook under way · paused: waiting for someone to continue · finished */
  state: 'running' | 'paused' | 'finished';
  startedAt: string;
  /** Why it waits, while paused. */
  pausedFor?: string;
  pid: number;
}

export interface DrillNote {
  at: number;
  by: string;
  text: string;
}

export interface DrillPause {
  /** Epoch ms when the drill stopped to wait. */
  at: number;
  /** What people were to observe: "after the fault, before the failover". */
  reason: string;
  continuedAt: number | undefined;
  continuedBy: string | undefined;
}

/**
 * The steps of a runbook a rehearsal leaves out, with why: every step but those chosen. `spec` is a range
 * in runbook order (`fence-east..start-orders-west`, either end may be left out) or a comma-separated list.
 */
export function stepsNotChosen(runbook: Runbook, spec: string): Map<string, string> {
  const ids = runbook.steps.map((step) => step.id);
  const known = (id: string): string => {
    if (ids.includes(id)) return id;
    throw new UsageError('DRCTL_DRILL_UNKNOWN_STEP', `runbook ${runbook.name} has no step ${id}`, {
      hint: `steps of ${runbook.workload}/${runbook.name}, in order: ${ids.join(', ')}`,
    });
  };
  let chosen: Set<string>;
  if (spec.includes('..')) {
    const [from = '', to = ''] = spec.split('..', 2).map((part) => part.trim());
    const first = from === '' ? 0 : ids.indexOf(known(from));
    const last = to === '' ? ids.length - 1 : ids.indexOf(known(to));
    if (first > last)
      throw new UsageError(
        'DRCTL_DRILL_UNKNOWN_STEP',
        `step ${from} comes after step ${to} in ${runbook.name}`,
        {
          hint: `write the range in runbook order: ${ids.join(', ')}`,
        },
      );
    chosen = new Set(ids.slice(first, last + 1));
  } else {
    chosen = new Set(
      spec
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '')
        .map(known),
    );
  }
  if (chosen.size === 0)
    throw new UsageError('DRCTL_DRILL_UNKNOWN_STEP', '--steps chooses no step', {
      hint: `name steps of ${runbook.name}: a..b or a,b`,
    });
  return new Map(
    ids.filter((id) => !chosen.has(id)).map((id) => [id, `not part of this rehearsal (--steps ${spec})`]),
  );
}

/** Time people held a drill paused. */
export function rehearsalPausedMs(pauses: readonly DrillPause[]): number {
  return pauses.reduce((sum, p) => sum + ((p.continuedAt ?? Date.now()) - p.at), 0);
}

/** A new drill id: the scenario and a short random tail, readable in commands people type. */
export function newDrillId(scenario: string): string {
  return `${scenario}-${randomBytes(3).toString('hex')}`;
}

/** The drill's side: registration, pauses, and the notes people left. */
export class DrillControls {
  readonly id: string;
  readonly pauses: DrillPause[] = [];
  readonly #store: RunStore;
  readonly #registration: DrillRegistration;
  readonly #seen = new Set<string>();

  private constructor(store: RunStore, id: string, registration: DrillRegistration) {
    this.#store = store;
    this.id = id;
    this.#registration = registration;
  }

  static async open(
    store: RunStore,
    drill: { id: string; scenario: string; workload: string },
  ): Promise<DrillControls> {
    const registration: DrillRegistration = {
      scenario: drill.scenario,
      workload: drill.workload,
      state: 'running',
      startedAt: new Date().toISOString(),
      pid: process.pid,
    };
    const controls = new DrillControls(store, drill.id, registration);
    await controls.#save();
    return controls;
  }

  /** Waits until someone continues the drill (CLI, API, console), or the signal aborts. */
  async pause(reason: string, signal?: AbortSignal): Promise<DrillPause> {
    const pause: DrillPause = { at: Date.now(), reason, continuedAt: undefined, continuedBy: undefined };
    this.pauses.push(pause);
    await this.#save({ state: 'paused', pausedFor: reason });
    for (;;) {
      const input = await this.#input();
      const go = input.find((doc) => doc.id.startsWith('continue-') && !this.#seen.has(doc.id));
      if (go !== undefined) {
        this.#seen.add(go.id);
        pause.continuedAt = Date.now();
        pause.continuedBy = typeof go.data.by === 'string' ? go.data.by : 'unknown';
        break;
      }
      await sleep(100, signal);
      if (signal?.aborted === true) break;
    }
    await this.#save({ state: 'running' });
    return pause;
  }

  /** Notes people left so far, oldest first. */
  async notes(): Promise<DrillNote[]> {
    return (await this.#input())
      .filter((doc) => doc.id.startsWith('note-'))
      .map((doc) => ({
        at: typeof doc.data.at === 'number' ? doc.data.at : 0,
        by: String(doc.data.by ?? 'unknown'),
        text: String(doc.data.text ?? ''),
      }))
      .sort((a, b) => a.at - b.at);
  }

  async finish(): Promise<void> {
    await this.#save({ state: 'finished' });
  }

  async #input() {
    // continues made before this pause (a person pressing twice) are consumed once each
    const docs = await this.#store.listDocuments(inputCollection(this.id), { limit: 10_000 });
    for (const doc of docs)
      if (doc.id.startsWith('continue-') && this.#seenBefore(doc.data)) this.#seen.add(doc.id);
    return docs;
  }

  /** A continue written before the current pause began does not end it. */
  #seenBefore(data: Record<string, unknown>): boolean {
    const pause = this.pauses.at(-1);
    return pause === undefined || (typeof data.at === 'number' && data.at < pause.at);
  }

  async #save(change: Partial<DrillRegistration> = {}): Promise<void> {
    Object.assign(this.#registration, change);
    if (change.state !== 'paused') delete this.#registration.pausedFor;
    await this.#store.putDocument(DRILLS_COLLECTION, this.id, { ...this.#registration });
  }
}

/** A registered drill, or DRCTL_DRILL_NOT_FOUND. */
export async function findDrill(store: RunStore, id: string): Promise<DrillRegistration> {
  const doc = await store.getDocument(DRILLS_COLLECTION, id);
  if (doc === undefined)
    throw new DrctlError('DRCTL_DRILL_NOT_FOUND', `no drill ${id} in this state store`, {
      hint: 'the drill prints its id when it starts; list running drills with GET /api/v1/drills',
      exitCode: 2,
    });
  return doc.data as unknown as DrillRegistration;
}

/** Someone continues a paused drill. */
export async function continueDrill(store: RunStore, id: string, by: string): Promise<DrillRegistration> {
  const drill = await findDrill(store, id);
  if (drill.state !== 'paused')
    throw new DrctlError('DRCTL_DRILL_NOT_PAUSED', `drill ${id} is ${drill.state}, not paused`, {
      hint: 'a drill pauses only when started with --pause, between the fault and the failover',
      exitCode: 2,
    });
  await store.putDocument(inputCollection(id), `continue-${Date.now()}-${randomBytes(3).toString('hex')}`, {
    by,
    at: Date.now(),
  });
  return drill;
}

/** A note from the room, kept in the drill's report. */
export async function addDrillNote(
  store: RunStore,
  id: string,
  by: string,
  text: string,
): Promise<DrillNote> {
  const drill = await findDrill(store, id);
  if (drill.state === 'finished')
    throw new DrctlError('DRCTL_DRILL_FINISHED', `drill ${id} has finished; its report is written`, {
      hint: 'notes are taken while a drill runs or waits',
      exitCode: 2,
    });
  if (text.trim() === '')
    throw new UsageError('DRCTL_DRILL_NOTE_EMPTY', 'the note is empty', { hint: 'write what you saw' });
  const note = { at: Date.now(), by, text };
  await store.putDocument(inputCollection(id), `note-${note.at}-${randomBytes(3).toString('hex')}`, {
    ...note,
  });
  return note;
}
