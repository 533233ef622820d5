import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { atLeast, parseKafkaVersion } from '../connect/version';

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
  sticky?: boolean;
  tasks: SimTask[];
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

export class ConnectSimulator {
  readonly connectors = new Map<string, SimConnector>();
  readonly faults: SimFault[] = [];
  readonly requests: SimRequest[] = [];
  readonly restarts: SimRestart[] = [];
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
      const task = connector?.tasks.find((t) => String(t.id) === parts[3]);
      return task ? [200, taskJson(task)] : notFound(`No status found for task ${name}-${parts[3]}`);
    }
    if (parts.length === 5 && parts[2] === 'tasks' && parts[4] === 'restart' && method === 'POST') {
      const task = connector?.tasks.find((t) => String(t.id) === parts[3]);
      if (!connector) return notFound(`Unknown connector: ${name}`);
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

  private status(c: SimConnector): unknown {
    return {
      name: c.name,
      connector: { state: c.state, worker_id: c.workerId, ...(c.trace && { trace: c.trace }) },
      tasks: [...c.tasks].sort((a, b) => a.id - b.id).map(taskJson),
      type: c.type,
    };
  }

  private info(c: SimConnector): unknown {
    return { name: c.name, config: { ...c.config, name: c.name }, tasks: c.tasks.map((t) => ({ connector: c.name, task: t.id })), type: c.type };
  }

  /** Before 3.0 the query is ignored and only the Connector instance restarts (204); from 3.0 a 202 plan. */
  private restartConnector(c: SimConnector | undefined, name: string, query: URLSearchParams): [number, unknown] {
    if (!c) return notFound(`Unknown connector: ${name}`);
    const includeTasks = query.get('includeTasks') === 'true';
    const onlyFailed = query.get('onlyFailed') === 'true';
    if (!atLeast(this.kafka, 3, 0) || (!includeTasks && !onlyFailed)) {
      this.restartInstance(c);
      return [204, undefined];
    }
    // The 202 plan shows what will restart as RESTARTING (with the old trace); the restart itself is asynchronous.
    const restartConnector = !onlyFailed || c.state === 'FAILED';
    const tasks = includeTasks ? c.tasks.filter((t) => !onlyFailed || t.state === 'FAILED') : [];
    const plan = this.status({
      ...c,
      ...(restartConnector && { state: 'RESTARTING' }),
      tasks: c.tasks.map((t) => (tasks.includes(t) ? { ...t, state: 'RESTARTING' } : t)),
    });
    if (restartConnector) this.restartInstance(c);
    for (const t of tasks) this.restartTask(c, t);
    return [202, plan];
  }

  /** A restart brings an instance back to RUNNING unless the test or demo keeps it failing (`sticky`). */
  private restartInstance(c: SimConnector): void {
    this.restarts.push({ connector: c.name });
    if (!c.sticky) {
      c.state = 'RUNNING';
      delete c.trace;
    }
  }

  private restartTask(c: SimConnector, t: SimTask): void {
    this.restarts.push({ connector: c.name, taskId: t.id });
    if (!t.sticky) {
      t.state = 'RUNNING';
      delete t.trace;
    }
  }
}

function taskJson(t: SimTask): unknown {
  return { id: t.id, state: t.state, worker_id: t.workerId, ...(t.trace && { trace: t.trace }) };
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
