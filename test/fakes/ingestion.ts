import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { trustedServerTls } from './tls';

export interface Upload {
  readonly dcr: string;
  readonly stream: string;
  readonly apiVersion: string | null;
  readonly rows: Record<string, unknown>[];
  readonly gzip: boolean;
  readonly bytes: number;
}

export interface CannedAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/**
 * The Logs Ingestion API on https loopback: POST {endpoint}/dataCollectionRules/{id}/streams/{stream},
 * bearer token required, gzip bodies, 204 on success. Queue answers with `answer()` to play 400/403/413/429/5xx.
 */
export class IngestionFake {
  readonly uploads: Upload[] = [];
  readonly refused: Array<{ stream: string; status: number; rows: number }> = [];
  private readonly answers: CannedAnswer[] = [];
  /** While set, every request gets this answer (an outage), after the queued ones. */
  down: CannedAnswer | undefined;
  /** Requests answered, including refused ones. */
  requests = 0;
  /** Each request is accepted at once and answered this long after (a slow endpoint). */
  delayMs = 0;
  /** Requests never get through: not accepted, never answered (an endpoint that hangs). */
  hang = false;
  /** Requests whose client gave up before the answer. */
  abandoned = 0;
  private server: Server | undefined;

  constructor(private readonly expectedToken: string) {}

  /** The next requests get these answers, in order; then 204 again. */
  answer(...answers: CannedAnswer[]): this {
    this.answers.push(...answers);
    return this;
  }

  clearAnswers(): void {
    this.answers.length = 0;
  }

  rows(stream: string): Record<string, unknown>[] {
    return this.uploads.filter((u) => u.stream === stream).flatMap((u) => u.rows);
  }

  async start(): Promise<string> {
    const tls = trustedServerTls();
    this.server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `https://localhost:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      // A request that never gets through (a black hole): nothing is accepted, nothing answered.
      if (this.hang) return void res.on('close', () => this.abandoned++);
      const url = new URL(req.url ?? '/', 'https://fake');
      const m = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) return json(res, 404, { error: { code: 'NotFound', message: 'no such route' } });
      if (req.headers.authorization !== `Bearer ${this.expectedToken}`) {
        return json(res, 401, { error: { code: 'InvalidToken', message: 'The authentication token is missing or invalid.' } });
      }
      const raw = Buffer.concat(chunks);
      const gzip = req.headers['content-encoding'] === 'gzip';
      const rows = JSON.parse((gzip ? gunzipSync(raw) : raw).toString('utf8')) as Record<string, unknown>[];
      const stream = decodeURIComponent(m[2]!);
      this.requests++;
      const canned = this.answers.shift() ?? this.down;
      if (canned && canned.status !== 204) {
        this.refused.push({ stream, status: canned.status, rows: rows.length });
        return json(res, canned.status, canned.body ?? { error: { code: 'Error', message: `canned ${canned.status}` } }, canned.headers);
      }
      this.uploads.push({
        dcr: decodeURIComponent(m[1]!),
        stream,
        apiVersion: url.searchParams.get('api-version') ?? url.searchParams.get('api%2Dversion'),
        rows,
        gzip,
        bytes: raw.length,
      });
      // Accepted on receipt, as the service does; only the answer is late. A client that gives up meanwhile
      // has had its rows accepted all the same (and sends them twice if it replays them).
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (res.destroyed || req.socket.destroyed) return void this.abandoned++;
      res.writeHead(204).end();
    });
  }
}

/** The App Service managed identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER) on http loopback. */
export class ManagedIdentityFake {
  readonly requests: URL[] = [];
  failWith: number | undefined;
  private server: Server | undefined;

  constructor(
    readonly token: string,
    readonly header: string,
  ) {}

  async start(): Promise<string> {
    this.server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://identity');
      this.requests.push(url);
      if (req.headers['x-identity-header'] !== this.header) return json(res, 401, { error: 'missing X-IDENTITY-HEADER' });
      if (this.failWith) return json(res, this.failWith, { error: 'invalid_request', error_description: 'Identity not found' });
      const expiresOn = Math.floor(Date.now() / 1000) + 3600;
      json(res, 200, { access_token: this.token, expires_on: String(expiresOn), resource: url.searchParams.get('resource'), token_type: 'Bearer' });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/msi/token`;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
