import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvocationContext, type Timer, app } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConnectSimulator } from '../../src/lib/demo/connectSimulator';
import { generatedConnectors } from '../../src/lib/demo/scenario';
import type { StatusRow } from '../../src/lib/logs/rows';
import { testStorage } from '../fakes/azurite';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';
import { expectRowsFitSchema } from '../helpers/schema';

const CANARY = 'CANARY-7f3a9c-connect-password';
const DCR = 'dcr-00112233445566778899aabbccddeeff';
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

function context(): { ctx: InvocationContext; lines: string[] } {
  const lines: string[] = [];
  const ctx = new InvocationContext({
    functionName: 'kafkaConnectMonitor',
    invocationId: 'inv-1',
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return { ctx, lines };
}

describe('the timer function', () => {
  const spy = vi.spyOn(app, 'timer');
  const identity = new ManagedIdentityFake('fn-token', 'fn-identity-header');
  const ingestion = new IngestionFake('fn-token');
  const sim = new ConnectSimulator({ version: '3.7.0', basicAuth: { username: 'monitor', password: CANARY } });
  let handler: typeof import('../../src/functions/monitor').createTimerHandler;
  let settings: Record<string, string>;
  let prodUrl: string;

  beforeAll(async () => {
    ({ createTimerHandler: handler } = await import('../../src/functions/monitor'));
    const connectors = generatedConnectors(5, 2, 3);
    connectors[0]!.config['connection.password'] = CANARY;
    connectors[0]!.tasks[0] = { id: 0, state: 'FAILED', workerId: 'w:1', trace: `java.sql.SQLException: password ${CANARY} rejected for jdbc:postgresql://app:${CANARY}@db/app` };
    sim.add(...connectors);
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    prodUrl = await sim.start();
    settings = {
      KAFKA_CONNECT_CLUSTERS: JSON.stringify([
        { name: 'prod', url: prodUrl, username: 'monitor', passwordSetting: 'PROD_CONNECT_PASSWORD' },
        { name: 'dr', url: 'http://127.0.0.1:1' },
      ]),
      PROD_CONNECT_PASSWORD: CANARY,
      LOGS_INGESTION_ENDPOINT: await ingestion.start(),
      LOGS_DCR_IMMUTABLE_ID: DCR,
      AzureWebJobsStorage: testStorage('kcmfunction'),
    };
  });
  afterAll(async () => {
    await Promise.all([sim.stop(), identity.stop(), ingestion.stop()]);
  });

  it('registers on the MONITOR_SCHEDULE setting, without runOnStartup', () => {
    expect(spy).toHaveBeenCalledTimes(1);
    const [name, options] = spy.mock.calls[0]!;
    expect(name).toBe('kafkaConnectMonitor');
    expect(options.schedule).toBe('%MONITOR_SCHEDULE%');
    expect(options.runOnStartup).toBeUndefined();
  });

  it('runs a tick: status and healing rows for every cluster reach Log Analytics, one summary line, no secret anywhere', async () => {
    const { ctx, lines } = context();
    await handler(() => settings)(timer, ctx);

    const rows = ingestion.rows('Custom-KafkaConnectStatus') as unknown as StatusRow[];
    expect(rows.filter((r) => r.RecordType === 'cluster').map((r) => [r.Cluster, r.State])).toEqual([
      ['prod', 'REACHABLE'],
      ['dr', 'UNREACHABLE'],
    ]);
    expect(rows.filter((r) => r.RecordType === 'task')).toHaveLength(10);
    expect(rows.find((r) => r.RecordType === 'task' && r.TaskId === 0 && r.ConnectorName === 'connector-00000')?.Trace).toBe(
      'java.sql.SQLException: password *** rejected for jdbc:postgresql://app:***@db/app',
    );
    expectRowsFitSchema(rows);
    const healing = ingestion.rows('Custom-KafkaConnectHealing');
    expect(healing.map((r) => [r.ConnectorName, r.TaskId, r.Outcome])).toEqual(
      rows.filter((r) => r.RecordType === 'task' && r.State === 'FAILED').map((r) => [r.ConnectorName, r.TaskId, 'restarted']),
    );
    expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(4);

    // prod is plain http with basic auth, but to loopback: no warning about it.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('warning: dr: GET / → UNREACHABLE: connection refused (ECONNREFUSED)');
    expect(lines[1]).toMatch(/^information: tick [0-9a-f-]{36}, 2 clusters \(prod REACHABLE 3\.7\.0, dr UNREACHABLE\), 5 connectors, 10 tasks \(4 FAILED\), healing: 4 restarted, 22 of 22 rows shipped, \d+ ms$/); // 22: the 4 failures share a worker, whose worker row is one of them
    expect(JSON.stringify(ingestion.uploads) + lines.join('\n')).not.toContain(CANARY);
  });

  it('keeps the monitor between ticks: settings are read once per worker', async () => {
    const read = vi.fn(() => settings);
    const tick = handler(read);
    await tick(timer, context().ctx);
    await tick(timer, context().ctx);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('fails the invocation with one line naming every bad setting, and no secret', async () => {
    const { ctx, lines } = context();
    const bad = { KAFKA_CONNECT_URL: 'https://u:' + CANARY + '@connect:8083', AUTO_HEAL: 'maybe' };
    const error = await handler(() => bad)(timer, ctx).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      'Invalid configuration: KAFKA_CONNECT_URL: put credentials in KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD, not in the URL; ' +
        'LOGS_INGESTION_ENDPOINT: missing (the DCR logs ingestion endpoint, https://…ingest.monitor.azure.com); ' +
        'LOGS_DCR_IMMUTABLE_ID: missing (the DCR immutable id, dcr-…); AUTO_HEAL: "maybe" is not one of on, off, dry-run',
    );
    expect(error?.stack).toBe(error?.message);
    expect(lines).toEqual([`error: ${error?.message}`]);
    expect(lines.join('')).not.toContain(CANARY);
  });

  it('will not heal without somewhere to remember: AzureWebJobsStorage is required with AUTO_HEAL=on', async () => {
    const { AzureWebJobsStorage: _, ...noStorage } = settings;
    const error = await handler(() => noStorage)(timer, context().ctx).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      'Invalid configuration: AzureWebJobsStorage: missing; the restart history needs it (UseDevelopmentStorage=true with Azurite locally), or set AUTO_HEAL=dry-run or off',
    );
    await expect(handler(() => ({ ...noStorage, AUTO_HEAL: 'dry-run' }))(timer, context().ctx)).resolves.toBeUndefined();
  });

  it('a storage connection string the Azure SDK refuses fails every invocation in one line, its key unseen', async () => {
    // Past our own check (it names the account), refused by the SDK: no EndpointSuffix, no endpoints.
    const refused = { ...settings, AzureWebJobsStorage: `AccountName=kcmacct;AccountKey=${CANARY}` };
    const tick = handler(() => refused);
    for (let i = 0; i < 2; i++) {
      const { ctx, lines } = context();
      const error = await tick(timer, ctx).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(/^Invalid configuration: AzureWebJobsStorage: the Azure Storage SDK refused it \(Invalid \w+Endpoint/);
      expect(error?.stack).toBe(error?.message);
      expect(lines).toEqual([`error: ${error?.message}`]);
      expect(lines.join('')).not.toContain(CANARY);
    }
  });

  it('func start without Azure: the example settings with LOGS_NDJSON_FILE append the rows to a file', async () => {
    const example = (JSON.parse(readFileSync('local.settings.json.example', 'utf8')) as { Values: Record<string, string> }).Values;
    const dir = mkdtempSync(join(tmpdir(), 'kc-fn-local-'));
    const local = { ...example, KAFKA_CONNECT_URL: prodUrl, KAFKA_CONNECT_USERNAME: 'monitor', KAFKA_CONNECT_PASSWORD: CANARY, AzureWebJobsStorage: testStorage('kcmfunction'), LOGS_NDJSON_FILE: join(dir, example.LOGS_NDJSON_FILE!) };
    const tick = handler(() => local);
    const { ctx, lines } = context();
    await tick(timer, ctx);
    await tick(timer, context().ctx);
    expect(lines.at(-1)).toMatch(/^information: tick .* rows shipped/);
    const rows = readFileSync(local.LOGS_NDJSON_FILE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(new Set(rows.map((r) => r.TimeGenerated)).size).toBe(2);
    expect(rows.filter((r) => r.RecordType === 'cluster')).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(CANARY);

    // In Azure it is refused: rows must reach Log Analytics there.
    const { ctx: azure, lines: said } = context();
    await expect(handler(() => ({ ...local, WEBSITE_INSTANCE_ID: 'abc' }))(timer, azure)).rejects.toThrow('LOGS_NDJSON_FILE: for local runs (func start) only; in Azure rows go to LOGS_INGESTION_ENDPOINT');
    expect(said).toHaveLength(1);
  });

  it('warns when the run is past due', async () => {
    const { ctx, lines } = context();
    await handler(() => settings)({ ...timer, isPastDue: true }, ctx);
    expect(lines).toContain('warning: the timer is past due: the previous tick ran late or the app was idle');
  });
});
