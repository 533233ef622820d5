import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { type Settings, loadConfig } from '../lib/config';
import { ConnectSimulator } from '../lib/demo/connectSimulator';
import { DEMO_DB_PASSWORD, demoConnectors } from '../lib/demo/scenario';
import { ConfigError, MonitorError, ensureError } from '../lib/errors';
import { MemoryHistoryStore } from '../lib/heal/history';
import { NdjsonSink, type RowSink } from '../lib/logs/ingestion';
import { createMonitor } from '../lib/monitor';
import { clip, redact } from '../lib/redact';
import { renderHealing, renderStatus } from '../lib/render';
import type { StatusRow } from '../lib/logs/rows';
import { HEALING_TABLE, STATUS_TABLE } from '../lib/logs/schema';
import { type TickResult, summarizeTick, tickProblems } from '../lib/tick';

/** Exit codes, documented in the README. When several apply, the highest wins. */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  CONFIG: 2,
  CLUSTER_UNREADABLE: 3,
  NOT_SHIPPED: 4,
} as const;

export interface CliIO {
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
  readonly env: Settings;
  readonly cwd: string;
}

const USAGE = `Usage: kc-monitor <command> [options]

Commands:
  status            read every cluster; print connectors, tasks and what the healer would do (changes nothing)
  once              run exactly one monitor tick, as the Azure Function does (heals per AUTO_HEAL)
  demo              run ticks against a built-in simulated Connect cluster
  alert-params      print the live clusters' connectors as the Bicep "connectors" parameter (one alert rule each)

Options:
  --settings FILE   read Values from this local.settings.json (default: ./local.settings.json if present)
  --out FILE        once: write rows as NDJSON to FILE instead of stdout (when LOGS_INGESTION_ENDPOINT is unset)
  --all             status: list RUNNING tasks too
  --json            alert-params: print a JSON array (for -p connectors=@file.json) instead of a bicepparam line
  -h, --help        show this help

Settings come from the environment, then local.settings.json Values. Exit codes: 0 the tick ran,
1 internal error, 2 bad configuration or usage, 3 a cluster could not be read, 4 rows could not be shipped.`;

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
        all: { type: 'boolean' },
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
  try {
    switch (command) {
      case 'status':
        return await status(io, readSettings(io, values.settings), !!values.all);
      case 'once':
        return await once(io, readSettings(io, values.settings), values.out);
      case 'demo':
        return await demo(io);
      case 'alert-params':
        return await alertParams(io, readSettings(io, values.settings), !!values.json);
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

async function status(io: CliIO, settings: Settings, allTasks: boolean): Promise<number> {
  const config = loadConfig(settings, { requireIngestion: false });
  const monitor = createMonitor(config);
  try {
    warn(io, config.warnings);
    const look = await monitor.look();
    io.stdout.write(renderStatus(look.snapshots, { color: useColor(io), allTasks, decisions: look.decisions, dryRun: config.autoHeal === 'dry-run' }));
    return look.snapshots.some((s) => s.error) ? EXIT.CLUSTER_UNREADABLE : EXIT.OK;
  } finally {
    await monitor.close();
  }
}

async function once(io: CliIO, settings: Settings, out: string | undefined): Promise<number> {
  const config = loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true });
  const file = !config.ingestion && out ? createWriteStream(resolve(io.cwd, out)) : undefined;
  const sink: RowSink | undefined = config.ingestion ? undefined : new NdjsonSink(file ?? io.stdout);
  // NDJSON never fails, and must not drain the function's spool into a file: no spool then.
  const monitor = createMonitor(config, { ...(sink && { sink, spool: null }) });
  try {
    warn(io, config.warnings);
    const result = await monitor.tick();
    report(io, result, config.secrets);
    return exitCode(result);
  } finally {
    await monitor.close();
    if (file) await new Promise((done) => file.end(done));
  }
}

/**
 * The `connectors` parameter of infra/main.bicep, from the live clusters: one "not fully RUNNING" rule per
 * connector. Prints nothing unless every cluster was read, so a deployment never loses rules by accident.
 */
async function alertParams(io: CliIO, settings: Settings, json: boolean): Promise<number> {
  const config = loadConfig({ ...settings, AUTO_HEAL: 'off' }, { requireIngestion: false });
  const monitor = createMonitor(config);
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

async function demo(io: CliIO): Promise<number> {
  const simulator = new ConnectSimulator({ version: '3.7.0' }).add(...demoConnectors());
  const url = await simulator.start();
  const rows: object[] = [];
  const sink: RowSink = {
    ship: async (stream, batch) => {
      rows.push(...batch);
      return { stream, sent: batch.length, failed: 0, failures: [] };
    },
  };
  let now = new Date('2026-01-05T08:00:00Z');
  const config = loadConfig({ KAFKA_CONNECT_CLUSTERS: JSON.stringify([{ name: 'demo', url }]) }, { requireIngestion: false });
  const monitor = createMonitor(config, { sink, spool: null, store: new MemoryHistoryStore(), now: () => now });
  const color = useColor(io);
  const write = (...lines: string[]) => io.stdout.write(`${lines.join('\n')}\n`);
  try {
    write(
      'kc-monitor demo: a SIMULATION. A built-in fake Kafka Connect 3.7 cluster runs on',
      `${url} with a few connectors in trouble, and the clock jumps ${DEMO_TICK_MINUTES} minutes between ticks.`,
      'Nothing real is read or restarted, and nothing is shipped.',
      '',
    );
    let last: TickResult | undefined;
    for (let tick = 1; tick <= DEMO_TICKS; tick++) {
      last = await monitor.tick();
      if (tick === 1) write(renderStatus(last.snapshots, { color }));
      write(`Tick ${tick} at ${now.toISOString().slice(11, 16)}Z: healing`, renderHealing(last.healings, { color }));
      now = new Date(now.getTime() + DEMO_TICK_MINUTES * 60_000);
    }
    const look = await monitor.look();
    write(`Status at ${now.toISOString().slice(11, 16)}Z, with what the healer will do next:`, renderStatus(look.snapshots, { color, decisions: look.decisions }));
    const failedTask = rows.find((r) => (r as StatusRow).RecordType === 'task' && (r as StatusRow).State === 'FAILED');
    write(
      'What happened: the JDBC task failed on a refused connection and one restart healed it (its count reset once it',
      'had run longer than the backoff). The Debezium task keeps failing, so it is restarted on the backoff schedule',
      '(waits of 0, 2, 6, 12... minutes). The Elasticsearch connector has a ConfigException, which a restart cannot fix:',
      'it is left alone and reported. The MirrorMaker task sat UNASSIGNED past 10 minutes and was reported.',
      '',
      `In Azure these ${DEMO_TICKS} ticks ship ${rows.length} rows to ${STATUS_TABLE.name} and ${HEALING_TABLE.name}. A FAILED task's row (the database password in its trace is redacted):`,
      JSON.stringify(failedTask, null, 2),
      '',
      last ? summarizeTick(last) : '',
    );
    // The demo's own canary: if the simulated password ever reaches a row, say so loudly.
    if (rows.some((r) => JSON.stringify(r).includes(DEMO_DB_PASSWORD))) throw new MonitorError('demo rows contain the simulated password');
    return EXIT.OK;
  } finally {
    await monitor.close();
    await simulator.stop();
  }
}

function report(io: CliIO, result: TickResult, secrets: readonly string[]): void {
  const problems = tickProblems(result);
  warn(io, [...problems.unreadable, ...problems.notShipped].map((line) => redact(line, secrets)));
  io.stderr.write(`${summarizeTick(result)}\n`);
}

function warn(io: CliIO, lines: readonly string[]): void {
  for (const line of lines) io.stderr.write(`kc-monitor: ${line}\n`);
}

function exitCode(result: TickResult): number {
  const problems = tickProblems(result);
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
