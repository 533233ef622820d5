import type { ConnectorStatus } from '../connect/status';

/**
 * A sick worker: several failures on one worker while the others are healthy. Restarting its tasks one by one
 * treats the symptoms; the on-call engineer should look at that host. Pure: the status and the thresholds in,
 * the workers to report out.
 */
export interface SickWorkerPolicy {
  /** At least this many FAILED tasks on the worker (SICK_WORKER_MIN_FAILED). */
  readonly minFailed: number;
  /** And at least this share of its tasks FAILED, in percent (SICK_WORKER_PERCENT). */
  readonly minPercent: number;
}

export const DEFAULT_SICK_WORKER: SickWorkerPolicy = { minFailed: 3, minPercent: 50 };

export interface SickWorker {
  readonly workerId: string;
  readonly tasks: number;
  readonly failed: number;
  /** failed / tasks, 0 to 1. */
  readonly share: number;
}

export function sickWorkers(connectors: readonly ConnectorStatus[], policy: SickWorkerPolicy): SickWorker[] {
  const byWorker = new Map<string, { tasks: number; failed: number }>();
  for (const c of connectors) {
    for (const t of c.tasks) {
      if (!t.workerId) continue; // UNASSIGNED: on no worker
      const w = byWorker.get(t.workerId) ?? { tasks: 0, failed: 0 };
      w.tasks++;
      if (t.state === 'FAILED') w.failed++;
      byWorker.set(t.workerId, w);
    }
  }
  const isSick = (w: { tasks: number; failed: number }) => w.failed >= policy.minFailed && (w.failed / w.tasks) * 100 >= policy.minPercent;
  const sick = [...byWorker].filter(([, w]) => isSick(w));
  // Every worker failing alike is a shared cause (a database, the brokers), not a host: and one worker alone
  // has no healthy peers to compare with.
  if (sick.length === 0 || sick.length === byWorker.size) return [];
  return sick.map(([workerId, w]) => ({ workerId, tasks: w.tasks, failed: w.failed, share: Math.round((w.failed / w.tasks) * 1000) / 1000 })).sort((a, b) => a.workerId.localeCompare(b.workerId));
}
