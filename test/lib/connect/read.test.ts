import { createServer } from 'node:net';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClusterConfig } from '../../../src/lib/config';
import { ConnectClient, type ConnectTimeouts } from '../../../src/lib/connect/client';
import { readCluster } from '../../../src/lib/connect/read';
import { ConnectSimulator, type SimConnector, type SimulatorOptions } from '../../../src/lib/demo/connectSimulator';
import { type Pem, issueCertificate, makeCertificateAuthority } from '../../fakes/tls';

const FAST: ConnectTimeouts = { connectMs: 1_000, headersMs: 400, bodyMs: 400 };
const READ = { maxTraceBytes: 32_768 };

function connector(name: string, overrides: Partial<SimConnector> = {}): SimConnector {
  return {
    name,
    type: 'sink',
    config: { 'connector.class': 'com.example.Sink', 'tasks.max': '2', 'db.password': 'CANARY-db-pw' },
    state: 'RUNNING',
    workerId: 'w1:8083',
    tasks: [
      { id: 0, state: 'RUNNING', workerId: 'w1:8083' },
      { id: 1, state: 'RUNNING', workerId: 'w2:8083' },
    ],
    ...overrides,
  };
}

const started: Array<{ stop(): Promise<void> } | ConnectClient> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => (s instanceof ConnectClient ? s.close() : s.stop())));
});

async function simulate(options: SimulatorOptions, ...connectors: SimConnector[]) {
  const sim = new ConnectSimulator(options).add(...connectors);
  const url = await sim.start();
  started.push(sim);
  return { sim, url };
}

function client(cluster: Partial<ClusterConfig> & { url: string }, timeouts: ConnectTimeouts = FAST): ConnectClient {
  const c = new ConnectClient({ name: 'test', ...cluster }, timeouts);
  started.push(c);
  return c;
}

describe('readCluster against the Connect simulator', () => {
  it('Connect 3.x: GET / and one expanded GET read every state, with no secret', async () => {
    const { sim, url } = await simulate(
      { version: '3.7.0' },
      connector('healthy'),
      connector('failing', {
        tasks: [
          { id: 0, state: 'RUNNING', workerId: 'w1:8083' },
          { id: 1, state: 'FAILED', workerId: 'w2:8083', trace: 'java.sql.SQLException: login failed, password CANARY-db-pw rejected' },
        ],
      }),
      connector('paused', { state: 'PAUSED', tasks: [{ id: 0, state: 'PAUSED', workerId: 'w1:8083' }] }),
      connector('stopped', { state: 'STOPPED', tasks: [] }),
      connector('rebalancing', { tasks: [{ id: 0, state: 'UNASSIGNED', workerId: 'w1:8083' }, { id: 1, state: 'RESTARTING', workerId: 'w1:8083' }] }),
      connector('no-status-record', { statusMissing: true }),
    );
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.version).toBe('3.7.0');
    expect(snapshot.mode).toBe('expanded');
    expect(sim.requests).toEqual([
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/connectors?expand=status&expand=info' },
    ]);
    const states = Object.fromEntries(snapshot.connectors.map((c) => [c.name, [c.state, ...c.tasks.map((t) => t.state)]]));
    expect(states).toEqual({
      healthy: ['RUNNING', 'RUNNING', 'RUNNING'],
      failing: ['RUNNING', 'RUNNING', 'FAILED'],
      paused: ['PAUSED', 'PAUSED'],
      stopped: ['STOPPED'],
      rebalancing: ['RUNNING', 'UNASSIGNED', 'RESTARTING'],
    });
    expect(snapshot.connectors[0]).toMatchObject({ connectorClass: 'com.example.Sink', tasksMax: 2, type: 'sink' });
    expect(snapshot.connectors.find((c) => c.name === 'failing')?.tasks[1]?.trace).toBe('java.sql.SQLException: login failed, password *** rejected');
    expect(JSON.stringify(snapshot)).not.toContain('CANARY');
  });

  it.each<[string, 'expanded' | 'per-connector', number]>([
    ['2.0.1', 'per-connector', 4],
    ['2.2.2', 'per-connector', 4],
    ['2.3.0', 'expanded', 2],
    ['3.0.0', 'expanded', 2],
    ['3.5.1', 'expanded', 2],
    ['3.9.0', 'expanded', 3], // and GET /health
    ['4.1.0', 'expanded', 3],
    ['7.4.0-ccs', 'expanded', 2],
    ['5.1.0-ccs', 'per-connector', 4],
  ])('Connect %s is read %s in %i requests', async (version, mode, requests) => {
    const { sim, url } = await simulate({ version }, connector('a'), connector('b', { state: 'PAUSED' }));
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.mode).toBe(mode);
    expect(sim.requests).toHaveLength(requests);
    expect(snapshot.connectors.map((c) => [c.name, c.state])).toEqual([
      ['a', 'RUNNING'],
      ['b', 'PAUSED'],
    ]);
  });

  it('Connect 2.2: the name list, then one status request per connector, names URL-encoded, bounded concurrency', async () => {
    const names = ['plain', 'with space', 'ünïcödé-→', '100%-done', 'a+b&c=d?'];
    const many = Array.from({ length: 30 }, (_, i) => connector(`bulk-${i}`));
    const { sim, url } = await simulate({ version: '2.2.0', latencyMs: 15 }, ...names.map((n) => connector(n)), ...many);
    const snapshot = await readCluster(client({ url }), { ...READ, concurrency: 4 });
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.mode).toBe('per-connector');
    expect(snapshot.connectors.map((c) => c.name)).toEqual([...names, ...many.map((c) => c.name)]);
    expect(sim.requests.slice(0, 2).map((r) => r.path)).toEqual(['/', '/connectors']);
    expect(sim.requests.slice(2, 7).map((r) => r.path)).toEqual(names.map((n) => `/connectors/${n}/status`));
    expect(sim.requests).toHaveLength(2 + names.length + many.length);
    expect(sim.maxInFlight).toBeLessThanOrEqual(4);
    expect(sim.maxInFlight).toBeGreaterThan(1);
  });

  it('Connect 2.2: a connector deleted mid-tick is skipped, one that errors is UNKNOWN, the rest are read', async () => {
    const { sim, url } = await simulate({ version: '2.2.0' }, connector('a'), connector('deleted'), connector('broken'), connector('z'));
    sim.connectors.get('deleted')!.statusMissing = true;
    sim.inject({ path: '/connectors/broken/status', status: 500, body: '{"error_code":500,"message":"Request timed out"}' });
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.connectors.map((c) => [c.name, c.state])).toEqual([
      ['a', 'RUNNING'],
      ['broken', 'UNKNOWN'],
      ['z', 'RUNNING'],
    ]);
    expect(snapshot.connectors[1]?.detail).toBe('test: GET /connectors/broken/status → 500 SERVER_ERROR: Request timed out');
  });

  it('an expanded answer over the response cap is read one connector at a time, with a warning, instead of not at all', async () => {
    const many = Array.from({ length: 40 }, (_, i) => connector(`big-${i}`));
    const failing = connector('failing', { tasks: [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: 'java.sql.SQLException: login failed for CANARY-db-pw\n\tat a.B(B.java:1)' }] });
    const { sim, url } = await simulate({ version: '3.7.0' }, ...many, failing);
    const snapshot = await readCluster(client({ url }, { ...FAST, maxResponseBytes: 8 * 1024 }), READ);
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.mode).toBe('per-connector');
    expect(snapshot.warning).toBe('test: GET /connectors?expand=status&expand=info → 200 BAD_RESPONSE: response larger than 8 KiB: read one connector at a time');
    expect(snapshot.connectors).toHaveLength(41);
    // Its config is read for the connector with a trace alone, and the trace is redacted with its values.
    const failed = snapshot.connectors.find((c) => c.name === 'failing')!;
    expect(failed.tasks[0]).toMatchObject({ state: 'FAILED' });
    expect(failed.tasks[0]!.trace).not.toContain('CANARY');
    expect(failed.connectorClass).toBe('com.example.Sink');
    expect(sim.requests.filter((r) => /^\/connectors\/[^/]+$/.test(r.path)).map((r) => r.path)).toEqual(['/connectors/failing']);
    expect(sim.requests.filter((r) => r.path.endsWith('/status'))).toHaveLength(41);
  });

  it('a lean read takes each config from the last read with expand=info, and reads it again for a trace that read did not see', async () => {
    const failing = (password: string): SimConnector['tasks'] => [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: `java.sql.SQLException: login failed with ${password}\n\tat a.B(B.java:1)` }];
    const { sim, url } = await simulate({ version: '3.7.0' }, connector('a'), connector('b', { tasks: failing('CANARY-db-pw') }));
    const c = client({ url });
    const paths = () => sim.requests.splice(0).map((r) => r.path);
    const first = await readCluster(c, { ...READ, withInfo: false }); // nothing remembered yet: read with info
    expect(paths()).toEqual(['/', '/connectors?expand=status&expand=info']);
    const lean = await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status']);
    // The same connectors, configs and redaction as the read with info.
    expect(lean.connectors).toEqual(first.connectors);
    expect(lean.connectors[1]!.tasks[0]!.trace).not.toContain('CANARY');
    expect(lean.connectors[1]!.connectorClass).toBe('com.example.Sink');

    // The password changed and the task fails with the new one: its config is read again, and redacts it.
    const b = sim.connectors.get('b')!;
    b.config['db.password'] = 'CANARY-rotated-pw';
    b.tasks = failing('CANARY-rotated-pw');
    const rotated = await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status', '/connectors/b']);
    expect(rotated.connectors[1]!.tasks[0]!.trace).toContain('login failed with');
    expect(rotated.connectors[1]!.tasks[0]!.trace).not.toContain('CANARY');
    await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status']); // remembered with that trace

    // Healthy when its config was read (so none of its secret values were kept), failing now: read again.
    sim.connectors.get('a')!.tasks = failing('CANARY-db-pw');
    const aFailing = await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status', '/connectors/a']);
    expect(aFailing.connectors[0]!.tasks[0]!.trace).toContain('login failed with');
    expect(aFailing.connectors[0]!.tasks[0]!.trace).not.toContain('CANARY');
    await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status']);
    sim.connectors.get('a')!.tasks = connector('a').tasks;

    // A new connector: healthy, nothing of its config is needed; paused, it is read for its row.
    sim.add(connector('c'), connector('d', { state: 'PAUSED', tasks: [{ id: 0, state: 'PAUSED', workerId: 'w1:8083' }] }));
    const added = await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status', '/connectors/d']);
    expect(added.connectors.find((x) => x.name === 'd')!.connectorClass).toBe('com.example.Sink');
    expect(added.connectors.find((x) => x.name === 'c')!.connectorClass).toBeUndefined();

    // Many new failures at once: one read with info instead of one request each.
    sim.add(...Array.from({ length: 40 }, (_, i) => connector(`new-${i}`, { config: { 'connector.class': 'com.example.Sink', 'db.password': `CANARY-${i}-pw` }, tasks: failing(`CANARY-${i}-pw`) })));
    const many = await readCluster(c, { ...READ, withInfo: false });
    expect(paths()).toEqual(['/', '/connectors?expand=status', '/connectors?expand=status&expand=info']);
    expect(JSON.stringify(many.connectors)).not.toContain('CANARY');
    // A detail tick reads with info whatever the memory holds.
    await readCluster(c, READ);
    expect(paths()).toEqual(['/', '/connectors?expand=status&expand=info']);
  });

  // Found in review against the real Connect: during config churn GET /connectors/{name} answers 500
  // "Request cannot be completed because a rebalance is expected" while ?expand=status answers 200.
  it('a lean read whose config read fails withholds that connector\'s traces instead of shipping them half-redacted', async () => {
    const { sim, url } = await simulate({ version: '3.7.0' }, connector('a'));
    const c = client({ url });
    await readCluster(c, READ);
    sim.add(connector('churn', { tasks: [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: 'java.sql.SQLException: login refused for CANARY-db-pw\n\tat a.B(B.java:1)' }] }));
    sim.inject({ path: '/connectors/churn', status: 500, body: '{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}' });
    sim.requests.splice(0);
    const snapshot = await readCluster(c, { ...READ, withInfo: false });
    expect(sim.requests.map((r) => r.path)).toEqual(['/', '/connectors?expand=status', '/connectors/churn']);
    expect(snapshot.error).toBeUndefined();
    const task = snapshot.connectors.find((x) => x.name === 'churn')!.tasks[0]!;
    expect(task.state).toBe('FAILED');
    expect(task.trace).toBe("trace withheld: the connector's config, needed to redact it, could not be read (test: GET /connectors/churn → 500 SERVER_ERROR: Request cannot be completed because a rebalance is expected)");
    // The non-transient patterns still see the trace itself.
    expect(task.unredactedTrace).toContain('SQLException');
  });

  // Found in the second review: a spread of the withheld connector dropped its unredactedTrace, and a
  // connector failing with a ConfigException was restarted on every backoff.
  it('a withheld connector-level trace still reaches the non-transient patterns', async () => {
    const { sim, url } = await simulate({ version: '3.7.0' }, connector('a'));
    const c = client({ url });
    await readCluster(c, READ);
    sim.add(connector('cc', { state: 'FAILED', trace: 'org.apache.kafka.common.config.ConfigException: Missing required configuration "x"\n\tat a.B(B.java:1)', tasks: [] }));
    sim.inject({ path: '/connectors/cc', status: 500, body: '{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}' });
    const cc = (await readCluster(c, { ...READ, withInfo: false })).connectors.find((x) => x.name === 'cc')!;
    expect(cc.trace).toMatch(/^trace withheld: /);
    expect(cc.unredactedTrace).toContain('ConfigException');
  });

  it('one connector at a time over the cap: a failed config read withholds the trace too', async () => {
    const failing = connector('failing', { tasks: [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: 'java.sql.SQLException: login refused for CANARY-db-pw\n\tat a.B(B.java:1)' }] });
    const { sim, url } = await simulate({ version: '3.7.0' }, ...Array.from({ length: 40 }, (_, i) => connector(`big-${i}`)), failing);
    sim.inject({ path: '/connectors/failing', status: 500, body: '{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}' });
    const snapshot = await readCluster(client({ url }, { ...FAST, maxResponseBytes: 8 * 1024 }), READ);
    expect(snapshot.mode).toBe('per-connector');
    expect(JSON.stringify(snapshot.connectors)).not.toContain('CANARY');
    expect(snapshot.connectors.find((x) => x.name === 'failing')!.tasks[0]!.trace).toMatch(/^trace withheld: /);
  });

  it('over the cap, the lean ticks read ?expand=status and each config they need, never the whole answer again', async () => {
    const { sim, url } = await simulate({ version: '3.7.0' }, ...Array.from({ length: 40 }, (_, i) => connector(`big-${i}`)));
    // Big configs: with them the expanded answer is over the cap, the status alone is not.
    for (const c of sim.connectors.values()) c.config['transforms.lookup'] = 'x'.repeat(1_500);
    const c = client({ url }, { ...FAST, maxResponseBytes: 40 * 1024 });
    const detail = await readCluster(c, READ);
    expect(detail.mode).toBe('per-connector');
    sim.add(...Array.from({ length: 35 }, (_, i) => connector(`new-${i}`, { config: { 'connector.class': 'com.example.Sink', 'db.password': `CANARY-${i}-pw` }, tasks: [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: `java.sql.SQLException: refused CANARY-${i}-pw\n\tat a.B(B.java:1)` }] })));
    sim.requests.splice(0);
    const lean = await readCluster(c, { ...READ, withInfo: false, concurrency: 4 });
    const paths = sim.requests.map((r) => r.path);
    expect(lean.error).toBeUndefined();
    expect(lean.mode).toBe('expanded');
    expect(paths.slice(0, 2)).toEqual(['/', '/connectors?expand=status']);
    expect(paths.filter((p) => p.includes('expand=info'))).toEqual([]);
    expect(paths.filter((p) => /^\/connectors\/new-\d+$/.test(p))).toHaveLength(35);
    expect(JSON.stringify(lean.connectors)).not.toContain('CANARY');
  });

  it('a lean read forgets a deleted connector: one re-created under its name is read again, whatever its status', async () => {
    const trace = 'java.sql.SQLException: login refused\n\tat a.B(B.java:1)';
    const failing = (cls: string) => connector('b', { config: { 'connector.class': cls, 'db.password': 'CANARY-db-pw' }, tasks: [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace }] });
    const { sim, url } = await simulate({ version: '3.7.0' }, connector('a'), failing('com.example.Old'));
    const c = client({ url });
    await readCluster(c, READ);
    sim.connectors.delete('b');
    await readCluster(c, { ...READ, withInfo: false });
    sim.add(failing('com.example.New')); // the same status as before, another connector
    sim.requests.splice(0);
    const lean = await readCluster(c, { ...READ, withInfo: false });
    expect(sim.requests.map((r) => r.path)).toEqual(['/', '/connectors?expand=status', '/connectors/b']);
    expect(lean.connectors.find((x) => x.name === 'b')!.connectorClass).toBe('com.example.New');
  });

  it('a lean read reads a paused connector\'s config again: its tasks.max may have changed with its tasks', async () => {
    const { sim, url } = await simulate({ version: '3.7.0' }, connector('a', { config: { 'connector.class': 'com.example.Sink', 'tasks.max': '1' }, tasks: [{ id: 0, state: 'RUNNING', workerId: 'w1:8083' }] }));
    const c = client({ url });
    expect((await readCluster(c, READ)).connectors[0]!.tasksMax).toBe(1);
    const a = sim.connectors.get('a')!;
    a.config['tasks.max'] = '3';
    a.state = 'PAUSED';
    a.tasks = [0, 1, 2].map((id) => ({ id, state: 'PAUSED', workerId: 'w1:8083' }));
    sim.requests.splice(0);
    const lean = await readCluster(c, { ...READ, withInfo: false });
    expect(sim.requests.map((r) => r.path)).toEqual(['/', '/connectors?expand=status', '/connectors/a']);
    expect(lean.connectors[0]).toMatchObject({ state: 'PAUSED', tasksMax: 3 });
    sim.requests.splice(0);
    await readCluster(c, { ...READ, withInfo: false });
    expect(sim.requests.map((r) => r.path)).toEqual(['/', '/connectors?expand=status']); // unchanged since: remembered
  });

  it('many failing connectors unchanged for 15 minutes: the 8 oldest configs read again per lean tick, never everything', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-03T10:00:00Z'));
      const failing = (i: number): SimConnector['tasks'] => [{ id: 0, state: 'FAILED', workerId: 'w1:8083', trace: `java.sql.SQLException: login failed with CANARY-${i}-pw` }];
      const { sim, url } = await simulate({ version: '3.7.0' }, ...Array.from({ length: 40 }, (_, i) => connector(`f-${i}`, { config: { 'connector.class': 'com.example.Sink', 'tasks.max': '1', 'db.password': `CANARY-${i}-pw` }, tasks: failing(i) })));
      const c = client({ url });
      await readCluster(c, READ);
      const lean = async (minutes: number) => {
        vi.setSystemTime(new Date(Date.parse('2026-12-03T10:00:00Z') + minutes * 60_000));
        sim.requests.splice(0);
        const read = await readCluster(c, { ...READ, withInfo: false });
        expect(JSON.stringify(read.connectors)).not.toContain('CANARY');
        expect(JSON.stringify(read.connectors)).not.toContain('withheld');
        return sim.requests.map((r) => r.path).filter((p) => p !== '/');
      };
      expect(await lean(5)).toEqual(['/connectors?expand=status']);
      const refreshed = await lean(15);
      expect(refreshed[0]).toBe('/connectors?expand=status');
      expect(refreshed.slice(1)).toHaveLength(8);
      expect(refreshed.slice(1).every((p) => /^\/connectors\/f-\d+$/.test(p))).toBe(true);
      // The next tick reads the next 8, not the same ones; one that cannot be read keeps what is known.
      sim.inject({ method: 'GET', path: /^\/connectors\/f-\d+$/, times: 1, status: 500, body: JSON.stringify({ error_code: 500, message: 'Request cannot be completed because a rebalance is expected' }), contentType: 'application/json' });
      const next = await lean(20);
      expect(next.slice(1)).toHaveLength(8);
      expect(next.slice(1).some((p) => refreshed.includes(p))).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a lean read reads a stopped connector\'s config again after 15 minutes: its status shows no tasks.max change', async () => {
    // Found in review on the real Connect 4.4: STOPPED, then PUT tasks.max=4, and the status stays STOPPED with no tasks.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-03T10:00:00Z'));
      const { sim, url } = await simulate({ version: '3.7.0' }, connector('a', { state: 'STOPPED', config: { 'connector.class': 'com.example.Sink', 'tasks.max': '1' }, tasks: [] }));
      const c = client({ url });
      expect((await readCluster(c, READ)).connectors[0]!.tasksMax).toBe(1);
      sim.connectors.get('a')!.config['tasks.max'] = '4';
      const lean = async (minutes: number) => {
        vi.setSystemTime(new Date(Date.parse('2026-12-03T10:00:00Z') + minutes * 60_000));
        sim.requests.splice(0);
        const read = await readCluster(c, { ...READ, withInfo: false });
        return [read.connectors[0]!.tasksMax, sim.requests.map((r) => r.path).at(-1)];
      };
      expect(await lean(5)).toEqual([1, '/connectors?expand=status']); // what the read with info said
      expect(await lean(15)).toEqual([4, '/connectors/a']);
      expect(await lean(20)).toEqual([4, '/connectors?expand=status']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('falls back when a server claiming 2.3+ answers the plain name list', async () => {
    const { url } = await simulate({ version: '2.2.0' }, connector('a'));
    const sim2 = new ConnectSimulator({ version: '2.2.0' }).add(connector('a'));
    sim2.inject({ path: '/', body: '{"version":"3.0.0"}' });
    const url2 = await sim2.start();
    started.push(sim2);
    for (const u of [url, url2]) {
      const snapshot = await readCluster(client({ url: u }), READ);
      expect(snapshot.connectors.map((c) => c.name)).toEqual(['a']);
      expect(snapshot.mode).toBe('per-connector');
    }
  });

  it('sends basic auth on every request; a wrong password is UNAUTHORIZED with Connect\'s plain-text body', async () => {
    const { sim, url } = await simulate({ basicAuth: { username: 'monitor', password: 'CANARY-connect-pw' } }, connector('a'));
    const ok = await readCluster(client({ url, username: 'monitor', password: 'CANARY-connect-pw' }), READ);
    expect(ok.error).toBeUndefined();
    expect(ok.connectors).toHaveLength(1);
    expect(sim.requests).toHaveLength(2);

    const denied = await readCluster(client({ url, username: 'monitor', password: 'wrong-password' }), READ);
    expect(denied.error?.kind).toBe('UNAUTHORIZED');
    expect(denied.error?.message).toBe('test: GET / → 401 UNAUTHORIZED: User cannot access the resource. (check KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD)');
    expect(denied.connectors).toEqual([]);
  });

  it.each<[string, Parameters<ConnectSimulator['inject']>[0], string, RegExp]>([
    ['403', { path: '/', status: 403, body: '{"error_code":403,"message":"Forbidden"}' }, 'FORBIDDEN', /403 FORBIDDEN: Forbidden \(set KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD\)$/],
    ['409 during a rebalance', { path: /^\/connectors\?/, status: 409, body: '{"error_code":409,"message":"Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."}' }, 'CONFLICT', /409 CONFLICT: Cannot complete request momentarily/],
    ['500 Request timed out', { path: /^\/connectors\?/, status: 500, body: '{"error_code":500,"message":"Request timed out"}' }, 'SERVER_ERROR', /500 SERVER_ERROR: Request timed out$/],
    ['HTML 502 from a proxy', { path: /^\//, status: 502, contentType: 'text/html', body: '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>' }, 'SERVER_ERROR', /502 SERVER_ERROR: HTML page: 502 Bad Gateway$/],
    ['HTML 504 without a title', { path: /^\//, status: 504, contentType: 'text/html', body: '<html><body><h1>Gateway Timeout</h1></body></html>' }, 'SERVER_ERROR', /504 SERVER_ERROR: HTML page: Gateway Timeout$/],
    ['an HTML login page with 200', { path: /^\//, status: 200, contentType: 'text/html', body: '<!doctype html><title>Sign in</title>' }, 'BAD_RESPONSE', /200 BAD_RESPONSE: expected JSON, got text\/html: HTML page: Sign in$/],
    ['truncated JSON', { path: /^\/connectors\?/, status: 200, body: '{"a":{"status":{"name":"a","connector":{"sta' }, 'BAD_RESPONSE', /200 BAD_RESPONSE: truncated or malformed JSON \(\d+ chars received\)$/],
    ['JSON of the wrong shape', { path: /^\/connectors\?/, status: 200, body: '"oops"' }, 'BAD_RESPONSE', /200 BAD_RESPONSE: expected an object keyed by connector name, got string$/],
    ['slow headers', { path: '/', delayMs: 1_500 }, 'TIMEOUT', /TIMEOUT: no response within 0.4 s$/],
    ['a stalled body', { path: /^\/connectors\?/, stallBody: true, body: '{"a":' }, 'TIMEOUT', /TIMEOUT: response body stalled for 0.4 s$/],
    ['a connection cut mid-body', { path: /^\/connectors\?/, destroy: true, body: '{"a":' }, 'BAD_RESPONSE', /BAD_RESPONSE: response cut off/],
  ])('%s', async (_name, fault, kind, message) => {
    const { sim, url } = await simulate({}, connector('a'));
    sim.inject(fault);
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.error?.kind).toBe(kind);
    expect(snapshot.error?.message).toMatch(message);
    expect(snapshot.error?.message).not.toContain('\n');
  });

  // The version only picks features: a worker whose GET / fails is still read, on the newest API.
  it.each<[string, { status: number; body: string; contentType?: string }]>([
    ['a 500', { status: 500, body: '{"error_code":500,"message":"Request timed out"}' }],
    ['a 404 from a gateway that routes only /connectors', { status: 404, body: '<html><title>404 Not Found</title></html>', contentType: 'text/html' }],
    ['a body that is not JSON', { status: 200, body: 'OK', contentType: 'text/plain' }],
  ])('GET / answering %s still reads the status, version unknown', async (_name, fault) => {
    const { sim, url } = await simulate({}, connector('a'));
    sim.inject({ path: '/', ...fault });
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.version).toBeUndefined();
    expect(snapshot.connectors.map((c) => c.name)).toEqual(['a']);
    expect(snapshot.warning).toMatch(/^version unknown \(test: GET \/ → /);
  });

  it('a refused connection is UNREACHABLE', async () => {
    const port = await freePort();
    const snapshot = await readCluster(client({ url: `http://127.0.0.1:${port}` }), READ);
    expect(snapshot.error?.kind).toBe('UNREACHABLE');
    expect(snapshot.error?.message).toBe(`test: GET / → UNREACHABLE: connection refused (ECONNREFUSED)`);
  });

  it('a host name that does not resolve is DNS_FAILURE', async () => {
    const snapshot = await readCluster(client({ url: 'http://kc-monitor-test.invalid:8083' }, { ...FAST, connectMs: 5_000 }), READ);
    expect(snapshot.error?.kind).toBe('DNS_FAILURE');
    expect(snapshot.error?.message).toMatch(/cannot resolve the host name/);
  });
});

describe('TLS to Connect', () => {
  let ca: Pem;
  let server: Pem;
  let clientCert: Pem;
  let strangerCa: Pem;
  beforeAll(async () => {
    ca = await makeCertificateAuthority('private Connect CA');
    server = await issueCertificate(ca, 'connect');
    clientCert = await issueCertificate(ca, 'kc-monitor');
    strangerCa = await makeCertificateAuthority('some other CA');
  });

  it('trusts a private CA given in caCert, and only then', async () => {
    const { url } = await simulate({ tls: server }, connector('a'));
    const ok = await readCluster(client({ url, caCert: ca.cert }), READ);
    expect(ok.error).toBeUndefined();
    expect(ok.connectors).toHaveLength(1);

    const unknownCa = await readCluster(client({ url }), READ);
    expect(unknownCa.error?.kind).toBe('TLS_ERROR');
    const wrongCa = await readCluster(client({ url, caCert: strangerCa.cert }), READ);
    expect(wrongCa.error?.kind).toBe('TLS_ERROR');
    expect(wrongCa.error?.message).toMatch(/^test: GET \/ → TLS_ERROR: /);
  });

  it('presents the client certificate for mTLS; without one the handshake is refused', async () => {
    const { url } = await simulate({ tls: { ...server, ca: ca.cert, requestCert: true } }, connector('a'));
    const ok = await readCluster(client({ url, caCert: ca.cert, clientCert: clientCert.cert, clientKey: clientCert.key }), READ);
    expect(ok.error).toBeUndefined();

    const rejected = await readCluster(client({ url, caCert: ca.cert }), READ);
    expect(rejected.error?.kind).toBe('TLS_ERROR');
    expect(rejected.error?.message).toMatch(/does it require a client certificate \(mTLS\)\? \(set KAFKA_CONNECT_CLIENT_CERT and its key\)$/);

    const strangerClient = await issueCertificate(strangerCa, 'impostor');
    const refused = await readCluster(client({ url, caCert: ca.cert, clientCert: strangerClient.cert, clientKey: strangerClient.key }), READ);
    expect(refused.error?.kind).toBe('TLS_ERROR');
    expect(refused.error?.message).toMatch(/was the client certificate rejected\? \(check KAFKA_CONNECT_CLIENT_CERT\)$/);
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('worker health (KIP-1017, GET /health on Connect 3.9+)', () => {
  const UNHEALTHY = { status: 'unhealthy', message: 'Worker was unable to handle this request and may be unable to handle other requests. Consider checking the logs.' };
  it.each<[string, string, { status: number; body: unknown } | undefined, string | undefined, boolean]>([
    // name, version, what /health answers, the snapshot's `unhealthy`, whether /health was asked
    ['3.9 healthy: nothing to say', '3.9.0', undefined, undefined, true],
    ['3.9 answering 500: its message', '3.9.0', { status: 500, body: UNHEALTHY }, `GET /health → 500: ${UNHEALTHY.message}`, true],
    ['4.1 still starting (503)', '4.1.0', { status: 503, body: { status: 'starting', message: 'Worker is still starting up.' } }, 'GET /health → 503: Worker is still starting up.', true],
    ['a gateway that does not route /health (404): nothing', '3.9.0', { status: 404, body: { error_code: 404, message: 'HTTP 404 Not Found' } }, undefined, true],
    ['3.8: never asked', '3.8.0', { status: 500, body: UNHEALTHY }, undefined, false],
  ])('%s', async (_name, version, health, unhealthy, asked) => {
    const { sim, url } = await simulate({ version }, connector('a'));
    if (health) sim.health = health;
    const snapshot = await readCluster(client({ url }), READ);
    expect(snapshot.error).toBeUndefined();
    expect(snapshot.connectors.map((c) => c.name)).toEqual(['a']);
    expect(snapshot.unhealthy).toBe(unhealthy);
    expect(sim.requests.some((r) => r.path === '/health')).toBe(asked);
  });
});

it('a 3.9 worker that does not answer /health within the timeout is unhealthy (Connect holds a bad answer ~10 s)', async () => {
  const { sim, url } = await simulate({ version: '3.9.0' }, connector('a'));
  sim.inject({ path: '/health', delayMs: 5_000 });
  const snapshot = await readCluster(client({ url }, { connectMs: 500, headersMs: 500, bodyMs: 500 }), READ);
  expect(snapshot.connectors.map((c) => c.name)).toEqual(['a']);
  expect(snapshot.unhealthy).toMatch(/^GET \/health → TIMEOUT: /);
});
