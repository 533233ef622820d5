import { randomUUID } from 'node:crypto';
import type { ConnectClient } from './connect/client';
import { type ClusterSnapshot, readCluster } from './connect/read';
import type { RowSink, ShipResult } from './ingestion';
import { type StatusRow, type TickStamp, statusRows } from './rows';
import { STATUS_TABLE } from './schema';

export interface TickDeps {
  readonly clients: readonly ConnectClient[];
  /** Absent for a read-only look (`kc-monitor status`). */
  readonly sink?: RowSink;
  readonly now?: () => Date;
  readonly newCorrelationId?: () => string;
  /** Traces are cut to this many bytes: enough for the head and the root cause, cheap to ingest. */
  readonly maxTraceBytes?: number;
}

export interface TickResult {
  readonly stamp: TickStamp;
  readonly snapshots: readonly ClusterSnapshot[];
  readonly rows: readonly StatusRow[];
  readonly shipped?: ShipResult;
  readonly durationMs: number;
  readonly requests: number;
}

export const DEFAULT_MAX_TRACE_BYTES = 32 * 1024;

/**
 * One monitor tick: read every cluster at once (one's failure never stops the others), turn what was seen
 * into rows sharing one TimeGenerated and correlation id, and ship them.
 */
export async function runTick(deps: TickDeps): Promise<TickResult> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const startedMs = performance.now();
  const stamp: TickStamp = { timeGenerated: started.toISOString(), correlationId: (deps.newCorrelationId ?? randomUUID)() };
  const requestsBefore = deps.clients.reduce((n, c) => n + c.requests, 0);

  const maxTraceBytes = deps.maxTraceBytes ?? DEFAULT_MAX_TRACE_BYTES;
  const snapshots = await Promise.all(deps.clients.map((client) => readCluster(client, { maxTraceBytes })));
  const rows = snapshots.flatMap((s) => statusRows(stamp, s));
  const shipped = deps.sink ? await deps.sink.ship(STATUS_TABLE.stream, rows) : undefined;

  return {
    stamp,
    snapshots,
    rows,
    ...(shipped && { shipped }),
    durationMs: performance.now() - startedMs,
    requests: deps.clients.reduce((n, c) => n + c.requests, 0) - requestsBefore,
  };
}

/** Non-zero exit codes of `kc-monitor once`, and what the function logs as a warning. */
export function tickProblems(result: TickResult): { unreadable: string[]; notShipped: string[] } {
  return {
    unreadable: result.snapshots.flatMap((s) => (s.error ? [s.error.message] : [])),
    notShipped: (result.shipped?.failures ?? []).map(
      (f) => `${f.rows} rows for ${result.shipped?.stream} not shipped: ${f.reason}`,
    ),
  };
}

/** The one line a tick leaves in the function's log: what was seen, what was shipped, how long it took. */
export function summarizeTick(result: TickResult): string {
  const connectors = result.snapshots.flatMap((s) => s.connectors);
  const tasks = connectors.flatMap((c) => c.tasks);
  const clusters = result.snapshots
    .map((s) => `${s.cluster} ${s.error ? s.error.kind : `REACHABLE${s.version ? ` ${s.version}` : ''}`}`)
    .join(', ');
  const shipped = result.shipped
    ? `${result.shipped.sent} of ${result.rows.length} rows shipped`
    : `${result.rows.length} rows (not shipped)`;
  return [
    `tick ${result.stamp.correlationId}`,
    `${result.snapshots.length} cluster${result.snapshots.length === 1 ? '' : 's'} (${clusters})`,
    `${connectors.length} connectors${notRunning(connectors.map((c) => c.state))}`,
    `${tasks.length} tasks${notRunning(tasks.map((t) => t.state))}`,
    shipped,
    result.durationMs < 1000 ? `${Math.round(result.durationMs)} ms` : `${(result.durationMs / 1000).toFixed(1)} s`,
  ].join(', ');
}

/** " (2 FAILED, 1 PAUSED)": the states that are not RUNNING, most numerous first. */
function notRunning(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) if (s !== 'RUNNING') counts.set(s, (counts.get(s) ?? 0) + 1);
  if (counts.size === 0) return '';
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s}`);
  return ` (${parts.join(', ')})`;
}
