import { closeSync, createWriteStream, existsSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { type MonitorConfig, type Settings, type StorageConfig, loadConfig } from '../lib/config';
import { type ConnectTimeouts, DEFAULT_TIMEOUTS } from '../lib/connect/client';
import { ConnectSimulator } from '../lib/demo/connectSimulator';
import { DEMO_DB_PASSWORD, demoConnectors } from '../lib/demo/scenario';
import { ConfigError, MonitorError, ensureError } from '../lib/errors';
import { HISTORY_TABLE, type HistoryStore, MemoryHistoryStore } from '../lib/heal/history';
import { LocalState, StateBusyError, stateDir } from '../lib/local/state';
import { NdjsonSink, type RowSink } from '../lib/logs/ingestion';
import { type MonitorOptions, createMonitor } from '../lib/monitor';
import { clip, redact } from '../lib/redact';
import { renderHealing, renderStatus } from '../lib/render';
import type { StatusRow } from '../lib/logs/rows';
import type { Spool } from '../lib/logs/spool';
import { HEALING_TABLE, STATUS_TABLE } from '../lib/logs/schema';
import { type TickResult, summarizeTick, tickProblems } from '../lib/tick';
import { startProgress } from './progress';
import { USAGE } from './usage';

/** Exit codes, documented in the README. When several apply, the highest wins. */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  CONFIG: 2,
  CLUSTER_UNREADABLE: 3,
  NOT_SHIPPED: 4,
  HISTORY_UNAVAILABLE: 5,
  BUSY: 6,
} as const;

export interface CliIO {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly env: Settings;
  readonly cwd: string;
}

/** How long `once` waits for an overlapping run (a slow cron run, a manual one) to finish with the local state. */
const STATE_LOCK_WAIT_MS = 60_000;

interface Flags {
  readonly settings?: string;
  readonly out?: string;
  readonly all: boolean;
  readonly wide: boolean;
  readonly json: boolean;
  readonly timeouts: ConnectTimeouts;
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const say = (text: string) => io.stderr.write(`${text}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        settings: { type: 'string' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        all: { type: 'boolean' },
        wide: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    say(`kc-monitor: ${clip(ensureError(err).message, 300)}\n\n${USAGE}`);
    return EXIT.CONFIG;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0 && timeout <= 3600)) {
    say(`kc-monitor: --timeout: ${JSON.stringify(values.timeout)} is not a number of seconds between 0 and 3600`);
    return EXIT.CONFIG;
  }
  if (values.out !== undefined && values.out.trim() === '') {
    say('kc-monitor: --out: expected a file name (an empty one would write the rows to stdout)');
    return EXIT.CONFIG;
  }
  const flags: Flags = {
    ...(values.settings !== undefined && { settings: values.settings }),
    ...(values.out !== undefined && { out: values.out }),
    all: !!values.all,
    wide: !!values.wide,
    json: !!values.json,
    timeouts: timeout === undefined ? DEFAULT_TIMEOUTS : { connectMs: Math.min(DEFAULT_TIMEOUTS.connectMs, timeout * 1000), headersMs: timeout * 1000, bodyMs: timeout * 1000 },
  };
  try {
    switch (command) {
      case 'status':
        return await status(io, readSettings(io, flags.settings), flags);
      case 'once':
        return await once(io, readSettings(io, flags.settings), flags);
      case 'demo':
        return await demo(io, flags);
      case 'alert-params':
        return await alertParams(io, readSettings(io, flags.settings), flags);
      default:
        say(`kc-monitor: ${command ? `unknown command "${command}"` : 'no command given'}\n\n${USAGE}`);
        return EXIT.CONFIG;
    }
  } catch (err) {
    const e = ensureError(err);
    if (e instanceof ConfigError) {
      say(`kc-monitor: ${e.message}`);
      return EXIT.CONFIG;
    }
    if (e instanceof StateBusyError) {
      say(`kc-monitor: ${e.message}`);
      return EXIT.BUSY;
    }
    say(`kc-monitor: ${e instanceof MonitorError ? e.message : `internal error: ${clip(e.message, 300)}`}`);
    return EXIT.INTERNAL;
  }
}

/** The environment wins over local.settings.json, as with the Functions host. */
function readSettings(io: CliIO, file: string | undefined): Settings {
  const path = resolve(io.cwd, file ?? 'local.settings.json');
  if (!file && !existsSync(path)) return io.env;
  let values: unknown;
  try {
    values = (JSON.parse(readFileSync(path, 'utf8')) as { Values?: unknown }).Values;
  } catch (err) {
    const reason = (err as { code?: string }).code === 'ENOENT' ? 'file not found' : 'not valid JSON';
    throw new ConfigError([`${file ?? 'local.settings.json'}: ${reason}`]);
  }
  if (typeof values !== 'object' || values === null) throw new ConfigError([`${file ?? 'local.settings.json'}: has no "Values" object`]);
  const fromFile = Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Settings;
  return { ...fromFile, ...Object.fromEntries(Object.entries(io.env).filter(([, v]) => v !== undefined && v !== '')) };
}

/**
 * Where the restart history lives for the CLI: the function's own table when AzureWebJobsStorage is set (so a
 * run by hand never resets a backoff), else the CLI's local state directory (a plain VM under cron).
 */
interface HistoryPlace {
  readonly store?: HistoryStore;
  readonly spool?: Spool;
  /** One phrase for the line on stderr. */
  readonly where: string;
  readonly local?: LocalState;
}

function historyPlace(settings: Settings, config: MonitorConfig, open: boolean): HistoryPlace {
  if (config.storage) return { where: `table ${HISTORY_TABLE} in ${describeStorage(config.storage)}, shared with the function` };
  // The merged settings: KC_MONITOR_STATE_DIR may come from --settings as well as from the environment.
  const dir = stateDir(settings);
  const local = open ? LocalState.open(dir) : LocalState.peek(dir);
  return { store: local.history, spool: local.spool, local, where: `local state ${dir} (no AzureWebJobsStorage: the CLI's own, not the function's)` };
}

/** A cluster's own autoHeal, else AUTO_HEAL. */
function modeOf(config: MonitorConfig, cluster: string): MonitorConfig['autoHeal'] {
  return config.clusters.find((c) => c.name === cluster)?.autoHeal ?? config.autoHeal;
}

function describeStorage(storage: StorageConfig): string {
  if (storage.kind === 'identity') return new URL(storage.tableServiceUri).host;
  const account = /(?:^|;)AccountName=([^;]+)/i.exec(storage.connectionString)?.[1];
  return /UseDevelopmentStorage=true/i.test(storage.connectionString) ? 'Azurite (UseDevelopmentStorage=true)' : `storage account ${account ?? '(from the connection string)'}`;
}

async function status(io: CliIO, settings: Settings, flags: Flags): Promise<number> {
  const config = loadConfig(settings, { requireIngestion: false });
  const place = historyPlace(settings, config, false);
  const monitor = createMonitor(config, { timeouts: flags.timeouts, ...(place.store && { store: place.store }) });
  try {
    warn(io, config.warnings);
    const progress = await startProgress(io.stderr, io.env);
    const look = await monitor.look((p) => progress.update(p)).finally(() => progress.stop());
    io.stdout.write(renderStatus(look.snapshots, { color: useColor(io), allTasks: flags.all, decisions: look.decisions, dryRun: (cluster) => modeOf(config, cluster) === 'dry-run', ...width(io, flags) }));
    const unreadable = look.snapshots.flatMap((s) => (s.error ? [s.error.message] : []));
    warn(io, unreadable.map((line) => redact(line, config.secrets)));
    let code: number = unreadable.length > 0 ? EXIT.CLUSTER_UNREADABLE : EXIT.OK;
    if (config.clusters.every((c) => modeOf(config, c.name) === 'off')) warn(io, ['restart history not read (AUTO_HEAL=off): the HEALING column is empty']);
    else if (look.historyProblems.size > 0) {
      const [cluster, problem] = [...look.historyProblems][0]!;
      warn(io, [
        redact(`restart history in ${place.where} could not be read for ${look.historyProblems.size === 1 ? cluster : `${look.historyProblems.size} clusters`} (${problem}): HEALING shows "held", and the healer restarts nothing until it can read it`, config.secrets),
      ]);
      code = EXIT.HISTORY_UNAVAILABLE;
    } else if (place.local && !place.local.history.exists()) {
      warn(io, [`restart history: none yet in ${place.where}; HEALING shows what a first \`once\` would do`]);
    } else warn(io, [`restart history: ${place.where}`]);
    return code;
  } finally {
    await monitor.close();
  }
}

async function once(io: CliIO, settings: Settings, flags: Flags): Promise<number> {
  const config = loadConfig(settings, { requireIngestion: false });
  if (config.ingestion && flags.out) {
    throw new ConfigError([`--out: rows go to Log Analytics because LOGS_INGESTION_ENDPOINT is set; unset it to write NDJSON to ${flags.out}`]);
  }
  const outPath = flags.out ?? config.ndjsonFile;
  // Opened before any Connect call: a bad path is a usage error, not rows lost after the restarts were made.
  const file = !config.ingestion && outPath ? openOut(resolve(io.cwd, outPath), flags.out ? '--out' : 'LOGS_NDJSON_FILE') : undefined;
  const place = historyPlace(settings, config, true);
  const release = place.local
    ? await place.local.lock(STATE_LOCK_WAIT_MS, (lockfile) => warn(io, [`waiting up to ${STATE_LOCK_WAIT_MS / 1000} s for the run that holds ${lockfile}…`]))
    : undefined;
  const sink: RowSink | undefined = config.ingestion ? undefined : new NdjsonSink(file ?? io.stdout);
  // NDJSON never fails, and must not drain a spool into a file: no spool then.
  const spool = sink ? null : place.spool;
  // With its own state, a run goes on from the row memory of the last run with the same destination and
  // clusters, as a warm function worker does.
  const destination = config.ingestion ? `ingestion ${config.ingestion.endpoint} ${config.ingestion.dcrImmutableId}` : outPath ? `ndjson ${resolve(io.cwd, outPath)}` : 'stdout';
  const scope = JSON.stringify([destination, config.clusters.map((c) => c.name).sort()]);
  const rowMemory = place.local?.readRowMemory(scope);
  const options: MonitorOptions = { timeouts: flags.timeouts, ...(sink && { sink }), ...(spool !== undefined && { spool }), ...(place.store && { store: place.store }), ...(rowMemory !== undefined && { rowMemory }) };
  const monitor = createMonitor(config, options);
  try {
    warn(io, config.warnings);
    const progress = await startProgress(io.stderr, io.env);
    const result = await monitor.tick((p) => progress.update(p)).finally(() => progress.stop());
    const unsaved = await place.local?.writeRowMemory(scope, monitor.rowMemory());
    report(io, result, config.secrets, place.where);
    if (unsaved) warn(io, [unsaved]);
    return exitCode(result);
  } finally {
    await monitor.close();
    // A stream destroyed by a write error never calls back from end().
    if (file && !file.destroyed) await new Promise((done) => file.end(done));
    await release?.();
  }
}

/** The --out file, appended to (a cron job's rows accumulate), or one line saying why it cannot be written. */
function openOut(path: string, flag: string) {
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([`${flag}: cannot write ${path} (${e.code ?? 'error'}${e.code === 'ENOENT' ? ': no such directory' : e.code === 'EACCES' ? ': permission denied' : e.code === 'EISDIR' ? ': it is a directory' : ''})`]);
  }
  try {
    return createWriteStream(path, { fd, flags: 'a' });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * The `connectors` parameter of infra/main.bicep, from the live clusters: one "not fully RUNNING" rule per
 * connector. Prints nothing unless every cluster was read, so a deployment never loses rules by accident.
 */
async function alertParams(io: CliIO, settings: Settings, flags: Flags): Promise<number> {
  const json = flags.json;
  const config = loadConfig({ ...settings, AUTO_HEAL: 'off' }, { requireIngestion: false });
  const monitor = createMonitor(config, { timeouts: flags.timeouts, store: new MemoryHistoryStore(), spool: null });
  try {
    const { snapshots } = await monitor.look();
    const failed = snapshots.filter((s) => s.error);
    if (failed.length > 0) {
      warn(io, [...failed.map((s) => s.error!.message), 'nothing printed: every cluster must be read to list every connector']);
      return EXIT.CLUSTER_UNREADABLE;
    }
    const connectors = snapshots.flatMap((s) => s.connectors.map((c) => ({ cluster: s.cluster, name: c.name }))).sort((a, b) => a.cluster.localeCompare(b.cluster) || a.name.localeCompare(b.name));
    if (json) {
      io.stdout.write(`${JSON.stringify(connectors, null, 2)}\n`);
    } else {
      const bicep = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$\{/g, '\\${')}'`;
      io.stdout.write(
        [
          `// ${connectors.length} connectors of ${snapshots.length} cluster${snapshots.length === 1 ? '' : 's'}, from kc-monitor alert-params`,
          'param connectors = [',
          ...connectors.map((c) => `  { cluster: ${bicep(c.cluster)}, name: ${bicep(c.name)} }`),
          ']',
          '',
        ].join('\n'),
      );
    }
    return EXIT.OK;
  } finally {
    await monitor.close();
  }
}

/** Simulated minutes between the demo's ticks, as with the default schedule. */
const DEMO_TICK_MINUTES = 5;
const DEMO_TICKS = 4;

async function demo(io: CliIO, flags: Flags): Promise<number> {
  const simulator = new ConnectSimulator({ version: '3.7.0' }).add(...demoConnectors());
  const url = await simulator.start();
  let now = new Date('2026-01-05T08:00:00Z');
  const config = loadConfig({ KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'demo', url }]) }, { requireIngestion: false });
  // No sink: the rows stay in each tick's result, and the summary says they were not shipped.
  const monitor = createMonitor(config, { spool: null, store: new MemoryHistoryStore(), now: () => now });
  const render = { color: useColor(io), ...width(io, flags) };
  const write = (...lines: string[]) => io.stdout.write(`${lines.join('\n')}\n`);
  const rows: object[] = [];
  try {
    const fit = (text: string) => (render.width ? wrap(text, render.width) : text);
    write(
      'kc-monitor demo: a SIMULATION. A built-in fake Kafka Connect 3.7 cluster runs on',
      fit(`${url} with a few connectors in trouble, and the clock jumps ${DEMO_TICK_MINUTES} minutes between ticks.`),
      'Nothing real is read or restarted, and nothing is shipped.',
      '',
    );
    let last: TickResult | undefined;
    for (let tick = 1; tick <= DEMO_TICKS; tick++) {
      last = await monitor.tick();
      rows.push(...last.rows, ...last.healingRows, ...last.monitorRows);
      if (tick === 1) write(`Status at ${clock(now)}, with what the first tick did:`, renderStatus(last.snapshots, { ...render, outcomes: last.healings }));
      write(`Tick ${tick} at ${clock(now)}: healing`, renderHealing(last.healings, render));
      now = new Date(now.getTime() + DEMO_TICK_MINUTES * 60_000);
    }
    const look = await monitor.look();
    write(`Status at ${clock(now)}, with what the healer will do next:`, renderStatus(look.snapshots, { ...render, decisions: look.decisions }));
    const failedTask = rows.find((r) => (r as StatusRow).RecordType === 'task' && (r as StatusRow).State === 'FAILED');
    write(
      fit(
        'What happened: the JDBC task failed on a refused connection and one restart healed it (its count reset once ' +
          'it had run longer than the backoff). The Debezium task keeps failing, so it is restarted on the backoff ' +
          'schedule (waits of 0, 2, 6, 12... minutes). The Elasticsearch connector has a ConfigException, which a ' +
          'restart cannot fix: it is left alone and reported. The MirrorMaker task sat UNASSIGNED past 10 minutes and was reported.',
      ),
      '',
      fit(`In Azure these ${DEMO_TICKS} ticks would ship ${rows.length} rows to ${STATUS_TABLE.name} and ${HEALING_TABLE.name}. A FAILED task's row (the database password in its trace is redacted):`),
      // On a terminal the row's long values are cut, not wrapped: it stays readable JSON.
      JSON.stringify(failedTask, null, 2)
        .split('\n')
        .map((line) => (render.width && line.length > render.width ? `${line.slice(0, render.width - 1)}…` : line))
        .join('\n'),
      '',
      last ? fit(`Last ${summarizeTick(last)}`) : '',
    );
    // The demo's own canary: if the simulated password ever reaches a row, say so loudly.
    if (rows.some((r) => JSON.stringify(r).includes(DEMO_DB_PASSWORD))) throw new MonitorError('demo rows contain the simulated password');
    return EXIT.OK;
  } finally {
    await monitor.close();
    await simulator.stop();
  }
}

/** "08:05Z", the one time format of the terminal output (NDJSON rows carry full ISO timestamps). */
function clock(at: Date): string {
  return `${at.toISOString().slice(11, 16)}Z`;
}

/** Prose to the terminal's width, broken between words. */
function wrap(text: string, columns: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

/** The terminal's width, unless --wide or not a terminal (a pipe or a file gets whole lines). */
function width(io: CliIO, flags: Flags): { width?: number } {
  return !flags.wide && io.stdout.isTTY && io.stdout.columns ? { width: io.stdout.columns } : {};
}

function report(io: CliIO, result: TickResult, secrets: readonly string[], where: string): void {
  const problems = tickProblems(result);
  warn(io, [...problems.unreadable, ...problems.notShipped, ...historyProblems(result)].map((line) => redact(line, secrets)));
  io.stderr.write(`${summarizeTick(result)}; restart history: ${where}\n`);
}

/** The healer's notes that it could not read or write the restart history (and so restarted nothing). */
function historyProblems(result: TickResult): string[] {
  return result.healings.flatMap((h) => h.outcomes.filter((o) => o.outcome === 'history-unavailable').map((o) => `${h.cluster}: ${o.reason}`));
}

function warn(io: CliIO, lines: readonly string[]): void {
  for (const line of lines) io.stderr.write(`kc-monitor: ${line}\n`);
}

function exitCode(result: TickResult): number {
  const problems = tickProblems(result);
  if (historyProblems(result).length > 0) return EXIT.HISTORY_UNAVAILABLE;
  if (problems.notShipped.length > 0) return EXIT.NOT_SHIPPED;
  if (problems.unreadable.length > 0) return EXIT.CLUSTER_UNREADABLE;
  return EXIT.OK;
}

function useColor(io: CliIO): boolean {
  return !!io.stdout.isTTY && !io.env.NO_COLOR;
}

/** Entry point of bin/kc-monitor.js. */
export function run(): void {
  // `kc-monitor status | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`kc-monitor: internal error: ${clip(ensureError(err).message, 300)}\n`);
      process.exitCode = EXIT.INTERNAL;
    },
  );
}
