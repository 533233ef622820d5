import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { targetKey } from '../../src/lib/heal/policy';
import { type ConnectWorker, testConnectCluster, waitUntil } from './harness';
import { type Row, type Status, WorkerLogs, at, brief, createConnector, deleteConnectors, newMonitor, runOnce, settingsFor, settled, status, statusWhen, uniqueName } from './support';

/**
 * One of the two workers leaves while the monitor ticks: gracefully (SIGTERM: its tasks go UNASSIGNED, then
 * move) and by a crash (SIGKILL: restarts forwarded to it are refused while the group has not noticed).
 * Restarts refused by the rebalance (409, or 500 "IO Error trying to forward REST request") are deferred and
 * not counted; nothing is lost; the worker is started again afterwards, for the files that follow.
 *
 * The failing connector has two failed tasks, task 1 in backoff (an earlier restart, in the history), so the
 * monitor restarts task 0 with POST …/tasks/0/restart: the call that is forwarded to the task's worker.
 */
const cluster = testConnectCluster();
const logs = new WorkerLogs(cluster);

const healthy = [uniqueName('rb-ok'), uniqueName('rb-ok'), uniqueName('rb-ok')];
const failing = uniqueName('rb-fail');
const ALL = [...healthy, failing];
const MINUTE = 1;

beforeAll(async () => {
  for (const n of healthy) await createConnector(cluster, n, { 'tasks.max': '2' });
  await createConnector(cluster, failing, { 'tasks.max': '2', 'task.fail': 'always' });
  await allSettled();
});

afterAll(async () => {
  // Whatever happened, both workers run again for the next file.
  for (const w of cluster.workers) if (!w.pid) await w.start();
  await deleteConnectors(cluster, ALL);
});

async function allSettled(worker?: number): Promise<Record<string, Status>> {
  const out: Record<string, Status> = {};
  for (const n of healthy) out[n] = await statusWhen(cluster, n, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'RUNNING'), 90_000, worker);
  out[failing] = await statusWhen(cluster, failing, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'FAILED'), 90_000, worker);
  return out;
}

/** The worker that holds task 0 of the failing connector leaves; the monitor talks to the other one. */
function roles(s: Record<string, Status>): { victim: ConnectWorker; survivor: ConnectWorker } {
  const owner = s[failing]!.tasks.find((t) => t.id === 0)!.worker_id;
  const victim = cluster.workers.find((w) => w.workerId === owner)!;
  const survivor = cluster.workers.find((w) => w !== victim)!;
  return { victim, survivor };
}

async function seededSettings(prefix: string, survivor: ConnectWorker) {
  const clusterName = uniqueName(prefix);
  const settings = settingsFor(clusterName, survivor.url);
  const store = TableHistoryStore.fromConfig(loadConfig(settings, { requireIngestion: false }).storage!);
  await store.save(clusterName, new Map(), new Map([[targetKey({ connector: failing, taskId: 1 }), { attempts: 1, lastAttempt: at(MINUTE).toISOString() }]]));
  return { clusterName, settings, store };
}

interface Observed {
  readonly outcomes: Row[];
  readonly last: { status: Row[] };
  readonly states: Set<string>;
}

/**
 * Ticks (one monitor, the fake clock fixed) while `leave` runs and after, polling the statuses through the
 * survivor, until every task of the file's connectors runs on the survivor and task 0 got a counted restart.
 */
async function tickThrough(settings: ReturnType<typeof settingsFor>, victim: ConnectWorker, survivor: ConnectWorker, leave: () => Promise<void>): Promise<Observed> {
  const states = new Set<string>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      for (const n of ALL) {
        const s = await status(cluster, n, survivor.index).catch(() => undefined);
        for (const t of s?.tasks ?? []) states.add(`${t.state}@${t.worker_id === victim.workerId ? 'victim' : 'survivor'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const m = newMonitor(settings, () => at(MINUTE), [100, 200]);
  const outcomes: Row[] = [];
  const leaving = leave();
  let last: { status: Row[] } = { status: [] };
  try {
    await waitUntil(
      'the tasks to move to the survivor and task 0 to be restarted there',
      async () => {
        const run = await m.tick();
        last = run;
        const mine = run.status.filter((r) => r.RecordType === 'task' && ALL.includes(String(r.ConnectorName)));
        if (process.env.KC_CONNECT_DEBUG === '1') process.stderr.write(
          `[rebalance] ${new Date().toISOString()} victim pid ${victim.pid ?? '-'}; tasks ${mine.map((r) => `${String(r.State)}@${r.WorkerId === victim.workerId ? 'v' : r.WorkerId === survivor.workerId ? 's' : String(r.WorkerId)}`).join(',')}; task 0: ${run.healing.filter((r) => r.ConnectorName === failing).map((r) => `#${String(r.TaskId)} ${String(r.Outcome)} ${String(r.HttpStatus)} ${String(r.Reason).slice(-160)}`).join(' | ')}; cluster ${String(run.status.find((r) => r.RecordType === 'cluster')?.State)} ${String(run.status.find((r) => r.RecordType === 'cluster')?.Detail ?? '')}\n`,
        );
        outcomes.push(...run.healing.filter((r) => r.ConnectorName === failing && r.TaskId === 0));
        // Between the hourly detail ticks a worker's rows are lean (no row for a RUNNING task): the counts say it.
        const conns = run.status.filter((r) => r.RecordType === 'connector' && ALL.includes(String(r.ConnectorName)));
        const failed = run.status.filter((r) => r.RecordType === 'task' && r.ConnectorName === failing);
        const moved =
          conns.length === ALL.length &&
          conns.every((r) => r.TasksTotal === 2 && (r.ConnectorName === failing ? r.TasksFailed === 2 : r.TasksRunning === 2)) &&
          failed.length === 2 &&
          failed.every((r) => r.WorkerId === survivor.workerId);
        return moved && outcomes.some((o) => o.Outcome === 'restarted') && !victim.pid ? true : undefined;
      },
      100_000,
      300,
    );
  } finally {
    polling = false;
    await poller;
    await leaving;
    await m.close();
  }
  return { outcomes, last, states };
}

/** "3× a, 1× b", in order of first appearance. */
function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${n}× ${v}`).join(', ');
}

function expectDeferredThenCounted(outcomes: readonly Row[]): void {
  const first = outcomes.findIndex((o) => o.Outcome === 'restarted');
  expect(first, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(0);
  for (const o of outcomes.slice(0, first)) {
    // Refused by the rebalance: deferred, not counted (the attempt number stays 1, the one about to be made).
    expect(o, JSON.stringify(o)).toMatchObject({ Action: 'restart', Outcome: 'deferred-rebalance', Attempt: 1 });
    expect([409, 500]).toContain(o.HttpStatus);
    expect(String(o.Reason)).toMatch(
      o.HttpStatus === 409
        ? /409 CONFLICT: Cannot complete request (momentarily due to no known leader URL, likely because a rebalance was underway|because a rebalance is expected)/
        : /500 SERVER_ERROR: IO Error trying to forward REST request: /,
    );
    expect(o.NextAttemptAfter).toBeUndefined();
  }
  // The restart that went through is attempt 1, not 2 or more: none of the refused ones counted.
  expect(outcomes[first]).toMatchObject({ Outcome: 'restarted', Attempt: 1, HttpStatus: 204, NextAttemptAfter: at(MINUTE + 2).toISOString() });
  expect(outcomes.slice(first + 1).every((o) => o.Outcome === 'deferred-backoff' && o.Attempt === 1)).toBe(true);
}

describe('a worker leaves the real cluster while the monitor ticks', () => {
  it('gracefully: the tasks go UNASSIGNED then move, refused restarts are deferred, nothing is lost, the worker comes back', { timeout: 240_000 }, async () => {
    const { victim, survivor } = roles(await allSettled());
    const { clusterName, settings, store } = await seededSettings('rb-graceful', survivor);
    const mark = logs.mark();
    const seen = await tickThrough(settings, victim, survivor, async () => {
      await new Promise((r) => setTimeout(r, 200));
      await victim.stop();
    });
    expect(seen.states.has('UNASSIGNED@victim'), [...seen.states].join(' ')).toBe(true);
    expectDeferredThenCounted(seen.outcomes);
    // Nothing lost: a full read (a fresh process) sees every connector and every task, all on the survivor.
    const full = await runOnce(settings, MINUTE);
    const last = full.status.filter((r) => ALL.includes(String(r.ConnectorName)));
    expect(last.filter((r) => r.RecordType === 'task').map((r) => `${String(r.ConnectorName)}#${String(r.TaskId)} ${String(r.State)} ${String(r.WorkerId)}`).sort()).toEqual(
      ALL.flatMap((n) => [0, 1].map((id) => `${n}#${id} ${n === failing ? 'FAILED' : 'RUNNING'} ${survivor.workerId}`)).sort(),
    );
    expect(last.filter((r) => r.RecordType === 'connector').map((r) => `${String(r.ConnectorName)} ${String(r.State)} ${String(r.TasksTotal)}`).sort()).toEqual(
      [...healthy.map((n) => `${n} RUNNING 2`), `${failing} RUNNING 2`].sort(),
    );
    expect(last.filter((r) => r.RecordType === 'task' && r.ConnectorName !== failing).every((r) => r.State === 'RUNNING')).toBe(true);
    expect((await store.load(clusterName)).get(targetKey({ connector: failing, taskId: 0 }))).toMatchObject({ attempts: 1 });
    await logs.flush();
    const posts = logs.posts(mark).filter((p) => p.includes(failing));
    expect(posts.every((p) => p.startsWith(`/connectors/${failing}/tasks/0/restart `))).toBe(true);
    process.stderr.write(`[rebalance graceful] states ${[...seen.states].join(' ')}; task 0 outcomes ${countBy(seen.outcomes.map((o) => `${String(o.Outcome)}/${String(o.HttpStatus)}`))}; posts ${countBy(posts)}\n`);

    await bringBack(victim);
  });

  it('by a crash: restarts forwarded to the dead worker are deferred (500 IO Error, then 409) and not counted; the later one is attempt 1', { timeout: 240_000 }, async () => {
    const { victim, survivor } = roles(await allSettled());
    const { clusterName, settings, store } = await seededSettings('rb-crash', survivor);
    const mark = logs.mark();
    const seen = await tickThrough(settings, victim, survivor, () => victim.stop({ kill: true }));
    expect(seen.outcomes[0], JSON.stringify(seen.outcomes)).toMatchObject({ Outcome: 'deferred-rebalance', HttpStatus: 500 });
    expect(String(seen.outcomes[0]!.Reason)).toContain('IO Error trying to forward REST request: java.net.ConnectException: Connection refused');
    expectDeferredThenCounted(seen.outcomes);
    expect((await store.load(clusterName)).get(targetKey({ connector: failing, taskId: 0 }))).toMatchObject({ attempts: 1 });
    const full = await runOnce(settings, MINUTE);
    expect(full.status.filter((r) => ALL.includes(String(r.ConnectorName)) && r.RecordType === 'task').map((r) => `${String(r.ConnectorName)}#${String(r.TaskId)} ${String(r.State)} ${String(r.WorkerId)}`).sort()).toEqual(
      ALL.flatMap((n) => [0, 1].map((id) => `${n}#${id} ${n === failing ? 'FAILED' : 'RUNNING'} ${survivor.workerId}`)).sort(),
    );
    expect(brief(full.healing, [failing])).toEqual([`${failing}#0 deferred-backoff 1`, `${failing}#1 deferred-backoff 1`]);
    await logs.flush();
    const posts = logs.posts(mark).filter((p) => p.includes(failing));
    process.stderr.write(`[rebalance crash] states ${[...seen.states].join(' ')}; task 0 outcomes ${countBy(seen.outcomes.map((o) => `${String(o.Outcome)}/${String(o.HttpStatus)}`))}; posts ${countBy(posts)}\n`);
    expect(posts.filter((p) => p.endsWith(' 204'))).toHaveLength(1);

    await bringBack(victim);
  });
});

/** Starts the stopped worker again and waits until it holds tasks, so the next case (and file) sees two. */
async function bringBack(victim: { start(): Promise<void> }): Promise<void> {
  await victim.start();
  await waitUntil('the returning worker to take tasks again', async () => {
    const s = await allSettled();
    const ids = new Set(Object.values(s).flatMap((x) => x.tasks.map((t) => t.worker_id)));
    return ids.size === 2 ? true : undefined;
  }, 60_000, 500);
}
