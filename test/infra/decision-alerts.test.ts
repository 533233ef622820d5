import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { ConnectSimulator, type SimConnector } from '../../src/lib/demo/connectSimulator';
import { MemoryHistoryStore } from '../../src/lib/heal/history';
import { HEALING_TABLE, STATUS_TABLE } from '../../src/lib/logs/schema';
import { createMonitor } from '../../src/lib/monitor';
import { memorySink } from '../helpers/sinks';
import { at } from '../lib/heal/fixtures';
import { INFRA, bicepParser, read } from './bicep';
import { evaluator } from './evaluate';

/**
 * The rules on a healing decision (gave up, UNASSIGNED too long) against the rows the monitor really ships: one
 * worker ticking every 5 minutes for four hours, which ships a repeated decision only at the hourly detail tick,
 * and misses the detail tick of 10:00. The rule is modelled as its query reads: the target is in the state in a
 * status row of the last `window` minutes, and the latest decision about it in the last `decisions` minutes says
 * so. Rows arrive half a minute after their tick's time.
 */

const TICK = 5;
const MISSED = 120;
const HEALED_AT = 150;
const MINUTES = Array.from({ length: 240 / TICK + 1 }, (_, i) => i * TICK).filter((m) => m !== MISSED);
const CONFIG_TRACE = 'org.apache.kafka.common.config.ConfigException: Missing required configuration "connection.url" which has no default value.';

interface Shipped {
  readonly t: number;
  readonly row: Record<string, unknown>;
}

const status: Shipped[] = [];
const healing: Shipped[] = [];
let windows: { window: number; decisions: number };
const sim = new ConnectSimulator({ version: '3.7.0' });

const task = (name: string, state: string, trace?: string): SimConnector => ({ name, type: 'sink', config: {}, state: 'RUNNING', workerId: 'w:1', tasks: [{ id: 0, state, workerId: 'w:1', ...(trace && { trace }) }] });

beforeAll(async () => {
  const parser = await bicepParser();
  const deadlineSeconds = evaluator(parser.parse(read('main.bicep'))!.rootNode, { network: {}, monitorIntervalMinutes: TICK }).value('deadlineSeconds') as number;
  const alerts = evaluator(parser.parse(read('modules/alerts.bicep'))!.rootNode, { tickMinutes: TICK, deadlineSeconds, frequencyMinutes: 5, workspaceResourceId: 'w', namePrefix: 'a', location: 'westeurope' });
  windows = { window: alerts.value('eventWindowMinutes') as number, decisions: alerts.value('decisionWindowMinutes') as number };

  sim.add(task('misconfigured', 'FAILED', CONFIG_TRACE), task('fixed-later', 'FAILED', CONFIG_TRACE), task('stuck', 'UNASSIGNED'));
  const url = await sim.start();
  const sink = memorySink();
  let minute = 0;
  const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'on', MONITOR_SCHEDULE: '0 */5 * * * *' }, { requireIngestion: false }), {
    sink,
    store: new MemoryHistoryStore(),
    now: () => at(minute),
  });
  try {
    for (minute of MINUTES) {
      if (minute === HEALED_AT) sim.connectors.get('fixed-later')!.tasks[0] = { id: 0, state: 'RUNNING', workerId: 'w:1' };
      const before = { s: sink.rows[STATUS_TABLE.stream]?.length ?? 0, h: sink.rows[HEALING_TABLE.stream]?.length ?? 0 };
      await monitor.tick();
      status.push(...(sink.rows[STATUS_TABLE.stream] ?? []).slice(before.s).map((row) => ({ t: minute, row })));
      healing.push(...(sink.rows[HEALING_TABLE.stream] ?? []).slice(before.h).map((row) => ({ t: minute, row })));
    }
  } finally {
    await monitor.close();
  }
});

afterAll(() => sim.stop());

const key = (r: Record<string, unknown>) => `${String(r.ConnectorName)}#${r.TaskId === undefined ? '' : String(r.TaskId)}`;
const seen = (rows: Shipped[], e: number, minutes: number) => rows.filter((r) => r.t + 0.5 <= e && r.t > e - minutes);

/** The connectors the rule returns at evaluation time e. */
function firing(e: number, state: string, outcomes: readonly string[], decisions = windows.decisions): string[] {
  const latest = new Map<string, Record<string, unknown>>();
  for (const r of seen(healing, e, decisions)) latest.set(key(r.row), r.row); // in tick order: the last wins
  const inState = new Set(seen(status, e, windows.window).filter((r) => ['connector', 'task'].includes(String(r.row.RecordType)) && r.row.State === state).map((r) => key(r.row)));
  return [...inState].filter((k) => outcomes.includes(String(latest.get(k)?.Outcome))).map((k) => k.split('#')[0]!).sort();
}

const GAVE_UP = ['skipped-non-transient', 'skipped-max-attempts'];
const evaluations = (from: number, to: number) => Array.from({ length: Math.floor((to - from) / 5) + 1 }, (_, i) => from + i * 5 + 2.5);

describe('alerts on a healing decision, on the rows of four hours of ticks', () => {
  it('the decisions that repeat ship once, then at each hourly detail tick (none at 10:00, the tick missed)', () => {
    const of = (name: string) => healing.filter((r) => r.row.ConnectorName === name).map((r) => `${r.t} ${String(r.row.Outcome)}`);
    expect(of('misconfigured')).toEqual(['0 skipped-non-transient', '60 skipped-non-transient', '180 skipped-non-transient', '240 skipped-non-transient']);
    expect(of('stuck')).toEqual(['15 unassigned-too-long', '60 unassigned-too-long', '180 unassigned-too-long', '240 unassigned-too-long']);
    // Their status rows, though, go out every tick.
    expect(status.filter((r) => r.row.ConnectorName === 'misconfigured' && r.row.RecordType === 'task').map((r) => r.t)).toEqual(MINUTES);
  });

  it('"healer gave up" fires at every evaluation while the target stays FAILED, across the missed detail tick', () => {
    for (const e of evaluations(0, 240)) expect(firing(e, 'FAILED', GAVE_UP), `at minute ${e}`).toContain('misconfigured');
  });

  it('"UNASSIGNED too long" fires from its first decision on, at every evaluation', () => {
    for (const e of evaluations(0, 10)) expect(firing(e, 'UNASSIGNED', ['unassigned-too-long']), `at minute ${e}`).toEqual([]);
    for (const e of evaluations(15, 240)) expect(firing(e, 'UNASSIGNED', ['unassigned-too-long']), `at minute ${e}`).toEqual(['stuck']);
  });

  it('stops once the target runs again: no FAILED row left in the window', () => {
    const lastFailed = HEALED_AT - TICK;
    for (const e of evaluations(0, lastFailed)) expect(firing(e, 'FAILED', GAVE_UP), `at minute ${e}`).toContain('fixed-later');
    for (const e of evaluations(lastFailed + windows.window, 240)) expect(firing(e, 'FAILED', GAVE_UP), `at minute ${e}`).not.toContain('fixed-later');
  });

  it('the lookback matters: with the decision looked up over the state\'s window only, the alert would close between detail ticks', () => {
    expect(windows.decisions).toBeGreaterThanOrEqual(2 * 60 + TICK);
    const closed = evaluations(0, 240).filter((e) => !firing(e, 'FAILED', GAVE_UP, windows.window).includes('misconfigured'));
    expect(closed.length).toBeGreaterThan(0);
    // And with one hour only, the missed detail tick at 10:00 closes it.
    expect(evaluations(0, 240).some((e) => !firing(e, 'FAILED', GAVE_UP, 60 + TICK + 3).includes('misconfigured'))).toBe(true);
  });

  it('the queries read what the model reads', () => {
    const gaveUp = readFileSync(join(INFRA, 'queries', 'alert-healer-gave-up.kql'), 'utf8');
    expect(gaveUp).toContain('Outcome in ("skipped-non-transient", "skipped-max-attempts")');
    expect(gaveUp).toContain('State == "FAILED"');
    const unassigned = readFileSync(join(INFRA, 'queries', 'alert-unassigned.kql'), 'utf8');
    expect(unassigned).toContain('Outcome == "unassigned-too-long"');
    expect(unassigned).toContain('State == "UNASSIGNED"');
    for (const q of [gaveUp, unassigned]) {
      expect(q).toContain('summarize arg_max(TimeGenerated, ');
      expect(q).toContain('Key = strcat(ConnectorName, "#", tostring(TaskId))');
    }
  });
});
