import { describe, expect, it } from 'vitest';
import { parseConnector, parseExpanded, parseNames } from '../../../src/lib/connect/status';
import { parseKafkaVersion, supportsExpand, supportsRestartPlan } from '../../../src/lib/connect/version';

const opts = { maxTraceBytes: 32_768 };

// The realistic expanded payload of shared/reference/kafka-connect-rest.md.
const EXPANDED = {
  'jdbc-sink': {
    status: {
      name: 'jdbc-sink',
      connector: { state: 'RUNNING', worker_id: '10.0.0.11:8083' },
      tasks: [
        { id: 1, state: 'FAILED', worker_id: '10.0.0.12:8083', trace: 'org.apache.kafka.connect.errors.ConnectException: Exiting\nCaused by: java.sql.SQLException: login failed for s3cr3t\n' },
        { id: 0, state: 'RUNNING', worker_id: '10.0.0.11:8083' },
      ],
      type: 'sink',
    },
    info: {
      name: 'jdbc-sink',
      config: { 'connector.class': 'io.confluent.connect.jdbc.JdbcSinkConnector', 'tasks.max': '2', 'connection.password': 's3cr3t', name: 'jdbc-sink' },
      tasks: [{ connector: 'jdbc-sink', task: 0 }, { connector: 'jdbc-sink', task: 1 }],
      type: 'sink',
    },
  },
  'file-source': {
    status: { name: 'file-source', connector: { state: 'STOPPED', worker_id: '10.0.0.12:8083' }, tasks: [], type: 'source' },
    info: null,
  },
};

describe('parseExpanded', () => {
  it('keeps states, workers, traces and only connector.class and tasks.max from the config', () => {
    const parsed = parseExpanded(EXPANDED, opts);
    expect(parsed.kind).toBe('expanded');
    if (parsed.kind !== 'expanded') return;
    const [jdbc, file] = parsed.connectors;
    expect(jdbc).toEqual({
      name: 'jdbc-sink',
      connectorClass: 'io.confluent.connect.jdbc.JdbcSinkConnector',
      tasksMax: 2,
      state: 'RUNNING',
      type: 'sink',
      workerId: '10.0.0.11:8083',
      tasks: [
        { id: 0, state: 'RUNNING', workerId: '10.0.0.11:8083' },
        { id: 1, state: 'FAILED', workerId: '10.0.0.12:8083', trace: 'org.apache.kafka.connect.errors.ConnectException: Exiting\nCaused by: java.sql.SQLException: login failed for ***\n' },
      ],
    });
    expect(file).toEqual({ name: 'file-source', state: 'STOPPED', type: 'source', workerId: '10.0.0.12:8083', tasks: [] });
    expect(JSON.stringify(parsed)).not.toContain('s3cr3t');
  });

  it.each<[string, unknown, string]>([
    ['a names array (Connect < 2.3 ignores expand)', ['a', 'b'], 'names'],
    ['an empty cluster', {}, 'expanded'],
    ['null', null, 'invalid'],
    ['a string', 'oops', 'invalid'],
    ['expand=status,info answered with {} per connector', { a: {} }, 'invalid'],
  ])('classifies %s', (_name, body, kind) => {
    expect(parseExpanded(body, opts).kind).toBe(kind);
  });

  it('keeps unknown states, ignores extra fields, and marks malformed parts instead of throwing', () => {
    const c = parseConnector(
      'x',
      { connector: { state: 'degraded', worker_id: 'w:1', extra: { nested: true } }, tasks: [{ id: 0, state: 'RUNNING' }, { id: 'zero' }, null], type: 'SINK', future: 1 },
      { config: { 'tasks.max': 'many' } },
      opts,
    );
    expect(c).toEqual({ name: 'x', state: 'DEGRADED', type: 'sink', workerId: 'w:1', tasks: [{ id: 0, state: 'RUNNING' }], detail: '2 task entries without a valid id ignored' });
    expect(parseConnector('y', { tasks: [] }, undefined, opts)).toEqual({ name: 'y', state: 'UNKNOWN', tasks: [], detail: 'status response has no "connector" object' });
    expect(parseConnector('z', { connector: {}, tasks: 'nope' }, undefined, opts)).toEqual({ name: 'z', state: 'UNKNOWN', tasks: [] });
  });

  it('takes the type from info when the status has none (Connect < 1.0)', () => {
    expect(parseConnector('x', { connector: { state: 'RUNNING' }, tasks: [] }, { type: 'source', config: {} }, opts).type).toBe('source');
  });

  it('reads a plain name list and drops non-names', () => {
    expect(parseNames(['a', 1, '', 'b c'])).toEqual({ kind: 'names', names: ['a', 'b c'] });
  });
});

describe('parseKafkaVersion', () => {
  it.each<[string | undefined, { major: number; minor: number } | undefined, boolean, boolean]>([
    ['3.7.1', { major: 3, minor: 7 }, true, true],
    ['2.2.0', { major: 2, minor: 2 }, false, false],
    ['2.3.0', { major: 2, minor: 3 }, true, false],
    ['4.0.0', { major: 4, minor: 0 }, true, true],
    ['7.6.0-ccs', { major: 3, minor: 6 }, true, true],
    ['5.2.4-ccs', { major: 2, minor: 2 }, false, false],
    ['6.1.0-ce', { major: 2, minor: 7 }, true, false],
    ['3.9.0-SNAPSHOT', { major: 3, minor: 9 }, true, true],
    ['garbage', undefined, true, true],
    [undefined, undefined, true, true],
  ])('%s', (text, expected, expand, restartPlan) => {
    const v = parseKafkaVersion(text);
    expect(v).toEqual(expected);
    expect(supportsExpand(v)).toBe(expand);
    expect(supportsRestartPlan(v)).toBe(restartPlan);
  });
});
