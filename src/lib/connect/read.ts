import { createHash } from 'node:crypto';
import { mapLimit } from '../concurrency';
import { ConnectError, ensureError } from '../errors';
import { clip, secretEntries } from '../redact';
import { type ConnectClient, TOO_LARGE, connectorPath } from './client';
import { type ConnectorStatus, type ExpandedParse, type ParseOptions, parseConnector, parseExpanded, parseNames } from './status';
import { parseKafkaVersion, supportsExpand, supportsHealth } from './version';

/** What one tick saw of one cluster. A cluster that could not be read has `error` and no connectors. */
export interface ClusterSnapshot {
  readonly cluster: string;
  readonly version?: string;
  readonly connectors: readonly ConnectorStatus[];
  readonly error?: ConnectError;
  /** Read, but something is off that the operator should know (the version could not be read). */
  readonly warning?: string;
  /** How the statuses were read: one expanded request, or the pre-2.3 name list plus one request each. */
  readonly mode?: 'expanded' | 'per-connector';
  /** `GET /health` (3.9+) answered 500 or 503: the worker says it cannot serve requests well, in its words. */
  readonly unhealthy?: string;
}

export interface ReadOptions {
  readonly maxTraceBytes: number;
  /**
   * False on a lean tick: the status is read without `expand=info` (about half the bytes), each connector's
   * config taken from the last read that had it — unless the connector is not plainly healthy and has changed
   * since; then its config is read again (see parseLean).
   */
  readonly withInfo?: boolean;
  /** In-flight status requests per cluster on Connect < 2.3. */
  readonly concurrency?: number;
  /** The tick's time, which the config memory ages by (the wall clock when absent). */
  readonly now?: Date;
  readonly signal?: AbortSignal;
}

const EXPANDED_PATH = '/connectors?expand=status&expand=info';
const STATUS_PATH = '/connectors?expand=status';
/** More connectors than this needing their config on a lean tick: one read with `expand=info` instead. */
const INFO_READS_MAX = 32;
/**
 * A connector not plainly healthy keeps the same status while its config changes (a STOPPED one has no tasks
 * to show a new tasks.max; a FAILED one fails again with the same trace): what is known of it serves this long.
 */
const UNHEALTHY_INFO_MS = 15 * 60_000;
/** Of those, read again per lean tick: a bound on the extra requests however many connectors are failing. */
const AGED_READS_MAX = 8;

/**
 * Per client (a cluster), from one read with `expand=info` to the next (the hourly detail tick): what a lean
 * tick needs of each connector's ConnectorInfo — the type, `connector.class`, `tasks.max` and the config values
 * a trace is redacted of, nothing else — and the status it was read beside; and whether the expanded answer was
 * over the cap (then the lean ticks read `?expand=status` and each config they need on its own).
 */
interface ClientMemory {
  readonly infos: Map<string, { readonly info: unknown; readonly signature: string; readonly readAt: number }>;
  filled: boolean;
  tooLarge: boolean;
}
const memories = new WeakMap<ConnectClient, ClientMemory>();

/** Failures of `GET /` after which the status is still worth reading. */
const VERSION_OPTIONAL = new Set(['NOT_FOUND', 'SERVER_ERROR', 'BAD_RESPONSE', 'CONFLICT']);

/**
 * Reads the status of every connector of a cluster: `GET /` for the version, then ONE expanded
 * `GET /connectors?expand=status&expand=info` — or, before Kafka 2.3, the name list and one status request
 * per connector. Never throws: a failure becomes the snapshot's `error`.
 */
export async function readCluster(client: ConnectClient, options: ReadOptions): Promise<ClusterSnapshot> {
  const cluster = client.name;
  const parse = { maxTraceBytes: options.maxTraceBytes, secrets: client.cluster.password ? [client.cluster.password] : [] };
  const at = options.now?.getTime() ?? Date.now();
  let version: string | undefined;
  let warning: string | undefined;
  try {
    try {
      const root = await client.get('/', options.signal);
      version = typeof (root as { version?: unknown })?.version === 'string' ? clip((root as { version: string }).version, 60) : undefined;
    } catch (err) {
      // The version only picks features: a worker (or gateway) that answers GET / badly may still answer the
      // status. Not when nothing answers, or nobody may: the status would fail the same way, twice as slowly.
      if (!(err instanceof ConnectError) || !VERSION_OPTIONAL.has(err.kind)) throw err;
      warning = `version unknown (${err.message}); read with the newest API`;
    }
    if (version === undefined && warning === undefined) warning = 'version unknown (GET / named none); read with the newest API';
    // Asked beside the status, not before it: an unhealthy worker takes ~10 s to say so.
    const health = supportsHealth(parseKafkaVersion(version)) ? workerHealth(client, options.signal) : Promise.resolve(undefined);
    const withVersion = async () => {
      const unhealthy = await health;
      return { cluster, ...(version && { version }), ...(warning && { warning }), ...(unhealthy && { unhealthy }) };
    };

    let names: string[] | undefined;
    let overCap = false;
    if (supportsExpand(parseKafkaVersion(version))) {
      const memory = memoryOf(client);
      // Lean: the status alone, once a read with configs (or one over the cap) is behind us.
      const lean = options.withInfo === false && (memory.filled || memory.tooLarge);
      const path = lean ? STATUS_PATH : EXPANDED_PATH;
      let body: unknown;
      try {
        body = await client.get(path, options.signal);
        if (!lean) memory.tooLarge = false;
      } catch (err) {
        // Too large to hold (a very large cluster, or large configs): read each status instead of nothing.
        if (!tooLarge(err)) throw err;
        overCap = true;
        if (!lean) memory.tooLarge = true;
        warning = [warning, `${err.message}: read one connector at a time`].filter(Boolean).join('; ');
      }
      if (body !== undefined) {
        const parsed = lean ? await parseLean(client, body, memory, parse, at, options.signal) : parseExpanded(body, parse);
        if (parsed.kind === 'invalid') throw new ConnectError(cluster, 'BAD_RESPONSE', 'GET', path, parsed.detail, 200);
        if (parsed.kind === 'expanded') {
          if (!lean) remember(memory, body, at);
          return { ...(await withVersion()), connectors: parsed.connectors, mode: 'expanded' };
        }
        names = parsed.names; // the version said 2.3+, the answer says otherwise: trust the answer
      }
    }
    if (names === undefined) {
      const parsed = parseNames(await client.get('/connectors', options.signal));
      if (parsed.kind === 'invalid') throw new ConnectError(cluster, 'BAD_RESPONSE', 'GET', '/connectors', parsed.detail, 200);
      names = parsed.names;
    }

    // A cluster too large to read at once is read with all the connections the client keeps.
    const concurrency = options.concurrency ?? (overCap ? 16 : 8);
    const memory = memoryOf(client);
    const live = new Set(names);
    forgetGone(memory, (name) => live.has(name));
    const connectors = await mapLimit(names, concurrency, async (name) => {
      try {
        const status = await client.get(`${connectorPath(name)}/status`, options.signal);
        // A trace is redacted with the connector's config values too: its config is read only then.
        if (!hasTrace(status)) return parseConnector(name, status, undefined, parse);
        const info = await readInfo(client, name, status, memory, at, options.signal);
        const connector = parseConnector(name, status, info.info, parse);
        return info.failed ? withheld(connector, info.failed) : connector;
      } catch (err) {
        // Deleted between the list and its status: gone, not broken.
        if (err instanceof ConnectError && err.kind === 'NOT_FOUND') return undefined;
        if (err instanceof ConnectError && err.kind === 'ABORTED') throw err;
        const e = ensureError(err);
        return { name, state: 'UNKNOWN', tasks: [], detail: e instanceof ConnectError ? e.message : clip(e.message, 300, parse.secrets) } satisfies ConnectorStatus;
      }
    });
    return { ...(await withVersion()), connectors: connectors.filter((c) => c !== undefined), mode: 'per-connector' };
  } catch (err) {
    const error = err instanceof ConnectError ? err : new ConnectError(cluster, 'BAD_RESPONSE', 'GET', '/', clip(ensureError(err).message, 300, parse.secrets));
    return { cluster, ...(version && { version }), connectors: [], error };
  }
}

/**
 * Parses a lean read (`?expand=status`), each entry's `info` from memory. A connector that is not plainly
 * healthy and that the memory does not know as it is now — its state, task count and traces — has its config
 * read again (a new failure may carry a rotated password; a paused connector's tasks.max may have changed).
 * More than INFO_READS_MAX of them: one read with `expand=info` instead, unless that is over the cap or fails.
 * A connector whose config cannot be read has its traces withheld rather than shipped half-redacted.
 */
async function parseLean(client: ConnectClient, body: unknown, memory: ClientMemory, parse: ParseOptions, at: number, signal?: AbortSignal): Promise<ExpandedParse> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return parseExpanded(body, parse);
  const entries = body as Record<string, { status?: unknown; info?: unknown } | null>;
  const stale: string[] = [];
  const aged: Array<{ name: string; readAt: number }> = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const known = memory.infos.get(name);
    // A plainly healthy connector's lean row needs nothing of its config: what is known serves, or nothing.
    const healthy = plainlyHealthy(entry.status);
    if (known && (healthy || known.signature === signature(entry.status))) {
      entry.info = known.info;
      if (!healthy && at - known.readAt >= UNHEALTHY_INFO_MS) aged.push({ name, readAt: known.readAt });
    } else if (!healthy) stale.push(name);
  }
  forgetGone(memory, (name) => Object.hasOwn(entries, name));
  if (stale.length > INFO_READS_MAX && !memory.tooLarge) {
    try {
      const full = await client.get(EXPANDED_PATH, signal);
      const parsed = parseExpanded(full, parse);
      if (parsed.kind === 'expanded') {
        remember(memory, full, at);
        return parsed;
      }
    } catch (err) {
      if (err instanceof ConnectError && err.kind === 'ABORTED') throw err;
      if (tooLarge(err)) memory.tooLarge = true; // then each config on its own, below
    }
  }
  const failed = new Map<string, string>();
  await mapLimit(stale, 8, async (name) => {
    const info = await readInfo(client, name, entries[name]!.status, memory, at, signal);
    entries[name]!.info = info.info;
    if (info.failed) failed.set(name, info.failed);
  });
  // Unchanged but old: the oldest few read again each tick, never a full read for them; one that cannot be
  // read now keeps what is known (its status, traces included, is the one that was read beside it).
  const oldest = aged.sort((a, b) => a.readAt - b.readAt).slice(0, AGED_READS_MAX);
  await mapLimit(oldest, 8, async ({ name }) => {
    const info = await readInfo(client, name, entries[name]!.status, memory, at, signal);
    if (!info.failed) entries[name]!.info = info.info;
  });
  const parsed = parseExpanded(body, parse);
  if (parsed.kind !== 'expanded' || failed.size === 0) return parsed;
  return { kind: 'expanded', connectors: parsed.connectors.map((c) => (failed.has(c.name) ? withheld(c, failed.get(c.name)!) : c)) };
}

/** `GET /connectors/{name}`, remembered; a failure (a 500 "rebalance is expected", a 404) said, not thrown. */
async function readInfo(client: ConnectClient, name: string, status: unknown, memory: ClientMemory, at: number, signal?: AbortSignal): Promise<{ info?: unknown; failed?: string }> {
  try {
    const info = await client.get(connectorPath(name), signal);
    memory.infos.set(name, { info: essentials(info, hasTrace(status)), signature: signature(status), readAt: at });
    return { info };
  } catch (err) {
    if (err instanceof ConnectError && err.kind === 'ABORTED') throw err;
    return { failed: err instanceof ConnectError ? err.message : clip(ensureError(err).message, 300) };
  }
}

/**
 * Without its config a trace cannot be scrubbed of the config's secret values: the trace shown says so, and
 * only the non-transient patterns still see the trace itself.
 */
function withheld(connector: ConnectorStatus, why: string): ConnectorStatus {
  const note = `trace withheld: the connector's config, needed to redact it, could not be read (${clip(why, 300)})`;
  // A spread drops the non-enumerable unredactedTrace the patterns match: every copy carries it over.
  const keep = <T extends object>(from: T, to: T): T => {
    const raw = (from as { unredactedTrace?: string }).unredactedTrace;
    if (raw !== undefined) Object.defineProperty(to, 'unredactedTrace', { value: raw, enumerable: false });
    return to;
  };
  const hide = <T extends { readonly trace?: string }>(x: T): T => (x.trace === undefined ? x : keep(x, { ...x, trace: note }));
  return keep(connector, { ...hide(connector), tasks: connector.tasks.map(hide) });
}

/** The memory a read with `expand=info` leaves for the lean reads after it. */
function remember(memory: ClientMemory, body: unknown, readAt: number): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  memory.infos.clear();
  for (const [name, entry] of Object.entries(body as Record<string, { status?: unknown; info?: unknown } | null>)) {
    if (typeof entry === 'object' && entry !== null) memory.infos.set(name, { info: essentials(entry.info, hasTrace(entry.status)), signature: signature(entry.status), readAt });
  }
  memory.filled = true;
}

/** Deleted connectors leave the memory at once: over the cap no full read comes to replace it. */
function forgetGone(memory: ClientMemory, exists: (name: string) => boolean): void {
  for (const name of memory.infos.keys()) if (!exists(name)) memory.infos.delete(name);
}

function memoryOf(client: ConnectClient): ClientMemory {
  let memory = memories.get(client);
  if (!memory) memories.set(client, (memory = { infos: new Map(), filled: false, tooLarge: false }));
  return memory;
}

function tooLarge(err: unknown): err is ConnectError {
  return err instanceof ConnectError && err.kind === 'BAD_RESPONSE' && err.detail.startsWith(TOO_LARGE);
}

/**
 * Of a ConnectorInfo, what the parse takes: the type, `connector.class`, `tasks.max`, and the secret values when
 * the status it was read beside has a trace. Without one they are never needed: the memory serves a lean read
 * only for a connector plainly healthy now or one whose signature (traces included) is unchanged.
 */
function essentials(info: unknown, traced: boolean): unknown {
  const i = info as { type?: unknown; config?: unknown } | null;
  if (typeof i !== 'object' || i === null) return undefined;
  const config = typeof i.config === 'object' && i.config !== null ? (i.config as Record<string, unknown>) : {};
  const kept: Record<string, unknown> = { 'connector.class': config['connector.class'], 'tasks.max': config['tasks.max'] };
  if (traced) for (const [key, value] of secretEntries(config)) kept[key] = value;
  return { type: i.type, config: kept };
}

/**
 * A status as the memory compares it: the connector's state, the task count and every trace. Without a trace
 * (most connectors) that is a short string as it is; with traces, one digest of them.
 */
function signature(status: unknown): string {
  const s = status as { connector?: { state?: unknown; trace?: unknown }; tasks?: Array<{ id?: unknown; trace?: unknown } | null> } | null;
  const tasks = Array.isArray(s?.tasks) ? s.tasks : [];
  const head = `${String(s?.connector?.state)}\n${tasks.length}`;
  if (!hasTrace(status)) return head;
  const hash = createHash('sha1').update(`${head}\n${String(s?.connector?.trace ?? '')}`);
  for (const t of tasks) if (typeof t?.trace === 'string') hash.update(`\n${String(t.id)}\n${t.trace}`);
  return hash.digest('base64');
}

/** RUNNING with every task RUNNING, and no trace to redact: a lean row of it needs nothing of its config. */
function plainlyHealthy(status: unknown): boolean {
  const s = status as { connector?: { state?: unknown }; tasks?: unknown } | null;
  return s?.connector?.state === 'RUNNING' && Array.isArray(s.tasks) && s.tasks.every((t: { state?: unknown } | null) => t?.state === 'RUNNING') && !hasTrace(status);
}

function hasTrace(status: unknown): boolean {
  const s = status as { connector?: { trace?: unknown }; tasks?: unknown } | null;
  return typeof s?.connector?.trace === 'string' || (Array.isArray(s?.tasks) && s.tasks.some((t: { trace?: unknown } | null) => typeof t?.trace === 'string'));
}

/**
 * KIP-1017's answer, when it is not "healthy": 500 (unhealthy) and 503 (still starting) carry the worker's own
 * message. Anything else (a gateway that does not route /health, a timeout) says nothing about the worker, and
 * the status read says the rest.
 */
async function workerHealth(client: ConnectClient, signal?: AbortSignal): Promise<string | undefined> {
  try {
    await client.get('/health', signal);
    return undefined;
  } catch (err) {
    if (err instanceof ConnectError && (err.status === 500 || err.status === 503)) return clip(`GET /health → ${err.status}: ${err.detail}`, 300);
    // Connect holds an unhealthy answer ~10 s: no answer within the timeout is a stuck worker, not a healthy one.
    if (err instanceof ConnectError && err.kind === 'TIMEOUT') return clip(`GET /health → TIMEOUT: ${err.detail}`, 300);
    return undefined;
  }
}
