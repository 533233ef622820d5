import { afterEach, describe, expect, it } from 'vitest';
import { type Settings, loadConfig } from '../../../src/lib/config';
import { ConnectSimulator, type SimConnector } from '../../../src/lib/demo/connectSimulator';
import { createMonitor } from '../../../src/lib/monitor';
import { HEALING_TABLE, STATUS_TABLE } from '../../../src/lib/schema';
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
    expect(r5.result.shipped.map((s) => [s.stream, s.failed])).toEqual([
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
  it('keeps monitoring and shipping, restarts once, then waits the full cap, and says so in a row', async () => {
    const { sim, settings } = await cluster('3.7.0');
    const down = { ...settings, AzureWebJobsStorage: testStorage().replace(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'TableEndpoint=http://127.0.0.1:1') };
    const sink = memorySink();
    const monitor = createMonitor(loadConfig(down, { requireIngestion: false, requireStorageToHeal: true }), { sink, now: () => at(minute), retryDelaysMs: [5] });
    stops.push(() => monitor.close());
    let minute = 0;
    await monitor.tick();
    minute = 10;
    await monitor.tick();
    const healing = sink.rows[HEALING_TABLE.stream] ?? [];
    expect(brief(healing)).toEqual([
      'undefined history-unavailable',
      'flaky sink#1 restarted 1',
      'broken-source#0 restarted 1',
      'misconfigured skipped-non-transient 0',
      'undefined history-unavailable',
      'broken-source#0 deferred-backoff 1',
      'misconfigured skipped-non-transient 0',
    ]);
    expect(healing[0]?.Reason).toMatch(/^restart history unavailable \(.*ECONNREFUSED.*\); healing from this worker's memory with the full 60 min backoff$/);
    expect(healing.at(-2)?.NextAttemptAfter).toBe(at(60).toISOString());
    expect(sim.requests.filter((q) => q.method === 'POST')).toHaveLength(2);
    expect(sink.rows[STATUS_TABLE.stream]?.filter((r) => r.RecordType === 'cluster')).toHaveLength(2);
    expect(JSON.stringify(healing)).not.toContain(/AccountKey=([^;]+)/.exec(testStorage())![1]);
  });
});
