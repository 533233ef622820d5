/**
 * Shared helpers of the real-cluster integration cases (heal, rows, rebalance, tls, …): connectors of the test
 * plugin made and removed over REST, a tick of the monitor's real code (createMonitor + loadConfig) at a fake
 * minute, and what Connect really saw, read back from the workers' own logs: the REST request log (one line
 * per request with its status code) and the Worker's `Creating task X-N` / `Creating connector X` lines (one
 * per start of a task or connector, restarts included).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { expect } from 'vitest';
import { type Settings, loadConfig } from '../../src/lib/config';
import type { ConnectTimeouts } from '../../src/lib/connect/client';
import { HEALING_TABLE, STATUS_TABLE } from '../../src/lib/logs/schema';
import { type Monitor, createMonitor } from '../../src/lib/monitor';
import type { TickResult } from '../../src/lib/tick';
import { testStorage } from '../fakes/azurite';
import { memorySink } from '../helpers/sinks';
import { type ConnectCluster, PLUGIN_CLASS, waitUntil } from './harness';

export const T0 = new Date('2026-12-02T08:00:00.000Z');
export const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

export interface TaskState {
  readonly id: number;
  readonly state: string;
  readonly worker_id: string;
  readonly trace?: string;
}
export interface Status {
  readonly name: string;
  readonly connector: { readonly state: string; readonly worker_id: string; readonly trace?: string };
  readonly tasks: readonly TaskState[];
  readonly type: string;
}

export type Row = Record<string, unknown>;

/** Short timeouts for the monitor's Connect calls: loopback answers in ms, a stuck call should fail the case quickly. */
export const TIMEOUTS: ConnectTimeouts = { connectMs: 5_000, headersMs: 20_000, bodyMs: 20_000 };

/** A path segment for a connector name, as the monitor sends it (dots raw, the rest percent-encoded). */
export const seg = (name: string): string => encodeURIComponent(name);

export async function createConnector(cluster: ConnectCluster, name: string, config: Record<string, string>, worker?: number): Promise<void> {
  const res = await cluster.rest('POST', '/connectors', { body: { name, config: { 'connector.class': PLUGIN_CLASS, 'tasks.max': '1', ...config } }, ...(worker && { worker }) });
  expect(res.status, res.text).toBe(201);
}

export async function deleteConnectors(cluster: ConnectCluster, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const res = await cluster.rest('DELETE', `/connectors/${seg(name)}`);
    expect([204, 404], `DELETE ${name}: ${res.status} ${res.text}`).toContain(res.status);
  }
  // Gone from the list, so that no later tick (of this file or another) reads them.
  await waitUntil('the connectors to be deleted', async () => {
    const res = await cluster.rest('GET', '/connectors');
    const left = (res.json as string[]).filter((n) => names.includes(n));
    return res.status === 200 && left.length === 0 ? true : undefined;
  });
}

export async function status(cluster: ConnectCluster, name: string, worker?: number): Promise<Status | undefined> {
  const res = await cluster.rest('GET', `/connectors/${seg(name)}/status`, worker ? { worker } : {});
  return res.status === 200 ? (res.json as Status) : undefined;
}

/** Polls the status of one connector until `ok` holds. */
export function statusWhen(cluster: ConnectCluster, name: string, ok: (s: Status) => boolean, timeoutMs = 45_000, worker?: number): Promise<Status> {
  return waitUntil(
    `${name} to reach the expected state`,
    async () => {
      const s = await status(cluster, name, worker);
      return s && ok(s) ? s : undefined;
    },
    timeoutMs,
    150,
  );
}

/**
 * Waits until a task has started and failed n times since the mark, and its status shows that failure. The
 * status API answers from the status topic as the worker reads it back, so right after a restart it can still
 * show the old FAILED (before RESTARTING arrives): the log line of the nth failure gates the wait, and FAILED
 * must hold on a second read.
 */
export async function failedAgain(cluster: ConnectCluster, logs: WorkerLogs, mark: LogMark, name: string, taskId: number, n: number): Promise<void> {
  const failed = (s: Status) => s.tasks.find((t) => t.id === taskId)?.state === 'FAILED';
  for (let read = 0; read < 10; read++) {
    await statusWhen(cluster, name, (s) => failed(s) && logs.taskStarts(mark, name, taskId) === n && logs.taskFailures(mark, name, taskId) === n);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await status(cluster, name);
    if (again && failed(again)) return;
  }
  throw new Error(`${name}#${taskId} did not stay FAILED after its failure ${n}`);
}

export const taskStates = (s: Status): string[] => [...s.tasks].sort((a, b) => a.id - b.id).map((t) => t.state);
/** Every task there (tasksMax of them) and none of them in between states. */
export const settled = (tasks: number) => (s: Status): boolean =>
  s.connector.state !== 'UNASSIGNED' && s.tasks.length === tasks && s.tasks.every((t) => t.state === 'RUNNING' || t.state === 'FAILED');

/** The settings of one monitored cluster, its own name (so its own history partition), AUTO_HEAL=on by default. */
export function settingsFor(name: string, url: string, extra: Record<string, unknown> = {}, more: Settings = {}): Settings {
  return {
    KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name, url, ...extra }]),
    AzureWebJobsStorage: testStorage(),
    AUTO_HEAL: 'on',
    ...more,
  };
}

export const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(3).toString('hex')}`;

export interface Run {
  readonly result: TickResult;
  readonly status: Row[];
  readonly healing: Row[];
}

/** One "process run": a fresh monitor (own clients, own store, no memory) ticking once at `minute`. */
export async function runOnce(settings: Settings, minute: number, retryDelaysMs: readonly number[] = [50, 100]): Promise<Run> {
  const monitor = newMonitor(settings, () => at(minute), retryDelaysMs);
  try {
    return await monitor.tick();
  } finally {
    await monitor.close();
  }
}

/** A monitor kept for several ticks (one worker process); `tick` returns the rows of that tick only. */
export function newMonitor(settings: Settings, now: () => Date, retryDelaysMs: readonly number[] = [50, 100]): { monitor: Monitor; tick(): Promise<Run>; close(): Promise<void> } {
  const sink = memorySink();
  const monitor = createMonitor(loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true }), { sink, now, retryDelaysMs, timeouts: TIMEOUTS });
  return {
    monitor,
    tick: async () => {
      for (const k of Object.keys(sink.rows)) delete sink.rows[k];
      const result = await monitor.tick();
      return { result, status: [...(sink.rows[STATUS_TABLE.stream] ?? [])], healing: [...(sink.rows[HEALING_TABLE.stream] ?? [])] };
    },
    close: () => monitor.close(),
  };
}

/** "name#0 restarted 1": one healing row, briefly. */
export const brief = (rows: readonly Row[], connectors?: readonly string[]): string[] =>
  rows
    .filter((r) => !connectors || connectors.includes(String(r.ConnectorName)))
    .map((r) => `${String(r.ConnectorName)}${r.TaskId !== undefined ? `#${String(r.TaskId)}` : ''} ${String(r.Outcome)}${r.Attempt !== undefined ? ` ${String(r.Attempt)}` : ''}`);

export const healingOf = (run: Run, connector: string, taskId?: number): Row | undefined =>
  run.healing.find((r) => r.ConnectorName === connector && r.TaskId === taskId);

// ---------------------------------------------------------------- what Connect saw: the workers' logs

export interface RequestLine {
  readonly worker: number;
  readonly method: string;
  /** As Jetty received it (the request line), query included. */
  readonly path: string;
  readonly status: number;
}

/** Byte offsets into every worker's log: what happened after `mark()` is what a case caused. */
export type LogMark = ReadonlyMap<number, number>;

export class WorkerLogs {
  constructor(private readonly cluster: ConnectCluster) {}

  mark(): LogMark {
    return new Map(this.cluster.workers.map((w) => [w.index, existsSync(w.logFile) ? statSync(w.logFile).size : 0]));
  }

  /** Log lines of every worker written since the mark. */
  lines(mark: LogMark): Array<{ worker: number; line: string }> {
    return this.cluster.workers.flatMap((w) => {
      if (!existsSync(w.logFile)) return [];
      const text = readFileSync(w.logFile).subarray(mark.get(w.index) ?? 0).toString('utf8');
      return text.split('\n').map((line) => ({ worker: w.index, line }));
    });
  }

  /**
   * Requests received from clients since the mark (not those the workers forwarded to each other, which carry
   * `forward=`, nor the internal `POST /connectors/x/tasks` of task configs), from Connect's request log:
   * `"POST /connectors/x/restart HTTP/1.1" 204 …`.
   */
  requests(mark: LogMark, method?: string): RequestLine[] {
    const out: RequestLine[] = [];
    for (const { worker, line } of this.lines(mark)) {
      const m = /\] "([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /.exec(line);
      if (!m || !line.includes('RestServer') || /[?&]forward=/.test(m[2]!)) continue;
      // A worker sending its connector's task configs to the leader (internal, signed, no forward=).
      if (m[1] === 'POST' && /^\/connectors\/[^/?]+\/tasks$/.test(m[2]!)) continue;
      if (method && m[1] !== method) continue;
      out.push({ worker, method: m[1]!, path: m[2]!, status: Number(m[3]) });
    }
    return out;
  }

  posts(mark: LogMark): string[] {
    return this.requests(mark, 'POST').map((r) => `${r.path} ${r.status}`);
  }

  /**
   * Waits until no worker has started a rebalance, nor created one of these connectors or their tasks, for
   * longer than scheduled.rebalance.max.delay.ms: the rebalances that follow creating connectors, or a worker
   * that left in an earlier file, can build a task again after it first FAILED (4.4.0, a CI run: a delayed
   * rebalance moved a task after the mark), which a count of starts from a later mark would take for a
   * restart of ours.
   */
  async settled(connectors: readonly string[], quietMs = this.cluster.rebalanceDelayMs + 1_000): Promise<void> {
    const mark = this.mark();
    const moved = (line: string) => line.includes('Rebalance started') || connectors.some((c) => line.includes(`INFO Creating task ${c}-`) || line.includes(`INFO Creating connector ${c} `));
    const starts = () => this.lines(mark).filter((l) => moved(l.line)).length;
    let seen = starts();
    let since = Date.now();
    await waitUntil(
      `no rebalance and nothing of ${connectors.join(', ')} created for ${quietMs} ms`,
      async () => {
        const now = starts();
        if (now !== seen) [seen, since] = [now, Date.now()];
        return Date.now() - since >= quietMs ? true : undefined;
      },
      30_000,
      200,
    );
  }

  /** Starts of a task (`Creating task name-N`) on any worker since the mark: its first start and every restart. */
  taskStarts(mark: LogMark, connector: string, taskId: number): number {
    const needle = `INFO Creating task ${connector}-${taskId} (`;
    return this.lines(mark).filter((l) => l.line.includes(needle)).length;
  }

  /** Failures of a task since the mark: WorkerTask's "Task threw an uncaught and unrecoverable exception" line. */
  taskFailures(mark: LogMark, connector: string, taskId: number): number {
    const needle = `{id=${connector}-${taskId}} Task threw an uncaught and unrecoverable exception`;
    return this.lines(mark).filter((l) => l.line.includes(needle)).length;
  }

  connectorStarts(mark: LogMark, connector: string): number {
    const needle = `INFO Creating connector ${connector} of type `;
    return this.lines(mark).filter((l) => l.line.includes(needle)).length;
  }

  /**
   * Waits until every running worker has logged everything before now: a request of our own (a 404 for a
   * connector that does not exist) appears in each log after whatever came before it.
   */
  async flush(): Promise<void> {
    const probe = `kcm-log-flush-${randomBytes(4).toString('hex')}`;
    const mark = this.mark();
    const running = this.cluster.workers.filter((w) => w.pid);
    for (const w of running) await this.cluster.rest('GET', `/connectors/${probe}/status`, { worker: w.index });
    await waitUntil(
      'the request log to show the flush probe',
      async () => (running.every((w) => this.lines(mark).some((l) => l.worker === w.index && l.line.includes(probe))) ? true : undefined),
      10_000,
      50,
    );
  }
}
