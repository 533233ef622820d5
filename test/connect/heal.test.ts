import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { testConnectCluster } from './harness';
import {
  WorkerLogs,
  at,
  brief,
  createConnector,
  deleteConnectors,
  failedAgain,
  healingOf,
  newMonitor,
  runOnce,
  settingsFor,
  settled,
  status,
  statusWhen,
  taskStates,
  uniqueName,
} from './support';

/**
 * Healing on the real cluster: the monitor's own code (createMonitor, its history in Azurite) against two
 * real distributed workers; what Connect did is read back from its status API and from the workers' logs
 * (the request log and the Worker's "Creating task" lines).
 */
const cluster = testConnectCluster();
const logs = new WorkerLogs(cluster);
const url = cluster.workers[0]!.url;

describe('healing on the real cluster', () => {
  it('heals a FAILED task that one restart fixes: RUNNING on the next ticks, then recovered', async () => {
    const name = uniqueName('heal-transient');
    const marker = join(cluster.markerDir, name);
    writeFileSync(marker, '');
    await createConnector(cluster, name, { 'task.fail': 'marker', 'task.fail.marker': marker });
    try {
      await statusWhen(cluster, name, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
      rmSync(marker);
      const settings = settingsFor(uniqueName('heal-transient'), url);
      const mark = logs.mark();

      const r0 = await runOnce(settings, 0);
      expect(brief(r0.healing, [name])).toEqual([`${name}#0 restarted 1`]);
      expect(healingOf(r0, name, 0)).toMatchObject({ Action: 'restart', HttpStatus: 202, NextAttemptAfter: at(2).toISOString() });
      expect(String(healingOf(r0, name, 0)!.Reason)).toContain('(1 task RESTARTING)');
      await statusWhen(cluster, name, (s) => s.tasks[0]?.state === 'RUNNING');
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes(name))).toEqual([`/connectors/${name}/restart?includeTasks=true&onlyFailed=true 202`]);
      expect(logs.taskStarts(mark, name, 0)).toBe(1);

      // The next tick (another process) reads it RUNNING and restarts nothing.
      const r1 = await runOnce(settings, 1);
      expect(r1.status.find((r) => r.ConnectorName === name && r.TaskId === 0)).toMatchObject({ State: 'RUNNING' });
      expect(brief(r1.healing, [name])).toEqual([]);
      // RUNNING for longer than the 2 min backoff after restart 1: the episode is over.
      const r4 = await runOnce(settings, 4);
      expect(brief(r4.healing, [name])).toEqual([`${name}#0 recovered 1`]);
      expect(r4.status.find((r) => r.ConnectorName === name && r.TaskId === 0)).toMatchObject({ State: 'RUNNING' });
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes(name))).toHaveLength(1);
      expect(logs.taskStarts(mark, name, 0)).toBe(1);
    } finally {
      await deleteConnectors(cluster, [name]);
    }
  });

  it('restarts a permanent failure on the backoff schedule, across ticks and process restarts (history in Azurite)', async () => {
    const name = uniqueName('heal-permanent');
    await createConnector(cluster, name, { 'task.fail': 'always' });
    try {
      await statusWhen(cluster, name, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
      const clusterName = uniqueName('heal-permanent');
      const settings = settingsFor(clusterName, url);
      const mark = logs.mark();
      const expectStarts = async (n: number) => {
        // Connect restarts asynchronously after the 202: wait for the new start and its failure.
        await failedAgain(cluster, logs, mark, name, 0, n);
        await logs.flush();
        expect(logs.taskStarts(mark, name, 0)).toBe(n);
        expect(logs.posts(mark).filter((p) => p.includes(name))).toEqual(Array.from({ length: n }, () => `/connectors/${name}/restart?includeTasks=true&onlyFailed=true 202`));
      };

      // Process 1: two ticks of one monitor, minutes 0 and 1.
      let minute = 0;
      const p1 = newMonitor(settings, () => at(minute));
      const t0 = await p1.tick();
      expect(brief(t0.healing, [name])).toEqual([`${name}#0 restarted 1`]);
      expect(healingOf(t0, name, 0)).toMatchObject({ HttpStatus: 202, NextAttemptAfter: at(2).toISOString() });
      await expectStarts(1);
      minute = 1;
      const t1 = await p1.tick();
      expect(brief(t1.healing, [name])).toEqual([`${name}#0 deferred-backoff 1`]);
      expect(healingOf(t1, name, 0)).toMatchObject({ Action: 'wait', NextAttemptAfter: at(2).toISOString() });
      await p1.close();
      await expectStarts(1);

      // Processes 2, 3, 4: a fresh monitor each, the history only in Table Storage.
      const r2 = await runOnce(settings, 2);
      expect(brief(r2.healing, [name])).toEqual([`${name}#0 restarted 2`]);
      expect(healingOf(r2, name, 0)).toMatchObject({ NextAttemptAfter: at(8).toISOString() });
      await expectStarts(2);
      const r3 = await runOnce(settings, 3);
      expect(brief(r3.healing, [name])).toEqual([`${name}#0 deferred-backoff 2`]);
      expect(healingOf(r3, name, 0)).toMatchObject({ NextAttemptAfter: at(8).toISOString() });
      const r7 = await runOnce(settings, 7);
      expect(brief(r7.healing, [name])).toEqual([`${name}#0 deferred-backoff 2`]);
      await expectStarts(2);
      const r8 = await runOnce(settings, 8);
      expect(brief(r8.healing, [name])).toEqual([`${name}#0 restarted 3`]);
      expect(healingOf(r8, name, 0)).toMatchObject({ NextAttemptAfter: at(20).toISOString() });
      await expectStarts(3);

      const store = TableHistoryStore.fromConfig(loadConfig(settings, { requireIngestion: false }).storage!);
      expect((await store.load(clusterName)).get(`t:0:${name}`)).toMatchObject({ attempts: 3, lastAttempt: at(8).toISOString() });
    } finally {
      await deleteConnectors(cluster, [name]);
    }
  });

  it('restarts a FAILED connector instance with KIP-745 (202 and a plan), and KIP-745 answers 202 when nothing failed', async () => {
    const healed = uniqueName('heal-conn');
    const broken = uniqueName('heal-conn-perm');
    const healthy = uniqueName('heal-conn-ok');
    const marker = join(cluster.markerDir, healed);
    writeFileSync(marker, '');
    await createConnector(cluster, healed, { 'connector.fail': 'marker', 'connector.fail.marker': marker });
    await createConnector(cluster, broken, { 'connector.fail': 'always', 'connector.fail.message': 'connector will not start' });
    await createConnector(cluster, healthy, {});
    try {
      for (const n of [healed, broken]) await statusWhen(cluster, n, (s) => s.connector.state === 'FAILED');
      await statusWhen(cluster, healthy, settled(1));
      // The creates' rebalances can start a connector again after it FAILED: the starts counted below are ours.
      await logs.settled([healed, broken, healthy]);
      rmSync(marker);
      const settings = settingsFor(uniqueName('heal-conn'), url);
      const mark = logs.mark();

      const r0 = await runOnce(settings, 0);
      expect(brief(r0.healing, [healed, broken, healthy]).sort()).toEqual([`${healed} restarted 1`, `${broken} restarted 1`].sort());
      for (const n of [healed, broken]) {
        expect(healingOf(r0, n)).toMatchObject({ Action: 'restart', HttpStatus: 202, NextAttemptAfter: at(2).toISOString() });
        // The plan is the leader's view, which can lag (3.9.2: nothing RESTARTING); the starts below are what happened.
        expect(String(healingOf(r0, n)!.Reason)).toMatch(/→ 202 \((connector RESTARTING|nothing RESTARTING in the leader's plan; the worker that runs it restarts what it sees FAILED)\)$/);
      }
      const s = await statusWhen(cluster, healed, (x) => x.connector.state === 'RUNNING' && x.tasks.length === 1 && x.tasks[0]!.state === 'RUNNING');
      expect(s.connector.trace).toBeUndefined();
      await statusWhen(cluster, broken, (x) => x.connector.state === 'FAILED' && logs.connectorStarts(mark, broken) === 1);
      await logs.flush();
      const posts = logs.posts(mark).filter((p) => p.includes('heal-conn'));
      expect(posts.sort()).toEqual([`/connectors/${broken}/restart?includeTasks=true&onlyFailed=true 202`, `/connectors/${healed}/restart?includeTasks=true&onlyFailed=true 202`].sort());
      expect([logs.connectorStarts(mark, healed), logs.connectorStarts(mark, broken), logs.connectorStarts(mark, healthy)]).toEqual([1, 1, 0]);

      const r1 = await runOnce(settings, 1);
      expect(r1.status.find((r) => r.ConnectorName === healed && r.RecordType === 'connector')).toMatchObject({ State: 'RUNNING', TasksTotal: 1, TasksRunning: 1 });
      expect(brief(r1.healing, [healed, broken, healthy])).toEqual([`${broken} deferred-backoff 1`]);

      // What the monitor never sends (it restarts only what failed), asked directly: the same call on a healthy
      // connector answers 202 with the plan, every state unchanged — not 204.
      const direct = await cluster.rest('POST', `/connectors/${healthy}/restart?includeTasks=true&onlyFailed=true`);
      expect(direct.status).toBe(202);
      expect(direct.json).toMatchObject({ name: healthy, connector: { state: 'RUNNING' }, tasks: [{ id: 0, state: 'RUNNING' }] });
    } finally {
      await deleteConnectors(cluster, [healed, broken, healthy]);
    }
  });

  it('restarts only the due task with POST …/tasks/N/restart when another failed task of the connector is in backoff', async () => {
    const name = uniqueName('heal-pertask');
    await createConnector(cluster, name, { 'tasks.max': '2', 'task.fail': 'always', 'task.fail.ids': '1' });
    try {
      await statusWhen(cluster, name, (s) => settled(2)(s) && s.tasks.find((t) => t.id === 1)?.state === 'FAILED' && s.tasks.find((t) => t.id === 0)?.state === 'RUNNING');
      const settings = settingsFor(uniqueName('heal-pertask'), url);
      let mark = logs.mark();
      // Minute 0: only task 1 failed, the connector's only failed part: one KIP-745 call.
      const r0 = await runOnce(settings, 0);
      expect(brief(r0.healing, [name])).toEqual([`${name}#1 restarted 1`]);
      await statusWhen(cluster, name, (s) => s.tasks.find((t) => t.id === 1)?.state === 'FAILED' && logs.taskStarts(mark, name, 1) === 1);
      expect(logs.taskStarts(mark, name, 0)).toBe(0);

      // Now task 0 fails too (a new config restarts both tasks).
      const put = await cluster.rest('PUT', `/connectors/${name}/config`, {
        body: { 'connector.class': 'kcmonitor.test.TroubleSourceConnector', 'tasks.max': '2', 'task.fail': 'always', 'task.fail.ids': '0,1' },
      });
      expect(put.status, put.text).toBe(200);
      await statusWhen(cluster, name, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'FAILED') && logs.taskStarts(mark, name, 0) >= 1 && logs.taskStarts(mark, name, 1) >= 2);
      await logs.flush();

      // Minute 1: task 0 due, task 1 waiting (restarted at 0, due at 2): the task alone, not KIP-745.
      mark = logs.mark();
      const r1 = await runOnce(settings, 1);
      expect(brief(r1.healing, [name])).toEqual([`${name}#0 restarted 1`, `${name}#1 deferred-backoff 1`]);
      expect(healingOf(r1, name, 0)).toMatchObject({ HttpStatus: 204, NextAttemptAfter: at(3).toISOString() });
      expect(healingOf(r1, name, 1)).toMatchObject({ NextAttemptAfter: at(2).toISOString() });
      await failedAgain(cluster, logs, mark, name, 0, 1);
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes(name))).toEqual([`/connectors/${name}/tasks/0/restart 204`]);
      expect([logs.taskStarts(mark, name, 0), logs.taskStarts(mark, name, 1)]).toEqual([1, 0]);
      expect(taskStates((await status(cluster, name))!)).toEqual(['FAILED', 'FAILED']);
    } finally {
      await deleteConnectors(cluster, [name]);
    }
  });
});
