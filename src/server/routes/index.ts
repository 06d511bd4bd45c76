/**
 * Every area of the HTTP surface, in one list. An area is one file exporting
 * `registerXxx(api, ctx)`, which declares its routes with `api.route` (API, in /openapi.json) or
 * `api.page` (console pages); add the file and one line here.
 */
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { registerConsole } from '../console/index.ts';
import { registerAlerts } from './alerts.ts';
import { registerAudit } from './audit.ts';
import { registerCompliance } from './compliance.ts';
import { registerDrills } from './drills.ts';
import { registerEvents } from './events.ts';
import { registerPlans } from './plans.ts';
import { registerReadiness } from './readiness.ts';
import { registerRuns } from './runs.ts';
import { registerSession } from './session.ts';
import { registerStatus } from './status.ts';
import { registerSystem } from './system.ts';
import { registerTokens } from './tokens.ts';

export type RegisterRoutes = (api: Api, ctx: ServerContext) => void;

export const routeAreas: RegisterRoutes[] = [
  registerSystem,
  registerSession,
  registerTokens,
  registerPlans,
  registerReadiness,
  registerRuns,
  registerAlerts,
  registerDrills,
  registerCompliance,
  registerAudit,
  registerEvents,
  registerConsole,
  registerStatus,
];
