import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, main } from '../../src/cli/kc-monitor';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { DEMO_DB_PASSWORD, demoConnectors } from '../../src/lib/demo/scenario';
import type { Settings } from '../../src/lib/config';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';
import { expectRowsFitSchema } from '../helpers/schema';

const CANARY = 'CANARY-cli-5e1f-password';

async function run(argv: string[], env: Settings = {}, cwd = mkdtempSync(join(tmpdir(), 'kc-cli-'))) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(argv, { stdout, stderr, env, cwd });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe('kc-monitor', () => {
  const sim = new ConnectSimulator({ version: '3.7.0', basicAuth: { username: 'ops', password: CANARY } }).add(...demoConnectors());
  let env: Settings;
  beforeAll(async () => {
    sim.connectors.get('jdbc-sink-orders')!.config['connection.password'] = CANARY;
    env = { KAFKA_CONNECT_URL: await sim.start(), KAFKA_CONNECT_USERNAME: 'ops', KAFKA_CONNECT_PASSWORD: CANARY };
  });
  afterAll(() => sim.stop());

  it('status prints a table of connectors and the tasks that need a look', async () => {
    const r = await run(['status'], env);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^Cluster 127\.0\.0\.1:\d+ {2}REACHABLE {2}Kafka Connect 3\.7\.0$/m);
    expect(r.stdout).toMatch(/^ {2}jdbc-sink-orders +sink +RUNNING +3\/4 running +10\.0\.0\.11:8083$/m);
    expect(r.stdout).toMatch(/^ {4}task 2 +FAILED +10\.0\.0\.12:8083 +java\.sql\.SQLException: Connection refused: jdbc:postgresql:\/\/app:\*\*\*@orders-db/m);
    expect(r.stdout).toMatch(/^ {2}elastic-sink-logs +sink +FAILED +0\/0 running \(max 2\)/m);
    expect(r.stdout).not.toMatch(/task 0 +RUNNING/);
    expect(r.stdout).not.toContain('\x1b[');
    expect(r.stdout + r.stderr).not.toContain(CANARY);
    expect(r.stdout + r.stderr).not.toContain(DEMO_DB_PASSWORD);

    const all = await run(['status', '--all'], env);
    expect(all.stdout).toMatch(/task 0 +RUNNING/);
  });

  it('once without an ingestion endpoint writes the rows as NDJSON to stdout, the summary to stderr', async () => {
    const r = await run(['once'], env);
    expect(r.code).toBe(EXIT.OK);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(1 + 6 + 12);
    expect(new Set(rows.map((row) => row.Stream))).toEqual(new Set(['Custom-KafkaConnectStatus']));
    expectRowsFitSchema(rows.map(({ Stream: _, ...row }) => row));
    expect(r.stderr).toMatch(/^kc-monitor: 127\.0\.0\.1:\d+: basic auth over plain http sends the password unencrypted; use https\ntick .*19 of 19 rows shipped/);
    expect(r.stdout + r.stderr).not.toContain(CANARY);
  });

  it('once --out writes the rows to a file; local.settings.json Values are read, the environment wins', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kc-cli-'));
    writeFileSync(join(cwd, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: { ...env, KAFKA_CONNECT_PASSWORD: 'wrong' } }));
    const fromFile = await run(['once', '--out', 'rows.ndjson'], {}, cwd);
    expect(fromFile.code).toBe(EXIT.CLUSTER_UNREADABLE);
    expect(fromFile.stderr).toContain('401 UNAUTHORIZED: User cannot access the resource.');

    const r = await run(['once', '--out', 'rows.ndjson'], { KAFKA_CONNECT_PASSWORD: CANARY }, cwd);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toBe('');
    expect(readFileSync(join(cwd, 'rows.ndjson'), 'utf8').trim().split('\n')).toHaveLength(19);
  });

  it('exits 3 when a cluster cannot be read, and says which and why in one line', async () => {
    const r = await run(['once'], { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'gone', url: 'http://127.0.0.1:1' }]) });
    expect(r.code).toBe(EXIT.CLUSTER_UNREADABLE);
    expect(r.stderr.split('\n')[0]).toBe('kc-monitor: gone: GET / → UNREACHABLE: connection refused (ECONNREFUSED)');
  });

  it('exits 4 when rows cannot be shipped', async () => {
    const identity = new ManagedIdentityFake('cli-token', 'cli-header');
    const ingestion = new IngestionFake('cli-token').answer({ status: 403, body: { error: { code: 'Forbidden', message: 'no role' } } });
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    try {
      const r = await run(['once'], { ...env, LOGS_INGESTION_ENDPOINT: await ingestion.start(), LOGS_DCR_IMMUTABLE_ID: 'dcr-00112233445566778899aabbccddeeff' });
      expect(r.code).toBe(EXIT.NOT_SHIPPED);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/kc-monitor: 19 rows for Custom-KafkaConnectStatus not shipped: HTTP 403: .*Monitoring Metrics Publisher/);
      expect(r.stderr).toMatch(/0 of 19 rows shipped/);
    } finally {
      await Promise.all([identity.stop(), ingestion.stop()]);
    }
  });

  it.each<[string, string[], Settings, RegExp]>([
    ['bad settings', ['once'], { KAFKA_CONNECT_URL: 'ftp://x', KAFKA_CONNECT_PASSWORD: CANARY }, /^kc-monitor: Invalid configuration: KAFKA_CONNECT_URL: "ftp:\/\/x" is not an http\(s\) URL; KAFKA_CONNECT_USERNAME: missing/],
    ['a missing settings file', ['status', '--settings', 'nope.json'], {}, /^kc-monitor: Invalid configuration: nope\.json: file not found\n$/],
    ['no command', [], {}, /^kc-monitor: no command given\n\nUsage: kc-monitor <command>/],
    ['an unknown command', ['restart-everything'], {}, /^kc-monitor: unknown command "restart-everything"/],
    ['an unknown option', ['status', '--verbose'], {}, /^kc-monitor: Unknown option '--verbose'/],
  ])('exits 2 on %s, with one clear line and no stack trace', async (_name, argv, settings, message) => {
    const r = await run(argv, settings);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toContain(CANARY);
  });

  it('--help prints the usage with the exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('Exit codes: 0 the tick ran');
  });

  it('demo runs the real tick against the built-in simulation and says so', async () => {
    const r = await run(['demo']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^kc-monitor demo: a SIMULATION\./);
    expect(r.stdout).toContain('Cluster demo  REACHABLE  Kafka Connect 3.7.0');
    expect(r.stdout).toMatch(/this tick ships 19 rows \(1 cluster, 6 connector, 12 task\) to table KafkaConnect_CL/);
    expect(r.stdout).toContain('"Trace": "org.apache.kafka.connect.errors.ConnectException');
    expect(r.stdout).not.toContain(DEMO_DB_PASSWORD);
  });
});
