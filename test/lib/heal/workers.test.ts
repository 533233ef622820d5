import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import { DEFAULT_SICK_WORKER, sickWorkers } from '../../../src/lib/heal/workers';

/** Tasks as "worker:state" pairs, spread over connectors of four tasks each. */
function cluster(...tasks: string[]): ConnectorStatus[] {
  const connectors: ConnectorStatus[] = [];
  tasks.forEach((spec, i) => {
    const [workerId, state] = spec.split(':') as [string, string];
    if (i % 4 === 0) connectors.push({ name: `c${i / 4}`, state: 'RUNNING', tasks: [] });
    (connectors.at(-1)!.tasks as Array<ConnectorStatus['tasks'][number]>).push({ id: i % 4, state, ...(workerId && { workerId }) });
  });
  return connectors;
}
const repeat = (n: number, spec: string) => Array.from({ length: n }, () => spec);

describe('sickWorkers', () => {
  it.each<[string, string[], Array<[string, number, number, number]>]>([
    // name, tasks, sick workers as [worker, tasks, failed, share]
    ['3 of 4 failed on one worker, the other healthy: sick', [...repeat(3, 'w1:FAILED'), 'w1:RUNNING', ...repeat(4, 'w2:RUNNING')], [['w1', 4, 3, 0.75]]],
    ['exactly at both edges (3 failed, 50 %): sick', [...repeat(3, 'w1:FAILED'), ...repeat(3, 'w1:RUNNING'), ...repeat(4, 'w2:RUNNING')], [['w1', 6, 3, 0.5]]],
    ['2 failed, 100 %: under the count', [...repeat(2, 'w1:FAILED'), ...repeat(4, 'w2:RUNNING')], []],
    ['3 failed of 7 (43 %): under the share', [...repeat(3, 'w1:FAILED'), ...repeat(4, 'w1:RUNNING'), ...repeat(4, 'w2:RUNNING')], []],
    ['every worker failing alike: a shared cause, not a host', [...repeat(3, 'w1:FAILED'), ...repeat(3, 'w2:FAILED')], []],
    ['one worker only: no healthy peer to compare with', repeat(4, 'w1:FAILED'), []],
    ['two sick of three', [...repeat(3, 'w1:FAILED'), ...repeat(4, 'w2:FAILED'), ...repeat(4, 'w3:RUNNING')], [['w1', 3, 3, 1], ['w2', 4, 4, 1]]],
    ['UNASSIGNED tasks are on no worker', [...repeat(3, 'w1:FAILED'), ...repeat(5, ':UNASSIGNED'), ...repeat(4, 'w2:RUNNING')], [['w1', 3, 3, 1]]],
    ['PAUSED is not FAILED', [...repeat(3, 'w1:PAUSED'), ...repeat(4, 'w2:RUNNING')], []],
  ])('%s', (_name, tasks, expected) => {
    expect(sickWorkers(cluster(...tasks), DEFAULT_SICK_WORKER).map((w) => [w.workerId, w.tasks, w.failed, w.share])).toEqual(expected);
  });

  it('counts connector instances on their worker too: a FAILED connector is a failure on that host', () => {
    const connectors: ConnectorStatus[] = [
      ...['a', 'b', 'c'].map((name): ConnectorStatus => ({ name, state: 'FAILED', workerId: 'w1', tasks: [] })),
      { name: 'd', state: 'RUNNING', workerId: 'w2', tasks: [{ id: 0, state: 'RUNNING', workerId: 'w2' }, { id: 1, state: 'RUNNING', workerId: 'w1' }] },
    ];
    expect(sickWorkers(connectors, DEFAULT_SICK_WORKER)).toEqual([{ workerId: 'w1', tasks: 4, failed: 3, share: 0.75, peerTasks: 2, peerFailed: 0, peers: 1 }]);
  });

  it('says how the other workers fare, together: not "healthy" when they have failures of their own', () => {
    const [w1] = sickWorkers(cluster(...repeat(4, 'w1:FAILED'), 'w2:FAILED', ...repeat(3, 'w2:RUNNING'), ...repeat(2, 'w3:FAILED'), ...repeat(2, 'w3:RUNNING')), DEFAULT_SICK_WORKER);
    expect(w1).toEqual({ workerId: 'w1', tasks: 4, failed: 4, share: 1, peerTasks: 8, peerFailed: 3, peers: 2 });
  });

  it('the thresholds are settings', () => {
    const tasks = cluster(...repeat(2, 'w1:FAILED'), ...repeat(2, 'w1:RUNNING'), ...repeat(4, 'w2:RUNNING'));
    expect(sickWorkers(tasks, { minFailed: 2, minPercent: 50 })).toHaveLength(1);
    expect(sickWorkers(tasks, { minFailed: 2, minPercent: 51 })).toHaveLength(0);
    expect(sickWorkers(tasks, { minFailed: 3, minPercent: 50 })).toHaveLength(0);
  });
});
