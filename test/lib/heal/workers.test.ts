import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import { DEFAULT_SICK_WORKER, sickWorkers } from '../../../src/lib/heal/workers';

/** Tasks as "connector/worker:STATE" (worker empty for UNASSIGNED), numbered per connector in order. */
function cluster(...tasks: string[]): ConnectorStatus[] {
  const connectors = new Map<string, ConnectorStatus & { tasks: Array<ConnectorStatus['tasks'][number]> }>();
  for (const spec of tasks) {
    const [, name, workerId, state] = /^([^/]+)\/([^:]*):(\w+)$/.exec(spec)!;
    let c = connectors.get(name!);
    if (!c) connectors.set(name!, (c = { name: name!, state: 'RUNNING', tasks: [] }));
    c.tasks.push({ id: c.tasks.length, state: state!, ...(workerId && { workerId }) });
  }
  return [...connectors.values()];
}
const repeat = (n: number, spec: string) => Array.from({ length: n }, () => spec);
/** Healthy work elsewhere: n RUNNING tasks of connector `ok` on a worker. */
const healthy = (worker: string, n = 4) => repeat(n, `ok-${worker}/${worker}:RUNNING`);

describe('sickWorkers', () => {
  it.each<[string, string[], Array<[string, number, number, number]>]>([
    // name, tasks, sick workers as [worker, tasks, failed, share]
    ['3 of 4 failed on one worker, of two connectors, the other worker healthy: sick', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', 'b/w1:RUNNING', ...healthy('w2')], [['w1', 4, 3, 0.75]]],
    ['one connector failing on w1 that runs fine on w2: the host, sick', [...repeat(3, 'a/w1:FAILED'), ...repeat(2, 'a/w2:RUNNING'), ...healthy('w2')], [['w1', 3, 3, 1]]],
    ['one connector failing, all its tasks on w1 and nowhere else: the connector\'s own problem, not the host', [...repeat(3, 'a/w1:FAILED'), 'a/w1:RUNNING', ...healthy('w2')], []],
    ['exactly at both edges (3 failed, 50 %; the others at half that share): sick', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(3, 'c/w1:RUNNING'), 'd/w2:FAILED', ...repeat(3, 'e/w2:RUNNING')], [['w1', 6, 3, 0.5]]],
    ['just past the edge: the others above half its share', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(3, 'c/w1:RUNNING'), ...repeat(2, 'd/w2:FAILED'), ...repeat(5, 'e/w2:RUNNING')], []],
    ['2 failed, 100 %: under the count', [...repeat(2, 'a/w1:FAILED'), ...repeat(2, 'a/w2:RUNNING'), ...healthy('w2')], []],
    ['3 failed of 7 (43 %): under the share', ['a/w1:FAILED', ...repeat(2, 'b/w1:FAILED'), ...repeat(4, 'c/w1:RUNNING'), ...healthy('w2')], []],
    ['the others fail more than half as much: a shared cause, no host singled out', [...repeat(3, 'a/w1:FAILED'), 'b/w1:RUNNING', ...repeat(3, 'a/w2:FAILED'), ...repeat(2, 'b/w2:RUNNING')], []],
    ['every worker failing alike: a shared cause, not a host', [...repeat(3, 'a/w1:FAILED'), ...repeat(3, 'b/w2:FAILED')], []],
    ['one worker only: no peer to compare with', [...repeat(2, 'a/w1:FAILED'), ...repeat(2, 'b/w1:FAILED')], []],
    ['the worse of two failing workers, not the other (3/6 and 5/6 beside a healthy one)', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(3, 'c/w1:RUNNING'), ...repeat(3, 'a/w2:FAILED'), ...repeat(2, 'b/w2:FAILED'), 'c/w2:RUNNING', ...repeat(6, 'c/w3:RUNNING')], [['w2', 6, 5, 0.833]]],
    ['two sick of three', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(2, 'c/w2:FAILED'), ...repeat(2, 'd/w2:FAILED'), ...healthy('w3', 8)], [['w1', 3, 3, 1], ['w2', 4, 4, 1]]],
    ['UNASSIGNED tasks are on no worker', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(5, 'u/:UNASSIGNED'), ...healthy('w2')], [['w1', 3, 3, 1]]],
    ['UNASSIGNED tasks do not make the other workers look healthier', [...repeat(2, 'a/w1:FAILED'), 'b/w1:FAILED', ...repeat(3, 'c/w2:FAILED'), ...repeat(2, 'c/w2:RUNNING'), ...repeat(5, 'u/:UNASSIGNED')], []],
    ['one connector failing on w1 with no task RUNNING anywhere: its own problem', [...repeat(3, 'a/w1:FAILED'), ...healthy('w2')], []],
    ['a connector whose other tasks are PAUSED on another worker does not point at w1', [...repeat(3, 'a/w1:FAILED'), ...repeat(2, 'a/w2:PAUSED'), ...healthy('w2')], []],
    ['a connector RUNNING on w2 and on w1 too still runs elsewhere', [...repeat(3, 'a/w1:FAILED'), 'a/w2:RUNNING', 'a/w1:RUNNING', ...healthy('w2')], [['w1', 4, 3, 0.75]]],
    ['PAUSED is not FAILED', [...repeat(2, 'a/w1:PAUSED'), 'b/w1:PAUSED', ...healthy('w2')], []],
  ])('%s', (_name, tasks, expected) => {
    expect(sickWorkers(cluster(...tasks), DEFAULT_SICK_WORKER).map((w) => [w.workerId, w.tasks, w.failed, w.share])).toEqual(expected);
  });

  it('does not count connector instances: a connector that fails in start() is its config or its source, not the host', () => {
    const connectors: ConnectorStatus[] = [
      ...['a', 'b', 'c'].map((name): ConnectorStatus => ({ name, state: 'FAILED', workerId: 'w1', tasks: [] })),
      { name: 'd', state: 'RUNNING', workerId: 'w2', tasks: [{ id: 0, state: 'RUNNING', workerId: 'w2' }, { id: 1, state: 'RUNNING', workerId: 'w1' }] },
    ];
    expect(sickWorkers(connectors, DEFAULT_SICK_WORKER)).toEqual([]);
  });

  it('says how the other workers fare, together', () => {
    const [w1] = sickWorkers(cluster(...repeat(2, 'a/w1:FAILED'), ...repeat(2, 'b/w1:FAILED'), 'c/w2:FAILED', ...repeat(7, 'c/w2:RUNNING'), ...repeat(8, 'd/w3:RUNNING')), DEFAULT_SICK_WORKER);
    expect(w1).toEqual({ workerId: 'w1', tasks: 4, failed: 4, share: 1, peerTasks: 16, peerFailed: 1, peers: 2 });
  });

  it('the thresholds are settings', () => {
    const tasks = cluster('a/w1:FAILED', 'b/w1:FAILED', ...repeat(2, 'c/w1:RUNNING'), ...healthy('w2'));
    expect(sickWorkers(tasks, { minFailed: 2, minPercent: 50 })).toHaveLength(1);
    expect(sickWorkers(tasks, { minFailed: 2, minPercent: 51 })).toHaveLength(0);
    expect(sickWorkers(tasks, { minFailed: 3, minPercent: 50 })).toHaveLength(0);
  });
});
