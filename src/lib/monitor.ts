import { createWriteStream } from 'node:fs';
import type { MonitorConfig, StorageConfig } from './config';
import { ConfigError, ensureError } from './errors';
import { clip } from './redact';
import { ConnectClient, type ConnectTimeouts, DEFAULT_TIMEOUTS } from './connect/client';
import { DEFAULT_LIMITS, Delivery } from './logs/delivery';
import { Healer } from './heal/healer';
import type { HistoryStore } from './heal/history';
import type { Decision } from './heal/policy';
import { createCredential } from './credential';
import { LogsIngestionSink, NdjsonSink, type RowSink } from './logs/ingestion';
import { RowMemory, type SavedRowMemory } from './logs/rows';
import type { Spool } from './logs/spool';
import { DEFAULT_MAX_TRACE_BYTES, type TickProgress, type TickResult, readWithProgress, runTick } from './tick';

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
  /** What `Monitor.rowMemory()` gave an earlier process: the CLI under cron goes on with its lean rows. */
  readonly rowMemory?: unknown;
}

/** What `kc-monitor status` shows: each cluster as read, and what the healer would decide now. */
export interface Look {
  readonly snapshots: TickResult['snapshots'];
  readonly decisions: ReadonlyMap<string, readonly Decision[]>;
  /** Per cluster, why its restart history could not be read (its decisions then hold every restart). */
  readonly historyProblems: ReadonlyMap<string, string>;
}

/** The monitor built from its configuration: one Connect client per cluster, kept for every tick of a worker. */
export interface Monitor {
  readonly config: MonitorConfig;
  /** Reads every cluster, heals per AUTO_HEAL, ships the rows. */
  tick(onProgress?: (progress: TickProgress) => void): Promise<TickResult>;
  /** Reads every cluster and previews the healing decisions; restarts, writes and ships nothing. */
  look(onProgress?: (progress: TickProgress) => void): Promise<Look>;
  close(): Promise<void>;
  /** What the ticks so far remember of the rows they shipped, for a later process (see MonitorOptions). */
  rowMemory(): SavedRowMemory;
}

export function createMonitor(config: MonitorConfig, options: MonitorOptions = {}): Monitor {
  const clients = config.clusters.map((cluster) => new ConnectClient(cluster, options.timeouts ?? DEFAULT_TIMEOUTS));
  // LOGS_NDJSON_FILE (a local `func start` without Azure): rows appended to a file, which never fails, so no spool.
  const file = !options.sink && config.ndjsonFile ? createWriteStream(config.ndjsonFile, { flags: 'a' }) : undefined;
  const sink =
    options.sink ??
    (file && new NdjsonSink(file)) ??
    (config.ingestion && new LogsIngestionSink(config.ingestion, createCredential(config.managedIdentityClientId), config.secrets, options.ingestionRetry));
  // AzureWebJobsStorage's adapters (see azureStorage), only for what this monitor uses: a spool for rows it
  // ships, a history for clusters it heals (`alert-params`, `status` with AUTO_HEAL=off use neither).
  const healing = config.autoHeal !== 'off' || config.clusters.some((c) => c.autoHeal !== undefined && c.autoHeal !== 'off');
  const wantSpool = options.spool === undefined && !file && sink !== undefined;
  const wantStore = options.store === undefined && healing;
  const azure = config.storage && (wantSpool || wantStore) ? azureStorage(config.storage, config.secrets) : undefined;
  const spool = options.spool === null || file ? undefined : (options.spool ?? (azure && wantSpool ? lazySpool(azure) : undefined));
  const delivery = sink && new Delivery(sink, spool, { ...DEFAULT_LIMITS, maxBytes: config.spoolMaxBytes }, config.secrets);
  const store = options.store ?? (azure && wantStore ? lazyStore(azure) : undefined);
  const healer = new Healer({
    mode: config.autoHeal,
    policy: config.heal,
    clusters: new Map(config.clusters.map((c) => [c.name, { ...(c.autoHeal && { mode: c.autoHeal }), ...(c.healExclude && { exclude: c.healExclude }) }])),
    ...(store && { store }),
    ...(options.retryDelaysMs && { retryDelaysMs: options.retryDelaysMs }),
    secrets: config.secrets,
  });
  const now = options.now ?? (() => new Date());
  const rowMemory = new RowMemory(config.scheduleIntervalSeconds !== undefined ? config.scheduleIntervalSeconds * 1000 : undefined, options.rowMemory);
  return {
    config,
    tick: async (onProgress) => {
      await azure;
      return runTick({ clients, healer, now, rowMemory, sickWorker: config.sickWorker, budgetMs: config.deadlineSeconds * 1000, ...(delivery && { delivery }), ...(onProgress && { onProgress }) });
    },
    look: async (onProgress = () => undefined) => {
      await azure;
      const at = now();
      // The same budget as a tick's Connect work, so that a storage account that never answers cannot hold it.
      const deadline = AbortSignal.timeout(config.deadlineSeconds * 1000);
      const snapshots = await Promise.all(clients.map((c) => readWithProgress(c, { maxTraceBytes: DEFAULT_MAX_TRACE_BYTES, signal: deadline }, onProgress)));
      const previews = await Promise.all(snapshots.map(async (s) => [s.cluster, await healer.preview(s, at, deadline)] as const));
      return {
        snapshots,
        decisions: new Map(previews.map(([cluster, p]) => [cluster, p.decisions])),
        historyProblems: new Map(previews.flatMap(([cluster, p]) => (p.historyProblem ? [[cluster, p.historyProblem] as const] : []))),
      };
    },
    rowMemory: () => rowMemory.saved(),
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      if (file) await new Promise((done) => file.end(done));
    },
  };
}

/**
 * The Azure Storage adapters, loaded when the first tick starts: a run without AzureWebJobsStorage (the CLI on
 * a VM, the demo) never loads the Table and Blob SDKs. A connection string the SDKs refuse fails every tick
 * with one line naming the setting, as any bad setting does, not only the healing rows.
 */
function azureStorage(storage: StorageConfig, secrets: readonly string[]) {
  const built = Promise.all([import('./heal/tableHistory.js'), import('./logs/spool.js')]).then(([tables, blobs]) => {
    try {
      return { store: tables.TableHistoryStore.fromConfig(storage), spool: blobs.BlobSpool.fromConfig(storage) };
    } catch (err) {
      throw new ConfigError([`AzureWebJobsStorage: the Azure Storage SDK refused it (${clip(ensureError(err).message, 200, secrets)})`]);
    }
  });
  built.catch(() => undefined); // said by the tick that awaits it first, never left unhandled
  return built;
}

type AzureStorage = ReturnType<typeof azureStorage>;

/** The Table history once built: every tick awaits the build before it reads a history. */
function lazyStore(azure: AzureStorage): HistoryStore {
  return {
    load: async (...args) => (await azure).store.load(...args),
    save: async (...args) => (await azure).store.save(...args),
  };
}

function lazySpool(azure: AzureStorage): Spool {
  return {
    list: async (...args) => (await azure).spool.list(...args),
    put: async (...args) => (await azure).spool.put(...args),
    claim: async (...args) => (await azure).spool.claim(...args),
    read: async (...args) => (await azure).spool.read(...args),
    remove: async (...args) => (await azure).spool.remove(...args),
  };
}
