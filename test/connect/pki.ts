/**
 * A private CA for the Connect REST listener over https (mTLS), made at test time with the project's test PKI
 * (test/fakes/tls.ts, npm `selfsigned`): a certificate per worker (server and client use: workers forward
 * requests to each other with it), one client certificate for the monitor, and the Java stores the workers
 * read. openssl makes the PKCS12 keystores (keytool cannot import a PEM key); keytool the truststore (openssl
 * cannot mark a certificate as trusted for Java).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pem, issueCertificate, makeCertificateAuthority } from '../fakes/tls';
import { type Jdk, PrerequisiteError, run } from './jars';

export interface ClusterTls {
  /** PEM of the CA that issued the workers' and the client's certificates (KAFKA_CONNECT_CA_CERT). */
  readonly ca: string;
  /** The CA's key, to issue more certificates in a test (e.g. a client the workers should refuse). */
  readonly caKey: string;
  /** PEM client certificate and its unencrypted PKCS#8 key (KAFKA_CONNECT_CLIENT_CERT / _KEY). */
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface WorkerStores {
  readonly keystore: string;
  readonly truststore: string;
  readonly password: string;
}

/** Makes the CA, `workers` server certificates with their PKCS12 keystores, a truststore, and a client certificate. */
export async function makeClusterPki(dir: string, workers: number, jdk: Jdk): Promise<{ tls: ClusterTls; stores: WorkerStores[] }> {
  const ca = await makeCertificateAuthority('kc-monitor test Connect CA');
  const password = randomBytes(12).toString('hex');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  const truststore = join(dir, 'truststore.p12');
  await tool(jdk.keytool, ['-importcert', '-noprompt', '-alias', 'ca', '-file', join(dir, 'ca.pem'), '-keystore', truststore, '-storetype', 'PKCS12', '-storepass', password]);
  const stores: WorkerStores[] = [];
  for (let i = 1; i <= workers; i++) {
    stores.push({ keystore: await keystore(dir, `worker-${i}`, await issueCertificate(ca, `connect-worker-${i}`), ca, password), truststore, password });
  }
  const client = await issueCertificate(ca, 'kc-monitor');
  return { tls: { ca: ca.cert, caKey: ca.key, clientCert: client.cert, clientKey: client.key }, stores };
}

async function keystore(dir: string, name: string, leaf: Pem, ca: Pem, password: string): Promise<string> {
  const [key, cert, chain, out] = ['key.pem', 'cert.pem', 'chain.pem', 'keystore.p12'].map((f) => join(dir, `${name}.${f}`)) as [string, string, string, string];
  writeFileSync(key, leaf.key, { mode: 0o600 });
  writeFileSync(cert, leaf.cert);
  writeFileSync(chain, ca.cert);
  await tool('openssl', ['pkcs12', '-export', '-in', cert, '-inkey', key, '-certfile', chain, '-name', name, '-out', out, '-passout', `pass:${password}`]);
  return out;
}

async function tool(cmd: string, args: string[]): Promise<void> {
  let result;
  try {
    result = await run(cmd, args, 60_000);
  } catch {
    throw new PrerequisiteError(`Connect over https needs ${cmd} to make the Java keystores: it is not on PATH`);
  }
  if (result.code !== 0) throw new PrerequisiteError(`${cmd} ${args[0]} failed: ${result.output.trim().split('\n')[0]}`);
}
