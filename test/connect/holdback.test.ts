import { describe, expect, it } from 'vitest';
import { testConnectCluster } from './harness';
import { WorkerLogs, brief, createConnector, deleteConnectors, failedAgain, healingOf, runOnce, settingsFor, settled, status, statusWhen, uniqueName } from './support';

/**
 * What the monitor must never restart on the real cluster: a failure whose real trace is a ConfigException,
 * and connectors a human paused or stopped. Checked in Connect's own request log: no POST reached it.
 */
const cluster = testConnectCluster();
const logs = new WorkerLogs(cluster);
const url = cluster.workers[0]!.url;

describe('held back on the real cluster', () => {
  it('never restarts a task or connector whose trace is a ConfigException (skipped-non-transient)', async () => {
    const task = uniqueName('hold-cfg-task');
    const conn = uniqueName('hold-cfg-conn');
    const fail = {
      class: 'org.apache.kafka.common.config.ConfigException',
      message: 'Invalid value jdbc:postgresql://db/x for configuration connection.url',
      cause: 'Connection refused',
    };
    await createConnector(cluster, task, { 'task.fail': 'always', 'task.fail.class': fail.class, 'task.fail.message': fail.message, 'task.fail.cause': fail.cause });
    await createConnector(cluster, conn, { 'connector.fail': 'always', 'connector.fail.class': fail.class, 'connector.fail.message': fail.message });
    try {
      const ts = await statusWhen(cluster, task, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
      expect(ts.tasks[0]!.trace!.split('\n')[0]).toBe(`${fail.class}: ${fail.message}`);
      const cs = await statusWhen(cluster, conn, (s) => s.connector.state === 'FAILED');
      expect(cs.connector.trace!.split('\n')[0]).toBe(`${fail.class}: ${fail.message}`);
      const settings = settingsFor(uniqueName('hold-cfg'), url);
      // No start after the mark may come from a rebalance: the counts below must be the monitor's.
      await logs.settled([task, conn]);
      const mark = logs.mark();
      for (const minute of [0, 5, 61]) {
        const r = await runOnce(settings, minute);
        expect(brief(r.healing, [task, conn]).sort()).toEqual([`${conn} skipped-non-transient 0`, `${task}#0 skipped-non-transient 0`].sort());
        for (const row of [healingOf(r, task, 0), healingOf(r, conn)]) {
          expect(row).toMatchObject({ Action: 'skip', Pattern: 'org\\.apache\\.kafka\\.common\\.config\\.ConfigException' });
          expect(String(row!.Reason)).toContain('a restart cannot fix this');
        }
      }
      await logs.flush();
      expect(logs.posts(mark).filter((p) => p.includes('hold-cfg'))).toEqual([]);
      expect([logs.taskStarts(mark, task, 0), logs.connectorStarts(mark, conn)]).toEqual([0, 0]);
      expect((await status(cluster, task))!.tasks[0]!.state).toBe('FAILED');
    } finally {
      await deleteConnectors(cluster, [task, conn]);
    }
  });

  it('never restarts a PAUSED or a STOPPED connector, not even its failed tasks', async () => {
    const paused = uniqueName('hold-paused');
    const stopped = uniqueName('hold-stopped');
    const control = uniqueName('hold-control');
    for (const n of [paused, stopped, control]) await createConnector(cluster, n, { 'tasks.max': '2', 'task.fail': 'always', 'task.fail.ids': '0' });
    try {
      for (const n of [paused, stopped, control]) await statusWhen(cluster, n, (s) => settled(2)(s) && s.tasks.some((t) => t.state === 'FAILED'));
      expect((await cluster.rest('PUT', `/connectors/${paused}/pause`)).status).toBe(202);
      const stop = await cluster.rest('PUT', `/connectors/${stopped}/stop`);
      expect([stop.status, stop.text]).toEqual([204, '']);
      const pausedAt = Date.now();
      const p = await statusWhen(cluster, paused, (s) => s.connector.state === 'PAUSED' && s.tasks.find((t) => t.id === 1)?.state === 'PAUSED', 45_000);
      // What real Connect shows: the failed task of a paused connector stays FAILED, with its trace, under the
      // PAUSED connector for a while before it too shows PAUSED (seen both ways; measured below).
      const task0 = () => p.tasks.find((t) => t.id === 0)!;
      process.stderr.write(`[holdback] ${Date.now() - pausedAt} ms after PUT …/pause: connector PAUSED, task 1 PAUSED, task 0 ${task0().state}${task0().trace ? ' with trace' : ''}\n`);
      await statusWhen(cluster, stopped, (s) => s.connector.state === 'STOPPED' && s.tasks.length === 0);

      const settings = settingsFor(uniqueName('hold-ps'), url);
      // The stop's rebalance can move the control's task: its starts after the mark must be the restarts.
      await logs.settled([paused, stopped, control]);
      const mark = logs.mark();
      const pausedHealing: string[] = [];
      const tick = async (minute: number) => {
        const r = await runOnce(settings, minute);
        // The control connector (same failure, RUNNING) is restarted; the stopped one is not touched.
        expect(brief(r.healing, [stopped, control])).toEqual([`${control}#0 ${minute === 0 ? 'restarted 1' : 'restarted 2'}`]);
        pausedHealing.push(...r.healing.filter((x) => x.ConnectorName === paused).map((x) => `minute ${minute}: ${brief([x])[0]!} ${String(x.HttpStatus)} ${String(x.Reason)}`));
        expect(r.status.find((x) => x.ConnectorName === paused && x.RecordType === 'connector')).toMatchObject({ State: 'PAUSED', TasksTotal: 2 });
        const pausedTasks = r.status.filter((x) => x.ConnectorName === paused && x.RecordType === 'task').map((x) => `${String(x.TaskId)} ${String(x.State)}`).sort();
        process.stderr.write(`[holdback] minute ${minute}: paused connector's tasks as the tick read them: ${pausedTasks.join(', ')}\n`);
        expect(r.status.find((x) => x.ConnectorName === stopped && x.RecordType === 'connector')).toMatchObject({ State: 'STOPPED', TasksTotal: 0 });
        expect(r.status.filter((x) => x.ConnectorName === stopped && x.RecordType === 'task')).toEqual([]);
        await failedAgain(cluster, logs, mark, control, 0, minute === 0 ? 1 : 2);
      };
      // A tick at once (the failed task may still show FAILED), and one after the paused connector settled.
      await tick(0);
      // Up to 3 s for the failed task to show PAUSED too: it was seen to stay FAILED (9 s and more, 4.4.0 and 3.9.2).
      const settledPaused = await statusWhen(cluster, paused, (s) => s.tasks.length === 2 && s.tasks.every((t) => t.state === 'PAUSED'), 3_000).catch(() => status(cluster, paused));
      process.stderr.write(`[holdback] ${Date.now() - pausedAt} ms after PUT …/pause: tasks ${JSON.stringify(settledPaused?.tasks.map((t) => [t.id, t.state, t.trace ? 'trace' : '']))}\n`);
      await tick(30);
      await logs.flush();
      const posts = logs.posts(mark).filter((x) => x.includes('hold-'));
      const pausedStarts = [0, 1].map((id) => logs.taskStarts(mark, paused, id));
      const after = (await status(cluster, paused))!;
      process.stderr.write(
        `[holdback] paused connector: healing ${JSON.stringify(pausedHealing)}; posts ${JSON.stringify(posts)}; task starts ${JSON.stringify(pausedStarts)}; status after ${JSON.stringify(after)}\n`,
      );
      expect(posts.filter((x) => x.includes(control))).toEqual(Array.from({ length: 2 }, () => `/connectors/${control}/restart?includeTasks=true&onlyFailed=true 202`));
      expect([0, 1].map((id) => logs.taskStarts(mark, stopped, id))).toEqual([0, 0]);
      expect((await status(cluster, stopped))!.connector.state).toBe('STOPPED');
      expect(after.connector.state).toBe('PAUSED');
      // The paused connector: never restarted, not even its FAILED task; a row may say why it was held back.
      expect(pausedHealing.filter((x) => !/ skipped-paused 0 undefined /.test(x))).toEqual([]);
      expect(posts.filter((x) => x.includes(paused))).toEqual([]);
    } finally {
      await deleteConnectors(cluster, [paused, stopped, control]);
    }
  });
});
