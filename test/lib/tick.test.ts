import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../src/lib/demo/scenario';
import type { RowSink } from '../../src/lib/ingestion';
import { createMonitor } from '../../src/lib/monitor';
import type { StatusRow } from '../../src/lib/rows';
import { summarizeTick, tickProblems } from '../../src/lib/tick';
import { expectRowsFitSchema } from '../helpers/schema';

const stoppers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stoppers.splice(0).map((stop) => stop()));
});

function memorySink(): RowSink & { rows: StatusRow[] } {
  const rows: StatusRow[] = [];
  return {
    rows,
    target: 'memory',
    ship: async (stream, batch) => {
      rows.push(...(batch as StatusRow[]));
      return { stream, sent: batch.length, failed: 0, failures: [] };
    },
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
    expect(new Set(sink.rows.map((r) => r.CorrelationId)).size).toBe(1);
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
    const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url }, { requireIngestion: false }), { sink });
    stoppers.push(() => monitor.close());
    const result = await monitor.tick();

    expect(result.requests).toBe(2);
    expect(sim.requests).toHaveLength(2);
    expect(sink.rows).toHaveLength(1 + 2_000 + 8_000);
    expect(sink.rows.filter((r) => r.State === 'FAILED')).toHaveLength(Math.floor(8_000 / 33));
    expect(JSON.stringify(sink.rows)).not.toMatch(/pw-\d+/);
  });
});
