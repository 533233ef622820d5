import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/lib/config';
import type { ConnectorStatus } from '../../../src/lib/connect/status';
import { ConfigError } from '../../../src/lib/errors';
import { type HealPolicy, type TargetHistory, afterRestart, decide, targetKey } from '../../../src/lib/heal/policy';
import { POLICY as BASE_POLICY, NOW, TRANSIENT, at, iso } from './fixtures';

/** Scoped healing, flapping and time to recover: the pure core, one tick at a time, with a fixed clock. */
const POLICY: HealPolicy = { ...BASE_POLICY, flapCount: 3, flapWindowHours: 24 };
const pattern = (source: string) => ({ source, regex: new RegExp(source) });

function task(name: string, state: string): ConnectorStatus {
  return { name, state: 'RUNNING', tasks: [{ id: 0, state, ...(state === 'FAILED' && { trace: TRANSIENT }) }] };
}

describe('HEAL_EXCLUDE', () => {
  it.each<[string, readonly string[], string, string]>([
    // name, patterns, connector, decision about its FAILED task
    ['not excluded: restarted', ['^staging-'], 'orders-sink', 'restart'],
    ['excluded by a prefix', ['^staging-'], 'staging-orders', 'skipped-excluded'],
    ['the second pattern matches', ['^staging-', 'legacy'], 'a-legacy-jdbc', 'skipped-excluded'],
    ['anchored: a name containing it elsewhere is not excluded', ['^staging-'], 'orders-staging-', 'restart'],
  ])('%s', (_name, sources, connector, kind) => {
    const plan = decide({ connectors: [task(connector, 'FAILED')], history: new Map(), policy: { ...POLICY, exclude: sources.map(pattern) }, now: NOW });
    expect(plan.decisions.map((d) => d.kind)).toEqual([kind]);
    if (kind === 'skipped-excluded') {
      expect(plan.decisions[0]).toMatchObject({ pattern: sources.find((s) => new RegExp(s).test(connector)), attempt: 0 });
      expect(plan.decisions[0]!.reason).toMatch(/^excluded from healing \(HEAL_EXCLUDE matches .+\): java\.sql\.SQLException: Connection refused$/);
    }
  });

  it('excludes the connector itself as well as its tasks, and wins over every other reason', () => {
    const failedConnector: ConnectorStatus = { name: 'staging-x', state: 'FAILED', trace: 'org.apache.kafka.common.config.ConfigException: bad', tasks: [{ id: 0, state: 'FAILED', trace: TRANSIENT }] };
    const plan = decide({ connectors: [failedConnector], history: new Map(), policy: { ...POLICY, exclude: [pattern('^staging-')] }, now: NOW });
    expect(plan.decisions.map((d) => [targetKey(d.target), d.kind])).toEqual([
      ['c:staging-x', 'skipped-excluded'],
      ['t:0:staging-x', 'skipped-excluded'],
    ]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['not JSON', { HEAL_EXCLUDE: '^staging-' }, 'HEAL_EXCLUDE: expected a JSON array of regular expressions on connector names, e.g. ["^staging-", "^legacy-jdbc$"]'],
    ['a bad regular expression', { HEAL_EXCLUDE: '["(unclosed"]' }, 'HEAL_EXCLUDE: "(unclosed" is not a valid regular expression'],
    ['a cluster autoHeal that is not a mode', { KAFKA_CONNECT_CLUSTERS: '[{"name":"s","url":"http://127.0.0.1:1","autoHeal":"maybe"}]' }, 'KAFKA_CONNECT_CLUSTERS[0].autoHeal: "maybe" is not one of on, off, dry-run'],
    ['a cluster healExclude that is not a list', { KAFKA_CONNECT_CLUSTERS: '[{"name":"s","url":"http://127.0.0.1:1","healExclude":"^x"}]' }, 'KAFKA_CONNECT_CLUSTERS[0].healExclude: expected a JSON array of regular expressions on connector names, e.g. ["^staging-", "^legacy-jdbc$"]'],
    ['a flap count of 0', { KAFKA_CONNECT_URL: 'http://127.0.0.1:1', HEAL_FLAP_COUNT: '0' }, 'HEAL_FLAP_COUNT: "0" is not a whole number ≥ 1 (failures after running again)'],
  ])('refuses %s with one line naming the setting', (_name, settings, problem) => {
    const run = () => loadConfig({ KAFKA_CONNECT_URL: 'http://127.0.0.1:1', ...settings }, { requireIngestion: false });
    expect(run).toThrow(ConfigError);
    try {
      run();
    } catch (err) {
      expect((err as ConfigError).problems).toContain(problem);
    }
  });

  it('reads per-cluster autoHeal and healExclude beside the global ones', () => {
    const config = loadConfig(
      {
        HEAL_EXCLUDE: '["^legacy-"]',
        KAFKA_CONNECT_CLUSTERS: JSON.stringify([
          { name: 'prod', url: 'http://127.0.0.1:1' },
          { name: 'staging', url: 'http://127.0.0.1:2', autoHeal: 'dry-run', healExclude: ['^scratch-'] },
        ]),
      },
      { requireIngestion: false },
    );
    expect(config.heal.exclude?.map((p) => p.source)).toEqual(['^legacy-']);
    expect(config.clusters.map((c) => [c.name, c.autoHeal, c.healExclude?.map((p) => p.source)])).toEqual([
      ['prod', undefined, undefined],
      ['staging', 'dry-run', ['^scratch-']],
    ]);
  });

  it('requires storage when any cluster heals for real, even with AUTO_HEAL=dry-run', () => {
    const settings = { AUTO_HEAL: 'dry-run', KAFKA_CONNECT_CLUSTERS: '[{"name":"prod","url":"http://127.0.0.1:1","autoHeal":"on"}]' };
    expect(() => loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true })).toThrow(/AzureWebJobsStorage: missing/);
    expect(() => loadConfig({ ...settings, KAFKA_CONNECT_CLUSTERS: '[{"name":"s","url":"http://127.0.0.1:1"}]' }, { requireIngestion: false, requireStorageToHeal: true })).not.toThrow();
  });
});

/**
 * One target through a scripted run of observations (minute, state); a restart is applied as the healer
 * applies it. Returns each tick's decision (or '-') and whether it was marked flapping.
 */
function script(observations: ReadonlyArray<[number, string]>, policy: HealPolicy = POLICY) {
  let history = new Map<string, TargetHistory>();
  const seen: string[] = [];
  const decisions = [];
  for (const [minute, state] of observations) {
    const plan = decide({ connectors: [task('t', state)], history, policy, now: at(minute) });
    history = new Map(plan.history);
    const d = plan.decisions[0];
    decisions.push(d);
    if (d?.kind === 'restart') history.set('t:0:t', afterRestart(history.get('t:0:t'), at(minute)));
    seen.push(d ? `${d.kind}${d.flapping ? ' FLAPPING' : ''}` : '-');
  }
  return { seen, decisions, history };
}

describe('flapping', () => {
  it.each<[string, ReadonlyArray<[number, string]>, string[]]>([
    [
      'fails again after each restart ran a while: flapping from the third time, and the backoff keeps growing',
      [[0, 'FAILED'], [5, 'RUNNING'], [10, 'FAILED'], [15, 'RUNNING'], [20, 'FAILED'], [25, 'RUNNING'], [30, 'FAILED'], [35, 'FAILED']],
      // Backoff waits 0, 2, 6, 12 min: the fourth restart (minute 30) waits until minute 32.
      ['restart', '-', 'restart', '-', 'restart', '-', 'deferred-backoff FLAPPING', 'restart FLAPPING'],
    ],
    [
      'fails again after each full recovery: still flapping (the recoveries do not wipe its memory)',
      [[0, 'FAILED'], [5, 'RUNNING'], [10, 'RUNNING'], [60, 'FAILED'], [65, 'RUNNING'], [70, 'RUNNING'], [120, 'FAILED'], [125, 'RUNNING'], [130, 'RUNNING'], [180, 'FAILED'], [185, 'RUNNING'], [190, 'RUNNING']],
      // Its recovery says it is flapping too: the next failure is likely, and counts on.
      ['restart', '-', 'recovered', 'restart', '-', 'recovered', 'restart', '-', 'recovered', 'restart FLAPPING', '-', 'recovered FLAPPING'],
    ],
    [
      'two flaps are not yet flapping',
      [[0, 'FAILED'], [5, 'RUNNING'], [10, 'FAILED'], [15, 'RUNNING'], [20, 'FAILED']],
      ['restart', '-', 'restart', '-', 'restart'],
    ],
    [
      'flaps spread wider than the window do not add up',
      [[0, 'FAILED'], [5, 'RUNNING'], [10, 'RUNNING'], [13 * 60, 'FAILED'], [13 * 60 + 5, 'RUNNING'], [13 * 60 + 10, 'RUNNING'], [26 * 60, 'FAILED'], [26 * 60 + 5, 'RUNNING'], [26 * 60 + 10, 'RUNNING'], [39 * 60, 'FAILED']],
      ['restart', '-', 'recovered', 'restart', '-', 'recovered', 'restart', '-', 'recovered', 'restart'],
    ],
    [
      'a task that stays FAILED is not flapping, however long',
      [[0, 'FAILED'], [1, 'FAILED'], [2, 'FAILED'], [3, 'FAILED'], [8, 'FAILED'], [20, 'FAILED']],
      ['restart', 'deferred-backoff', 'restart', 'deferred-backoff', 'restart', 'restart'],
    ],
  ])('%s', (_name, observations, expected) => {
    expect(script(observations).seen).toEqual(expected);
  });

  it('HEAL_FLAP_COUNT and HEAL_FLAP_WINDOW_HOURS set the edge', () => {
    const observations: ReadonlyArray<[number, string]> = [[0, 'FAILED'], [5, 'RUNNING'], [10, 'FAILED']];
    expect(script(observations, { ...POLICY, flapCount: 1 }).seen.at(-1)).toBe('restart FLAPPING');
    expect(script(observations, { ...POLICY, flapCount: 2 }).seen.at(-1)).toBe('restart');
    // One hour of window: a flap 2 hours ago no longer counts.
    const spread: ReadonlyArray<[number, string]> = [[0, 'FAILED'], [5, 'RUNNING'], [10, 'FAILED'], [15, 'RUNNING'], [150, 'FAILED']];
    expect(script(spread, { ...POLICY, flapCount: 2, flapWindowHours: 24 }).seen.at(-1)).toBe('restart FLAPPING');
    expect(script(spread, { ...POLICY, flapCount: 2, flapWindowHours: 1 }).seen.at(-1)).toBe('restart');
  });

  it('says why in the reason', () => {
    const { decisions } = script([[0, 'FAILED'], [5, 'RUNNING'], [10, 'FAILED'], [15, 'RUNNING'], [20, 'FAILED'], [25, 'RUNNING'], [30, 'FAILED']]);
    expect(decisions.at(-1)!.reason).toBe('flapping (failed again after running, 3 times in 24 h): waiting 12 min after restart 3');
  });
});

describe('time to recover', () => {
  it.each<[string, ReadonlyArray<[number, string]>, number, number]>([
    // name, observations, minutes to recover, restarts it took
    ['one restart, RUNNING from the next tick', [[0, 'FAILED'], [5, 'RUNNING'], [10, 'RUNNING']], 5, 1],
    ['two restarts, the third not yet due', [[0, 'FAILED'], [5, 'FAILED'], [7, 'FAILED'], [15, 'RUNNING'], [40, 'RUNNING']], 15, 2],
    ['a short run does not end the episode: counted from the first failure', [[0, 'FAILED'], [5, 'RUNNING'], [6, 'FAILED'], [10, 'FAILED'], [30, 'RUNNING'], [60, 'RUNNING']], 30, 2],
  ])('%s', (_name, observations, minutes, restarts) => {
    const { decisions } = script(observations);
    const recovered = decisions.at(-1)!;
    expect(recovered).toMatchObject({ kind: 'recovered', recoveryMinutes: minutes, attempt: restarts });
    expect(recovered.reason).toContain(`recovered ${minutes} min after it first failed, with ${restarts} restart${restarts === 1 ? '' : 's'}`);
  });

  it('a failure fixed without a restart (excluded, then fixed by hand) recovers with 0 restarts', () => {
    const policy = { ...POLICY, exclude: [pattern('^t$')] };
    const { seen, decisions } = script([[0, 'FAILED'], [30, 'FAILED'], [45, 'RUNNING']], policy);
    expect(seen).toEqual(['skipped-excluded', 'skipped-excluded', 'recovered']);
    expect(decisions.at(-1)).toMatchObject({ recoveryMinutes: 45, attempt: 0 });
    expect(decisions.at(-1)!.reason).toBe('RUNNING again without a restart: recovered 45 min after it first failed, with 0 restarts');
  });

  it('a history from before this version (no failedSince) still recovers, without a time', () => {
    const plan = decide({ connectors: [task('t', 'RUNNING')], history: new Map([['t:0:t', { attempts: 1, lastAttempt: iso(-30), healthySince: iso(-20) }]]), policy: POLICY, now: NOW });
    expect(plan.decisions).toEqual([expect.objectContaining({ kind: 'recovered', attempt: 1 })]);
    expect(plan.decisions[0]).not.toHaveProperty('recoveryMinutes');
  });
});
