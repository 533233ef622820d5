import { afterEach, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../src/lib/connect/client';
import { readCluster } from '../../src/lib/connect/read';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../src/lib/demo/scenario';
import { Delivery } from '../../src/lib/logs/delivery';
import { Healer } from '../../src/lib/heal/healer';
import { MemoryHistoryStore } from '../../src/lib/heal/history';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { loadConfig } from '../../src/lib/config';
import { runTick, summarizeTick } from '../../src/lib/tick';
import { testStorage } from '../fakes/azurite';
import { issueCertificate, makeCertificateAuthority } from '../fakes/tls';
import { memorySink } from '../helpers/sinks';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

async function cluster(name: string, sim: ConnectSimulator): Promise<ConnectClient> {
  const url = await sim.start();
  const client = new ConnectClient({ name, url });
  stops.push(() => sim.stop(), () => client.close());
  return client;
}

const policy = loadConfig({ KAFKA_CONNECT_URL: 'http://x:1' }, { requireIngestion: false }).heal;

describe('the tick deadline', () => {
  it('stops a slow cluster at the deadline, keeps the fast one, ships everything, and says what was not done', async () => {
    const slow = new ConnectSimulator().add(...generatedConnectors(2, 1)).inject({ path: '/', delayMs: 5_000 });
    const fast = new ConnectSimulator().add(...generatedConnectors(3, 2));
    const clients = [await cluster('slow', slow), await cluster('fast', fast)];
    const sink = memorySink();
    const started = performance.now();
    const result = await runTick({ clients, delivery: new Delivery(sink, undefined), budgetMs: 1_200 });
    const elapsed = performance.now() - started;

    expect(result.deadlineReached).toBe(true);
    expect(result.snapshots.map((s) => [s.cluster, s.error?.kind ?? 'REACHABLE', s.connectors.length])).toEqual([
      ['slow', 'ABORTED', 0],
      ['fast', 'REACHABLE', 3],
    ]);
    const status = sink.rows['Custom-KafkaConnectStatus'] ?? [];
    expect(status.find((r) => r.Cluster === 'slow')).toMatchObject({ RecordType: 'cluster', State: 'ABORTED', Detail: 'slow: GET / → ABORTED: the tick deadline passed' });
    expect(status.find((r) => r.RecordType === 'monitor')).toMatchObject({
      State: 'DEADLINE_REACHED',
      Detail: 'tick budget of 1 s (MONITOR_DEADLINE_SECONDS) reached: 1 cluster not read (slow)',
    });
    expect(summarizeTick(result)).toContain('DEADLINE REACHED');
    // Well before the slow server would have answered.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('sends no restart past the deadline: those left are deferred to the next tick, uncounted', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(64, 1, 1)).inject({ method: 'POST', path: /restart/, delayMs: 250 });
    const client = await cluster('busy', sim);
    const healer = new Healer({ mode: 'on', policy, store: new MemoryHistoryStore(), retryDelaysMs: [] });
    const result = await runTick({ clients: [client], healer, delivery: new Delivery(memorySink(), undefined), budgetMs: 1_200 });

    const outcomes = result.healings[0]!.outcomes.map((o) => o.outcome);
    const deferred = outcomes.filter((o) => o === 'deferred-deadline').length;
    expect(outcomes.filter((o) => o === 'restarted').length).toBeGreaterThan(0);
    expect(deferred).toBeGreaterThan(0);
    expect(sim.requests.filter((r) => r.method === 'POST').length).toBeLessThan(64);
    expect(result.monitorRows.find((r) => r.State === 'DEADLINE_REACHED')?.Detail).toMatch(new RegExp(`${deferred} restarts? left for the next tick`));

    // The next tick restarts the deferred ones as first attempts.
    sim.faults.length = 0;
    const next = await runTick({ clients: [client], healer, delivery: new Delivery(memorySink(), undefined), budgetMs: 60_000 });
    const restarted = next.healings[0]!.outcomes.filter((o) => o.outcome === 'restarted');
    expect(restarted.length).toBeGreaterThanOrEqual(deferred);
    expect(next.deadlineReached).toBe(false);
  });

  // The save reused the Connect deadline that had just cut the restart: "history unavailable", and on a fresh
  // worker attempt 1 repeated every tick, so the backoff never grew.
  it('saves a restart cut off by the Connect deadline, so the next worker backs off from it', async () => {
    const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(1, 1, 1)).inject({ method: 'POST', path: /restart/, delayMs: 3_000 });
    const client = await cluster(`cut-${Math.random().toString(36).slice(2, 8)}`, sim);
    const T0 = Date.parse('2026-11-22T08:00:00.000Z');
    const tick = (minute: number) => {
      const healer = new Healer({ mode: 'on', policy, store: TableHistoryStore.fromConfig({ kind: 'connection-string', connectionString: testStorage() }), retryDelaysMs: [] });
      return runTick({ clients: [client], healer, now: () => new Date(T0 + minute * 60_000), delivery: new Delivery(memorySink(), undefined), budgetMs: 1_500 });
    };
    const attempts = [];
    for (const minute of [0, 3, 8]) {
      const result = await tick(minute);
      const outcomes = result.healings[0]!.outcomes;
      expect(outcomes.map((o) => o.outcome)).not.toContain('history-unavailable');
      attempts.push(outcomes.map((o) => `${o.outcome} ${o.attempt}`).join(', '));
    }
    // Restart 1 at minute 0 (cut off, counted); at minute 3 the 2-minute wait is over: restart 2; at minute 8
    // the 6-minute wait after it is not.
    expect(attempts).toEqual(['failed 1', 'failed 2', 'deferred-backoff 2']);
  });

  it('reads a pre-2.3 cluster until the deadline, then reports it cut short', async () => {
    const sim = new ConnectSimulator({ version: '2.2.0', latencyMs: 100 }).add(...generatedConnectors(40, 1));
    const client = await cluster('old', sim);
    const snapshot = await readCluster(client, { maxTraceBytes: 1_000, concurrency: 2, signal: AbortSignal.timeout(500) });
    expect(snapshot.error?.kind).toBe('ABORTED');
    expect(sim.requests.length).toBeLessThan(42);
  });
});

describe('TLS verification', () => {
  it('cannot be turned off from the environment', async () => {
    const ca = await makeCertificateAuthority('untrusted CA');
    const sim = new ConnectSimulator({ tls: await issueCertificate(ca, 'connect') });
    const url = await sim.start();
    stops.push(() => sim.stop());
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const client = new ConnectClient({ name: 'tls', url });
      stops.push(() => client.close());
      const snapshot = await readCluster(client, { maxTraceBytes: 1_000 });
      expect(snapshot.error?.kind).toBe('TLS_ERROR');
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
  });
});
