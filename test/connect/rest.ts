/**
 * A minimal REST client for the harness and the real-cluster tests, on node:http(s) rather than fetch: it
 * sends the path exactly as given. fetch (WHATWG URL) rewrites `/connectors/%2E/restart` to `/restart`, and
 * the tests need to see what Connect itself answers to such names.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ClientTls {
  readonly ca: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
}

export interface RestResponse {
  readonly status: number;
  /** The body as sent (Connect's error bodies are JSON, but a 401 from basic auth is plain text). */
  readonly text: string;
  /** The body parsed as JSON, or undefined when empty or not JSON. */
  readonly json: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly ms: number;
}

export interface RestOptions {
  readonly body?: unknown;
  readonly tls?: ClientTls;
  readonly timeoutMs?: number;
}

/** One request; `path` goes on the wire verbatim (percent-encode it yourself). Rejects only on network errors. */
export function rest(baseUrl: string, method: string, path: string, options: RestOptions = {}): Promise<RestResponse> {
  const base = new URL(baseUrl);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const started = performance.now();
  const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: `${base.pathname.replace(/\/$/, '')}${path}`,
        headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
        timeout: options.timeoutMs ?? 100_000,
        ...(options.tls && { ca: options.tls.ca, cert: options.tls.clientCert, key: options.tls.clientKey }),
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json, headers: res.headers, ms: Math.round(performance.now() - started) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${options.timeoutMs ?? 100_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `probe` until it returns a value other than undefined; throws with `what` after `timeoutMs`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
