import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { createCredential } from '../../../src/lib/credential';
import fc from 'fast-check';
import { LogsIngestionSink, NdjsonSink, jsonBytes } from '../../../src/lib/logs/ingestion';
import { useIngestionFakes } from '../../helpers/ingestion';

const DCR = 'dcr-00112233445566778899aabbccddeeff';
const STREAM = 'Custom-KafkaConnectStatus';
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

/** Real LogsIngestionClient, real DefaultAzureCredential, https fake, managed identity on loopback. */
describe('LogsIngestionSink', () => {
  const { identity, ingestion, endpoint: url } = useIngestionFakes('token-abc');
  let endpoint = '';

  beforeEach(() => {
    endpoint = url();
    ingestion.uploads.length = 0;
    ingestion.delayMs = 0;
    ingestion.hang = false;
    ingestion.abandoned = 0;
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

  // The SDK, given many chunks and an abort signal, waits for those in flight and returns without uploading
  // or reporting the ones still queued: 10,000 rows, 1.5 s per request, abort at 1 s → 4 requests, none
  // accepted, 6,475 "sent". Only what the endpoint acknowledged counts now.
  it('counts as sent only what the endpoint acknowledged when the deadline stops the upload', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ i, Trace: 'x'.repeat(1_000) }));
    ingestion.delayMs = 1_500;
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    await sink.ship(STREAM, [{ warm: 'token' }]); // the token is not what this is about
    ingestion.uploads.length = 0;
    const result = await sink.ship(STREAM, rows, { start: AbortSignal.timeout(1_000), cut: AbortSignal.timeout(4_000) });
    const accepted = ingestion.rows(STREAM).length;
    expect(accepted).toBeGreaterThan(0); // the batches in flight at the deadline were let finish
    expect(result.sent).toBe(accepted);
    expect(result.sent + result.failed).toBe(rows.length);
    expect(result.failures.reduce((n, f) => n + f.logs.length, 0)).toBe(result.failed);
    expect(result.failures.every((f) => f.retryable)).toBe(true);
    expect(result.failures.map((f) => f.reason)).toContain('not sent: the upload deadline of the tick had passed');
    // Every row is either accepted or handed back, never both.
    const handedBack = new Set(result.failures.flatMap((f) => f.logs.map((r) => (r as { i: number }).i)));
    expect(ingestion.rows(STREAM).some((r) => handedBack.has(r.i as number))).toBe(false);
  });

  it('counts nothing as sent when the endpoint never answers, and hands every row back', async () => {
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ i, Trace: 'y'.repeat(600) }));
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    await sink.ship(STREAM, [{ warm: 'token' }]);
    ingestion.uploads.length = 0;
    ingestion.hang = true;
    const result = await sink.ship(STREAM, rows, { start: AbortSignal.timeout(500), cut: AbortSignal.timeout(1_000) });
    expect(result.sent).toBe(0);
    expect(result.failed).toBe(rows.length);
    expect(ingestion.uploads).toHaveLength(0);
    expect(result.failures.map((f) => f.reason)).toContain('cut off by the tick deadline before the endpoint answered (if it had already accepted them, they arrive twice)');
  });

  it('sends each batch as one call of at most 1 MB, and refuses a row that alone is larger', async () => {
    const rows = [...Array.from({ length: 3_000 }, (_, i) => ({ i, Trace: 'z'.repeat(990) })), { i: -1, Trace: 'w'.repeat(1_100_000) }];
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    const result = await sink.ship(STREAM, rows);
    expect(ingestion.uploads.length).toBeGreaterThanOrEqual(3);
    for (const u of ingestion.uploads) expect(Buffer.byteLength(JSON.stringify(u.rows))).toBeLessThanOrEqual(1_000_000);
    expect(ingestion.rows(STREAM).map((r) => r.i as number).sort((a, b) => a - b)).toEqual(rows.slice(0, 3_000).map((r) => r.i));
    expect(result).toMatchObject({ sent: 3_000, failed: 1 });
    expect(result.failures[0]).toMatchObject({ rows: 1, retryable: false, reason: expect.stringMatching(/^a row of 1100\d{3} bytes is over the 1 MB/) });
  });

  // Found by the soak: a deadline that passed before the token came was remembered as a token failure for
  // 60 s, and every upload after it failed with "no token" — the next tick's too, on a fast schedule.
  it('does not take its own deadline for a token failure', async () => {
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential('12121212-3434-5656-7878-909090909090'));
    const late = await sink.ship(STREAM, [{ a: 1 }], { start: AbortSignal.abort() });
    expect(late).toMatchObject({ sent: 0, failed: 1, failures: [{ retryable: true, reason: 'not sent: the upload deadline of the tick had passed' }] });
    const next = await sink.ship(STREAM, [{ a: 2 }], { start: AbortSignal.timeout(10_000) });
    expect(next).toMatchObject({ sent: 1, failed: 0 });
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

  it.each([
    ['a full disk', () => createWriteStream('/dev/full', { flags: 'a' }), 'ENOSPC'],
    ['a directory that does not exist (LOGS_NDJSON_FILE in the function)', () => createWriteStream(join(tmpdir(), 'kc-no-such-dir', 'rows.ndjson'), { flags: 'a' }), 'ENOENT'],
  ])('%s: the rows are reported not shipped, and nothing throws', async (_name, open, code) => {
    const sink = new NdjsonSink(open());
    const first = await sink.ship(STREAM, [{ a: 1 }]);
    const second = await sink.ship(STREAM, [{ b: 2 }, { c: 3 }]);
    expect(first).toMatchObject({ sent: 0, failed: 1, failures: [{ rows: 1, reason: `cannot write NDJSON (${code})`, retryable: false }] });
    expect(second).toMatchObject({ sent: 0, failed: 2 });
  });
});

describe('jsonBytes', () => {
  it("is Buffer.byteLength(JSON.stringify(row)) for any flat row: escapes, non-ASCII, lone surrogates, values JSON leaves out", () => {
    const seen = { escaped: 0, wide: 0, loneSurrogate: 0, leftOut: 0, nonFinite: 0 };
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\u007f', 'é', '€', '😀', '\ud800', '\udc00', 'a') }));
    const value = fc.oneof(text, fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-7), fc.integer(), fc.boolean(), fc.constant(undefined), fc.constant(null), fc.constant(() => 1), fc.date({ noInvalidDate: true }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom('TimeGenerated', 'ConnectorName', 'TaskId'), text), value, { maxKeys: 8 }), (row) => {
        const json = JSON.stringify(row);
        if (/\\["\\nu]/.test(json)) seen.escaped++;
        if (/[\u0080-\uffff]/.test(json)) seen.wide++;
        if (/\\ud[89a-f]/.test(json)) seen.loneSurrogate++;
        if (Object.values(row).some((v) => v === undefined || typeof v === 'function')) seen.leftOut++;
        if (Object.values(row).some((v) => typeof v === 'number' && !Number.isFinite(v))) seen.nonFinite++;
        expect(jsonBytes(row)).toBe(Buffer.byteLength(json, 'utf8'));
      }),
      { numRuns: 3_000 },
    );
    // The edges were reached, not just plain ASCII.
    for (const [edge, n] of Object.entries(seen)) expect(n, edge).toBeGreaterThan(50);
  });
});
