/**
 * Communications for runs: the plan's templates rendered with the run's facts and sent through the
 * outbox, and the status page's incidents kept in step with the runs. What is sent when:
 *
 *   run-started     a failover, restore or failback run starts (a drill only with `announce: true`)
 *   activation      DR is declared: the activation gate is approved, or a failover starts without one
 *   update          every `updates_every` while a run or an incident is open
 *   step-failed     a step failed for good
 *   approval-waiting an approval or manual step waits past its limit: first to the step's escalate_to,
 *                   then that contact's backup, then their escalation list, one more each limit
 *   recovered / run-failed / run-ended   the run ended
 *
 * Recipients are the people of every workload the run affects through the dependency graph. A failover or
 * restore run opens an incident (identified) and moves it to monitoring when it succeeds.
 */
import { FailureStreak } from '../system/failure-streak.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { criticalPath } from '../analysis/graph.ts';
import type { EngineHooks } from '../engine/hooks.ts';
import { Redactor, planSecrets } from '../engine/redact.ts';
import { formatDuration } from '../plan/duration.ts';
import type { CommunicationTemplate, MessageEvent, Plan, Runbook } from '../plan/model.ts';
import { STATUS_PAGE_CHANNEL, type MessageField } from '../plan/schema.ts';
import {
  affectedFlows,
  affectedWorkloads,
  runbookComponents,
  siteRunComponents,
  workloadContacts,
} from '../status/impact.ts';
import { siteOfRun } from '../plan/site.ts';
import { IncidentBook, runIncidentId, type Incident } from '../status/incidents.ts';
import { RunWatcher, type RunFact, type WatchedRun } from '../status/run-events.ts';
import { communicationPromises } from '../status/promises.ts';
import type { WaitingFor } from '../engine/journal.ts';
import type { ReadinessFact } from '../providers/provider.ts';
import { hasCode } from '../errors.ts';
import type { RunStore } from '../store/store.ts';
import type { Message, Recipient } from './channels.ts';
import { Outbox } from './outbox.ts';
import { DEFAULTS, PROMISE_SUBJECT, STATUS_TEXT } from './default-texts.ts';
import { escalationChain, quietDrill, reachableRecipients } from './recipients.ts';
import { dataAsOfText, runSubject, type RunSubject } from './run-subject.ts';
import { renderTemplate } from './template.ts';

export interface CommunicationsOptions {
  store: RunStore;
  /** The plans runs may come from; a run is matched by its plan hash, else by its workload. */
  plans(): readonly Plan[];
  logger?: Logger;
  metrics?: Registry;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** How often the outbox, the cadence and the escalations are looked at. @default 250 */
  tickMs?: number;
}

/** Where each open readiness breach is kept: its start, so reminders and the resolution survive restarts. */
export const READINESS_BREACHES = 'readiness-breaches';

/** What readiness found, as paging reads it (a report of `checkReadiness`). */
export interface ReadinessSnapshot {
  facts: readonly ReadinessFact[];
  /** The newest preflight: a failing one on the current plan is a broken promise too. */
  preflight?: { ok: boolean; current: boolean; failed: number } | undefined;
}

interface Waiting {
  run: WatchedRun;
  step: string;
  for: WaitingFor;
  since: Date;
  level: number;
}

export class Communications {
  readonly incidents: IncidentBook;
  readonly outbox: Outbox;
  readonly #options: CommunicationsOptions;
  readonly #watcher: RunWatcher;
  readonly #waiting = new Map<string, Waiting>();
  readonly #now: () => Date;
  readonly #env: NodeJS.ProcessEnv;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  readonly #streak: FailureStreak;

  constructor(options: CommunicationsOptions) {
    this.#options = options;
    this.#streak = new FailureStreak(options.logger, { what: 'communications tick' });
    this.#now = options.now ?? (() => new Date());
    this.#env = options.env ?? process.env;
    this.incidents = new IncidentBook(options.store, { now: this.#now });
    this.outbox = new Outbox({
      store: options.store,
      env: this.#env,
      now: this.#now,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      channel: (message) => {
        for (const plan of options.plans()) {
          const channel = plan.communications.channels.find((c) => c.id === message.channel);
          if (channel) return { channel, cwd: plan.baseDir, secrets: this.#secrets(plan) };
        }
        return undefined;
      },
    });
    this.#watcher = new RunWatcher({
      store: options.store,
      since: this.#now(),
      onFact: (fact) => this.#onFact(fact),
    });
  }

  /** Hooks for runs this process drives: each moment is announced without waiting for the next tick. */
  get hooks(): EngineHooks {
    const wake = (e: { runId: string }): void =>
      void this.#watcher
        .poll(e.runId)
        .then(() => this.outbox.deliverDue())
        .catch((error: unknown) => this.#warn(error));
    return {
      onRunStart: wake,
      onStepWaiting: wake,
      onStepError: wake,
      onStepComplete: wake,
      onRunComplete: wake,
    };
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      // a tick held up by an unreachable store is not queued behind by more ticks, and failing ones back off
      if (this.#ticking !== undefined || this.#streak.pausing) return;
      this.tick().then(
        () => this.#streak.succeeded(),
        (error: unknown) => this.#warn(error),
      );
    }, this.#options.tickMs ?? 250);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    await this.outbox.idle();
  }

  /** One look at everything: new journal records, cadence, escalations, due deliveries. Ticks never overlap. */
  tick(): Promise<void> {
    this.#ticking ??= (async () => {
      try {
        await this.#watcher.poll();
        await this.#cadence();
        await this.#promiseDeadlines();
        await this.#escalations();
        // a channel that hangs must not hold up the cadence and the escalations of the next ticks
        void this.outbox.deliverDue().catch((error: unknown) => this.#warn(error));
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  /**
   * Queues one test message on a channel of the plan; `to` adds e-mail addresses to the channel's own.
   * The outbox delivers it (`outbox.deliverDue()`) and journals how it went.
   */
  async sendTest(plan: Plan, channelId: string, options: { to?: readonly string[] } = {}): Promise<Message> {
    // the plan's own `on: test` template for this channel, if it has one: the team sees its real format
    const template = plan.communications.templates.find((t) => t.on === 'test' && t.channel === channelId);
    const facts = { event: 'test', ...this.#facts(plan, undefined, {}) };
    const message = this.#message(plan, {
      id: `test:${channelId}:${this.#now().getTime()}`,
      event: 'test',
      channel: channelId,
      subject: renderTemplate(template?.subject ?? `drctl test message for ${plan.name}`, facts),
      body: template
        ? renderTemplate(template.body, facts)
        : `This is a test of channel ${channelId} of plan ${plan.name}. Nothing is wrong.`,
      recipients: [],
      extraAddresses: [...(options.to ?? []), ...(template?.to ?? [])],
    });
    await this.outbox.enqueue(message);
    return message;
  }

  #secrets(plan: Plan): Record<string, string> {
    try {
      return planSecrets(plan, this.#env);
    } catch {
      return {};
    }
  }

  #warn(error: unknown): void {
    this.#streak.failed(error);
  }

  #planFor(run: WatchedRun): RunSubject | undefined {
    return runSubject(this.#options.plans(), run);
  }

  /** A drill stays quiet unless its scenario says `announce: true`; custom runbooks are not announced. */
  #announced(run: WatchedRun, runbook: Runbook): boolean {
    if (quietDrill(run)) return false;
    return runbook.kind !== 'custom';
  }

  async #onFact(fact: RunFact): Promise<void> {
    const found = this.#planFor(fact.run);
    if (found === undefined) return;
    // a drill that is not announced speaks only on the plan's test channels, and opens no incident
    const quiet = quietDrill(fact.run) && found.runbook.kind !== 'custom';
    if (
      quiet
        ? !found.plan.communications.channels.some((c) => c.test)
        : !this.#announced(fact.run, found.runbook)
    )
      return;
    const { plan, workload, runbook } = found;
    const run = fact.run;
    const incidentKind = !quiet && (runbook.kind === 'failover' || runbook.kind === 'restore');
    const incidentId = incidentKind ? runIncidentId(run.id) : undefined;
    switch (fact.type) {
      case 'run-started': {
        if (incidentId !== undefined) {
          const { incident, created } = await this.incidents.open({
            id: incidentId,
            title: `${workload.name}: ${runbook.kind}${run.trigger?.drill ? ' drill' : ''} in progress`,
            components: runbookComponents(plan, workload.id, runbook.name),
            state: 'identified',
            body: this.#statusText(plan, 'run-started', run) ?? STATUS_TEXT.opened(workload, runbook),
            by: 'drctl',
            run: { id: run.id, workload: workload.id, runbook: runbook.name },
            at: fact.at,
          });
          if (created && affectedFlows(plan, incident.components).some((f) => f.state === 'degraded'))
            await this.#send(plan, run, 'degraded', `${run.id}:degraded`);
        }
        await this.#send(plan, run, 'run-started', `${run.id}:run-started`);
        if (runbook.kind === 'failover' && run.activationStep === undefined)
          await this.#send(plan, run, 'activation', `${run.id}:activation`);
        return;
      }
      case 'activation':
        await this.#send(plan, run, 'activation', `${run.id}:activation`);
        return;
      case 'child-recovered':
        if (incidentId !== undefined) await this.#childRecovered(plan, run, fact.child, incidentId);
        return;
      case 'step-waiting':
        this.#waiting.set(`${run.id}/${fact.step}`, {
          run,
          step: fact.step,
          for: fact.for,
          since: fact.at,
          level: 0,
        });
        return;
      case 'step-moved':
        this.#waiting.delete(`${run.id}/${fact.step}`);
        return;
      case 'step-failed': {
        const step = runbook.steps.find((s) => s.id === fact.step);
        const escalateTo = step?.escalateTo ?? step?.owner;
        await this.#send(plan, run, 'step-failed', `${run.id}:step-failed:${fact.step}`, {
          facts: {
            step: fact.step,
            step_name: step?.name ?? fact.step,
            error: `${fact.code}: ${fact.message}`,
            escalate_to: this.#name(plan, escalateTo),
          },
        });
        return;
      }
      case 'run-ended': {
        for (const key of [...this.#waiting.keys()])
          if (key.startsWith(`${run.id}/`)) this.#waiting.delete(key);
        const ok = fact.status === 'succeeded';
        if (incidentId !== undefined && (await this.incidents.get(incidentId))?.state !== 'resolved') {
          await this.incidents.update(incidentId, {
            body:
              this.#statusText(plan, ok ? 'recovered' : 'run-failed', run) ??
              (ok ? STATUS_TEXT.recovered(workload) : STATUS_TEXT.failed(workload)),
            by: 'drctl',
            ...(ok ? { state: 'monitoring' as const } : {}),
          });
        }
        await this.#send(
          plan,
          run,
          ok ? 'recovered' : 'run-failed',
          `${run.id}:${ok ? 'recovered' : 'run-failed'}`,
        );
        await this.#send(plan, run, 'run-ended', `${run.id}:run-ended`);
        return;
      }
    }
  }

  /**
   * A site run's workload is back: its incident says so and stops counting what only that workload's
   * runbook took away, so the status page shows its flows working again while the others recover.
   */
  async #childRecovered(plan: Plan, run: WatchedRun, child: string, incidentId: string): Promise<void> {
    const incident = await this.incidents.get(incidentId);
    const site = siteOfRun(run.workload);
    if (incident === undefined || incident.state === 'resolved' || site === undefined) return;
    const waiting = run.children.map((c) => c.workload).filter((id) => !run.recovered.includes(id));
    const name = plan.workloads.find((w) => w.id === child)?.name ?? child;
    const body =
      waiting.length === 0
        ? `${name} works again: every service of site ${site} is back.`
        : `${name} works again (${run.recovered.length} of ${run.children.length}). Still recovering: ${waiting.map((id) => plan.workloads.find((w) => w.id === id)?.name ?? id).join(', ')}.`;
    // another process (or this one after a restart) reading the same journal says it once
    if (incident.updates.some((update) => update.body === body)) return;
    await this.incidents.update(incidentId, {
      body,
      by: 'drctl',
      components: siteRunComponents(plan, site, waiting),
    });
  }

  /**
   * An update every `updates_every` while an announced run is open, or an incident opened by hand is
   * not yet resolved. A run's incident stops being updated when the run ends: its end was announced
   * (recovered, run-failed), and an update after that would say a finished recovery is in progress.
   */
  async #cadence(): Promise<void> {
    const now = this.#now();
    const incidents = (await this.incidents.list({ limit: 50 })).filter(
      (i) => i.kind === 'incident' && i.state !== 'resolved',
    );
    const covered = new Set(incidents.flatMap((i) => (i.run ? [i.run.id] : [])));
    for (const incident of incidents) {
      const run = incident.run && this.#watcher.openRuns().find((r) => r.id === incident.run!.id);
      if (incident.run !== undefined && run === undefined) continue;
      const plan = run ? this.#planFor(run)?.plan : this.#planForIncident(incident);
      if (plan === undefined) continue;
      const tick = Math.floor(
        (now.getTime() - new Date(incident.openedAt).getTime()) / plan.communications.updatesEveryMs,
      );
      if (tick < 1) continue;
      await this.#send(plan, run, 'update', `${incident.id}:update:${tick}`, { incident });
    }
    for (const run of this.#watcher.openRuns()) {
      if (covered.has(run.id)) continue;
      const found = this.#planFor(run);
      if (found === undefined || !this.#announced(run, found.runbook)) continue;
      const tick = Math.floor(
        (now.getTime() - run.createdAt.getTime()) / found.plan.communications.updatesEveryMs,
      );
      if (tick >= 1) await this.#send(found.plan, run, 'update', `${run.id}:update:${tick}`);
    }
  }

  /**
   * Pages the owner of each workload whose readiness promise is broken (a fact not ok, a failing
   * preflight): once when it breaks, a reminder every `updates_every` while it stays broken (only the
   * latest one after a pause), and once when the same fact holds again. Each open breach is a document
   * with its start, and every message id is made of the breach and that start, so neither a restart nor
   * a second instance sends anything twice.
   */
  async pageReadiness(plan: Plan, report: ReadinessSnapshot): Promise<void> {
    const now = this.#now();
    const everyMs = plan.communications.updatesEveryMs;
    const promises: { where: string; component: string | undefined; ok: boolean; reason: string }[] =
      report.facts.map((fact) => ({
        where: `${fact.component}/${fact.site ?? '-'}/${fact.name}`,
        component: fact.component,
        ok: fact.ok,
        reason: `${fact.component}${fact.site === undefined ? '' : ` at ${fact.site}`}: ${fact.message}`,
      }));
    if (report.preflight?.current === true)
      promises.push({
        where: 'preflight',
        component: undefined,
        ok: report.preflight.ok,
        reason: `the preflight of plan ${plan.name} fails ${report.preflight.failed} check(s): a step may no longer run`,
      });
    for (const workload of plan.workloads) {
      const mine = new Set(workload.components.map((c) => c.id));
      for (const promise of promises) {
        if (promise.component !== undefined && !mine.has(promise.component)) continue;
        const id = `${plan.name}/${workload.id}/${promise.where}`;
        let open = await this.#options.store.getDocument(READINESS_BREACHES, id);
        if (open === undefined && promise.ok) continue;
        if (open === undefined) {
          try {
            open = await this.#options.store.putDocument(
              READINESS_BREACHES,
              id,
              { since: now.toISOString(), reason: promise.reason },
              { expectVersion: 0 },
            );
          } catch (error) {
            // another instance opened it first: its start is the breach's
            if (!hasCode(error, 'DRCTL_STORE_CONFLICT')) throw error;
            open = await this.#options.store.getDocument(READINESS_BREACHES, id);
            if (open === undefined) continue;
          }
        }
        const since = String(open.data['since']);
        const brokenMs = now.getTime() - Date.parse(since);
        const send = (event: MessageEvent, key: string, waited: number): Promise<void> =>
          this.#send(plan, undefined, event, `readiness:${id}:${since}:${key}`, {
            recipients: [workload.owner],
            facts: {
              workload: workload.id,
              workload_name: workload.name,
              reason: promise.ok ? String(open.data['reason']) : promise.reason,
              waited: formatDuration(waited),
              console: plan.communications.consoleUrl.replace(/\/$/, ''),
            },
          });
        if (promise.ok) {
          await send('readiness-resolved', 'resolved', brokenMs);
          await this.#options.store.deleteDocument(READINESS_BREACHES, id);
          continue;
        }
        const reminder = Math.floor(brokenMs / everyMs);
        if (reminder === 0) await send('readiness-broken', 'broken', brokenMs);
        else await send('readiness-reminder', `reminder:${reminder}`, brokenMs);
      }
    }
  }

  /**
   * Seed 004's two deadlines per incident: the status page within `status_page_within` and the root
   * cause within `root_cause_within` of its opening. While one is pending its owner (the owner of the
   * run's workload, else of the workloads of its components) is reminded once two thirds of the time
   * have passed, and told once when it passed unkept. A resolved incident still owes its root cause.
   */
  async #promiseDeadlines(): Promise<void> {
    const now = this.#now();
    for (const incident of await this.incidents.list({ limit: 50 })) {
      if (incident.kind !== 'incident') continue;
      const plan = this.#planForIncident(incident);
      if (plan === undefined) continue;
      const owners = plan.workloads
        .filter((w) =>
          incident.run === undefined
            ? w.components.some((c) => incident.components.includes(c.id))
            : w.id === incident.run.workload,
        )
        .map((w) => w.owner);
      const opened = Date.parse(incident.openedAt);
      for (const promise of communicationPromises(incident, plan.communications, now)) {
        if (promise.promise === 'updates' || promise.observedMs !== undefined) continue;
        const elapsed = now.getTime() - opened;
        const event =
          promise.status === 'missed'
            ? 'promise-missed'
            : elapsed >= (promise.limitMs * 2) / 3
              ? 'promise-reminder'
              : undefined;
        if (event === undefined) continue;
        await this.#send(plan, undefined, event, `${incident.id}:${promise.promise}:${event}`, {
          recipients: owners,
          incident,
          facts: {
            promise: `${PROMISE_SUBJECT[promise.promise]} within ${formatDuration(promise.limitMs)}`,
            due: new Date(opened + promise.limitMs).toISOString(),
          },
        });
      }
    }
  }

  #planForIncident(incident: Incident): Plan | undefined {
    return this.#options
      .plans()
      .find((p) => p.workloads.some((w) => w.components.some((c) => incident.components.includes(c.id))));
  }

  /**
   * A step waiting for people past its limit (its timeout, else expected + contingency; the activation
   * gate: declare_within): the next person in its chain is told, one more each time the limit passes.
   */
  async #escalations(): Promise<void> {
    const now = this.#now().getTime();
    for (const waiting of this.#waiting.values()) {
      // a decision goes to the escalation contact when the step fails; it is not escalated again here
      if (waiting.for === 'decision') continue;
      const found = this.#planFor(waiting.run);
      if (found === undefined) continue;
      const { plan, workload, runbook } = found;
      const step = runbook.steps.find((s) => s.id === waiting.step);
      const snapshot = waiting.run.steps.find((s) => s.id === waiting.step);
      const isGate = waiting.step === waiting.run.activationStep;
      const limit =
        (isGate ? plan.activation?.declareWithinMs : undefined) ??
        step?.timeoutMs ??
        (snapshot ? snapshot.expectedMs + snapshot.contingencyMs : undefined) ??
        60_000;
      const chain = escalationChain(
        plan,
        step?.escalateTo ??
          step?.owner ??
          (isGate ? plan.activation?.approvers[0] : undefined) ??
          workload.owner,
      );
      const waited = now - waiting.since.getTime();
      const due = Math.min(chain.length, Math.floor(waited / Math.max(limit, 1)));
      while (waiting.level < due) {
        const contact = chain[waiting.level]!;
        waiting.level += 1;
        await this.#send(
          plan,
          waiting.run,
          'approval-waiting',
          `${waiting.run.id}:waiting:${waiting.step}:${waiting.since.getTime()}:${waiting.level}`,
          {
            recipients: [contact],
            facts: {
              step: waiting.step,
              step_name: step?.name ?? snapshot?.name ?? waiting.step,
              escalate_to: this.#name(plan, contact),
              waited: formatDuration(waited),
            },
          },
        );
      }
    }
  }

  /** The run's status as people read it: `waiting for approval (sign-off)` rather than `running`. */
  #statusOf(run: WatchedRun): string {
    if (run.status !== 'running' && run.status !== 'waiting') return run.status;
    const waits = [...this.#waiting.values()].filter((w) => w.run.id === run.id);
    if (waits.length === 0) return 'running';
    return waits.map((w) => `waiting for ${w.for} (${w.step})`).join(', ');
  }

  #name(plan: Plan, id: string | undefined): string {
    if (id === undefined) return 'the DR lead';
    return plan.contacts.find((c) => c.id === id)?.name ?? id;
  }

  #statusText(plan: Plan, on: MessageEvent, run: WatchedRun): string | undefined {
    const template = plan.communications.templates.find(
      (t) => t.on === on && t.channel === STATUS_PAGE_CHANNEL,
    );
    if (template === undefined) return undefined;
    const found = this.#planFor(run);
    return this.#redact(plan, renderTemplate(template.body, found ? this.#facts(plan, run, {}) : {}));
  }

  #redact(plan: Plan, text: string): string {
    const secrets = this.#secrets(plan);
    for (const channel of plan.communications.channels) {
      if (channel.passwordEnv && this.#env[channel.passwordEnv])
        secrets[channel.passwordEnv] = this.#env[channel.passwordEnv]!;
    }
    return new Redactor(secrets).text(text);
  }

  #facts(
    plan: Plan,
    run: WatchedRun | undefined,
    extra: Partial<Record<MessageField, string>>,
    incident?: Incident,
  ): Record<string, string> {
    const facts: Record<string, string> = {
      plan: plan.name,
      sent_at: this.#now().toISOString(),
      data_as_of: 'not known yet',
    };
    if (incident) {
      // an incident opened by hand has no run: its own facts fill the fields a run would
      const workloads = plan.workloads.filter((w) =>
        w.components.some((c) => incident.components.includes(c.id)),
      );
      Object.assign(facts, {
        incident: incident.title,
        workload: workloads.map((w) => w.id).join(', ') || plan.name,
        workload_name: workloads.map((w) => w.name).join(', ') || plan.name,
        runbook: 'none',
        run: 'none',
        status: incident.state,
        started_by: incident.updates[0]?.by ?? 'the team',
        flows:
          affectedFlows(plan, incident.components)
            .map((f) => `${f.flow} (${f.state.replace(/-/g, ' ')})`)
            .join(', ') || 'none',
        eta: 'unknown',
        console: plan.communications.consoleUrl.replace(/\/$/, ''),
      });
    }
    if (run) {
      const found = this.#planFor(run);
      const workload = found?.workload;
      const lost = found ? runbookComponents(plan, run.workload, run.runbook) : [];
      const remaining = (found?.runbook.steps ?? []).filter((s) => !run.finished.has(s.id));
      const ids = new Set(remaining.map((s) => s.id));
      const eta = criticalPath(remaining.map((s) => ({ ...s, needs: s.needs.filter((n) => ids.has(n)) }))).ms;
      Object.assign(facts, {
        workload: run.workload,
        workload_name: workload?.name ?? run.workload,
        runbook: run.runbook,
        run: run.id,
        status: this.#statusOf(run),
        started_by: run.startedBy,
        flows:
          affectedFlows(plan, lost)
            .map((f) => `${f.flow} (${f.state.replace(/-/g, ' ')})`)
            .join(', ') || 'none',
        eta: formatDuration(eta),
        console: `${plan.communications.consoleUrl.replace(/\/$/, '')}/runs/${run.id}`,
      });
      if (run.dataAsOf.size > 0) facts.data_as_of = dataAsOfText(run, found?.runbook);
      facts.incident ??= `${workload?.name ?? run.workload}: ${found?.runbook.kind ?? run.runbook}`;
    }
    return { ...facts, ...extra };
  }

  async #send(
    plan: Plan,
    run: WatchedRun | undefined,
    event: MessageEvent,
    key: string,
    options: {
      recipients?: string[];
      facts?: Partial<Record<MessageField, string>>;
      incident?: Incident;
    } = {},
  ): Promise<void> {
    const facts: Record<string, string> = {
      event,
      ...this.#facts(plan, run, options.facts ?? {}, options.incident),
    };
    const matching = plan.communications.templates.filter(
      (t) =>
        t.channel !== STATUS_PAGE_CHANNEL &&
        (t.on === event || (event === 'approval-waiting' && t.on === 'escalation')),
    );
    const fallback = DEFAULTS[event];
    const quiet = run !== undefined && quietDrill(run);
    const onTest = (channel: string): boolean =>
      plan.communications.channels.find((c) => c.id === channel)?.test === true;
    const templates: Array<Pick<CommunicationTemplate, 'id' | 'channel' | 'subject' | 'body' | 'to'>> = (
      matching.length > 0
        ? matching
        : fallback === undefined
          ? []
          : plan.communications.channels.map((c) => ({ id: 'default', channel: c.id, to: [], ...fallback }))
    ).filter((template) => !quiet || onTest(template.channel));
    if (templates.length === 0) return;
    const lost = run
      ? runbookComponents(plan, run.workload, run.runbook)
      : (options.incident?.components ?? []);
    const wanted =
      options.recipients ??
      affectedWorkloads(plan, lost, run?.workload).flatMap((id) => {
        const workload = plan.workloads.find((w) => w.id === id);
        return workload ? workloadContacts(workload) : [];
      });
    const { recipients, skipped } = reachableRecipients(plan, wanted, this.#now());
    facts.skipped ??= skipped.join(' ');
    // an announced drill is treated like the real thing, but nobody may mistake it for one
    const drill = run?.trigger?.drill;
    const subjectMark = drill ? '[DRILL] ' : '';
    const bodyMark = drill ? `This is a drill (scenario ${drill.scenario}), not a real incident. ` : '';
    for (const template of templates) {
      const message = this.#message(plan, {
        id: `${key}:${template.id}:${template.channel}`,
        event,
        channel: template.channel,
        subject:
          subjectMark +
          renderTemplate(
            template.subject ?? DEFAULTS[event]?.subject ?? '{{workload_name}}: {{event}}',
            facts,
          ),
        body: bodyMark + renderTemplate(template.body, facts),
        recipients: [...new Set(recipients)],
        extraAddresses: template.to,
        run,
        incident: options.incident?.id ?? (run ? runIncidentId(run.id) : undefined),
        link: facts.console,
        resolved: event === 'recovered' || event === 'readiness-resolved',
      });
      await this.outbox.enqueue(message);
    }
  }

  #message(
    plan: Plan,
    input: {
      id: string;
      event: string;
      channel: string;
      subject: string;
      body: string;
      recipients: string[];
      extraAddresses: string[];
      run?: WatchedRun | undefined;
      incident?: string | undefined;
      link?: string | undefined;
      resolved?: boolean;
    },
  ): Message {
    const people: Recipient[] = input.recipients.flatMap((id) => {
      const c = plan.contacts.find((contact) => contact.id === id);
      return c ? [{ id: c.id, name: c.name, email: c.email, phone: c.phone }] : [];
    });
    const channel = plan.communications.channels.find((c) => c.id === input.channel);
    const addresses = [
      ...people.flatMap((p) => (p.email ? [p.email] : [])),
      ...input.extraAddresses.filter((a) => a.includes('@')),
      ...(channel?.to ?? []),
    ];
    return {
      id: input.id,
      event: input.event,
      channel: input.channel,
      subject: this.#redact(plan, input.subject),
      body: this.#redact(plan, input.body),
      recipients: people,
      addresses: [...new Set(addresses)],
      workload: input.run?.workload,
      run: input.run?.id,
      incident: input.incident,
      link: input.link,
      resolved: input.resolved ?? false,
      createdAt: this.#now().toISOString(),
    };
  }
}
