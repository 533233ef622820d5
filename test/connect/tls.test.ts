import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config';
import { TableHistoryStore } from '../../src/lib/heal/tableHistory';
import { targetKey } from '../../src/lib/heal/policy';
import { issueCertificate, makeCertificateAuthority } from '../fakes/tls';
import { type ConnectCluster, startConnectCluster, testConnectCluster } from './harness';
import { type Status, WorkerLogs, at, brief, createConnector, failedAgain, healingOf, runOnce, settingsFor, settled, statusWhen, uniqueName } from './support';

/**
 * The REST listener over https with a private CA and client certificates required (mTLS): a second, small
 * Connect cluster of this file (two workers of the same version, on the suite's broker), read and healed by
 * the monitor with caCert, clientCert and clientKey; without them, the cluster row says TLS_ERROR.
 */
const main = testConnectCluster();
let cluster: ConnectCluster;
let logs: WorkerLogs;
let base: { url: string; caCert: string; clientCert: string; clientKey: string };

const ok = uniqueName('tls-ok');
const transient = uniqueName('tls-transient');
const perm = uniqueName('tls-perm');

beforeAll(async () => {
  cluster = await startConnectCluster({ connectVersion: main.connectVersion, workers: 2, https: { clientAuth: 'required' }, brokerBootstrap: main.brokerBootstrap, workerHeapMb: 384 });
  logs = new WorkerLogs(cluster);
  const tls = cluster.tls!;
  base = { url: cluster.workers[0]!.url, caCert: tls.ca, clientCert: tls.clientCert, clientKey: tls.clientKey };
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('Connect REST over https with client certificates (mTLS)', () => {
  it('is https only and requires a client certificate', async () => {
    expect(cluster.workers.every((w) => w.url.startsWith('https://127.0.0.1:'))).toBe(true);
    const root = await cluster.rest('GET', '/');
    expect(root.status).toBe(200);
    expect(root.json).toMatchObject({ version: main.versions.connect });
  });

  it('reads and heals over mTLS: a KIP-745 restart, and a per-task restart forwarded between the workers', async () => {
    const marker = join(cluster.markerDir, transient);
    writeFileSync(marker, '');
    await createConnector(cluster, ok, { 'tasks.max': '2' });
    await createConnector(cluster, transient, { 'task.fail': 'marker', 'task.fail.marker': marker });
    await createConnector(cluster, perm, { 'tasks.max': '2', 'task.fail': 'always' });
    await statusWhen(cluster, ok, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'RUNNING'));
    await statusWhen(cluster, transient, (s) => settled(1)(s) && s.tasks[0]!.state === 'FAILED');
    const p: Status = await statusWhen(cluster, perm, (s) => settled(2)(s) && s.tasks.every((t) => t.state === 'FAILED'));
    rmSync(marker);

    // Task 1 of perm in backoff (in the history), so task 0 gets the per-task call; the monitor talks to the
    // worker that does NOT hold task 0, which forwards the restart to the other worker over mTLS.
    const owner = p.tasks.find((t) => t.id === 0)!.worker_id;
    const entry = cluster.workers.find((w) => w.workerId !== owner)!;
    const clusterName = uniqueName('tls');
    const settings = settingsFor(clusterName, entry.url, { caCert: base.caCert, clientCert: base.clientCert, clientKey: base.clientKey });
    const store = TableHistoryStore.fromConfig(loadConfig(settings, { requireIngestion: false }).storage!);
    await store.save(clusterName, new Map(), new Map([[targetKey({ connector: perm, taskId: 1 }), { attempts: 1, lastAttempt: at(0).toISOString() }]]));

    const mark = logs.mark();
    const r0 = await runOnce(settings, 0);
    expect(r0.status.find((r) => r.RecordType === 'cluster')).toMatchObject({ State: 'REACHABLE', ConnectVersion: main.versions.connect });
    expect(r0.status.filter((r) => r.RecordType === 'connector').map((r) => r.ConnectorName).sort()).toEqual([ok, perm, transient].sort());
    expect(r0.status.filter((r) => r.RecordType === 'task')).toHaveLength(5);
    expect(brief(r0.healing).sort()).toEqual([`${perm}#0 restarted 1`, `${perm}#1 deferred-backoff 1`, `${transient}#0 restarted 1`].sort());
    expect(healingOf(r0, perm, 0)).toMatchObject({ HttpStatus: 204 });
    expect(healingOf(r0, transient, 0)).toMatchObject({ HttpStatus: 202 });
    await statusWhen(cluster, transient, (s) => s.tasks[0]?.state === 'RUNNING');
    await failedAgain(cluster, logs, mark, perm, 0, 1);
    await logs.flush();
    expect(logs.posts(mark).sort()).toEqual([`/connectors/${perm}/tasks/0/restart 204`, `/connectors/${transient}/restart?includeTasks=true&onlyFailed=true 202`].sort());
    // The forwarded call reached the owner: it is in the owner's request log with forward=true.
    const ownerIndex = cluster.workers.find((w) => w.workerId === owner)!.index;
    expect(logs.lines(mark).some((l) => l.worker === ownerIndex && /"POST \/connectors\/[^ ]+\/tasks\/0\/restart\?forward=true HTTP\/1\.1" 204 /.test(l.line))).toBe(true);

    const r1 = await runOnce(settings, 1);
    expect(r1.status.find((r) => r.ConnectorName === transient && r.RecordType === 'task')).toMatchObject({ State: 'RUNNING' });
    expect(brief(r1.healing).sort()).toEqual([`${perm}#0 deferred-backoff 1`, `${perm}#1 deferred-backoff 1`].sort());
  });

  it('without the client certificate, without the CA, or with a certificate of another CA: TLS_ERROR, nothing read', async () => {
    const other = await makeCertificateAuthority('not the Connect CA');
    const stranger = await issueCertificate(other, 'stranger');
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['no client certificate', { caCert: base.caCert }, /TLS_ERROR/],
      ['no CA', { clientCert: base.clientCert, clientKey: base.clientKey }, /TLS_ERROR: SELF_SIGNED_CERT_IN_CHAIN/],
      ['a certificate of another CA', { caCert: base.caCert, clientCert: stranger.cert, clientKey: stranger.key }, /TLS_ERROR/],
    ];
    for (const [what, extra, detail] of cases) {
      const r = await runOnce(settingsFor(uniqueName('tls-bad'), base.url, extra), 0);
      const row = r.status.find((x) => x.RecordType === 'cluster')!;
      process.stderr.write(`[tls] ${what}: ${String(row.State)} ${String(row.Detail)}\n`);
      expect(row.State, what).toBe('TLS_ERROR');
      expect(String(row.Detail), what).toMatch(detail);
      expect(r.status.filter((x) => x.RecordType !== 'cluster'), what).toEqual([]);
    }
  });
});
