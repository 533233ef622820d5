import type { MonitorConfig } from './config';
import { ConnectClient, type ConnectTimeouts, DEFAULT_TIMEOUTS } from './connect/client';
import { LogsIngestionSink, type RowSink, createCredential } from './ingestion';
import { type TickResult, runTick } from './tick';

export interface MonitorOptions {
  /** Where rows go; defaults to the Logs Ingestion API when the config names one. */
  readonly sink?: RowSink;
  readonly now?: () => Date;
  readonly timeouts?: ConnectTimeouts;
}

/** The monitor built from its configuration: one Connect client per cluster, kept for every tick of a worker. */
export interface Monitor {
  readonly config: MonitorConfig;
  readonly sink?: RowSink;
  /** Reads every cluster and ships the rows. */
  tick(): Promise<TickResult>;
  /** Reads every cluster; ships nothing. */
  look(): Promise<TickResult>;
  close(): Promise<void>;
}

export function createMonitor(config: MonitorConfig, options: MonitorOptions = {}): Monitor {
  const clients = config.clusters.map((cluster) => new ConnectClient(cluster, options.timeouts ?? DEFAULT_TIMEOUTS));
  const sink =
    options.sink ??
    (config.ingestion && new LogsIngestionSink(config.ingestion, createCredential(config.managedIdentityClientId), config.secrets));
  const base = { clients, ...(options.now && { now: options.now }) };
  return {
    config,
    ...(sink && { sink }),
    tick: () => runTick({ ...base, ...(sink && { sink }) }),
    look: () => runTick(base),
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
