import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Settings, loadConfig } from '../src/lib/config';
import { ConnectSimulator, type SimConnector, type SimulatorOptions } from '../src/lib/demo/connectSimulator';
import { createMonitor } from '../src/lib/monitor';
import { BlobSpool } from '../src/lib/logs/spool';
import { type TickResult, summarizeTick, tickProblems } from '../src/lib/tick';
import { freePort, testStorage } from './fakes/azurite';
import { IngestionFake, ManagedIdentityFake } from './fakes/ingestion';
import { type Pem, issueCertificate, makeCertificateAuthority } from './fakes/tls';

/**
 * The fault matrix: one tick per fault, end to end (Connect simulator, https ingestion fake with the real SDK
 * and credential, Azurite). In every case the tick completes, the fault is a row, the healthy cluster is still
 * healed, and what an operator reads is one clear line with no secret. The README's Reliability section lists
 * the same cases.
 */

const CANARY = 'CANARY-fault-matrix-pw';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const storage = testStorage('kcmfaults');

const failingTask = (name: string): SimConnector => ({
  name,
  type: 'sink',
  config: { 'connector.class': 'com.example.Sink', 'tasks.max': '1', 'db.password': CANARY },
  state: 'RUNNING',
  workerId: 'w:1',
  tasks: [{ id: 0, state: 'FAILED', workerId: 'w:1', trace: `java.sql.SQLException: Connection refused (password ${CANARY})` }],
});

interface Context {
  /** The cluster under fault; `faulty` settings point at it unless a case replaces them. */
  readonly sim: ConnectSimulator;
  readonly url: string;
  readonly ingestion: IngestionFake;
  readonly identity: ManagedIdentityFake;
  readonly pki: { ca: Pem; server: Pem; client: Pem; stranger: Pem };
  readonly silent: string;
}

interface Case {
  readonly name: string;
  /** How the faulty cluster's simulator is built (TLS, basic auth). */
  readonly sim?: (pki: Context['pki']) => SimulatorOptions;
  /** What the healer does to the healthy cluster's failed task (restarted, unless the case prevents it). */
  readonly healthy?: string;
  /** Changes the world and returns settings to merge (the faulty cluster's entry, or anything else). */
  readonly setup?: (ctx: Context) => Promise<Settings | void> | Settings | void;
  /** The faulty cluster's own definition, when the case needs one (TLS, auth). */
  readonly cluster?: (ctx: Context) => Record<string, string>;
  readonly check: (result: TickResult, ctx: Context) => void;
  /** What the operator reads (the problem lines and the summary). */
  readonly line: RegExp;
}

const clusterRow = (r: TickResult) => r.rows.find((x) => x.RecordType === 'cluster' && x.Cluster.startsWith('faulty-'));
const healing = (r: TickResult, connector: string) => r.healingRows.find((x) => x.ConnectorName === connector);

const CASES: Case[] = [
  {
    name: 'Connect refuses the connection',
    cluster: () => ({ url: 'http://127.0.0.1:1' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('UNREACHABLE'),
    line: /^faulty-[\w-]+: GET \/ → UNREACHABLE: connection refused \(ECONNREFUSED\)$/m,
  },
  {
    name: 'Connect host name does not resolve',
    cluster: () => ({ url: 'http://kc-monitor-fault.invalid:8083' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('DNS_FAILURE'),
    line: /^faulty-[\w-]+: GET \/ → DNS_FAILURE: cannot resolve the host name \((ENOTFOUND|EAI_AGAIN)\); check the URL's host name \(in Azure: the private DNS zone and its link to the VNet\)$/m,
  },
  {
    name: 'TLS: the Connect certificate is from an unknown CA',
    sim: (pki) => ({ tls: pki.server }),
    cluster: ({ pki }) => ({ caCert: pki.stranger.cert }),
    check: (r) => expect(clusterRow(r)?.State).toBe('TLS_ERROR'),
    line: /^faulty-[\w-]+: GET \/ → TLS_ERROR: /m,
  },
  {
    name: 'TLS: Connect rejects the client certificate',
    sim: (pki) => ({ tls: { ...pki.server, ca: pki.ca.cert, requestCert: true } }),
    cluster: ({ pki }) => ({ caCert: pki.ca.cert, clientCert: pki.stranger.cert, clientKey: pki.stranger.key }),
    check: (r) => expect(clusterRow(r)?.State).toBe('TLS_ERROR'),
    line: /^faulty-[\w-]+: GET \/ → TLS_ERROR: the server closed the TLS connection before answering: was the client certificate rejected\? \(check KAFKA_CONNECT_CLUSTERS\[0\]\.clientCert\)$/m,
  },
  {
    name: 'connect timeout (the TLS handshake never completes)',
    cluster: ({ silent }) => ({ url: silent }),
    check: (r) => expect(clusterRow(r)?.State).toBe('TIMEOUT'),
    line: /^faulty-[\w-]+: GET \/ → TIMEOUT: no connection within 0\.5 s$/m,
  },
  {
    name: 'headers timeout (Connect accepts, never answers)',
    setup: ({ sim }) => void sim.inject({ path: '/', delayMs: 3_000 }),
    check: (r) => expect(clusterRow(r)?.State).toBe('TIMEOUT'),
    line: /^faulty-[\w-]+: GET \/ → TIMEOUT: no response within 0\.5 s$/m,
  },
  {
    name: 'body timeout (the listing stalls half-way)',
    setup: ({ sim }) => void sim.inject({ path: /^\/connectors\?/, stallBody: true, body: '{"a":' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('TIMEOUT'),
    line: /^faulty-[\w-]+: GET \/connectors\?expand=status&expand=info → 200 TIMEOUT: response body stalled for 0\.5 s$/m,
  },
  {
    name: '401 with the plain-text body of Connect basic auth',
    sim: () => ({ basicAuth: { username: 'monitor', password: 'the-right-one' } }),
    cluster: () => ({ username: 'monitor', password: CANARY }),
    check: (r) => expect(clusterRow(r)?.State).toBe('UNAUTHORIZED'),
    line: /^faulty-[\w-]+: GET \/ → 401 UNAUTHORIZED: User cannot access the resource\. \(check KAFKA_CONNECT_CLUSTERS\[0\]\.username and KAFKA_CONNECT_CLUSTERS\[0\]\.password\)$/m,
  },
  {
    name: '403 from Connect',
    setup: ({ sim }) => void sim.inject({ path: '/', status: 403, body: '{"error_code":403,"message":"Forbidden"}' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('FORBIDDEN'),
    line: /^faulty-[\w-]+: GET \/ → 403 FORBIDDEN: Forbidden \(set KAFKA_CONNECT_CLUSTERS\[0\]\.username and KAFKA_CONNECT_CLUSTERS\[0\]\.password\)$/m,
  },
  {
    name: 'a connector deleted mid-tick (404 on its restart)',
    setup: ({ sim }) => void sim.inject({ method: 'POST', path: /^\/connectors\/doomed\//, status: 404, body: '{"error_code":404,"message":"Unknown connector: doomed"}' }),
    check: (r) => expect(healing(r, 'doomed')).toMatchObject({ Outcome: 'not-found', HttpStatus: 404 }),
    line: /healing: .*1 not-found/,
  },
  {
    name: '409 during a rebalance (restart deferred, not counted)',
    setup: ({ sim }) =>
      void sim.inject({ method: 'POST', path: /^\/connectors\/doomed\//, status: 409, body: '{"error_code":409,"message":"Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."}' }),
    check: (r) => expect(healing(r, 'doomed')).toMatchObject({ Outcome: 'deferred-rebalance', HttpStatus: 409 }),
    line: /healing: .*1 deferred-rebalance/,
  },
  {
    name: "a KIP-745 restart answered 202 with a plan that restarts nothing (the leader's view lags the worker's; seen on Connect 3.9.2)",
    setup: ({ sim }) =>
      void sim.inject({
        method: 'POST',
        path: /^\/connectors\/doomed\/restart\?/,
        status: 202,
        body: '{"name":"doomed","connector":{"state":"UNASSIGNED","worker_id":"10.0.0.11:8083"},"tasks":[{"id":0,"state":"UNASSIGNED","worker_id":"10.0.0.11:8083"}],"type":"sink"}',
      }),
    check: (r) => {
      expect(healing(r, 'doomed')).toMatchObject({ Outcome: 'restarted', HttpStatus: 202, Attempt: 1 });
      expect(String(healing(r, 'doomed')!.Reason)).toContain("→ 202 (nothing RESTARTING in the leader's plan; the worker that runs it restarts what it sees FAILED)");
    },
    line: /healing: 2 restarted/,
  },
  {
    name: '500 Request timed out from the worker',
    setup: ({ sim }) => void sim.inject({ path: /^\/connectors\?/, status: 500, body: '{"error_code":500,"message":"Request timed out"}' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('SERVER_ERROR'),
    line: /^faulty-[\w-]+: GET \/connectors\?expand=status&expand=info → 500 SERVER_ERROR: Request timed out$/m,
  },
  {
    name: 'HTML 502 from a proxy',
    setup: ({ sim }) => void sim.inject({ path: /^\//, status: 502, contentType: 'text/html', body: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('SERVER_ERROR'),
    line: /^faulty-[\w-]+: GET \/connectors\?expand=status&expand=info → 502 SERVER_ERROR: HTML page: 502 Bad Gateway$/m,
  },
  {
    // The version only picks features; the status is what matters.
    name: 'GET / fails, the status answers',
    setup: ({ sim }) => void sim.inject({ path: '/', status: 500, body: '{"error_code":500,"message":"Request timed out"}' }),
    check: (r) => {
      expect(clusterRow(r)).toMatchObject({ State: 'REACHABLE', Detail: expect.stringMatching(/^version unknown \(faulty-[\w-]+: GET \/ → 500 SERVER_ERROR: Request timed out\); read with the newest API$/) });
      expect(healing(r, 'doomed')).toMatchObject({ Outcome: 'restarted' });
    },
    line: /faulty-[\w-]+ REACHABLE,.*healing: 2 restarted/,
  },
  {
    name: 'HTML 504 from a gateway',
    setup: ({ sim }) => void sim.inject({ path: /^\/connectors\?/, status: 504, contentType: 'text/html', body: '<html><body><h1>504 Gateway Time-out</h1></body></html>' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('SERVER_ERROR'),
    line: /→ 504 SERVER_ERROR: HTML page: 504 Gateway Time-out$/m,
  },
  {
    name: 'truncated JSON',
    setup: ({ sim }) => void sim.inject({ path: /^\/connectors\?/, body: '{"doomed":{"status":{"name":"doomed","connector":{"state":"RUN' }),
    check: (r) => expect(clusterRow(r)?.State).toBe('BAD_RESPONSE'),
    line: /→ 200 BAD_RESPONSE: truncated or malformed JSON \(\d+ chars received\)$/m,
  },
  {
    name: 'unknown states and extra fields',
    setup: ({ sim }) => {
      const c = sim.connectors.get('doomed')!;
      c.state = 'DEGRADED_NEW_STATE';
      c.tasks[0]!.state = 'PAUSING';
    },
    check: (r) => {
      expect(r.rows.filter((x) => x.ConnectorName === 'doomed').map((x) => x.State)).toEqual(['DEGRADED_NEW_STATE', 'PAUSING']);
      expect(healing(r, 'doomed')).toBeUndefined(); // unknown is never restarted
    },
    line: /2 connectors \(1 DEGRADED_NEW_STATE\), 2 tasks \((1 FAILED, 1 PAUSING|1 PAUSING, 1 FAILED)\)/,
  },
  {
    name: 'a connector with zero tasks',
    setup: ({ sim }) => {
      sim.connectors.get('doomed')!.tasks = [];
    },
    check: (r) => expect(r.rows.find((x) => x.RecordType === 'connector' && x.ConnectorName === 'doomed')).toMatchObject({ TasksTotal: 0, TasksRunning: 0, TasksFailed: 0, TasksMax: 1 }),
    line: /2 connectors, 1 task \(1 FAILED\)/,
  },
  {
    name: 'connector names with spaces, unicode and %',
    setup: ({ sim }) => {
      sim.connectors.delete('doomed');
      sim.add(failingTask('orders sink ✓ 100%'));
    },
    check: (r, { sim }) => {
      expect(healing(r, 'orders sink ✓ 100%')).toMatchObject({ Outcome: 'restarted' });
      expect(sim.requests.filter((q) => q.method === 'POST').map((q) => q.path)).toEqual(['/connectors/orders sink ✓ 100%/restart?includeTasks=true&onlyFailed=true']);
    },
    line: /healing: 2 restarted/,
  },
  {
    // A URL parser resolves the dots: `/connectors/../restart` would have been `POST /restart`.
    name: 'connectors named . and ..',
    setup: ({ sim }) => {
      sim.connectors.delete('doomed');
      sim.add(failingTask('.'), failingTask('..'));
    },
    check: (r, { sim }) => {
      expect(healing(r, '.')).toMatchObject({ Outcome: 'restarted' });
      expect(healing(r, '..')).toMatchObject({ Outcome: 'restarted' });
      expect(sim.requests.filter((q) => q.method === 'POST').map((q) => q.path).sort()).toEqual(['/connectors/../restart?includeTasks=true&onlyFailed=true', '/connectors/./restart?includeTasks=true&onlyFailed=true']);
      expect([...sim.connectors.values()].flatMap((c) => c.tasks.map((t) => t.state))).not.toContain('FAILED');
    },
    line: /healing: 3 restarted/,
  },
  {
    name: 'ingestion answers 400 (bad data)',
    setup: ({ ingestion }) => void ingestion.answer({ status: 400, body: { error: { code: 'InvalidStream', message: 'bad' } } }, { status: 400, body: { error: { code: 'InvalidStream', message: 'bad' } } }),
    check: (r) => expect(r.delivery.dropped.length).toBeGreaterThan(0),
    line: /rows for Custom-KafkaConnect\w+ dropped: refused as bad data, not retried: HTTP 400: InvalidStream/,
  },
  {
    name: 'ingestion answers 401',
    setup: ({ ingestion }) => void (ingestion.down = { status: 401, body: { error: { code: 'InvalidToken', message: 'The authentication token is invalid.' } } }),
    check: (r) => expect(r.delivery.spooled).toBeGreaterThan(0),
    line: /not shipped \(spooled for the next tick\): HTTP 401: InvalidToken: The authentication token is invalid\.: token rejected/,
  },
  {
    name: 'ingestion answers 403 (role not yet effective)',
    setup: ({ ingestion }) => void (ingestion.down = { status: 403, body: { error: { code: 'Forbidden', message: 'no role' } } }),
    check: (r) => expect(r.delivery.spooled).toBeGreaterThan(0),
    line: /not shipped \(spooled for the next tick\): HTTP 403: .*Monitoring Metrics Publisher on the DCR/,
  },
  {
    name: 'ingestion answers 404 (wrong DCR or stream)',
    setup: ({ ingestion }) => void (ingestion.down = { status: 404, body: { error: { code: 'NotFound', message: 'no such DCR' } } }),
    check: (r) => expect(r.delivery.spooled).toBeGreaterThan(0),
    line: /not shipped \(spooled for the next tick\): HTTP 404: .*check LOGS_DCR_IMMUTABLE_ID/,
  },
  {
    name: 'ingestion answers 413',
    setup: ({ ingestion }) => void ingestion.answer({ status: 413, body: { error: { code: 'ContentLengthLimitExceeded', message: 'too large' } } }, { status: 413 }),
    check: (r) => expect(r.delivery.dropped.length).toBeGreaterThan(0),
    line: /dropped: refused as bad data, not retried: HTTP 413/,
  },
  {
    name: 'ingestion throttles (429 with Retry-After)',
    setup: ({ ingestion }) => void ingestion.answer({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'TooManyRequests', message: 'slow down' } } }),
    check: (r) => {
      expect(r.delivery.spooled).toBe(0);
      expect(r.delivery.shipped.every((s) => s.failed === 0)).toBe(true);
    },
    line: /, (\d+) of \1 rows shipped/,
  },
  {
    name: 'ingestion is down (503)',
    setup: ({ ingestion }) => void (ingestion.down = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'maintenance' } } }),
    check: (r) => expect(r.delivery.spooled).toBe(r.rows.length + r.healingRows.length + r.monitorRows.length),
    line: /not shipped \(spooled for the next tick\): HTTP 503/,
  },
  {
    name: 'the managed-identity token endpoint fails',
    setup: ({ identity }) => {
      identity.failWith = 400;
      // A user-assigned identity nobody has a token for yet: MSAL caches tokens per identity, process-wide.
      return { AZURE_CLIENT_ID: '00000000-0000-0000-0000-0000000fa017' };
    },
    check: (r) => expect(r.delivery.spooled).toBeGreaterThan(0),
    line: /not shipped \(spooled for the next tick\): CredentialUnavailableError: ManagedIdentityCredential: /,
  },
  {
    name: 'storage is unreachable',
    setup: () => ({ AzureWebJobsStorage: storage.replace(/(TableEndpoint|BlobEndpoint)=http:\/\/127\.0\.0\.1:\d+/g, '$1=http://127.0.0.1:1') }),
    // Without its history the healer restarts nothing (a restart it cannot remember could loop).
    healthy: 'deferred-history',
    check: (r) => {
      expect(r.healingRows.some((x) => x.Outcome === 'history-unavailable')).toBe(true);
      expect(r.delivery.shipped.every((s) => s.failed === 0)).toBe(true);
    },
    line: /healing: .*deferred-history/,
  },
];

describe('fault matrix', () => {
  const identity = new ManagedIdentityFake('fault-token', 'fault-header');
  const ingestion = new IngestionFake('fault-token');
  let pki: Context['pki'];
  let silentServer: Server;
  let silent = '';
  let endpoint = '';

  beforeAll(async () => {
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    endpoint = await ingestion.start();
    const ca = await makeCertificateAuthority('fault CA');
    const strangerCa = await makeCertificateAuthority('stranger CA');
    pki = { ca, server: await issueCertificate(ca, 'connect'), client: await issueCertificate(ca, 'monitor'), stranger: await issueCertificate(strangerCa, 'impostor') };
    // Accepts TCP and says nothing: a TLS handshake that never completes.
    silentServer = createServer(() => undefined);
    const port = await freePort();
    await new Promise<void>((resolve) => silentServer.listen(port, '127.0.0.1', resolve));
    silent = `https://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    silentServer.close();
    await Promise.all([identity.stop(), ingestion.stop()]);
  });
  beforeEach(async () => {
    const spool = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: storage });
    for (const e of await spool.list()) await spool.remove(e);
    ingestion.down = undefined;
    identity.failWith = undefined;
  });

  it('has at least 20 cases, all listed in the README Reliability section', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Reliability'));
    for (const c of CASES) expect(section, c.name).toContain(`| ${c.name} |`);
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    // Names of their own, so that one case's restart history never meets another's.
    const id = `${i}-${Math.random().toString(36).slice(2, 7)}`;
    const sim = new ConnectSimulator({ version: '3.7.0', ...c.sim?.(pki) }).add(failingTask('doomed'));
    const healthy = new ConnectSimulator({ version: '3.7.0' }).add(failingTask('healthy-side'));
    const [url, healthyUrl] = [await sim.start(), await healthy.start()];
    const ctx: Context = { sim, url, ingestion, identity, pki, silent };
    try {
      const overrides = (await c.setup?.(ctx)) ?? {};
      const settings: Settings = {
        KAFKA_CONNECT_CLUSTERS: JSON.stringify([
          { name: `faulty-${id}`, url, ...c.cluster?.(ctx) },
          { name: `healthy-${id}`, url: healthyUrl },
        ]),
        LOGS_INGESTION_ENDPOINT: endpoint,
        LOGS_DCR_IMMUTABLE_ID: DCR,
        AzureWebJobsStorage: storage,
        ...overrides,
      };
      const monitor = createMonitor(loadConfig(settings, { requireIngestion: true, requireStorageToHeal: true }), {
        timeouts: { connectMs: 500, headersMs: 500, bodyMs: 500 },
        ingestionRetry: { maxRetries: 1, retryDelayInMs: 20, maxRetryDelayInMs: 50 },
        retryDelaysMs: [10],
      });
      let result: TickResult;
      try {
        result = await monitor.tick();
      } finally {
        await monitor.close();
      }

      c.check(result, ctx);
      expect(result.healingRows.find((x) => x.ConnectorName === 'healthy-side')?.Outcome).toBe(c.healthy ?? 'restarted');
      const problems = tickProblems(result);
      const lines = [...problems.unreadable, ...problems.notShipped, summarizeTick(result)];
      for (const line of lines) {
        expect(line).not.toContain('\n');
        expect(line).not.toMatch(/\bat [\w.<>]+ \(/); // no stack frame
      }
      const said = lines.join('\n');
      expect(said).toMatch(c.line);
      console.log(`${c.name}: ${lines[0]}`);
      const everything = JSON.stringify([result.rows, result.healingRows, result.monitorRows, ingestion.uploads]) + said;
      expect(everything).not.toContain(CANARY);
    } finally {
      await Promise.all([sim.stop(), healthy.stop()]);
    }
  });
});
