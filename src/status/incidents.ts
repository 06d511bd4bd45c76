/**
 * Incidents and scheduled maintenance, kept in the store's documents (collection `incidents`) so that
 * every drctl process on the same state sees the same ones and the history survives restarts. An
 * incident names the components it takes away; the flows it affects come from the dependency graph
 * (impact.ts) whenever the page is built, so they follow the plan.
 */
import { randomBytes } from 'node:crypto';
import { DrctlError, hasCode } from '../errors.ts';
import type { RunStore, StoredDocument } from '../store/store.ts';
import type { ComponentState } from './impact.ts';

export const INCIDENTS_COLLECTION = 'incidents';

export const INCIDENT_STATES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
/**
 * investigating: something is wrong, the cause is being looked for;
 * identified: the cause is known and being fixed (a failover run is under way);
 * monitoring: fixed, being watched before it is closed;
 * resolved: over, kept as history.
 */
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface IncidentUpdate {
  at: string;
  state: IncidentState;
  body: string;
  by: string;
}

export interface Incident {
  id: string;
  kind: 'incident' | 'maintenance';
  title: string;
  state: IncidentState;
  /** Components taken away (or, for maintenance, worked on); the graph turns them into flows. */
  components: string[];
  /** How the components are while the incident is investigating or identified. */
  componentState: ComponentState;
  /** The run that opened it, when drctl opened it. */
  run: { id: string; workload: string; runbook: string } | undefined;
  openedAt: string;
  resolvedAt: string | undefined;
  /** Maintenance window. */
  startsAt: string | undefined;
  endsAt: string | undefined;
  updates: IncidentUpdate[];
}

export interface OpenIncidentInput {
  title: string;
  components: string[];
  body: string;
  by: string;
  /** @default 'investigating' */
  state?: Exclude<IncidentState, 'resolved'>;
  /** @default 'down' */
  componentState?: Exclude<ComponentState, 'maintenance'>;
  /** A stable id makes opening idempotent: a second open of the same id returns the first. */
  id?: string;
  run?: Incident['run'];
  at?: Date;
}

export interface MaintenanceInput {
  title: string;
  components: string[];
  body: string;
  by: string;
  startsAt: Date;
  endsAt: Date;
}

function fromDocument(doc: StoredDocument): Incident {
  return { ...(doc.data as unknown as Incident), id: doc.id };
}

/** Incidents of one state store. */
export class IncidentBook {
  readonly #store: RunStore;
  readonly #now: () => Date;

  constructor(store: RunStore, options: { now?: () => Date } = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
  }

  async get(id: string): Promise<Incident | undefined> {
    const doc = await this.#store.getDocument(INCIDENTS_COLLECTION, id);
    return doc && fromDocument(doc);
  }

  /** Newest first. */
  async list(options: { limit?: number } = {}): Promise<Incident[]> {
    const docs = await this.#store.listDocuments(INCIDENTS_COLLECTION, { limit: options.limit ?? 200 });
    return docs.map(fromDocument);
  }

  /** Opens an incident; with an id that exists already, returns that one unchanged (`created: false`). */
  async open(input: OpenIncidentInput): Promise<{ incident: Incident; created: boolean }> {
    const at = (input.at ?? this.#now()).toISOString();
    const state = input.state ?? 'investigating';
    const incident: Incident = {
      id: input.id ?? newIncidentId(input.at ?? this.#now()),
      kind: 'incident',
      title: input.title,
      state,
      components: input.components,
      componentState: input.componentState ?? 'down',
      run: input.run,
      openedAt: at,
      resolvedAt: undefined,
      startsAt: undefined,
      endsAt: undefined,
      updates: [{ at, state, body: input.body, by: input.by }],
    };
    try {
      await this.#put(incident, 0);
      return { incident, created: true };
    } catch (error) {
      if (!(error instanceof DrctlError) || error.code !== 'DRCTL_STORE_CONFLICT') throw error;
      const existing = await this.get(incident.id);
      if (existing === undefined) throw error;
      return { incident: existing, created: false };
    }
  }

  async scheduleMaintenance(input: MaintenanceInput): Promise<Incident> {
    if (input.endsAt <= input.startsAt)
      throw new DrctlError('DRCTL_STATUS_BAD_WINDOW', 'a maintenance window must end after it starts', {
        hint: 'give endsAt a later time than startsAt',
      });
    const at = this.#now().toISOString();
    const incident: Incident = {
      id: newIncidentId(this.#now(), 'mnt'),
      kind: 'maintenance',
      title: input.title,
      state: 'identified',
      components: input.components,
      componentState: 'maintenance',
      run: undefined,
      openedAt: at,
      resolvedAt: undefined,
      startsAt: input.startsAt.toISOString(),
      endsAt: input.endsAt.toISOString(),
      updates: [{ at, state: 'identified', body: input.body, by: input.by }],
    };
    await this.#put(incident, 0);
    return incident;
  }

  /**
   * Adds an update (and moves the state when given). A resolved incident takes no more updates but
   * stays in the history. Concurrent writers retry on the store's version check, so no update is lost.
   */
  async update(
    id: string,
    input: {
      body: string;
      by: string;
      state?: IncidentState;
      /** The components still taken away (a site run's workloads come back one by one). @default unchanged */
      components?: string[];
    },
  ): Promise<Incident> {
    for (let attempt = 0; ; attempt++) {
      const doc = await this.#store.getDocument(INCIDENTS_COLLECTION, id);
      if (doc === undefined)
        throw new DrctlError('DRCTL_INCIDENT_NOT_FOUND', `there is no incident ${id}`, {
          hint: 'list incidents with GET /api/v1/incidents',
        });
      const incident = fromDocument(doc);
      if (incident.state === 'resolved')
        throw new DrctlError('DRCTL_INCIDENT_RESOLVED', `incident ${id} is resolved already`, {
          hint: 'open a new incident for a new problem',
        });
      const at = this.#now().toISOString();
      const state = input.state ?? incident.state;
      const next: Incident = {
        ...incident,
        state,
        components: input.components ?? incident.components,
        resolvedAt: state === 'resolved' ? at : undefined,
        updates: [...incident.updates, { at, state, body: input.body, by: input.by }],
      };
      try {
        await this.#put(next, doc.version);
        return next;
      } catch (error) {
        if (attempt < 5 && hasCode(error, 'DRCTL_STORE_CONFLICT')) continue;
        throw error;
      }
    }
  }

  async resolve(id: string, input: { body: string; by: string }): Promise<Incident> {
    return this.update(id, { ...input, state: 'resolved' });
  }

  async #put(incident: Incident, expectVersion: number): Promise<void> {
    // JSON round trip: undefined fields are dropped, as the store would drop them
    const data = JSON.parse(JSON.stringify(incident)) as Record<string, unknown>;
    await this.#store.putDocument(INCIDENTS_COLLECTION, incident.id, data, { expectVersion });
  }
}

/** The incident a run opens: one per run, whichever process sees the run first. */
export function runIncidentId(runId: string): string {
  return `run-${runId}`;
}

function newIncidentId(at: Date, prefix = 'inc'): string {
  const stamp = at.toISOString().slice(0, 19).replace(/[-:T]/g, '');
  return `${prefix}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Components an incident takes away right now: open incidents until monitoring, maintenance in its window. */
export function componentStates(incidents: readonly Incident[], now: Date): Map<string, ComponentState> {
  const rank: Record<ComponentState, number> = { maintenance: 0, degraded: 1, down: 2 };
  const states = new Map<string, ComponentState>();
  const set = (id: string, state: ComponentState): void => {
    const current = states.get(id);
    if (current === undefined || rank[state] > rank[current]) states.set(id, state);
  };
  for (const incident of incidents) {
    if (incident.state === 'resolved') continue;
    if (incident.kind === 'maintenance') {
      const inWindow =
        incident.startsAt !== undefined &&
        incident.endsAt !== undefined &&
        new Date(incident.startsAt) <= now &&
        now < new Date(incident.endsAt);
      if (inWindow) for (const id of incident.components) set(id, 'maintenance');
      continue;
    }
    if (incident.state === 'monitoring') continue;
    for (const id of incident.components) set(id, incident.componentState);
  }
  return states;
}
