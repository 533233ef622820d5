import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import {
  type Decision,
  type TargetHistory,
  afterRestart,
  backoffMinutes,
  decide,
  nextAttemptAfter,
  targetKey,
  targetOf,
} from '../../../src/lib/heal/policy';

import { NOW, POLICY, TRANSIENT, at, iso } from './fixtures';

function connector(name: string, state: string, tasks: Array<[string, string?]> = [], trace?: string): ConnectorStatus {
  return { name, state, ...(trace && { trace }), tasks: tasks.map(([s, tr], id) => ({ id, state: s, ...(tr && { trace: tr }) })) };
}

function history(entries: Record<string, TargetHistory>): Map<string, TargetHistory> {
  return new Map(Object.entries(entries));
}

const kinds = (decisions: readonly Decision[]) => decisions.map((d) => [targetKey(d.target), d.kind]);

describe('backoffMinutes', () => {
  it.each([
    [0, 60, 0],
    [1, 60, 2],
    [2, 60, 6],
    [3, 60, 12],
    [4, 60, 20],
    [5, 60, 30],
    [6, 60, 42],
    [7, 60, 56],
    [8, 60, 60],
    [50, 60, 60],
    [3, 10, 10],
  ])('after %i restarts with a %i min cap: %i min', (n, cap, expected) => {
    expect(backoffMinutes(n, cap)).toBe(expected);
  });
});

describe('decide', () => {
  it.each<[string, ConnectorStatus[], Record<string, TargetHistory>, Array<[string, string]>]>([
    ['a FAILED task with no history is restarted at once', [connector('a', 'RUNNING', [['RUNNING'], ['FAILED', TRANSIENT]])], {}, [['t:1:a', 'restart']]],
    ['a FAILED connector and its FAILED task are both restarted', [connector('a', 'FAILED', [['FAILED', TRANSIENT]], TRANSIENT)], {}, [['c:a', 'restart'], ['t:0:a', 'restart']]],
    ['a FAILED task hidden behind a RUNNING connector is found', [connector('a', 'RUNNING', [['RUNNING'], ['RUNNING'], ['FAILED']])], {}, [['t:2:a', 'restart']]],
    ['PAUSED, STOPPED and RESTARTING are never restarted', [connector('p', 'PAUSED', [['PAUSED']]), connector('s', 'STOPPED'), connector('r', 'RUNNING', [['RESTARTING']])], {}, []],
    ['in backoff: 1 restart 1 min ago waits for 2 min', [connector('a', 'RUNNING', [['FAILED', TRANSIENT]])], { 't:0:a': { attempts: 1, lastAttempt: iso(-1) } }, [['t:0:a', 'deferred-backoff']]],
    ['due: 1 restart 2 min ago', [connector('a', 'RUNNING', [['FAILED', TRANSIENT]])], { 't:0:a': { attempts: 1, lastAttempt: iso(-2) } }, [['t:0:a', 'restart']]],
    ['a ConfigException is not restarted', [connector('a', 'FAILED', [], 'org.apache.kafka.common.config.ConfigException: Invalid value')], {}, [['c:a', 'skipped-non-transient']]],
    ['bad database credentials are not restarted', [connector('a', 'RUNNING', [['FAILED', 'org.postgresql.util.PSQLException: FATAL: password authentication failed for user "app"']])], {}, [['t:0:a', 'skipped-non-transient']]],
    ['a poison record is not restarted', [connector('a', 'RUNNING', [['FAILED', 'org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler']])], {}, [['t:0:a', 'skipped-non-transient']]],
    ['unlimited attempts by default: the 40th restart still happens', [connector('a', 'FAILED', [], TRANSIENT)], { 'c:a': { attempts: 40, lastAttempt: iso(-60) } }, [['c:a', 'restart']]],
    ['a task UNASSIGNED for the first time is only remembered', [connector('a', 'RUNNING', [['UNASSIGNED']])], {}, []],
    ['a task UNASSIGNED for 10 min is not yet reported', [connector('a', 'RUNNING', [['UNASSIGNED']])], { 't:0:a': { attempts: 0, unassignedSince: iso(-10) } }, []],
    ['a task UNASSIGNED for 11 min is reported, not restarted', [connector('a', 'RUNNING', [['UNASSIGNED']])], { 't:0:a': { attempts: 0, unassignedSince: iso(-11) } }, [['t:0:a', 'unassigned-too-long']]],
    ['healthy for longer than the interval resets the count', [connector('a', 'RUNNING', [['RUNNING']])], { 't:0:a': { attempts: 2, lastAttempt: iso(-20), healthySince: iso(-7) } }, [['t:0:a', 'recovered']]],
    ['healthy for less than the interval does not', [connector('a', 'RUNNING', [['RUNNING']])], { 't:0:a': { attempts: 2, lastAttempt: iso(-20), healthySince: iso(-5) } }, []],
  ])('%s', (_name, connectors, entries, expected) => {
    expect(kinds(decide({ connectors, history: history(entries), policy: POLICY, now: NOW }).decisions)).toEqual(expected);
  });

  it('names the next attempt and the pattern, and says why', () => {
    const { decisions } = decide({
      connectors: [connector('a', 'RUNNING', [['FAILED', TRANSIENT], ['FAILED', 'x\nCaused by: org.apache.kafka.common.config.ConfigException: bad']])],
      history: history({ 't:0:a': { attempts: 3, lastAttempt: iso(-5) } }),
      policy: POLICY,
      now: NOW,
    });
    expect(decisions).toEqual([
      { kind: 'deferred-backoff', target: { connector: 'a', taskId: 0 }, attempt: 3, nextAttemptAfter: iso(7), reason: 'waiting 12 min after restart 3' },
      {
        kind: 'skipped-non-transient',
        target: { connector: 'a', taskId: 1 },
        attempt: 0,
        pattern: 'org\\.apache\\.kafka\\.common\\.config\\.ConfigException',
        reason: 'a restart cannot fix this (matches org\\.apache\\.kafka\\.common\\.config\\.ConfigException): org.apache.kafka.common.config.ConfigException: bad',
      },
    ]);
  });

  it('gives up after HEAL_MAX_ATTEMPTS, and says so', () => {
    const { decisions } = decide({
      connectors: [connector('a', 'FAILED', [], TRANSIENT)],
      history: history({ 'c:a': { attempts: 5, lastAttempt: iso(-600) } }),
      policy: { ...POLICY, maxAttempts: 5 },
      now: NOW,
    });
    expect(decisions).toEqual([{ kind: 'skipped-max-attempts', target: { connector: 'a' }, attempt: 5, reason: 'gave up after 5 restarts (HEAL_MAX_ATTEMPTS=5): java.sql.SQLException: Connection refused' }]);
  });

  it('needs sustained health: one healthy sample starts the clock, a failure stops it, the count goes on', () => {
    const policy = POLICY;
    const failed = [connector('a', 'FAILED', [], TRANSIENT)];
    const healthy = [connector('a', 'RUNNING')];
    let h = history({ 'c:a': { attempts: 3, lastAttempt: iso(0) } });
    // healthy at +1: the clock starts; at +10 (9 min, under 12): still counting
    h = new Map(decide({ connectors: healthy, history: h, policy, now: at(1) }).history);
    expect(h.get('c:a')).toEqual({ attempts: 3, lastAttempt: iso(0), healthySince: iso(1) });
    h = new Map(decide({ connectors: healthy, history: h, policy, now: at(10) }).history);
    // fails again at +12: the count goes on (3 made; due after 12 min, i.e. now)
    const again = decide({ connectors: failed, history: h, policy, now: at(12) });
    expect(kinds(again.decisions)).toEqual([['c:a', 'restart']]);
    expect(again.decisions[0]).toMatchObject({ attempt: 4 });
    // Failing again after running again is a flap; the episode's first failure is this one (the history had none).
    expect(again.history.get('c:a')).toEqual({ attempts: 3, lastAttempt: iso(0), failedSince: iso(12), flaps: [iso(12)] });
    // healthy from +13 to +26 (13 min > 12): recovered; only the recovery and the flap are remembered
    h = new Map(decide({ connectors: healthy, history: again.history, policy, now: at(13) }).history);
    const done = decide({ connectors: healthy, history: h, policy, now: at(26) });
    expect(kinds(done.decisions)).toEqual([['c:a', 'recovered']]);
    expect(done.decisions[0]).toMatchObject({ attempt: 3, recoveryMinutes: 1 });
    expect(done.history.get('c:a')).toEqual({ attempts: 0, recoveredAt: iso(26), flaps: [iso(12)] });
    // a day later, still RUNNING: forgotten
    expect(decide({ connectors: healthy, history: done.history, policy, now: at(26 + 24 * 60 + 1) }).history.size).toBe(0);
  });

  it('forgets targets that are gone and the UNASSIGNED clock once assigned', () => {
    const { history: next } = decide({
      connectors: [connector('a', 'RUNNING', [['RUNNING']])],
      history: history({ 't:0:a': { attempts: 0, unassignedSince: iso(-3) }, 't:5:a': { attempts: 2, lastAttempt: iso(-1) }, 'c:deleted': { attempts: 1, lastAttempt: iso(-1) } }),
      policy: POLICY,
      now: NOW,
    });
    expect(next.size).toBe(0);
  });

  it('keeps the history of a PAUSED target as it was', () => {
    const h = { attempts: 2, lastAttempt: iso(-3) };
    const { history: next, decisions } = decide({ connectors: [connector('a', 'PAUSED')], history: history({ 'c:a': h }), policy: POLICY, now: NOW });
    expect(decisions).toEqual([]);
    expect(next.get('c:a')).toEqual(h);
  });

  // Found on the real cluster: pausing a connector leaves its FAILED task FAILED, and restarting it would
  // undo the owner's pause.
  it.each(['PAUSED', 'STOPPED'])('never restarts a FAILED task of a %s connector', (state) => {
    const { decisions } = decide({ connectors: [connector('a', state, [['FAILED', TRANSIENT]])], history: new Map(), policy: POLICY, now: NOW });
    expect(decisions.map((d) => [d.kind, d.target.taskId])).toEqual([['skipped-paused', 0]]);
  });

  // A restart made without the history could not be remembered: the next run (a recycled worker, the CLI)
  // would make it again. Found by the soak: a restart from memory, lost with the worker, let the next one
  // count one attempt fewer than Connect saw.
  it('restarts nothing when the history could not be read, and remembers no restart', () => {
    const plan = decide({
      connectors: [connector('a', 'FAILED', [], TRANSIENT), connector('b', 'FAILED', [], 'org.apache.kafka.common.config.ConfigException: Missing required configuration "topics"')],
      history: history({ 'c:a': { attempts: 1, lastAttempt: iso(-500) } }),
      policy: POLICY,
      now: NOW,
      degraded: true,
    });
    expect(plan.decisions.map((d) => [d.kind, d.target.connector])).toEqual([
      ['deferred-history', 'a'],
      ['skipped-non-transient', 'b'],
    ]);
    expect(plan.decisions[0]?.reason).toMatch(/^restart history unavailable: no restart until it can be read and written again: /);
    expect(plan.history.get('c:a')).toEqual({ attempts: 1, lastAttempt: iso(-500), failedSince: iso(0) });
    expect(plan.history.get('c:b')).toEqual({ attempts: 0, failedSince: iso(0) });
  });

  it('restarts a permanently failing target on the Strimzi schedule: waits of 2, 6, 12, 20... then hourly', () => {
    // Observed every minute for 5 hours; every restart fails again.
    let h = new Map<string, TargetHistory>();
    const restarts: number[] = [];
    for (let minute = 0; minute <= 300; minute++) {
      const now = at(minute);
      const plan = decide({ connectors: [connector('a', 'FAILED', [], TRANSIENT)], history: h, policy: POLICY, now });
      h = new Map(plan.history);
      if (plan.decisions[0]?.kind === 'restart') {
        restarts.push(minute);
        h.set('c:a', afterRestart(h.get('c:a'), now));
      }
    }
    expect(restarts).toEqual([0, 2, 8, 20, 40, 70, 112, 168, 228, 288]);
  });

  it('decides for 500 failed tasks in one pass', () => {
    const tasks = Array.from({ length: 500 }, () => ['FAILED', TRANSIENT] as [string, string]);
    const { decisions } = decide({ connectors: [connector('big', 'RUNNING', tasks)], history: new Map(), policy: POLICY, now: NOW });
    expect(decisions.filter((d) => d.kind === 'restart')).toHaveLength(500);
  });
});

describe('targets and the next attempt', () => {
  it.each([{ connector: 'plain' }, { connector: 'a:b:c', taskId: 3 }, { connector: 't:1:x' }, { connector: 'ünï côdé', taskId: 0 }])('round-trips %j through its key', (t) => {
    expect(targetOf(targetKey(t))).toEqual(t);
  });

  it('tells when the next restart may come, unless attempts are used up', () => {
    expect(nextAttemptAfter({ attempts: 2, lastAttempt: iso(0) }, POLICY)).toBe(iso(6));
    expect(nextAttemptAfter({ attempts: 2, lastAttempt: iso(0) }, { ...POLICY, maxAttempts: 2 })).toBeUndefined();
    expect(afterRestart({ attempts: 2, lastAttempt: iso(-6), healthySince: iso(-1) }, NOW)).toEqual({ attempts: 3, lastAttempt: iso(0) });
  });
});
