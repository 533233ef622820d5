import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { ConnectClient } from '../../src/lib/connect/client';
import { readCluster } from '../../src/lib/connect/read';
import { Healer } from '../../src/lib/heal/healer';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { targetKey } from '../../src/lib/heal/policy';
import { testConnectCluster } from './harness';
import { TIMEOUTS, WorkerLogs, at, brief, createConnector, deleteConnectors, failedAgain, healingOf, runOnce, settingsFor, settled, status, statusWhen, uniqueName } from './support';

/**
 * What real restarts answer and how the monitor records them: a connector deleted between the read and the
 * restart (404), a task that fails again at once (204 from start(), 500 when it cannot even be built), and
 * connectors named `.` and `..` (raw dot segments, which must never become `POST /restart`).
 */
const cluster = testConnectCluster();
const logs = new WorkerLogs(cluster);
const url = cluster.workers[0]!.url;

function storeOf(settings: Record<string, string | undefined>): TableHistoryStore {
  return TableHistoryStore.fromConfig(loadConfig(settings, { requireIngestion: false }).storage!);
}

describe('restarts on the real cluster', () => {
  it('records a connector deleted between the read and the restart (404) as not-found, does not count it, and forgets it', async () => {
    const name = uniqueName('gone');
    await createConnector(cluster, name, { 'task.fail': 'always' });
    const clusterName = uniqueName('gone');
    const settings = settingsFor(clusterName, url);
    const config = loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true });
    const client = new ConnectClient(config.clusters[0]!, TIMEOUTS);
    const store = storeOf(settings);
    try {
      await statusWhen(cluster, name, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
      const snapshot = await readCluster(client, { maxTraceBytes: 32 * 1024 });
      expect(snapshot.connectors.find((c) => c.name === name)?.tasks[0]?.state).toBe('FAILED');
      const del = await cluster.rest('DELETE', `/connectors/${name}`);
      expect(del.status).toBe(204);

      const mark = logs.mark();
      const healer = new Healer({ mode: 'on', policy: config.heal, store, retryDelaysMs: [50] });
      const healing = await healer.heal(client, snapshot, at(0));
      const outcome = healing.outcomes.find((o) => o.target?.connector === name);
      expect(outcome).toMatchObject({ action: 'restart', outcome: 'not-found', attempt: 1, httpStatus: 404 });
      expect(outcome!.nextAttemptAfter).toBeUndefined();
      expect(outcome!.reason).toContain(`→ 404 NOT_FOUND: Unknown connector: ${name} (deleted while the tick ran)`);
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes(name))).toEqual([`/connectors/${name}/restart?includeTasks=true&onlyFailed=true 404`]);
      // Not counted and forgotten: nothing left of it in the history (written ahead, then taken back).
      expect((await store.load(clusterName)).has(targetKey({ connector: name, taskId: 0 }))).toBe(false);

      // The next tick does not see it at all.
      const r = await runOnce(settings, 1);
      expect(r.status.filter((x) => x.ConnectorName === name)).toEqual([]);
      expect(brief(r.healing, [name])).toEqual([]);
    } finally {
      await client.close();
      await deleteConnectors(cluster, [name]);
    }
  });

  it('counts a restart of a task that fails again at once: 204 (fails in start()), 500 "Failed to start task" (cannot be built)', async () => {
    const again = uniqueName('again-start');
    const unbuilt = uniqueName('again-construct');
    await createConnector(cluster, again, { 'tasks.max': '2', 'task.fail': 'always' });
    await createConnector(cluster, unbuilt, { 'tasks.max': '2', 'task.fail': 'construct' });
    const clusterName = uniqueName('again');
    const settings = settingsFor(clusterName, url);
    try {
      for (const n of [again, unbuilt]) await statusWhen(cluster, n, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'FAILED'));
      // A full run once timed out here, plausibly a task built again after the mark by the rebalances of the creates: let them end.
      await logs.settled([again, unbuilt]);
      // Task 1 of each was restarted at minute 0 by an earlier run: in backoff until minute 2, so the monitor
      // restarts task 0 alone, with the per-task call whose answer is synchronous.
      const store = storeOf(settings);
      await store.save(
        clusterName,
        new Map(),
        new Map([again, unbuilt].map((c) => [targetKey({ connector: c, taskId: 1 }), { attempts: 1, lastAttempt: at(0).toISOString() }])),
      );
      const mark = logs.mark();
      const r0 = await runOnce(settings, 0);
      expect(brief(r0.healing, [again, unbuilt]).sort()).toEqual([`${again}#0 restarted 1`, `${again}#1 deferred-backoff 1`, `${unbuilt}#0 failed 1`, `${unbuilt}#1 deferred-backoff 1`].sort());
      expect(healingOf(r0, again, 0)).toMatchObject({ Action: 'restart', HttpStatus: 204, NextAttemptAfter: at(2).toISOString() });
      expect(healingOf(r0, again, 0)!.Reason).toMatch(/→ POST …\/tasks\/0\/restart → 204$/);
      expect(healingOf(r0, unbuilt, 0)).toMatchObject({ Action: 'restart', HttpStatus: 500, NextAttemptAfter: at(2).toISOString() });
      expect(healingOf(r0, unbuilt, 0)!.Reason).toContain(`→ ${clusterName}: POST /connectors/${unbuilt}/tasks/0/restart → 500 SERVER_ERROR: Failed to start task: ${unbuilt}-0`);
      // The unbuilt task never runs, so it logs no failure of its own; the other is waited for by its failure.
      await failedAgain(cluster, logs, mark, again, 0, 1);
      await statusWhen(cluster, unbuilt, (s) => s.tasks.every((t) => t.state === 'FAILED') && logs.taskStarts(mark, unbuilt, 0) === 1).catch(async (err: unknown) => {
        process.stderr.write(`[restarts] ${unbuilt} after its per-task restart: ${JSON.stringify(await status(cluster, unbuilt))}; starts ${logs.taskStarts(mark, unbuilt, 0)}, ${logs.taskStarts(mark, unbuilt, 1)}\n`);
        for (const l of logs.lines(mark)) if (/Creating task|Rebalance started|got assignment|tasks\/0\/restart/.test(l.line)) process.stderr.write(`[restarts] worker ${l.worker}: ${l.line.slice(0, 400)}\n`);
        throw err;
      });
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes('again-')).sort()).toEqual([`/connectors/${again}/tasks/0/restart 204`, `/connectors/${unbuilt}/tasks/0/restart 500`].sort());
      expect([again, unbuilt].map((n) => [logs.taskStarts(mark, n, 0), logs.taskStarts(mark, n, 1)])).toEqual([
        [1, 0],
        [1, 0],
      ]);

      // Minute 1: both attempts counted, so everything waits.
      const r1 = await runOnce(settings, 1);
      expect(brief(r1.healing, [again, unbuilt]).sort()).toEqual([`${again}#0 deferred-backoff 1`, `${again}#1 deferred-backoff 1`, `${unbuilt}#0 deferred-backoff 1`, `${unbuilt}#1 deferred-backoff 1`].sort());
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes('again-'))).toHaveLength(2);

      // Minute 2: all due; every failed part of each connector is due, so one KIP-745 call each (202, async).
      const m2 = logs.mark();
      const r2 = await runOnce(settings, 2);
      expect(brief(r2.healing, [again, unbuilt]).sort()).toEqual([`${again}#0 restarted 2`, `${again}#1 restarted 2`, `${unbuilt}#0 restarted 2`, `${unbuilt}#1 restarted 2`].sort());
      for (const n of [again, unbuilt]) {
        expect(healingOf(r2, n, 0)).toMatchObject({ HttpStatus: 202, NextAttemptAfter: at(8).toISOString() });
        expect(String(healingOf(r2, n, 0)!.Reason)).toContain('(2 tasks RESTARTING)');
        const seen = await statusWhen(cluster, n, (s) => s.tasks.length === 2 && s.tasks.every((t) => t.state === 'FAILED') && logs.taskStarts(m2, n, 0) >= 1 && logs.taskStarts(m2, n, 1) >= 1, 30_000).catch(
          async (err: unknown) => {
            process.stderr.write(`[restarts] ${n} after the KIP-745 restart: ${JSON.stringify(await status(cluster, n))}; starts ${logs.taskStarts(m2, n, 0)}, ${logs.taskStarts(m2, n, 1)}\n`);
            throw err;
          },
        );
        expect(seen.tasks).toHaveLength(2);
      }
      await logs.flush();
      expect(logs.posts(m2).filter((p) => p.includes('again-')).sort()).toEqual(
        [`/connectors/${again}/restart?includeTasks=true&onlyFailed=true 202`, `/connectors/${unbuilt}/restart?includeTasks=true&onlyFailed=true 202`].sort(),
      );
    } finally {
      await deleteConnectors(cluster, [again, unbuilt]);
    }
  });

  it('restarts the failed tasks of connectors named "." and "..", with raw dot segments, never POST /restart', async () => {
    const names = ['.', '..'];
    await deleteConnectors(cluster, names); // left by another file, if any
    const markers = names.map((_, i) => join(cluster.markerDir, `dots-${i}`));
    for (const m of markers) writeFileSync(m, '');
    for (const [i, n] of names.entries()) await createConnector(cluster, n, { 'task.fail': 'marker', 'task.fail.marker': markers[i]! });
    try {
      for (const n of names) await statusWhen(cluster, n, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
      for (const m of markers) rmSync(m);
      const settings = settingsFor(uniqueName('dots'), url);
      const mark = logs.mark();
      const r0 = await runOnce(settings, 0);
      expect(brief(r0.healing, names).sort()).toEqual(['.#0 restarted 1', '..#0 restarted 1']);
      for (const n of names) expect(healingOf(r0, n, 0)).toMatchObject({ HttpStatus: 202 });
      for (const n of names) await statusWhen(cluster, n, (s) => s.tasks[0]?.state === 'RUNNING');
      await logs.flush();
      const posts = logs.posts(mark);
      expect(posts.filter((p) => p.startsWith('/connectors/.')).sort()).toEqual(['/connectors/../restart?includeTasks=true&onlyFailed=true 202', '/connectors/./restart?includeTasks=true&onlyFailed=true 202']);
      expect(posts.filter((p) => !p.startsWith('/connectors/'))).toEqual([]);
      expect(names.map((n) => logs.taskStarts(mark, n, 0))).toEqual([1, 1]);
      const r1 = await runOnce(settings, 1);
      expect(r1.status.filter((x) => names.includes(String(x.ConnectorName)) && x.RecordType === 'task').map((x) => `${String(x.ConnectorName)} ${String(x.State)}`).sort()).toEqual(['. RUNNING', '.. RUNNING']);
    } finally {
      await deleteConnectors(cluster, names);
    }
  });
});
