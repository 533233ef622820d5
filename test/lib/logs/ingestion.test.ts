import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCredential } from '../../../src/lib/credential';
import { LogsIngestionSink, NdjsonSink } from '../../../src/lib/logs/ingestion';
import { IngestionFake, ManagedIdentityFake } from '../../fakes/ingestion';

const DCR = 'dcr-00112233445566778899aabbccddeeff';
const STREAM = 'Custom-KafkaConnectStatus';
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

/** Real LogsIngestionClient, real DefaultAzureCredential, https fake, managed identity on loopback. */
describe('LogsIngestionSink', () => {
  const identity = new ManagedIdentityFake('token-abc', 'identity-header-value');
  const ingestion = new IngestionFake('token-abc');
  let endpoint = '';

  beforeAll(async () => {
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    endpoint = await ingestion.start();
  });
  afterAll(async () => {
    await Promise.all([identity.stop(), ingestion.stop()]);
  });
  beforeEach(() => {
    ingestion.uploads.length = 0;
    identity.requests.length = 0;
    identity.failWith = undefined;
  });

  it('ships rows gzip-compressed to the DCR stream with a managed-identity token', async () => {
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    const result = await sink.ship(STREAM, [{ State: 'RUNNING' }, { State: 'FAILED' }]);
    expect(result).toEqual({ stream: STREAM, sent: 2, failed: 0, failures: [] });
    expect(ingestion.uploads).toHaveLength(1);
    expect(ingestion.uploads[0]).toMatchObject({ dcr: DCR, stream: STREAM, apiVersion: '2023-01-01', gzip: true, rows: [{ State: 'RUNNING' }, { State: 'FAILED' }] });
    expect(identity.requests[0]?.searchParams.get('resource')).toBe('https://monitor.azure.com');
    expect(identity.requests[0]?.searchParams.has('client_id')).toBe(false);
  });

  it('asks for the user-assigned identity named by AZURE_CLIENT_ID', async () => {
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential(CLIENT_ID));
    await sink.ship(STREAM, [{ a: 1 }]);
    expect(identity.requests.at(-1)?.searchParams.get('client_id')).toBe(CLIENT_ID);
  });

  it('sends nothing for no rows', async () => {
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    expect(await sink.ship(STREAM, [])).toEqual({ stream: STREAM, sent: 0, failed: 0, failures: [] });
    expect(ingestion.uploads).toHaveLength(0);
  });

  it.each<[number, string]>([
    [403, 'HTTP 403: .*Monitoring Metrics Publisher on the DCR'],
    [404, 'HTTP 404: .*check LOGS_DCR_IMMUTABLE_ID'],
    [400, 'HTTP 400: .*InvalidStream.*do not match the DCR stream declaration'],
  ])('reports a %i with its status and reason instead of throwing', async (status, reason) => {
    ingestion.answer({ status, body: { error: { code: status === 400 ? 'InvalidStream' : 'Error', message: `refused with ${status}` } } });
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    const result = await sink.ship(STREAM, [{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(result.sent).toBe(0);
    expect(result.failed).toBe(3);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.status).toBe(status);
    expect(result.failures[0]?.rows).toBe(3);
    expect(result.failures[0]?.reason).toMatch(new RegExp(reason));
    expect(result.failures[0]?.reason).not.toContain('undefined');
  });

  it('reports per chunk: one refused chunk of a large batch does not lose the others', async () => {
    // ~2.4 MB of rows: the SDK splits them into three ~1 MB chunks and sends them one by one here.
    const rows = Array.from({ length: 2_400 }, (_, i) => ({ i, Trace: 'x'.repeat(1_000) }));
    ingestion.answer({ status: 400, body: { error: { code: 'InvalidStream', message: 'bad chunk' } } });
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    const result = await sink.ship(STREAM, rows);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.status).toBe(400);
    expect(result.sent + result.failed).toBe(rows.length);
    expect(result.failed).toBe(result.failures[0]?.rows);
    expect(ingestion.rows(STREAM)).toHaveLength(result.sent);
    expect(result.sent).toBeGreaterThan(0);
  });

  it('reports a token endpoint that refuses, without aborting', async () => {
    identity.failWith = 400;
    // MSAL caches tokens process-wide per identity: ask for one that has no token yet.
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential('99999999-8888-7777-6666-555555555555'));
    const result = await sink.ship(STREAM, [{ a: 1 }]);
    expect(result.sent).toBe(0);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.status).toBeUndefined();
    expect(result.failures[0]?.reason).toMatch(/^CredentialUnavailableError: ManagedIdentityCredential: Authentication failed.*Identity not found/);
    expect(result.failures[0]?.reason).not.toContain('\n');
    expect(ingestion.uploads).toHaveLength(0);
  });
});

describe('NdjsonSink', () => {
  it('writes one JSON object per line, tagged with its stream', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const result = await new NdjsonSink(out).ship(STREAM, [{ a: 1 }, { b: 'two' }]);
    expect(result).toEqual({ stream: STREAM, sent: 2, failed: 0, failures: [] });
    expect(Buffer.concat(chunks).toString()).toBe(`{"Stream":"${STREAM}","a":1}\n{"Stream":"${STREAM}","b":"two"}\n`);
  });
});
