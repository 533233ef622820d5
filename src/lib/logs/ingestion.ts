import type { Writable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import { LogsIngestionClient, isAggregateLogsUploadError } from '@azure/monitor-ingestion';
import type { IngestionConfig } from '../config';
import { ensureError, oneLine } from '../errors';
import { mapLimit } from '../concurrency';
import { clip } from '../redact';

/** One chunk the Logs Ingestion API refused: what it said, and the rows it held. */
export interface ShipFailure {
  readonly rows: number;
  readonly status?: number;
  readonly reason: string;
  /** Worth sending again later (throttling, outage, permissions still propagating); false for bad data (400, 413). */
  readonly retryable: boolean;
  /** The rows themselves, to spool for a later tick. */
  readonly logs: readonly object[];
  /** Cut off by the deadline while in flight: the endpoint may have them already (they may arrive twice). */
  readonly inFlight?: boolean;
}

export interface ShipResult {
  readonly stream: string;
  readonly sent: number;
  readonly failed: number;
  readonly failures: readonly ShipFailure[];
}

/** When shipping stops: no upload starts once `start` has fired; one in flight is cut at `cut` (default `start`). */
export interface ShipDeadline {
  readonly start?: AbortSignal;
  readonly cut?: AbortSignal;
}

/** Where rows go. A failure is data in the result, never a throw: the tick's other work goes on. */
export interface RowSink {
  ship(stream: string, rows: readonly object[], deadline?: ShipDeadline): Promise<ShipResult>;
}

/** The Logs Ingestion API through a Data Collection Rule, authenticated by managed identity. */
/** Scope of the Logs Ingestion API's tokens. */
const MONITOR_SCOPE = 'https://monitor.azure.com/.default';
/** The Logs Ingestion API takes at most 1 MB per call; the SDK counts 1,000,000 bytes, and so do we. */
export const MAX_BATCH_BYTES = 1_000_000;
/** Batches in flight at once, per stream. */
const UPLOAD_CONCURRENCY = 4;
/** A first token takes well under a second in Azure; a token endpoint that is down must not eat the tick. */
const TOKEN_TIMEOUT_MS = 20_000;
/** After a token failure, fail fast for a while rather than wait again for every batch of the tick. */
const TOKEN_BACKOFF_MS = 60_000;

export class LogsIngestionSink implements RowSink {
  private readonly client: LogsIngestionClient;
  private tokenFailure: { reason: string; until: number } | undefined;

  constructor(
    private readonly config: IngestionConfig,
    private readonly credential: TokenCredential,
    private readonly secrets: readonly string[] = [],
    /** The SDK retries 429 and 5xx (honouring Retry-After); the tick's deadline bounds the rest. */
    retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number },
  ) {
    this.client = new LogsIngestionClient(config.endpoint, credential, { ...(retryOptions && { retryOptions }) });
  }

  async ship(stream: string, rows: readonly object[], deadline: ShipDeadline = {}): Promise<ShipResult> {
    if (rows.length === 0) return { stream, sent: 0, failed: 0, failures: [] };
    if (deadline.start?.aborted) return { stream, sent: 0, failed: rows.length, failures: [notSent(rows)] };
    // The token first, within a time limit: nothing is sent without one, so these rows can safely be
    // spooled, where an upload cut short half-way could have sent some of them already.
    const noToken = await this.authenticate(deadline.start);
    if (noToken) return { stream, sent: 0, failed: rows.length, failures: [{ rows: rows.length, logs: rows, retryable: true, reason: noToken }] };
    const { batches, oversized } = splitBatches(rows as Record<string, unknown>[], MAX_BATCH_BYTES);
    const cut = deadline.cut ?? deadline.start;
    // One SDK call per batch, each one chunk: its outcome is this batch's, and no row is counted as sent that
    // the endpoint did not acknowledge. (Given many chunks, the SDK stops at its abort signal without
    // uploading or reporting the chunks still queued.)
    const outcomes = await mapLimit(batches, UPLOAD_CONCURRENCY, async (batch): Promise<ShipFailure | undefined> => {
      if (deadline.start?.aborted) return notSent(batch);
      try {
        await this.client.upload(this.config.dcrImmutableId, stream, batch, { maxConcurrency: 1, ...(cut && { abortSignal: cut }) });
        return undefined;
      } catch (err) {
        const cause = isAggregateLogsUploadError(err) ? err.errors[0]?.cause : ensureError(err);
        if (cut?.aborted) {
          return { rows: batch.length, logs: batch, retryable: true, inFlight: true, reason: 'cut off by the tick deadline before the endpoint answered (if it had already accepted them, they arrive twice)' };
        }
        return { rows: batch.length, logs: batch, ...describeCause(cause ?? ensureError(err), this.secrets) };
      }
    });
    const failures = [...outcomes.filter((f): f is ShipFailure => f !== undefined), ...oversized.map(tooLarge)];
    const failed = failures.reduce((n, f) => n + f.rows, 0);
    return { stream, sent: rows.length - failed, failed, failures };
  }

  /** Undefined when a token is at hand (MSAL caches it); otherwise why not, in one line. */
  private async authenticate(signal?: AbortSignal): Promise<string | undefined> {
    if (this.tokenFailure && Date.now() < this.tokenFailure.until) return this.tokenFailure.reason;
    const limit = AbortSignal.any([AbortSignal.timeout(TOKEN_TIMEOUT_MS), ...(signal ? [signal] : [])]);
    const request = this.credential.getToken(MONITOR_SCOPE, { abortSignal: limit });
    request.catch(() => undefined); // it may settle after we stopped waiting
    try {
      await Promise.race([
        request,
        new Promise<never>((_, reject) => {
          const stop = () => reject(new Error(signal?.aborted ? 'no token before the upload deadline of the tick' : `no token within ${TOKEN_TIMEOUT_MS / 1000} s`));
          if (limit.aborted) stop();
          limit.addEventListener('abort', stop, { once: true });
        }),
      ]);
      this.tokenFailure = undefined;
      return undefined;
    } catch (err) {
      const reason = describeCause(ensureError(err), this.secrets).reason;
      // Our own deadline says nothing of the token endpoint: only its failures make the next uploads fail fast.
      if (!signal?.aborted) this.tokenFailure = { reason, until: Date.now() + TOKEN_BACKOFF_MS };
      return reason;
    }
  }
}

const STATUS_HINTS: Record<number, string> = {
  400: 'rows do not match the DCR stream declaration',
  401: 'token rejected',
  403: 'the identity lacks Monitoring Metrics Publisher on the DCR (a new role assignment can take 30 minutes)',
  404: 'no such DCR or stream: check LOGS_DCR_IMMUTABLE_ID and LOGS_INGESTION_ENDPOINT',
  413: 'request too large',
  429: 'throttled',
};

function describeCause(cause: Error, secrets: readonly string[]): { status?: number; reason: string; retryable: boolean } {
  const e = tokenFailure(cause) as Error & { statusCode?: number; code?: string };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const hint = status !== undefined ? STATUS_HINTS[status] : undefined;
  // MSAL pads its messages with "Timestamp: Not Available - Trace ID: Not Available ..."; keep the words that say why.
  const text = (e.message || e.code || e.name).replace(/\s*-?\s*(Error\(s\)|Timestamp|Correlation ID|Trace ID): Not Available/g, '');
  const message = clip(text, 240, secrets);
  const reason = [status !== undefined ? `HTTP ${status}` : e.name, e.code && !message.includes(e.code) ? e.code : undefined, message, hint]
    .filter(Boolean)
    .join(': ');
  // 400 and 413 say the data itself is wrong: sending it again cannot help. Anything else may pass later.
  const retryable = status !== 400 && status !== 413;
  return { ...(status !== undefined && { status }), reason: oneLine(reason, 400), retryable };
}

/**
 * DefaultAzureCredential reports every credential it tried, starting with the ones that do not apply
 * ("EnvironmentCredential is unavailable"). The one that matters is the first that actually failed,
 * or in Azure the managed identity.
 */
function tokenFailure(cause: Error): Error {
  const errors = (cause as { errors?: unknown }).errors;
  if (cause.name !== 'AggregateAuthenticationError' || !Array.isArray(errors)) return cause;
  const failed = errors.filter((x): x is Error => x instanceof Error);
  return (
    failed.find((x) => x.name !== 'CredentialUnavailableError') ??
    failed.find((x) => x.message.startsWith('ManagedIdentityCredential')) ??
    failed[0] ??
    cause
  );
}

/**
 * Rows in batches whose JSON array is at most `maxBytes`, in order. A row that alone is larger could never
 * be accepted (413): it is set apart, not sent.
 */
export function splitBatches<T extends object>(rows: readonly T[], maxBytes: number): { batches: T[][]; oversized: T[] } {
  const batches: T[][] = [];
  const oversized: T[] = [];
  let batch: T[] = [];
  let bytes = 2; // [ and ]
  for (const row of rows) {
    const size = jsonBytes(row) + 1; // and its comma
    if (size + 2 > maxBytes) {
      oversized.push(row);
      continue;
    }
    if (bytes + size > maxBytes) {
      batches.push(batch);
      batch = [];
      bytes = 2;
    }
    batch.push(row);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return { batches, oversized };
}

/** A string JSON writes as is, between quotes, one byte a character: printable ASCII but `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const KEY_BYTES = new Map<string, number>();

/**
 * `Buffer.byteLength(JSON.stringify(row))` of a flat row without building the string (a detail tick sizes
 * 25,000 rows at 5,000 connectors): most values are plain ASCII, and only the others are serialized.
 */
export function jsonBytes(row: object): number {
  let bytes = 2; // { and }
  let fields = 0;
  for (const key of Object.keys(row)) {
    const v = (row as Record<string, unknown>)[key];
    let size: number;
    if (typeof v === 'string') size = PLAIN.test(v) ? v.length + 2 : Buffer.byteLength(JSON.stringify(v), 'utf8');
    else if (typeof v === 'number') size = Number.isFinite(v) ? String(v).length : 4; // NaN and Infinity are null
    else if (typeof v === 'boolean') size = v ? 4 : 5;
    else if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue; // left out by JSON
    else {
      const text = JSON.stringify(v) as string | undefined; // a toJSON may answer undefined: left out too
      if (text === undefined) continue;
      size = Buffer.byteLength(text, 'utf8');
    }
    let keyBytes = KEY_BYTES.get(key);
    if (keyBytes === undefined) {
      keyBytes = Buffer.byteLength(JSON.stringify(key), 'utf8');
      if (KEY_BYTES.size < 256) KEY_BYTES.set(key, keyBytes); // the columns, a few dozen
    }
    bytes += keyBytes + 1 + size;
    fields++;
  }
  return bytes + Math.max(0, fields - 1); // the commas
}

function notSent(rows: readonly object[]): ShipFailure {
  return { rows: rows.length, logs: rows, retryable: true, reason: 'not sent: the upload deadline of the tick had passed' };
}

function tooLarge(row: object): ShipFailure {
  return { rows: 1, logs: [row], retryable: false, reason: `a row of ${Buffer.byteLength(JSON.stringify(row), 'utf8')} bytes is over the 1 MB a Logs Ingestion call may carry` };
}

/** Rows as newline-delimited JSON, for `kc-monitor once` without an ingestion endpoint. */
export class NdjsonSink implements RowSink {
  private broken: Error | undefined;

  constructor(private readonly out: Writable) {
    // A stream's 'error' event with no listener kills the process: a full disk, a missing directory or a closed
    // pipe is instead a failure in the result, as an HTTP error is for the real sink.
    out.on('error', (err) => {
      this.broken ??= err;
    });
  }

  async ship(stream: string, rows: readonly object[]): Promise<ShipResult> {
    const text = rows.map((r) => `${JSON.stringify({ Stream: stream, ...r })}\n`).join('');
    const err = this.broken ?? (await new Promise<Error | null | undefined>((resolve) => this.out.write(text, resolve)));
    if (!err) return { stream, sent: rows.length, failed: 0, failures: [] };
    const code = (err as NodeJS.ErrnoException).code;
    return { stream, sent: 0, failed: rows.length, failures: [{ rows: rows.length, reason: `cannot write NDJSON (${code ?? err.message})`, retryable: false, logs: rows }] };
  }
}
