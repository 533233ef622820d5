import type { TargetHistory, TargetKey } from './policy';

/** Where the restart history lives between ticks, one partition per cluster. */
export interface HistoryStore {
  load(cluster: string, signal?: AbortSignal): Promise<Map<TargetKey, TargetHistory>>;
  /** Writes what changed from `before` to `after`; a concurrent writer's changes are merged, not lost. */
  save(cluster: string, before: ReadonlyMap<TargetKey, TargetHistory>, after: ReadonlyMap<TargetKey, TargetHistory>, signal?: AbortSignal): Promise<void>;
}

/** For the demo and for dry runs without storage: remembers for the life of the process. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly clusters = new Map<string, Map<TargetKey, TargetHistory>>();

  async load(cluster: string): Promise<Map<TargetKey, TargetHistory>> {
    return new Map(this.clusters.get(cluster));
  }

  async save(cluster: string, _before: ReadonlyMap<TargetKey, TargetHistory>, after: ReadonlyMap<TargetKey, TargetHistory>): Promise<void> {
    this.clusters.set(cluster, new Map(after));
  }
}

export const HISTORY_TABLE = 'KafkaConnectRestarts';

/**
 * Two writers saw the same failure: keep the larger count and the later restart, so backoff never shrinks.
 * Our observations since (healthy, unassigned) hold only if nobody restarted the target after them.
 */
export function merge(ours: TargetHistory, theirs: TargetHistory | undefined): TargetHistory {
  if (!theirs) return ours;
  const theyRestartedLater = !!theirs.lastAttempt && (!ours.lastAttempt || theirs.lastAttempt > ours.lastAttempt);
  const lastAttempt = theyRestartedLater ? theirs.lastAttempt : ours.lastAttempt;
  // The episode started at the earlier first failure; flaps seen by either run all happened.
  const failedSince = [ours.failedSince, theirs.failedSince].filter((t) => t !== undefined).sort()[0];
  const recoveredAt = [ours.recoveredAt, theirs.recoveredAt].filter((t) => t !== undefined).sort().at(-1);
  const flaps = [...new Set([...(ours.flaps ?? []), ...(theirs.flaps ?? [])])].sort();
  return {
    attempts: Math.max(ours.attempts, theirs.attempts),
    ...(lastAttempt && { lastAttempt }),
    ...(!theyRestartedLater && ours.healthySince && { healthySince: ours.healthySince }),
    ...(!theyRestartedLater && ours.unassignedSince && { unassignedSince: ours.unassignedSince }),
    ...(failedSince && { failedSince }),
    ...(recoveredAt && { recoveredAt }),
    ...(flaps.length > 0 && { flaps }),
  };
}

/** We meant to forget a target; someone else has since recorded a restart of it: keep theirs. */
export function keepIfNewer(theirs: TargetHistory | undefined): TargetHistory | undefined {
  return theirs && theirs.attempts > 0 && !theirs.healthySince ? theirs : undefined;
}

export function sameHistory(a: TargetHistory | undefined, b: TargetHistory): boolean {
  return (
    !!a &&
    a.attempts === b.attempts &&
    a.lastAttempt === b.lastAttempt &&
    a.healthySince === b.healthySince &&
    a.unassignedSince === b.unassignedSince &&
    a.failedSince === b.failedSince &&
    a.recoveredAt === b.recoveredAt &&
    (a.flaps ?? []).join(',') === (b.flaps ?? []).join(',')
  );
}
