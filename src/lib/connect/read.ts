import { createHash } from 'node:crypto';
import { mapLimit } from '../concurrency';
import { ConnectError, ensureError } from '../errors';
import { clip, secretEntries } from '../redact';
import { type ConnectClient, TOO_LARGE, connectorPath } from './client';
import { type ConnectorStatus, parseConnector, parseExpanded, parseNames } from './status';
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
   * config taken from the last read that had it — unless the connector shows a trace that read did not see,
   * or is unhealthy and unknown to it; then its config is read again (see withRememberedInfo).
   */
  readonly withInfo?: boolean;
  /** In-flight status requests per cluster on Connect < 2.3. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

const EXPANDED_PATH = '/connectors?expand=status&expand=info';
const STATUS_PATH = '/connectors?expand=status';
/** More connectors than this needing their config on a lean tick: one read with `expand=info` instead. */
const INFO_READS_MAX = 32;

/**
 * Per connector, what a lean tick needs of its ConnectorInfo — the type, `connector.class`, `tasks.max` and
 * the config values a trace is redacted of — and the traces it was read beside. Kept per client (a cluster)
 * from one read with `expand=info` to the next (the hourly detail tick).
 */
interface RememberedInfo {
  readonly info: unknown;
  readonly traces: string;
}
const remembered = new WeakMap<ConnectClient, Map<string, RememberedInfo>>();

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
    if (supportsExpand(parseKafkaVersion(version))) {
      const memory = options.withInfo === false ? remembered.get(client) : undefined;
      const path = memory ? STATUS_PATH : EXPANDED_PATH;
      let expanded = await client.get(path, options.signal).catch((err: unknown) => {
        // Too large to hold (a very large cluster, or large configs): read each status instead of nothing.
        if (!(err instanceof ConnectError && err.kind === 'BAD_RESPONSE' && err.detail.startsWith(TOO_LARGE))) throw err;
        warning = [warning, `${err.message}: read one connector at a time`].filter(Boolean).join('; ');
        return undefined;
      });
      let withInfo = !memory;
      if (expanded !== undefined && memory) {
        const filled = await withRememberedInfo(client, expanded, memory, options.signal);
        withInfo = filled !== expanded;
        expanded = filled;
      }
      if (expanded !== undefined) {
        const parsed = parseExpanded(expanded, parse);
        if (parsed.kind === 'invalid') throw new ConnectError(cluster, 'BAD_RESPONSE', 'GET', withInfo ? EXPANDED_PATH : STATUS_PATH, parsed.detail, 200);
        if (parsed.kind === 'expanded') {
          if (withInfo) remember(client, expanded);
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
    const concurrency = options.concurrency ?? (warning?.includes(TOO_LARGE) ? 16 : 8);
    const connectors = await mapLimit(names, concurrency, async (name) => {
      try {
        const status = await client.get(`${connectorPath(name)}/status`, options.signal);
        // A trace is redacted with the connector's config values too: its config is read only then.
        const info = hasTrace(status) ? await client.get(connectorPath(name), options.signal).catch(() => undefined) : undefined;
        return parseConnector(name, status, info, parse);
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
 * A lean read's body with each entry's `info` filled in from memory. A connector whose traces the memory did
 * not see (a new failure: its config may hold a new password), or that is unhealthy and unknown to it, has
 * its ConnectorInfo read again; more than INFO_READS_MAX of them, or one such read failing, and the whole
 * status is read again with `expand=info` (that body is returned instead).
 */
async function withRememberedInfo(client: ConnectClient, body: unknown, memory: Map<string, RememberedInfo>, signal?: AbortSignal): Promise<unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const entries = body as Record<string, { status?: unknown; info?: unknown } | null>;
  const stale: Array<[string, string]> = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const traces = traceFingerprint(entry.status);
    const known = memory.get(name);
    // A trace the memory saw was redacted with the config read beside it: that config still serves.
    if (known && (traces === '' || known.traces === traces)) entry.info = known.info;
    else if (known || traces !== '' || !plainlyHealthy(entry.status)) stale.push([name, traces]);
  }
  if (stale.length === 0) return body;
  if (stale.length > INFO_READS_MAX) return client.get(EXPANDED_PATH, signal);
  try {
    await mapLimit(stale, 8, async ([name, traces]) => {
      const info = await client.get(connectorPath(name), signal);
      entries[name]!.info = info;
      memory.set(name, { info: essentials(info), traces });
    });
  } catch (err) {
    if (err instanceof ConnectError && err.kind === 'ABORTED') throw err;
    return client.get(EXPANDED_PATH, signal); // deleted meanwhile, or a worker that fails it: read it all
  }
  return body;
}

/** The memory a read with `expand=info` leaves for the lean reads after it. */
function remember(client: ConnectClient, body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const memory = new Map<string, RememberedInfo>();
  for (const [name, entry] of Object.entries(body as Record<string, { status?: unknown; info?: unknown } | null>)) {
    if (typeof entry === 'object' && entry !== null) memory.set(name, { info: essentials(entry.info), traces: traceFingerprint(entry.status) });
  }
  remembered.set(client, memory);
}

/** Of a ConnectorInfo, what the parse takes: the type, `connector.class`, `tasks.max` and the secret values. */
function essentials(info: unknown): unknown {
  const i = info as { type?: unknown; config?: unknown } | null;
  if (typeof i !== 'object' || i === null) return undefined;
  const config = typeof i.config === 'object' && i.config !== null ? (i.config as Record<string, unknown>) : {};
  return { type: i.type, config: { 'connector.class': config['connector.class'], 'tasks.max': config['tasks.max'], ...Object.fromEntries(secretEntries(config)) } };
}

/** The traces of a status, as one digest ('' when it has none). */
function traceFingerprint(status: unknown): string {
  if (!hasTrace(status)) return '';
  const s = status as { connector?: { trace?: unknown }; tasks?: Array<{ id?: unknown; trace?: unknown } | null> };
  const hash = createHash('sha1').update(String(s.connector?.trace ?? ''));
  for (const t of Array.isArray(s.tasks) ? s.tasks : []) if (typeof t?.trace === 'string') hash.update(`\n${String(t.id)}\n${t.trace}`);
  return hash.digest('base64');
}

/** RUNNING with every task RUNNING: a lean row of it needs nothing of its config. */
function plainlyHealthy(status: unknown): boolean {
  const s = status as { connector?: { state?: unknown }; tasks?: unknown } | null;
  return s?.connector?.state === 'RUNNING' && Array.isArray(s.tasks) && s.tasks.every((t: { state?: unknown } | null) => t?.state === 'RUNNING');
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
