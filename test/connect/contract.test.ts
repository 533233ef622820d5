import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectSimulator, type SimConnector } from '../../src/lib/demo/connectSimulator';
import { PLUGIN_CLASS, type RestResponse, rest, testConnectCluster, waitUntil } from './harness';

/**
 * The simulator stays honest (issue 10, item 4): one scenario, run against the real cluster of the global
 * setup and against a ConnectSimulator of the same version with equivalent connectors, compared on the shapes
 * the monitor reads — the root, the expanded listing, every status code and error body it may meet. Traces
 * are compared by structure (exception line, `\tat ` frames, `Caused by:`), not text; values by type.
 * Differences found, and what changed in the simulator, are in FACTS.md ("simulator vs real").
 */
const cluster = testConnectCluster();
const version = cluster.versions.connect;
const is44 = /^4\.([4-9]|\d{2})\./.test(version) || /^[5-9]\./.test(version);
const W = ['127.0.0.1:18083', '127.0.0.1:18084'];

const REAL: Record<string, Record<string, string>> = {
  'ct-ok': { 'tasks.max': '2' },
  'ct-task': { 'tasks.max': '2', 'task.fail': 'always', 'task.fail.ids': '0' },
  'ct-conn': { 'connector.fail': 'always', 'connector.fail.message': 'connector will not start' },
  'ct-unb': { 'task.fail': 'construct' },
  'ct-stop': {},
  'ct-pause': {},
  '.': {},
  '..': {},
};

const trace = (head: string, frames: string[], cause?: string): string =>
  [head, ...frames.map((f) => `\tat ${f}`), ...(cause ? [`Caused by: ${cause}`, '\t... 12 more'] : [])].join('\n') + '\n';

function simConnectors(): SimConnector[] {
  const base = { type: 'source' as const, config: { 'connector.class': PLUGIN_CLASS }, state: 'RUNNING', workerId: W[0]! };
  const ok = (id: number) => ({ id, state: 'RUNNING', workerId: W[id % 2]! });
  return [
    { ...base, name: 'ct-ok', tasks: [ok(0), ok(1)] },
    {
      ...base,
      name: 'ct-task',
      tasks: [{ id: 0, state: 'FAILED', workerId: W[0]!, sticky: true, trace: trace('org.apache.kafka.connect.errors.ConnectException: task 0 failed', ['a.B.start(B.java:1)']) }, ok(1)],
    },
    { ...base, name: 'ct-conn', state: 'FAILED', sticky: true, trace: trace('org.apache.kafka.connect.errors.ConnectException: connector will not start', ['a.B.start(B.java:1)']), tasks: [] },
    {
      ...base,
      name: 'ct-unb',
      tasks: [{ id: 0, state: 'FAILED', workerId: W[1]!, sticky: true, failsToStart: true, trace: trace('org.apache.kafka.connect.errors.ConnectException: Instantiation error', ['a.B.c(B.java:1)'], 'java.lang.IllegalStateException: x') }],
    },
    // A STOPPED connector keeps its task configs in the simulator; Connect shows none.
    { ...base, name: 'ct-stop', state: 'STOPPED', tasks: [ok(0)] },
    { ...base, name: 'ct-pause', state: 'PAUSED', tasks: [{ ...ok(0), state: 'PAUSED' }] },
    { ...base, name: '.', tasks: [ok(0)] },
    { ...base, name: '..', tasks: [ok(0)] },
  ];
}

type Call = (method: string, path: string) => Promise<RestResponse>;

interface Status {
  readonly connector: { readonly state: string };
  readonly tasks: readonly { readonly id: number; readonly state: string; readonly trace?: string }[];
}

/** A Java stack trace's structure, or what is wrong with it. */
function traceShape(text: unknown): string {
  if (typeof text !== 'string') return `not a string: ${typeof text}`;
  const lines = text.replace(/\n$/, '').split('\n');
  if (!/^[\w$]+(\.[\w$]+)+(: .*)?$/.test(lines[0]!)) return `first line is not an exception: ${lines[0]}`;
  const bad = lines.slice(1).find((l) => !/^\tat \S+\(.*\)$|^Caused by: [\w$]+(\.[\w$]+)+(: .*)?$|^\t\.\.\. \d+ more$/.test(l));
  if (bad !== undefined) return `unexpected line: ${JSON.stringify(bad)}`;
  if (!lines.some((l) => l.startsWith('\tat '))) return 'no frames';
  return 'java trace';
}

/** Keys and value types; traces by structure; a connector config as a string map. */
function shape(value: unknown, key = ''): unknown {
  if (key === 'trace') return traceShape(value);
  if (key === 'config') return typeof value === 'object' && value && Object.values(value).every((v) => typeof v === 'string') ? 'string map' : 'not a string map';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.map((v) => shape(v));
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shape(v, k)]));
  return typeof value;
}

function dropRestartingTraces(plan: Status): void {
  for (const entry of [plan.connector, ...plan.tasks] as { state: string; trace?: string }[]) if (entry.state === 'RESTARTING') delete entry.trace;
}

/** What the monitor can tell from one answer: code, content type, and the body's exact error or its shape. */
function answer(res: RestResponse, opts: { exact?: boolean; unorderedTasks?: boolean } = {}): unknown {
  const type = String(res.headers['content-type'] ?? '').split(';')[0];
  const body = res.json as Record<string, unknown> | undefined;
  const workers = (s: string) => s.replace(/127\.0\.0\.1:\d+/g, 'W');
  // A RESTARTING entry of a 202 plan carries the trace the status store held when the plan was built; one run
  // of 3.9.2 showed a task RESTARTING without one (FACTS.md), so the plans are compared without those traces.
  if (res.status === 202 && body && typeof body === 'object' && 'tasks' in body) dropRestartingTraces(body as unknown as Status);
  let shown: unknown = res.text === '' ? '' : body === undefined ? workers(res.text) : opts.exact ? JSON.parse(workers(res.text)) : shape(body);
  let states: unknown;
  if (!opts.exact && body && typeof body === 'object' && 'tasks' in body) {
    const s = body as unknown as Status;
    const tasks = opts.unorderedTasks ? [...s.tasks].sort((a, b) => a.id - b.id) : s.tasks;
    states = { connector: s.connector.state, tasks: tasks.map((t) => `${t.id}:${t.state}`) };
    if (opts.unorderedTasks) shown = shape({ ...body, tasks });
  }
  return { status: res.status, type, body: shown, ...(states !== undefined && { states }) };
}

async function listing(call: Call): Promise<Record<string, unknown>> {
  const res = await call('GET', '/connectors?expand=status&expand=info');
  const all = res.json as Record<string, { status: Status }>;
  return Object.fromEntries(
    Object.keys(REAL).map((name) => {
      const entry = all[name];
      if (!entry) return [name, 'missing'];
      const s = entry.status;
      return [name, { shape: shape(entry), states: { connector: s.connector.state, tasks: s.tasks.map((t) => `${t.id}:${t.state}`) } }];
    }),
  );
}

/** The whole scenario; `settle` waits (on the real cluster) until the asynchronous restarts are done. */
async function scenario(call: Call, settle: () => Promise<void>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const root = await call('GET', '/');
  out.root = { status: root.status, body: shape(root.json) };
  out.listing = await listing(call);
  out.listingStatusInfoComma = answer(await call('GET', '/connectors?expand=status,info'));

  out.kip745Failed = answer(await call('POST', '/connectors/ct-task/restart?includeTasks=true&onlyFailed=true'), { unorderedTasks: is44 });
  out.kip745Nothing = answer(await call('POST', '/connectors/ct-ok/restart?includeTasks=true&onlyFailed=true'), { unorderedTasks: is44 });
  await settle();
  // The plan is built from the status store of the worker that answers, which can still hold the FAILED
  // connector as UNASSIGNED after the listing said FAILED (3.9.2, once in CI); such a plan restarts nothing
  // (onlyFailed), so asking again once that store has caught up is the same call.
  let connectorFailed = await call('POST', '/connectors/ct-conn/restart?includeTasks=true&onlyFailed=true');
  for (let tries = 1; (connectorFailed.json as Status | undefined)?.connector.state === 'UNASSIGNED' && tries < 4; tries++) {
    await settle();
    connectorFailed = await call('POST', '/connectors/ct-conn/restart?includeTasks=true&onlyFailed=true');
  }
  out.kip745ConnectorFailed = answer(connectorFailed);
  await settle();
  out.kip745All = answer(await call('POST', '/connectors/ct-ok/restart?includeTasks=true'), { unorderedTasks: is44 });
  await settle();
  out.plainRestart = answer(await call('POST', '/connectors/ct-ok/restart'));
  out.plainRestartFails = answer(await call('POST', '/connectors/ct-conn/restart'), { exact: true });
  out.taskRestart = answer(await call('POST', '/connectors/ct-ok/tasks/0/restart'));
  out.taskRestartFailsAgain = answer(await call('POST', '/connectors/ct-task/tasks/0/restart'));
  out.taskRestartUnbuildable = answer(await call('POST', '/connectors/ct-unb/tasks/0/restart'), { exact: true });
  await settle();

  const exact = { exact: true };
  out.unknownStatus = answer(await call('GET', '/connectors/ct-nope/status'), exact);
  out.unknownInfo = answer(await call('GET', '/connectors/ct-nope'), exact);
  out.unknownRestart = answer(await call('POST', '/connectors/ct-nope/restart'), exact);
  out.unknownKip745 = answer(await call('POST', '/connectors/ct-nope/restart?includeTasks=true&onlyFailed=true'), exact);
  out.unknownConnectorTaskRestart = answer(await call('POST', '/connectors/ct-nope/tasks/0/restart'), exact);
  out.unknownTaskRestart = answer(await call('POST', '/connectors/ct-ok/tasks/7/restart'), exact);
  out.unknownTaskStatus = answer(await call('GET', '/connectors/ct-ok/tasks/7/status'), exact);
  out.taskStatus = answer(await call('GET', '/connectors/ct-ok/tasks/0/status'));

  out.stoppedTaskRestart = answer(await call('POST', '/connectors/ct-stop/tasks/0/restart'), exact);
  out.stoppedKip745 = answer(await call('POST', '/connectors/ct-stop/restart?includeTasks=true&onlyFailed=true'));
  out.pausedTaskRestart = answer(await call('POST', '/connectors/ct-pause/tasks/0/restart'));
  out.pausedKip745 = answer(await call('POST', '/connectors/ct-pause/restart?includeTasks=true&onlyFailed=true'));
  out.stoppedPlainRestart = answer(await call('POST', '/connectors/ct-stop/restart'));
  await settle();

  for (const [label, path] of [
    ['raw .', '/connectors/./status'],
    ['raw ..', '/connectors/../status'],
    ['raw . restart', '/connectors/./tasks/0/restart'],
    ['%2E', '/connectors/%2E/status'],
    ['%2E%2E', '/connectors/%2E%2E/status'],
    ['%2E restart', '/connectors/%2E/tasks/0/restart'],
    ['%2F', '/connectors/ct-x%2Fy/status'],
    ['%2F restart', '/connectors/ct-x%2Fy/restart'],
    ['%2F task restart', '/connectors/ct-x%2Fy/tasks/0/restart'],
    ['%25', '/connectors/ct-x%25y/status'],
    ['%5C', '/connectors/ct-x%5Cy/status'],
    ['%20', '/connectors/ct-x%20y/status'],
    ['%23 task restart', '/connectors/ct-x%23y/tasks/0/restart'],
  ] as const) {
    const method = label.includes('restart') ? 'POST' : 'GET';
    const res = await call(method, path);
    out[`path ${label}`] = answer(res, { exact: res.status !== 200 });
    // A task restart that worked leaves the task UNASSIGNED or RESTARTING for a moment: not for the next read.
    if (res.status === 204) await settle();
  }
  out.listingAfter = await listing(call);
  return out;
}

const sim = new ConnectSimulator({ version }).add(...simConnectors());
let simUrl = '';
let real: Record<string, unknown> = {};
let simulated: Record<string, unknown> = {};

/** Waits until no restart is in flight: nothing RESTARTING or UNASSIGNED, every connector in its expected state. */
async function settleReal(): Promise<void> {
  await settledOnce();
  // Connect answers the listing from its status topic: give a just-restarted task's status time to land, and
  // check again (3.9.2 once showed a FAILED connector UNASSIGNED for a moment in between).
  await new Promise((r) => setTimeout(r, 1500));
  await settledOnce();
}

async function settledOnce(): Promise<void> {
  await waitUntil(
    'the real cluster to settle',
    async () => {
      const all = (await cluster.rest('GET', '/connectors?expand=status')).json as Record<string, { status: Status }>;
      const ok = Object.keys(REAL).every((name) => {
        const s = all[name]?.status;
        if (!s) return false;
        const states = [s.connector.state, ...s.tasks.map((t) => t.state)];
        if (states.some((x) => x === 'RESTARTING' || x === 'UNASSIGNED')) return false;
        if (name === 'ct-stop') return s.connector.state === 'STOPPED' && s.tasks.length === 0;
        if (name === 'ct-pause') return states.every((x) => x === 'PAUSED') && s.tasks.length === 1;
        if (name === 'ct-conn') return s.connector.state === 'FAILED';
        if (name === 'ct-task') return s.tasks.length === 2 && s.tasks[0]!.state === 'FAILED' && s.tasks[1]!.state === 'RUNNING';
        if (name === 'ct-unb') return s.tasks.length === 1 && s.tasks[0]!.state === 'FAILED';
        return s.tasks.length === (REAL[name]!['tasks.max'] === '2' ? 2 : 1) && states.every((x) => x === 'RUNNING');
      });
      return ok ? true : undefined;
    },
    60_000,
  );
}

beforeAll(async () => {
  for (const [name, config] of Object.entries(REAL)) {
    const res = await cluster.rest('POST', '/connectors', { body: { name, config: { 'connector.class': PLUGIN_CLASS, 'tasks.max': '1', ...config } } });
    expect(res.status, res.text).toBe(201);
  }
  await waitUntil('the tasks to exist', async () => {
    const all = (await cluster.rest('GET', '/connectors?expand=status')).json as Record<string, { status: Status }>;
    return all['ct-stop']?.status.tasks.length && all['ct-pause']?.status.tasks.length ? true : undefined;
  });
  expect((await cluster.rest('PUT', '/connectors/ct-stop/stop')).status).toBe(204);
  expect((await cluster.rest('PUT', '/connectors/ct-pause/pause')).status).toBe(202);
  await settleReal();
  simUrl = await sim.start();
  real = await scenario((m, p) => cluster.rest(m, p), settleReal);
  simulated = await scenario((m, p) => rest(simUrl, m, p), async () => {});
  // KC_CONTRACT_DUMP=file: both observations side by side, to read a difference in full.
  if (process.env.KC_CONTRACT_DUMP) writeFileSync(process.env.KC_CONTRACT_DUMP, JSON.stringify({ version, real, simulated }, null, 1));
}, 240_000);

afterAll(async () => {
  await sim.stop();
  // The files after this one share the cluster: leave nothing behind (a DELETE during a rebalance is a 409).
  for (const name of Object.keys(REAL)) {
    await waitUntil(`${name} to be deleted`, async () => ([204, 404].includes((await cluster.rest('DELETE', `/connectors/${name}`)).status) ? true : undefined), 30_000, 500);
  }
});

describe(`the simulator against real Kafka Connect ${version}`, () => {
  it('runs the scenario on both', () => {
    expect(Object.keys(simulated)).toEqual(Object.keys(real));
  });
  for (const key of [
    'root', 'listing', 'listingStatusInfoComma', 'kip745Failed', 'kip745Nothing', 'kip745ConnectorFailed', 'kip745All',
    'plainRestart', 'plainRestartFails', 'taskRestart', 'taskRestartFailsAgain', 'taskRestartUnbuildable',
    'unknownStatus', 'unknownInfo', 'unknownRestart', 'unknownKip745', 'unknownConnectorTaskRestart', 'unknownTaskRestart',
    'unknownTaskStatus', 'taskStatus', 'stoppedTaskRestart', 'stoppedKip745', 'pausedTaskRestart', 'pausedKip745',
    'stoppedPlainRestart', 'path raw .', 'path raw ..', 'path raw . restart', 'path %2E', 'path %2E%2E', 'path %2E restart',
    'path %2F', 'path %2F restart', 'path %2F task restart', 'path %25', 'path %5C', 'path %20', 'path %23 task restart', 'listingAfter',
  ]) {
    it(`answers alike: ${key}`, () => {
      expect(simulated[key], JSON.stringify(real[key])).toEqual(real[key]);
    });
  }
  it('shows a trace only on FAILED, and real traces have the structure the simulator copies', () => {
    const listing = real.listing as Record<string, { shape: unknown }>;
    expect(JSON.stringify(listing['ct-ok']!.shape)).not.toContain('trace');
    expect(JSON.stringify(listing['ct-task']!.shape)).toContain('"trace":"java trace"');
  });
});
