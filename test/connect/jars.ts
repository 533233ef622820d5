/**
 * The Java side of the real-cluster harness: finds the JDK and Maven, resolves the Kafka jars from Maven
 * Central (test/connect/pom.xml) into test/connect/.jars/<set>/, and compiles the test plugin into a jar.
 * Both are cached there: a complete folder (its stamp matches the pom) is never copied again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

export type ConnectVersion = '4.x' | '3.9';

/**
 * A missing JDK, Maven or openssl, or jars that cannot be resolved: one line that says what is missing.
 * The stack is the message alone, so that vitest and the scripts print one line, not a trace.
 */
export class PrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrerequisiteError';
    this.stack = `${this.name}: ${message}`;
  }
}

/** The project root: the folder holding test/connect/pom.xml, found from here (vitest) or from a dist bundle. */
export function projectRoot(): string {
  const starts = [typeof __dirname === 'string' ? __dirname : undefined, process.cwd()].filter((d): d is string => !!d);
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'test', 'connect', 'pom.xml'))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new PrerequisiteError(`cannot find test/connect/pom.xml above ${starts.join(' or ')}: run from the project folder`);
}

export const CONNECT_DIR = (): string => join(projectRoot(), 'test', 'connect');
export const JARS_DIR = (): string => join(CONNECT_DIR(), '.jars');

export interface Jdk {
  readonly home: string;
  readonly java: string;
  readonly javac: string;
  readonly jar: string;
  readonly keytool: string;
  /** Feature release, e.g. 17. */
  readonly feature: number;
  readonly version: string;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The JDK to run Kafka with: `javaHome` when given, else JAVA_HOME, else the `java` on PATH (through its
 * symlinks, to find javac, jar and keytool beside it). Kafka 4.x needs Java 17 for the broker and Connect.
 */
export function findJdk(javaHome = process.env.KC_CONNECT_JAVA_HOME || process.env.JAVA_HOME): Jdk {
  let bin: string;
  if (javaHome) {
    bin = join(javaHome, 'bin');
    if (!existsSync(join(bin, 'java'))) throw new PrerequisiteError(`real Kafka Connect needs a JDK 17+: no bin/java in ${javaHome}`);
  } else {
    const java = onPath('java');
    if (!java) throw new PrerequisiteError('real Kafka Connect needs a JDK 17+ (java, javac): `java` is not on PATH and JAVA_HOME is not set');
    bin = dirname(realpathSync(java));
  }
  const tool = (name: string): string => {
    const file = join(bin, name);
    if (!existsSync(file)) throw new PrerequisiteError(`real Kafka Connect needs a JDK 17+, not a JRE: no ${name} in ${bin}`);
    return file;
  };
  const java = tool('java');
  const out = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const version = /version "([^"]+)"/.exec(`${out.stderr}${out.stdout}`)?.[1] ?? '';
  const feature = Number(/^(?:1\.)?(\d+)/.exec(version)?.[1] ?? 0);
  if (feature < 17) throw new PrerequisiteError(`real Kafka Connect needs a JDK 17+: ${java} is ${version || 'unreadable'}`);
  return { home: dirname(bin), java, javac: tool('javac'), jar: tool('jar'), keytool: tool('keytool'), feature, version };
}

export function findMaven(): string {
  const mvn = process.env.KC_CONNECT_MVN || onPath('mvn');
  if (!mvn) throw new PrerequisiteError('real Kafka Connect needs Maven to fetch its jars from Maven Central: `mvn` is not on PATH');
  return mvn;
}

const PROFILES: Record<ConnectVersion, { profile: string; mustHave: RegExp[] }> = {
  '4.x': { profile: 'kafka-4', mustHave: [/^kafka_2\.13-[\d.]+\.jar$/, /^connect-runtime-[\d.]+\.jar$/, /^log4j-slf4j2?-impl-/] },
  '3.9': { profile: 'connect-3.9', mustHave: [/^connect-runtime-3\.9\.[\d.]+\.jar$/, /^slf4j-reload4j-/] },
};

/** -Dkafka4.version=… for the 4.x set, from KC_CONNECT_KAFKA4_VERSION (to try another 4.x than the pom's). */
function mavenOverrides(set: ConnectVersion): string[] {
  const v = process.env.KC_CONNECT_KAFKA4_VERSION;
  return set === '4.x' && v ? [`-Dkafka4.version=${v}`] : [];
}

export interface ResolveOptions {
  readonly log?: (line: string) => void;
  /** Maven's whole run, cold (default 15 minutes): a stuck download fails instead of hanging CI. */
  readonly timeoutMs?: number;
}

/**
 * The folder of one jar set, resolved with `mvn -q -B dependency:copy-dependencies` unless already complete.
 * Copies into a scratch folder and renames it into place, so an interrupted run never looks complete.
 */
export async function resolveJars(set: ConnectVersion, options: ResolveOptions = {}): Promise<string> {
  const pom = join(CONNECT_DIR(), 'pom.xml');
  const dir = join(JARS_DIR(), set);
  const overrides = mavenOverrides(set);
  const stamp = createHash('sha256').update(readFileSync(pom)).update(PROFILES[set].profile).update(overrides.join(' ')).digest('hex');
  const stampFile = join(dir, '.complete');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return dir;

  const mvn = findMaven();
  findJdk(); // Maven runs on it: say so now rather than through Maven's own message
  mkdirSync(JARS_DIR(), { recursive: true });
  const scratch = mkdtempSync(join(JARS_DIR(), `.${set}-`));
  options.log?.(`resolving the Kafka ${set} jars from Maven Central (cached in ${dir}) …`);
  const args = ['-q', '-B', '-Dstyle.color=never', '-f', pom, '-P', PROFILES[set].profile, ...overrides, 'dependency:copy-dependencies', `-DoutputDirectory=${scratch}`];
  const { code, output } = await run(mvn, args, options.timeoutMs ?? 15 * 60_000);
  if (code !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    const why = output.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('[ERROR]') || /Could not|Failed/.test(l))[0] ?? output.trim().split('\n').pop();
    throw new PrerequisiteError(`mvn could not resolve the Kafka ${set} jars (${code === null ? 'timed out' : `exit ${code}`}): ${why ?? 'no output'}`);
  }
  const names = readdirSync(scratch);
  const missing = PROFILES[set].mustHave.filter((re) => !names.some((n) => re.test(n)));
  if (missing.length) {
    rmSync(scratch, { recursive: true, force: true });
    throw new PrerequisiteError(`the Kafka ${set} jars resolved without ${missing.map(String).join(', ')}: check test/connect/pom.xml`);
  }
  writeFileSync(join(scratch, '.complete'), `${stamp}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(scratch, dir);
  return dir;
}

/** The version of a jar in a set, from its file name (e.g. kafka_2.13 → 4.4.0). */
export function jarVersion(dir: string, artifact: string): string | undefined {
  const re = new RegExp(`^${artifact.replace(/[.]/g, '\\.')}-(\\d[\\w.-]*)\\.jar$`);
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m) return m[1];
  }
  return undefined;
}

const PLUGIN_SOURCE = (): string => join(CONNECT_DIR(), 'plugin', 'TroubleSourceConnector.java');
/** Lets the workers find the connector with plugin.discovery=service_load (no reflective classpath scan). */
const SERVICE_FILE = 'META-INF/services/org.apache.kafka.connect.source.SourceConnector';
export const PLUGIN_CLASS = 'kcmonitor.test.TroubleSourceConnector';

/**
 * The test plugin compiled against one jar set's connect-api, as a jar for the workers' classpath. Cached by
 * the hash of its source and the set, under test/connect/.jars/plugin/.
 */
export async function pluginJar(set: ConnectVersion, jarsDir: string, jdk: Jdk): Promise<string> {
  const source = readFileSync(PLUGIN_SOURCE());
  const hash = createHash('sha256').update(source).update(readFileSync(join(jarsDir, '.complete'))).digest('hex').slice(0, 12);
  const out = join(JARS_DIR(), 'plugin', `trouble-${set}-${hash}.jar`);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const work = mkdtempSync(join(dirname(out), '.build-'));
  try {
    const classes = join(work, 'classes');
    // --release 17: the jar runs on every JDK the harness accepts.
    const javac = await run(jdk.javac, ['--release', '17', '-nowarn', '-cp', join(jarsDir, '*'), '-d', classes, PLUGIN_SOURCE()], 120_000);
    if (javac.code !== 0) throw new PrerequisiteError(`javac could not compile the test plugin: ${javac.output.trim().split('\n')[0]}`);
    mkdirSync(join(classes, dirname(SERVICE_FILE)), { recursive: true });
    writeFileSync(join(classes, SERVICE_FILE), `${PLUGIN_CLASS}\n`);
    const tmp = join(work, 'plugin.jar');
    const jar = await run(jdk.jar, ['--create', '--file', tmp, '-C', classes, '.'], 60_000);
    if (jar.code !== 0) throw new PrerequisiteError(`jar could not package the test plugin: ${jar.output.trim().split('\n')[0]}`);
    renameSync(tmp, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs a tool to completion with its output captured (printed only when it fails); null code = timed out. */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PrerequisiteError(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // eslint-disable-next-line no-control-regex -- Maven's jansi prints colour resets even with -B
      resolve({ code: signal ? null : code, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}
