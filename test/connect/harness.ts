/**
 * A real Apache Kafka broker (KRaft, single node) and a distributed Kafka Connect cluster on loopback, from
 * Maven Central jars (test/connect/pom.xml), for the real-cluster tests, `npm run connect:local` and the bench.
 *
 *   const cluster = await startConnectCluster({ connectVersion: '4.x', workers: 2 });
 *   await cluster.rest('GET', '/connectors?expand=status');
 *   await cluster.workers[1].stop();  …  await cluster.workers[1].start();
 *   await cluster.stop();
 *
 * Every JVM runs with its work folder on its command line and its PID in a file there: stop() and the exit and
 * signal hooks kill exactly those PIDs, also when a test process restarted a worker (attachConnectCluster).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectVersion, type Jdk, PrerequisiteError, findJdk, jarVersion, pluginJar, resolveJars, run } from './jars';
import { type ClusterTls, type WorkerStores, makeClusterPki } from './pki';
import { type RestResponse, rest } from './rest';

export { PrerequisiteError, type ConnectVersion } from './jars';
export { PLUGIN_CLASS } from './jars';
export { type ClusterTls } from './pki';
export { type RestResponse, rest, waitUntil } from './rest';

export interface ConnectClusterOptions {
  /** The workers' Connect version; the broker is always the 4.x of the pom. Default '4.x'. */
  readonly connectVersion?: ConnectVersion;
  /** Default 2. */
  readonly workers?: number;
  /** REST over https with a private CA made now; clientAuth defaults to 'required' (mTLS). */
  readonly https?: { readonly clientAuth?: 'required' | 'requested' | 'none' };
  /** Use this running broker instead of starting one (e.g. 3.9 workers beside a 4.x cluster). */
  readonly brokerBootstrap?: string;
  /** The workers' group.id, also the prefix of their internal topics (default kcm-connect-<random>). */
  readonly groupId?: string;
  /** scheduled.rebalance.max.delay.ms: how long a departed worker's tasks wait for it (default 3000; Connect's is 300000). */
  readonly rebalanceDelayMs?: number;
  readonly workerHeapMb?: number;
  readonly brokerHeapMb?: number;
  /** The JDK to run (default KC_CONNECT_JAVA_HOME, JAVA_HOME, then `java` on PATH). */
  readonly javaHome?: string;
  /** Extra or overriding worker.properties entries. */
  readonly workerProperties?: Readonly<Record<string, string>>;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Per process: broker listening, worker healthy (default 180 s: two cores, cold JIT). */
  readonly startTimeoutMs?: number;
  /** Keep the work folder after stop() (also KC_CONNECT_KEEP=1), to read the logs. */
  readonly keepWorkDir?: boolean;
}

/** What another process needs to reach and steer the cluster (JSON in KC_CONNECT_CLUSTER). */
export interface ConnectClusterInfo {
  readonly connectVersion: ConnectVersion;
  /** From the jar names: the broker's and the workers' Kafka versions. */
  readonly versions: { readonly broker?: string; readonly connect: string };
  readonly brokerBootstrap: string;
  readonly groupId: string;
  /** Removed at stop(); holds the logs (broker/broker.log, worker-N/worker.log). */
  readonly workDir: string;
  /** An empty folder for the plugin's marker files (task.fail=marker). */
  readonly markerDir: string;
  readonly workers: readonly { readonly index: number; readonly url: string; readonly workerId: string; readonly dir: string }[];
  /** Set when the REST listeners are https: what a client needs. */
  readonly tls?: ClusterTls;
  readonly rebalanceDelayMs: number;
  readonly startTimeoutMs: number;
}

export interface ConnectWorker {
  /** 1-based, as in the folder name worker-N. */
  readonly index: number;
  readonly url: string;
  /** host:port, as the status API shows it in worker_id. */
  readonly workerId: string;
  /** Its folder: worker.properties, worker.log, pid. */
  readonly dir: string;
  readonly logFile: string;
  /** The JVM's PID, or undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGTERM (a graceful leave, then SIGKILL after graceMs, default 30 s), or SIGKILL at once with kill: a crash. */
  stop(options?: { readonly kill?: boolean; readonly graceMs?: number }): Promise<void>;
  /** Starts it again (same port and worker id) and waits until GET /health is 200. */
  start(): Promise<void>;
  /** The last lines of its log. */
  logTail(lines?: number): string;
}

export interface ConnectCluster extends ConnectClusterInfo {
  readonly workers: readonly ConnectWorker[];
  /** A REST call to one worker (default the first running one), path verbatim (see rest.ts). */
  rest(method: string, path: string, options?: { readonly body?: unknown; readonly worker?: number; readonly timeoutMs?: number }): Promise<RestResponse>;
  /** The serializable part, for another process (attachConnectCluster). */
  info(): ConnectClusterInfo;
  /** Stops every JVM of the cluster and removes the work folder. Only the process that started it may. */
  stop(): Promise<void>;
}

const WORKER_HEAP_MB = 512;
const BROKER_HEAP_MB = 384;
/**
 * Serial GC and C1 only: on two cores a JVM that starts quickly and idles small matters more than peak
 * throughput; no hsperfdata files in /tmp.
 */
const JVM_FLAGS = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Djava.awt.headless=true'];

export async function startConnectCluster(options: ConnectClusterOptions = {}): Promise<ConnectCluster> {
  const log = options.log ?? (() => {});
  const connectVersion = options.connectVersion ?? '4.x';
  const count = options.workers ?? 2;
  const startTimeoutMs = options.startTimeoutMs ?? 180_000;
  const rebalanceDelayMs = options.rebalanceDelayMs ?? 3000;
  const jdk = findJdk(options.javaHome);

  const t0 = Date.now();
  const brokerJars = options.brokerBootstrap ? undefined : await resolveJars('4.x', { log });
  const workerJars = connectVersion === '4.x' && brokerJars ? brokerJars : await resolveJars(connectVersion, { log });
  const plugin = await pluginJar(connectVersion, workerJars, jdk);
  log(`jars ready in ${Date.now() - t0} ms`);

  reapOrphans();
  const workDir = mkdtempSync(join(tmpdir(), `${WORK_PREFIX}${connectVersion}-`));
  const keep = options.keepWorkDir ?? process.env.KC_CONNECT_KEEP === '1';
  writeFileSync(join(workDir, 'owner'), `${process.pid}${keep ? ' keep' : ''}`);
  const owned: Owned = { workDir, dirs: [], keep };
  ownClusters.add(owned);
  installExitHooks();
  const markerDir = join(workDir, 'markers');
  mkdirSync(markerDir);

  const processes: JavaProcess[] = [];
  try {
    let brokerBootstrap = options.brokerBootstrap;
    if (!brokerBootstrap) {
      const t1 = Date.now();
      const broker = await startBroker(workDir, brokerJars!, jdk, options.brokerHeapMb ?? BROKER_HEAP_MB, startTimeoutMs);
      owned.dirs.push(broker.proc.dir);
      processes.push(broker.proc);
      brokerBootstrap = broker.bootstrap;
      log(`broker ${jarVersion(brokerJars!, 'kafka_2.13')} on ${brokerBootstrap} in ${Date.now() - t1} ms`);
    }

    const https = options.https ? { clientAuth: options.https.clientAuth ?? 'required' } : undefined;
    const pki = https ? await makeClusterPki(mkdirp(join(workDir, 'pki')), count, jdk) : undefined;
    const groupId = options.groupId ?? `kcm-connect-${randomBytes(3).toString('hex')}`;
    const ports = await freePorts(count);
    const infos = ports.map((port, i) => {
      const index = i + 1;
      const dir = mkdirp(join(workDir, `worker-${index}`));
      const props = workerProperties({
        port,
        brokerBootstrap: brokerBootstrap!,
        groupId,
        rebalanceDelayMs,
        https: https && { clientAuth: https.clientAuth, stores: pki!.stores[i]! },
        extra: options.workerProperties ?? {},
      });
      writeFileSync(join(dir, 'worker.properties'), props);
      const logging = writeLogConfig(dir, connectVersion);
      const launch: LaunchSpec = {
        java: jdk.java,
        args: [
          `-Xms64m`,
          `-Xmx${options.workerHeapMb ?? WORKER_HEAP_MB}m`,
          ...JVM_FLAGS,
          logging,
          '-cp',
          `${join(workerJars, '*')}:${plugin}`,
          'org.apache.kafka.connect.cli.ConnectDistributed',
          join(dir, 'worker.properties'),
        ],
        log: join(dir, 'worker.log'),
      };
      writeFileSync(join(dir, 'launch.json'), JSON.stringify(launch));
      owned.dirs.push(dir);
      return { index, url: `${https ? 'https' : 'http'}://127.0.0.1:${port}`, workerId: `127.0.0.1:${port}`, dir };
    });

    const info: ConnectClusterInfo = {
      connectVersion,
      versions: { broker: brokerJars && jarVersion(brokerJars, 'kafka_2.13'), connect: jarVersion(workerJars, 'connect-runtime') ?? '?' },
      brokerBootstrap,
      groupId,
      workDir,
      markerDir,
      workers: infos,
      ...(pki && { tls: pki.tls }),
      rebalanceDelayMs,
      startTimeoutMs,
    };
    const cluster = clusterOf(info, owned, processes);
    const t2 = Date.now();
    // All at once: they join one group and the first rebalance settles them together.
    await Promise.all(cluster.workers.map((w) => w.start()));
    log(`${count} Connect ${info.versions.connect} workers ready in ${Date.now() - t2} ms: ${infos.map((w) => w.url).join(' ')}`);
    return cluster;
  } catch (err) {
    for (const p of processes) p.killSync();
    for (const dir of owned.dirs) new JavaProcess(dir).killSync();
    ownClusters.delete(owned);
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

/** The cluster a parent process started (its info()), to steer from a test process: restart a worker, call REST. */
export function attachConnectCluster(info: ConnectClusterInfo): ConnectCluster {
  return clusterOf(info, undefined, []);
}

/** The cluster of the real-cluster suite's global setup (test/connect/globalSetup.ts). */
export function testConnectCluster(): ConnectCluster {
  const text = process.env.KC_CONNECT_CLUSTER;
  if (!text) throw new Error('KC_CONNECT_CLUSTER is not set: run the real-cluster suite with `npm run test:connect`');
  return attachConnectCluster(JSON.parse(text) as ConnectClusterInfo);
}

// ---------------------------------------------------------------- the cluster object

function clusterOf(info: ConnectClusterInfo, owned: Owned | undefined, extra: JavaProcess[]): ConnectCluster {
  const tls = info.tls;
  const workers = info.workers.map((w): ConnectWorker => {
    const proc = new JavaProcess(w.dir);
    return {
      index: w.index,
      url: w.url,
      workerId: w.workerId,
      dir: w.dir,
      logFile: join(w.dir, 'worker.log'),
      get pid() {
        return proc.pid;
      },
      stop: (o = {}) => proc.stop(o.kill ? 0 : (o.graceMs ?? 30_000)),
      start: async () => {
        if (proc.pid) throw new Error(`worker ${w.index} is already running (pid ${proc.pid})`);
        proc.spawn();
        await waitHealthy(w.url, proc, info.startTimeoutMs, tls);
      },
      logTail: (n = 40) => tail(join(w.dir, 'worker.log'), n),
    };
  });
  return {
    ...info,
    workers,
    info: () => info,
    rest: (method, path, o = {}) => {
      const w = o.worker !== undefined ? workers.find((x) => x.index === o.worker) : (workers.find((x) => x.pid) ?? workers[0]);
      if (!w) throw new Error(`no worker ${o.worker}`);
      return rest(w.url, method, path, { body: o.body, tls, timeoutMs: o.timeoutMs });
    },
    stop: async () => {
      if (!owned) throw new Error('an attached cluster is stopped by the process that started it');
      // Workers first: without the broker, their shutdown would wait for it until the grace ends.
      await Promise.all(workers.map((w) => w.stop({ graceMs: 10_000 })));
      await Promise.all([...extra, ...owned.dirs.map((d) => new JavaProcess(d))].map((p) => p.stop(10_000)));
      ownClusters.delete(owned);
      if (!owned.keep) rmSync(info.workDir, { recursive: true, force: true });
    },
  };
}

async function waitHealthy(url: string, proc: JavaProcess, timeoutMs: number, tls: ClusterTls | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.pid) throw startupFailure(`the worker at ${url} exited during startup`, proc.logFile);
    try {
      // /health (3.9+, KIP-1017) is 200 once the herder has started; older workers: GET / answers at all.
      const res = await rest(url, 'GET', '/health', { tls, timeoutMs: 15_000 });
      if (res.status === 200) return;
      if (res.status === 404 && (await rest(url, 'GET', '/', { tls, timeoutMs: 15_000 })).status === 200) return;
      last = `${res.status} ${res.text.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw startupFailure(`the worker at ${url} was not healthy within ${timeoutMs} ms (last: ${last})`, proc.logFile);
}

/** Prints the end of the log that explains it (the folder is removed right after), and returns one line. */
function startupFailure(message: string, logFile: string): Error {
  process.stderr.write(`\n--- last lines of ${logFile}\n${tail(logFile, 40)}\n---\n`);
  return new Error(`real Kafka Connect did not start: ${message}`);
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------- the broker

async function startBroker(workDir: string, jars: string, jdk: Jdk, heapMb: number, timeoutMs: number): Promise<{ bootstrap: string; proc: JavaProcess }> {
  const dir = mkdirp(join(workDir, 'broker'));
  const [port, controllerPort] = (await freePorts(2)) as [number, number];
  const config = join(dir, 'server.properties');
  writeFileSync(
    config,
    properties({
      'process.roles': 'broker,controller',
      'node.id': '1',
      // A static quorum of one: formatted without --standalone (the tool rejects that combination).
      'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': join(dir, 'data'),
      'num.partitions': '1',
      // One broker: every internal topic with one replica, or it cannot be created.
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'share.coordinator.state.topic.replication.factor': '1',
      'share.coordinator.state.topic.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
    }),
  );
  const logging = writeLogConfig(dir, '4.x');
  const cp = join(jars, '*');
  const format = await run(jdk.java, [...JVM_FLAGS, logging, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', config], 120_000);
  if (format.code !== 0) throw new Error(`real Kafka Connect did not start: the storage tool failed to format ${dir}/data: ${format.output.trim().split('\n').slice(-3).join(' | ')}`);
  const launch: LaunchSpec = { java: jdk.java, args: ['-Xms64m', `-Xmx${heapMb}m`, ...JVM_FLAGS, logging, '-cp', cp, 'kafka.Kafka', config], log: join(dir, 'broker.log') };
  writeFileSync(join(dir, 'launch.json'), JSON.stringify(launch));
  const proc = new JavaProcess(dir);
  proc.spawn();
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(port))) {
    if (!proc.pid) throw startupFailure('the broker exited during startup', proc.logFile);
    if (Date.now() > deadline) {
      proc.killSync();
      throw startupFailure(`the broker did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`, proc.logFile);
    }
    await sleep(200);
  }
  return { bootstrap: `127.0.0.1:${port}`, proc };
}

/** A Kafka cluster id: 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id; // Kafka never hands out ids that look like a flag
  }
}

// ---------------------------------------------------------------- worker configuration

function workerProperties(o: {
  port: number;
  brokerBootstrap: string;
  groupId: string;
  rebalanceDelayMs: number;
  https?: { clientAuth: string; stores: WorkerStores } | undefined;
  extra: Readonly<Record<string, string>>;
}): string {
  const scheme = o.https ? 'https' : 'http';
  return properties({
    'bootstrap.servers': o.brokerBootstrap,
    'group.id': o.groupId,
    'config.storage.topic': `${o.groupId}-configs`,
    'offset.storage.topic': `${o.groupId}-offsets`,
    'status.storage.topic': `${o.groupId}-status`,
    // The default 3 on one broker kills the herder ("Uncaught exception in herder work thread, exiting").
    'config.storage.replication.factor': '1',
    'offset.storage.replication.factor': '1',
    'status.storage.replication.factor': '1',
    'offset.storage.partitions': '1',
    'status.storage.partitions': '1',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    listeners: `${scheme}://127.0.0.1:${o.port}`,
    'rest.advertised.listener': scheme,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(o.port),
    // A departed worker's tasks wait this long for it before they move (Connect's default: 5 minutes).
    'scheduled.rebalance.max.delay.ms': String(o.rebalanceDelayMs),
    // The plugin jar carries a ServiceLoader manifest: no reflective scan of the classpath at startup.
    'plugin.discovery': 'service_load',
    // Our tasks never write a record: no admin client per source task for topic creation.
    'topic.creation.enable': 'false',
    'offset.flush.interval.ms': '10000',
    ...(o.https && {
      'listeners.https.ssl.keystore.location': o.https.stores.keystore,
      'listeners.https.ssl.keystore.password': o.https.stores.password,
      'listeners.https.ssl.keystore.type': 'PKCS12',
      'listeners.https.ssl.key.password': o.https.stores.password,
      'listeners.https.ssl.truststore.location': o.https.stores.truststore,
      'listeners.https.ssl.truststore.password': o.https.stores.password,
      'listeners.https.ssl.truststore.type': 'PKCS12',
      'listeners.https.ssl.client.auth': o.https.clientAuth,
    }),
    ...o.extra,
  });
}

/**
 * Logs to stdout (the launcher sends it to the process's log file, beside JVM crash output). Client config
 * dumps and chatter are cut to WARN: with hundreds of tasks they would be most of the log.
 */
function writeLogConfig(dir: string, version: ConnectVersion): string {
  if (version === '3.9') {
    const file = join(dir, 'log4j.properties');
    writeFileSync(
      file,
      [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.org.apache.kafka.clients=WARN',
        'log4j.logger.org.apache.kafka.common=WARN',
        '',
      ].join('\n'),
    );
    return `-Dlog4j.configuration=file:${file}`;
  }
  const file = join(dir, 'log4j2.properties');
  writeFileSync(
    file,
    [
      'status = warn',
      'appender.out.type = Console',
      'appender.out.name = OUT',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.out.ref = OUT',
      'logger.clients.name = org.apache.kafka.clients',
      'logger.clients.level = WARN',
      'logger.common.name = org.apache.kafka.common',
      'logger.common.level = WARN',
      '',
    ].join('\n'),
  );
  return `-Dlog4j2.configurationFile=${file}`;
}

function properties(entries: Record<string, string>): string {
  return `${Object.entries(entries)
    .map(([k, v]) => `${k}=${v.replace(/\\/g, '\\\\')}`)
    .join('\n')}\n`;
}

// ---------------------------------------------------------------- processes, by PID

interface LaunchSpec {
  readonly java: string;
  readonly args: readonly string[];
  readonly log: string;
}

/**
 * One JVM, known by its folder: launch.json says how to start it, `pid` which process it is. Any process can
 * stop or start it; a PID is only signalled while /proc/<pid>/cmdline still names the folder, so a PID the
 * system has reused for something else is never killed.
 */
class JavaProcess {
  constructor(readonly dir: string) {}

  get logFile(): string {
    return (JSON.parse(readFileSync(join(this.dir, 'launch.json'), 'utf8')) as LaunchSpec).log;
  }

  get pid(): number | undefined {
    const file = join(this.dir, 'pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8'));
    return pid > 0 && isOurs(pid, this.dir) ? pid : undefined;
  }

  spawn(): ChildProcess {
    const spec = JSON.parse(readFileSync(join(this.dir, 'launch.json'), 'utf8')) as LaunchSpec;
    const fd = openSync(spec.log, 'a');
    // Not detached: a Ctrl-C in the terminal reaches the JVMs too, even if this process dies first.
    const child = spawn(spec.java, [...spec.args], { cwd: this.dir, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (!child.pid) throw new PrerequisiteError(`cannot start ${spec.java}`);
    writeFileSync(join(this.dir, 'pid'), String(child.pid));
    child.on('error', () => {});
    // The harness never waits on a JVM's handle: a test process or script may exit while the cluster runs.
    child.unref();
    return child;
  }

  /** SIGTERM, then SIGKILL after graceMs (0: SIGKILL at once); resolves once the process is gone. */
  async stop(graceMs: number): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    signal(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const deadline = Date.now() + graceMs;
    while (isOurs(pid, this.dir)) {
      if (Date.now() > deadline) signal(pid, 'SIGKILL');
      await sleep(100);
    }
    rmSync(join(this.dir, 'pid'), { force: true });
  }

  killSync(): void {
    const pid = this.pid;
    if (pid) signal(pid, 'SIGKILL');
  }
}

function isOurs(pid: number, dir: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A zombie (exited, not yet reaped) has an empty cmdline: gone for our purposes.
    return cmdline.includes(dir);
  } catch {
    return process.platform !== 'linux'; // no /proc: trust the PID file
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------- cleanup on exit and signals

interface Owned {
  readonly workDir: string;
  /** Process folders (broker, worker-N): their PID files are read at exit, whoever last started them. */
  readonly dirs: string[];
  readonly keep: boolean;
}

const ownClusters = new Set<Owned>();
const WORK_PREFIX = 'kc-connect-';

/**
 * The JVMs of runs whose Node process died without cleaning up (SIGKILL, OOM kill, a crashed CI step): the
 * exit hooks never ran, so the next start stops them, by the PIDs in their folders, and removes the folders.
 */
function reapOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(WORK_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: string[];
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8').split(' ');
    } catch {
      continue; // not one of ours, or being set up right now
    }
    if (alive(Number(owner[0]))) continue;
    for (const sub of readdirSync(dir)) {
      if (existsSync(join(dir, sub, 'launch.json'))) new JavaProcess(join(dir, sub)).killSync();
    }
    if (!owner.includes('keep')) rmSync(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
let hooksInstalled = false;

function killOwnedSync(): void {
  for (const owned of ownClusters) {
    for (const dir of owned.dirs) new JavaProcess(dir).killSync();
    if (!owned.keep) rmSync(owned.workDir, { recursive: true, force: true });
  }
  ownClusters.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killOwnedSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killOwnedSync();
      process.removeListener(sig, onSignal);
      // Re-raise for the default behaviour (exit), unless someone else (vitest, a script) handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------- small helpers

function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Distinct free loopback ports (held open together, so that no two are the same). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const srv = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
