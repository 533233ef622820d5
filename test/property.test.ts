import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { parseConnector, parseExpanded } from '../src/lib/connect/status';
import type { ClusterHealing, HealOutcome } from '../src/lib/heal/healer';
import { REDACTED, redact, safeTrace, truncateTrace, utf8Length } from '../src/lib/redact';
import { healingRows, statusRows } from '../src/lib/logs/rows';
import { HEALING_TABLE, MAX_VALUE_BYTES, STATUS_TABLE, type TableSchema } from '../src/lib/logs/schema';

/**
 * Property tests: 10,000 generated inputs per property. The parser meets whatever a proxy or a future
 * Connect may send; the row builders meet every shape the parser can produce; the redaction meets secrets
 * it has never seen.
 */
const RUNS = { numRuns: 10_000 };
const stamp = { timeGenerated: '2026-11-22T08:00:00.000Z', correlationId: 'tick' };

/** A row fits its table: known columns only, each value of the column's type and within 64 KB. */
function fits(row: object, table: TableSchema): boolean {
  const types = new Map(table.columns.map((c) => [c.name, c.type]));
  return Object.entries(row).every(([key, value]) => {
    const type = types.get(key);
    if (type === 'string') return typeof value === 'string' && utf8Length(value) <= MAX_VALUE_BYTES;
    if (type === 'int') return Number.isInteger(value) && Math.abs(value as number) < 2 ** 31;
    if (type === 'datetime') return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    return false;
  });
}

const state = fc.oneof(fc.constantFrom('RUNNING', 'FAILED', 'PAUSED', 'STOPPED', 'UNASSIGNED', 'RESTARTING'), fc.string(), fc.anything());
const task = fc.record({ id: fc.oneof(fc.nat(), fc.integer(), fc.string(), fc.double()), state, worker_id: fc.oneof(fc.string(), fc.anything()), trace: fc.oneof(fc.string({ maxLength: 400 }), fc.anything()) }, { requiredKeys: [] });
const status = fc.oneof(
  fc.record(
    {
      name: fc.string(),
      connector: fc.oneof(fc.record({ state, worker_id: fc.string(), trace: fc.string({ maxLength: 400 }) }, { requiredKeys: [] }), fc.anything()),
      tasks: fc.oneof(fc.array(task, { maxLength: 6 }), fc.anything()),
      type: fc.oneof(fc.constantFrom('source', 'sink', 'unknown'), fc.anything()),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);
const info = fc.oneof(fc.record({ config: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.anything())), type: fc.string() }, { requiredKeys: [] }), fc.constant(null), fc.anything());
const expandedBody = fc.oneof(fc.dictionary(fc.string(), fc.record({ status, info }, { requiredKeys: [] }), { maxKeys: 5 }), fc.jsonValue(), fc.anything());

describe('the status parser', () => {
  test.prop([expandedBody], RUNS)('never throws and returns well-typed connectors, whatever the body', (body) => {
    const parsed = parseExpanded(body, { maxTraceBytes: 2_000 });
    expect(['expanded', 'names', 'invalid']).toContain(parsed.kind);
    if (parsed.kind !== 'expanded') return;
    for (const c of parsed.connectors) {
      expect(typeof c.name).toBe('string');
      expect(typeof c.state).toBe('string');
      for (const t of c.tasks) {
        expect(Number.isInteger(t.id) && t.id >= 0).toBe(true);
        expect(typeof t.state).toBe('string');
        if (t.trace !== undefined) expect(utf8Length(t.trace)).toBeLessThanOrEqual(2_000);
      }
    }
  });
});

describe('the row builders', () => {
  test.prop([fc.string(), fc.array(fc.tuple(fc.string({ minLength: 1 }), status, info), { maxLength: 4 }), fc.option(fc.string())], RUNS)(
    'produce status rows that fit KafkaConnect_CL exactly',
    (cluster, entries, version) => {
      const connectors = entries.map(([name, s, i]) => parseConnector(name, s, i, { maxTraceBytes: 70_000 }));
      const rows = statusRows(stamp, { cluster, connectors, ...(version !== null && { version }) });
      expect(rows.length).toBe(1 + connectors.length + connectors.reduce((n, c) => n + c.tasks.length, 0));
      for (const row of rows) expect(fits(row, STATUS_TABLE)).toBe(true);
    },
  );

  const outcome: fc.Arbitrary<HealOutcome> = fc.record(
    {
      target: fc.record({ connector: fc.string(), taskId: fc.option(fc.nat(1_000_000), { nil: undefined }) }, { requiredKeys: ['connector'] }),
      action: fc.constantFrom('restart', 'wait', 'skip', 'report'),
      outcome: fc.string(),
      attempt: fc.nat(100_000),
      nextAttemptAfter: fc.date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
      reason: fc.string({ maxLength: 80_000, unit: 'binary' }),
      httpStatus: fc.integer({ min: 100, max: 599 }),
      pattern: fc.string(),
    },
    { requiredKeys: ['action', 'outcome', 'reason'] },
  );
  test.prop([fc.string(), fc.array(outcome, { maxLength: 5 })], RUNS)('produce healing rows that fit KafkaConnectHealing_CL exactly', (cluster, outcomes) => {
    const healing: ClusterHealing = { cluster, outcomes, restartCalls: 0 };
    for (const row of healingRows(stamp, healing)) expect(fits(row, HEALING_TABLE)).toBe(true);
  });
});

describe('the redaction', () => {
  const chars = (alphabet: string) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: 8, maxLength: 40 });
  const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const secretish = chars(`${ALNUM}-_.+!~^`);
  const token = chars(`${ALNUM}-_.~+/`);
  const noise = fc.string({ unit: fc.constantFrom(...`${ALNUM} \t\n.:()[]`), maxLength: 120 });

  const templates: Array<[string, fc.Arbitrary<string>, (s: string) => string]> = [
    ['password=…', secretish, (s) => `org.postgresql.util.PSQLException: FATAL: login failed; password=${s} user=app`],
    ['a dotted config key', secretish, (s) => `Invalid value for configuration connection.password: ${s}`],
    ['user:password@ in a URL', secretish, (s) => `Connection to jdbc:postgresql://app:${s}@db.internal:5432/orders refused`],
    ['an Oracle user/password@', secretish, (s) => `ORA-12541: jdbc:oracle:thin:scott/${s}@db.internal:1521/ORCL`],
    ['a bearer token', token, (s) => `HTTP 401 from sink, sent Authorization: Bearer ${s}`],
    ['a JSON api_key', secretish, (s) => `{"api_key": "${s}", "region": "eu"}`],
    ['a SASL JAAS password', secretish, (s) => `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="${s}";`],
    ['a storage AccountKey', token, (s) => `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${s};EndpointSuffix=core.windows.net`],
  ];

  for (const [name, secret, template] of templates) {
    test.prop([secret, noise, noise], RUNS)(`removes ${name}`, (s, before, after) => {
      fc.pre(!before.includes(s) && !after.includes(s)); // the secret only where a secret goes
      const out = redact(`${before}\n${template(s)}\n${after}`);
      expect(out).not.toContain(s);
      expect(out).toContain(REDACTED);
    });
  }

  // A secret as secrets are: a letter, then letters with a digit or a sign among them (a plain word or a
  // number is left alone on purpose: see secretValues).
  const configSecret = fc
    .tuple(fc.constantFrom(...'abcXYZ'), fc.string({ unit: fc.constantFrom(...ALNUM), minLength: 4, maxLength: 28 }), fc.constantFrom(...'0123456789!#+'))
    .map(([first, s, mark]) => `${first}${s.slice(0, 3)}${mark}${s.slice(3)}`);
  test.prop([fc.dictionary(fc.constantFrom('connection.password', 'db.secret', 'api.token', 'ssl.key.password', 'aws.secret.access.key'), configSecret, { minKeys: 1 }), noise], RUNS)(
    'removes every secret of a connector config from its traces, verbatim, through the parser',
    (config, text) => {
      const secrets = Object.values(config);
      const trace = `${text} ${secrets.map((s, i) => `attempt ${i} with ${s} failed`).join('\n')}`;
      const parsed = parseConnector('c', { connector: { state: 'FAILED', trace }, tasks: [{ id: 0, state: 'FAILED', trace }] }, { config }, { maxTraceBytes: 1_000 });
      const out = JSON.stringify(parsed);
      for (const s of secrets) expect(out).not.toContain(s);
    },
  );

  // Inputs built against backtracking (runs of what the rules look for, never completed) used to take
  // seconds at 64 KB; the rules are bounded now (bench: "redaction worst cases"). Here: that such inputs,
  // tens of KB long, still lose every secret planted in them, whatever surrounds it.
  const adversarial = fc
    .tuple(
      fc.array(fc.constantFrom('a1.', 'a1', '.', '=', ':', '@', '//', 'ab://u:', 'password', 'key', 'Bearer ', 'QUJD+/', '==', 'jdbc:oracle:thin:u/', '-----BEGIN PRIVATE KEY-----', '"', "'", '_'), {
        minLength: 12_000,
        maxLength: 32_000,
      }),
      fc.nat(),
      fc.constantFrom((s: string) => ` password=${s} `, (s: string) => ` jdbc:postgresql://app:${s}@db:5432/x `, (s: string) => ` Authorization: Bearer ${s} `),
      secretish,
    )
    .map(([units, at, template, s]) => {
      const noise = units.join('');
      const i = at % (noise.length + 1);
      return { text: `${noise.slice(0, i)}${template(s)}${noise.slice(i)}`, secret: s, noise };
    });
  test.prop([adversarial], { numRuns: 60 })('removes a secret planted in tens of KB of adversarial text', ({ text, secret, noise }) => {
    fc.pre(!noise.includes(secret));
    expect(noise.length).toBeGreaterThanOrEqual(12_000); // the edge it names: long, not fast-check's tiny default
    expect(redact(text)).not.toContain(secret);
    const shipped = safeTrace(text, 32 * 1024);
    expect(utf8Length(shipped)).toBeLessThanOrEqual(32 * 1024);
    expect(shipped).not.toContain(secret);
  });

  test.prop([fc.string({ maxLength: 20_000, unit: 'binary' }), fc.integer({ min: 64, max: 8_000 })], RUNS)('cuts any trace to its budget, on a character boundary', (trace, max) => {
    const cut = truncateTrace(trace, max);
    expect(utf8Length(cut)).toBeLessThanOrEqual(Math.max(max, 0));
    expect(cut.includes('\uFFFD') && !trace.includes('\uFFFD')).toBe(false);
  });
});
