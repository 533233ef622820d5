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
 * arrives `delay` later: 0.5 normally (read, ship, ingest), or, when the tick is late, its whole budget plus
 * INGESTION_MINUTES, the top of the average ingestion latency Log Analytics documents (this file's number, not the
 * Bicep's); a missed tick has no rows. A rule evaluated at E runs its query over (E − W, E], W the shorter of the
 * rule's windowSize and the query's own `ago(window)`, on the rows that have arrived by E. Evaluations come every
 * F minutes at an unknown phase, so every phase in [0, F) is tried: "never" holds for every phase, "fires" means
 * every phase fires, within the latency shown. The event happens at tick 0; before it, every tick is normal and
 * healthy, unless the scenario says otherwise (a new connector has no rows before).
 */

type ConnectorState = { State: string; TasksRunning: number; TasksTotal: number };
type Tick = { rows: 'normal' | 'late' | 'missed'; connector?: ConnectorState | 'gone' };
type Rule = 'perConnector' | 'split' | 'heartbeat';
type Scenario = (k: number) => Tick;
type Outcome = 'never' | 'sometimes' | 'fires';

const RUNNING: ConnectorState = { State: 'RUNNING', TasksRunning: 4, TasksTotal: 4 };
const FAILED: ConnectorState = { State: 'FAILED', TasksRunning: 0, TasksTotal: 4 };
const DEGRADED: ConnectorState = { State: 'RUNNING', TasksRunning: 3, TasksTotal: 4 };
const PAUSED: ConnectorState = { State: 'PAUSED', TasksRunning: 0, TasksTotal: 4 };

/** The queries' healthy predicate: `State in ("PAUSED", "STOPPED") or (State == "RUNNING" and TasksRunning == TasksTotal)`. */
const healthy = (c: ConnectorState) => ['PAUSED', 'STOPPED'].includes(c.State) || (c.State === 'RUNNING' && c.TasksRunning === c.TasksTotal);
const HEALTHY_KQL = 'State in ("PAUSED", "STOPPED") or (State == "RUNNING" and TasksRunning == TasksTotal)';
/** The split rule's tolerance: a connector comes back only when two ticks or more saw it (one odd tick never pages). */
const MIN_TICKS = 2;
const TICKS_KQL = ['Ticks = dcount(TimeGenerated)', '| where Healthy == 0 and Ticks >= 2\n'];
/** Log Analytics ingestion latency: 20 s to 3 minutes on average (learn.microsoft.com, "Log data ingestion time"). */
const INGESTION_MINUTES = 3;
const STEADY: Tick = { rows: 'normal', connector: RUNNING };
const NEW_CONNECTOR: Tick = { rows: 'normal', connector: 'gone' };

interface Row {
  readonly t: number;
  readonly arrives: number;
  readonly connector?: ConnectorState;
}

interface Timing {
  readonly tick: number;
  readonly frequency: number;
  /** The window the connector and heartbeat queries see: the shorter of the query's `ago(window)` and windowSize. */
  readonly healthWindow: number;
  /** The rule's windowSize, in minutes. */
  readonly ruleWindow: number;
  /** When a late tick's rows arrive: its budget plus the ingestion latency. */
  readonly lateArrival: number;
  /** What the Bicep allows for it. */
  readonly latestArrival: number;
}

function rows(timing: Timing, scenario: Scenario, before: Tick = STEADY): Row[] {
  const out: Row[] = [];
  for (let k = -40; k <= 40; k++) {
    const tick = k < 0 ? before : scenario(k);
    if (tick.rows === 'missed') continue;
    const t = k * timing.tick;
    const arrives = t + (tick.rows === 'late' ? timing.lateArrival : 0.5);
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
  const ticks = new Set(seen.filter((r) => r.connector).map((r) => r.t)).size;
  return ticks >= MIN_TICKS && !connector.some(healthy);
}

/** Over every phase: never, sometimes or always fires after the event, and the latest first firing. */
function outcome(rule: Rule, timing: Timing, scenario: Scenario, before?: Tick): { outcome: Outcome; latency: number; earliest: number } {
  const all = rows(timing, scenario, before);
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

const SCENARIOS: ReadonlyArray<readonly [string, Scenario, Record<Rule, Outcome | Outcome[]>]> = [
  ['steady: every tick on time and healthy', () => ({ rows: 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick late by its whole budget and 3 minutes of ingestion', (k) => ({ rows: k === 0 ? 'late' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick missed', (k) => ({ rows: k === 0 ? 'missed' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['one tick missed and the next late', (k) => ({ rows: k === 0 ? 'missed' : k === 1 ? 'late' : 'normal', connector: RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['two ticks missed in a row', (k) => ({ rows: k <= 1 ? 'missed' : 'normal', connector: RUNNING }), { perConnector: MAY, split: 'never', heartbeat: MAY }],
  ['PAUSED on purpose', () => ({ rows: 'normal', connector: PAUSED }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  ['FAILED for one tick, healed by the restart', (k) => ({ rows: 'normal', connector: k === 0 ? FAILED : RUNNING }), { perConnector: 'never', split: 'never', heartbeat: 'never' }],
  // Quiet while the window's allowance for a late tick is longer than a tick (5-minute ticks); with 15-minute
  // ticks, the gap before the healed tick's rows arrive may fire.
  ['unhealthy two ticks, healed by the second restart', (k) => ({ rows: 'normal', connector: k <= 1 ? FAILED : RUNNING }), { perConnector: MAY, split: MAY, heartbeat: 'never' }],
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

/** windowSize values a log search alert rule accepts (the service refuses others). */
const ALLOWED_WINDOWS = ['PT1M', 'PT5M', 'PT10M', 'PT15M', 'PT30M', 'PT45M', 'PT1H', 'PT2H', 'PT3H', 'PT4H', 'PT5H', 'PT6H', 'P1D', 'P2D'];
const minutesOf = (iso: string) => Number(/\d+/.exec(iso)![0]) * (iso.endsWith('H') ? 60 : iso.endsWith('D') ? 1440 : 1);

/** The alerts module evaluated for a schedule and a frequency, with the budget main.bicep gives the tick. */
function alertsFor(tick: number, frequency: number) {
  const deadlineSeconds = evaluator(parser.parse(read('main.bicep'))!.rootNode, { network: {}, monitorIntervalMinutes: tick }).value('deadlineSeconds') as number;
  const alerts = evaluator(parser.parse(read('modules/alerts.bicep'))!.rootNode, { tickMinutes: tick, deadlineSeconds, frequencyMinutes: frequency, workspaceResourceId: 'w', namePrefix: 'a', location: 'westeurope' });
  return { alerts, deadlineSeconds };
}

/** The timing alerts.bicep derives for a schedule and a frequency. */
function timing(tick: number, frequency: number): Timing {
  const { alerts, deadlineSeconds } = alertsFor(tick, frequency);
  const ruleWindow = minutesOf(alerts.value('healthWindow') as string);
  const queryWindow = Number(/^let window = (\d+)m;\n$/.exec(alerts.value('healthLet') as string)![1]);
  return {
    tick,
    frequency,
    healthWindow: Math.min(queryWindow, ruleWindow),
    ruleWindow,
    lateArrival: deadlineSeconds / 60 + INGESTION_MINUTES,
    latestArrival: alerts.value('latestArrivalMinutes') as number,
  };
}

const TIMINGS = [
  [5, 5],
  [5, 15],
  [1, 1],
  [15, 15],
] as const;

describe.each(TIMINGS)('ticks every %i minutes, rules every %i minutes', (tick, frequency) => {
  it.each(SCENARIOS)('%s', (_name, scenario, expected) => {
    const t = timing(tick, frequency);
    for (const rule of ['perConnector', 'split', 'heartbeat'] as const) {
      const found = outcome(rule, t, scenario);
      expect([expected[rule]].flat(), rule).toContain(found.outcome);
      if (found.outcome === 'fires') {
        // Never before the last healthy row left the window; at the latest one evaluation after it did.
        expect(found.earliest, `${rule} earliest`).toBeGreaterThanOrEqual(t.healthWindow - t.tick);
        expect(found.latency, `${rule} latest`).toBeLessThanOrEqual(t.healthWindow + t.frequency + t.lateArrival);
      }
    }
  });
});

// perConnector is not in these: a connector gets its rule only once `kc-monitor alert-params` lists it, live.
describe.each(TIMINGS)('a new connector (no row before tick 0), ticks every %i minutes, rules every %i minutes: the split rule waits for a second tick', (tick, frequency) => {
  it('new connector, first tick unhealthy, then healthy: never fires', () => {
    const t = timing(tick, frequency);
    expect(outcome('split', t, (k) => ({ rows: 'normal', connector: k === 0 ? FAILED : RUNNING }), NEW_CONNECTOR).outcome).toBe('never');
    expect(outcome('split', t, (k) => ({ rows: k === 0 ? 'late' : 'normal', connector: k === 0 ? DEGRADED : RUNNING }), NEW_CONNECTOR).outcome).toBe('never');
  });

  it('new connector, unhealthy two ticks, then healthy: fires once both have arrived (every phase when rules run once a tick or more)', () => {
    const t = timing(tick, frequency);
    const found = outcome('split', t, (k) => ({ rows: 'normal', connector: k <= 1 ? FAILED : RUNNING }), NEW_CONNECTOR);
    expect(found.outcome).toBe(frequency <= tick ? 'fires' : 'sometimes');
    expect(found.earliest).toBeGreaterThanOrEqual(tick + 0.5);
  });

  it('new connector FAILED for good: fires from its second tick, one evaluation later at the latest', () => {
    const t = timing(tick, frequency);
    const found = outcome('split', t, () => ({ rows: 'normal', connector: FAILED }), NEW_CONNECTOR);
    expect(found.outcome).toBe('fires');
    expect(found.earliest).toBeGreaterThanOrEqual(tick + 0.5);
    expect(found.latency).toBeLessThanOrEqual(tick + 0.5 + frequency);
    expect(outcome('heartbeat', t, () => ({ rows: 'normal', connector: FAILED }), NEW_CONNECTOR).outcome).toBe('never');
  });
});

describe('the latency the README states', () => {
  it.each([
    [5, 5, 12, 17],
    [5, 15, 12, 27],
  ])('ticks every %i, rules every %i minutes: a connector FAILED for good fires %i minutes at the earliest, before %i', (tick, frequency, earliest, before) => {
    const t = timing(tick, frequency);
    for (const rule of ['perConnector', 'split'] as const) {
      const found = outcome(rule, t, () => ({ rows: 'normal', connector: FAILED }));
      // Phases are tried 0.1 minute apart.
      expect(found.earliest, rule).toBeGreaterThanOrEqual(earliest - 1e-9);
      expect(found.earliest, rule).toBeLessThan(earliest + 0.11);
      expect(found.latency, rule).toBeLessThan(before);
    }
  });
});

describe('the windows', () => {
  it.each([
    [1, 1, 6, 10],
    [5, 5, 17, 30],
    [5, 15, 17, 30],
    [10, 5, 31, 45],
    [15, 15, 42, 45],
    [30, 15, 72, 120],
  ])('ticks every %i minutes, rules every %i minutes: the query looks back %i minutes, the rule\'s windowSize is %i', (tick, frequency, window, ruleWindow) => {
    const t = timing(tick, frequency);
    expect(t.healthWindow).toBe(window);
    expect(t.ruleWindow).toBe(ruleWindow);
    // Two ticks, the budget of a late one and the ingestion latency; never shorter than the frequency (Azure
    // refuses that), and a windowSize Azure accepts.
    expect(t.healthWindow).toBeGreaterThanOrEqual(2 * tick + t.lateArrival);
    expect(t.ruleWindow).toBeGreaterThanOrEqual(Math.max(t.healthWindow, frequency));
    const { alerts } = alertsFor(tick, frequency);
    for (const w of ['healthWindow', 'eventWindow']) expect(ALLOWED_WINDOWS, w).toContain(alerts.value(w));
  });

  it.each([1, 2, 5, 10, 15, 30])('ticks every %i minutes: a late tick\'s rows are allowed its whole budget and 3 minutes of ingestion', (tick) => {
    for (const frequency of [1, 5, 10, 15]) {
      const { alerts, deadlineSeconds } = alertsFor(tick, frequency);
      expect((alerts.value('latestArrivalMinutes') as number) * 60).toBeGreaterThanOrEqual(deadlineSeconds + INGESTION_MINUTES * 60);
      // Presence rules: a row that arrives that late still falls in the window of some evaluation.
      expect(minutesOf(alerts.value('eventWindow') as string)).toBeGreaterThanOrEqual(frequency + deadlineSeconds / 60 + INGESTION_MINUTES);
    }
  });

  it('the queries say healthy as the model does, and filter on the window the rule gets', () => {
    for (const file of ['alert-connector-not-running.kql', 'alert-unhealthy-connectors.kql']) {
      const query = readFileSync(join(INFRA, 'queries', file), 'utf8');
      expect(query, file).toContain(HEALTHY_KQL);
      expect(query, file).toContain('TimeGenerated > ago(window)');
    }
    const split = readFileSync(join(INFRA, 'queries', 'alert-unhealthy-connectors.kql'), 'utf8');
    for (const part of TICKS_KQL) expect(split).toContain(part);
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
    // A minute of ingestion latency allowed instead of three: a missed tick and a late one fire.
    const missedThenLate = rows(t, (k) => ({ rows: k === 0 ? 'missed' : k === 1 ? 'late' : 'normal', connector: RUNNING }));
    const oneMinute = 2 * t.tick + Math.ceil(t.lateArrival - INGESTION_MINUTES) + 1;
    expect([10.1, 10.3].some((e) => fires('perConnector', missedThenLate, e, oneMinute))).toBe(true);
    expect([10.1, 10.3].some((e) => fires('perConnector', missedThenLate, e, t.healthWindow))).toBe(false);
    // The split rule on a new connector's first tick alone stays quiet, on its second it fires.
    const first = rows(t, (k) => ({ rows: 'normal', connector: k === 0 ? FAILED : RUNNING }), NEW_CONNECTOR);
    expect(fires('split', first, 1, t.healthWindow)).toBe(false);
    const twice = rows(t, (k) => ({ rows: 'normal', connector: k <= 1 ? FAILED : RUNNING }), NEW_CONNECTOR);
    expect(fires('split', twice, 6, t.healthWindow)).toBe(true);
  });
});
