import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Parser } from 'web-tree-sitter';
import { INFRA, bicepParser, read } from './bicep';
import { evaluator } from './evaluate';

/**
 * What fires when, with the windows and the frequency that alerts.bicep derives from the schedule.
 *
 * The model, in minutes. Tick k starts at k·I; every row of the tick carries that start as TimeGenerated and
 * arrives `delay` later: 0.5 normally (read, ship, ingest), or the tick's whole budget plus the minute of ingestion
 * latency the Bicep allows when the tick is late; a missed tick has no rows. A rule evaluated at E runs its query
 * over (E − W, E] (the rule's windowSize, and the query's own `ago(window)`, which the Bicep sets to the same W)
 * on the rows that have arrived by E. Evaluations come every F minutes at an unknown phase, so every phase in
 * [0, F) is tried: "never" holds for every phase, "fires" means every phase fires, within the latency shown.
 * The event happens at tick 0; before it, every tick is normal and healthy.
 */

type ConnectorState = { State: string; TasksRunning: number; TasksTotal: number };
type Tick = { rows: 'normal' | 'late' | 'missed'; connector?: ConnectorState | 'gone' };
type Rule = 'perConnector' | 'split' | 'heartbeat';
type Outcome = 'never' | 'sometimes' | 'fires';

const RUNNING: ConnectorState = { State: 'RUNNING', TasksRunning: 4, TasksTotal: 4 };
const FAILED: ConnectorState = { State: 'FAILED', TasksRunning: 0, TasksTotal: 4 };
const DEGRADED: ConnectorState = { State: 'RUNNING', TasksRunning: 3, TasksTotal: 4 };
const PAUSED: ConnectorState = { State: 'PAUSED', TasksRunning: 0, TasksTotal: 4 };

/** The queries' healthy predicate: `State in ("PAUSED", "STOPPED") or (State == "RUNNING" and TasksRunning == TasksTotal)`. */
const healthy = (c: ConnectorState) => ['PAUSED', 'STOPPED'].includes(c.State) || (c.State === 'RUNNING' && c.TasksRunning === c.TasksTotal);
const HEALTHY_KQL = 'State in ("PAUSED", "STOPPED") or (State == "RUNNING" and TasksRunning == TasksTotal)';

interface Row {
  readonly t: number;
  readonly arrives: number;
  readonly connector?: ConnectorState;
}

interface Timing {
  readonly tick: number;
  readonly frequency: number;
  readonly healthWindow: number;
  readonly latestArrival: number;
}

function rows(timing: Timing, scenario: (k: number) => Tick): Row[] {
  const out: Row[] = [];
  for (let k = -40; k <= 40; k++) {
    const tick = k < 0 ? { rows: 'normal' as const, connector: RUNNING } : scenario(k);
    if (tick.rows === 'missed') continue;
    const t = k * timing.tick;
    const arrives = t + (tick.rows === 'late' ? timing.latestArrival : 0.5);
    out.push({ t, arrives, ...(tick.connector && tick.connector !== 'gone' && { connector: tick.connector }) });
  }
  return out;
}

/** Does the rule fire at evaluation time e? */
function fires(rule: Rule, all: readonly Row[], e: number, w: number): boolean {
  const seen = all.filter((r) => r.arrives <= e && r.t > e - w && r.t <= e);
  const connector = seen.flatMap((r) => (r.connector ? [r.connector] : []));
  if (rule === 'heartbeat') return seen.length === 0; // every tick writes its cluster row
  if (rule === 'perConnector') return !connector.some(healthy);
  return connector.length > 0 && !connector.some(healthy);
}

/** Over every phase: never, sometimes or always fires after the event, and the latest first firing. */
function outcome(rule: Rule, timing: Timing, scenario: (k: number) => Tick): { outcome: Outcome; latency: number; earliest: number } {
  const all = rows(timing, scenario);
  const horizon = 4 * timing.healthWindow + 2 * timing.frequency;
  let firingPhases = 0;
  let phases = 0;
  let latency = 0;
  let earliest = Infinity;
  for (let phase = 0; phase < timing.frequency; phase += 0.1) {
    phases++;
    // Start one window before the event: the state before it is steady, so a firing then would be a bug too.
    let first: number | undefined;
    for (let e = phase - 2 * timing.healthWindow; e <= horizon; e += timing.frequency) {
      if (fires(rule, all, e, timing.healthWindow)) {
        first = e;
        break;
      }
    }
    if (first !== undefined) {
      firingPhases++;
      latency = Math.max(latency, first);
      earliest = Math.min(earliest, first);
    }
  }
  return { outcome: firingPhases === 0 ? 'never' : firingPhases === phases ? 'fires' : 'sometimes', latency, earliest };
}

// Two ticks missed in a row is past what the window tolerates: whether a rule fires depends on the slack the
// rounding to an accepted window size leaves, and on the phase.
const MAY: Outcome[] = ['never', 'sometimes'];

const SCENARIOS: ReadonlyArray<readonly [string, (k: number) => Tick, Record<Rule, Outcome | Outcome[]>]> = [
  ['steady: every tick on time and healthy', () => ({ rows: 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick late by its whole budget', (k) => ({ rows: k === 0 ? 'late' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick missed', (k) => ({ rows: k === 0 ? 'missed' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick missed and the next late', (k) => ({ rows: k === 0 ? 'missed' : k === 1 ? 'late' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['two ticks missed in a row', (k) => ({ rows: k <= 1 ? 'missed' : 'normal', connector: RUNNING }), { perConnector: MAY, split: 'never', heartbeat: MAY }],
  ['PAUSED on purpose', () => ({ rows: 'normal', connector: PAUSED }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['FAILED for one tick, healed by the restart', (k) => ({ rows: 'normal', connector: k === 0 ? FAILED : RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['connector FAILED for good', () => ({ rows: 'normal', connector: FAILED }), { perConnector: 'fires', split: 'fires', heartbeat: 'never' }],
  ['one task FAILED for good (connector RUNNING, 3 of 4 tasks)', () => ({ rows: 'normal', connector: DEGRADED }), { perConnector: 'fires', split: 'fires', heartbeat: 'never' }],
  ['connector FAILED for good, every tick late', () => ({ rows: 'late', connector: FAILED }), { perConnector: 'fires', split: 'fires', heartbeat: 'never' }],
  ['connector deleted (its rows stop, the cluster\'s go on)', () => ({ rows: 'normal', connector: 'gone' }), { perConnector: 'fires', split: 'never', heartbeat: 'never' }],
  ['data stops: the monitor is down', () => ({ rows: 'missed' }), { perConnector: 'fires', split: 'never', heartbeat: 'fires' }],
];

let parser: Parser;
beforeAll(async () => {
  parser = await bicepParser();
});

/** The timing alerts.bicep derives for a schedule and a frequency, and the budget main.bicep gives the tick. */
function timing(tick: number, frequency: number): Timing {
  const deadlineSeconds = evaluator(parser.parse(read('main.bicep'))!.rootNode, { network: {}, monitorIntervalMinutes: tick }).value('deadlineSeconds') as number;
  const alerts = evaluator(parser.parse(read('modules/alerts.bicep'))!.rootNode, { tickMinutes: tick, deadlineSeconds, frequencyMinutes: frequency, workspaceResourceId: 'w', namePrefix: 'a' });
  return {
    tick,
    frequency,
    healthWindow: alerts.value('healthWindowMinutes') as number,
    latestArrival: alerts.value('latestArrivalMinutes') as number,
  };
}

describe.each([
  [5, 5],
  [5, 15],
  [1, 1],
  [15, 15],
])('ticks every %i minutes, rules every %i minutes', (tick, frequency) => {
  it.each(SCENARIOS)('%s', (_name, scenario, expected) => {
    const t = timing(tick, frequency);
    for (const rule of ['perConnector', 'split', 'heartbeat'] as const) {
      const found = outcome(rule, t, scenario);
      expect([expected[rule]].flat(), rule).toContain(found.outcome);
      if (found.outcome === 'fires') {
        // Never before the last healthy row left the window; at the latest one evaluation after it did.
        expect(found.earliest, `${rule} earliest`).toBeGreaterThanOrEqual(t.healthWindow - t.tick);
        expect(found.latency, `${rule} latest`).toBeLessThanOrEqual(t.healthWindow + t.frequency + t.latestArrival);
      }
    }
  });
});

describe('the latency the README states', () => {
  it.each([
    [5, 5, 15],
    [5, 15, 25],
  ])('ticks every %i, rules every %i minutes: a connector FAILED for good fires 10 minutes at the earliest, before %i', (tick, frequency, before) => {
    const t = timing(tick, frequency);
    for (const rule of ['perConnector', 'split'] as const) {
      const found = outcome(rule, t, () => ({ rows: 'normal', connector: FAILED }));
      // Phases are tried 0.1 minute apart.
      expect(found.earliest, rule).toBeGreaterThanOrEqual(10 - 1e-9);
      expect(found.earliest, rule).toBeLessThan(10.11);
      expect(found.latency, rule).toBeLessThan(before);
    }
  });
});

describe('the windows', () => {
  it.each([
    [1, 1, 5],
    [5, 5, 15],
    [5, 15, 15],
    [10, 5, 30],
    [15, 15, 45],
    [30, 15, 120],
  ])('ticks every %i minutes, rules every %i minutes: a health window of %i minutes', (tick, frequency, window) => {
    const t = timing(tick, frequency);
    expect(t.healthWindow).toBe(window);
    // At least two ticks and the latest arrival, and never shorter than the frequency (Azure refuses that).
    expect(t.healthWindow).toBeGreaterThanOrEqual(2 * tick + t.latestArrival);
    expect(t.healthWindow).toBeGreaterThanOrEqual(frequency);
  });

  it('the queries say healthy as the model does, and filter on the window the rule gets', () => {
    for (const file of ['alert-connector-not-running.kql', 'alert-unhealthy-connectors.kql']) {
      const query = readFileSync(join(INFRA, 'queries', file), 'utf8');
      expect(query, file).toContain(HEALTHY_KQL);
      expect(query, file).toContain('TimeGenerated > ago(window)');
    }
    const alerts = read('modules/alerts.bicep');
    expect(alerts).toContain("var healthLet = 'let window = ${healthWindowMinutes}m;\\n'");
    expect(alerts).toMatch(/windowSize: healthWindow\n/);
    expect(alerts).not.toMatch(/ago\(\d+m\)|'PT\d+M'/);
  });

  it('the model does tell the shapes apart (a broken predicate fails the table)', () => {
    const t = timing(5, 5);
    // PAUSED counted as unhealthy would fire: the predicate matters.
    const paused = rows(t, () => ({ rows: 'normal', connector: PAUSED }));
    expect(fires('perConnector', paused, 30, t.healthWindow)).toBe(false);
    expect(fires('perConnector', paused.map((r) => ({ ...r, connector: FAILED })), 30, t.healthWindow)).toBe(true);
    // A window of one tick would fire on a single missed tick.
    const missed = rows(t, (k) => ({ rows: k === 0 ? 'missed' : 'normal', connector: RUNNING }));
    expect([0.2, 0.4].some((e) => fires('perConnector', missed, e + 5, t.tick + 1))).toBe(true);
  });
});
