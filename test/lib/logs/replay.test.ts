import { beforeEach, describe, expect, it } from 'vitest';
import { createCredential } from '../../../src/lib/credential';
import { Delivery } from '../../../src/lib/logs/delivery';
import { LogsIngestionSink } from '../../../src/lib/logs/ingestion';
import { HEALING_TABLE, STATUS_TABLE } from '../../../src/lib/logs/schema';
import { BlobSpool, SPOOL_CONTAINER } from '../../../src/lib/logs/spool';
import { BlobServiceClient } from '@azure/storage-blob';
import { testStorage } from '../../fakes/azurite';
import { useIngestionFakes } from '../../helpers/ingestion';

const DCR = 'dcr-replay';
const NOW = new Date('2026-11-22T08:00:00.000Z');
const storage = testStorage('kcmreplay');

/** Replay at the real boundary: blobs and leases in Azurite, the real SDK against the https fake. */
describe('replaying the spool', () => {
  const { ingestion, endpoint } = useIngestionFakes('replay-token');
  const spool = () => BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
  const sink = () => new LogsIngestionSink({ endpoint: endpoint(), dcrImmutableId: DCR }, createCredential(), [], { maxRetries: 0 });
  const rows = (stream: string, n: number) => Array.from({ length: n }, (_, i) => ({ TimeGenerated: NOW.toISOString(), Stream: stream, i }));

  beforeEach(async () => {
    for (const e of await spool().list()) await spool().remove(e);
    ingestion.uploads.length = 0;
    ingestion.delayMs = 0;
  });

  // The claim was a 60 s lease, never renewed: an upload of 62 s outlived it, the delete answered 412, the
  // batch stayed and was sent again, and that error ended the replay of every other batch.
  it('holds its claim through an upload of 62 s: replayed once, each row received once, the batch removed', async () => {
    await spool().put(STATUS_TABLE.stream, rows(STATUS_TABLE.stream, 300));
    ingestion.delayMs = 62_000;
    const first = new Delivery(sink(), spool()).replay(NOW);
    // Another run (the CLI beside the function) tries while the upload runs, past the first minute.
    await new Promise((resolve) => setTimeout(resolve, 61_000));
    const second = await new Delivery(sink(), spool()).replay(NOW);
    expect(second.replayed).toBe(0);
    const report = await first;
    expect(report.problems).toEqual([]);
    expect(report.replayed).toBe(300);
    ingestion.delayMs = 0;
    const third = await new Delivery(sink(), spool()).replay(NOW);
    expect(third.replayed).toBe(0);
    const received = ingestion.rows(STATUS_TABLE.stream).map((r) => r.i);
    expect(received).toHaveLength(300);
    expect(new Set(received).size).toBe(300);
    expect(await spool().list()).toEqual([]);
  }, 90_000);

  it('goes on with the other streams when one batch cannot be replayed', async () => {
    // A batch that cannot be read (not gzip): it stays for a human, on record; the others are replayed.
    const container = BlobServiceClient.fromConnectionString(storage).getContainerClient(SPOOL_CONTAINER);
    await container.createIfNotExists();
    await container.getBlockBlobClient(`2026-11-22T07:00:00.000Z_${STATUS_TABLE.stream}_broken.ndjson.gz`).uploadData(Buffer.from('not gzip'), {
      metadata: { stream: STATUS_TABLE.stream, rows: '1' },
    });
    await spool().put(HEALING_TABLE.stream, rows(HEALING_TABLE.stream, 20));
    const report = await new Delivery(sink(), spool()).replay(NOW);
    expect(report.problems).toEqual([expect.stringMatching(/^spooled batch 2026-11-22T07:00:00.000Z_Custom-KafkaConnectStatus_broken.ndjson.gz not replayed: /)]);
    expect(report.replayed).toBe(20);
    expect(ingestion.rows(HEALING_TABLE.stream)).toHaveLength(20);
    // And the broken batch is not left claimed: the next run may try it again (and say so again).
    const again = await new Delivery(sink(), spool()).replay(NOW);
    expect(again.problems).toHaveLength(1);
  });

  it('removes a batch idempotently', async () => {
    await spool().put(STATUS_TABLE.stream, rows(STATUS_TABLE.stream, 3));
    const s = spool();
    const [entry] = await s.list();
    const claim = await s.claim(entry!);
    await s.remove(entry!, claim);
    await s.remove(entry!, claim);
    await s.remove(entry!);
    expect(await s.list()).toEqual([]);
  });
});
