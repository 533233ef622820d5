import { rmSync } from 'node:fs';
import { startAzurite } from './fakes/azurite';
import { writeTrustedServerTls } from './fakes/tls';

/**
 * One CA for the loopback https fakes, trusted by every test process through NODE_EXTRA_CA_CERTS, and one
 * Azurite for the restart history (each test uses its own cluster names, so partitions never collide).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const { dir, caPath } = await writeTrustedServerTls('kc-monitor-test');
  process.env.NODE_EXTRA_CA_CERTS = caPath;
  const azurite = await startAzurite();
  process.env.KC_MONITOR_TEST_STORAGE = JSON.stringify(azurite.connectionStrings);
  return async () => {
    await azurite.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
