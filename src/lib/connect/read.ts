import { mapLimit } from '../concurrency';
import { ConnectError, ensureError } from '../errors';
import { clip } from '../redact';
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
  /** In-flight status requests per cluster on Connect < 2.3. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

const EXPANDED_PATH = '/connectors?expand=status&expand=info';

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
      const expanded = await client.get(EXPANDED_PATH, options.signal).catch((err: unknown) => {
        // Too large to hold (a very large cluster, or large configs): read each status instead of nothing.
        if (!(err instanceof ConnectError && err.kind === 'BAD_RESPONSE' && err.detail.startsWith(TOO_LARGE))) throw err;
        warning = [warning, `${err.message}: read one connector at a time`].filter(Boolean).join('; ');
        return undefined;
      });
      if (expanded !== undefined) {
        const parsed = parseExpanded(expanded, parse);
        if (parsed.kind === 'invalid') throw new ConnectError(cluster, 'BAD_RESPONSE', 'GET', EXPANDED_PATH, parsed.detail, 200);
        if (parsed.kind === 'expanded') return { ...(await withVersion()), connectors: parsed.connectors, mode: 'expanded' };
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
