// To add a command: write commands/<name>.ts exporting `registerXxx: RegisterCommand` and list it below.
// Registration only declares arguments and options: import heavy modules (plan, engine, store, providers)
// inside the action with `await import(...)`, so that every other command starts without loading them.
/** Every command of the CLI, in the order `drctl --help` lists them. One line per command file. */
import type { RegisterCommand } from '../context.ts';
import { registerAnalyze } from './analyze.ts';
import { registerApprove } from './approve.ts';
import { registerAudit } from './audit.ts';
import { registerCancel } from './cancel.ts';
import { registerCompliance } from './compliance.ts';
import { registerConfirm } from './confirm.ts';
import { registerDemo } from './demo.ts';
import { registerDrill } from './drill.ts';
import { registerInit } from './init.ts';
import { registerMonitor } from './monitor.ts';
import { registerNotify } from './notify.ts';
import { registerPir } from './pir.ts';
import { registerReadiness } from './readiness.ts';
import { registerRender } from './render.ts';
import { registerReport } from './report.ts';
import { registerResume } from './resume.ts';
import { registerRouter } from './router.ts';
import { registerRun } from './run.ts';
import { registerSchema } from './schema.ts';
import { registerServe } from './serve.ts';
import { registerStatus } from './status.ts';
import { registerTabletop } from './tabletop.ts';
import { registerToken } from './token.ts';
import { registerValidate } from './validate.ts';
import { registerVerify } from './verify.ts';

export const commands: RegisterCommand[] = [
  registerInit,
  registerValidate,
  registerAnalyze,
  registerReadiness,
  registerRender,
  registerSchema,
  registerRun,
  registerStatus,
  registerApprove,
  registerConfirm,
  registerResume,
  registerCancel,
  registerAudit,
  registerRouter,
  registerMonitor,
  registerDrill,
  registerCompliance,
  registerTabletop,
  registerPir,
  registerReport,
  registerDemo,
  registerServe,
  registerToken,
  registerNotify,
  registerVerify,
];
