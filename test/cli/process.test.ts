import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectSimulator, type SimConnector } from '../../src/lib/demo/connectSimulator';
import { testStorage } from '../fakes/azurite';
import { issueCertificate, makeCertificateAuthority } from '../fakes/tls';

/**
 * `kc-monitor` as a user runs it: the launcher in bin/ and the CLI bundled as `npm run build` bundles it,
 * spawned as its own process, against loopback servers; asserted on exit code, stdout and stderr.
 */
const SECRET = 'CANARY-proc-7d2b-password';
let home: string;
let launcher: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'kc-proc-'));
  mkdirSync(join(home, 'bin'));
  copyFileSync('bin/kc-monitor.js', join(home, 'bin', 'kc-monitor.js'));
  // As `npm run build` does: tsc to CommonJS first, so that packages resolve to their require() builds, then one bundle.
  const compiled = join(home, 'tsc');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', compiled]);
  const bundle = (name: string, external: string[] = []) =>
    build({
      entryPoints: [join(compiled, 'src', 'cli', `${name}.js`)],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
      nodePaths: [join(process.cwd(), 'node_modules')],
      external,
      outfile: join(home, 'dist', 'cli', `${name}.js`),
      logLevel: 'warning',
    });
  // The small entry that answers --help, and the CLI it loads for a command.
  await Promise.all([bundle('entry', ['./kc-monitor.js']), bundle('kc-monitor')]);
  launcher = join(home, 'bin', 'kc-monitor.js');
}, 60_000);

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI with only these settings (no developer environment leaks in), a fresh state directory by default. */
function kcMonitor(args: readonly string[], settings: Record<string, string> = {}): Promise<Ran> {
  return collect(spawn(process.execPath, [launcher, ...args], { env: baseEnv(settings), cwd: home }));
}

function baseEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
    KC_MONITOR_STATE_DIR: mkdtempSync(join(tmpdir(), 'kc-proc-state-')),
    ...settings,
  };
}

function collect(child: ChildProcess): Promise<Ran> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })));
}

/**
 * The CLI on a pseudo-terminal of `columns` columns (util-linux `script`), as an engineer at a terminal sees it.
 * A pty merges stdout and stderr: what comes back is the screen, escape codes included.
 */
function onTerminal(args: readonly string[], settings: Record<string, string>, columns: number): Promise<Ran> {
  const command = `stty cols ${columns} rows 50; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(launcher)} ${args.join(' ')}`;
  return collect(spawn('script', ['-qefc', command, '/dev/null'], { env: { ...baseEnv(settings), TERM: 'xterm' }, cwd: home }));
}

/** What a terminal shows: a redraw (carriage return, cursor to column 1, erase line) keeps the last text only. */
function screen(text: string): string[] {
  // eslint-disable-next-line no-control-regex -- the escape sequences are what is interpreted
  const plain = text.replace(/\x1b\[\d*[GK]/g, '\r').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  return plain.split(/\r?\n/).map((line) => line.split('\r').at(-1)!);
}

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

async function simulator(connectors: SimConnector[], options: ConstructorParameters<typeof ConnectSimulator>[0] = {}): Promise<{ sim: ConnectSimulator; url: string }> {
  const sim = new ConnectSimulator({ version: '3.7.0', ...options }).add(...connectors);
  const url = await sim.start();
  stops.push(() => sim.stop());
  return { sim, url };
}

/** Two connectors with a task that fails again after every restart: each restart is counted, none heals. */
function failing(): SimConnector[] {
  return ['orders', 'payments'].map((name, i) => ({
    name: `${name}-sink`,
    type: 'sink' as const,
    config: { 'connector.class': 'com.example.Sink', 'tasks.max': '2' },
    state: 'RUNNING',
    workerId: '10.0.0.1:8083',
    tasks: [
      { id: 0, state: 'RUNNING', workerId: '10.0.0.1:8083' },
      { id: 1, state: 'FAILED', workerId: '10.0.0.2:8083', trace: `org.apache.kafka.connect.errors.RetriableException: timeout ${i}`, sticky: true },
    ],
  }));
}

/** Accepts connections and never answers. */
async function blackHole(): Promise<string> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
}

describe('kc-monitor, spawned', () => {
  it('--help is answered by the small entry without loading the CLI bundle, and says what the CLI says', async () => {
    const entry = join(home, 'dist', 'cli', 'entry.js');
    const probe = `process.argv = [process.execPath, 'kc-monitor', '--help']; require(${JSON.stringify(entry)}).run(); process.stderr.write(String(Object.keys(require.cache).some((f) => f.endsWith('kc-monitor.js'))))`;
    const alone = await collect(spawn(process.execPath, ['-e', probe], { env: baseEnv({}), cwd: home }));
    expect(alone.stderr).toBe('false');
    expect(alone.stdout).toMatch(/^Usage: kc-monitor <command>/);
    // With another flag the CLI itself answers: the same text.
    const full = await kcMonitor(['--help', '--wide']);
    expect(full.code).toBe(0);
    expect(full.stdout).toBe(alone.stdout);
    // A reader that closes the pipe at once (`kc-monitor --help | true`): no stack trace, exit 0.
    const closed = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${launcher}" --help | true`], { env: baseEnv({}), cwd: home });
    const piped = await collect(closed);
    expect(piped.stderr).toBe('');
    expect(piped.code).toBe(0);
  });

  it('two overlapping `once` runs on one state directory restart each failed task once', async () => {
    const { sim, url } = await simulator(failing());
    const state = mkdtempSync(join(tmpdir(), 'kc-proc-cron-'));
    const settings = { KAFKA_CONNECT_URL: url, KC_MONITOR_STATE_DIR: state };
    const [a, b] = await Promise.all([kcMonitor(['once', '--out', join(state, 'a.ndjson')], settings), kcMonitor(['once', '--out', join(state, 'b.ndjson')], settings)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(sim.restarts.map((r) => `${r.connector}/${r.taskId}`).sort()).toEqual(['orders-sink/1', 'payments-sink/1']);
    // One run restarted both; the other read its history and waits out the backoff.
    expect([a.stderr, b.stderr].filter((e) => e.includes('healing: 2 restarted'))).toHaveLength(1);
    expect([a.stderr, b.stderr].filter((e) => e.includes('healing: 2 deferred-backoff'))).toHaveLength(1);
    const history = JSON.parse(readFileSync(join(state, 'history.json'), 'utf8')) as { clusters: Record<string, Record<string, { attempts: number }>> };
    expect(Object.values(Object.values(history.clusters)[0]!).map((h) => h.attempts)).toEqual([1, 1]);
    expect(existsSync(join(state, 'run.lock'))).toBe(false);
  });

  it('status says which history it read, and exits 5 when it could not read it', async () => {
    const { url } = await simulator(failing());
    const state = mkdtempSync(join(tmpdir(), 'kc-proc-status-'));
    const none = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, KC_MONITOR_STATE_DIR: state });
    expect(none.code).toBe(0);
    expect(none.stderr).toBe(`kc-monitor: restart history: none yet in local state ${state} (no AzureWebJobsStorage: the CLI's own, not the function's); HEALING shows what a first \`once\` would do\n`);
    expect(existsSync(join(state, 'history.json'))).toBe(false);

    const shared = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, AzureWebJobsStorage: testStorage('kcmcli') });
    expect(shared.stderr).toBe('kc-monitor: restart history: table KafkaConnectRestarts in storage account kcmcli, shared with the function\n');

    // Storage that refuses connections: the HEALING column cannot be trusted, and the exit code says so.
    const closed = await closedPort();
    const down = testStorage('kcmcli').replace(/127\.0\.0\.1:\d+/g, `127.0.0.1:${closed}`);
    const r = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, AzureWebJobsStorage: down });
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/task 1 +FAILED +10\.0\.0\.2:8083 +held: no restart history/);
    expect(r.stderr).toMatch(/^kc-monitor: restart history in table KafkaConnectRestarts in storage account kcmcli, shared with the function could not be read for 127\.0\.0\.1:\d+ \(.*\): HEALING shows "held", and the healer restarts nothing until it can read it\n$/);
    expect(r.stderr).not.toMatch(/AccountKey|Eby8vdM02x/);
  });

  it('--timeout bounds a Connect endpoint that accepts and never answers; the error goes to stderr', async () => {
    const url = await blackHole();
    const started = Date.now();
    const r = await kcMonitor(['status', '--timeout', '1'], { KAFKA_CONNECT_URL: url });
    // A bound, not a benchmark: without --timeout this waits 30 s per request.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^kc-monitor: 127\.0\.0\.1:\d+: GET \/ → TIMEOUT: no response within 1 s$/m);
    expect(r.stdout).toMatch(/TIMEOUT/);
    expect((await kcMonitor(['status', '--timeout', 'soon'], { KAFKA_CONNECT_URL: url })).stderr).toBe('kc-monitor: --timeout: "soon" is not a number of seconds between 0 and 3600\n');
  });

  it('on a terminal: progress while it waits, and the table fits 100 columns (or not, with --wide)', async () => {
    const url = await blackHole();
    const waiting = await onTerminal(['status', '--timeout', '2'], { KAFKA_CONNECT_URL: url }, 100);
    expect(waiting.stdout).toMatch(/127\.0\.0\.1:\d+: reading…/);

    const { url: demoUrl } = await simulator(failing().map((c) => ({ ...c, name: `${c.name}-with-a-rather-long-name-for-a-connector-of-this-team` })));
    const fitted = await onTerminal(['status'], { KAFKA_CONNECT_URL: demoUrl }, 100);
    // The table; the one-line messages on stderr (merged by the pty) stay whole, to be searched for.
    const lines = screen(fitted.stdout).filter((l) => l.length > 0 && !l.startsWith('kc-monitor:'));
    // The long names are cut, and each root cause goes on a line of its own under its task.
    expect(lines.find((l) => l.startsWith('  orders-sink'))).toMatch(/^ {2}orders-sink-with-a-rather-long-n\S*… +sink +RUNNING/);
    expect(lines[lines.findIndex((l) => /task 1 +FAILED/.test(l)) + 1]).toMatch(/^ {6}org\.apache\.kafka\.connect\.errors\.RetriableException: timeout 0$/);
    // What the engineer acts on stays whole: the healer's next move is never cut (WORKER and TASKS are, first).
    expect(lines.find((l) => /task 1 +FAILED/.test(l))).toMatch(/ restart 1 due$/);
    expect(lines.filter((l) => [...l].length > 100)).toEqual([]);
    const wide = await onTerminal(['status', '--wide'], { KAFKA_CONNECT_URL: demoUrl }, 100);
    expect(Math.max(...screen(wide.stdout).map((l) => [...l].length))).toBeGreaterThan(100);

    // Piped, nothing but the table: no spinner, no escape codes.
    const piped = await kcMonitor(['status'], { KAFKA_CONNECT_URL: demoUrl });
    expect(piped.stdout + piped.stderr).not.toContain('\x1b');
    expect(piped.stderr).not.toContain('reading');
  });

  it('the demo fits 100 columns and says nothing was shipped', async () => {
    const r = await onTerminal(['demo'], {}, 100);
    expect(r.code).toBe(0);
    const lines = screen(r.stdout);
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(100);
    expect(lines.filter((l) => l.length > 0).at(-1)).toMatch(/ rows \(not shipped\), \d+ ms$/);
    expect(r.stdout).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z(?!")/);
  });

  it('errors say what to do, by setting name, without a secret', async () => {
    // A server certificate from a CA nobody trusts.
    const ca = await makeCertificateAuthority('untrusted');
    const { url: tlsUrl } = await simulator(failing(), { tls: await issueCertificate(ca, 'localhost') });
    const tls = await kcMonitor(['status'], { KAFKA_CONNECT_URL: tlsUrl.replace('127.0.0.1', 'localhost'), NODE_EXTRA_CA_CERTS: '' });
    expect(tls.code).toBe(3);
    expect(tls.stderr).toMatch(/TLS_ERROR: \w+: .* \(trust the server's CA: put its PEM in KAFKA_CONNECT_CA_CERT\)$/m);

    const { url } = await simulator(failing(), { basicAuth: { username: 'ops', password: SECRET } });
    const denied = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, KAFKA_CONNECT_USERNAME: 'ops', KAFKA_CONNECT_PASSWORD: 'wrong-one' });
    expect(denied.stderr).toMatch(/401 UNAUTHORIZED: .* \(check KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD\)$/m);
    const anonymous = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url });
    expect(anonymous.stderr).toMatch(/401 UNAUTHORIZED: .* \(the cluster wants basic auth: set KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD\)$/m);
    expect(denied.stdout + denied.stderr).not.toContain('wrong-one');

    const broken = `[{"name":"east","url":"${url}","password":"${SECRET}",}]`;
    const json = await kcMonitor(['status'], { KAFKA_CONNECT_CLUSTERS: broken });
    expect(json.code).toBe(2);
    expect(json.stderr).toBe(
      `kc-monitor: Invalid configuration: KAFKA_CONNECT_CLUSTERS: not valid JSON: expected a "field" name (a comma too many?) at line 1, column ${broken.length - 1}, near [{"name":"…","url":"…","password":"…",▶}] (expected an array like [{"name":"east","url":"https://connect-east:8083"}])\n`,
    );

    for (const [schedule, says] of [
      ['banana', '"banana" is not a six-field NCRONTAB schedule ({second} {minute} {hour} {day} {month} {day-of-week}); "0 */5 * * * *" is every 5 minutes'],
      ['*/5 * * * *', '"*/5 * * * *" has 5 fields; NCRONTAB has six, starting with seconds: "0 */5 * * * *" is every 5 minutes'],
    ]) {
      const r = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, MONITOR_SCHEDULE: schedule! });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`kc-monitor: Invalid configuration: MONITOR_SCHEDULE: ${says}\n`);
    }

    // Plain http with a password: one warning, and none for loopback.
    const far = await kcMonitor(['status', '--timeout', '1'], { KAFKA_CONNECT_URL: 'http://connect.invalid:8083', KAFKA_CONNECT_USERNAME: 'ops', KAFKA_CONNECT_PASSWORD: SECRET });
    expect(far.stderr.split('\n').filter((l) => l.includes('unencrypted'))).toEqual(['kc-monitor: connect.invalid:8083: basic auth over plain http sends the password unencrypted; use https']);
    const near = await kcMonitor(['status'], { KAFKA_CONNECT_URL: url, KAFKA_CONNECT_USERNAME: 'ops', KAFKA_CONNECT_PASSWORD: SECRET });
    expect(near.stderr).not.toContain('unencrypted');
    for (const r of [tls, denied, anonymous, json, far, near]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('once --out to a path it cannot write: one line, exit 2, and no Connect call made', async () => {
    const { sim, url } = await simulator(failing());
    const r = await kcMonitor(['once', '--out', join(home, 'no', 'such', 'dir', 'rows.ndjson')], { KAFKA_CONNECT_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kc-monitor: Invalid configuration: --out: cannot write ${join(home, 'no', 'such', 'dir', 'rows.ndjson')} (ENOENT: no such directory)\n`);
    expect(r.stdout).toBe('');
    expect(sim.requests).toHaveLength(0);
  });

  it("the README's crontab block, run as cron runs it: the rows in LOGS_NDJSON_FILE, nothing on stdout to mail", async () => {
    const { sim, url } = await simulator(failing());
    const block = /```crontab\n([\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))![1]!.trim().split('\n');
    const variables = Object.fromEntries(block.slice(0, -1).map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(Object.keys(variables)).toEqual(['PATH', 'KAFKA_CONNECT_URL', 'LOGS_NDJSON_FILE', 'MONITOR_SCHEDULE']);
    expect(variables.MONITOR_SCHEDULE).toBe(`0 ${block.at(-1)!.split(/\s+/).slice(0, 5).join(' ')}`); // the crontab's own cadence
    const [minute, hour, day, month, weekday, command, ...args] = block.at(-1)!.split(/\s+/);
    expect([minute, hour, day, month, weekday, command]).toEqual(['*/5', '*', '*', '*', '*', 'kc-monitor']);
    const rows = join(mkdtempSync(join(tmpdir(), 'kc-proc-cronfile-')), 'rows.ndjson');
    const r = await kcMonitor(args, { ...variables, PATH: process.env.PATH!, KAFKA_CONNECT_URL: url, LOGS_NDJSON_FILE: rows });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(sim.restarts).toHaveLength(2);
    expect(readFileSync(rows, 'utf8').trim().split('\n').length).toBeGreaterThan(5);
  });

  it('a second `once` says it waits for the run holding the lock, then runs', async () => {
    const { sim, url } = await simulator(failing());
    const state = mkdtempSync(join(tmpdir(), 'kc-proc-wait-'));
    // Another run's lock, fresh: held until we remove it.
    mkdirSync(join(state, 'run.lock'));
    const running = kcMonitor(['once', '--out', join(state, 'rows.ndjson')], { KAFKA_CONNECT_URL: url, KC_MONITOR_STATE_DIR: state });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sim.requests).toHaveLength(0);
    rmSync(join(state, 'run.lock'), { recursive: true });
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(`kc-monitor: waiting up to 60 s for the run that holds ${join(state, 'run.lock')}…`);
    expect(sim.restarts).toHaveLength(2);
  });

  it('once --out to a full disk: one line, exit 4, and the restarts it made are remembered', async () => {
    const { sim, url } = await simulator(failing());
    const state = mkdtempSync(join(tmpdir(), 'kc-proc-full-'));
    const r = await kcMonitor(['once', '--out', '/dev/full'], { KAFKA_CONNECT_URL: url, KC_MONITOR_STATE_DIR: state });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/^kc-monitor: \d+ rows for Custom-KafkaConnectStatus not shipped: cannot write NDJSON \(ENOSPC\)$/m);
    expect(sim.restarts).toHaveLength(2);
    const history = JSON.parse(readFileSync(join(state, 'history.json'), 'utf8')) as { clusters: Record<string, Record<string, { attempts: number }>> };
    expect(Object.values(Object.values(history.clusters)[0]!).map((h) => h.attempts)).toEqual([1, 1]);
  });

  it('--out "" is a usage error, not rows on stdout', async () => {
    const { sim, url } = await simulator(failing());
    const r = await kcMonitor(['once', '--out', ''], { KAFKA_CONNECT_URL: url });
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'kc-monitor: --out: expected a file name (an empty one would write the rows to stdout)\n' });
    expect(sim.requests).toHaveLength(0);
  });

  it('KC_MONITOR_STATE_DIR may come from --settings, as every other setting', async () => {
    const { url } = await simulator(failing());
    const state = mkdtempSync(join(tmpdir(), 'kc-proc-settings-'));
    const file = join(state, 'local.settings.json');
    writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: { KAFKA_CONNECT_URL: url, KC_MONITOR_STATE_DIR: join(state, 'kc') } }));
    // An empty variable counts as unset, so the file's value is the one that applies.
    const r = await kcMonitor(['once', '--settings', file, '--out', join(state, 'rows.ndjson')], { KC_MONITOR_STATE_DIR: '' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`restart history: local state ${join(state, 'kc')} (`);
    expect(existsSync(join(state, 'kc', 'history.json'))).toBe(true);
  });

  it('a 404 names the path as sent, gateway prefix included', async () => {
    const { url } = await simulator(failing());
    const r = await kcMonitor(['status'], { KAFKA_CONNECT_URL: `${url}/kafka/connect` });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^kc-monitor: 127\.0\.0\.1:\d+: GET \/kafka\/connect\/connectors\?expand=status&expand=info → 404 NOT_FOUND: /m);
  });
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
