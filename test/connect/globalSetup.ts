import { type ConnectVersion, PrerequisiteError, startConnectCluster } from './harness';

/**
 * Starts the real cluster of the real-cluster suite once (Connect 4.x, or KC_CONNECT_VERSION=3.9) and hands
 * it to the test files as KC_CONNECT_CLUSTER (testConnectCluster() in harness.ts reads it). Without a JDK,
 * Maven or the jars the suite fails with one line saying what is missing; it never skips.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const connectVersion = (process.env.KC_CONNECT_VERSION ?? '4.x') as ConnectVersion;
  const started = Date.now();
  try {
    const cluster = await startConnectCluster({ connectVersion, workers: 2, log: (line) => process.stderr.write(`[connect] ${line}\n`) });
    process.stderr.write(`[connect] cluster up in ${Date.now() - started} ms\n`);
    process.env.KC_CONNECT_CLUSTER = JSON.stringify(cluster.info());
    return () => cluster.stop();
  } catch (err) {
    if (err instanceof PrerequisiteError) {
      // Thrown (not process.exit), so that vitest still tears down the other global setups (Azurite); the
      // error's stack is its one line, so that is what vitest prints.
      process.stderr.write(`\nreal-cluster suite cannot run: ${err.message}\n`);
    }
    throw err;
  }
}
