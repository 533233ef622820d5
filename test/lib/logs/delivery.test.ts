import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Settings, loadConfig } from '../../../src/lib/config';
import { ConnectSimulator } from '../../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../../src/lib/demo/scenario';
import { DEFAULT_LIMITS, Delivery } from '../../../src/lib/logs/delivery';
import { createCredential } from '../../../src/lib/credential';
import { LogsIngestionSink } from '../../../src/lib/logs/ingestion';
import { createMonitor } from '../../../src/lib/monitor';
import { HEALING_TABLE, STATUS_TABLE } from '../../../src/lib/logs/schema';
import { BlobSpool } from '../../../src/lib/logs/spool';
import { summarizeTick } from '../../../src/lib/tick';
import { testStorage } from '../../fakes/azurite';
import { IngestionFake, ManagedIdentityFake } from '../../fakes/ingestion';

const DCR = 'dcr-00112233445566778899aabbccddeeff';
const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/**
 * An ingestion outage across process runs: the real SDK and credential against the https fake, the spool in
 * Azurite's blob service. Each run is a fresh monitor, as separate invocations on separate workers would be.
 */
describe('no rows lost in an ingestion outage', () => {
  const identity = new ManagedIdentityFake('outage-token', 'outage-header');
  const ingestion = new IngestionFake('outage-token');
  const sim = new ConnectSimulator({ version: '3.7.0' }).add(...generatedConnectors(20, 2, 5));
  let settings: Settings;
  const storage = testStorage('kcmoutage');

  beforeAll(async () => {
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    settings = {
      KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'outage', url: await sim.start() }]),
      LOGS_INGESTION_ENDPOINT: await ingestion.start(),
      LOGS_DCR_IMMUTABLE_ID: DCR,
      AzureWebJobsStorage: storage,
      AUTO_HEAL: 'off',
    };
  });
  afterAll(async () => {
    await Promise.all([identity.stop(), ingestion.stop(), sim.stop()]);
  });
  beforeEach(async () => {
    const spool = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
    for (const e of await spool.list()) await spool.remove(e);
    ingestion.uploads.length = 0;
    ingestion.down = undefined;
  });

  async function run(minute: number) {
    const monitor = createMonitor(loadConfig(settings, { requireIngestion: true, requireStorageToHeal: true }), {
      now: () => at(minute),
      ingestionRetry: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50 },
    });
    try {
      return await monitor.tick();
    } finally {
      await monitor.close();
    }
  }

  it('spools through 503s, replays oldest first with the original TimeGenerated, and every row arrives once', async () => {
    ingestion.down = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down for maintenance' } } };
    const r1 = await run(0);
    const r2 = await run(5);
    expect(r1.delivery.spooled).toBe(r1.rows.length + 1); // its rows, and its own ROWS_SPOOLED row
    expect(r2.delivery.spooled).toBeGreaterThan(r2.rows.length);
    expect(ingestion.uploads).toEqual([]);

    // Back, but throttling first: a 429 with Retry-After is waited out by the SDK.
    ingestion.down = undefined;
    ingestion.answer({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'TooManyRequests', message: 'slow down' } } });
    const r3 = await run(10);
    expect(r3.delivery.spooled).toBe(0);
    expect(r3.delivery.replayed).toBeGreaterThan(0);

    const arrived = ingestion.rows(STATUS_TABLE.stream);
    const times = arrived.map((r) => String(r.TimeGenerated));
    // Every row of the three ticks arrived, exactly once, with the time of the tick that saw it...
    const sent = [...r1.rows, ...r1.monitorRows, ...r2.rows, ...r2.monitorRows, ...r3.rows, ...r3.monitorRows];
    const key = (r: Record<string, unknown>) => `${String(r.TimeGenerated)}|${String(r.RecordType)}|${String(r.State)}|${String(r.ConnectorName)}|${String(r.TaskId)}|${String(r.RowCount)}`;
    expect(arrived.map(key).sort()).toEqual(sent.map((r) => key(r as unknown as Record<string, unknown>)).sort());
    // ...and the spooled ones before the new ones, oldest first.
    const firstNew = times.indexOf(at(10).toISOString());
    expect(times.slice(0, firstNew).every((t) => t < at(10).toISOString())).toBe(true);
    expect([...times.slice(0, firstNew)].sort()).toEqual(times.slice(0, firstNew));
    expect(r3.monitorRows.find((r) => r.State === 'ROWS_REPLAYED')?.RowCount).toBe(r3.delivery.replayed);
    // The summary counts the replayed rows as shipped too (found in review: "101 of 601 rows shipped").
    const total = r3.rows.length + r3.healingRows.length + r3.monitorRows.length + r3.delivery.replayed;
    expect(summarizeTick(r3)).toContain(`${total} of ${total} rows shipped (${r3.delivery.replayed} replayed)`);

    const again = await run(15);
    expect(again.delivery.replayed).toBe(0);
  });

  it.each([
    [400, 'InvalidStream', 'The stream does not match its declaration'],
    [413, 'ContentLengthLimitExceeded', 'Request too large'],
  ])('drops a chunk refused with %i (bad data) on record, ships the rest, and never replays it', async (status, code, message) => {
    ingestion.answer({ status, body: { error: { code, message } } });
    const r = await run(20);
    expect(r.delivery.spooled).toBe(0);
    expect(r.delivery.dropped).toHaveLength(1);
    expect(r.delivery.dropped[0]?.reason).toMatch(new RegExp(`^refused as bad data, not retried: HTTP ${status}: ${code}`));
    // The monitor's own row says how many rows went, and why; it arrives.
    const dropped = ingestion.rows(STATUS_TABLE.stream).filter((x) => x.State === 'ROWS_DROPPED');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]?.RowCount).toBe(r.rows.length);
    const next = await run(25);
    expect(next.delivery.replayed).toBe(0);
    expect(next.delivery.dropped).toEqual([]);
  });

  it('drops, on record, a spooled batch refused as bad data at replay, and ships the rest', async () => {
    ingestion.down = { status: 503 };
    await run(0);
    ingestion.down = undefined;
    ingestion.answer({ status: 400, body: { error: { code: 'InvalidStream', message: 'old schema' } } });
    const r = await run(5);
    expect(r.delivery.dropped.some((d) => /^refused as bad data, not retried: HTTP 400: InvalidStream/.test(d.reason))).toBe(true);
    expect(r.delivery.spooled).toBe(0);
    const spool = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
    expect(await spool.list()).toEqual([]);
  });

  it('replays each spooled row once when two runs replay at the same time (blob leases)', async () => {
    ingestion.down = { status: 503 };
    const down = await run(0);
    ingestion.down = undefined;
    ingestion.uploads.length = 0;
    const spool = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
    const sink = () => new LogsIngestionSink({ endpoint: settings.LOGS_INGESTION_ENDPOINT!, dcrImmutableId: DCR }, createCredential(), [], { maxRetries: 0 });
    const [a, b] = await Promise.all([new Delivery(sink(), spool).replay(at(1)), new Delivery(sink(), spool).replay(at(1))]);
    expect(a.replayed + b.replayed).toBe(down.delivery.spooled);
    const arrived = ingestion.uploads.flatMap((u) => u.rows).map((r) => `${String(r.RecordType)}|${String(r.ConnectorName)}|${String(r.TaskId)}|${String(r.State)}`);
    expect(new Set(arrived).size).toBe(arrived.length);
    expect(await spool.list()).toEqual([]);
  });

  it('drops spooled rows older than 47 h at replay, saying so', async () => {
    ingestion.down = { status: 503 };
    await run(0);
    ingestion.down = undefined;
    const late = await run(48 * 60);
    expect(late.delivery.replayed).toBe(0);
    expect(late.delivery.dropped[0]?.reason).toBe('spooled for more than 47 h: Log Analytics would stamp them with their arrival time');
    expect(ingestion.rows(STATUS_TABLE.stream).filter((x) => x.TimeGenerated === at(0).toISOString())).toEqual([]);
  });

  it('keeps the spool under its cap, dropping the oldest rows first, on record', async () => {
    const spool = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
    const sink = new LogsIngestionSink({ endpoint: settings.LOGS_INGESTION_ENDPOINT!, dcrImmutableId: DCR }, createCredential(), [], { maxRetries: 0 });
    ingestion.down = { status: 503 };
    const batch = (minute: number) => Array.from({ length: 30 }, (_, i) => ({ TimeGenerated: at(minute).toISOString(), i, Detail: `row ${i} of minute ${minute}` }));
    await new Delivery(sink, spool).deliver([{ stream: HEALING_TABLE.stream, rows: batch(0) }]);
    const [first] = await spool.list();
    // Room for one batch, not two.
    const delivery = new Delivery(sink, spool, { ...DEFAULT_LIMITS, maxBytes: Math.floor(first!.bytes * 1.5) });
    const second = await delivery.deliver([{ stream: HEALING_TABLE.stream, rows: batch(5) }]);
    expect(second.spooled).toBe(30);
    expect(second.dropped).toEqual([{ stream: HEALING_TABLE.stream, rows: 30, reason: 'spool over its 0 MB cap: the oldest rows go first' }]);
    const left = await spool.list();
    expect(left).toHaveLength(1);
    expect(left[0]?.name.startsWith(at(5).toISOString())).toBe(true);
  });
});
