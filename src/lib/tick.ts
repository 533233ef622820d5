import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { ConnectClient } from './connect/client';
import { type ClusterSnapshot, readCluster } from './connect/read';
import { type Delivery, type DeliveryReport, combine } from './logs/delivery';
import type { ClusterHealing, Healer } from './heal/healer';
import { DEFAULT_SICK_WORKER, type SickWorkerPolicy, sickWorkers } from './heal/workers';
import { FULL_ROWS, type HealingRow, type RowMemory, type StatusRow, type TickStamp, healingRows, monitorRows, statusRows } from './logs/rows';
import { HEALING_TABLE, STATUS_TABLE } from './logs/schema';

export interface TickDeps {
  readonly clients: readonly ConnectClient[];
  /** Absent for a read-only look (`kc-monitor status`). */
  readonly delivery?: Delivery;
  /** Absent for a read-only look; AUTO_HEAL=off still has one, which decides nothing. */
  readonly healer?: Healer;
  readonly now?: () => Date;
  readonly newCorrelationId?: () => string;
  /** Traces are cut to this many bytes: enough for the head and the root cause, cheap to ingest. */
  readonly maxTraceBytes?: number;
  /** The tick's budget (MONITOR_DEADLINE_SECONDS): it never runs longer. */
  readonly budgetMs?: number;
  /** A worker's memory of what it shipped, for lean rows between the hourly detail ticks; absent ships all. */
  readonly rowMemory?: RowMemory;
  /** Told what the tick is doing, for a terminal's progress line. */
  readonly onProgress?: (progress: TickProgress) => void;
  /** When several failures on one worker make it a sick worker (SICK_WORKER_*). */
  readonly sickWorker?: SickWorkerPolicy;
}

/** What a tick is doing, per cluster, as it goes. */
export type TickProgress =
  | { readonly step: 'reading'; readonly cluster: string }
  | { readonly step: 'read'; readonly cluster: string; readonly connectors: number; readonly failure?: string }
  | { readonly step: 'healing'; readonly cluster: string }
  | { readonly step: 'healed'; readonly cluster: string; readonly restarts: number }
  | { readonly step: 'shipping'; readonly rows: number };

export interface TickResult {
  readonly stamp: TickStamp;
  readonly snapshots: readonly ClusterSnapshot[];
  readonly healings: readonly ClusterHealing[];
  readonly rows: readonly StatusRow[];
  readonly healingRows: readonly HealingRow[];
  /** The monitor's own rows: spooled, replayed or dropped rows, a deadline reached. */
  readonly monitorRows: readonly StatusRow[];
  /** What was shipped (one result per stream and upload), replayed, spooled and dropped. */
  readonly delivery: DeliveryReport;
  readonly deadlineReached: boolean;
  readonly durationMs: number;
  readonly requests: number;
}

export const DEFAULT_MAX_TRACE_BYTES = 32 * 1024;
export const DEFAULT_BUDGET_MS = 240_000;
/** Connect work stops this long before the budget ends: time to ship what was read. */
const CONNECT_RESERVE_MS = 60_000;
/** No upload starts this long before the budget ends: time to finish those in flight and spool the rest. */
const SPOOL_RESERVE_MS = 15_000;
/** Uploads still in flight are cut this long before the budget ends: time to spool them. */
const CUT_RESERVE_MS = 5_000;
/** The monitor's own rows, shipped last, are cut this long before the end: time to spool them too. */
const OWN_CUT_RESERVE_MS = 2_500;

const NOTHING: DeliveryReport = { shipped: [], replayed: 0, spooled: 0, spooledBecause: [], mayRepeat: [], dropped: [], problems: [] };

/**
 * One monitor tick: read every cluster at once (one's failure never stops the others), heal what the
 * policy says is due, turn what was seen and done into rows sharing one TimeGenerated (the cluster, monitor
 * and healing rows also carry the tick's correlation id),
 * replay what earlier ticks could not ship, and ship. An AbortSignal carries the budget through every call:
 * Connect work stops early enough to leave time to ship or spool, and what was not done is recorded.
 */
export async function runTick(deps: TickDeps): Promise<TickResult> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const startedMs = performance.now();
  const stamp: TickStamp = { timeGenerated: started.toISOString(), correlationId: (deps.newCorrelationId ?? randomUUID)() };
  const requestsBefore = deps.clients.reduce((n, c) => n + c.requests, 0);
  // One budget, cut in stages so that each leaves time to the next: Connect work stops first, the history
  // saves next, then no upload starts, then uploads in flight are cut, and the last seconds spool.
  const budgetMs = deps.budgetMs ?? DEFAULT_BUDGET_MS;
  const spoolDeadline = AbortSignal.timeout(budgetMs);
  const ownCutDeadline = AbortSignal.timeout(Math.max(budgetMs - OWN_CUT_RESERVE_MS, Math.floor(budgetMs * 0.95)));
  const cutDeadline = AbortSignal.timeout(Math.max(budgetMs - CUT_RESERVE_MS, Math.floor(budgetMs * 0.9)));
  const shipMs = Math.max(budgetMs - SPOOL_RESERVE_MS, Math.floor(budgetMs * 0.8));
  const shipDeadline = AbortSignal.timeout(shipMs);
  const connectMs = Math.max(budgetMs - CONNECT_RESERVE_MS, Math.floor(budgetMs / 2));
  const connectDeadline = AbortSignal.timeout(connectMs);
  // The history saves around the restarts: past the Connect deadline (a restart it cut off must still be
  // written down), but well before the upload deadline, so that a storage write that never answers cannot
  // keep the healing rows from shipping.
  const historyDeadline = AbortSignal.timeout(Math.floor((connectMs + shipMs) / 2));
  // Every call in flight listens to these: hundreds at once is by design, not a leak.
  setMaxListeners(0, spoolDeadline, ownCutDeadline, cutDeadline, shipDeadline, historyDeadline, connectDeadline);
  // Uploads start until shipDeadline and may finish until cutDeadline (an upload cut in flight may have
  // arrived: letting it finish keeps rows from arriving twice); spool writes may run until the end.
  const shipping = { start: shipDeadline, cut: cutDeadline, spool: spoolDeadline };

  const maxTraceBytes = deps.maxTraceBytes ?? DEFAULT_MAX_TRACE_BYTES;
  // Each cluster is healed as soon as it is read (a slow cluster holds up no other's restarts), and the status
  // rows go out as soon as every cluster is read, while the restarts are still running.
  const progress = deps.onProgress ?? (() => undefined);
  // The plan first: only its detail tick needs every connector's config (`expand=info`).
  const memoryPlan = deps.rowMemory?.plan(started);
  const plan = memoryPlan ?? FULL_ROWS;
  const reads = deps.clients.map((client) => readWithProgress(client, { maxTraceBytes, signal: connectDeadline, withInfo: plan.detail, now: started }, progress));
  const heals = deps.clients.map(async (client, i): Promise<ClusterHealing> => {
    const snapshot = await reads[i]!;
    if (!deps.healer) return { cluster: snapshot.cluster, outcomes: [], restartCalls: 0 };
    if (!snapshot.error) progress({ step: 'healing', cluster: snapshot.cluster });
    const healing = await deps.healer.heal(client, snapshot, started, connectDeadline, historyDeadline);
    progress({ step: 'healed', cluster: snapshot.cluster, restarts: healing.outcomes.filter((o) => o.action === 'restart').length });
    return healing;
  });
  const snapshots = await Promise.all(reads);
  const delivery = deps.delivery;
  const rows = snapshots.flatMap((s) => statusRows(stamp, s, plan, sickWorkers(s.connectors, deps.sickWorker ?? DEFAULT_SICK_WORKER)));
  if (!delivery && memoryPlan) deps.rowMemory?.commit(memoryPlan);

  // What earlier ticks could not ship goes beside this tick's rows, oldest first, starting uploads for a
  // quarter of the budget at most: after a long outage, the catch-up must not starve the rows that say how
  // things are now. Its uploads in flight share the tick's cut: cutting them sooner would send them twice.
  const replayDeadline = { start: AbortSignal.any([shipDeadline, AbortSignal.timeout(Math.floor(budgetMs / 4))]), cut: cutDeadline, spool: spoolDeadline };
  const replaying = delivery ? delivery.replay(started, replayDeadline) : Promise.resolve(NOTHING);
  if (delivery) progress({ step: 'shipping', rows: rows.length });
  const shippingStatus = delivery ? delivery.deliver([{ stream: STATUS_TABLE.stream, rows }], shipping) : Promise.resolve(NOTHING);
  const healings = await Promise.all(heals);
  const healed = healings.flatMap((h) => healingRows(stamp, h, plan));
  const status = await shippingStatus;
  const replay = await replaying;
  // The plan's memory (traces sent, the hourly detail) holds only if the rows went out or were kept.
  if (status.dropped.length === 0 && memoryPlan) deps.rowMemory?.commit(memoryPlan);
  const healingReport = delivery ? await delivery.deliver([{ stream: HEALING_TABLE.stream, rows: healed }], shipping) : NOTHING;
  // The same for the decisions shipped: one lost would otherwise not be said again until the hourly detail.
  if (healingReport.dropped.length === 0 && memoryPlan) deps.rowMemory?.commitDecisions(memoryPlan);
  const main = combine(status, healingReport);
  const deadlineReached = connectDeadline.aborted || shipDeadline.aborted;
  const notDone = deadlineReached ? describeNotDone(snapshots, healings, budgetMs) : undefined;
  const own = monitorRows(stamp, combine(replay, main), notDone);
  const ownReport = delivery && own.length > 0 ? await delivery.deliver([{ stream: STATUS_TABLE.stream, rows: own }], { start: shipDeadline, cut: ownCutDeadline, spool: spoolDeadline }) : NOTHING;
  const report = combine(replay, main, ownReport);

  return {
    stamp,
    snapshots,
    healings,
    rows,
    healingRows: healed,
    monitorRows: own,
    delivery: report,
    deadlineReached,
    durationMs: performance.now() - startedMs,
    requests: deps.clients.reduce((n, c) => n + c.requests, 0) - requestsBefore,
  };
}

/** Reads one cluster, saying when it starts and what came back. */
export async function readWithProgress(client: ConnectClient, options: Parameters<typeof readCluster>[1], progress: (p: TickProgress) => void): Promise<ClusterSnapshot> {
  progress({ step: 'reading', cluster: client.name });
  const snapshot = await readCluster(client, options);
  progress({ step: 'read', cluster: snapshot.cluster, connectors: snapshot.connectors.length, ...(snapshot.error && { failure: snapshot.error.kind }) });
  return snapshot;
}

/** What the deadline cut short, in one line. */
function describeNotDone(snapshots: readonly ClusterSnapshot[], healings: readonly ClusterHealing[], budgetMs: number): string {
  const unread = snapshots.filter((s) => s.error?.kind === 'ABORTED').map((s) => s.cluster);
  const deferred = healings.flatMap((h) => h.outcomes).filter((o) => o.outcome === 'deferred-deadline').length;
  const parts = [
    unread.length > 0 ? `${unread.length} cluster${unread.length === 1 ? '' : 's'} not read (${unread.join(', ')})` : '',
    deferred > 0 ? `${deferred} restart${deferred === 1 ? '' : 's'} left for the next tick` : '',
  ].filter(Boolean);
  return `tick budget of ${Math.round(budgetMs / 1000)} s (MONITOR_DEADLINE_SECONDS) reached${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`;
}

/** Non-zero exit codes of `kc-monitor once`, and what the function logs as a warning. */
export function tickProblems(result: TickResult): { unreadable: string[]; notShipped: string[] } {
  const { shipped, dropped } = result.delivery;
  // Retryable failures were spooled, unless a drop of that stream says the spool could not take them.
  const unkept = new Set(dropped.filter((d) => d.reason.startsWith('not shipped')).map((d) => d.stream));
  return {
    unreadable: result.snapshots.flatMap((s) => (s.error ? [s.error.message] : [])),
    notShipped: [
      ...shipped.flatMap((s) => s.failures.map((f) => `${f.rows} rows for ${s.stream} not shipped${f.retryable && !unkept.has(s.stream) ? ' (spooled for the next tick)' : ''}: ${f.reason}`)),
      ...dropped.map((d) => `${d.rows} rows for ${d.stream} dropped: ${d.reason}`),
      ...result.delivery.problems,
    ],
  };
}

/** The one line a tick leaves in the function's log: what was seen, what was shipped, how long it took. */
export function summarizeTick(result: TickResult): string {
  const connectors = result.snapshots.flatMap((s) => s.connectors);
  const tasks = connectors.flatMap((c) => c.tasks);
  const clusters = result.snapshots
    .map((s) => `${s.cluster} ${s.error ? s.error.kind : `${s.unhealthy ? 'UNHEALTHY' : 'REACHABLE'}${s.version ? ` ${s.version}` : ''}`}`)
    .join(', ');
  const total = result.rows.length + result.healingRows.length + result.monitorRows.length + result.delivery.replayed;
  const { replayed, spooled } = result.delivery;
  const shipped =
    result.delivery.shipped.length > 0
      ? `${result.delivery.shipped.reduce((n, s) => n + s.sent, replayed)} of ${count(total, 'row')} shipped${replayed > 0 ? ` (${replayed} replayed)` : ''}${spooled > 0 ? `, ${spooled} spooled` : ''}`
      : `${count(total, 'row')} (not shipped)`;
  const outcomes = result.healings.flatMap((h) => h.outcomes.map((o) => o.outcome));
  return [
    `tick ${result.stamp.correlationId}`,
    `${result.snapshots.length} cluster${result.snapshots.length === 1 ? '' : 's'} (${clusters})`,
    `${count(connectors.length, 'connector')}${notRunning(connectors.map((c) => c.state))}`,
    `${count(tasks.length, 'task')}${notRunning(tasks.map((t) => t.state))}`,
    ...(outcomes.length > 0 ? [`healing: ${countBy(outcomes)}`] : []),
    ...(result.deadlineReached ? ['DEADLINE REACHED'] : []),
    shipped,
    result.durationMs < 1000 ? `${Math.round(result.durationMs)} ms` : `${(result.durationMs / 1000).toFixed(1)} s`,
  ].join(', ');
}

/** "1 task", "2 tasks". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** " (2 FAILED, 1 PAUSED)": the states that are not RUNNING. */
function notRunning(states: readonly string[]): string {
  const others = states.filter((s) => s !== 'RUNNING');
  return others.length > 0 ? ` (${countBy(others)})` : '';
}

/** "2 FAILED, 1 PAUSED": most numerous first. */
function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${n} ${v}`).join(', ');
}
