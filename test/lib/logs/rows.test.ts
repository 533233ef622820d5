import { describe, expect, it } from 'vitest';
import { ConnectError } from '../../../src/lib/errors';
import type { HealOutcome } from '../../../src/lib/heal/healer';
import { type HealingRow, RowMemory, type StatusRow, fitValues, healingRows, statusRows } from '../../../src/lib/logs/rows';
import { HEALING_TABLE, MAX_VALUE_BYTES, STATUS_TABLE, TABLES } from '../../../src/lib/logs/schema';
import { utf8Length } from '../../../src/lib/redact';
import { expectRowsFitSchema } from '../../helpers/schema';

const stamp = { timeGenerated: '2026-11-22T08:00:00.000Z', correlationId: 'tick-1' };

describe('statusRows', () => {
  it('writes one cluster row (with the correlation id), one per connector and one per task, all at the tick\'s time', () => {
    const rows = statusRows(stamp, {
      cluster: 'east',
      version: '3.7.0',
      connectors: [
        {
          name: 'jdbc-sink',
          type: 'sink',
          connectorClass: 'io.confluent.connect.jdbc.JdbcSinkConnector',
          tasksMax: 3,
          state: 'RUNNING',
          workerId: 'w1:8083',
          tasks: [
            { id: 0, state: 'RUNNING', workerId: 'w1:8083' },
            { id: 1, state: 'FAILED', workerId: 'w2:8083', trace: 'boom' },
          ],
        },
        { name: 'stopped one', state: 'STOPPED', tasks: [] },
      ],
    });
    expect(rows).toEqual<StatusRow[]>([
      { TimeGenerated: stamp.timeGenerated, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'cluster', State: 'REACHABLE', ConnectVersion: '3.7.0' },
      {
        TimeGenerated: stamp.timeGenerated,
        Cluster: 'east',
        RecordType: 'connector',
        ConnectorName: 'jdbc-sink',
        ConnectorType: 'sink',
        ConnectorClass: 'io.confluent.connect.jdbc.JdbcSinkConnector',
        State: 'RUNNING',
        WorkerId: 'w1:8083',
        TasksTotal: 2,
        TasksRunning: 1,
        TasksFailed: 1,
        TasksMax: 3,
      },
      { TimeGenerated: stamp.timeGenerated, Cluster: 'east', RecordType: 'task', ConnectorName: 'jdbc-sink', ConnectorType: 'sink', TaskId: 0, State: 'RUNNING', WorkerId: 'w1:8083' },
      { TimeGenerated: stamp.timeGenerated, Cluster: 'east', RecordType: 'task', ConnectorName: 'jdbc-sink', ConnectorType: 'sink', TaskId: 1, State: 'FAILED', WorkerId: 'w2:8083', Trace: 'boom' },
      { TimeGenerated: stamp.timeGenerated, Cluster: 'east', RecordType: 'connector', ConnectorName: 'stopped one', State: 'STOPPED', TasksTotal: 0, TasksRunning: 0, TasksFailed: 0 },
    ]);
    expectRowsFitSchema(rows);
  });

  it('writes a cluster that could not be read as its failure with the detail', () => {
    const error = new ConnectError('west', 'UNAUTHORIZED', 'GET', '/', 'User cannot access the resource.', 401);
    const rows = statusRows(stamp, { cluster: 'west', connectors: [], error });
    expect(rows).toEqual([
      { TimeGenerated: stamp.timeGenerated, CorrelationId: 'tick-1', Cluster: 'west', RecordType: 'cluster', State: 'UNAUTHORIZED', Detail: 'west: GET / → 401 UNAUTHORIZED: User cannot access the resource.' },
    ]);
    expectRowsFitSchema(rows);
  });

  it('cuts any value over 64 KB on a character boundary', () => {
    const row = fitValues({ Detail: 'é'.repeat(MAX_VALUE_BYTES), State: 'ok' });
    expect(utf8Length(row.Detail)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(row.Detail.endsWith('…[cut]')).toBe(true);
    expect(row.State).toBe('ok');
  });
});

describe('lean rows between detail ticks', () => {
  const snapshot = (trace: string): Parameters<typeof statusRows>[1] => ({
    cluster: 'east',
    connectors: [
      { name: 'healthy', type: 'sink', connectorClass: 'com.example.Sink', tasksMax: 2, state: 'RUNNING', workerId: 'w1', tasks: [{ id: 0, state: 'RUNNING', workerId: 'w1' }, { id: 1, state: 'RUNNING', workerId: 'w2' }] },
      { name: 'sick', type: 'sink', state: 'RUNNING', workerId: 'w1', tasks: [{ id: 0, state: 'RUNNING', workerId: 'w1' }, { id: 1, state: 'FAILED', workerId: 'w2', trace }] },
    ],
  });
  const shape = (rows: StatusRow[]) => rows.map((r) => `${r.RecordType}:${r.ConnectorName ?? ''}${r.TaskId !== undefined ? `#${r.TaskId}` : ''}${r.Trace ? '+trace' : ''}${r.ConnectorClass ? '+class' : ''}`);
  const at = (minute: number) => new Date(Date.parse('2026-11-22T08:00:00Z') + minute * 60_000);

  const ALL = ['cluster:', 'connector:healthy+class', 'task:healthy#0', 'task:healthy#1', 'connector:sick', 'task:sick#0', 'task:sick#1+trace'];
  const LEAN = ['cluster:', 'connector:healthy', 'connector:sick', 'task:sick#1'];
  const FIVE_MINUTES = 300_000;
  it.each<[string, number | undefined, number[], string, string[]]>([
    ['the first tick of a worker, schedule unknown: everything', undefined, [0], 'boom', ALL],
    ['the next tick of the hour: a lean healthy connector, no RUNNING task, no repeated trace', undefined, [0, 5], 'boom', LEAN],
    ['a changed trace is shipped again', undefined, [0, 5], 'boom v2', [...LEAN.slice(0, 3), 'task:sick#1+trace']],
    ['the first tick of the next hour ships everything again', undefined, [0, 5, 60], 'boom', ALL],
    ['every 5 minutes: the tick at :00 is the detail tick', FIVE_MINUTES, [0], 'boom', ALL],
    ['every 5 minutes: a new worker at :05 is lean (a recycled worker is no reason for detail), its traces new to it', FIVE_MINUTES, [5], 'boom', [...LEAN.slice(0, 3), 'task:sick#1+trace']],
    ['every 5 minutes: :55 lean, :00 detail', FIVE_MINUTES, [55, 60], 'boom', ALL],
  ])('%s', (_name, intervalMs, minutes, lastTrace, expected) => {
    const memory = new RowMemory(intervalMs);
    let rows: StatusRow[] = [];
    minutes.forEach((m, i) => {
      const plan = memory.plan(at(m));
      rows = statusRows(stamp, snapshot(i === minutes.length - 1 ? lastTrace : 'boom'), plan);
      memory.commit(plan);
    });
    expect(shape(rows)).toEqual(expected);
    expectRowsFitSchema(rows);
  });

  it('remembers nothing of a plan whose rows were not kept: the trace goes again next tick', () => {
    const memory = new RowMemory();
    statusRows(stamp, snapshot('boom'), memory.plan(at(0))); // rows dropped: no commit
    const plan = memory.plan(at(5));
    expect(shape(statusRows(stamp, snapshot('boom'), plan))).toEqual(ALL);
  });

  it('keeps in a lean connector row what the alert and the health chart read', () => {
    const memory = new RowMemory();
    memory.commit(memory.plan(at(0)));
    const [, healthy] = statusRows(stamp, snapshot('boom'), memory.plan(at(5)));
    expect(healthy).toEqual({ TimeGenerated: stamp.timeGenerated, Cluster: 'east', RecordType: 'connector', ConnectorName: 'healthy', State: 'RUNNING', TasksTotal: 2, TasksRunning: 2, TasksFailed: 0 });
  });

  it('ships the trace of a target that failed again after recovering', () => {
    const memory = new RowMemory();
    const tick = (m: number, trace: string | undefined) => {
      const s = snapshot('boom');
      const sick = s.connectors[1]!;
      const connectors = trace ? s.connectors : [s.connectors[0]!, { ...sick, tasks: [sick.tasks[0]!, { id: 1, state: 'RUNNING' }] }];
      const plan = memory.plan(at(m));
      const rows = statusRows(stamp, { ...s, connectors }, plan);
      memory.commit(plan);
      return rows.some((r) => r.Trace === 'boom');
    };
    expect([tick(0, 'boom'), tick(5, 'boom'), tick(10, undefined), tick(15, 'boom')]).toEqual([true, false, false, true]);
  });
});

describe('a RowMemory carried to the next process (the CLI under cron)', () => {
  const at = (minute: number) => new Date(Date.parse('2026-11-22T08:00:00Z') + minute * 60_000);
  const snapshot: Parameters<typeof statusRows>[1] = {
    cluster: 'east',
    connectors: [{ name: 'sick', type: 'sink', state: 'RUNNING', workerId: 'w1', tasks: [{ id: 0, state: 'RUNNING', workerId: 'w1' }, { id: 1, state: 'FAILED', workerId: 'w2', trace: 'boom' }] }],
  };
  const wait: HealOutcome = { target: { connector: 'sick', taskId: 1 }, action: 'wait', outcome: 'deferred-backoff', attempt: 1, nextAttemptAfter: 'x', reason: 'waiting after restart 1' };
  /** The first process's tick at :00 (detail, rows kept), then a new process's at :05 from what it saved. */
  const nextProcess = (saved: (s: ReturnType<RowMemory['saved']>) => unknown) => {
    const first = new RowMemory();
    const plan = first.plan(at(0));
    statusRows(stamp, snapshot, plan);
    healingRows(stamp, { cluster: 'east', outcomes: [wait], restartCalls: 0 }, plan);
    first.commit(plan);
    first.commitDecisions(plan);
    const second = new RowMemory(undefined, saved(JSON.parse(JSON.stringify(first.saved())) as ReturnType<RowMemory['saved']>));
    const next = second.plan(at(5));
    return { detail: next.detail, rows: statusRows(stamp, snapshot, next).length, trace: statusRows(stamp, snapshot, next).some((r) => r.Trace), decisions: healingRows(stamp, { cluster: 'east', outcomes: [wait], restartCalls: 0 }, next).length };
  };
  it.each<[string, (s: ReturnType<RowMemory['saved']>) => unknown, { detail: boolean; rows: number; trace: boolean; decisions: number }]>([
    ['as saved (through JSON): lean, the trace and the decision not again', (s) => s, { detail: false, rows: 3, trace: false, decisions: 0 }],
    ['nothing saved: a detail tick', () => undefined, { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['another version', (s) => ({ ...s, version: 2 }), { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['traces not pairs', (s) => ({ ...s, traces: { 'east|t:1:sick': 'x' } }), { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['a decision not a string', (s) => ({ ...s, decisions: [['east|t:1:sick', 3]] }), { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['no hour: the traces remembered, the hour\'s detail still due', ({ lastDetailHour: _, ...s }) => s, { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['an hour not an integer: ignored as well', (s) => ({ ...s, lastDetailHour: '493' }), { detail: true, rows: 4, trace: true, decisions: 1 }],
    ['a JSON null', () => null, { detail: true, rows: 4, trace: true, decisions: 1 }],
  ])('%s', (_name, saved, expected) => {
    expect(nextProcess(saved)).toEqual(expected);
  });
});

describe('healing rows: a decision ships when it changes, and at the hourly detail tick', () => {
  const at = (minute: number) => new Date(Date.parse('2026-11-22T08:00:00Z') + minute * 60_000);
  const FIVE_MINUTES = 300_000;
  type O = HealOutcome;
  const wait = (attempt: number, next: string, extra: Partial<O> = {}): O => ({ target: { connector: 'sink', taskId: 1 }, action: 'wait', outcome: 'deferred-backoff', attempt, nextAttemptAfter: next, reason: `waiting after restart ${attempt}`, ...extra });
  const restart = (attempt: number, httpStatus: number | undefined, outcome = 'restarted'): O => ({ target: { connector: 'sink', taskId: 1 }, action: 'restart', outcome, attempt, reason: 'FAILED: boom', ...(httpStatus !== undefined && { httpStatus }) });
  const gaveUp = (minutes: number): O => ({ target: { connector: 'src' }, action: 'report', outcome: 'unassigned-too-long', reason: `UNASSIGNED for ${minutes} min` });
  const storage = (why: string): O => ({ action: 'report', outcome: 'history-unavailable', reason: `restart history unavailable (${why})` });

  /** Ticks every 5 minutes from 08:00; per tick the outcomes decided, and which of them shipped (by index). */
  it.each<[string, Array<[number, O[]]>, number[][]]>([
    ['the same backoff decision: once, not again', [[5, [wait(1, 'x')]], [10, [wait(1, 'x')]], [15, [wait(1, 'x')]]], [[0], [], []]],
    ['the hour\'s detail tick says it again', [[50, [wait(1, 'x')]], [55, [wait(1, 'x')]], [60, [wait(1, 'x')]], [65, [wait(1, 'x')]]], [[0], [], [0], []]],
    ['a new attempt or a new due time is a new decision', [[5, [wait(1, 'x')]], [10, [wait(2, 'x')]], [15, [wait(2, 'y')]]], [[0], [0], [0]]],
    ['turning flapping is a new decision', [[5, [wait(3, 'x')]], [10, [wait(3, 'x', { flapping: true })]], [15, [wait(3, 'x', { flapping: true })]]], [[0], [0], []]],
    ['a reason that only counts minutes is not', [[5, [gaveUp(31)]], [10, [gaveUp(36)]]], [[0], []]],
    ['every restart call Connect answered ships, even one refused the same way each tick', [[5, [restart(2, 409, 'deferred-rebalance')]], [10, [restart(2, 409, 'deferred-rebalance')]]], [[0], [0]]],
    ['a dry run, which calls nothing, is a decision like the others', [[5, [restart(1, undefined, 'dry-run')]], [10, [restart(1, undefined, 'dry-run')]]], [[0], []]],
    ['a target not decided about for a tick is forgotten: its next decision ships', [[5, [wait(1, 'x')]], [10, []], [15, [wait(1, 'x')]]], [[0], [], [0]]],
    ['a cluster note ships when its reason changes', [[5, [storage('ECONNREFUSED')]], [10, [storage('ECONNREFUSED')]], [15, [storage('403')]]], [[0], [], [0]]],
    ['two targets, each remembered on its own', [[5, [wait(1, 'x'), gaveUp(31)]], [10, [wait(2, 'x'), gaveUp(36)]]], [[0, 1], [0]]],
  ])('%s', (_name, ticks, expected) => {
    const memory = new RowMemory(FIVE_MINUTES);
    const shipped = ticks.map(([minute, outcomes]) => {
      const plan = memory.plan(at(minute));
      const rows = healingRows(stamp, { cluster: 'east', outcomes, restartCalls: 0 }, plan);
      memory.commitDecisions(plan);
      return rows.map((r) => outcomes.findIndex((o) => o.reason === r.Reason && o.outcome === r.Outcome && o.attempt === r.Attempt && o.nextAttemptAfter === r.NextAttemptAfter && !!o.flapping === !!r.Flapping));
    });
    expect(shipped).toEqual(expected);
  });

  it('remembers no decision whose rows were not kept: it goes again next tick', () => {
    const memory = new RowMemory(FIVE_MINUTES);
    const healing = { cluster: 'east', outcomes: [wait(1, 'x')], restartCalls: 0 };
    expect(healingRows(stamp, healing, memory.plan(at(5)))).toHaveLength(1); // dropped: no commitDecisions
    const plan = memory.plan(at(10));
    expect(healingRows(stamp, healing, plan)).toHaveLength(1);
    memory.commitDecisions(plan);
    expect(healingRows(stamp, healing, memory.plan(at(15)))).toHaveLength(0);
  });

  it('keeps the clusters apart: the same target name on two clusters is two targets', () => {
    const memory = new RowMemory(FIVE_MINUTES);
    const plan = memory.plan(at(5));
    healingRows(stamp, { cluster: 'east', outcomes: [wait(1, 'x')], restartCalls: 0 }, plan);
    memory.commitDecisions(plan);
    expect(healingRows(stamp, { cluster: 'west', outcomes: [wait(1, 'x')], restartCalls: 0 }, memory.plan(at(10)))).toHaveLength(1);
  });

  it('remembers the cluster notes of two clusters apart', () => {
    const memory = new RowMemory(FIVE_MINUTES);
    const tick = (minute: number) => {
      const plan = memory.plan(at(minute));
      const rows = [healingRows(stamp, { cluster: 'east', outcomes: [storage('ECONNREFUSED')], restartCalls: 0 }, plan), healingRows(stamp, { cluster: 'west', outcomes: [storage('403')], restartCalls: 0 }, plan)];
      memory.commitDecisions(plan);
      return rows.map((r) => r.length);
    };
    expect([tick(5), tick(10)]).toEqual([
      [1, 1],
      [0, 0],
    ]);
  });

  it('ships everything without a memory (a single run, the CLI)', () => {
    const healing = { cluster: 'east', outcomes: [wait(1, 'x'), gaveUp(31)], restartCalls: 0 };
    expect([healingRows(stamp, healing), healingRows(stamp, healing)].map((r) => r.length)).toEqual([2, 2]);
  });
});

describe('the table schema (infra/tables.json)', () => {
  it('declares exactly the columns the status row type can carry', () => {
    const keys: Array<keyof StatusRow> = [
      'TimeGenerated', 'CorrelationId', 'Cluster', 'RecordType', 'ConnectorName', 'ConnectorType', 'ConnectorClass', 'TaskId',
      'State', 'WorkerId', 'Trace', 'TasksTotal', 'TasksRunning', 'TasksFailed', 'TasksMax', 'ConnectVersion', 'Detail', 'RowCount', 'FailedShare',
    ];
    expect(STATUS_TABLE.columns.map((c) => c.name).sort()).toEqual([...keys].sort());
    expect(STATUS_TABLE.stream).toBe('Custom-KafkaConnectStatus');
  });

  it.each(TABLES.map((t) => [t.name, t] as const))('%s follows the Log Analytics rules', (_name, table) => {
    const reserved = new Set(['_ResourceId', 'id', '_SubscriptionId', 'TenantId', 'Type', 'UniqueId', 'Title']);
    const types = new Set(['boolean', 'datetime', 'dynamic', 'guid', 'int', 'long', 'real', 'string']);
    expect(table.name).toMatch(/^[A-Za-z][A-Za-z0-9_]*_CL$/);
    expect(table.stream).toMatch(/^Custom-[A-Za-z0-9_]+$/);
    expect(table.columns.length).toBeLessThanOrEqual(500);
    expect(new Set(table.columns.map((c) => c.name)).size).toBe(table.columns.length);
    for (const c of table.columns) {
      expect(c.name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,44}$/);
      expect(reserved.has(c.name), c.name).toBe(false);
      expect(types.has(c.type), `${c.name}: ${c.type}`).toBe(true);
      expect(c.description.length).toBeGreaterThan(0);
    }
    expect(table.columns[0]).toMatchObject({ name: 'TimeGenerated', type: 'datetime' });
  });

  it('declares at most 10 streams for one DCR', () => {
    expect(TABLES.length).toBeLessThanOrEqual(10);
    expect(new Set(TABLES.map((t) => t.stream)).size).toBe(TABLES.length);
  });

  it('declares exactly the columns the healing row type can carry', () => {
    const keys: Array<keyof HealingRow> = ['TimeGenerated', 'CorrelationId', 'Cluster', 'ConnectorName', 'TaskId', 'Action', 'Outcome', 'Attempt', 'NextAttemptAfter', 'Reason', 'HttpStatus', 'Pattern', 'Flapping', 'TimeToRecoverMinutes'];
    expect(HEALING_TABLE.columns.map((c) => c.name).sort()).toEqual([...keys].sort());
  });
});
