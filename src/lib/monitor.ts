import type { MonitorConfig } from './config';
import { ConnectClient, type ConnectTimeouts, DEFAULT_TIMEOUTS } from './connect/client';
import { readCluster } from './connect/read';
import { DEFAULT_LIMITS, Delivery } from './logs/delivery';
import { Healer } from './heal/healer';
import { type HistoryStore, TableHistoryStore } from './heal/history';
import type { Decision } from './heal/policy';
import { createCredential } from './credential';
import { LogsIngestionSink, type RowSink } from './logs/ingestion';
import { RowMemory } from './logs/rows';
import { BlobSpool, type Spool } from './logs/spool';
import { DEFAULT_MAX_TRACE_BYTES, type TickResult, runTick } from './tick';

export interface MonitorOptions {
  /** Where rows go; defaults to the Logs Ingestion API when the config names one. */
  readonly sink?: RowSink;
  /** Where the restart history lives; defaults to Table Storage in AzureWebJobsStorage when configured. */
  readonly store?: HistoryStore;
  /** Where unshipped rows wait; defaults to blobs in AzureWebJobsStorage when configured; null for none. */
  readonly spool?: Spool | null;
  /** The Logs Ingestion SDK's retries of 429 and 5xx (its defaults otherwise; tests shorten them). */
  readonly ingestionRetry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  readonly now?: () => Date;
  readonly timeouts?: ConnectTimeouts;
  /** Waits before retrying a restart refused by a rebalance (tests shorten them). */
  readonly retryDelaysMs?: readonly number[];
}

/** What `kc-monitor status` shows: each cluster as read, and what the healer would decide now. */
export interface Look {
  readonly snapshots: TickResult['snapshots'];
  readonly decisions: ReadonlyMap<string, readonly Decision[]>;
}

/** The monitor built from its configuration: one Connect client per cluster, kept for every tick of a worker. */
export interface Monitor {
  readonly config: MonitorConfig;
  /** Reads every cluster, heals per AUTO_HEAL, ships the rows. */
  tick(): Promise<TickResult>;
  /** Reads every cluster and previews the healing decisions; restarts, writes and ships nothing. */
  look(): Promise<Look>;
  close(): Promise<void>;
}

export function createMonitor(config: MonitorConfig, options: MonitorOptions = {}): Monitor {
  const clients = config.clusters.map((cluster) => new ConnectClient(cluster, options.timeouts ?? DEFAULT_TIMEOUTS));
  const sink =
    options.sink ??
    (config.ingestion && new LogsIngestionSink(config.ingestion, createCredential(config.managedIdentityClientId), config.secrets, options.ingestionRetry));
  const spool = options.spool === null ? undefined : (options.spool ?? (config.storage && BlobSpool.fromConfig(config.storage)));
  const delivery = sink && new Delivery(sink, spool, { ...DEFAULT_LIMITS, maxBytes: config.spoolMaxBytes }, config.secrets);
  const store = options.store ?? (config.storage && TableHistoryStore.fromConfig(config.storage));
  const healer = new Healer({
    mode: config.autoHeal,
    policy: config.heal,
    ...(store && { store }),
    ...(options.retryDelaysMs && { retryDelaysMs: options.retryDelaysMs }),
    secrets: config.secrets,
  });
  const now = options.now ?? (() => new Date());
  const rowMemory = new RowMemory(config.scheduleIntervalSeconds !== undefined ? config.scheduleIntervalSeconds * 1000 : undefined);
  return {
    config,
    tick: () => runTick({ clients, healer, now, rowMemory, budgetMs: config.deadlineSeconds * 1000, ...(delivery && { delivery }) }),
    look: async () => {
      const at = now();
      const snapshots = await Promise.all(clients.map((c) => readCluster(c, { maxTraceBytes: DEFAULT_MAX_TRACE_BYTES })));
      const decisions = new Map(await Promise.all(snapshots.map(async (s) => [s.cluster, await healer.preview(s, at)] as const)));
      return { snapshots, decisions };
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
