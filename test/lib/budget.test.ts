import { type Server, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { ConnectClient } from '../../src/lib/connect/client';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../src/lib/demo/scenario';
import { Delivery } from '../../src/lib/logs/delivery';
import { Healer } from '../../src/lib/heal/healer';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { createCredential } from '../../src/lib/credential';
import { LogsIngestionSink } from '../../src/lib/logs/ingestion';
import { BlobSpool } from '../../src/lib/logs/spool';
import { runTick } from '../../src/lib/tick';
import { freePort, testStorage } from '../fakes/azurite';
import { IngestionFake } from '../fakes/ingestion';

/**
 * Dependencies that accept a connection and never answer — the worst kind — must not hold a tick past its
 * budget. Without the deadline these ticks would hang for minutes; the bound below has seconds of slack.
 */
describe('a tick within its budget when a dependency hangs', () => {
  let silent: Server;
  let silentPort = 0;
  const ingestion = new IngestionFake('budget-token');
  const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(5, 2, 3));
  let connectUrl = '';
  let endpoint = '';

  beforeAll(async () => {
    silentPort = await freePort();
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
    connectUrl = await sim.start();
    endpoint = await ingestion.start();
  });
  afterAll(async () => {
    silent.close();
    await Promise.all([sim.stop(), ingestion.stop()]);
  });

  const policy = loadConfig({ KAFKA_CONNECT_URL: 'http://x:1' }, { requireIngestion: false }).heal;
  const BUDGET_MS = 3_000;

  it('storage that never answers: the status rows still ship, the tick ends on time, and says why', async () => {
    const hanging = testStorage('kcmspare').replace(/(BlobEndpoint|TableEndpoint)=http:\/\/127\.0\.0\.1:\d+/g, `$1=http://127.0.0.1:${silentPort}`);
    const storage = { kind: 'connection-string' as const, connectionString: hanging };
    const client = new ConnectClient({ name: 'budget', url: connectUrl });
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: 'dcr-00112233445566778899aabbccddeeff' }, { getToken: async () => ({ token: 'budget-token', expiresOnTimestamp: Date.now() + 3_600_000 }) }, [], { maxRetries: 0 });
    const started = performance.now();
    const result = await runTick({
      clients: [client],
      healer: new Healer({ mode: 'on', policy, store: TableHistoryStore.fromConfig(storage), retryDelaysMs: [] }),
      delivery: new Delivery(sink, BlobSpool.fromConfig(storage)),
      budgetMs: BUDGET_MS,
    });
    const elapsed = performance.now() - started;
    await client.close();

    expect(elapsed).toBeLessThan(BUDGET_MS + 3_000);
    expect(result.delivery.shipped.find((s) => s.stream === 'Custom-KafkaConnectStatus')?.sent).toBe(result.rows.length);
    expect(result.healingRows.some((r) => r.Outcome === 'history-unavailable')).toBe(true);
    expect(result.delivery.problems.join(' ')).toMatch(/^spool not replayed: /);
  });

  it('a token endpoint that never answers: the rows are kept, the tick ends on time, the line says why', async () => {
    process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${silentPort}/msi/token`;
    process.env.IDENTITY_HEADER = 'budget';
    const client = new ConnectClient({ name: 'budget-token', url: connectUrl });
    // A user-assigned identity nobody holds a token for (MSAL caches tokens process-wide).
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: 'dcr-00112233445566778899aabbccddeeff' }, createCredential('00000000-0000-0000-0000-00000000b0d9'), [], { maxRetries: 0 });
    const kept: object[] = [];
    const spool = { list: async () => [], put: async (_s: string, rows: readonly object[]) => void kept.push(...rows), claim: async () => undefined, read: async () => [], remove: async () => undefined };
    const started = performance.now();
    const result = await runTick({ clients: [client], delivery: new Delivery(sink, spool), budgetMs: BUDGET_MS });
    const elapsed = performance.now() - started;
    await client.close();

    expect(elapsed).toBeLessThan(BUDGET_MS + 3_000);
    expect(result.delivery.spooled).toBe(result.rows.length + result.monitorRows.length);
    expect(kept).toHaveLength(result.delivery.spooled);
    expect(result.delivery.shipped[0]?.failures[0]?.reason).toMatch(/no token (within 20 s|before the upload deadline of the tick)|ManagedIdentityCredential/);
  });
});
