/**
 * npm run connect:local [-- --version 3.9] [-- --https]
 *
 * A real Kafka broker and two Connect workers on loopback with a few connectors in trouble, left running
 * until Ctrl-C (which stops every JVM it started and removes their folder), to point `kc-monitor status`,
 * `kc-monitor once` or `func start` at. Needs a JDK 17+ and Maven; `npm run demo` needs neither.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConnectVersion, PLUGIN_CLASS, PrerequisiteError, startConnectCluster } from './harness';

const args = process.argv.slice(2);
const versionArg = args.includes('--version') ? args[args.indexOf('--version') + 1] : '4.x';
if (versionArg !== '4.x' && versionArg !== '3.9') {
  process.stderr.write(`connect:local: --version must be 4.x or 3.9, not ${versionArg}\n`);
  process.exit(2);
}
const connectVersion: ConnectVersion = versionArg;
const https = args.includes('--https');

async function main(): Promise<void> {
  const started = Date.now();
  const cluster = await startConnectCluster({ connectVersion, workers: 2, ...(https && { https: {} }), log: (line) => console.log(`  ${line}`) });
  const marker = join(cluster.markerDir, 'local-transient');
  writeFileSync(marker, '');
  const connectors: Record<string, Record<string, string>> = {
    'local-healthy': { 'tasks.max': '2' },
    'local-transient': { 'task.fail': 'marker', 'task.fail.marker': marker },
    'local-permanent': { 'task.fail': 'always', 'task.fail.message': 'the sink database is gone for good' },
    'local-config-exception': {
      'task.fail': 'always',
      'task.fail.class': 'org.apache.kafka.common.config.ConfigException',
      'task.fail.message': 'Invalid value jdbc:postgresql://db:5432/app?password=hunter2 for configuration connection.url',
      'task.fail.cause': 'Connection refused',
    },
    'local-connector-failed': { 'connector.fail': 'always', 'connector.fail.message': 'connector cannot reach its source' },
    'local-paused': { 'tasks.max': '2' },
  };
  for (const [name, config] of Object.entries(connectors)) {
    const res = await cluster.rest('POST', '/connectors', { body: { name, config: { 'connector.class': PLUGIN_CLASS, 'tasks.max': '1', ...config } } });
    if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${res.text}`);
  }
  const paused = await cluster.rest('PUT', '/connectors/local-paused/pause');
  if (paused.status !== 202) throw new Error(`pausing local-paused: ${paused.status} ${paused.text}`);

  const url = cluster.workers[0]!.url;
  const entry = {
    name: `local-${cluster.versions.connect}`,
    url,
    ...(cluster.tls && { caCert: cluster.tls.ca, clientCert: cluster.tls.clientCert, clientKey: cluster.tls.clientKey }),
  };
  // Single-line PEMs with literal \n, as app settings take them (README, Settings).
  const oneLine = (pem: string): string => pem.trim().replace(/\r?\n/g, '\\n');
  const envFile = join(cluster.workDir, 'kc-monitor.env');
  writeFileSync(
    envFile,
    [
      `export KAFKA_CONNECT_URL='${url}'`,
      ...(cluster.tls
        ? [
            `export KAFKA_CONNECT_CA_CERT='${oneLine(cluster.tls.ca)}'`,
            `export KAFKA_CONNECT_CLIENT_CERT='${oneLine(cluster.tls.clientCert)}'`,
            `export KAFKA_CONNECT_CLIENT_KEY='${oneLine(cluster.tls.clientKey)}'`,
          ]
        : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  console.log(`
Kafka ${cluster.versions.broker} broker on ${cluster.brokerBootstrap}, Connect ${cluster.versions.connect} workers (ready in ${Math.round((Date.now() - started) / 1000)} s):
${cluster.workers.map((w) => `  ${w.url}   (pid ${w.pid}, log ${w.logFile})`).join('\n')}

Connectors: ${Object.keys(connectors).join(', ')} (local-paused is paused).
  local-transient fails until you remove its marker, then one restart heals it:  rm ${marker}

Point the monitor at it:
  source ${envFile}
${cluster.tls ? '' : `or\n  export KAFKA_CONNECT_CLUSTERS='${JSON.stringify([entry])}'\n`}  npx kc-monitor status

Ctrl-C stops everything.`);

  // Stay up until a signal: the harness's own handler kills the JVMs and removes the folder first.
  const keepAlive = setInterval(() => {}, 1 << 30);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      clearInterval(keepAlive);
      console.log('\nstopped the broker and both workers');
      process.exit(0);
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`connect:local: ${err instanceof PrerequisiteError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof PrerequisiteError ? 2 : 1);
});
