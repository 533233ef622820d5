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
  /** Its tasks and connector instances (each runs on one worker, and either can fail there). */
  readonly tasks: number;
  readonly failed: number;
  /** failed / tasks, 0 to 1. */
  readonly share: number;
  /** The other workers, together: how many of theirs there are, and FAILED (what "healthier" means here). */
  readonly peerTasks: number;
  readonly peerFailed: number;
  readonly peers: number;
}

export function sickWorkers(connectors: readonly ConnectorStatus[], policy: SickWorkerPolicy): SickWorker[] {
  const byWorker = new Map<string, { tasks: number; failed: number }>();
  const count = (workerId: string | undefined, state: string) => {
    if (!workerId) return; // UNASSIGNED: on no worker
    const w = byWorker.get(workerId) ?? { tasks: 0, failed: 0 };
    w.tasks++;
    if (state === 'FAILED') w.failed++;
    byWorker.set(workerId, w);
  };
  for (const c of connectors) {
    count(c.workerId, c.state);
    for (const t of c.tasks) count(t.workerId, t.state);
  }
  const isSick = (w: { tasks: number; failed: number }) => w.failed >= policy.minFailed && (w.failed / w.tasks) * 100 >= policy.minPercent;
  const sick = [...byWorker].filter(([, w]) => isSick(w));
  // Every worker failing alike is a shared cause (a database, the brokers), not a host: and one worker alone
  // has no healthy peers to compare with.
  if (sick.length === 0 || sick.length === byWorker.size) return [];
  let allTasks = 0;
  let allFailed = 0;
  for (const w of byWorker.values()) {
    allTasks += w.tasks;
    allFailed += w.failed;
  }
  return sick
    .map(([workerId, w]) => ({
      workerId,
      tasks: w.tasks,
      failed: w.failed,
      share: Math.round((w.failed / w.tasks) * 1000) / 1000,
      peerTasks: allTasks - w.tasks,
      peerFailed: allFailed - w.failed,
      peers: byWorker.size - 1,
    }))
    .sort((a, b) => a.workerId.localeCompare(b.workerId));
}
