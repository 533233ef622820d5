import { afterEach, describe, expect, it } from 'vitest';
import { type Settings, loadConfig } from '../../../src/lib/config';
import { ConnectSimulator, type SimConnector } from '../../../src/lib/demo/connectSimulator';
import { createMonitor } from '../../../src/lib/monitor';
import { HEALING_TABLE, STATUS_TABLE } from '../../../src/lib/logs/schema';
import { testStorage } from '../../fakes/azurite';
import { expectRowsFitSchema } from '../../helpers/schema';
import { memorySink } from '../../helpers/sinks';
import { TRANSIENT, at } from './fixtures';

/**
 * Scoped healing, flapping and time to recover end to end: the simulator over HTTP, the history in Azurite,
 * a fresh monitor per tick (as a recycled Functions worker or a cron run would be).
 */

function failing(name: string): SimConnector {
  return { name, type: 'sink', config: {}, state: 'RUNNING', workerId: 'w:1', tasks: [{ id: 0, state: 'FAILED', workerId: 'w:1', trace: TRANSIENT }] };
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

async function start(...connectors: SimConnector[]) {
  return startVersion('3.7.0', ...connectors);
}

async function startVersion(version: string, ...connectors: SimConnector[]) {
  const sim = new ConnectSimulator({ version }).add(...connectors);
  const url = await sim.start();
  stops.push(() => sim.stop());
  return { sim, url };
}

async function tick(settings: Settings, minute: number) {
  const sink = memorySink();
  const monitor = createMonitor(loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true }), { sink, now: () => at(minute), retryDelaysMs: [5] });
  try {
    await monitor.tick();
    const rows = sink.rows[HEALING_TABLE.stream] ?? [];
    expectRowsFitSchema(rows, HEALING_TABLE.columns);
    return rows;
  } finally {
    await monitor.close();
  }
}

const suffix = () => Math.random().toString(36).slice(2, 8);

describe('scoped healing, against the simulator', () => {
  it('one function: production heals except what HEAL_EXCLUDE and its healExclude name, staging only says what it would do', async () => {
    const prod = await start(failing('orders'), failing('legacy-jdbc'), failing('scratch-1'));
    const staging = await start(failing('orders'));
    const frozen = await start(failing('orders'));
    const names = { prod: `prod-${suffix()}`, staging: `staging-${suffix()}`, frozen: `frozen-${suffix()}` };
    const settings: Settings = {
      AzureWebJobsStorage: testStorage(),
      HEAL_EXCLUDE: '["^legacy-"]',
      KAFKA_CONNECT_CLUSTERS: JSON.stringify([
        { name: names.prod, url: prod.url, healExclude: ['^scratch-'] },
        { name: names.staging, url: staging.url, autoHeal: 'dry-run' },
        { name: names.frozen, url: frozen.url, autoHeal: 'off' },
      ]),
    };
    const rows = await tick(settings, 0);
    expect(rows.map((r) => `${String(r.Cluster).split('-')[0]} ${String(r.ConnectorName)} ${String(r.Outcome)}${r.Pattern ? ` ${String(r.Pattern)}` : ''}`).sort()).toEqual([
      'prod legacy-jdbc skipped-excluded ^legacy-',
      'prod orders restarted',
      'prod scratch-1 skipped-excluded ^scratch-',
      'staging orders dry-run',
    ]);
    expect(prod.sim.restarts.map((r) => r.connector)).toEqual(['orders']);
    expect(staging.sim.restarts).toEqual([]);
    // autoHeal off: no decision, no row, no POST; its status is still read.
    expect(frozen.sim.restarts).toEqual([]);
    expect(frozen.sim.requests.filter((r) => r.method === 'GET').length).toBeGreaterThan(0);
  });

  it('a task that fails again after every restart is flagged Flapping, keeps backing off, and its recovery is timed', async () => {
    const { sim, url } = await start(failing('orders'));
    const settings: Settings = { AzureWebJobsStorage: testStorage(), KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: `flap-${suffix()}`, url }]) };
    const failAgain = () => {
      sim.connectors.get('orders')!.tasks[0]!.state = 'FAILED';
    };
    const seen: string[] = [];
    const record = (minute: number, rows: Array<Record<string, unknown>>) => {
      for (const r of rows) seen.push(`${minute} ${String(r.Outcome)} ${String(r.Attempt)}${r.Flapping ? ' Flapping' : ''}${r.TimeToRecoverMinutes !== undefined ? ` in ${String(r.TimeToRecoverMinutes)} min` : ''}`);
    };
    // Each restart heals it for a while (the simulator's restart sets RUNNING); then it fails again.
    for (const minute of [0, 5, 10, 15, 20, 25, 30, 35, 40, 61]) {
      if ([10, 20, 30].includes(minute)) failAgain();
      record(minute, await tick(settings, minute));
    }
    expect(seen).toEqual([
      '0 restarted 1',
      '10 restarted 2',
      '20 restarted 3',
      '30 deferred-backoff 3 Flapping',
      '35 restarted 4 Flapping',
      '61 recovered 4 Flapping in 40 min',
    ]);
  });
});

describe('worker health (KIP-1017), against the simulator', () => {
  it('a 3.9 worker answering 500 on /health: the cluster row says UNHEALTHY with its message, its connectors are still read, and restarts wait until it is healthy', async () => {
    const { sim, url } = await startVersion('3.9.0', failing('orders'));
    sim.health = { status: 500, body: { status: 'unhealthy', message: 'Worker was unable to handle this request and may be unable to handle other requests.' } };
    const sink = memorySink();
    let minute = 0;
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'sick', url }]) }, { requireIngestion: false }), { sink, now: () => at(minute) });
    stops.push(() => monitor.close());
    const result = await monitor.tick();
    const cluster = (sink.rows[STATUS_TABLE.stream] ?? []).find((r) => r.RecordType === 'cluster');
    expect(cluster).toMatchObject({ State: 'UNHEALTHY', Detail: 'GET /health → 500: Worker was unable to handle this request and may be unable to handle other requests.' });
    expect((sink.rows[STATUS_TABLE.stream] ?? []).filter((r) => r.RecordType === 'task')).toHaveLength(1);
    expect(result.snapshots[0]!.error).toBeUndefined();
    // Held, not counted: a restart would wait on the stuck worker and time out.
    expect(sim.restarts).toEqual([]);
    expect(sink.rows[HEALING_TABLE.stream]).toEqual([expect.objectContaining({ ConnectorName: 'orders', TaskId: 0, Action: 'restart', Outcome: 'deferred-unhealthy', Attempt: 1 })]);
    expect(String(sink.rows[HEALING_TABLE.stream]![0]!.Reason)).toContain('not restarted: the worker said it is unhealthy (GET /health → 500: Worker was unable');
    sim.health = { status: 200, body: { status: 'healthy', message: 'ok' } };
    minute = 1;
    await monitor.tick();
    expect((sink.rows[STATUS_TABLE.stream] ?? []).filter((r) => r.RecordType === 'cluster').map((r) => r.State)).toEqual(['UNHEALTHY', 'REACHABLE']);
    expect(sim.restarts.map((r) => r.connector)).toEqual(['orders']);
    expect(sink.rows[HEALING_TABLE.stream]!.at(-1)).toMatchObject({ Outcome: 'restarted', Attempt: 1 });
  });
});

describe('a sick worker, against the simulator', () => {
  it('three FAILED tasks on one worker while the other is healthy: a worker row that names it, and none once healed', async () => {
    const tasks = (worker: string, state: string) => Array.from({ length: 2 }, (_, id) => ({ id, state, workerId: worker, ...(state === 'FAILED' && { trace: TRANSIENT }) }));
    const { url } = await start(
      { name: 'a', type: 'sink', config: {}, state: 'RUNNING', workerId: '10.0.0.2:8083', tasks: tasks('10.0.0.2:8083', 'FAILED') },
      { name: 'b', type: 'sink', config: {}, state: 'RUNNING', workerId: '10.0.0.2:8083', tasks: [...tasks('10.0.0.2:8083', 'FAILED')].slice(0, 1) },
      { name: 'c', type: 'sink', config: {}, state: 'RUNNING', workerId: '10.0.0.1:8083', tasks: tasks('10.0.0.1:8083', 'RUNNING') },
    );
    const sink = memorySink();
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'workers', url }]) }, { requireIngestion: false }), { sink, now: () => at(0) });
    stops.push(() => monitor.close());
    await monitor.tick();
    const workerRows = () => (sink.rows[STATUS_TABLE.stream] ?? []).filter((r) => r.RecordType === 'worker');
    expect(workerRows()).toEqual([
      expect.objectContaining({ State: 'SICK', WorkerId: '10.0.0.2:8083', TasksTotal: 3, TasksFailed: 3, FailedShare: 1, Detail: "3 of its 3 tasks FAILED, against 0 of 2 on the other worker: look at this worker's host and log" }),
    ]);
    expectRowsFitSchema(sink.rows[STATUS_TABLE.stream] ?? [], STATUS_TABLE.columns);
    // The restarts healed them (the simulator's restart sets RUNNING): no worker row on the next tick.
    await monitor.tick();
    expect(workerRows()).toHaveLength(1);
  });
});
