import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { atLeast, parseKafkaVersion, supportsHealth } from '../connect/version';

/**
 * A Kafka Connect REST server on loopback, faithful to what the Apache Kafka source does
 * (shared/reference/kafka-connect-rest.md): expanded listings from 2.3, JSON error bodies, a plain-text 401
 * from the basic-auth filter, version-dependent restart semantics. Used by `kc-monitor demo`, the tests
 * and the benchmark. It simulates; it is not Kafka Connect.
 */

export interface SimTask {
  id: number;
  state: string;
  workerId: string;
  trace?: string;
  /** A restart does not fix it: a permanent fault, for demos and backoff tests. */
  sticky?: boolean;
  /**
   * Building the task throws on a restart: Connect's synchronous task restart answers
   * 500 `Failed to start task: name-id` (the restart was made, and failed).
   */
  failsToStart?: boolean;
}

export interface SimConnector {
  name: string;
  type: 'source' | 'sink' | 'unknown';
  config: Record<string, string>;
  state: string;
  workerId: string;
  trace?: string;
  /**
   * A restart does not fix it: the instance fails again in start(), so a plain (synchronous) restart answers
   * 500 `Failed to start connector: name`, as Connect does; KIP-745 still answers its 202 plan.
   */
  sticky?: boolean;
  /**
   * A STOPPED connector (`PUT …/stop`) shows no tasks in Connect and its task restarts answer a 409 that never
   * clears: the simulator keeps `tasks` here but serves them as Connect does.
   */
  tasks: SimTask[];
  /** The plugin's `version()`, which Connect 4.1+ adds to each status (default 1.0.0). */
  pluginVersion?: string;
  /** The status record is missing: Connect leaves such a connector out of the expanded listing. */
  statusMissing?: boolean;
}

/** A canned answer for matching requests, to play a proxy, a rebalance, a slow or broken worker. */
export interface SimFault {
  readonly method?: string;
  /** Matched against the decoded path plus query, e.g. `/connectors?expand=status&expand=info`. */
  readonly path: string | RegExp;
  /** How many requests it answers before it goes away; unlimited when absent. */
  times?: number;
  readonly status?: number;
  readonly body?: string;
  readonly contentType?: string;
  /** Wait this long before answering (headers and all). */
  readonly delayMs?: number;
  /** Send headers and part of the body, then stall (a body timeout) or, with `destroy`, cut the connection. */
  readonly stallBody?: boolean;
  readonly destroy?: boolean;
}

export interface SimulatorOptions {
  /** Kafka version reported by GET / and used to pick behaviour; default 3.7.0. */
  readonly version?: string;
  readonly basicAuth?: { readonly username: string; readonly password: string };
  /** Serve https; with `ca` and `requestCert`, require a client certificate signed by it (mTLS). */
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca?: string; readonly requestCert?: boolean };
  /** Added to every request, like a worker a network hop away. */
  readonly latencyMs?: number;
}

export interface SimRequest {
  readonly method: string;
  readonly path: string;
}

/** A restart the worker really made (or tried: `failed`), as tests check the healing against it. */
export interface SimRestart {
  readonly connector: string;
  readonly taskId?: number;
  readonly failed?: boolean;
}

/** What Connect answers a task restart of a STOPPED connector, for as long as it stays stopped (FACTS.md). */
const NO_LEADER = 'Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.';

export class ConnectSimulator {
  readonly connectors = new Map<string, SimConnector>();
  readonly faults: SimFault[] = [];
  readonly requests: SimRequest[] = [];
  readonly restarts: SimRestart[] = [];
  /** What `GET /health` answers (3.9+); set it to Connect's 500 or 503 to play a sick or starting worker. */
  health: { status: number; body: unknown } = { status: 200, body: { status: 'healthy', message: 'Worker has completed startup and is ready to handle requests.' } };
  /** Most requests ever handled at once: tests check the client's concurrency bound with it. */
  maxInFlight = 0;
  private inFlight = 0;
  private server: Server | undefined;
  private readonly kafka;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.kafka = parseKafkaVersion(options.version ?? '3.7.0');
  }

  get version(): string {
    return this.options.version ?? '3.7.0';
  }

  add(...connectors: SimConnector[]): this {
    for (const c of connectors) this.connectors.set(c.name, c);
    return this;
  }

  inject(fault: SimFault): this {
    this.faults.push(fault);
    return this;
  }

  /** Starts listening on 127.0.0.1 and returns the base URL. */
  async start(port = 0): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
      res.on('close', () => this.inFlight--);
      this.handle(req, res).catch(() => res.destroy());
    };
    const tls = this.options.tls;
    this.server = tls
      ? createHttpsServer({ key: tls.key, cert: tls.cert, ...(tls.ca && { ca: tls.ca }), requestCert: !!tls.requestCert, rejectUnauthorized: !!tls.requestCert }, handler)
      : createHttpServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const { port: bound } = this.server.address() as AddressInfo;
    return `${tls ? 'https' : 'http'}://127.0.0.1:${bound}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Not `new URL(req.url)` alone: it would resolve `%2E%2E` as a dot segment, as no Connect worker does.
    const raw = req.url ?? '/';
    const url = new URL(raw, 'http://sim');
    const rawPath = raw.split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const pathAndQuery = `${decodePath(rawPath)}${url.search}`;
    this.requests.push({ method, path: pathAndQuery });
    if (this.options.latencyMs) await sleep(this.options.latencyMs);

    const auth = this.options.basicAuth;
    if (auth) {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        // BasicAuthSecurityRestExtension: raw text, no JSON, no WWW-Authenticate.
        res.writeHead(401, { 'content-type': 'text/plain' }).end('User cannot access the resource.');
        return;
      }
    }

    const rejected = this.jettyRejects(rawPath);
    if (rejected) {
      // Jetty 12 (Kafka 4.0+) refuses ambiguous path encodings itself, before Connect sees the request.
      const body = `{\n"message":"${rejected}",\n"url":"http://${req.headers.host ?? '127.0.0.1'}${rawPath}",\n"status":"400"\n}`;
      res.writeHead(400, { 'content-type': 'application/json' }).end(body);
      return;
    }

    const fault = this.faults.find((f) => (!f.method || f.method === method) && matches(f.path, pathAndQuery) && f.times !== 0);
    if (fault) {
      if (fault.times !== undefined) fault.times--;
      await this.answerFault(fault, res);
      return;
    }
    const [status, body] = this.route(method, rawPath, url.searchParams);
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /**
   * Jetty 12's default URI compliance: `%2E` segments, `%2F`, `%25` and `%5C` in a path are a 400 from
   * Kafka 4.0 on (Jetty 12.0.15 in connect-runtime 4.0.0's pom; measured on 4.4.0). Jetty 9.4 (3.x) decodes them.
   */
  private jettyRejects(rawPath: string): string | undefined {
    if (!atLeast(this.kafka, 4, 0)) return undefined;
    if (rawPath.split('/').some((seg) => /^(%2e|\.)+$/i.test(seg) && /%2e/i.test(seg))) return 'Ambiguous URI path segment';
    if (/%2f/i.test(rawPath)) return 'Ambiguous URI path separator';
    if (/%25/.test(rawPath)) return 'Ambiguous URI path encoding';
    if (/%5c/i.test(rawPath)) return 'Suspicious Path Character';
    return undefined;
  }

  private async answerFault(fault: SimFault, res: ServerResponse): Promise<void> {
    if (fault.delayMs) await sleep(fault.delayMs);
    if (res.destroyed) return;
    const body = fault.body ?? '';
    const headers = { 'content-type': fault.contentType ?? 'application/json' };
    if (fault.stallBody || fault.destroy) {
      // Promise more than we send, so the client waits for (or loses) the rest.
      res.writeHead(fault.status ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(body) + 1024) });
      res.write(body);
      if (fault.destroy) setTimeout(() => res.destroy(), 10);
      return;
    }
    res.writeHead(fault.status ?? 200, headers).end(body);
  }

  private route(method: string, rawPath: string, query: URLSearchParams): [number, unknown] {
    const parts = rawPath.split('/').filter(Boolean).map(decodePath);
    if (method === 'GET' && parts.length === 0) {
      return [200, { version: this.version, commit: 'c0ffee0000000000', kafka_cluster_id: 'sim-kafka-cluster' }];
    }
    // KIP-1017, 3.9+: the worker's health as its herder sees it.
    if (method === 'GET' && parts.length === 1 && parts[0] === 'health' && supportsHealth(this.kafka)) return [this.health.status, this.health.body];
    if (parts[0] !== 'connectors') return notFound(`HTTP 404 Not Found`);
    if (parts.length === 1 && method === 'GET') return [200, this.listConnectors(query.getAll('expand'))];

    const connector = parts[1] !== undefined ? this.connectors.get(parts[1]) : undefined;
    const name = parts[1] ?? '';
    if (parts.length === 2 && method === 'GET') return connector ? [200, this.info(connector)] : notFound(`Connector ${name} not found`);
    if (parts.length === 3 && parts[2] === 'status' && method === 'GET') {
      return connector && !connector.statusMissing ? [200, this.status(connector)] : notFound(`No status found for connector ${name}`);
    }
    if (parts.length === 3 && parts[2] === 'restart' && method === 'POST') return this.restartConnector(connector, name, query);
    if (parts.length === 5 && parts[2] === 'tasks' && parts[4] === 'status' && method === 'GET') {
      const task = connector && this.tasksOf(connector).find((t) => String(t.id) === parts[3]);
      return task ? [200, this.taskJson(task, connector.pluginVersion)] : notFound(`No status found for task ${name}-${parts[3]}`);
    }
    if (parts.length === 5 && parts[2] === 'tasks' && parts[4] === 'restart' && method === 'POST') {
      const task = connector?.tasks.find((t) => String(t.id) === parts[3]);
      if (!connector) return notFound(`Unknown connector: ${name}`);
      if (connector.state === 'STOPPED') return [409, { error_code: 409, message: NO_LEADER }];
      if (!task) return notFound(`Unknown task: ${name}-${parts[3]}`);
      if (task.failsToStart) {
        this.restarts.push({ connector: name, taskId: task.id, failed: true });
        return [500, { error_code: 500, message: `Failed to start task: ${name}-${task.id}` }];
      }
      this.restartTask(connector, task);
      return [204, undefined];
    }
    return notFound(`HTTP 404 Not Found`);
  }

  private listConnectors(expand: string[]): unknown {
    const names = [...this.connectors.keys()];
    if (expand.length === 0 || !atLeast(this.kafka, 2, 3)) return names;
    const withStatus = expand.includes('status');
    const withInfo = expand.includes('info');
    const out: Record<string, unknown> = {};
    for (const c of this.connectors.values()) {
      if (c.statusMissing) continue;
      // `expand=status,info` matches neither value: Connect answers an empty object per connector.
      out[c.name] = { ...(withStatus && { status: this.status(c) }), ...(withInfo && { info: this.info(c) }) };
    }
    return out;
  }

  /** Sorted by id; a restart plan on 4.4 is not (FACTS.md), which `order` plays by reversing it. */
  private status(c: SimConnector, order: 'sorted' | 'reversed' = 'sorted'): unknown {
    const tasks = [...this.tasksOf(c)].sort((a, b) => (order === 'sorted' ? a.id - b.id : b.id - a.id));
    const version = atLeast(this.kafka, 4, 1) ? { version: c.pluginVersion ?? '1.0.0' } : {};
    return {
      name: c.name,
      connector: { state: c.state, worker_id: c.workerId, ...version, ...(c.trace && traced(c.state) && { trace: c.trace }) },
      tasks: tasks.map((t) => this.taskJson(t, c.pluginVersion)),
      type: c.type,
    };
  }

  private taskJson(t: SimTask, pluginVersion = '1.0.0'): unknown {
    // 4.1+: the task's version, null for a task the worker could not build or has not been given yet.
    const version = atLeast(this.kafka, 4, 1) ? { version: t.failsToStart || t.state === 'UNASSIGNED' ? null : pluginVersion } : {};
    return { id: t.id, state: t.state, worker_id: t.workerId, ...version, ...(t.trace && traced(t.state) && { trace: t.trace }) };
  }

  private tasksOf(c: SimConnector): SimTask[] {
    return c.state === 'STOPPED' ? [] : c.tasks;
  }

  private info(c: SimConnector): unknown {
    return { name: c.name, config: { ...c.config, name: c.name }, tasks: this.tasksOf(c).map((t) => ({ connector: c.name, task: t.id })), type: c.type };
  }

  /** Before 3.0 the query is ignored and only the Connector instance restarts (204); from 3.0 a 202 plan. */
  private restartConnector(c: SimConnector | undefined, name: string, query: URLSearchParams): [number, unknown] {
    if (!c) return notFound(`Unknown connector: ${name}`);
    const includeTasks = query.get('includeTasks') === 'true';
    const onlyFailed = query.get('onlyFailed') === 'true';
    if (!atLeast(this.kafka, 3, 0) || (!includeTasks && !onlyFailed)) {
      if (!this.restartInstance(c, true)) return [500, { error_code: 500, message: `Failed to start connector: ${name}` }];
      return [204, undefined];
    }
    // The 202 plan shows what will restart as RESTARTING (with the old trace); the restart itself is asynchronous.
    // A PAUSED or STOPPED connector's plan restarts nothing: every state as it is.
    const active = c.state !== 'PAUSED' && c.state !== 'STOPPED';
    const restartConnector = active && (!onlyFailed || c.state === 'FAILED');
    const tasks = includeTasks && active ? c.tasks.filter((t) => !onlyFailed || t.state === 'FAILED') : [];
    const plan = this.status(
      {
        ...c,
        ...(restartConnector && { state: 'RESTARTING' }),
        tasks: c.tasks.map((t) => (tasks.includes(t) ? { ...t, state: 'RESTARTING' } : t)),
      },
      atLeast(this.kafka, 4, 4) ? 'reversed' : 'sorted',
    );
    if (restartConnector) this.restartInstance(c);
    for (const t of tasks) this.restartTask(c, t);
    return [202, plan];
  }

  /**
   * A restart brings an instance back to RUNNING unless the test or demo keeps it failing (`sticky`). Returns
   * false when a synchronous restart failed again in start(). A PAUSED or STOPPED connector stays as it is.
   */
  private restartInstance(c: SimConnector, synchronous = false): boolean {
    // Only a plain restart waits for start() and answers its failure; KIP-745 answers the plan first.
    const fails = synchronous && !!c.sticky && c.state === 'FAILED';
    this.restarts.push({ connector: c.name, ...(fails && { failed: true }) });
    if (!c.sticky && c.state !== 'PAUSED' && c.state !== 'STOPPED') {
      c.state = 'RUNNING';
      delete c.trace;
    }
    return !fails;
  }

  private restartTask(c: SimConnector, t: SimTask): void {
    this.restarts.push({ connector: c.name, taskId: t.id });
    if (!t.sticky && c.state !== 'PAUSED') {
      t.state = 'RUNNING';
      delete t.trace;
    }
  }
}

/** Connect keeps a trace on a FAILED status, and on what a restart plan shows RESTARTING. */
function traced(state: string): boolean {
  return state === 'FAILED' || state === 'RESTARTING';
}

function notFound(message: string): [number, unknown] {
  return [404, { error_code: 404, message }];
}

function matches(pattern: string | RegExp, path: string): boolean {
  return typeof pattern === 'string' ? pattern === path : pattern.test(path);
}

function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
