import { ensureError } from '../errors';
import type { RowSink, ShipResult } from './ingestion';
import { clip } from '../redact';
import type { Spool } from './spool';

/** Rows given up on, and why: each becomes a `monitor` row so the loss itself is on record. */
export interface Drop {
  readonly stream: string;
  readonly rows: number;
  readonly reason: string;
}

export interface DeliveryReport {
  /** One result per stream shipped in this call. */
  readonly shipped: readonly ShipResult[];
  readonly replayed: number;
  readonly spooled: number;
  readonly dropped: readonly Drop[];
  /** The spool itself failing: one line each. */
  readonly problems: readonly string[];
}

export interface DeliveryLimits {
  /** Log Analytics replaces a TimeGenerated older than 2 days with the arrival time: give up a little before. */
  readonly maxAgeMs: number;
  /** The spool's size cap; the oldest rows go first when it is exceeded. */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: DeliveryLimits = { maxAgeMs: 47 * 3_600_000, maxBytes: 200 * 1024 * 1024 };

const EMPTY: DeliveryReport = { shipped: [], replayed: 0, spooled: 0, dropped: [], problems: [] };

/**
 * Ships rows so that an ingestion outage loses none: what fails with a retryable error is spooled in the
 * function's storage account and replayed, oldest first and with its original TimeGenerated, on a later
 * tick. Bad data (400, 413) is dropped at once, on record, so it never blocks what follows.
 */
export class Delivery {
  constructor(
    private readonly sink: RowSink,
    private readonly spool: Spool | undefined,
    private readonly limits: DeliveryLimits = DEFAULT_LIMITS,
    private readonly secrets: readonly string[] = [],
  ) {}

  /**
   * Sends what earlier ticks spooled, oldest first, with their original TimeGenerated. A stream whose batch
   * still cannot go is left for a later tick (its order kept); the other streams go on. `signal` bounds the
   * uploads; `spoolSignal`, which ends later, the spool writes that must follow an upload.
   */
  async replay(now: Date, signal?: AbortSignal, spoolSignal?: AbortSignal): Promise<DeliveryReport> {
    if (!this.spool) return EMPTY;
    const spool = this.spool;
    const dropped: Drop[] = [];
    const blocked = new Set<string>();
    let replayed = 0;
    let spooled = 0;
    try {
      for (const entry of await spool.list(signal)) {
        if (signal?.aborted) break;
        if (blocked.has(entry.stream)) continue;
        // Another run (the CLI next to the function) may be replaying it: never both.
        const claim = await spool.claim(entry, signal);
        if (!claim) continue;
        const rows = await spool.read(entry, signal);
        const { fresh, stale } = splitByAge(rows, now, this.limits.maxAgeMs);
        if (stale > 0) dropped.push({ stream: entry.stream, rows: stale, reason: 'spooled for more than 47 h: Log Analytics would stamp them with their arrival time' });
        const result = await this.sink.ship(entry.stream, fresh, signal);
        const retry = result.failures.filter((f) => f.retryable).flatMap((f) => f.logs);
        dropped.push(...badData(entry.stream, result));
        // What is left is written before the blob goes: a crash in between replays twice rather than never.
        await spool.put(entry.stream, retry, spoolSignal);
        await spool.remove(entry, claim, spoolSignal);
        replayed += result.sent;
        spooled += retry.length;
        if (retry.length > 0) blocked.add(entry.stream); // this stream's outage goes on
      }
    } catch (err) {
      return { shipped: [], replayed, spooled, dropped, problems: [`spool not fully replayed: ${this.describe(err)}`] };
    }
    return { shipped: [], replayed, spooled, dropped, problems: [] };
  }

  /**
   * Ships each batch within `signal`; spools what may pass later (within `spoolSignal`), drops on record what
   * never will.
   */
  async deliver(batches: ReadonlyArray<{ stream: string; rows: readonly object[] }>, signal?: AbortSignal, spoolSignal?: AbortSignal): Promise<DeliveryReport> {
    const shipped = await Promise.all(batches.filter((b) => b.rows.length > 0).map((b) => this.sink.ship(b.stream, b.rows, signal)));
    const dropped: Drop[] = shipped.flatMap((r) => badData(r.stream, r));
    const problems: string[] = [];
    let spooled = 0;
    for (const result of shipped) {
      const retry = result.failures.filter((f) => f.retryable).flatMap((f) => f.logs);
      if (retry.length === 0) continue;
      if (!this.spool) {
        dropped.push({ stream: result.stream, rows: retry.length, reason: 'not shipped and no spool configured (AzureWebJobsStorage)' });
        continue;
      }
      try {
        await this.spool.put(result.stream, retry, spoolSignal);
        spooled += retry.length;
      } catch (err) {
        dropped.push({ stream: result.stream, rows: retry.length, reason: `not shipped, and the spool failed: ${this.describe(err)}` });
      }
    }
    if (spooled > 0) {
      try {
        dropped.push(...(await this.enforceSize(spoolSignal)));
      } catch (err) {
        problems.push(`spool size not checked: ${this.describe(err)}`);
      }
    }
    return { shipped, replayed: 0, spooled, dropped, problems };
  }

  /** Keeps the spool under its cap by removing the oldest batches. */
  private async enforceSize(signal?: AbortSignal): Promise<Drop[]> {
    const entries = await this.spool!.list(signal);
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    const dropped: Drop[] = [];
    for (const entry of entries) {
      if (total <= this.limits.maxBytes) break;
      await this.spool!.remove(entry, undefined, signal);
      total -= entry.bytes;
      dropped.push({ stream: entry.stream, rows: entry.rows, reason: `spool over its ${Math.round(this.limits.maxBytes / 1048576)} MB cap: the oldest rows go first` });
    }
    return dropped;
  }

  private describe(err: unknown): string {
    const e = ensureError(err) as Error & { statusCode?: number };
    return clip(`${e.statusCode ? `HTTP ${e.statusCode}: ` : ''}${e.message}`, 200, this.secrets);
  }
}

function badData(stream: string, result: ShipResult): Drop[] {
  return result.failures.filter((f) => !f.retryable).map((f) => ({ stream, rows: f.rows, reason: `refused as bad data, not retried: ${f.reason}` }));
}

function splitByAge(rows: Record<string, unknown>[], now: Date, maxAgeMs: number): { fresh: Record<string, unknown>[]; stale: number } {
  const cutoff = now.getTime() - maxAgeMs;
  const fresh = rows.filter((r) => Date.parse(String(r.TimeGenerated)) >= cutoff);
  return { fresh, stale: rows.length - fresh.length };
}

/** Adds up reports of one tick (replay, the tick's rows, the monitor's own rows). */
export function combine(...reports: readonly DeliveryReport[]): DeliveryReport {
  return {
    shipped: reports.flatMap((r) => r.shipped),
    replayed: reports.reduce((n, r) => n + r.replayed, 0),
    spooled: reports.reduce((n, r) => n + r.spooled, 0),
    dropped: reports.flatMap((r) => r.dropped),
    problems: reports.flatMap((r) => r.problems),
  };
}
