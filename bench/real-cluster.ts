/**
 * The bench on a real Kafka Connect cluster (issue 10, item 6): a broker and two Connect 4.x workers from the
 * test harness, a few hundred idle connectors × 2 tasks of the test plugin, ~5 % of the tasks FAILED in
 * marker mode (one restart heals them once the marker file is gone). Measures one monitor tick end to end and
 * the time until every failed task is RUNNING again — beside the cron + curl + jq way on the same cluster,
 * facing the same failed tasks (re-failed in between), as a ratio from the one run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/lib/config';
import { MemoryHistoryStore } from '../src/lib/heal/history';
import { createMonitor } from '../src/lib/monitor';
import { type ConnectCluster, PLUGIN_CLASS, PrerequisiteError, startConnectCluster } from '../test/connect/harness';
import { memorySink } from '../test/helpers/sinks';

const CONNECTORS = 200;
const TASKS = 2;
/** Task 0 of every 10th connector: one task in 20, 5 %. */
const FAIL_EVERY = 10;
const CREATE_CONCURRENCY = 10;

export type RealClusterFigures =
  | { readonly measured: false; readonly reason: string }
  | {
      readonly measured: true;
      readonly connect: string;
      readonly connectors: number;
      readonly tasks: number;
      readonly failedTasks: number;
      readonly clusterStartMs: number;
      readonly createMs: number;
      /** One monitor tick (read, decide, restart, ship to a memory sink), as the tick measured itself. */
      readonly tickMs: number;
      /** The same, timed around monitor.tick() from here. */
      readonly tickWallMs: number;
      readonly tickRestartCalls: number;
      /** From the tick's start until every task is RUNNING. */
      readonly oursHealthyMs: number;
      /** How the cron way ran: real curl and jq in a shell, or sequential requests from Node without them. */
      readonly cronMethod: 'bash + curl + jq' | 'node, sequential requests';
      /** The cron script's own run: list, one status GET per connector, one POST per FAILED task. */
      readonly cronRunMs: number;
      readonly cronRequests: number;
      readonly cronHealthyMs: number;
      /** oursHealthyMs / cronHealthyMs. */
      readonly ratio: number;
      readonly stopMs: number;
      readonly totalMs: number;
    };

interface Status {
  readonly connector: { readonly state: string };
  readonly tasks: readonly { readonly id: number; readonly state: string }[];
}

const nameOf = (i: number) => `bench-${String(i).padStart(4, '0')}`;
const failing = (i: number) => i % FAIL_EVERY === 0;

export async function benchRealCluster(log: (line: string) => void = () => {}): Promise<RealClusterFigures> {
  const started = performance.now();
  let cluster: ConnectCluster;
  try {
    cluster = await startConnectCluster({ connectVersion: '4.x', workers: 2, log: (l) => log(`real cluster: ${l}`) });
  } catch (err) {
    return { measured: false, reason: err instanceof PrerequisiteError ? err.message : `the cluster did not start: ${(err as Error).message.split('\n')[0]}` };
  }
  const clusterStartMs = performance.now() - started;
  try {
    return { ...(await measure(cluster, log)), clusterStartMs, ...(await stopped(cluster)), totalMs: performance.now() - started };
  } catch (err) {
    await cluster.stop();
    return { measured: false, reason: `the run failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

async function stopped(cluster: ConnectCluster): Promise<{ stopMs: number }> {
  const t = performance.now();
  await cluster.stop();
  return { stopMs: performance.now() - t };
}

async function measure(cluster: ConnectCluster, log: (line: string) => void) {
  const marker = join(cluster.markerDir, 'bench');
  const failedTasks = Array.from({ length: CONNECTORS }, (_, i) => i).filter(failing).length;
  writeFileSync(marker, '');

  // Create, CREATE_CONCURRENCY at a time; a 409 (a rebalance under way) is tried again.
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (next < CONNECTORS) {
        const i = next++;
        const config: Record<string, string> = { 'connector.class': PLUGIN_CLASS, 'tasks.max': String(TASKS) };
        if (failing(i)) Object.assign(config, { 'task.fail': 'marker', 'task.fail.marker': marker, 'task.fail.ids': '0' });
        for (let attempt = 0; ; attempt++) {
          const res = await cluster.rest('POST', '/connectors', { body: { name: nameOf(i), config } });
          if (res.status === 201) break;
          if (res.status !== 409 || attempt > 40) throw new Error(`creating ${nameOf(i)}: ${res.status} ${res.text.slice(0, 200)}`);
          await sleep(500);
        }
      }
    }),
  );
  await until(cluster, (s) => counts(s).running === CONNECTORS * TASKS - failedTasks && counts(s).failed === failedTasks, 120_000, 'every task to start');
  const createMs = performance.now() - t0;
  log(`real cluster: ${CONNECTORS} connectors × ${TASKS} tasks created in ${Math.round(createMs)} ms, ${failedTasks} tasks FAILED`);

  // Ours: one tick of the monitor, healing on, memory sink and history.
  rmSync(marker);
  const url = cluster.workers[0]!.url;
  const monitor = createMonitor(loadConfig({ KAFKA_CONNECT_URL: url, AUTO_HEAL: 'on' }, { requireIngestion: false }), { sink: memorySink(), store: new MemoryHistoryStore(), spool: null });
  const t1 = performance.now();
  const tick = await monitor.tick();
  const tickWall = performance.now() - t1;
  await monitor.close();
  await until(cluster, (s) => counts(s).running === CONNECTORS * TASKS, 60_000, 'every task RUNNING after the tick');
  const oursHealthyMs = performance.now() - t1;
  const tickRestartCalls = tick.healings.reduce((n, h) => n + h.restartCalls, 0);
  log(`real cluster: tick ${Math.round(tick.durationMs)} ms (${tickRestartCalls} restart calls), all RUNNING after ${Math.round(oursHealthyMs)} ms`);

  // The same tasks fail again: the marker back, each restarted once so that it fails in start().
  writeFileSync(marker, '');
  for (let i = 0; i < CONNECTORS; i++) if (failing(i)) await cluster.rest('POST', `/connectors/${nameOf(i)}/tasks/0/restart`);
  await until(cluster, (s) => counts(s).failed === failedTasks, 60_000, 'the same tasks to fail again');
  rmSync(marker);

  // The cron way: list the names, GET each status in turn, POST a restart for every FAILED task; nothing else.
  const t2 = performance.now();
  const cron = hasTools('curl', 'jq') ? cronShell(url) : await cronNode(cluster);
  const cronRunMs = performance.now() - t2;
  await until(cluster, (s) => counts(s).running === CONNECTORS * TASKS, 60_000, 'every task RUNNING after the cron run');
  const cronHealthyMs = performance.now() - t2;
  log(`real cluster: cron (${cron.method}) ran ${Math.round(cronRunMs)} ms, ${cron.requests} requests, all RUNNING after ${Math.round(cronHealthyMs)} ms`);

  return {
    measured: true as const,
    connect: cluster.versions.connect,
    connectors: CONNECTORS,
    tasks: CONNECTORS * TASKS,
    failedTasks,
    createMs,
    tickMs: tick.durationMs,
    tickWallMs: tickWall,
    tickRestartCalls,
    oursHealthyMs,
    cronMethod: cron.method,
    cronRunMs,
    cronRequests: cron.requests,
    cronHealthyMs,
    ratio: oursHealthyMs / cronHealthyMs,
  };
}

/** The script a cron job would run, in bash with curl and jq; prints one line per request it made. */
const CRON_SCRIPT = `set -u
curl -sf "$U/connectors" | jq -r '.[]' | while read -r c; do
  echo req
  curl -sf "$U/connectors/$c/status" | jq -r '.tasks[] | select(.state == "FAILED") | .id' | while read -r t; do
    curl -sf -o /dev/null -X POST "$U/connectors/$c/tasks/$t/restart"; echo req
  done
done
echo req`;

function cronShell(url: string): { method: 'bash + curl + jq'; requests: number } {
  const out = execFileSync('bash', ['-c', CRON_SCRIPT], { env: { ...process.env, U: url }, encoding: 'utf8' });
  return { method: 'bash + curl + jq', requests: out.split('\n').filter((l) => l === 'req').length };
}

async function cronNode(cluster: ConnectCluster): Promise<{ method: 'node, sequential requests'; requests: number }> {
  let requests = 1;
  const names = (await cluster.rest('GET', '/connectors')).json as string[];
  for (const name of names) {
    const status = (await cluster.rest('GET', `/connectors/${encodeURIComponent(name)}/status`)).json as Status;
    requests++;
    for (const t of status.tasks.filter((x) => x.state === 'FAILED')) {
      await cluster.rest('POST', `/connectors/${encodeURIComponent(name)}/tasks/${t.id}/restart`);
      requests++;
    }
  }
  return { method: 'node, sequential requests', requests };
}

function hasTools(...tools: string[]): boolean {
  return tools.every((t) => spawnSync('bash', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status === 0);
}

function counts(all: Record<string, Status>): { running: number; failed: number } {
  const tasks = Object.values(all).flatMap((s) => s.tasks);
  return { running: tasks.filter((t) => t.state === 'RUNNING').length, failed: tasks.filter((t) => t.state === 'FAILED').length };
}

/** Polls the expanded status every 100 ms (the same for both ways) until `ok`. */
async function until(cluster: ConnectCluster, ok: (all: Record<string, Status>) => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const res = await cluster.rest('GET', '/connectors?expand=status');
    if (res.status === 200) {
      const all = Object.fromEntries(Object.entries(res.json as Record<string, { status: Status }>).map(([n, v]) => [n, v.status]));
      if (ok(all)) return;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
