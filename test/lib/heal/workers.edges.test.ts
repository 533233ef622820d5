import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import { sickWorkers } from '../../../src/lib/heal/workers';

/** The edges of the sick-worker check: each case a behaviour a mutant of src/lib/heal/workers.ts broke unnoticed. */
describe('sickWorkers', () => {
  it('lists the sick workers by id, whatever the order they were first seen in', () => {
    const tasks = (workerId: string, states: string[]) => states.map((state, id) => ({ id, state, workerId }));
    // a and b run on w2 too: their failures on w1 and w3 point at those hosts.
    const connectors: ConnectorStatus[] = [
      { name: 'a', state: 'RUNNING', tasks: [...tasks('w3:8083', ['FAILED', 'FAILED', 'FAILED']), { id: 3, state: 'RUNNING', workerId: 'w2:8083' }] },
      { name: 'b', state: 'RUNNING', tasks: [...tasks('w1:8083', ['FAILED', 'FAILED', 'FAILED', 'RUNNING']), { id: 4, state: 'RUNNING', workerId: 'w2:8083' }] },
      { name: 'c', state: 'RUNNING', tasks: tasks('w2:8083', Array.from({ length: 12 }, () => 'RUNNING')) },
    ];
    expect(sickWorkers(connectors, { minFailed: 3, minPercent: 50 })).toStrictEqual([
      { workerId: 'w1:8083', tasks: 4, failed: 3, share: 0.75, peerTasks: 17, peerFailed: 3, peers: 2 },
      { workerId: 'w3:8083', tasks: 3, failed: 3, share: 1, peerTasks: 18, peerFailed: 3, peers: 2 },
    ]);
  });
});
