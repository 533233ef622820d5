import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Storage accounts made for the run (AZURITE_ACCOUNTS), so no key lives in the repository. Test files that
 * spool or replay rows get an account of their own: one file's spooled rows never reach another's sink.
 */
export const ACCOUNTS = ['kcmshared', 'kcmcli', 'kcmfunction', 'kcmoutage', 'kcmfaults', 'kcmcanary', 'kcmspare', 'kcmreplay', 'kcmsoak'] as const;
export type TestAccount = (typeof ACCOUNTS)[number];

export interface Azurite {
  readonly connectionStrings: Record<TestAccount, string>;
  stop(): Promise<void>;
}

/** Starts Azurite's Blob and Table services (the npm package, in memory, no telemetry) on free loopback ports. */
export async function startAzurite(): Promise<Azurite> {
  const [blobPort, queuePort, port] = [await freePort(), await freePort(), await freePort()];
  // In memory, but Azurite still writes a debug log to its working directory: give it a throwaway one.
  const workspace = mkdtempSync(join(tmpdir(), 'kc-monitor-azurite-'));
  // From the project root, so that the bench's CommonJS bundle (no import.meta there) finds it as vitest does.
  const main = createRequire(join(process.cwd(), 'package.json')).resolve('azurite/dist/src/azurite.js');
  const keys = ACCOUNTS.map(() => randomBytes(64).toString('base64'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      main,
      ...['--blobHost', '127.0.0.1', '--blobPort', String(blobPort), '--queueHost', '127.0.0.1', '--queuePort', String(queuePort)],
      ...['--tableHost', '127.0.0.1', '--tablePort', String(port)],
      ...['--inMemoryPersistence', '--disableTelemetry', '--silent', '--skipApiVersionCheck'],
    ],
    { stdio: 'ignore', cwd: workspace, env: { ...process.env, AZURITE_ACCOUNTS: ACCOUNTS.map((a, i) => `${a}:${keys[i]}`).join(';') } },
  );
  // An interrupted run (Ctrl-C, SIGTERM) must not leave Azurite or its folder behind.
  const cleanUp = () => {
    child.kill();
    rmSync(workspace, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (cleanUp(), process.exit(130)));
  await Promise.all([waitForPort(port, 15_000), waitForPort(blobPort, 15_000)]);
  return {
    connectionStrings: Object.fromEntries(
      ACCOUNTS.map((a, i) => [
        a,
        `DefaultEndpointsProtocol=http;AccountName=${a};AccountKey=${keys[i]};BlobEndpoint=http://127.0.0.1:${blobPort}/${a};TableEndpoint=http://127.0.0.1:${port}/${a};`,
      ]),
    ) as Record<TestAccount, string>,
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

/** A connection string to the Azurite started by test/globalSetup.ts. */
export function testStorage(account: TestAccount = 'kcmshared'): string {
  const all = process.env.KC_MONITOR_TEST_STORAGE;
  if (!all) throw new Error('KC_MONITOR_TEST_STORAGE is not set: run the tests through vitest (test/globalSetup.ts)');
  return (JSON.parse(all) as Record<TestAccount, string>)[account];
}
