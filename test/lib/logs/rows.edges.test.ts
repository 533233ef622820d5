import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import type { DeliveryReport } from '../../../src/lib/logs/delivery';
import type { HealOutcome } from '../../../src/lib/heal/healer';
import { type RowPlan, RowMemory, fitValues, healingRows, monitorRows, statusRows } from '../../../src/lib/logs/rows';
import { HEALING_TABLE, MAX_VALUE_BYTES } from '../../../src/lib/logs/schema';
import { expectRowsFitSchema } from '../../helpers/schema';

/** The edges of the row builders: each case a behaviour a mutant of src/lib/logs/rows.ts broke unnoticed. */
const stamp = { timeGenerated: '2026-11-22T08:00:00.000Z', correlationId: 'tick-1' };
const T = stamp.timeGenerated;

/** A lean tick (not the hour's detail tick) that records which trace keys it was asked about. */
function leanPlan(): RowPlan & { asked: string[] } {
  const asked: string[] = [];
  return { detail: false, asked, traceIsNew: (key) => (asked.push(key), true), decisionIsNew: () => true };
}

describe('statusRows', () => {
  it('gives a STOPPED connector without tasks its full row on a lean tick: only a RUNNING one is healthy', () => {
    const stopped: ConnectorStatus = { name: 's', type: 'source', connectorClass: 'com.example.Source', state: 'STOPPED', workerId: 'w1', tasks: [], tasksMax: 1 };
    expect(statusRows(stamp, { cluster: 'east', connectors: [stopped] }, leanPlan())[1]).toStrictEqual({
      TimeGenerated: T,
      Cluster: 'east',
      RecordType: 'connector',
      ConnectorName: 's',
      ConnectorType: 'source',
      ConnectorClass: 'com.example.Source',
      State: 'STOPPED',
      WorkerId: 'w1',
      TasksTotal: 0,
      TasksRunning: 0,
      TasksFailed: 0,
      TasksMax: 1,
    });
  });

  it('gives a RUNNING connector with a detail its full row and the detail', () => {
    const rows = statusRows(stamp, { cluster: 'east', connectors: [{ name: 'r', state: 'RUNNING', tasks: [], detail: '1 task entry without a valid id ignored' }] }, leanPlan());
    expect(rows[1]).toStrictEqual({ TimeGenerated: T, Cluster: 'east', RecordType: 'connector', ConnectorName: 'r', State: 'RUNNING', TasksTotal: 0, TasksRunning: 0, TasksFailed: 0, Detail: '1 task entry without a valid id ignored' });
  });

  it('asks about each trace by cluster and target, so two targets with the same trace are told apart', () => {
    const plan = leanPlan();
    const rows = statusRows(stamp, { cluster: 'east', connectors: [{ name: 'a', state: 'FAILED', trace: 'boom', tasks: [{ id: 0, state: 'FAILED', trace: 'boom' }, { id: 1, state: 'RUNNING' }, { id: 12, state: 'FAILED', trace: 'boom' }] }] }, plan);
    expect(plan.asked).toEqual(['east|c:a', 'east|t:0:a', 'east|t:12:a']);
    expect(rows.filter((r) => r.Trace === 'boom')).toHaveLength(3);
  });

  it('ships a trace only when the plan says it is new', () => {
    const plan: RowPlan = { detail: true, traceIsNew: (key) => key === 'east|t:0:a', decisionIsNew: () => true };
    const rows = statusRows(stamp, { cluster: 'east', connectors: [{ name: 'a', state: 'FAILED', trace: 'c-trace', tasks: [{ id: 0, state: 'FAILED', trace: 't-trace' }] }] });
    expect(rows.map((r) => r.Trace)).toEqual([undefined, 'c-trace', 't-trace']);
    expect(statusRows(stamp, { cluster: 'east', connectors: [{ name: 'a', state: 'FAILED', trace: 'c-trace', tasks: [{ id: 0, state: 'FAILED', trace: 't-trace' }] }] }, plan).map((r) => r.Trace)).toEqual([undefined, undefined, 't-trace']);
  });

  it.each<[string, { unhealthy?: string; warning?: string }, string, string]>([
    ['an unhealthy worker (GET /health)', { unhealthy: 'Worker is still starting up' }, 'UNHEALTHY', 'Worker is still starting up'],
    ['unhealthy, and its version unknown', { unhealthy: 'Worker is still starting up', warning: 'version unknown' }, 'UNHEALTHY', 'Worker is still starting up; version unknown'],
  ])('writes the cluster row of %s', (_name, snapshot, state, detail) => {
    expect(statusRows(stamp, { cluster: 'east', connectors: [], ...snapshot })).toStrictEqual([{ TimeGenerated: T, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'cluster', State: state, Detail: detail }]);
  });

  it('writes a row per sick worker, after the connectors, every tick (lean ones too)', () => {
    const rows = statusRows(stamp, { cluster: 'east', connectors: [] }, leanPlan(), [
      { workerId: 'w1:8083', tasks: 4, failed: 3, share: 0.75, peerTasks: 10, peerFailed: 6, peers: 2 },
      { workerId: 'w2:8083', tasks: 6, failed: 6, share: 1, peerTasks: 4, peerFailed: 1, peers: 1 },
    ]);
    expect(rows.slice(1)).toStrictEqual([
      { TimeGenerated: T, Cluster: 'east', RecordType: 'worker', State: 'SICK', WorkerId: 'w1:8083', TasksTotal: 4, TasksFailed: 3, FailedShare: 0.75, Detail: "3 of its 4 tasks FAILED, against 6 of 10 on the 2 other workers: look at this worker's host and log" },
      { TimeGenerated: T, Cluster: 'east', RecordType: 'worker', State: 'SICK', WorkerId: 'w2:8083', TasksTotal: 6, TasksFailed: 6, FailedShare: 1, Detail: "6 of its 6 tasks FAILED, against 1 of 4 on the other worker: look at this worker's host and log" },
    ]);
    expectRowsFitSchema(rows);
  });

  it('says what is off with a cluster that was read, without an error', () => {
    expect(statusRows(stamp, { cluster: 'east', connectors: [], warning: 'version unknown: GET / answered 500' })).toStrictEqual([
      { TimeGenerated: T, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'cluster', State: 'REACHABLE', Detail: 'version unknown: GET / answered 500' },
    ]);
  });
});

describe('RowMemory', () => {
  it('a lean plan committed late does not move the hour of the last detail tick', () => {
    const memory = new RowMemory();
    const nine = new Date('2026-11-22T09:00:00Z');
    memory.commit(memory.plan(new Date('2026-11-22T08:00:00Z')));
    const lean = memory.plan(new Date('2026-11-22T08:30:00Z'));
    const detail = memory.plan(nine);
    expect([lean.detail, detail.detail]).toEqual([false, true]);
    memory.commit(detail);
    memory.commit(lean);
    expect(memory.plan(new Date('2026-11-22T09:05:00Z')).detail).toBe(false);
  });
});

describe('monitorRows', () => {
  const none: DeliveryReport = { shipped: [], replayed: 0, spooled: 0, spooledBecause: [], mayRepeat: [], dropped: [], problems: [] };
  const base = { TimeGenerated: T, CorrelationId: 'tick-1', Cluster: '', RecordType: 'monitor' };

  it('writes nothing when every row was shipped and the tick ended in time', () => {
    expect(monitorRows(stamp, none)).toEqual([]);
  });

  it.each<[string, Partial<DeliveryReport>, string | undefined, object[]]>([
    [
      'rows spooled, the biggest reason first',
      { spooled: 7, spooledBecause: [{ rows: 2, reason: 'HTTP 503' }, { rows: 5, reason: 'timed out' }] },
      undefined,
      [{ State: 'ROWS_SPOOLED', RowCount: 7, Detail: '7 rows were not acknowledged by the Logs Ingestion API and were spooled for the next tick: 5 timed out; 2 HTTP 503' }],
    ],
    ['rows replayed', { replayed: 3 }, undefined, [{ State: 'ROWS_REPLAYED', RowCount: 3, Detail: '3 rows spooled by earlier ticks were shipped, with their original TimeGenerated' }]],
    [
      'rows dropped, one row per stream',
      { dropped: [{ stream: 'Custom-KafkaConnectStatus', rows: 4, reason: 'older than 2 days' }, { stream: 'Custom-KafkaConnectHealing', rows: 1, reason: 'refused as bad data' }] },
      undefined,
      [
        { State: 'ROWS_DROPPED', RowCount: 4, Detail: '4 rows of Custom-KafkaConnectStatus dropped: older than 2 days' },
        { State: 'ROWS_DROPPED', RowCount: 1, Detail: '1 rows of Custom-KafkaConnectHealing dropped: refused as bad data' },
      ],
    ],
    ['the spool failing', { problems: ['disk full', 'lock lost'] }, undefined, [{ State: 'SPOOL_FAILED', Detail: 'disk full' }, { State: 'SPOOL_FAILED', Detail: 'lock lost' }]],
    ['the deadline', {}, 'stopped after 2 of 3 clusters', [{ State: 'DEADLINE_REACHED', Detail: 'stopped after 2 of 3 clusters' }]],
    [
      'everything at once, in that order',
      { spooled: 1, spooledBecause: [{ rows: 1, reason: 'x' }], replayed: 2, dropped: [{ stream: 's', rows: 3, reason: 'y' }], problems: ['z'] },
      'late',
      [
        { State: 'ROWS_SPOOLED', RowCount: 1, Detail: '1 rows were not acknowledged by the Logs Ingestion API and were spooled for the next tick: 1 x' },
        { State: 'ROWS_REPLAYED', RowCount: 2, Detail: '2 rows spooled by earlier ticks were shipped, with their original TimeGenerated' },
        { State: 'ROWS_DROPPED', RowCount: 3, Detail: '3 rows of s dropped: y' },
        { State: 'SPOOL_FAILED', Detail: 'z' },
        { State: 'DEADLINE_REACHED', Detail: 'late' },
      ],
    ],
  ])('%s', (_name, report, deadline, rows) => {
    const out = monitorRows(stamp, { ...none, ...report }, deadline);
    expect(out).toStrictEqual(rows.map((r) => ({ ...base, ...r })));
    expectRowsFitSchema(out);
  });
});

describe('healingRows', () => {
  const healing = (...outcomes: HealOutcome[]) => ({ cluster: 'east', outcomes, restartCalls: 0 });
  const base = { TimeGenerated: T, CorrelationId: 'tick-1', Cluster: 'east' };

  it.each<[string, HealOutcome, object]>([
    [
      'a restart of a task, with every column it has',
      { target: { connector: 'a', taskId: 0 }, action: 'restart', outcome: 'restarted', attempt: 3, nextAttemptAfter: '2026-11-22T08:12:00.000Z', reason: 'POST …/tasks/0/restart → 204', httpStatus: 204 },
      { ConnectorName: 'a', TaskId: 0, Action: 'restart', Outcome: 'restarted', Attempt: 3, NextAttemptAfter: '2026-11-22T08:12:00.000Z', Reason: 'POST …/tasks/0/restart → 204', HttpStatus: 204 },
    ],
    [
      'a connector held back by a pattern, flapping',
      { target: { connector: 'a' }, action: 'skip', outcome: 'skipped-non-transient', attempt: 0, reason: 'a restart cannot fix this', pattern: 'ConfigException', flapping: true },
      { ConnectorName: 'a', Action: 'skip', Outcome: 'skipped-non-transient', Attempt: 0, Reason: 'a restart cannot fix this', Pattern: 'ConfigException', Flapping: true },
    ],
    [
      'a recovery, with its time to recover (0 minutes is a time)',
      { target: { connector: 'a', taskId: 2 }, action: 'report', outcome: 'recovered', attempt: 1, reason: 'RUNNING again', recoveryMinutes: 0 },
      { ConnectorName: 'a', TaskId: 2, Action: 'report', Outcome: 'recovered', Attempt: 1, Reason: 'RUNNING again', TimeToRecoverMinutes: 0 },
    ],
    [
      'a cluster-level note: no target, no attempt',
      { action: 'report', outcome: 'history-unavailable', reason: 'restart history unavailable', flapping: false, pattern: '' },
      { Action: 'report', Outcome: 'history-unavailable', Reason: 'restart history unavailable' },
    ],
  ])('%s', (_name, outcome, row) => {
    const rows = healingRows(stamp, healing(outcome));
    expect(rows).toStrictEqual([{ ...base, ...row }]);
    expectRowsFitSchema(rows, HEALING_TABLE.columns);
  });
});

describe('fitValues', () => {
  it('leaves a value of exactly 64 KB whole, and the row itself', () => {
    const row = { Detail: 'x'.repeat(MAX_VALUE_BYTES), State: 'ok' };
    expect(fitValues(row)).toBe(row);
  });

  it('cuts one byte more, visibly, and only that value', () => {
    const row = { Detail: 'x'.repeat(MAX_VALUE_BYTES + 1), State: 'ok', TaskId: 1 };
    const fitted = fitValues(row);
    expect(fitted).toStrictEqual({ Detail: `${'x'.repeat(MAX_VALUE_BYTES - 16)} …[cut]`, State: 'ok', TaskId: 1 });
    expect(row.Detail).toHaveLength(MAX_VALUE_BYTES + 1);
  });
});
