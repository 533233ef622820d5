import { describe, expect, it } from 'vitest';
import { ConnectError } from '../../src/lib/errors';
import { type StatusRow, fitValues, statusRows } from '../../src/lib/rows';
import { MAX_VALUE_BYTES, STATUS_TABLE } from '../../src/lib/schema';
import { utf8Length } from '../../src/lib/redact';
import { expectRowsFitSchema } from '../helpers/schema';

const stamp = { timeGenerated: '2026-11-22T08:00:00.000Z', correlationId: 'tick-1' };

describe('statusRows', () => {
  it('writes one cluster row, one per connector and one per task, sharing time and correlation id', () => {
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
        CorrelationId: 'tick-1',
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
      { TimeGenerated: stamp.timeGenerated, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'task', ConnectorName: 'jdbc-sink', ConnectorType: 'sink', TaskId: 0, State: 'RUNNING', WorkerId: 'w1:8083' },
      { TimeGenerated: stamp.timeGenerated, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'task', ConnectorName: 'jdbc-sink', ConnectorType: 'sink', TaskId: 1, State: 'FAILED', WorkerId: 'w2:8083', Trace: 'boom' },
      { TimeGenerated: stamp.timeGenerated, CorrelationId: 'tick-1', Cluster: 'east', RecordType: 'connector', ConnectorName: 'stopped one', State: 'STOPPED', TasksTotal: 0, TasksRunning: 0, TasksFailed: 0 },
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

describe('the table schema (infra/tables.json)', () => {
  it('declares exactly the columns the status row type can carry', () => {
    const keys: Array<keyof StatusRow> = [
      'TimeGenerated', 'CorrelationId', 'Cluster', 'RecordType', 'ConnectorName', 'ConnectorType', 'ConnectorClass', 'TaskId',
      'State', 'WorkerId', 'Trace', 'TasksTotal', 'TasksRunning', 'TasksFailed', 'TasksMax', 'ConnectVersion', 'Detail',
    ];
    expect(STATUS_TABLE.columns.map((c) => c.name).sort()).toEqual([...keys].sort());
    expect(STATUS_TABLE.stream).toBe('Custom-KafkaConnectStatus');
  });

  it('follows the Log Analytics naming rules', () => {
    const reserved = new Set(['_ResourceId', 'id', '_SubscriptionId', 'TenantId', 'Type', 'UniqueId', 'Title']);
    expect(STATUS_TABLE.name).toMatch(/_CL$/);
    for (const c of STATUS_TABLE.columns) {
      expect(c.name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,44}$/);
      expect(reserved.has(c.name)).toBe(false);
    }
    expect(STATUS_TABLE.columns.find((c) => c.name === 'TimeGenerated')?.type).toBe('datetime');
  });
});
