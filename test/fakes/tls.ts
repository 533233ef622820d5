import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface Pem {
  readonly key: string;
  readonly cert: string;
}

/** A throwaway certificate authority, made at test time: no key material lives in the repository. */
export async function makeCertificateAuthority(name: string): Promise<Pem> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** A leaf certificate for localhost / 127.0.0.1, good for a server or a client. */
export async function issueCertificate(ca: Pem, commonName: string): Promise<Pem> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * Makes a CA and a localhost server certificate in a new directory, for the https fakes of a test run or a
 * bench run; sets KC_MONITOR_TEST_TLS to it and returns the CA's path (for NODE_EXTRA_CA_CERTS).
 */
export async function writeTrustedServerTls(name: string): Promise<{ dir: string; caPath: string }> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const ca = await makeCertificateAuthority(`${name} CA`);
  const server = await issueCertificate(ca, 'localhost');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  writeFileSync(join(dir, 'server.key'), server.key);
  writeFileSync(join(dir, 'server.pem'), server.cert);
  process.env.KC_MONITOR_TEST_TLS = dir;
  return { dir, caPath: join(dir, 'ca.pem') };
}

/** The CA and server certificate of writeTrustedServerTls (the CA is trusted process-wide). */
export function trustedServerTls(): Pem & { ca: string } {
  const dir = process.env.KC_MONITOR_TEST_TLS;
  if (!dir) throw new Error('KC_MONITOR_TEST_TLS is not set: run the tests through vitest (test/globalSetup.ts)');
  return {
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
  };
}
