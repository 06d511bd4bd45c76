/**
 * The status page's model: user flows whose state comes from the plan's dependency graph, incidents and
 * scheduled maintenance in the store, and the page itself (HTML, JSON, Atom). Communications
 * (src/notify) and the server (src/server/routes/status.ts) build on it.
 */
export {
  FLOW_STATES,
  affectedFlows,
  affectedWorkloads,
  flowImpact,
  flowNeeds,
  runbookComponents,
  workloadContacts,
  worstFlowState,
} from './impact.ts';
export type { ComponentState, FlowImpact, FlowState } from './impact.ts';
export {
  INCIDENTS_COLLECTION,
  INCIDENT_STATES,
  IncidentBook,
  componentStates,
  runIncidentId,
} from './incidents.ts';
export type {
  Incident,
  IncidentState,
  IncidentUpdate,
  MaintenanceInput,
  OpenIncidentInput,
} from './incidents.ts';
export { buildStatus, buildPlansStatus, renderStatusAtom, renderStatusHtml } from './page.ts';
export type { StatusFlow, StatusIncident, StatusInput, StatusSnapshot } from './page.ts';
export { PROMISE_TEXT, communicationPromises } from './promises.ts';
export type { CommunicationPromise, PromiseStatus } from './promises.ts';
export { RunWatcher } from './run-events.ts';
export type { RunFact, WatchedRun } from './run-events.ts';
