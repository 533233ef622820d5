import { ensureError } from '../errors';
import type { RowSink, ShipDeadline, ShipResult } from './ingestion';
import { clip } from '../redact';
import type { Spool, SpoolClaim, SpoolEntry } from './spool';

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
  /** Why the spooled rows were not shipped: one entry per reason, with its row count. */
  readonly spooledBecause: readonly SpoolReason[];
  /** Spooled rows that were cut off in flight: the endpoint may have them already, so they may arrive twice. */
  readonly mayRepeat: readonly RowBatch[];
  readonly dropped: readonly Drop[];
  /** The spool itself failing: one line each. */
  readonly problems: readonly string[];
}

/** Rows of one stream. */
export interface RowBatch {
  readonly stream: string;
  readonly rows: readonly object[];
}

export interface SpoolReason {
  readonly rows: number;
  readonly reason: string;
}

/** The ship deadline, and `spool`, which ends later: the spool writes that must follow an upload. */
export interface DeliveryDeadline extends ShipDeadline {
  readonly spool?: AbortSignal;
}

export interface DeliveryLimits {
  /** Log Analytics replaces a TimeGenerated older than 2 days with the arrival time: give up a little before. */
  readonly maxAgeMs: number;
  /** The spool's size cap; the oldest rows go first when it is exceeded. */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: DeliveryLimits = { maxAgeMs: 47 * 3_600_000, maxBytes: 200 * 1024 * 1024 };

const EMPTY: DeliveryReport = { shipped: [], replayed: 0, spooled: 0, spooledBecause: [], mayRepeat: [], dropped: [], problems: [] };

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
   * still cannot go is left for a later tick (its order kept); the other streams go on, and so does the
   * replay when one batch fails. Each batch is claimed (a lease renewed while its upload runs), shipped, what
   * is left is spooled again, then the batch is removed.
   */
  async replay(now: Date, deadline: DeliveryDeadline = {}): Promise<DeliveryReport> {
    if (!this.spool) return EMPTY;
    const spool = this.spool;
    const dropped: Drop[] = [];
    const problems: string[] = [];
    const spooledBecause: SpoolReason[] = [];
    const mayRepeat: RowBatch[] = [];
    const blocked = new Set<string>();
    let replayed = 0;
    let spooled = 0;
    let entries: SpoolEntry[];
    try {
      entries = await spool.list(deadline.start);
    } catch (err) {
      return { ...EMPTY, problems: [`spool not replayed: ${this.describe(err)}`] };
    }
    for (const entry of entries) {
      if (deadline.start?.aborted) break;
      if (blocked.has(entry.stream)) continue;
      let claim: SpoolClaim | undefined;
      try {
        // Another run (the CLI next to the function) may be replaying it: never both.
        claim = await spool.claim(entry, deadline.start);
        if (!claim) continue;
        const rows = await spool.read(entry, deadline.start);
        const { fresh, stale } = splitByAge(rows, now, this.limits.maxAgeMs);
        if (stale > 0) dropped.push({ stream: entry.stream, rows: stale, reason: 'spooled for more than 47 h: Log Analytics would stamp them with their arrival time' });
        const result = await this.sink.ship(entry.stream, fresh, deadline);
        const retry = result.failures.filter((f) => f.retryable).flatMap((f) => f.logs);
        dropped.push(...badData(entry.stream, result));
        // What is left is written before the batch goes: a crash in between replays twice rather than never.
        await spool.put(entry.stream, retry, deadline.spool);
        await spool.remove(entry, claim, deadline.spool);
        claim = undefined;
        replayed += result.sent;
        spooled += retry.length;
        spooledBecause.push(...reasonsOf(result));
        mayRepeat.push(...cutInFlight(result));
        if (retry.length > 0) blocked.add(entry.stream); // this stream's outage goes on
      } catch (err) {
        await claim?.release();
        problems.push(`spooled batch ${entry.name} not replayed: ${this.describe(err)}`);
        blocked.add(entry.stream); // keep its order: nothing newer of this stream goes before it
      }
    }
    return { shipped: [], replayed, spooled, spooledBecause: mergeReasons(spooledBecause), mayRepeat, dropped, problems };
  }

  /** Ships each batch; spools what may pass later, drops on record what never will. */
  async deliver(batches: readonly RowBatch[], deadline: DeliveryDeadline = {}): Promise<DeliveryReport> {
    const shipped = await Promise.all(batches.filter((b) => b.rows.length > 0).map((b) => this.sink.ship(b.stream, b.rows, deadline)));
    const dropped: Drop[] = shipped.flatMap((r) => badData(r.stream, r));
    const problems: string[] = [];
    const spooledBecause: SpoolReason[] = [];
    const mayRepeat: RowBatch[] = [];
    let spooled = 0;
    for (const result of shipped) {
      const retry = result.failures.filter((f) => f.retryable).flatMap((f) => f.logs);
      if (retry.length === 0) continue;
      if (!this.spool) {
        dropped.push({ stream: result.stream, rows: retry.length, reason: 'not shipped and no spool configured (AzureWebJobsStorage)' });
        continue;
      }
      try {
        await this.spool.put(result.stream, retry, deadline.spool);
        spooled += retry.length;
        spooledBecause.push(...reasonsOf(result));
        mayRepeat.push(...cutInFlight(result));
      } catch (err) {
        dropped.push({ stream: result.stream, rows: retry.length, reason: `not shipped, and the spool failed: ${this.describe(err)}` });
      }
    }
    if (spooled > 0) {
      try {
        dropped.push(...(await this.enforceSize(deadline.spool)));
      } catch (err) {
        problems.push(`spool size not checked: ${this.describe(err)}`);
      }
    }
    return { shipped, replayed: 0, spooled, spooledBecause: mergeReasons(spooledBecause), mayRepeat, dropped, problems };
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
    spooledBecause: mergeReasons(reports.flatMap((r) => r.spooledBecause)),
    mayRepeat: reports.flatMap((r) => r.mayRepeat),
    dropped: reports.flatMap((r) => r.dropped),
    problems: reports.flatMap((r) => r.problems),
  };
}

/** The retryable failures of a result, by reason. */
function reasonsOf(result: ShipResult): SpoolReason[] {
  return result.failures.filter((f) => f.retryable).map((f) => ({ rows: f.rows, reason: f.reason }));
}

function mergeReasons(reasons: readonly SpoolReason[]): SpoolReason[] {
  const byReason = new Map<string, number>();
  for (const r of reasons) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + r.rows);
  return [...byReason].map(([reason, rows]) => ({ rows, reason }));
}

function cutInFlight(result: ShipResult): RowBatch[] {
  return result.failures.filter((f) => f.inFlight).map((f) => ({ stream: result.stream, rows: f.logs }));
}
