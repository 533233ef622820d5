import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from './fakes/azurite';
import { issueCertificate, makeCertificateAuthority } from './fakes/tls';

/**
 * One CA for the loopback https fakes, trusted by every test process through NODE_EXTRA_CA_CERTS, and one
 * Azurite for the restart history (each test uses its own cluster names, so partitions never collide).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'kc-monitor-tls-'));
  const ca = await makeCertificateAuthority('kc-monitor test CA');
  const server = await issueCertificate(ca, 'localhost');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  writeFileSync(join(dir, 'server.key'), server.key);
  writeFileSync(join(dir, 'server.pem'), server.cert);
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'ca.pem');
  process.env.KC_MONITOR_TEST_TLS = dir;
  const azurite = await startAzurite();
  process.env.KC_MONITOR_TEST_STORAGE = JSON.stringify(azurite.connectionStrings);
  return async () => {
    await azurite.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
