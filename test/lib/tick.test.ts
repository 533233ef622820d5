import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../src/lib/demo/scenario';
import { MemoryHistoryStore } from '../../src/lib/heal/history';
import type { RowSink } from '../../src/lib/logs/ingestion';
import { createMonitor } from '../../src/lib/monitor';
import type { StatusRow } from '../../src/lib/logs/rows';
import { HEALING_TABLE } from '../../src/lib/logs/schema';
import { runTick, summarizeTick, tickProblems } from '../../src/lib/tick';
import { ConnectClient } from '../../src/lib/connect/client';
import { Delivery } from '../../src/lib/logs/delivery';
import { expectRowsFitSchema } from '../helpers/schema';
import { memorySink as streamSink } from '../helpers/sinks';

const stoppers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stoppers.splice(0).map((stop) => stop()));
});

/** The status rows alone (these tests read and do not heal). */
function memorySink(): RowSink & { rows: StatusRow[] } {
  const sink = streamSink();
  return {
    get rows() {
      return (sink.rows['Custom-KafkaConnectStatus'] ?? []) as unknown as StatusRow[];
    },
    ship: sink.ship,
  };
}

async function cluster(sim: ConnectSimulator): Promise<string> {
  const url = await sim.start();
  stoppers.push(() => sim.stop());
  return url;
}

describe('runTick', () => {
  it('reads every cluster; one that fails is a row and never stops the others', async () => {
    const eastSim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(3, 2));
    eastSim.connectors.get('connector-00001')!.tasks[1]!.state = 'FAILED';
    const east = await cluster(eastSim);
    const old = await cluster(new ConnectSimulator({ version: '2.2.1' }).add(...generatedConnectors(2, 1)));
    const sink = memorySink();
    const monitor = createMonitor(
      loadConfig(
        {
          KAFKA_CONNECT_CLUSTERS: JSON.stringify([
            { name: 'east', url: east },
            { name: 'down', url: 'http://127.0.0.1:1' },
            { name: 'old', url: old },
          ]),
          AUTO_HEAL: 'off',
        },
        { requireIngestion: false },
      ),
      { sink, now: () => new Date('2026-11-22T08:00:00Z') },
    );
    stoppers.push(() => monitor.close());
    const result = await monitor.tick();

    expect(result.snapshots.map((s) => [s.cluster, s.error?.kind ?? 'REACHABLE', s.connectors.length])).toEqual([
      ['east', 'REACHABLE', 3],
      ['down', 'UNREACHABLE', 0],
      ['old', 'REACHABLE', 2],
    ]);
    expect(sink.rows).toHaveLength(3 + 3 + 6 + 2 + 2);
    expect(new Set(sink.rows.map((r) => r.TimeGenerated))).toEqual(new Set(['2026-11-22T08:00:00.000Z']));
    expect(new Set(sink.rows.filter((r) => r.RecordType === 'cluster').map((r) => r.CorrelationId)).size).toBe(1);
    expect(sink.rows.filter((r) => r.RecordType === 'cluster').every((r) => r.CorrelationId === result.stamp.correlationId)).toBe(true);
    expect(sink.rows.filter((r) => r.RecordType === 'cluster').map((r) => [r.Cluster, r.State])).toEqual([
      ['east', 'REACHABLE'],
      ['down', 'UNREACHABLE'],
      ['old', 'REACHABLE'],
    ]);
    expectRowsFitSchema(sink.rows);
    expect(tickProblems(result).unreadable).toEqual(['down: GET / → UNREACHABLE: connection refused (ECONNREFUSED)']);
    expect(summarizeTick(result)).toMatch(
      /^tick [0-9a-f-]{36}, 3 clusters \(east REACHABLE 3\.7\.0, down UNREACHABLE, old REACHABLE 2\.2\.1\), 5 connectors, 8 tasks \(1 FAILED\), 16 of 16 rows shipped, \d+ ms$/,
    );
  });

  it('reads 2,000 connectors × 4 tasks with two GET requests and writes a row for each', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(2_000, 4));
    const url = await cluster(sim);
    const sink = memorySink();
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'off' }, { requireIngestion: false }), { sink });
    stoppers.push(() => monitor.close());
    const result = await monitor.tick();

    expect(result.requests).toBe(2);
    expect(sim.requests).toHaveLength(2);
    expect(sink.rows).toHaveLength(1 + 2_000 + 8_000);
    expect(sink.rows.filter((r) => r.State === 'FAILED')).toHaveLength(Math.floor(8_000 / 33));
    expect(JSON.stringify(sink.rows)).not.toMatch(/pw-\d+/);
  });

  it.each([
    ['3.7.0', 125],
    ['2.2.0', 500],
  ])('Connect %s: heals 500 failed tasks in one tick with %i restart calls', async (version, calls) => {
    const sim = new ConnectSimulator({ version, latencyMs: 2 }).add(...generatedConnectors(125, 4, 1));
    const url = await cluster(sim);
    const sink = streamSink();
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url }, { requireIngestion: false }), { sink, store: new MemoryHistoryStore() });
    stoppers.push(() => monitor.close());
    const result = await monitor.tick();

    expect(result.healings[0]?.restartCalls).toBe(calls);
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(calls);
    expect(sim.maxInFlight).toBeLessThanOrEqual(16);
    expect(sim.maxInFlight).toBeGreaterThan(1);
    const healing = sink.rows[HEALING_TABLE.stream] ?? [];
    expect(healing).toHaveLength(500);
    expect(healing.every((r) => r.Outcome === 'restarted' && r.Attempt === 1)).toBe(true);
    expectRowsFitSchema(healing, HEALING_TABLE.columns);
    expect(summarizeTick(result)).toContain('healing: 500 restarted');
  });

  it('says rows were spooled only when they were: without a spool the line says dropped', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(2, 1));
    const client = new ConnectClient({ name: 'nospool', url: await cluster(sim) });
    stoppers.push(() => client.close());
    const failing: RowSink = {
      ship: async (stream, batch) => ({ stream, sent: 0, failed: batch.length, failures: [{ rows: batch.length, logs: batch, retryable: true, reason: 'HTTP 503: down' }] }),
    };
    const result = await runTick({ clients: [client], delivery: new Delivery(failing, undefined) });
    const lines = tickProblems(result).notShipped;
    expect(lines).toContain('5 rows for Custom-KafkaConnectStatus not shipped: HTTP 503: down');
    expect(lines).toContain('5 rows for Custom-KafkaConnectStatus dropped: not shipped and no spool configured (AzureWebJobsStorage)');
    expect(lines.join('\n')).not.toContain('spooled for the next tick');
  });

  it('reads expand=info on the hourly detail tick only; the lean ticks between read the status alone, with the same rows', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(20, 2, 7, true));
    const url = await cluster(sim);
    let minute = 0;
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'off', MONITOR_SCHEDULE: '0 */5 * * * *' }, { requireIngestion: false }), {
      sink: streamSink(),
      store: new MemoryHistoryStore(),
      spool: null,
      now: () => new Date(Date.parse('2026-11-22T08:00:00Z') + minute * 60_000),
    });
    stoppers.push(() => monitor.close());
    const listings = () => sim.requests.splice(0).map((r) => r.path).filter((p) => p.startsWith('/connectors?'));
    const detail = await monitor.tick();
    expect(listings()).toEqual(['/connectors?expand=status&expand=info']);
    minute = 5;
    const lean = await monitor.tick();
    expect(listings()).toEqual(['/connectors?expand=status']);
    // A failing connector's row carries its class and tasks.max on a lean tick too.
    const failed = (rows: typeof lean.rows) => rows.filter((r) => r.RecordType === 'connector' && r.TasksFailed !== 0).map(({ TimeGenerated, ...r }) => r);
    expect(failed(lean.rows).length).toBeGreaterThan(0);
    for (const row of failed(lean.rows)) expect(row).toMatchObject({ ConnectorClass: expect.any(String), TasksMax: 2 });
    expect(failed(lean.rows)).toEqual(failed(detail.rows));
    minute = 60;
    await monitor.tick();
    expect(listings()).toEqual(['/connectors?expand=status&expand=info']);
  });

  it('a healing decision whose rows were dropped is shipped again on the next tick, not only at the hour', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(2, 1));
    // Never restartable: the same skipped-non-transient decision every tick.
    sim.connectors.get('connector-00000')!.tasks[0] = { id: 0, state: 'FAILED', workerId: 'w:1', trace: 'org.apache.kafka.common.config.ConfigException: Missing required configuration' };
    const url = await cluster(sim);
    const shipped = streamSink();
    let refuse = true;
    const sink: RowSink = {
      ship: async (stream, batch) =>
        refuse && stream === HEALING_TABLE.stream ? { stream, sent: 0, failed: batch.length, failures: [{ rows: batch.length, logs: batch, retryable: false, reason: 'HTTP 400: bad request' }] } : shipped.ship(stream, batch),
    };
    let minute = 5;
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'on', MONITOR_SCHEDULE: '0 */5 * * * *' }, { requireIngestion: false }), {
      sink,
      store: new MemoryHistoryStore(),
      spool: null,
      now: () => new Date(Date.parse('2026-11-22T08:00:00Z') + minute * 60_000),
    });
    stoppers.push(() => monitor.close());
    expect((await monitor.tick()).healingRows.map((r) => r.Outcome)).toEqual(['skipped-non-transient']); // dropped (400)
    refuse = false;
    minute = 10;
    expect((await monitor.tick()).healingRows.map((r) => r.Outcome)).toEqual(['skipped-non-transient']); // said again
    minute = 15;
    expect((await monitor.tick()).healingRows).toEqual([]); // shipped once: not repeated
    expect((shipped.rows[HEALING_TABLE.stream] ?? []).map((r) => r.TimeGenerated)).toEqual(['2026-11-22T08:10:00.000Z']);
  });
});

