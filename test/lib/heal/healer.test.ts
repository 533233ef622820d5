import { RestError } from '@azure/data-tables';
import { afterEach, describe, expect, it } from 'vitest';
import { type Settings, loadConfig } from '../../../src/lib/config';
import { ConnectSimulator, type SimConnector } from '../../../src/lib/demo/connectSimulator';
import type { HistoryStore } from '../../../src/lib/heal/history';
import { TableHistoryStore } from '../../../src/lib/heal/tableHistory';
import { createMonitor } from '../../../src/lib/monitor';
import { HEALING_TABLE, STATUS_TABLE } from '../../../src/lib/logs/schema';
import { testStorage } from '../../fakes/azurite';
import { expectRowsFitSchema } from '../../helpers/schema';
import { memorySink } from '../../helpers/sinks';

const T0 = new Date('2026-11-22T08:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function scenario(): SimConnector[] {
  return [
    {
      name: 'flaky sink',
      type: 'sink',
      config: {},
      state: 'RUNNING',
      workerId: 'w:1',
      tasks: [
        { id: 0, state: 'RUNNING', workerId: 'w:1' },
        { id: 1, state: 'FAILED', workerId: 'w:2', trace: 'java.sql.SQLException: Connection refused' },
      ],
    },
    {
      name: 'broken-source',
      type: 'source',
      config: {},
      state: 'RUNNING',
      workerId: 'w:1',
      tasks: [{ id: 0, state: 'FAILED', workerId: 'w:1', trace: 'org.postgresql.util.PSQLException: FATAL: replication slot is active', sticky: true }],
    },
    {
      name: 'misconfigured',
      type: 'sink',
      config: {},
      state: 'FAILED',
      workerId: 'w:1',
      trace: 'org.apache.kafka.common.config.ConfigException: Missing required configuration "topics"',
      sticky: true,
      tasks: [],
    },
  ];
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

async function cluster(version: string) {
  const sim = new ConnectSimulator({ version }).add(...scenario());
  const url = await sim.start();
  stops.push(() => sim.stop());
  const name = `heal-${version}-${Math.random().toString(36).slice(2, 8)}`;
  return { sim, settings: { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name, url }]), AzureWebJobsStorage: testStorage() } as Settings };
}

/** One "process run": a fresh monitor (own clients, own store, no memory) at a given minute. */
async function run(settings: Settings, minute: number) {
  const sink = memorySink();
  const monitor = createMonitor(loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true }), { sink, now: () => at(minute), retryDelaysMs: [5] });
  try {
    const result = await monitor.tick();
    return { result, healing: sink.rows[HEALING_TABLE.stream] ?? [], status: sink.rows[STATUS_TABLE.stream] ?? [] };
  } finally {
    await monitor.close();
  }
}

const brief = (rows: Array<Record<string, unknown>>) => rows.map((r) => `${String(r.ConnectorName)}${r.TaskId !== undefined ? `#${String(r.TaskId)}` : ''} ${String(r.Outcome)}${r.Attempt !== undefined ? ` ${String(r.Attempt)}` : ''}`);

describe.each([
  ['2.2.0', ['/connectors/flaky sink/tasks/1/restart', '/connectors/broken-source/tasks/0/restart']],
  ['3.7.0', ['/connectors/flaky sink/restart?includeTasks=true&onlyFailed=true', '/connectors/broken-source/restart?includeTasks=true&onlyFailed=true']],
])('healing across process runs, Connect %s', (version, firstPosts) => {
  it('restarts, backs off with the history in Table Storage, holds back the non-transient, and forgets the healed', async () => {
    const { sim, settings } = await cluster(version);
    const posts = () => sim.requests.filter((r) => r.method === 'POST').map((r) => r.path);

    const r1 = await run(settings, 0);
    expect(brief(r1.healing)).toEqual(['flaky sink#1 restarted 1', 'broken-source#0 restarted 1', 'misconfigured skipped-non-transient 0']);
    expect(posts()).toEqual(firstPosts);
    expect(r1.healing.find((r) => r.Outcome === 'skipped-non-transient')?.Pattern).toBe('org\\.apache\\.kafka\\.common\\.config\\.ConfigException');
    expect(r1.healing.find((r) => r.ConnectorName === 'broken-source')).toMatchObject({ Action: 'restart', NextAttemptAfter: at(2).toISOString(), HttpStatus: version === '2.2.0' ? 204 : 202 });
    expectRowsFitSchema(r1.healing, HEALING_TABLE.columns);
    expectRowsFitSchema(r1.status);

    // One minute later, another process: the history says wait.
    const r2 = await run(settings, 1);
    expect(brief(r2.healing)).toEqual(['broken-source#0 deferred-backoff 1', 'misconfigured skipped-non-transient 0']);
    expect(posts()).toHaveLength(2);

    // Two minutes after the first restart: the second.
    const r3 = await run(settings, 2);
    expect(brief(r3.healing)).toEqual(['broken-source#0 restarted 2', 'misconfigured skipped-non-transient 0']);
    expect(r3.healing.find((r) => r.ConnectorName === 'broken-source')?.NextAttemptAfter).toBe(at(8).toISOString());

    // The flaky task has run for 4 min (seen healthy at 1), more than its 2 min backoff: recovered and forgotten.
    const r4 = await run(settings, 5);
    expect(brief(r4.healing)).toEqual(['flaky sink#1 recovered 1', 'broken-source#0 deferred-backoff 2', 'misconfigured skipped-non-transient 0']);

    const r5 = await run(settings, 8);
    expect(brief(r5.healing)).toEqual(['broken-source#0 restarted 3', 'misconfigured skipped-non-transient 0']);
    expect(posts()).toHaveLength(4);
    expect(r5.result.delivery.shipped.map((s) => [s.stream, s.failed])).toEqual([
      [STATUS_TABLE.stream, 0],
      [HEALING_TABLE.stream, 0],
    ]);
  });
});

describe('AUTO_HEAL', () => {
  it('off: no decisions, no restarts, no healing rows', async () => {
    const { sim, settings } = await cluster('3.7.0');
    const r = await run({ ...settings, AUTO_HEAL: 'off' }, 0);
    expect(r.healing).toEqual([]);
    expect(r.result.healings.flatMap((h) => h.outcomes)).toEqual([]);
    expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('dry-run: decisions recorded as rows, nothing POSTed, nothing counted', async () => {
    const { sim, settings } = await cluster('3.7.0');
    for (const minute of [0, 1]) {
      const r = await run({ ...settings, AUTO_HEAL: 'dry-run' }, minute);
      expect(brief(r.healing)).toEqual(['flaky sink#1 dry-run 1', 'broken-source#0 dry-run 1', 'misconfigured skipped-non-transient 0']);
    }
    expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });
});

describe('when storage is unreachable', () => {
  const unreachable = (settings: Settings) => ({ ...settings, AzureWebJobsStorage: testStorage().replace(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'TableEndpoint=http://127.0.0.1:1') });

  it('keeps monitoring and shipping, restarts nothing, and says so in a row', async () => {
    const { sim, settings } = await cluster('3.7.0');
    const sink = memorySink();
    let minute = 0;
    const monitor = createMonitor(loadConfig(unreachable(settings), { requireIngestion: false, requireStorageToHeal: true }), { sink, now: () => at(minute), retryDelaysMs: [5] });
    stops.push(() => monitor.close());
    const shipped: number[] = [];
    for (minute of [0, 10, 61]) shipped.push((await monitor.tick()).healingRows.length);
    const healing = sink.rows[HEALING_TABLE.stream] ?? [];
    // Said at once, not repeated by the tick at minute 10 (the same decisions), said again at the hour's detail tick.
    expect(shipped).toEqual([4, 0, 4]);
    expect(brief(healing)).toEqual(
      Array.from({ length: 2 }, () => ['undefined history-unavailable', 'flaky sink#1 deferred-history 0', 'broken-source#0 deferred-history 0', 'misconfigured skipped-non-transient 0']).flat(),
    );
    expect(healing[0]?.Reason).toMatch(/^restart history unavailable \(.*ECONNREFUSED.*\); no restart until it is back$/);
    expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
    expect(sink.rows[STATUS_TABLE.stream]?.filter((r) => r.RecordType === 'cluster')).toHaveLength(3);
    expect(JSON.stringify(healing)).not.toContain(/AccountKey=([^;]+)/.exec(testStorage())![1]);
  });

  it('never restarts from a fresh process that cannot read the history (no loop across runs)', async () => {
    const { sim, settings } = await cluster('3.7.0');
    for (const minute of [0, 5, 10, 65, 130]) {
      const r = await run(unreachable(settings), minute);
      expect(brief(r.healing).filter((h) => h.includes('restarted'))).toEqual([]);
    }
    expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });

  // Write-ahead: a restart is saved before it is made. One that could not be saved is not made, since a
  // recycled worker would not know of it and restart again too soon.
  it('makes no restart it cannot write down first, and restarts once the history can be written', async () => {
    const { sim, settings } = await cluster('3.7.0');
    const table = TableHistoryStore.fromConfig({ kind: 'connection-string', connectionString: testStorage() });
    let writable = false;
    const store: HistoryStore = {
      load: (c) => table.load(c),
      save: async (c, before, after) => {
        if (!writable) throw new RestError('This request is not authorized to perform this operation.', { statusCode: 403 });
        await table.save(c, before, after);
      },
    };
    const sink = memorySink();
    let minute = 0;
    const monitor = createMonitor(loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true }), { sink, store, now: () => at(minute), retryDelaysMs: [5] });
    stops.push(() => monitor.close());

    await monitor.tick();
    minute = 1;
    writable = true;
    await monitor.tick();
    minute = 2;
    await monitor.tick();
    const healing = brief(sink.rows[HEALING_TABLE.stream] ?? []);
    expect(healing.filter((h) => h.startsWith('broken-source'))).toEqual(['broken-source#0 deferred-history 1', 'broken-source#0 restarted 1', 'broken-source#0 deferred-backoff 1']);
    expect((sink.rows[HEALING_TABLE.stream] ?? []).find((r) => r.Outcome === 'history-unavailable')?.Reason).toMatch(/^restart history not saved \(HTTP 403 .*\); no restart until it can be written$/);
    expect(sim.requests.filter((q) => q.method === 'POST')).toHaveLength(2);
    const clusterName = (JSON.parse(String(settings.KAFKA_CONNECT_CLUSTERS)) as Array<{ name: string }>)[0]!.name;
    expect((await table.load(clusterName)).get('t:0:broken-source')).toEqual({ attempts: 1, lastAttempt: at(1).toISOString(), failedSince: at(0).toISOString() });
  });

  it('takes back an attempt written ahead when the restart did not count (a rebalance)', async () => {
    const { sim, settings } = await cluster('3.7.0');
    sim.inject({ method: 'POST', path: /broken-source/, status: 409, body: '{"error_code":409,"message":"Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}' });
    const r1 = await run(settings, 0);
    expect(brief(r1.healing)).toContain('broken-source#0 deferred-rebalance 1');
    const clusterName = (JSON.parse(String(settings.KAFKA_CONNECT_CLUSTERS)) as Array<{ name: string }>)[0]!.name;
    const table = TableHistoryStore.fromConfig({ kind: 'connection-string', connectionString: testStorage() });
    // Only the failure itself is remembered (for its time to recover): no attempt, no restart time.
    expect((await table.load(clusterName)).get('t:0:broken-source')).toEqual({ attempts: 0, failedSince: expect.any(String) });
  });
});

describe('restarts that do not count', () => {
  it('a rebalance (409) defers without counting: the next tick restarts at once, as attempt 1', async () => {
    const { sim, settings } = await cluster('3.7.0');
    sim.inject({ method: 'POST', path: /broken-source/, status: 409, body: '{"error_code":409,"message":"Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}', times: 2 });
    const r1 = await run(settings, 0);
    expect(brief(r1.healing)).toContain('broken-source#0 deferred-rebalance 1');
    const r2 = await run(settings, 1);
    expect(brief(r2.healing)).toContain('broken-source#0 restarted 1');
  });

  it('a connector deleted mid-tick (404) is recorded and forgotten', async () => {
    const { sim, settings } = await cluster('3.7.0');
    sim.inject({ method: 'POST', path: /broken-source/, status: 404, body: '{"error_code":404,"message":"Unknown connector: broken-source"}' });
    const r1 = await run(settings, 0);
    expect(r1.healing.find((r) => r.ConnectorName === 'broken-source')).toMatchObject({ Outcome: 'not-found', HttpStatus: 404 });
    sim.faults.length = 0;
    const r2 = await run(settings, 1);
    expect(brief(r2.healing)).toContain('broken-source#0 restarted 1');
  });
});

describe('non-transient patterns see the trace before redaction', () => {
  // A standard Kerberos setting made "kafka" a "secret" value: the shipped trace read org.apache.***.common…,
  // no default pattern matched, and a connector with bad credentials was restarted forever (accounts lock).
  it('holds back a SaslAuthenticationException although the connector config holds sasl.kerberos.service.name=kafka', async () => {
    const trace =
      'org.apache.kafka.connect.errors.ConnectException: Failed to connect\n\tat org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:1)\nCaused by: org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: Invalid username or password';
    const sim = new ConnectSimulator({ version: '3.7.0' }).add({
      name: 'kerberos-sink',
      type: 'sink',
      config: { 'consumer.override.sasl.kerberos.service.name': 'kafka', 'consumer.override.sasl.mechanism': 'GSSAPI', 'connection.password': 'Db-Pa55w0rd!' },
      state: 'RUNNING',
      workerId: 'w:1',
      tasks: [{ id: 0, state: 'FAILED', workerId: 'w:1', trace: `${trace} (db password Db-Pa55w0rd!)`, sticky: true }],
    });
    const url = await sim.start();
    stops.push(() => sim.stop());
    const settings = { KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: `sasl-${Math.random().toString(36).slice(2, 8)}`, url }]), AzureWebJobsStorage: testStorage() } as Settings;
    for (const minute of [0, 5, 60]) {
      const { healing, status } = await run(settings, minute);
      expect(brief(healing)).toEqual(['kerberos-sink#0 skipped-non-transient 0']);
      const task = status.find((r) => r.RecordType === 'task');
      // What is shipped is still redacted, and still readable.
      expect(String(task?.Trace)).toContain('org.apache.kafka.common.errors.SaslAuthenticationException');
      expect(JSON.stringify([...healing, ...status])).not.toContain('Db-Pa55w0rd!');
    }
    expect(sim.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });
});
