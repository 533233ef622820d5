import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLUGIN_CLASS, testConnectCluster, waitUntil } from './harness';

/**
 * Smoke test of the harness and the test plugin against the real cluster of the global setup: each failure
 * mode shows in the status API as it should, and the restarts answer as FACTS.md says.
 */
const cluster = testConnectCluster();
const marker = join(cluster.markerDir, 'smoke-transient');

interface TaskState {
  readonly id: number;
  readonly state: string;
  readonly worker_id: string;
  readonly trace?: string;
}
interface Status {
  readonly name: string;
  readonly connector: { readonly state: string; readonly worker_id: string; readonly trace?: string };
  readonly tasks: readonly TaskState[];
  readonly type: string;
}

const CONNECTORS: Record<string, Record<string, string>> = {
  'smoke-healthy': { 'tasks.max': '2' },
  'smoke-transient': { 'task.fail': 'marker', 'task.fail.marker': marker },
  'smoke-permanent': { 'task.fail': 'always' },
  'smoke-config': {
    'task.fail': 'always',
    'task.fail.class': 'org.apache.kafka.common.config.ConfigException',
    'task.fail.message': 'Invalid value x for configuration connection.url',
    'task.fail.cause': 'no route to db',
  },
  'smoke-in-poll': { 'task.fail': 'always', 'task.fail.where': 'poll' },
  'smoke-connector': { 'connector.fail': 'always', 'connector.fail.message': 'connector refuses to start' },
  'smoke-unbuildable': { 'task.fail': 'construct' },
};

/** The expanded read a monitor makes, through fetch (undici) as the monitor does. */
async function statuses(): Promise<Record<string, Status>> {
  const res = await fetch(`${cluster.workers[0]!.url}/connectors?expand=status&expand=info`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, { status: Status }>;
  return Object.fromEntries(Object.entries(body).map(([name, v]) => [name, v.status]));
}

/** Polls the status of one connector until `ok` holds. */
function statusWhen(name: string, ok: (s: Status) => boolean, timeoutMs = 30_000): Promise<Status> {
  return waitUntil(
    `${name} to reach the expected state`,
    async () => {
      const res = await cluster.rest('GET', `/connectors/${encodeURIComponent(name)}/status`);
      const s = res.json as Status;
      return res.status === 200 && ok(s) ? s : undefined;
    },
    timeoutMs,
  );
}

const settled = (s: Status): boolean => s.connector.state !== 'UNASSIGNED' && s.tasks.every((t) => t.state === 'RUNNING' || t.state === 'FAILED');

beforeAll(async () => {
  writeFileSync(marker, '');
  for (const [name, config] of Object.entries(CONNECTORS)) {
    const res = await cluster.rest('POST', '/connectors', { body: { name, config: { 'connector.class': PLUGIN_CLASS, 'tasks.max': '1', ...config } } });
    expect(res.status, res.text).toBe(201);
  }
  for (const name of Object.keys(CONNECTORS)) {
    await statusWhen(name, (s) => (name === 'smoke-connector' ? s.connector.state === 'FAILED' : s.tasks.length > 0 && settled(s)));
  }
});

afterAll(async () => {
  for (const name of Object.keys(CONNECTORS)) await cluster.rest('DELETE', `/connectors/${name}`);
  rmSync(marker, { force: true });
});

describe('the real cluster', () => {
  it('answers GET / with the version of the jars, and lists the test plugin', async () => {
    const root = await cluster.rest('GET', '/');
    expect(root.status).toBe(200);
    expect(root.json).toMatchObject({ version: cluster.versions.connect });
    const plugins = await cluster.rest('GET', '/connector-plugins');
    expect(plugins.json).toContainEqual(expect.objectContaining({ class: PLUGIN_CLASS, type: 'source' }));
  });

  it('spreads the tasks over both workers', async () => {
    const all = await statuses();
    const workers = new Set(Object.values(all).flatMap((s) => [s.connector.worker_id, ...s.tasks.map((t) => t.worker_id)]));
    expect([...workers].sort()).toEqual(cluster.workers.map((w) => w.workerId).sort());
  });
});

describe('the test plugin, in each mode', () => {
  it('runs healthy tasks', async () => {
    const s = (await statuses())['smoke-healthy']!;
    expect(s.connector.state).toBe('RUNNING');
    expect(s.tasks.map((t) => t.state)).toEqual(['RUNNING', 'RUNNING']);
  });

  it('fails a task in start() with the configured exception, its cause as "Caused by:"', async () => {
    const s = (await statuses())['smoke-config']!;
    expect(s.connector.state).toBe('RUNNING');
    expect(s.tasks[0]!.state).toBe('FAILED');
    const trace = s.tasks[0]!.trace!;
    expect(trace.split('\n')[0]).toBe('org.apache.kafka.common.config.ConfigException: Invalid value x for configuration connection.url');
    expect(trace.split('\n')[1]).toMatch(/^\tat kcmonitor\.test\.TroubleSourceConnector\$TroubleTask\.start\(/);
    expect(trace).toContain('\nCaused by: java.io.IOException: no route to db\n');
  });

  it('fails a task in poll() when told to', async () => {
    const trace = (await statuses())['smoke-in-poll']!.tasks[0]!.trace!;
    expect(trace).toMatch(/^org\.apache\.kafka\.connect\.errors\.ConnectException: task 0 failed on command \(task\.fail=always, in poll\)\n\tat kcmonitor\.test\.TroubleSourceConnector\$TroubleTask\.poll\(/);
  });

  it('fails the connector instance itself, with no tasks', async () => {
    const s = (await statuses())['smoke-connector']!;
    expect(s.connector.state).toBe('FAILED');
    expect(s.connector.trace).toMatch(/^org\.apache\.kafka\.connect\.errors\.ConnectException: connector refuses to start\n\tat kcmonitor\.test\.TroubleSourceConnector\.start\(/);
    expect(s.tasks).toEqual([]);
  });

  it('heals a transient failure with one task restart once the marker file is gone', async () => {
    expect((await statuses())['smoke-transient']!.tasks[0]!.state).toBe('FAILED');
    rmSync(marker);
    const res = await cluster.rest('POST', '/connectors/smoke-transient/tasks/0/restart');
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    await statusWhen('smoke-transient', (s) => s.tasks[0]?.state === 'RUNNING');
  });

  it('answers 204 to a task restart that fails again at once in start()', async () => {
    const res = await cluster.rest('POST', '/connectors/smoke-permanent/tasks/0/restart');
    expect(res.status).toBe(204);
    const s = await statusWhen('smoke-permanent', (x) => x.tasks[0]?.state === 'FAILED');
    expect(s.tasks[0]!.trace).toMatch(/^org\.apache\.kafka\.connect\.errors\.ConnectException: task 0 failed on command/);
  });

  it('answers 500 "Failed to start task" when the task cannot even be built', async () => {
    const res = await cluster.rest('POST', '/connectors/smoke-unbuildable/tasks/0/restart');
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error_code: 500, message: 'Failed to start task: smoke-unbuildable-0' });
    const s = await statusWhen('smoke-unbuildable', (x) => x.tasks[0]?.state === 'FAILED');
    expect(s.tasks[0]!.trace).toContain('Caused by: java.lang.IllegalStateException: task cannot be built (task.fail=construct)');
  });

  it('answers 500 "Failed to start connector" to a plain restart of a connector that fails in start()', async () => {
    const res = await cluster.rest('POST', '/connectors/smoke-connector/restart');
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error_code: 500, message: 'Failed to start connector: smoke-connector' });
  });

  it('answers KIP-745 restarts with 202 and a plan, also when nothing failed', async () => {
    const failed = await cluster.rest('POST', '/connectors/smoke-permanent/restart?includeTasks=true&onlyFailed=true');
    expect(failed.status).toBe(202);
    expect((failed.json as Status).tasks.map((t) => t.state)).toEqual(['RESTARTING']);
    const healthy = await cluster.rest('POST', '/connectors/smoke-healthy/restart?includeTasks=true&onlyFailed=true');
    expect(healthy.status).toBe(202);
    expect((healthy.json as Status).tasks.map((t) => t.state)).toEqual(['RUNNING', 'RUNNING']);
  });
});

describe('workers, stopped and started from a test process', () => {
  it('moves the tasks of a stopped worker to the other, and takes the worker back', async () => {
    const [first, second] = cluster.workers as [(typeof cluster.workers)[0], (typeof cluster.workers)[0]];
    await second.stop();
    expect(second.pid).toBeUndefined();
    await waitUntil('every task to move to worker 1', async () => {
      const all = await statuses();
      const tasks = Object.values(all).flatMap((s) => s.tasks);
      return tasks.length > 0 && tasks.every((t) => t.worker_id === first.workerId && t.state !== 'UNASSIGNED') ? true : undefined;
    });
    await second.start();
    expect(second.pid).toBeGreaterThan(0);
    expect((await cluster.rest('GET', '/health', { worker: second.index })).status).toBe(200);
  });
});
