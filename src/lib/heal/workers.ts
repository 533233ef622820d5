import type { ConnectorStatus } from '../connect/status';

/**
 * A sick worker: several failures on one worker while the others fare much better. Restarting its tasks one by one
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
  /** The other workers, together: their tasks, and how many of those FAILED. */
  readonly peerTasks: number;
  readonly peerFailed: number;
  readonly peers: number;
}

/**
 * A worker is sick when, besides the thresholds, the failures point at the host rather than at a connector or a
 * shared dependency: they are not one connector's own (they span two connectors or more, or a failed task's
 * connector runs fine on another worker), and the other workers fare at least twice as well. A database that is
 * down fails its connectors' tasks wherever they run, which no host explains.
 */
export function sickWorkers(connectors: readonly ConnectorStatus[], policy: SickWorkerPolicy): SickWorker[] {
  const byWorker = new Map<string, { tasks: number; failed: number; failedConnectors: Set<string> }>();
  const runningOn = new Map<string, Set<string>>();
  for (const c of connectors) {
    for (const t of c.tasks) {
      if (!t.workerId) continue; // UNASSIGNED: on no worker
      let w = byWorker.get(t.workerId);
      if (!w) byWorker.set(t.workerId, (w = { tasks: 0, failed: 0, failedConnectors: new Set() }));
      w.tasks++;
      if (t.state === 'FAILED') {
        w.failed++;
        w.failedConnectors.add(c.name);
      } else if (t.state === 'RUNNING') {
        let on = runningOn.get(c.name);
        if (!on) runningOn.set(c.name, (on = new Set()));
        on.add(t.workerId);
      }
    }
  }
  let allTasks = 0;
  let allFailed = 0;
  for (const w of byWorker.values()) {
    allTasks += w.tasks;
    allFailed += w.failed;
  }
  const sick: SickWorker[] = [];
  for (const [workerId, w] of byWorker) {
    const share = w.failed / w.tasks;
    if (w.failed < policy.minFailed || share * 100 < policy.minPercent) continue;
    const elsewhere = (name: string) => [...(runningOn.get(name) ?? [])].some((other) => other !== workerId);
    if (w.failedConnectors.size < 2 && ![...w.failedConnectors].some(elsewhere)) continue;
    const peerTasks = allTasks - w.tasks;
    const peerFailed = allFailed - w.failed;
    // One worker alone has no peers to compare with.
    if (peerTasks === 0 || peerFailed / peerTasks > share / 2) continue;
    sick.push({ workerId, tasks: w.tasks, failed: w.failed, share: Math.round(share * 1000) / 1000, peerTasks, peerFailed, peers: byWorker.size - 1 });
  }
  return sick.sort((a, b) => a.workerId.localeCompare(b.workerId));
}
