import type { ConnectorStatus } from '../connect/status';
import { rootCause } from '../connect/status';

/**
 * The restart policy: what to restart, when, and why not. Pure: the observed status, the remembered
 * history, the settings and `now` go in; decisions and the next history come out. No I/O, no clock.
 */

export interface NonTransientPattern {
  /** As written in the settings; named in the outcome so a human knows which rule held the restart back. */
  readonly source: string;
  readonly regex: RegExp;
}

export interface HealPolicy {
  /** Restarts per failure episode before giving up; 0 = unlimited (a weekend-long outage still heals on Monday). */
  readonly maxAttempts: number;
  /** Longest wait between two restarts of one target, in minutes. */
  readonly backoffCapMinutes: number;
  /** A trace matching one of these is a failure a restart cannot fix. */
  readonly nonTransientPatterns: readonly NonTransientPattern[];
  /** A task UNASSIGNED for longer than this is reported (Connect may take 5 minutes to reassign after a worker leaves). */
  readonly unassignedMinutes: number;
  /** Connectors (and their tasks) matching one of these are monitored and reported, never restarted (HEAL_EXCLUDE). */
  readonly exclude?: readonly NonTransientPattern[];
  /** A target that ran again and failed again this many times within `flapWindowHours` is flapping (HEAL_FLAP_COUNT). */
  readonly flapCount?: number;
  readonly flapWindowHours?: number;
}

export const DEFAULT_FLAP_COUNT = 3;
export const DEFAULT_FLAP_WINDOW_HOURS = 24;

/** A connector (no taskId) or one of its tasks. */
export interface Target {
  readonly connector: string;
  readonly taskId?: number;
}

/** What is remembered of one target between ticks. Times are ISO strings: the history is stored as data. */
export interface TargetHistory {
  /** Restarts counted in the current failure episode; the backoff grows with it. */
  readonly attempts: number;
  readonly lastAttempt?: string;
  /** First time seen RUNNING after a restart; the episode ends once that lasts longer than the current interval. */
  readonly healthySince?: string;
  readonly unassignedSince?: string;
  /** First FAILED seen in the current episode: the start of its time to recover. */
  readonly failedSince?: string;
  /** When it last recovered (RUNNING past its backoff): a failure soon after is a flap, not a new target. */
  readonly recoveredAt?: string;
  /** When it failed again after running again, within the flap window. */
  readonly flaps?: readonly string[];
}

export type TargetKey = string;

/** Unambiguous for any connector name: the task id, when there is one, comes first. */
export function targetKey(t: Target): TargetKey {
  return t.taskId === undefined ? `c:${t.connector}` : `t:${t.taskId}:${t.connector}`;
}

export function targetOf(key: TargetKey): Target {
  if (key.startsWith('c:')) return { connector: key.slice(2) };
  const m = /^t:(\d+):([\s\S]*)$/.exec(key);
  if (!m) throw new Error(`not a target key: ${key}`);
  return { connector: m[2]!, taskId: Number(m[1]) };
}

/** Set on every decision about a target that keeps failing again after it ran again: restarts heal it, none fixes it. */
interface Flapping {
  readonly flapping?: true;
}

export type Decision = Flapping &
  (
    | { readonly kind: 'restart'; readonly target: Target; readonly attempt: number; readonly reason: string }
    | { readonly kind: 'deferred-backoff'; readonly target: Target; readonly attempt: number; readonly nextAttemptAfter: string; readonly reason: string }
    | { readonly kind: 'skipped-excluded'; readonly target: Target; readonly attempt: number; readonly pattern: string; readonly reason: string }
    | { readonly kind: 'skipped-non-transient'; readonly target: Target; readonly attempt: number; readonly pattern: string; readonly reason: string }
    | { readonly kind: 'skipped-max-attempts'; readonly target: Target; readonly attempt: number; readonly reason: string }
    | { readonly kind: 'deferred-history'; readonly target: Target; readonly attempt: number; readonly reason: string }
    | { readonly kind: 'skipped-paused'; readonly target: Target; readonly attempt: number; readonly reason: string }
    | { readonly kind: 'unassigned-too-long'; readonly target: Target; readonly since: string; readonly reason: string }
    /** `recoveryMinutes`: from the first FAILED of the episode to the first RUNNING that lasted. */
    | { readonly kind: 'recovered'; readonly target: Target; readonly attempt: number; readonly recoveryMinutes?: number; readonly reason: string }
  );

export interface HealInput {
  readonly connectors: readonly ConnectorStatus[];
  readonly history: ReadonlyMap<TargetKey, TargetHistory>;
  readonly policy: HealPolicy;
  readonly now: Date;
  /**
   * The history could not be read: restart nothing. A restart made now could not be remembered, and the next
   * run (a recycled worker, the CLI) would restart again — a loop across runs, the one thing healing must not do.
   */
  readonly degraded?: boolean;
}

export interface HealPlan {
  readonly decisions: readonly Decision[];
  /** The history after this observation, before any restart is made (see `afterRestart`). */
  readonly history: ReadonlyMap<TargetKey, TargetHistory>;
}

const MINUTE = 60_000;

/** Strimzi's schedule: after the n-th restart wait min(n² + n, cap) minutes — 0, 2, 6, 12, 20, 30, 42, 56, then the cap. */
export function backoffMinutes(attempts: number, capMinutes: number): number {
  return Math.min(attempts * attempts + attempts, capMinutes);
}

export function decide(input: HealInput): HealPlan {
  const { policy, now } = input;
  const nowIso = now.toISOString();
  const next = new Map<TargetKey, TargetHistory>();
  const decisions: Decision[] = [];
  const interval = (attempts: number) => backoffMinutes(attempts, policy.backoffCapMinutes);
  const flapCount = policy.flapCount ?? DEFAULT_FLAP_COUNT;
  const windowStart = now.getTime() - (policy.flapWindowHours ?? DEFAULT_FLAP_WINDOW_HOURS) * 60 * MINUTE;
  const inWindow = (at: string | undefined) => at !== undefined && Date.parse(at) >= windowStart;

  /**
   * `trace` is shown (redacted); `matched` is what the patterns see (not redacted: see TaskStatus); `held`
   * says the task's connector is PAUSED or STOPPED on purpose, and a restart would undo its owner's decision.
   */
  const observe = (target: Target, state: string, trace: string | undefined, matched: string | undefined, held?: string, excludedBy?: string) => {
    const key = targetKey(target);
    const known = input.history.get(key);
    // Nearly every target on every tick: RUNNING, nothing remembered. Nothing to decide, nothing to allocate.
    if (!known && state === 'RUNNING') return;
    const h = known ?? { attempts: 0 };
    const { unassignedSince: _u, healthySince: _h, recoveredAt: _r, flaps: oldFlaps, ...rest } = h;
    // Flaps older than the window are forgotten; a recovery is remembered as long as a failure after it would count.
    const flaps = (oldFlaps ?? []).filter(inWindow);
    const memory = { ...(flaps.length > 0 && { flaps }), ...(inWindow(h.recoveredAt) && { recoveredAt: h.recoveredAt }) };
    const keep = (entry: TargetHistory) => {
      if (entry.attempts > 0 || entry.lastAttempt || entry.unassignedSince || entry.failedSince || entry.recoveredAt || entry.flaps) next.set(key, entry);
    };

    if (state === 'FAILED') {
      // The root cause line, short: the full trace is in the status row, and these rows repeat every tick.
      const cause = rootCause(trace, 120) || 'no trace';
      const pattern = policy.nonTransientPatterns.find((p) => p.regex.test(matched ?? trace ?? ''));
      // Failing again after it ran again (after a restart, or after it recovered) is one more flap. The restart
      // count is not reset by a short run: the backoff keeps growing.
      const ranAgain = h.healthySince !== undefined || inWindow(h.recoveredAt);
      const allFlaps = ranAgain ? [...flaps, nowIso] : flaps;
      const flapping = allFlaps.length >= flapCount;
      keep({ ...rest, failedSince: h.failedSince ?? nowIso, ...(allFlaps.length > 0 && { flaps: allFlaps }) });
      if (excludedBy) {
        decisions.push({ kind: 'skipped-excluded', target, attempt: h.attempts, pattern: excludedBy, reason: `excluded from healing (HEAL_EXCLUDE matches ${excludedBy}): ${cause}` });
      } else if (held) {
        decisions.push({ kind: 'skipped-paused', target, attempt: h.attempts, reason: `the connector is ${held}: resume it to restart its tasks: ${cause}` });
      } else if (pattern) {
        decisions.push({ kind: 'skipped-non-transient', target, attempt: h.attempts, pattern: pattern.source, reason: `a restart cannot fix this (matches ${pattern.source}): ${cause}` });
      } else if (policy.maxAttempts > 0 && h.attempts >= policy.maxAttempts) {
        decisions.push({ kind: 'skipped-max-attempts', target, attempt: h.attempts, reason: `gave up after ${h.attempts} restarts (HEAL_MAX_ATTEMPTS=${policy.maxAttempts}): ${cause}` });
      } else if (input.degraded) {
        decisions.push({ kind: 'deferred-history', target, attempt: h.attempts, reason: `restart history unavailable: no restart until it can be read and written again: ${cause}` });
      } else {
        const due = h.lastAttempt ? new Date(Date.parse(h.lastAttempt) + interval(h.attempts) * MINUTE) : now;
        if (due <= now) {
          decisions.push({ kind: 'restart', target, attempt: h.attempts + 1, reason: `FAILED: ${cause}` });
        } else {
          const wait = interval(h.attempts);
          decisions.push({ kind: 'deferred-backoff', target, attempt: h.attempts, nextAttemptAfter: due.toISOString(), reason: `waiting ${wait} min after restart ${h.attempts}` });
        }
      }
      if (flapping) {
        const d = decisions.pop()!;
        decisions.push({ ...d, flapping: true, reason: `${flapNote(allFlaps.length, policy)}: ${d.reason}` });
      }
      return;
    }

    if (state === 'RUNNING') {
      const failedSince = h.failedSince;
      // Never failed (or its recovery is all that is remembered): nothing to decide.
      if (h.attempts === 0 && !failedSince) {
        keep({ attempts: 0, ...memory });
        return;
      }
      const since = h.healthySince ?? nowIso;
      if (now.getTime() - Date.parse(since) > interval(h.attempts) * MINUTE || h.attempts === 0) {
        const recoveryMinutes = failedSince ? Math.max(0, Math.round((Date.parse(since) - Date.parse(failedSince)) / MINUTE)) : undefined;
        const restarts = `${h.attempts} restart${h.attempts === 1 ? '' : 's'}`;
        const took = recoveryMinutes !== undefined ? `recovered ${recoveryMinutes} min after it first failed, with ${restarts}` : `recovered with ${restarts}`;
        const reason =
          h.attempts === 0
            ? `RUNNING again without a restart: ${took}`
            : `RUNNING since ${since}, longer than the ${interval(h.attempts)} min backoff: ${took}; the restart count starts again from 0`;
        // A flapping target's recovery says so too: the next failure is likely, and its count goes on.
        const flapped = flaps.length >= flapCount;
        decisions.push({
          kind: 'recovered',
          target,
          attempt: h.attempts,
          ...(recoveryMinutes !== undefined && { recoveryMinutes }),
          ...(flapped && { flapping: true as const }),
          reason: flapped ? `${flapNote(flaps.length, policy)}: ${reason}` : reason,
        });
        // Its recovery and flaps are remembered for the flap window; the episode is over.
        next.set(key, { attempts: 0, recoveredAt: nowIso, ...(flaps.length > 0 && { flaps }) });
        return;
      }
      keep({ ...rest, ...memory, healthySince: since });
      return;
    }

    if (state === 'UNASSIGNED') {
      const since = h.unassignedSince ?? nowIso;
      keep({ ...rest, ...memory, unassignedSince: since });
      const minutes = (now.getTime() - Date.parse(since)) / MINUTE;
      if (minutes > policy.unassignedMinutes) {
        decisions.push({ kind: 'unassigned-too-long', target, since, reason: `UNASSIGNED for ${Math.floor(minutes)} min (over HEAL_UNASSIGNED_MINUTES=${policy.unassignedMinutes}); no worker has picked it up` });
      }
      return;
    }

    // PAUSED and STOPPED are deliberate, RESTARTING is in progress: never restart them, forget nothing.
    keep({ ...rest, ...memory, ...(h.healthySince && { healthySince: h.healthySince }) });
  };

  for (const c of input.connectors) {
    const excludedBy = policy.exclude?.find((p) => p.regex.test(c.name))?.source;
    observe({ connector: c.name }, c.state, c.trace, c.unredactedTrace, undefined, excludedBy);
    const held = c.state === 'PAUSED' || c.state === 'STOPPED' ? c.state : undefined;
    for (const t of c.tasks) observe({ connector: c.name, taskId: t.id }, t.state, t.trace, t.unredactedTrace, held, excludedBy);
  }
  // Targets no longer observed (connector deleted, fewer tasks) are forgotten with the loop above.
  return { decisions, history: next };
}

function flapNote(flaps: number, policy: HealPolicy): string {
  return `flapping (failed again after running, ${flaps} times in ${policy.flapWindowHours ?? DEFAULT_FLAP_WINDOW_HOURS} h)`;
}

/** The history after a restart call that counts (made, or failed for a reason other than a rebalance). */
export function afterRestart(history: TargetHistory | undefined, now: Date): TargetHistory {
  // The episode goes on: its first failure and its flaps stay; a run since the last restart is over.
  return {
    attempts: (history?.attempts ?? 0) + 1,
    lastAttempt: now.toISOString(),
    ...(history?.failedSince && { failedSince: history.failedSince }),
    ...(history?.flaps && { flaps: history.flaps }),
  };
}

/** When the target may be restarted again if it is still FAILED, given its history after this tick. */
export function nextAttemptAfter(history: TargetHistory, policy: HealPolicy): string | undefined {
  if (!history.lastAttempt) return undefined;
  if (policy.maxAttempts > 0 && history.attempts >= policy.maxAttempts) return undefined;
  const minutes = backoffMinutes(history.attempts, policy.backoffCapMinutes);
  return new Date(Date.parse(history.lastAttempt) + minutes * MINUTE).toISOString();
}
