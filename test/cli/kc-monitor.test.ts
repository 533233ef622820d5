import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT, main } from '../../src/cli/kc-monitor';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { DEMO_DB_PASSWORD, demoConnectors } from '../../src/lib/demo/scenario';
import type { Settings } from '../../src/lib/config';
import { HEALING_TABLE, STATUS_TABLE } from '../../src/lib/logs/schema';
import { testStorage } from '../fakes/azurite';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';
import { expectRowsFitSchema } from '../helpers/schema';
import { asBicep, bicepParser, syntaxProblems } from '../infra/bicep';

const CANARY = 'CANARY-cli-5e1f-password';

async function run(argv: string[], env: Settings = {}, cwd = mkdtempSync(join(tmpdir(), 'kc-cli-'))) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  // Never the developer's own ~/.local/state: each run without one given gets a fresh state directory.
  const code = await main(argv, { stdout, stderr, env: { KC_MONITOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'kc-state-')), ...env }, cwd });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe('kc-monitor', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });

  /** A fresh simulated cluster (the demo's connectors, basic auth, a canary password) and the settings to reach it. */
  async function cluster(): Promise<Settings> {
    const sim = new ConnectSimulator({ version: '3.7.0', basicAuth: { username: 'ops', password: CANARY } }).add(...demoConnectors());
    sim.connectors.get('jdbc-sink-orders')!.config['connection.password'] = CANARY;
    const url = await sim.start();
    stops.push(() => sim.stop());
    return { KAFKA_CONNECT_URL: url, KAFKA_CONNECT_USERNAME: 'ops', KAFKA_CONNECT_PASSWORD: CANARY, AzureWebJobsStorage: testStorage('kcmcli') };
  }

  it('status prints connectors, the tasks that need a look, and what the healer would do', async () => {
    const env = await cluster();
    const r = await run(['status'], env);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^Cluster 127\.0\.0\.1:\d+ {2}REACHABLE {2}Kafka Connect 3\.7\.0$/m);
    expect(r.stdout).toMatch(/^ {2}jdbc-sink-orders +sink +RUNNING +3\/4 running +10\.0\.0\.11:8083$/m);
    expect(r.stdout).toMatch(/^ {4}task 2 +FAILED +10\.0\.0\.12:8083 +restart 1 due +java\.sql\.SQLException: Connection refused: jdbc:postgresql:\/\/app:\*\*\*@orders-db/m);
    expect(r.stdout).toMatch(/^ {2}elastic-sink-logs +sink +FAILED +0\/0 running \(max 2\) +10\.0\.0\.11:8083 +held: non-transient +org\.apache\.kafka\.common\.config\.ConfigException/m);
    expect(r.stdout).not.toMatch(/task 0 +RUNNING/);
    expect(r.stdout).not.toContain('\x1b[');
    expect(r.stdout + r.stderr).not.toContain(CANARY);
    expect(r.stdout + r.stderr).not.toContain(DEMO_DB_PASSWORD);

    const all = await run(['status', '--all'], env);
    expect(all.stdout).toMatch(/task 0 +RUNNING/);

    // status changes nothing; once heals, and status then shows the remembered backoff.
    expect((await run(['status'], env)).stdout).toMatch(/task 0 +FAILED +10\.0\.0\.13:8083 +restart 1 due/);
    expect((await run(['once', '--out', 'rows.ndjson'], env)).code).toBe(EXIT.OK);
    const after = await run(['status'], env);
    expect(after.stdout).toMatch(/^ {4}task 0 +FAILED +10\.0\.0\.13:8083 +1 restart, next \d\d:\d\dZ +org\.postgresql/m);
    expect(after.stdout).not.toMatch(/task 2 +FAILED/);
  });

  it('once heals and writes status and healing rows as NDJSON to stdout, the summary to stderr', async () => {
    const r = await run(['once'], await cluster());
    expect(r.code).toBe(EXIT.OK);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const status = rows.filter((row) => row.Stream === STATUS_TABLE.stream).map(({ Stream: _, ...row }) => row);
    const healing = rows.filter((row) => row.Stream === HEALING_TABLE.stream).map(({ Stream: _, ...row }) => row);
    expect(status).toHaveLength(1 + 6 + 12);
    expect(healing.map((h) => `${String(h.ConnectorName)} ${String(h.Outcome)}`)).toEqual([
      'jdbc-sink-orders restarted',
      'debezium-inventory restarted',
      'elastic-sink-logs skipped-non-transient',
    ]);
    expect(rows).toHaveLength(status.length + healing.length);
    expectRowsFitSchema(status);
    expectRowsFitSchema(healing, HEALING_TABLE.columns);
    // Plain http to loopback sends nothing over a network: no warning about it.
    expect(r.stderr).toMatch(/^tick .*healing: 2 restarted, 1 skipped-non-transient, 22 of 22 rows shipped, \d+ ms; restart history: table KafkaConnectRestarts in storage account kcmcli, shared with the function\n$/);
    expect(r.stdout + r.stderr).not.toContain(CANARY);
  });

  it('once without Azure Storage heals from a local state directory, and the next run remembers the backoff', async () => {
    const { AzureWebJobsStorage: _, ...env } = await cluster();
    const state = mkdtempSync(join(tmpdir(), 'kc-state-'));
    const local = { ...env, KC_MONITOR_STATE_DIR: state };
    const before = await run(['status'], local);
    expect(before.stderr).toContain(`kc-monitor: restart history: none yet in local state ${state} (no AzureWebJobsStorage: the CLI's own, not the function's); HEALING shows what a first \`once\` would do\n`);
    const first = await run(['once', '--out', join(state, 'rows.ndjson')], local);
    expect(first.code).toBe(EXIT.OK);
    expect(first.stderr).toContain(`healing: 2 restarted, 1 skipped-non-transient`);
    expect(first.stderr).toContain(`; restart history: local state ${state}`);
    const history = JSON.parse(readFileSync(join(state, 'history.json'), 'utf8')) as { clusters: Record<string, Record<string, { attempts: number }>> };
    expect(Object.values(history.clusters)[0]).toMatchObject({ 't:0:debezium-inventory': { attempts: 1 } });
    const second = await run(['once', '--out', join(state, 'rows.ndjson')], local);
    expect(second.stderr).toMatch(/healing: 1 deferred-backoff, 1 skipped-non-transient|healing: 1 skipped-non-transient, 1 deferred-backoff/);
    const after = await run(['status'], local);
    expect(after.code).toBe(EXIT.OK);
    expect(after.stdout).toMatch(/task 0 +FAILED +10\.0\.0\.13:8083 +1 restart, next \d\d:\d\dZ/);
    expect(after.stderr).toContain(`kc-monitor: restart history: local state ${state}`);
    const { AzureWebJobsStorage: __, ...fresh } = await cluster();
    const dry = await run(['once'], { ...fresh, AUTO_HEAL: 'dry-run' });
    expect(dry.code).toBe(EXIT.OK);
    expect(dry.stderr).toContain('healing: 2 dry-run, 1 skipped-non-transient');
  });

  it('once under cron goes on from the last run\'s row memory: lean rows between hourly detail runs, a trace once', async () => {
    const { AzureWebJobsStorage: _, ...env } = await cluster();
    const state = mkdtempSync(join(tmpdir(), 'kc-state-'));
    const out = join(state, 'rows.ndjson');
    const rowsOf = (r: { code: number; stderr: string }) => {
      expect(r.code, r.stderr).toBe(EXIT.OK);
      const all = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      writeFileSync(out, '');
      return { status: all.filter((row) => row.Stream === STATUS_TABLE.stream), healing: all.filter((row) => row.Stream === HEALING_TABLE.stream) };
    };
    const once = () => run(['once', '--out', out], { ...env, KC_MONITOR_STATE_DIR: state });
    // Only Date is faked: each run is a cron run 5 minutes after the last, inside one clock hour.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-03T10:00:30Z'));
      const first = rowsOf(await once());
      expect(first.status).toHaveLength(1 + 6 + 12); // the detail run: every connector and task
      expect(first.status.filter((r) => r.Trace)).toHaveLength(3); // two FAILED tasks and the FAILED connector
      vi.setSystemTime(new Date('2026-12-03T10:05:30Z'));
      const second = rowsOf(await once());
      // Lean: each connector, and only the tasks not RUNNING; the traces already shipped are not shipped again.
      expect(second.status.filter((r) => r.RecordType === 'connector')).toHaveLength(6);
      expect(second.status.filter((r) => r.RecordType === 'task' && r.State === 'RUNNING')).toEqual([]);
      expect(second.status.filter((r) => r.Trace)).toEqual([]);
      // The held non-transient connector is said once; the tasks restarted an hour ago are now a new decision.
      expect(second.healing.map((h) => h.Outcome)).not.toContain('skipped-non-transient');
      // A hand run to the terminal beside the cron job keeps a memory of its own: it sees everything, and the
      // cron job's next run is still lean, its traces not taken by rows that only reached a terminal.
      vi.setSystemTime(new Date('2026-12-03T10:07:30Z'));
      const byHand = await run(['once'], { ...env, KC_MONITOR_STATE_DIR: state });
      expect(byHand.stdout.trim().split('\n').filter((l) => l.includes(STATUS_TABLE.stream))).toHaveLength(1 + 6 + 12);
      vi.setSystemTime(new Date('2026-12-03T10:10:30Z'));
      const third = rowsOf(await once());
      expect(third.status.filter((r) => r.RecordType === 'task' && r.State === 'RUNNING')).toEqual([]);
      expect(third.status.filter((r) => r.Trace)).toEqual([]);
      vi.setSystemTime(new Date('2026-12-03T11:00:30Z'));
      expect(rowsOf(await once()).status).toHaveLength(1 + 6 + 12); // the first run of the next hour: detail
      // A row memory that cannot be read costs a detail run, nothing else.
      writeFileSync(join(state, 'rows.json'), '{"version":1,');
      vi.setSystemTime(new Date('2026-12-03T11:05:30Z'));
      expect(rowsOf(await once()).status).toHaveLength(1 + 6 + 12);
      expect(readFileSync(join(state, 'rows.json'), 'utf8')).not.toContain(CANARY);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a storage connection string the SDK refuses: one line, exit 2, where storage is used; not where it is not', async () => {
    const env = { ...(await cluster()), AzureWebJobsStorage: `AccountName=kcmacct;AccountKey=${CANARY}` };
    const refused = await run(['status'], env);
    expect(refused.code).toBe(EXIT.CONFIG);
    expect(refused.stderr).toMatch(/^kc-monitor: Invalid configuration: AzureWebJobsStorage: the Azure Storage SDK refused it \(Invalid \w+Endpoint[^\n]*\n$/);
    expect(refused.stderr).not.toContain(CANARY);
    // No history to read, no spool to fill: nothing of storage is needed, and nothing refuses.
    expect((await run(['status'], { ...env, AUTO_HEAL: 'off' })).code).toBe(EXIT.OK);
    expect((await run(['alert-params'], env)).code).toBe(EXIT.OK);
    expect((await run(['once', '--out', join(mkdtempSync(join(tmpdir(), 'kc-out-')), 'rows.ndjson')], { ...env, AUTO_HEAL: 'off' })).code).toBe(EXIT.OK);
  });

  it('once --out writes the rows to a file; local.settings.json Values are read, the environment wins', async () => {
    const env = await cluster();
    const cwd = mkdtempSync(join(tmpdir(), 'kc-cli-'));
    writeFileSync(join(cwd, 'local.settings.json'), JSON.stringify({ IsEncrypted: false, Values: { ...env, KAFKA_CONNECT_PASSWORD: 'wrong' } }));
    const fromFile = await run(['once', '--out', 'rows.ndjson'], {}, cwd);
    expect(fromFile.code).toBe(EXIT.CLUSTER_UNREADABLE);
    expect(fromFile.stderr).toContain('401 UNAUTHORIZED: User cannot access the resource.');

    const r = await run(['once', '--out', 'rows.ndjson'], { KAFKA_CONNECT_PASSWORD: CANARY }, cwd);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toBe('');
    // Appended, as a cron job's rows accumulate: the first run's cluster row, then this run's 22.
    expect(readFileSync(join(cwd, 'rows.ndjson'), 'utf8').trim().split('\n')).toHaveLength(1 + 22);
  });

  it('exits 3 when a cluster cannot be read, and says which and why in one line', async () => {
    const r = await run(['once'], { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'gone', url: 'http://127.0.0.1:1' }]), AUTO_HEAL: 'off' });
    expect(r.code).toBe(EXIT.CLUSTER_UNREADABLE);
    expect(r.stderr.split('\n')[0]).toBe('kc-monitor: gone: GET / → UNREACHABLE: connection refused (ECONNREFUSED)');
  });

  it('exits 4 when rows cannot be shipped', async () => {
    const identity = new ManagedIdentityFake('cli-token', 'cli-header');
    const forbidden = { status: 403, body: { error: { code: 'Forbidden', message: 'no role' } } };
    const ingestion = new IngestionFake('cli-token').answer(forbidden, forbidden);
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    try {
      const env = await cluster();
      const r = await run(['once'], { ...env, LOGS_INGESTION_ENDPOINT: await ingestion.start(), LOGS_DCR_IMMUTABLE_ID: 'dcr-00112233445566778899aabbccddeeff' });
      expect(r.code).toBe(EXIT.NOT_SHIPPED);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/kc-monitor: 19 rows for Custom-KafkaConnectStatus not shipped \(spooled for the next tick\): HTTP 403: .*Monitoring Metrics Publisher/);
      expect(r.stderr).toMatch(/kc-monitor: 3 rows for Custom-KafkaConnectHealing not shipped \(spooled for the next tick\): HTTP 403: /);
      // The monitor's own row saying so went through once the 403s were over.
      expect(r.stderr).toMatch(/1 of 23 rows shipped, 22 spooled/);
      expect(ingestion.rows(STATUS_TABLE.stream)).toMatchObject([{ RecordType: 'monitor', State: 'ROWS_SPOOLED', RowCount: 22 }]);
    } finally {
      await Promise.all([identity.stop(), ingestion.stop()]);
    }
  });

  it('without Azure Storage, rows that could not be shipped wait in the local spool and go with the next run', async () => {
    // The same token as the test above: the credential keeps the token it got for the life of the process.
    const identity = new ManagedIdentityFake('cli-token', 'cli-header');
    const outage = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'try later' } } };
    const ingestion = new IngestionFake('cli-token').answer(outage, outage, outage, outage, outage, outage);
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    try {
      const { AzureWebJobsStorage: _, ...env } = await cluster();
      const state = mkdtempSync(join(tmpdir(), 'kc-state-'));
      const settings = { ...env, KC_MONITOR_STATE_DIR: state, LOGS_INGESTION_ENDPOINT: await ingestion.start(), LOGS_DCR_IMMUTABLE_ID: 'dcr-00112233445566778899aabbccddeeff' };
      const down = await run(['once'], settings);
      expect(down.code).toBe(EXIT.NOT_SHIPPED);
      expect(down.stderr).toMatch(/spooled for the next tick/);
      expect(readdirSync(join(state, 'spool')).filter((f) => f.endsWith('.ndjson.gz')).length).toBeGreaterThan(0);
      const spooled = ingestion.rows(STATUS_TABLE.stream).length;

      ingestion.clearAnswers();
      const up = await run(['once'], settings);
      expect(up.code, up.stderr).toBe(EXIT.OK);
      expect(up.stderr).toMatch(/\(\d+ replayed\)/);
      expect(readdirSync(join(state, 'spool')).filter((f) => f.endsWith('.ndjson.gz'))).toEqual([]);
      // The first run's rows arrived once, with their own time, beside the second run's.
      const times = new Set(ingestion.rows(STATUS_TABLE.stream).slice(spooled).map((r) => r.TimeGenerated));
      expect(times.size).toBe(2);
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

  it('alert-params prints every connector as the Bicep connectors parameter, escaped so that it parses', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(
      ...demoConnectors().slice(0, 2),
      { ...demoConnectors()[0]!, name: "it's ${odd} \\ name" },
    );
    const url = await sim.start();
    stops.push(() => sim.stop());
    const settings = { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'east', url }]) };

    const r = await run(['alert-params'], settings);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toBe(
      [
        '// 3 connectors of 1 cluster, from kc-monitor alert-params',
        'param connectors = [',
        "  { cluster: 'east', name: 'it\\'s \\${odd} \\\\ name' }",
        "  { cluster: 'east', name: 'jdbc-sink-orders' }",
        "  { cluster: 'east', name: 's3-sink-clickstream' }",
        ']',
        '',
      ].join('\n'),
    );
    const parser = await bicepParser();
    expect(syntaxProblems(parser.parse(asBicep('x.bicepparam', r.stdout))!.rootNode)).toEqual([]);

    const json = await run(['alert-params', '--json'], settings);
    expect(JSON.parse(json.stdout)).toEqual([
      { cluster: 'east', name: "it's ${odd} \\ name" },
      { cluster: 'east', name: 'jdbc-sink-orders' },
      { cluster: 'east', name: 's3-sink-clickstream' },
    ]);
  });

  it('alert-params prints nothing when a cluster cannot be read', async () => {
    const env = await cluster();
    const r = await run(['alert-params'], { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'ok', url: env.KAFKA_CONNECT_URL, username: 'ops', password: CANARY }, { name: 'gone', url: 'http://127.0.0.1:1' }]) });
    expect(r.code).toBe(EXIT.CLUSTER_UNREADABLE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('kc-monitor: nothing printed: every cluster must be read to list every connector');
    expect(r.stderr).not.toContain(CANARY);
  });

  it('--help prints the usage with the exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('Exit codes: 0 the tick ran');
  });

  it('demo runs real ticks against the built-in simulation: healing, backoff, a non-transient failure held back', async () => {
    const r = await run(['demo']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/^kc-monitor demo: a SIMULATION\./);
    expect(r.stdout).toContain('Cluster demo  REACHABLE  Kafka Connect 3.7.0');
    const tick = (n: number) => r.stdout.slice(r.stdout.indexOf(`Tick ${n} at`), r.stdout.indexOf(n === 4 ? 'with what the healer will do next' : `Tick ${n + 1} at`));
    // The first table shows what the first tick did beside each target.
    const first = r.stdout.slice(r.stdout.indexOf('with what the first tick did'), r.stdout.indexOf('Tick 1 at'));
    expect(first).toMatch(/^ {4}task 2 +FAILED +10\.0\.0\.12:8083 +restarted \(1\) +java\.sql\.SQLException/m);
    expect(first).toMatch(/^ {2}elastic-sink-logs .* held: non-transient /m);
    // Nothing is shipped, and the last line says so.
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Last tick .*, \d+ rows \(not shipped\), \d+ ms$/);
    expect(tick(1)).toMatch(/jdbc-sink-orders task 2 +restarted +1 +08:02Z/);
    expect(tick(1)).toMatch(/debezium-inventory task 0 +restarted +1/);
    expect(tick(1)).toMatch(/elastic-sink-logs +skipped-non-transient +0 .*matches org\\\.apache\\\.kafka\\\.common\\\.config\\\.ConfigException/);
    expect(tick(2)).toMatch(/debezium-inventory task 0 +restarted +2 +08:11Z/);
    expect(tick(3)).toMatch(/jdbc-sink-orders task 2 +recovered/);
    expect(tick(3)).toMatch(/debezium-inventory task 0 +deferred-backoff +2 +08:11Z/);
    expect(tick(4)).toMatch(/debezium-inventory task 0 +restarted +3/);
    expect(tick(4)).toMatch(/mirror-source us-east → eu task 1 +unassigned-too-long/);
    expect(r.stdout).toContain('"Trace": "org.apache.kafka.connect.errors.ConnectException');
    expect(r.stdout).not.toContain(DEMO_DB_PASSWORD);
  });
});
