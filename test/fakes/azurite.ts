import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ACCOUNT = 'kcmonitortest';

export interface Azurite {
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** Starts Azurite's Table service (the npm package, in memory, no telemetry) on a free loopback port. */
export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  // In memory, but Azurite still writes a debug log to its working directory: give it a throwaway one.
  const workspace = mkdtempSync(join(tmpdir(), 'kc-monitor-azurite-'));
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/table/main.js');
  // An account made for this run (AZURITE_ACCOUNTS), so no key lives in the repository.
  const key = randomBytes(64).toString('base64');
  const child: ChildProcess = spawn(
    process.execPath,
    [main, '--tableHost', '127.0.0.1', '--tablePort', String(port), '--inMemoryPersistence', '--disableTelemetry', '--silent', '--skipApiVersionCheck'],
    { stdio: 'ignore', cwd: workspace, env: { ...process.env, AZURITE_ACCOUNTS: `${ACCOUNT}:${key}` } },
  );
  await waitForPort(port, 15_000);
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${key};TableEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`,
    stop: async () => {
      child.kill();
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Azurite did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** The connection string of the Azurite started by test/globalSetup.ts. */
export function testStorage(): string {
  const cs = process.env.KC_MONITOR_TEST_STORAGE;
  if (!cs) throw new Error('KC_MONITOR_TEST_STORAGE is not set: run the tests through vitest (test/globalSetup.ts)');
  return cs;
}
