import { createHash } from 'node:crypto';
import type { ClusterSnapshot } from '../connect/read';
import type { DeliveryReport } from './delivery';
import type { ClusterHealing, HealOutcome } from '../heal/healer';
import { targetKey } from '../heal/policy';
import type { SickWorker } from '../heal/workers';
import { countTasks } from '../connect/status';
import { MAX_VALUE_BYTES } from './schema';
import { headBytes, utf8Length } from '../redact';

/** A row of KafkaConnect_CL (columns in infra/tables.json). Empty values are left out: they cost nothing. */
export interface StatusRow {
  TimeGenerated: string;
  /** On cluster and monitor rows; connector and task rows join their tick on TimeGenerated and Cluster. */
  CorrelationId?: string;
  Cluster: string;
  RecordType: 'cluster' | 'connector' | 'task' | 'worker' | 'monitor';
  ConnectorName?: string;
  ConnectorType?: string;
  ConnectorClass?: string;
  TaskId?: number;
  State: string;
  WorkerId?: string;
  Trace?: string;
  TasksTotal?: number;
  TasksRunning?: number;
  TasksFailed?: number;
  TasksMax?: number;
  ConnectVersion?: string;
  Detail?: string;
  RowCount?: number;
  FailedShare?: number;
}

/** What every row of one tick shares. */
export interface TickStamp {
  readonly timeGenerated: string;
  readonly correlationId: string;
}

/**
 * What a tick may leave out, to keep Log Analytics cheap without losing what alerts and the workbook need.
 * A detail tick (the first of each hour, and of each worker) ships everything; the others ship a lean row
 * for a healthy connector, no row for a RUNNING task, a trace only when it is new, and a healing decision
 * only when it changed (the status rows of a target that is not RUNNING go out every tick regardless).
 */
export interface RowPlan {
  readonly detail: boolean;
  /** Whether this trace of this target must be shipped (first seen, or changed). */
  readonly traceIsNew: (key: string, trace: string) => boolean;
  /** Whether this decision about this target must be shipped (first made, or changed). */
  readonly decisionIsNew: (key: string, decision: string) => boolean;
}

/** Everything, every time: what a single run (the CLI, a test) ships. */
export const FULL_ROWS: RowPlan = { detail: true, traceIsNew: () => true, decisionIsNew: () => true };

/**
 * The cluster row (with the tick's CorrelationId), then each connector row followed by its task rows.
 * Connector and task rows join their tick on TimeGenerated and Cluster, which they share.
 */
export function statusRows(stamp: TickStamp, snapshot: ClusterSnapshot, plan: RowPlan = FULL_ROWS, sick: readonly SickWorker[] = []): StatusRow[] {
  const { timeGenerated: TimeGenerated } = stamp;
  const Cluster = snapshot.cluster;
  const rows: StatusRow[] = [
    {
      TimeGenerated,
      Cluster,
      CorrelationId: stamp.correlationId,
      RecordType: 'cluster',
      State: snapshot.error ? snapshot.error.kind : snapshot.unhealthy ? 'UNHEALTHY' : 'REACHABLE',
      ...(snapshot.version && { ConnectVersion: snapshot.version }),
      ...((snapshot.error || snapshot.unhealthy || snapshot.warning) && { Detail: snapshot.error?.message ?? [snapshot.unhealthy, snapshot.warning].filter(Boolean).join('; ') }),
    },
  ];
  // Rows are built by assignment, not by spreading conditional objects: a 5,000-connector detail tick makes
  // 25,000 of them, and the spreads cost several times the rest of the tick's processing.
  for (const c of snapshot.connectors) {
    const tasks = countTasks(c);
    const healthy = c.state === 'RUNNING' && tasks.running === tasks.total && !c.detail;
    if (healthy && !plan.detail) {
      // What the per-connector alert and the health chart read; the rest comes with the hourly detail.
      rows.push({ TimeGenerated, Cluster, RecordType: 'connector', ConnectorName: c.name, State: c.state, TasksTotal: tasks.total, TasksRunning: tasks.running, TasksFailed: tasks.failed });
      continue;
    }
    const row: StatusRow = { TimeGenerated, Cluster, RecordType: 'connector', ConnectorName: c.name, State: c.state };
    if (c.type) row.ConnectorType = c.type;
    if (c.connectorClass) row.ConnectorClass = c.connectorClass;
    if (c.workerId) row.WorkerId = c.workerId;
    if (c.trace && plan.traceIsNew(`${Cluster}|c:${c.name}`, c.trace)) row.Trace = c.trace;
    row.TasksTotal = tasks.total;
    row.TasksRunning = tasks.running;
    row.TasksFailed = tasks.failed;
    if (c.tasksMax !== undefined) row.TasksMax = c.tasksMax;
    if (c.detail) row.Detail = c.detail;
    rows.push(row);
    for (const t of c.tasks) {
      if (t.state === 'RUNNING' && !plan.detail) continue; // counted in TasksRunning
      const task: StatusRow = { TimeGenerated, Cluster, RecordType: 'task', ConnectorName: c.name, TaskId: t.id, State: t.state };
      if (c.type) task.ConnectorType = c.type;
      if (t.workerId) task.WorkerId = t.workerId;
      if (t.trace && plan.traceIsNew(`${Cluster}|t:${t.id}:${c.name}`, t.trace)) task.Trace = t.trace;
      rows.push(task);
    }
  }
  // Every tick while it lasts: the alert on it must see it in each window.
  for (const w of sick) {
    rows.push({
      TimeGenerated,
      Cluster,
      RecordType: 'worker',
      State: 'SICK',
      WorkerId: w.workerId,
      TasksTotal: w.tasks,
      TasksFailed: w.failed,
      FailedShare: w.share,
      Detail: `${w.failed} of its ${w.tasks} tasks FAILED, against ${w.peerFailed} of ${w.peerTasks} on the ${w.peers === 1 ? 'other worker' : `${w.peers} other workers`}: look at this worker's host and log`,
    });
  }
  return rows.map(fitValues);
}

/** A RowMemory kept between processes (pairs, not objects: a key may be `__proto__`). */
export interface SavedRowMemory {
  readonly version: 1;
  readonly lastDetailHour?: number;
  /** Per target, the digest of the trace last shipped. */
  readonly traces: ReadonlyArray<readonly [string, string]>;
  /** Per target, the decision last shipped. */
  readonly decisions: ReadonlyArray<readonly [string, string]>;
}

function isPairs(value: unknown): value is Array<[string, string]> {
  return Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
}

/** A RowMemory's plan, carrying what `commit` and `commitDecisions` remember of it. */
export interface MemoryPlan extends RowPlan {
  readonly hour: number;
  readonly seen: ReadonlyMap<string, string>;
  readonly decided: ReadonlyMap<string, string>;
}

/**
 * The memory behind a worker's RowPlan: the hour of its last detail tick, a digest of each trace it shipped,
 * and the last decision it shipped about each target (both forgotten when the target needs no more, so a new
 * failure ships its trace and its decision again).
 */
export class RowMemory {
  private lastDetailHour: number | undefined;
  private shipped: ReadonlyMap<string, string> = new Map();
  private decisions: ReadonlyMap<string, string> = new Map();

  /**
   * @param intervalMs The schedule's interval, when known: the detail tick is then the first tick of each clock
   *   hour, whatever the worker's age (Flex Consumption may start a new worker for any tick, and a new worker
   *   must not mean a detail tick, or every tick could be one). Otherwise the first tick of each hour this
   *   worker sees.
   * @param saved What `saved()` gave an earlier process (the CLI under cron: one process per tick); anything
   *   else is ignored, and the memory starts empty (a detail tick).
   */
  constructor(
    private readonly intervalMs?: number,
    saved?: unknown,
  ) {
    const s = saved as Partial<SavedRowMemory> | null | undefined;
    if (typeof s !== 'object' || s === null || s.version !== 1 || !isPairs(s.traces) || !isPairs(s.decisions)) return;
    if (Number.isSafeInteger(s.lastDetailHour)) this.lastDetailHour = s.lastDetailHour;
    this.shipped = new Map(s.traces);
    this.decisions = new Map(s.decisions);
  }

  /** The memory as JSON: the hour of the last detail tick, the digests of the traces and the decisions shipped. */
  saved(): SavedRowMemory {
    return { version: 1, ...(this.lastDetailHour !== undefined && { lastDetailHour: this.lastDetailHour }), traces: [...this.shipped], decisions: [...this.decisions] };
  }

  /** The plan for a tick at `now`; nothing is remembered until `commit(plan)`, once its rows are safe. */
  plan(now: Date): MemoryPlan {
    const hour = Math.floor(now.getTime() / 3_600_000);
    const intoHour = now.getTime() % 3_600_000;
    const detail = this.intervalMs !== undefined ? intoHour < this.intervalMs : hour !== this.lastDetailHour;
    const seen = new Map<string, string>();
    const decided = new Map<string, string>();
    return {
      detail,
      hour,
      seen,
      decided,
      traceIsNew: (key, trace) => {
        const digest = createHash('sha1').update(trace).digest('base64');
        seen.set(key, digest);
        return detail || this.shipped.get(key) !== digest;
      },
      decisionIsNew: (key, decision) => {
        decided.set(key, decision);
        return detail || this.decisions.get(key) !== decision;
      },
    };
  }

  /** Remembers the plan's traces (only those of targets still failing) and its detail tick. */
  commit(plan: MemoryPlan): void {
    if (plan.detail) this.lastDetailHour = plan.hour;
    this.shipped = plan.seen;
  }

  /** Remembers the plan's decisions (only those made this tick), once the healing rows are safe. */
  commitDecisions(plan: MemoryPlan): void {
    this.decisions = plan.decided;
  }
}

/**
 * The monitor's own events as rows (RecordType `monitor`): the loss or delay of rows is itself on record,
 * and so is a deadline that cut the tick short.
 */
export function monitorRows(stamp: TickStamp, delivery: DeliveryReport, deadline?: string): StatusRow[] {
  const base = { TimeGenerated: stamp.timeGenerated, CorrelationId: stamp.correlationId, Cluster: '', RecordType: 'monitor' as const };
  const rows: StatusRow[] = [];
  if (delivery.spooled > 0) {
    // Only what the endpoint acknowledged counts as shipped; the rest, and why, is said here.
    const because = [...delivery.spooledBecause].sort((a, b) => b.rows - a.rows).map((r) => `${r.rows} ${r.reason}`);
    const detail = `${delivery.spooled} rows were not acknowledged by the Logs Ingestion API and were spooled for the next tick: ${because.join('; ')}`;
    rows.push({ ...base, State: 'ROWS_SPOOLED', RowCount: delivery.spooled, Detail: detail });
  }
  if (delivery.replayed > 0) rows.push({ ...base, State: 'ROWS_REPLAYED', RowCount: delivery.replayed, Detail: `${delivery.replayed} rows spooled by earlier ticks were shipped, with their original TimeGenerated` });
  for (const d of delivery.dropped) rows.push({ ...base, State: 'ROWS_DROPPED', RowCount: d.rows, Detail: `${d.rows} rows of ${d.stream} dropped: ${d.reason}` });
  for (const p of delivery.problems) rows.push({ ...base, State: 'SPOOL_FAILED', Detail: p });
  if (deadline) rows.push({ ...base, State: 'DEADLINE_REACHED', Detail: deadline });
  return rows.map(fitValues);
}

/** A row of KafkaConnectHealing_CL (columns in infra/tables.json). */
export interface HealingRow {
  TimeGenerated: string;
  CorrelationId: string;
  Cluster: string;
  ConnectorName?: string;
  TaskId?: number;
  Action: string;
  Outcome: string;
  Attempt?: number;
  NextAttemptAfter?: string;
  Reason: string;
  HttpStatus?: number;
  Pattern?: string;
  Flapping?: boolean;
  TimeToRecoverMinutes?: number;
}

/**
 * One row per healing decision of the tick that the plan ships: every restart call Connect answered, and
 * any other decision when it is new or changed (a target in backoff says so once, then hourly).
 */
export function healingRows(stamp: TickStamp, healing: ClusterHealing, plan: RowPlan = FULL_ROWS): HealingRow[] {
  return healing.outcomes.filter((o) => shipsDecision(healing.cluster, o, plan)).map((o) =>
    fitValues({
      TimeGenerated: stamp.timeGenerated,
      CorrelationId: stamp.correlationId,
      Cluster: healing.cluster,
      ...(o.target && { ConnectorName: o.target.connector }),
      ...(o.target?.taskId !== undefined && { TaskId: o.target.taskId }),
      Action: o.action,
      Outcome: o.outcome,
      ...(o.attempt !== undefined && { Attempt: o.attempt }),
      ...(o.nextAttemptAfter && { NextAttemptAfter: o.nextAttemptAfter }),
      Reason: o.reason,
      ...(o.httpStatus !== undefined && { HttpStatus: o.httpStatus }),
      ...(o.pattern && { Pattern: o.pattern }),
      ...(o.flapping && { Flapping: true }),
      ...(o.recoveryMinutes !== undefined && { TimeToRecoverMinutes: o.recoveryMinutes }),
    }),
  );
}

/**
 * What makes a decision the same as the tick before's: the alerts read the outcome, the attempt, when the next
 * restart is due, the pattern and the flapping mark; a reason that only counts minutes does not make it new.
 * A restart call that Connect answered is always on record (an audit of every POST).
 */
function shipsDecision(cluster: string, o: HealOutcome, plan: RowPlan): boolean {
  if (o.action === 'restart' && o.httpStatus !== undefined) return true;
  const key = o.target ? `${cluster}|${targetKey(o.target)}` : `${cluster}|-|${o.outcome}`;
  const decision = [o.action, o.outcome, o.attempt, o.nextAttemptAfter, o.pattern, o.flapping, o.httpStatus, o.target ? '' : o.reason].join('|');
  return plan.decisionIsNew(key, decision);
}

/** Log Analytics cuts values over 64 KB silently; cut them here instead, visibly and on a character boundary. */
export function fitValues<T extends object>(row: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const key in row) {
    const value: unknown = row[key];
    // A string of n UTF-16 units has at most 3n UTF-8 bytes: only a long one needs counting.
    if (typeof value === 'string' && value.length * 3 > MAX_VALUE_BYTES && utf8Length(value) > MAX_VALUE_BYTES) {
      copy ??= { ...row } as Record<string, unknown>;
      copy[key] = `${headBytes(value, MAX_VALUE_BYTES - 16)} …[cut]`;
    }
  }
  return (copy as T | undefined) ?? row;
}
