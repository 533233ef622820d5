import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { type MonitorConfig, type Settings, loadConfig } from '../../src/lib/config';
import { ConnectSimulator, type SimConnector, type SimTask } from '../../src/lib/demo/connectSimulator';
import { backoffMinutes, targetKey } from '../../src/lib/heal/policy';
import { HEALING_TABLE, STATUS_TABLE } from '../../src/lib/logs/schema';
import { BlobSpool } from '../../src/lib/logs/spool';
import { type Monitor, createMonitor } from '../../src/lib/monitor';
import { tickProblems } from '../../src/lib/tick';
import { testStorage } from '../fakes/azurite';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';
import { TcpRelay } from '../fakes/proxy';

/**
 * A day of ticks on a fake clock against the Connect simulator, the https Logs Ingestion fake (the real SDK
 * and credential) and Azurite behind a relay that can take it away, with seeded random faults. After every
 * tick it checks what an operator relies on: every row reaches Log Analytics exactly once (or waits in the
 * spool, readable), restarts follow the backoff schedule of a model kept from what Connect really did,
 * the non-transient are never restarted, a refusal is never counted, and memory stays flat.
 */

export interface SoakOptions {
  readonly ticks: number;
  readonly seed: number;
  /** MONITOR_DEADLINE_SECONDS for the run: short, so that a hung endpoint costs seconds, not minutes. */
  readonly budgetSeconds?: number;
}

export interface SoakReport {
  readonly ticks: number;
  readonly seed: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly totalFaults: number;
  readonly rows: {
    readonly produced: number;
    readonly delivered: number;
    /** Delivered twice without the monitor saying they might be. */
    readonly duplicates: number;
    /** Delivered twice after the monitor said so: cut off in flight although the endpoint had them. */
    readonly announcedDuplicates: number;
    readonly lost: number;
    readonly dropped: number;
  };
  readonly restarts: { readonly made: number; readonly failedToStart: number; readonly deferred: number; readonly heldBack: number };
  readonly violations: readonly string[];
  readonly heapMb: { readonly early: number; readonly end: number };
  readonly durationMs: number;
}

const T0 = Date.parse('2026-11-22T00:00:00.000Z');
const TICK_MS = 5 * 60_000;
const DCR = 'dcr-50a550a550a550a550a550a550a550a5';
const CAP_MINUTES = 60;
const NON_TRANSIENT = 'org.apache.kafka.common.config.ConfigException: Invalid value -1 for configuration batch.size';
const TRANSIENT = 'org.apache.kafka.connect.errors.RetriableException: java.net.SocketTimeoutException: Read timed out';
const PERMANENT = 'org.apache.kafka.connect.errors.ConnectException: org.postgresql.util.PSQLException: Connection to db:5432 refused';

/** mulberry32: small, seeded, good enough to pick faults. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the model remembers of a target: what the monitor's history must hold if nothing was lost. */
interface ModelEntry {
  n: number;
  last?: number;
  healthySince?: number;
}

interface Expected {
  readonly due: boolean;
  readonly nonTransient: boolean;
  readonly attempt: number;
  readonly tainted: boolean;
}

interface Cluster {
  readonly name: string;
  readonly sim: ConnectSimulator;
  readonly model: Map<string, ModelEntry>;
  /** Connectors given back to RUNNING by their owner at a later tick (a permanent fault fixed). */
  readonly fixAt: Map<string, number>;
  /**
   * Targets seen while storage was down: the monitor may since have lost what it saw then (a recycled worker
   * forgets what it could not save), so it may count more restarts than the model, and back off longer — never
   * less. Until its count agrees with the model again, only "never early" is checked for them.
   */
  readonly tainted: Set<string>;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  const rng = random(options.seed);
  const chance = (p: number) => rng() < p;
  const pick = <T>(items: readonly T[]): T | undefined => (items.length > 0 ? items[Math.floor(rng() * items.length)] : undefined);
  const faults: Record<string, number> = {};
  let tickFaults: string[] = [];
  const fault = (kind: string) => {
    faults[kind] = (faults[kind] ?? 0) + 1;
    tickFaults.push(kind);
  };
  const debug = process.env.SOAK_DEBUG; // a target key, e.g. t:0:legacy-5: its story, tick by tick
  const violations: string[] = [];
  const violate = (tick: number, text: string) => void (violations.length < 50 && violations.push(`tick ${tick} [${tickFaults.join(', ') || 'no fault'}]: ${text}`));

  const identity = new ManagedIdentityFake('soak-token', 'soak-header');
  const ingestion = new IngestionFake('soak-token');
  process.env.IDENTITY_ENDPOINT = await identity.start();
  process.env.IDENTITY_HEADER = identity.header;
  const endpoint = await ingestion.start();

  // Azurite behind relays: the monitor reaches storage through them, the checks directly.
  const direct = testStorage('kcmsoak');
  const blobPort = Number(/BlobEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(direct)![1]);
  const tablePort = Number(/TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)/.exec(direct)![1]);
  const relays = [new TcpRelay(blobPort), new TcpRelay(tablePort)];
  const [blobRelay, tableRelay] = await Promise.all(relays.map((r) => r.start()));
  const relayed = direct.replace(`127.0.0.1:${blobPort}`, `127.0.0.1:${blobRelay}`).replace(`127.0.0.1:${tablePort}`, `127.0.0.1:${tableRelay}`);
  const spoolReader = BlobSpool.fromConfig({ kind: 'connection-string', connectionString: direct });

  const clusters: Cluster[] = [
    { name: 'soak-3x', sim: new ConnectSimulator({ version: '3.7.0' }).add(...fleet('orders', 16, 2), ...fleet('..', 1, 2), ...fleet('sink ✓ 100%', 1, 2)) },
    { name: 'soak-2x', sim: new ConnectSimulator({ version: '2.2.0' }).add(...fleet('legacy', 6, 1)) },
  ].map((c) => ({ ...c, model: new Map(), fixAt: new Map(), tainted: new Set<string>() }));
  const settings: Settings = {
    KAFKA_CONNECT_CLUSTERS: JSON.stringify(await Promise.all(clusters.map(async (c) => ({ name: c.name, url: await c.sim.start() })))),
    LOGS_INGESTION_ENDPOINT: endpoint,
    LOGS_DCR_IMMUTABLE_ID: DCR,
    AzureWebJobsStorage: relayed,
    AUTO_HEAL: 'on',
    MONITOR_SCHEDULE: '0 */5 * * * *',
    HEAL_BACKOFF_CAP_MINUTES: String(CAP_MINUTES),
  };
  const config: MonitorConfig = { ...loadConfig(settings, { requireIngestion: true, requireStorageToHeal: true }), deadlineSeconds: options.budgetSeconds ?? 4 };
  let clock = T0;
  const newMonitor = () =>
    createMonitor(config, {
      now: () => new Date(clock),
      ingestionRetry: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 20 },
      retryDelaysMs: [5],
      timeouts: { connectMs: 1_000, headersMs: 1_500, bodyMs: 1_500 },
    });

  const produced = new Set<string>();
  const delivered = new Map<string, number>();
  let deliveredCount = 0;
  let duplicates = 0;
  let announced = 0;
  const mayRepeat = new Set<string>();
  let dropped = 0;
  const restarts = { made: 0, failedToStart: 0, deferred: 0, heldBack: 0 };
  const gc = (() => {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  })();
  let heapEarly = 0;
  let monitor: Monitor = newMonitor();

  try {
    const drainTicks = 3;
    for (let tick = 0; tick < options.ticks + drainTicks; tick++) {
      clock = T0 + tick * TICK_MS;
      tickFaults = [];
      const calm = tick >= options.ticks; // the last ticks drain the spool: no new faults
      const storageDown = !calm && chance(0.05);
      const ingestionFault = calm || storageDown ? undefined : pick(['503', '429', 'hang', 'slow', 'slower', undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined] as const);
      const postFaulted = new Set<string>(); // cluster|connector whose restarts were refused this tick
      const forgotten = new Set<string>(); // cluster|connector answered 404: the monitor forgets them

      // ---- the world changes between ticks
      for (const c of clusters) {
        for (const [name, at] of c.fixAt) {
          if (at > tick) continue;
          const conn = c.sim.connectors.get(name);
          for (const t of conn?.tasks ?? []) t.sticky = false;
          if (conn) conn.sticky = false;
          // An operator fixes a config: the task runs again without a restart from us.
          for (const t of conn?.tasks ?? []) if (t.trace?.includes('ConfigException')) setRunning(t);
          c.fixAt.delete(name);
        }
        if (calm) continue;
        const running = [...c.sim.connectors.values()].filter((x) => x.state === 'RUNNING');
        const task = (): [SimConnector, SimTask] | undefined => {
          const conn = pick(running);
          const t = conn && pick(conn.tasks.filter((x) => x.state === 'RUNNING'));
          return conn && t ? [conn, t] : undefined;
        };
        if (chance(0.3)) {
          const hit = task();
          if (hit) {
            fail(hit[1], TRANSIENT, false);
            fault('task fails, a restart heals it');
          }
        }
        if (chance(0.12)) {
          const hit = task();
          if (hit) {
            fail(hit[1], PERMANENT, true);
            c.fixAt.set(hit[0].name, tick + 4 + Math.floor(rng() * 30));
            fault('task fails until its owner fixes it (backoff)');
          }
        }
        if (chance(0.06)) {
          const hit = task();
          if (hit) {
            fail(hit[1], NON_TRANSIENT, true);
            c.fixAt.set(hit[0].name, tick + 3 + Math.floor(rng() * 12));
            fault('task fails with a ConfigException (non-transient)');
          }
        }
        if (chance(0.06)) {
          const conn = pick(running);
          if (conn) {
            conn.state = 'FAILED';
            conn.trace = chance(0.5) ? TRANSIENT : PERMANENT;
            conn.sticky = conn.trace === PERMANENT;
            if (conn.sticky) c.fixAt.set(conn.name, tick + 3 + Math.floor(rng() * 20));
            fault('connector instance fails');
          }
        }
        if (chance(0.04)) {
          const conn = pick(running);
          if (conn) {
            conn.state = 'PAUSED';
            for (const t of conn.tasks) t.state = 'PAUSED';
            c.fixAt.set(conn.name, tick + 2 + Math.floor(rng() * 6));
            fault('connector paused by its owner');
          }
        }
        for (const conn of c.sim.connectors.values()) {
          // A paused connector is resumed when its time comes (fixAt did that above for sticky ones).
          if (conn.state === 'PAUSED' && !c.fixAt.has(conn.name)) {
            conn.state = 'RUNNING';
            for (const t of conn.tasks) setRunning(t);
          }
        }
        if (chance(0.08)) {
          c.sim.inject({ method: 'POST', path: /\/restart/, status: 409, times: 1 + Math.floor(rng() * 6), body: '{"error_code":409,"message":"Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."}' });
          for (const conn of c.sim.connectors.keys()) postFaulted.add(`${c.name}|${conn}`);
          fault('409 storm (rebalance)');
        }
        if (chance(0.05)) {
          c.sim.inject({ method: 'POST', path: /\/restart/, status: 500, times: 1 + Math.floor(rng() * 3), body: '{"error_code":500,"message":"Request timed out. The worker is currently flushing updates to the status topic"}' });
          for (const conn of c.sim.connectors.keys()) postFaulted.add(`${c.name}|${conn}`);
          fault('500 request timed out on restart');
        }
        if (c.sim.version.startsWith('2.') && chance(0.08)) {
          const failed = [...c.sim.connectors.values()].flatMap((conn) => conn.tasks.filter((t) => t.state === 'FAILED'));
          const t = pick(failed);
          if (t) {
            t.failsToStart = true;
            fault('500 Failed to start task (counted)');
          }
        }
        if (chance(0.03)) {
          const conn = pick([...c.sim.connectors.values()].filter((x) => x.state === 'FAILED' || x.tasks.some((t) => t.state === 'FAILED')));
          if (conn) {
            c.sim.inject({ method: 'POST', path: new RegExp(`^/connectors/${escapeRegExp(conn.name)}/`), status: 404, times: 1, body: `{"error_code":404,"message":"Unknown connector: ${conn.name}"}` });
            postFaulted.add(`${c.name}|${conn.name}`);
            forgotten.add(`${c.name}|${conn.name}`);
            fault('connector deleted mid-tick (404 on restart)');
          }
        }
      }
      if (ingestionFault === '503') {
        ingestion.down = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down' } } };
        fault('ingestion 503');
      }
      if (ingestionFault === '429') {
        ingestion.answer(...Array.from({ length: 3 }, () => ({ status: 429, headers: { 'retry-after-ms': '10' } })));
        fault('ingestion 429 with Retry-After');
      }
      if (ingestionFault === 'hang') {
        ingestion.hang = true;
        fault('ingestion never answers');
      }
      if (ingestionFault === 'slow') {
        ingestion.delayMs = config.deadlineSeconds * 1000 * 0.82;
        fault('deadline hit mid-upload (slow ingestion)');
      }
      // Slower than the cut: batches accepted on receipt but answered too late are spooled and replayed —
      // the one case where a row may arrive twice, and the monitor says so for exactly those rows.
      if (ingestionFault === 'slower') {
        ingestion.delayMs = config.deadlineSeconds * 1000 * 1.2;
        fault('ingestion answers after the cut (accepted, unanswered)');
      }
      if (storageDown) {
        relays.forEach((r) => r.setDown(true));
        fault('storage down');
      }
      if (!calm && chance(0.2)) {
        await monitor.close();
        monitor = newMonitor();
        fault('worker recycled');
      }

      // ---- what the monitor will read, and what the model says it must do
      const expectedOf = new Map<string, Map<string, Expected>>();
      for (const c of clusters) {
        const expected = new Map<string, Expected>();
        expectedOf.set(c.name, expected);
        for (const conn of c.sim.connectors.values()) {
          observe(c, expected, { connector: conn.name }, conn.state, conn.trace, clock);
          for (const t of conn.tasks) observe(c, expected, { connector: conn.name, taskId: t.id }, t.state, t.trace, clock);
        }
        if (storageDown) for (const conn of c.sim.connectors.values()) for (const key of [`c:${conn.name}`, ...conn.tasks.map((t) => `t:${t.id}:${conn.name}`)]) c.tainted.add(key);
      }
      for (const c of clusters) c.sim.restarts.length = 0;
      ingestion.uploads.length = 0;

      // ---- the tick
      const result = await monitor.tick();

      relays.forEach((r) => r.setDown(false));
      ingestion.down = undefined;
      ingestion.hang = false;
      ingestion.delayMs = 0;
      ingestion.clearAnswers(); // nothing queued is left for the next tick
      for (const c of clusters) {
        c.sim.faults.length = 0;
        for (const conn of c.sim.connectors.values()) for (const t of conn.tasks) delete t.failsToStart;
      }

      // ---- rows: every row produced reaches the sink once, or waits in the spool
      for (const r of result.rows) produced.add(rowId(STATUS_TABLE.stream, r));
      for (const r of result.monitorRows) produced.add(rowId(STATUS_TABLE.stream, r));
      for (const r of result.healingRows) produced.add(rowId(HEALING_TABLE.stream, r));
      // Rows the monitor itself said may arrive twice: cut off in flight, spooled, replayed later.
      for (const m of result.delivery.mayRepeat) for (const r of m.rows) mayRepeat.add(rowId(m.stream, r));
      for (const u of ingestion.uploads) {
        for (const r of u.rows) {
          const id = rowId(u.stream, r);
          const n = (delivered.get(id) ?? 0) + 1;
          delivered.set(id, n);
          deliveredCount++;
          if (n > 1 && mayRepeat.has(id)) announced++;
          else if (n > 1) {
            duplicates++;
            violate(tick, `row delivered ${n} times, unannounced: ${JSON.stringify(r).slice(0, 200)}`);
          }
          if (!produced.has(id)) violate(tick, `a row nobody produced reached the sink: ${JSON.stringify(r).slice(0, 200)}`);
        }
      }
      // What the fakes keep of this tick is counted now: let it go, so that only the monitor's memory is measured.
      ingestion.uploads.length = 0;
      for (const c of clusters) c.sim.requests.length = 0;
      for (const d of result.delivery.dropped) {
        dropped += d.rows;
        violate(tick, `${d.rows} rows of ${d.stream} dropped: ${d.reason}`);
      }
      if (result.delivery.dropped.length > 0) violate(tick, `why: ${tickProblems(result).notShipped.join(' | ')}`);
      const spooled = new Set<string>();
      for (const entry of await spoolReader.list()) for (const r of await spoolReader.read(entry)) spooled.add(rowId(entry.stream, r));
      let lost = 0;
      for (const id of produced) if (!delivered.has(id) && !spooled.has(id)) lost++;
      for (const id of spooled) if (delivered.has(id) && !mayRepeat.has(id)) violate(tick, `a row both delivered and still spooled, unannounced (${id})`);
      if (lost > 0) violate(tick, `${lost} rows produced are neither delivered nor spooled`);

      // ---- restarts against the model
      for (const c of clusters) {
        const expected = expectedOf.get(c.name)!;
        const made = new Map<string, boolean>();
        for (const r of c.sim.restarts) made.set(targetKey(r), !!r.failed);
        const outcomes = new Map(result.healings.find((h) => h.cluster === c.name)!.outcomes.filter((o) => o.target).map((o) => [targetKey(o.target!), o]));
        for (const [key, failedToStart] of made) {
          const e = expected.get(key);
          restarts.made++;
          if (failedToStart) restarts.failedToStart++;
          if (!e) violate(tick, `${c.name} ${key} restarted but was not FAILED when read`);
          else if (e.nonTransient) violate(tick, `${c.name} ${key} restarted although its trace is non-transient`);
          else if (!e.due) violate(tick, `${c.name} ${key} restarted early (attempt ${e.attempt}, the backoff not over)`);
          const o = outcomes.get(key);
          if (o?.outcome !== (failedToStart ? 'failed' : 'restarted')) violate(tick, `${c.name} ${key} restarted by Connect, healing row says ${o?.outcome ?? 'nothing'}`);
          else if (e && o.attempt === e.attempt) c.tainted.delete(key);
          else if (e && !(e.tainted && (o.attempt ?? 0) > e.attempt)) violate(tick, `${c.name} ${key} counted as attempt ${o.attempt}, Connect saw attempt ${e.attempt}`);
        }
        for (const [key, e] of expected) {
          const o = outcomes.get(key);
          if (o?.outcome.startsWith('deferred-') && o.outcome !== 'deferred-backoff') restarts.deferred++;
          if (o?.outcome === 'skipped-non-transient') restarts.heldBack++;
          if (!e.due || e.nonTransient || made.has(key)) continue;
          // A slow machine may reach the Connect deadline: deferred-deadline is then the right answer, not a miss.
          const excused = storageDown || e.tainted || postFaulted.has(`${c.name}|${targetOf(key)}`) || o?.outcome === 'deferred-deadline';
          if (!excused) violate(tick, `${c.name} ${key} was due (attempt ${e.attempt}) and not restarted: ${o?.outcome ?? 'no decision'} ${o?.reason ?? ''}`);
        }
        if (debug && (expected.has(debug) || made.has(debug) || outcomes.has(debug))) {
          const o = outcomes.get(debug);
          console.log(`tick ${tick} ${c.name} ${debug} [${tickFaults.join(', ')}] model ${JSON.stringify(c.model.get(debug))} expected ${JSON.stringify(expected.get(debug))} made ${made.has(debug)} → ${o?.outcome} ${o?.attempt} ${o?.reason}`);
        }
        // The model learns what Connect did.
        for (const [key] of made) {
          const m = c.model.get(key) ?? { n: 0 };
          c.model.set(key, { n: m.n + 1, last: clock });
        }
        // A restart answered 404 says the connector is gone: its target is forgotten, as the healer does.
        for (const [key, o] of outcomes) if (o.outcome === 'not-found' && forgotten.has(`${c.name}|${targetOf(key)}`)) c.model.delete(key);
      }

      if (tick === Math.floor(options.ticks / 4)) {
        gc();
        heapEarly = process.memoryUsage().heapUsed;
      }
    }
    gc();
    const heapEnd = process.memoryUsage().heapUsed;
    const lostAtEnd = [...produced].filter((id) => !delivered.has(id)).length;
    if (lostAtEnd > 0) violations.push(`after draining, ${lostAtEnd} rows produced never reached the sink`);
    return {
      ticks: options.ticks,
      seed: options.seed,
      faults,
      totalFaults: Object.values(faults).reduce((a, b) => a + b, 0),
      rows: { produced: produced.size, delivered: deliveredCount, duplicates, announcedDuplicates: announced, lost: lostAtEnd, dropped },
      restarts,
      violations,
      heapMb: { early: heapEarly / 1048576, end: heapEnd / 1048576 },
      durationMs: performance.now() - started,
    };
  } finally {
    await monitor.close();
    await Promise.all([identity.stop(), ingestion.stop(), ...relays.map((r) => r.stop()), ...clusters.map((c) => c.sim.stop())]);
  }
}

/** The policy's rules (Strimzi's schedule, the reset after sustained health) applied to what Connect showed. */
function observe(c: Cluster, expected: Map<string, Expected>, target: { connector: string; taskId?: number }, state: string, trace: string | undefined, now: number): void {
  const key = targetKey(target);
  const m = c.model.get(key) ?? { n: 0 };
  const interval = backoffMinutes(m.n, CAP_MINUTES) * 60_000;
  if (state === 'FAILED') {
    delete m.healthySince;
    const nonTransient = !!trace?.includes('ConfigException');
    expected.set(key, { due: !nonTransient && (m.last === undefined || now >= m.last + interval), nonTransient, attempt: m.n + 1, tainted: c.tainted.has(key) });
  } else if (state === 'RUNNING' && m.n > 0) {
    const since = m.healthySince ?? now;
    if (now - since > interval) {
      c.model.delete(key);
      return;
    }
    m.healthySince = since;
  } else if (state === 'UNASSIGNED') delete m.healthySince;
  if (m.n > 0 || m.last !== undefined) c.model.set(key, m);
}

function fleet(prefix: string, connectors: number, tasks: number): SimConnector[] {
  return Array.from({ length: connectors }, (_, i) => ({
    name: connectors === 1 ? prefix : `${prefix}-${i}`,
    type: 'sink' as const,
    config: { 'connector.class': 'io.example.SoakSink', 'tasks.max': String(tasks), 'connection.password': 'Soak-Pa55-w0rd!' },
    state: 'RUNNING',
    workerId: `10.0.0.${11 + (i % 3)}:8083`,
    tasks: Array.from({ length: tasks }, (_, id) => ({ id, state: 'RUNNING', workerId: `10.0.0.${11 + ((i + id) % 3)}:8083` })),
  }));
}

function fail(t: SimTask, trace: string, sticky: boolean): void {
  t.state = 'FAILED';
  t.trace = trace;
  t.sticky = sticky;
}

function setRunning(t: SimTask): void {
  t.state = 'RUNNING';
  delete t.trace;
  t.sticky = false;
}

function targetOf(key: string): string {
  return key.startsWith('c:') ? key.slice(2) : key.replace(/^t:\d+:/, '');
}

/** A row's identity: its stream and every value, keys sorted (TimeGenerated makes rows of two ticks differ). */
function rowId(stream: string, row: object): string {
  const entries = Object.entries(JSON.parse(JSON.stringify(row)) as object).sort(([a], [b]) => (a < b ? -1 : 1));
  // A digest, not the text: the soak's own bookkeeping must not be what makes the heap grow.
  return createHash('sha1').update(`${stream}|${JSON.stringify(entries)}`).digest('base64');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function formatReport(r: SoakReport): string {
  const lines = [
    `soak: ${r.ticks} ticks of 5 min (${(r.ticks * 5) / 60} h on a fake clock), seed ${r.seed}, in ${(r.durationMs / 1000).toFixed(1)} s`,
    `faults injected: ${r.totalFaults}`,
    ...Object.entries(r.faults)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`),
    `rows: ${r.rows.produced} produced, ${r.rows.delivered} delivered, ${r.rows.duplicates} delivered twice unannounced, ${r.rows.announcedDuplicates} twice as announced (cut off in flight after the endpoint had them), ${r.rows.lost} lost, ${r.rows.dropped} dropped`,
    `restarts: ${r.restarts.made} made by Connect (${r.restarts.failedToStart} failed to start, counted), ${r.restarts.deferred} deferred decisions (not counted), ${r.restarts.heldBack} held back as non-transient`,
    `heap after GC: ${r.heapMb.early.toFixed(1)} MB at tick ${Math.floor(r.ticks / 4)}, ${r.heapMb.end.toFixed(1)} MB at the end`,
    `invariants: ${r.violations.length === 0 ? 'all held after every tick' : `${r.violations.length} violations`}`,
    ...r.violations.map((v) => `  ${v}`),
  ];
  return lines.join('\n');
}
