import { randomUUID } from 'node:crypto';
import type { ConnectClient } from './connect/client';
import { type ClusterSnapshot, readCluster } from './connect/read';
import type { ClusterHealing, Healer } from './heal/healer';
import type { RowSink, ShipResult } from './ingestion';
import { type HealingRow, type StatusRow, type TickStamp, healingRows, statusRows } from './rows';
import { HEALING_TABLE, STATUS_TABLE } from './schema';

export interface TickDeps {
  readonly clients: readonly ConnectClient[];
  /** Absent for a read-only look (`kc-monitor status`). */
  readonly sink?: RowSink;
  /** Absent for a read-only look; AUTO_HEAL=off still has one, which decides nothing. */
  readonly healer?: Healer;
  readonly now?: () => Date;
  readonly newCorrelationId?: () => string;
  /** Traces are cut to this many bytes: enough for the head and the root cause, cheap to ingest. */
  readonly maxTraceBytes?: number;
}

export interface TickResult {
  readonly stamp: TickStamp;
  readonly snapshots: readonly ClusterSnapshot[];
  readonly healings: readonly ClusterHealing[];
  readonly rows: readonly StatusRow[];
  readonly healingRows: readonly HealingRow[];
  /** One result per stream; empty when nothing was shipped. */
  readonly shipped: readonly ShipResult[];
  readonly durationMs: number;
  readonly requests: number;
}

export const DEFAULT_MAX_TRACE_BYTES = 32 * 1024;

/**
 * One monitor tick: read every cluster at once (one's failure never stops the others), heal what the
 * policy says is due, turn what was seen and done into rows sharing one TimeGenerated and correlation id,
 * and ship them.
 */
export async function runTick(deps: TickDeps): Promise<TickResult> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const startedMs = performance.now();
  const stamp: TickStamp = { timeGenerated: started.toISOString(), correlationId: (deps.newCorrelationId ?? randomUUID)() };
  const requestsBefore = deps.clients.reduce((n, c) => n + c.requests, 0);

  const maxTraceBytes = deps.maxTraceBytes ?? DEFAULT_MAX_TRACE_BYTES;
  // Each cluster is read and then healed on its own: a slow cluster does not hold up another's restarts.
  const perCluster = await Promise.all(
    deps.clients.map(async (client) => {
      const snapshot = await readCluster(client, { maxTraceBytes });
      const healing = deps.healer ? await deps.healer.heal(client, snapshot, started) : { cluster: snapshot.cluster, outcomes: [], restartCalls: 0 };
      return { snapshot, healing };
    }),
  );
  const snapshots = perCluster.map((c) => c.snapshot);
  const healings = perCluster.map((c) => c.healing);
  const rows = snapshots.flatMap((s) => statusRows(stamp, s));
  const healed = healings.flatMap((h) => healingRows(stamp, h));
  const sink = deps.sink;
  const shipped = sink
    ? await Promise.all([sink.ship(STATUS_TABLE.stream, rows), ...(healed.length > 0 ? [sink.ship(HEALING_TABLE.stream, healed)] : [])])
    : [];

  return {
    stamp,
    snapshots,
    healings,
    rows,
    healingRows: healed,
    shipped,
    durationMs: performance.now() - startedMs,
    requests: deps.clients.reduce((n, c) => n + c.requests, 0) - requestsBefore,
  };
}

/** Non-zero exit codes of `kc-monitor once`, and what the function logs as a warning. */
export function tickProblems(result: TickResult): { unreadable: string[]; notShipped: string[] } {
  return {
    unreadable: result.snapshots.flatMap((s) => (s.error ? [s.error.message] : [])),
    notShipped: result.shipped.flatMap((s) => s.failures.map((f) => `${f.rows} rows for ${s.stream} not shipped: ${f.reason}`)),
  };
}

/** The one line a tick leaves in the function's log: what was seen, what was shipped, how long it took. */
export function summarizeTick(result: TickResult): string {
  const connectors = result.snapshots.flatMap((s) => s.connectors);
  const tasks = connectors.flatMap((c) => c.tasks);
  const clusters = result.snapshots
    .map((s) => `${s.cluster} ${s.error ? s.error.kind : `REACHABLE${s.version ? ` ${s.version}` : ''}`}`)
    .join(', ');
  const total = result.rows.length + result.healingRows.length;
  const shipped = result.shipped.length > 0 ? `${result.shipped.reduce((n, s) => n + s.sent, 0)} of ${total} rows shipped` : `${total} rows (not shipped)`;
  const outcomes = result.healings.flatMap((h) => h.outcomes.map((o) => o.outcome));
  return [
    `tick ${result.stamp.correlationId}`,
    `${result.snapshots.length} cluster${result.snapshots.length === 1 ? '' : 's'} (${clusters})`,
    `${connectors.length} connectors${notRunning(connectors.map((c) => c.state))}`,
    `${tasks.length} tasks${notRunning(tasks.map((t) => t.state))}`,
    ...(outcomes.length > 0 ? [`healing: ${countBy(outcomes)}`] : []),
    shipped,
    result.durationMs < 1000 ? `${Math.round(result.durationMs)} ms` : `${(result.durationMs / 1000).toFixed(1)} s`,
  ].join(', ');
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
