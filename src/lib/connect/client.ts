import { Agent } from 'undici';
import type { ClusterConfig } from '../config';
import { ConnectError, type ConnectFailure } from '../errors';
import { clip } from '../redact';

/** Well under the function timeout and the 5-minute schedule; Connect itself gives up on a request after 90 s. */
export interface ConnectTimeouts {
  readonly connectMs: number;
  readonly headersMs: number;
  readonly bodyMs: number;
  /**
   * The largest response read (default 128 MiB): a proxy that streams garbage must not exhaust the function's
   * memory. 5,000 simulated connectors expanded are ~4 MB; real configs of 1–3 KB make it several times that.
   */
  readonly maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUTS: ConnectTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 30_000 };

const MAX_RESPONSE_BYTES = 128 * 1024 * 1024;

/** How the detail of a BAD_RESPONSE over the cap begins: the read falls back to one request per connector. */
export const TOO_LARGE = 'response larger than';

export interface ConnectResponse {
  readonly status: number;
  /** Parsed JSON, or undefined for an empty body (204). */
  readonly body: unknown;
}

/**
 * One Kafka Connect cluster's REST API over undici: one Agent with the cluster's TLS settings and explicit
 * timeouts, basic auth on every request, and every failure turned into a ConnectError that says what came back.
 */
export class ConnectClient {
  private readonly agent: Agent;
  private readonly authorization: string | undefined;
  private readonly secrets: readonly string[];
  private readonly origin: string;
  /** A path prefix of the cluster URL (a gateway in front of Connect), without its trailing slash. */
  private readonly basePath: string;
  /** Requests sent, for the tick summary and the benchmark. */
  requests = 0;
  /** Time spent waiting on POSTs (restarts), added up: what healing costs in the Connect API's own latency. */
  postMs = 0;

  constructor(
    readonly cluster: ClusterConfig,
    private readonly timeouts: ConnectTimeouts = DEFAULT_TIMEOUTS,
  ) {
    this.agent = new Agent({
      // TLS verification stays on: there is deliberately no setting to turn it off. A private CA goes in caCert.
      connect: {
        timeout: timeouts.connectMs,
        // Explicit, so that not even NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment can turn it off.
        rejectUnauthorized: true,
        ...(cluster.caCert && { ca: cluster.caCert }),
        ...(cluster.clientCert && { cert: cluster.clientCert }),
        ...(cluster.clientKey && { key: cluster.clientKey }),
      },
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
      maxResponseSize: timeouts.maxResponseBytes ?? MAX_RESPONSE_BYTES,
      connections: 16,
    });
    this.authorization = cluster.username
      ? `Basic ${Buffer.from(`${cluster.username}:${cluster.password ?? ''}`).toString('base64')}`
      : undefined;
    this.secrets = [cluster.password, this.authorization].filter((s): s is string => !!s);
    const url = new URL(cluster.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
  }

  get name(): string {
    return this.cluster.name;
  }

  /** GET and parse JSON; any non-2xx status is a ConnectError. */
  async get(path: string, signal?: AbortSignal): Promise<unknown> {
    return (await this.send('GET', path, signal)).body;
  }

  async post(path: string, signal?: AbortSignal): Promise<ConnectResponse> {
    const started = performance.now();
    try {
      return await this.send('POST', path, signal);
    } finally {
      this.postMs += performance.now() - started;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<ConnectResponse> {
    try {
      return await this.once(method, path, signal);
    } catch (err) {
      // A kept-alive socket the server already closed fails before any response: one retry on a fresh one.
      if (method === 'GET' && err instanceof ConnectError && err.kind === 'UNREACHABLE' && !err.status && !signal?.aborted) {
        return this.once(method, path, signal);
      }
      throw err;
    }
  }

  private async once(method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<ConnectResponse> {
    // The path as sent, gateway prefix included: what to look for in the gateway's and the worker's logs.
    const fail = (kind: ConnectFailure, detail: string, status?: number) =>
      new ConnectError(this.name, kind, method, `${this.basePath}${path}`, `${clip(detail, 240, this.secrets)}${whatToCheck(kind, detail, this.cluster)}`, status);
    this.requests++;
    let status: number | undefined;
    let contentType: string;
    let text: string;
    try {
      // The path goes as written, not through a URL parser: WHATWG URLs resolve `.` and `..` (and `%2E`) as
      // dot segments, and a connector named `..` would turn `/connectors/../restart` into `POST /restart`.
      const res = await this.agent.request({
        origin: this.origin,
        path: `${this.basePath}${path}`,
        method,
        headers: { accept: 'application/json', ...(this.authorization && { authorization: this.authorization }) },
        ...(signal && { signal }),
      });
      status = res.statusCode;
      contentType = String(res.headers['content-type'] ?? '');
      text = await res.body.text();
    } catch (err) {
      // The tick's deadline (AbortSignal.timeout rejects with a TimeoutError, not an AbortError).
      if (signal?.aborted) throw fail('ABORTED', 'the tick deadline passed', status);
      const [kind, detail] = describeTransportError(err, this.timeouts, status !== undefined, this.cluster);
      throw fail(kind, detail, status);
    }

    if (status < 200 || status > 299) throw fail(statusFailure(status), bodyDetail(text, contentType) || 'empty body', status);
    if (text.length === 0) return { status, body: undefined };
    try {
      return { status, body: JSON.parse(text) as unknown };
    } catch {
      const looksCut = /^\s*[[{]/.test(text);
      throw fail(
        'BAD_RESPONSE',
        looksCut
          ? `truncated or malformed JSON (${text.length} chars received)`
          : `expected JSON, got ${contentType || 'no content-type'}: ${bodyDetail(text, contentType)}`,
        status,
      );
    }
  }
}

/**
 * `/connectors/{name}` for any connector name. A name of only dots stays as it is: a real worker takes a raw
 * `.` or `..` segment as the name (Jetty 9 and 12 alike), while Jetty 12 (Kafka 4.x) refuses `%2E` with 400
 * "Ambiguous URI path segment". The client sends the path as written, so nothing resolves it as a dot segment.
 */
export function connectorPath(name: string): string {
  return `/connectors/${encodeURIComponent(name)}`;
}

function statusFailure(status: number): ConnectFailure {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status >= 500) return 'SERVER_ERROR';
  return 'BAD_RESPONSE';
}

/**
 * Connect answers {"error_code","message"}; its auth filter plain text; proxies HTML. Never assume JSON.
 * Not cut here: `clip` redacts the whole message before it cuts.
 */
function bodyDetail(text: string, contentType: string): string {
  if (text.trimStart().startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all: fall through to text
    }
  }
  // A few KB say what went wrong; the regexes below must not meet a 200 KB page of unclosed `<`.
  const trimmed = text.slice(0, 8_192).trim();
  if (contentType.includes('html') || /^<(!doctype|html)/i.test(trimmed)) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(trimmed)?.[1];
    const visible = (title ?? trimmed.replace(/<[^>]*>/g, ' ')).trim();
    return `HTML page: ${visible}`;
  }
  return trimmed;
}

/** The setting to look at, by name (never its value), for failures that a setting fixes. */
function whatToCheck(kind: ConnectFailure, detail: string, cluster: ClusterConfig): string {
  const from = cluster.sources ?? { username: 'KAFKA_CONNECT_USERNAME', password: 'KAFKA_CONNECT_PASSWORD', caCert: 'KAFKA_CONNECT_CA_CERT', clientCert: 'KAFKA_CONNECT_CLIENT_CERT' };
  const credentials = `${from.username} and ${from.password}`;
  switch (kind) {
    case 'UNAUTHORIZED':
      return cluster.username ? ` (check ${credentials})` : ` (the cluster wants basic auth: set ${credentials})`;
    case 'FORBIDDEN':
      return cluster.username ? ` (the user in ${from.username} may not do this: grant it on the Connect side)` : ` (set ${credentials})`;
    case 'TLS_ERROR':
      if (/SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY_LEAF)|CERT_UNTRUSTED|CERT_SIGNATURE/.test(detail)) {
        return cluster.caCert ? ` (${from.caCert} is set but is not the CA that signed the server's certificate)` : ` (trust the server's CA: put its PEM in ${from.caCert})`;
      }
      if (/ALTNAME|HOSTNAME_MISMATCH/.test(detail)) return " (the URL's host name is not in the server's certificate: use a name it was issued for)";
      if (/EXPIRED/.test(detail)) return " (the server's certificate has expired)";
      if (/client certificate/.test(detail)) return cluster.clientCert ? ` (check ${from.clientCert})` : ` (set ${from.clientCert} and its key)`;
      return '';
    default:
      return '';
  }
}

function mib(bytes: number): string {
  return bytes >= 1_048_576 ? `${+(bytes / 1_048_576).toFixed(1)} MiB` : `${+(bytes / 1024).toFixed(1)} KiB`;
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$|HOSTNAME_MISMATCH)/;

/** Maps undici's and Node's error codes (stable, unlike messages) to a failure an operator can act on. */
function describeTransportError(err: unknown, timeouts: ConnectTimeouts, gotHeaders: boolean, cluster: ClusterConfig): [ConnectFailure, string] {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string }; socket?: { bytesRead?: number } };
  const code = e.code ?? '';
  const causeCode = e.cause?.code ?? '';
  const message = e.message ?? String(err);
  if (e.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return ['ABORTED', 'the tick deadline passed'];
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return ['TIMEOUT', `no connection within ${timeouts.connectMs / 1000} s`];
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return ['TIMEOUT', `no response within ${timeouts.headersMs / 1000} s`];
  if (code === 'UND_ERR_BODY_TIMEOUT') return ['TIMEOUT', `response body stalled for ${timeouts.bodyMs / 1000} s`];
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return ['BAD_RESPONSE', `${TOO_LARGE} ${mib(timeouts.maxResponseBytes ?? MAX_RESPONSE_BYTES)}`];
  for (const c of [code, causeCode]) {
    if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return ['DNS_FAILURE', `cannot resolve the host name (${c}); check the URL's host name (in Azure: the private DNS zone and its link to the VNet)`];
    if (TLS_CODES.test(c)) return ['TLS_ERROR', `${c}: ${e.cause?.message ?? message}`];
  }
  if (/certificate|ssl|tls|handshake/i.test(message)) return ['TLS_ERROR', message];
  if (gotHeaders) return ['BAD_RESPONSE', `response cut off (${code || message})`];
  // With TLS 1.3 the server checks the client certificate after the client thinks the handshake is done:
  // a refused (or missing) certificate shows up only as the connection closing before any byte comes back.
  if (code === 'UND_ERR_SOCKET' && cluster.url.startsWith('https:') && e.socket?.bytesRead === 0) {
    return [
      'TLS_ERROR',
      cluster.clientCert
        ? 'the server closed the TLS connection before answering: was the client certificate rejected?'
        : 'the server closed the TLS connection before answering: does it require a client certificate (mTLS)?',
    ];
  }
  const reason = code === 'ECONNREFUSED' ? 'connection refused' : code === 'UND_ERR_SOCKET' ? 'connection closed by the server' : message;
  return ['UNREACHABLE', `${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`];
}
