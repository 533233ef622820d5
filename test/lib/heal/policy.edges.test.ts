import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import { type HealPolicy, type TargetHistory, afterRestart, decide, nextAttemptAfter, targetKey, targetOf } from '../../../src/lib/heal/policy';
import { NOW, TRANSIENT, at, iso } from './fixtures';

/**
 * The edges of the restart policy, one tick at a time with a fixed `now`: each case is a behaviour a mutant
 * of src/lib/heal/policy.ts broke without any other test noticing (npm run mutate).
 */

const POLICY: HealPolicy = { maxAttempts: 0, backoffCapMinutes: 60, unassignedMinutes: 10, nonTransientPatterns: [{ source: 'ConfigException', regex: /ConfigException/ }] };

/** Connector `a`, RUNNING, with one task (id 0) in `state`. */
function taskIn(state: string, trace?: string): ConnectorStatus[] {
  return [{ name: 'a', state: 'RUNNING', tasks: [{ id: 0, state, ...(trace && { trace }) }] }];
}

function tick(connectors: ConnectorStatus[], entry: TargetHistory | undefined, policy: HealPolicy = POLICY, now = NOW) {
  const plan = decide({ connectors, history: new Map(entry ? [['t:0:a', entry]] : []), policy, now });
  return { decisions: plan.decisions, next: plan.history.get('t:0:a') };
}

describe('target keys', () => {
  it.each([{ connector: 'x', taskId: 10 }, { connector: 'x', taskId: 2_147_483_647 }, { connector: ':', taskId: 12 }, { connector: '' }])('round-trips %j, task ids of any length', (t) => {
    expect(targetOf(targetKey(t))).toStrictEqual(t);
  });

  it.each(['nonsense', 'xt:1:a', 't:one:a', 't:-1:a', 'T:1:a'])('refuses %s, which no target has as its key', (key) => {
    expect(() => targetOf(key)).toThrow(`not a target key: ${key}`);
  });
});

describe('HEAL_MAX_ATTEMPTS', () => {
  it.each<[string, number, number, string, number]>([
    // name, maxAttempts, attempts so far, decision, its attempt number
    ['under the limit: restarted, the last allowed attempt', 5, 4, 'restart', 5],
    ['at the limit: given up', 5, 5, 'skipped-max-attempts', 5],
    ['over the limit (lowered since): given up', 3, 5, 'skipped-max-attempts', 5],
    ['unlimited (0)', 0, 500, 'restart', 501],
  ])('%s', (_name, maxAttempts, attempts, kind, attempt) => {
    const { decisions } = tick(taskIn('FAILED', TRANSIENT), { attempts, lastAttempt: iso(-600) }, { ...POLICY, maxAttempts });
    expect(decisions.map((d) => [d.kind, 'attempt' in d ? d.attempt : undefined])).toEqual([[kind, attempt]]);
  });
});

describe('reasons', () => {
  it.each<[string, ConnectorStatus[], TargetHistory | undefined, string]>([
    ['a restart names the root cause', taskIn('FAILED', TRANSIENT), undefined, 'FAILED: java.sql.SQLException: Connection refused'],
    ['a FAILED task without a trace says so', taskIn('FAILED'), undefined, 'FAILED: no trace'],
    ['a task of a PAUSED connector', [{ name: 'a', state: 'PAUSED', tasks: [{ id: 0, state: 'FAILED', trace: TRANSIENT }] }], undefined, 'the connector is PAUSED: resume it to restart its tasks: java.sql.SQLException: Connection refused'],
    ['UNASSIGNED too long, in whole minutes', taskIn('UNASSIGNED'), { attempts: 0, unassignedSince: new Date(NOW.getTime() - 754_000).toISOString() }, 'UNASSIGNED for 12 min (over HEAL_UNASSIGNED_MINUTES=10); no worker has picked it up'],
  ])('%s', (_name, connectors, entry, reason) => {
    expect(tick(connectors, entry).decisions.map((d) => d.reason)).toEqual([reason]);
  });
});

describe('the UNASSIGNED clock', () => {
  it('starts when first seen, is carried by the history, and fires once it has run past HEAL_UNASSIGNED_MINUTES', () => {
    const first = tick(taskIn('UNASSIGNED'), undefined, POLICY, at(0));
    expect(first.decisions).toEqual([]);
    expect(first.next).toStrictEqual({ attempts: 0, unassignedSince: iso(0) });
    const later = tick(taskIn('UNASSIGNED'), first.next, POLICY, at(5));
    expect(later.next).toStrictEqual({ attempts: 0, unassignedSince: iso(0) });
    const fired = tick(taskIn('UNASSIGNED'), later.next, POLICY, at(11));
    expect(fired.decisions).toEqual([{ kind: 'unassigned-too-long', target: { connector: 'a', taskId: 0 }, since: iso(0), reason: expect.stringMatching(/^UNASSIGNED for 11 min/) }]);
  });

  it('keeps the restarts counted while it waits for a worker', () => {
    expect(tick(taskIn('UNASSIGNED'), { attempts: 2, lastAttempt: iso(-3) }).next).toStrictEqual({ attempts: 2, lastAttempt: iso(-3), unassignedSince: iso(0) });
  });
});

describe('recovery', () => {
  // 2 restarts: the interval is 6 min; RUNNING must last longer than that.
  it.each<[string, number, boolean]>([
    ['RUNNING for less than the interval', 5, false],
    ['RUNNING for exactly the interval: not yet', 6, false],
    ['RUNNING for longer than the interval', 7, true],
  ])('%s', (_name, runningFor, recovered) => {
    const { decisions, next } = tick(taskIn('RUNNING'), { attempts: 2, lastAttempt: iso(-20), failedSince: iso(-30), healthySince: iso(-runningFor) });
    expect(decisions.map((d) => d.kind)).toEqual(recovered ? ['recovered'] : []);
    expect(next).toStrictEqual(recovered ? { attempts: 0, recoveredAt: iso(0) } : { attempts: 2, lastAttempt: iso(-20), failedSince: iso(-30), healthySince: iso(-runningFor) });
  });

  it.each<[string, TargetHistory, number | undefined, string]>([
    [
      'one restart, timed from the first failure',
      { attempts: 1, lastAttempt: iso(-20), failedSince: iso(-25), healthySince: iso(-15) },
      10,
      `RUNNING since ${iso(-15)}, longer than the 2 min backoff: recovered 10 min after it first failed, with 1 restart; the restart count starts again from 0`,
    ],
    [
      'three restarts',
      { attempts: 3, lastAttempt: iso(-40), failedSince: iso(-60), healthySince: iso(-30) },
      30,
      `RUNNING since ${iso(-30)}, longer than the 12 min backoff: recovered 30 min after it first failed, with 3 restarts; the restart count starts again from 0`,
    ],
    [
      'a history without the first failure (written before it was kept): no time',
      { attempts: 2, lastAttempt: iso(-40), healthySince: iso(-30) },
      undefined,
      `RUNNING since ${iso(-30)}, longer than the 6 min backoff: recovered with 2 restarts; the restart count starts again from 0`,
    ],
    ['RUNNING again without a restart, at once', { attempts: 0, failedSince: iso(-7) }, 7, 'RUNNING again without a restart: recovered 7 min after it first failed, with 0 restarts'],
  ])('says how it recovered: %s', (_name, entry, recoveryMinutes, reason) => {
    const [d] = tick(taskIn('RUNNING'), entry).decisions;
    expect(d).toStrictEqual({ kind: 'recovered', target: { connector: 'a', taskId: 0 }, attempt: entry.attempts, ...(recoveryMinutes !== undefined && { recoveryMinutes }), reason });
  });

  it('remembers a recovery while a failure after it would be a flap, and the flaps with it', () => {
    const { next } = tick(taskIn('RUNNING'), { attempts: 1, lastAttempt: iso(-30), failedSince: iso(-31), healthySince: iso(-29), flaps: [iso(-60)] });
    expect(next).toStrictEqual({ attempts: 0, recoveredAt: iso(0), flaps: [iso(-60)] });
    // Healthy ticks after it keep that memory, so that a failure within the window counts as a flap.
    const healthy = tick(taskIn('RUNNING'), next, POLICY, at(60));
    expect(healthy).toStrictEqual({ decisions: [], next: { attempts: 0, recoveredAt: iso(0), flaps: [iso(-60)] } });
    const again = tick(taskIn('FAILED', TRANSIENT), healthy.next, { ...POLICY, flapCount: 2 }, at(120));
    expect(again.decisions.map((d) => [d.kind, d.flapping])).toEqual([['restart', true]]);
    expect(again.next).toStrictEqual({ attempts: 0, failedSince: iso(120), flaps: [iso(-60), iso(120)] });
  });

  it('forgets a recovery once it is older than the flap window, and the target with it', () => {
    expect(tick(taskIn('RUNNING'), { attempts: 0, recoveredAt: iso(-24 * 60 - 1) }).next).toBeUndefined();
    expect(tick(taskIn('RUNNING'), { attempts: 0, recoveredAt: iso(-24 * 60) }).next).toStrictEqual({ attempts: 0, recoveredAt: iso(-24 * 60) });
  });
});

describe('flapping', () => {
  it('uses HEAL_FLAP_COUNT=3 and a 24 h window when the policy names neither', () => {
    const entry = (flaps: string[]): TargetHistory => ({ attempts: 1, lastAttempt: iso(-30), healthySince: iso(-1), flaps });
    const flapping = (flaps: string[]) => tick(taskIn('FAILED', TRANSIENT), entry(flaps)).decisions.map((d) => d.flapping ?? false);
    expect(flapping([iso(-60)])).toEqual([false]); // this failure is the second flap
    expect(flapping([iso(-120), iso(-60)])).toEqual([true]); // the third
    expect(flapping([iso(-24 * 60), iso(-60)])).toEqual([true]); // a flap exactly 24 h old still counts
    expect(flapping([iso(-24 * 60 - 1), iso(-60)])).toEqual([false]);
    const [d] = tick(taskIn('FAILED', TRANSIENT), entry([iso(-120), iso(-60)])).decisions;
    expect(d?.reason).toBe('flapping (failed again after running, 3 times in 24 h): FAILED: java.sql.SQLException: Connection refused');
  });
});

describe('what is remembered of a target that is PAUSED, STOPPED or RESTARTING', () => {
  it.each<[string, TargetHistory]>([
    ['restarts with their time', { attempts: 2, lastAttempt: iso(-3) }],
    ['a count without a time (an older history)', { attempts: 2 }],
    ['a time without a count', { attempts: 0, lastAttempt: iso(-3) }],
    ['its healthy clock', { attempts: 1, lastAttempt: iso(-9), healthySince: iso(-4) }],
    ['its first failure', { attempts: 1, lastAttempt: iso(-9), failedSince: iso(-10) }],
  ])('%s, unchanged', (_name, entry) => {
    for (const state of ['PAUSED', 'STOPPED', 'RESTARTING']) expect(tick(taskIn(state), entry)).toStrictEqual({ decisions: [], next: entry });
  });

  it('nothing for a target with nothing to remember', () => {
    expect(tick(taskIn('PAUSED'), { attempts: 0 }).next).toBeUndefined();
    expect(tick(taskIn('RUNNING'), undefined).next).toBeUndefined();
  });
});

describe('HEAL_EXCLUDE', () => {
  it('a list that matches none of the connectors changes nothing', () => {
    const policy = { ...POLICY, exclude: [{ source: '^staging-', regex: /^staging-/ }] };
    expect(tick(taskIn('FAILED', TRANSIENT), undefined, policy).decisions.map((d) => d.kind)).toEqual(['restart']);
  });
});

describe('afterRestart and nextAttemptAfter', () => {
  it('counts the first restart of a target without history as 1', () => {
    expect(afterRestart(undefined, NOW)).toStrictEqual({ attempts: 1, lastAttempt: iso(0) });
  });

  it.each<[string, TargetHistory, number, string | undefined]>([
    ['never restarted: no next attempt to announce', { attempts: 0 }, 0, undefined],
    ['a count without a time: none either', { attempts: 2 }, 0, undefined],
    ['under HEAL_MAX_ATTEMPTS: after the backoff', { attempts: 2, lastAttempt: iso(0) }, 5, iso(6)],
    ['at HEAL_MAX_ATTEMPTS: none', { attempts: 5, lastAttempt: iso(0) }, 5, undefined],
    ['unlimited, at the cap', { attempts: 9, lastAttempt: iso(0) }, 0, iso(60)],
  ])('%s', (_name, entry, maxAttempts, expected) => {
    expect(nextAttemptAfter(entry, { ...POLICY, maxAttempts })).toBe(expected);
  });
});
