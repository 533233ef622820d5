import { describe, expect, it } from 'vitest';
import { type ConnectorStatus, countTasks, parseConnector, parseExpanded, parseNames, rootCause } from '../../../src/lib/connect/status';

/** The edges of the status parser: each case a behaviour a mutant of src/lib/connect/status.ts broke unnoticed. */
const opts = { maxTraceBytes: 32_768 };
const connector = (status: unknown, info?: unknown) => parseConnector('c', status, info, opts);

describe('parseConnector', () => {
  it.each<[string, unknown, number | undefined]>([
    ['0', '0', 0],
    ['the largest Java int', '2147483647', 2_147_483_647],
    ['a number, not a string', 3, 3],
    ['negative', '-1', undefined],
    ['past a Java int', '2147483648', undefined],
    ['a fraction', '1.5', undefined],
    ['not a number', 'many', undefined],
  ])('keeps tasks.max only when Connect could hold it: %s', (_name, value, expected) => {
    const c = connector({ connector: { state: 'RUNNING' }, tasks: [] }, { config: { 'tasks.max': value } });
    expect(c).toStrictEqual({ name: 'c', ...(expected !== undefined && { tasksMax: expected }), state: 'RUNNING', tasks: [] });
  });

  it.each<[string, unknown, boolean]>([
    ['the largest Java int', 2_147_483_647, true],
    ['past it', 2_147_483_648, false],
    ['0', 0, true],
    ['negative', -1, false],
  ])('keeps a task id that fits the TaskId column: %s', (_name, id, kept) => {
    const c = connector({ connector: { state: 'RUNNING' }, tasks: [{ id, state: 'RUNNING' }] });
    expect(c.tasks.map((t) => t.id)).toEqual(kept ? [id] : []);
    expect(c.detail).toBe(kept ? undefined : '1 task entry without a valid id ignored');
  });

  it('reads an empty state as UNKNOWN, and an empty status type as absent (the info type then counts)', () => {
    expect(connector({ connector: { state: '', worker_id: '' }, tasks: [{ id: 0, state: '', worker_id: '' }], type: '' }, { type: 'Source', config: {} })).toStrictEqual({
      name: 'c',
      state: 'UNKNOWN',
      type: 'source',
      tasks: [{ id: 0, state: 'UNKNOWN' }],
    });
  });

  it('gives the connector its own trace: redacted as shipped, and hidden but whole for the patterns', () => {
    const trace = 'org.apache.kafka.connect.errors.ConnectException: login failed for Xq9-db-pw\nCaused by: org.postgresql.util.PSQLException: password=hunter2';
    const c = connector({ connector: { state: 'FAILED', trace }, tasks: [{ id: 0, state: 'FAILED', trace: '' }] }, { config: { 'connection.password': 'Xq9-db-pw' } });
    expect(c).toStrictEqual({
      name: 'c',
      state: 'FAILED',
      trace: 'org.apache.kafka.connect.errors.ConnectException: login failed for ***\nCaused by: org.postgresql.util.PSQLException: password=***',
      tasks: [{ id: 0, state: 'FAILED' }],
    });
    expect(c.unredactedTrace).toBe(trace);
    expect(Object.keys(c)).not.toContain('unredactedTrace');
    expect(JSON.stringify(c)).not.toContain('hunter2');
  });

  it('cuts the hidden trace to the same budget as the shown one', () => {
    const trace = `java.lang.IllegalStateException: boom\n${'\tat a.b.C.d(C.java:1)\n'.repeat(500)}`;
    const c = parseConnector('c', { connector: { state: 'FAILED', trace }, tasks: [] }, undefined, { maxTraceBytes: 1_000 });
    expect(c.unredactedTrace).toBe(c.trace);
    expect(Buffer.byteLength(c.unredactedTrace!)).toBeLessThanOrEqual(1_000);
  });

  it.each<[number, string]>([
    [1, '1 task entry without a valid id ignored'],
    [3, '3 task entries without a valid id ignored'],
  ])('counts %i malformed task entries in the detail', (n, detail) => {
    expect(connector({ connector: { state: 'RUNNING' }, tasks: Array.from({ length: n }, () => ({ id: 'x' })) }).detail).toBe(detail);
  });
});

describe('parseExpanded and parseNames', () => {
  it.each<[string, unknown, string]>([
    ['null', null, 'expected an object keyed by connector name, got null'],
    ['a string', 'oops', 'expected an object keyed by connector name, got string'],
    ['a number', 42, 'expected an object keyed by connector name, got number'],
    ['an entry without status', { 'a\nb': { info: {} } }, 'entry "a b" has no status (is "expand" supported?)'],
  ])('says what it got instead of the expanded object: %s', (_name, body, detail) => {
    expect(parseExpanded(body, opts)).toStrictEqual({ kind: 'invalid', detail });
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'expected a list of connector names, got null'],
    ['an object', { a: 1 }, 'expected a list of connector names, got an object'],
    ['a boolean', true, 'expected a list of connector names, got boolean'],
  ])('says what it got instead of a name list: %s', (_name, body, detail) => {
    expect(parseNames(body)).toStrictEqual({ kind: 'invalid', detail });
  });

  it('skips entries that are not objects', () => {
    expect(parseExpanded({ a: null, b: 'x', c: { status: { connector: { state: 'RUNNING' }, tasks: [] } } }, opts)).toStrictEqual({ kind: 'expanded', connectors: [{ name: 'c', state: 'RUNNING', tasks: [] }] });
  });
});

describe('countTasks', () => {
  it('counts only RUNNING as running and only FAILED as failed', () => {
    const c: ConnectorStatus = {
      name: 'c',
      state: 'RUNNING',
      tasks: ['RUNNING', 'FAILED', 'PAUSED', 'UNASSIGNED', 'RESTARTING', 'STOPPED', 'FAILED', 'UNKNOWN'].map((state, id) => ({ id, state })),
    };
    expect(countTasks(c)).toStrictEqual({ total: 8, running: 1, failed: 2 });
  });
});

describe('rootCause', () => {
  it.each<[string, string | undefined, number | undefined, string]>([
    ['no trace', undefined, undefined, ''],
    ['an empty trace', '', undefined, ''],
    ['the last Caused by, not the first', 'a.Outer: x\nCaused by: b.Middle: y\n\tat z\nCaused by: c.Root: z\n\tat w', undefined, 'c.Root: z'],
    ['an indented Caused by (a suppressed exception), trimmed', 'a.Outer: x\n\t\tCaused by: b.Inner: y  \n\tat z', undefined, 'b.Inner: y'],
    ['Caused by: without a space', 'a.Outer: x\nCaused by:b.Inner: y', undefined, 'b.Inner: y'],
    ['Caused by: with several spaces', 'a.Outer: x\nCaused by:   b.Inner: y', undefined, 'b.Inner: y'],
    ['no Caused by: the exception itself', '  a.Outer: see Caused by: below  \n\tat z', undefined, 'a.Outer: see Caused by: below'],
    ['a frame line is not a cause', 'a.Outer: x\n\tat Caused.by(X.java:1)', undefined, 'a.Outer: x'],
    ['exactly the budget: whole', 'a.Outer: 1234', 13, 'a.Outer: 1234'],
    ['one over the budget: cut with an ellipsis, to the budget', 'a.Outer: 12345', 13, 'a.Outer: 123…'],
  ])('%s', (_name, trace, max, expected) => {
    expect(rootCause(trace, max)).toBe(expected);
  });

  it('cuts to 100 characters unless told', () => {
    expect(rootCause(`x.Y: ${'z'.repeat(200)}`)).toBe(`x.Y: ${'z'.repeat(94)}…`);
  });
});
