import type { AutoHeal } from '../config';
import type { ConnectClient } from '../connect/client';
import type { ClusterSnapshot } from '../connect/read';
import { parseKafkaVersion, refusesEncodedSeparators, supportsRestartPlan } from '../connect/version';
import { ensureError } from '../errors';
import { clip } from '../redact';
import { type HistoryStore, merge } from './history';
import { type Decision, type HealPolicy, type NonTransientPattern, type Target, type TargetHistory, type TargetKey, afterRestart, decide, nextAttemptAfter, targetKey } from './policy';
import { type RestartResult, restartTargets } from './restart';

/** One healing row: a decision about one target and what became of it. */
export interface HealOutcome {
  readonly target?: Target;
  /** restart: a restart was made or would be; wait: in backoff; skip: held back for good; report: needs a human or a note. */
  readonly action: 'restart' | 'wait' | 'skip' | 'report';
  readonly outcome: string;
  readonly attempt?: number;
  readonly nextAttemptAfter?: string;
  readonly reason: string;
  readonly httpStatus?: number;
  readonly pattern?: string;
  /** It keeps failing again after it ran again (HEAL_FLAP_COUNT times in HEAL_FLAP_WINDOW_HOURS). */
  readonly flapping?: boolean;
  /** recovered: minutes from its first failure to the first RUNNING that lasted. */
  readonly recoveryMinutes?: number;
}

export interface ClusterHealing {
  readonly cluster: string;
  readonly outcomes: readonly HealOutcome[];
  readonly restartCalls: number;
  /** The restart calls' own latency, added up (they run RESTART_CONCURRENCY at a time). */
  readonly restartCallMs?: number;
}

export interface HealerOptions {
  readonly mode: AutoHeal;
  readonly policy: HealPolicy;
  /** A cluster's own mode and exclusions (KAFKA_CONNECT_CLUSTERS autoHeal, healExclude), over the global ones. */
  readonly clusters?: ReadonlyMap<string, { readonly mode?: AutoHeal; readonly exclude?: readonly NonTransientPattern[] }>;
  /** Absent when there is nowhere durable to remember (dry-run without storage): memory only. */
  readonly store?: HistoryStore;
  readonly concurrency?: number;
  readonly retryDelaysMs?: readonly number[];
  /** Scrubbed from storage error messages (the connection string's key). */
  readonly secrets?: readonly string[];
}

/** Restart calls in flight per cluster: 500 failed tasks heal in one tick without flooding the leader. */
export const RESTART_CONCURRENCY = 16;
const RETRY_DELAYS_MS = [1_000, 3_000];

/**
 * Runs the policy for one cluster per tick: load the history, decide, restart what is due, remember.
 * Never throws; if the history cannot be read it keeps healing from what this worker remembers, with the
 * full backoff cap, and says so in a row.
 */
export class Healer {
  /** The last history seen per cluster: the fallback when storage is unreachable. */
  private readonly memory = new Map<string, Map<TargetKey, TargetHistory>>();
  /** Clusters whose latest history only this worker holds (a save failed): merged into the next load. */
  private readonly unsaved = new Set<string>();

  constructor(private readonly options: HealerOptions) {}

  /** The AUTO_HEAL that applies to this cluster. */
  private modeOf(cluster: string): AutoHeal {
    return this.options.clusters?.get(cluster)?.mode ?? this.options.mode;
  }

  /** HEAL_EXCLUDE and the cluster's healExclude, together. */
  private policyOf(cluster: string): HealPolicy {
    const own = this.options.clusters?.get(cluster)?.exclude ?? [];
    return own.length === 0 ? this.options.policy : { ...this.options.policy, exclude: [...(this.options.policy.exclude ?? []), ...own] };
  }

  /**
   * What the policy would decide now, without restarting or writing anything (for `kc-monitor status`), and
   * why the history could not be read when it could not.
   */
  async preview(snapshot: ClusterSnapshot, now: Date, signal?: AbortSignal): Promise<{ decisions: readonly Decision[]; historyProblem?: string }> {
    if (this.modeOf(snapshot.cluster) === 'off' || snapshot.error) return { decisions: [] };
    const { history, degraded, problem } = await this.load(snapshot.cluster, signal);
    const { decisions } = decide({ connectors: snapshot.connectors, history, policy: this.policyOf(snapshot.cluster), now, degraded });
    return { decisions, ...(problem && { historyProblem: problem }) };
  }

  /**
   * `signal` bounds the Connect calls; `saveSignal`, which ends later, the history saves around them. With a
   * store, every restart is written down before it is made (and taken back if it did not count): a restart
   * that could not be remembered is not made, so no worker, fresh or recycled, can restart the same failure
   * again too soon.
   */
  async heal(client: ConnectClient, snapshot: ClusterSnapshot, now: Date, signal?: AbortSignal, saveSignal: AbortSignal | undefined = signal): Promise<ClusterHealing> {
    const cluster = snapshot.cluster;
    const mode = this.modeOf(cluster);
    const policy = this.policyOf(cluster);
    if (mode === 'off' || snapshot.error) return { cluster, outcomes: [], restartCalls: 0 };
    const { history, stored, degraded, problem } = await this.load(cluster, signal);
    const notes: HealOutcome[] = problem ? [historyNote(`restart history unavailable (${problem}); no restart until it is back`)] : [];

    const plan = decide({ connectors: snapshot.connectors, history, policy, now, degraded });
    let due = plan.decisions.flatMap((d) => (d.kind === 'restart' ? [d.target] : []));
    const failed = plan.decisions.flatMap((d) => (d.kind === 'recovered' || d.kind === 'unassigned-too-long' ? [] : [d.target]));
    const store = this.options.store;
    const live = mode === 'on';
    // A worker that says it is unhealthy (KIP-1017) cannot serve a restart: it would wait on the stuck herder,
    // time out and count. Held, not counted: the next tick asks again.
    const held: RestartResult[] =
      live && snapshot.unhealthy
        ? due.map((target) => ({ target, outcome: 'deferred-unhealthy', counted: false, detail: `not restarted: the worker said it is unhealthy (${snapshot.unhealthy}); a restart would time out` }))
        : [];
    if (held.length > 0) due = [];

    // Write-ahead: the attempts about to be made, saved first.
    const intent = new Map(plan.history);
    for (const t of due) intent.set(targetKey(t), afterRestart(plan.history.get(targetKey(t)), now));
    let saved: ReadonlyMap<TargetKey, TargetHistory> = stored;
    let unwritten: RestartResult[] = [];
    if (store && !degraded) {
      try {
        await store.save(cluster, stored, live ? intent : plan.history, saveSignal);
        saved = live ? intent : plan.history;
        this.unsaved.delete(cluster);
      } catch (err) {
        const why = describeStorageError(err, this.options.secrets);
        notes.push(historyNote(`restart history not saved (${why}); no restart until it can be written`));
        unwritten = due.map((target) => ({ target, outcome: 'deferred-history', counted: false, detail: `not restarted: the restart history could not be written (${why})` }));
        due = [];
      }
    }

    const callsBefore = client.requests;
    const postMsBefore = client.postMs;
    const results = [
      ...held,
      ...unwritten,
      ...(!live
        ? due.map((target): RestartResult => ({ target, outcome: 'dry-run', counted: false, detail: 'AUTO_HEAL=dry-run: nothing was POSTed' }))
        : await restartTargets(client, due, failed, {
            restartPlan: supportsRestartPlan(parseKafkaVersion(snapshot.version)),
            strictPaths: refusesEncodedSeparators(parseKafkaVersion(snapshot.version)),
            concurrency: this.options.concurrency ?? RESTART_CONCURRENCY,
            retryDelaysMs: this.options.retryDelaysMs ?? RETRY_DELAYS_MS,
            ...(signal && { signal }),
          })),
    ];

    const next = new Map(plan.history);
    for (const r of results) {
      const key = targetKey(r.target);
      if (r.counted) next.set(key, afterRestart(plan.history.get(key), now));
      if (r.outcome === 'not-found') next.delete(key);
    }
    this.memory.set(cluster, next);
    if (store && !degraded && saved !== stored) {
      // What did not count (a rebalance, the deadline, a connector gone) is taken back. If that fails, the
      // history over-counts: a longer wait, never a restart too soon.
      try {
        await store.save(cluster, saved, next, saveSignal);
      } catch (err) {
        this.unsaved.add(cluster);
        notes.push(historyNote(`restart history not updated after the restarts (${describeStorageError(err, this.options.secrets)}); this worker remembers it until storage is back`));
      }
    } else if (store) this.unsaved.add(cluster);

    const byTarget = new Map(results.map((r) => [targetKey(r.target), r]));
    const outcomes = plan.decisions.map((d) => toOutcome(d, byTarget.get(targetKey(d.target)), next, policy));
    return { cluster, outcomes: [...notes, ...outcomes], restartCalls: client.requests - callsBefore, restartCallMs: client.postMs - postMsBefore };
  }

  /**
   * The history to decide from, and the one in storage (what `save` compares against). Restarts this worker
   * made while storage could not be written are merged back in, so they still count once it can be read.
   */
  private async load(cluster: string, signal?: AbortSignal): Promise<{ history: Map<TargetKey, TargetHistory>; stored: Map<TargetKey, TargetHistory>; degraded: boolean; problem?: string }> {
    const remembered = this.memory.get(cluster) ?? new Map<TargetKey, TargetHistory>();
    if (!this.options.store) return { history: remembered, stored: remembered, degraded: false };
    try {
      const stored = await this.options.store.load(cluster, signal);
      const history = new Map(stored);
      if (this.unsaved.has(cluster)) for (const [key, h] of remembered) history.set(key, merge(h, stored.get(key)));
      this.memory.set(cluster, history);
      return { history, stored, degraded: false };
    } catch (err) {
      return { history: remembered, stored: remembered, degraded: true, problem: describeStorageError(err, this.options.secrets) };
    }
  }
}

function toOutcome(d: Decision, result: RestartResult | undefined, history: ReadonlyMap<TargetKey, TargetHistory>, policy: HealPolicy): HealOutcome {
  const outcome = describe(d, result, history, policy);
  return d.flapping ? { ...outcome, flapping: true } : outcome;
}

function describe(d: Decision, result: RestartResult | undefined, history: ReadonlyMap<TargetKey, TargetHistory>, policy: HealPolicy): HealOutcome {
  const target = d.target;
  switch (d.kind) {
    case 'restart': {
      const r: Omit<RestartResult, 'target'> = result ?? { outcome: 'failed', counted: false, detail: 'no restart was made' };
      const h = history.get(targetKey(target));
      const next = r.counted && h ? nextAttemptAfter(h, policy) : undefined;
      return {
        target,
        action: 'restart',
        outcome: r.outcome,
        attempt: d.attempt,
        ...(next && { nextAttemptAfter: next }),
        reason: `${d.reason} → ${r.detail}`,
        ...(r.httpStatus !== undefined && { httpStatus: r.httpStatus }),
      };
    }
    case 'deferred-backoff':
      return { target, action: 'wait', outcome: d.kind, attempt: d.attempt, nextAttemptAfter: d.nextAttemptAfter, reason: d.reason };
    case 'skipped-excluded':
    case 'skipped-non-transient':
      return { target, action: 'skip', outcome: d.kind, attempt: d.attempt, reason: d.reason, pattern: d.pattern };
    case 'skipped-max-attempts':
      return { target, action: 'skip', outcome: d.kind, attempt: d.attempt, reason: d.reason };
    case 'deferred-history':
      return { target, action: 'wait', outcome: d.kind, attempt: d.attempt, reason: d.reason };
    case 'skipped-paused':
      return { target, action: 'skip', outcome: d.kind, attempt: d.attempt, reason: d.reason };
    case 'unassigned-too-long':
      return { target, action: 'report', outcome: d.kind, reason: d.reason };
    case 'recovered':
      return { target, action: 'report', outcome: d.kind, attempt: d.attempt, ...(d.recoveryMinutes !== undefined && { recoveryMinutes: d.recoveryMinutes }), reason: d.reason };
  }
}

function historyNote(reason: string): HealOutcome {
  return { action: 'report', outcome: 'history-unavailable', reason };
}

function describeStorageError(err: unknown, secrets: readonly string[] = []): string {
  const e = ensureError(err) as Error & { statusCode?: number; code?: string };
  return clip(`${e.statusCode ? `HTTP ${e.statusCode} ` : ''}${e.code && !e.message.includes(e.code) ? `${e.code}: ` : ''}${e.message}`, 200, secrets);
}
