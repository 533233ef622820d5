import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { type ParseError, SyntaxKind, createScanner, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { ConfigError } from './errors';
import { DEFAULT_SICK_WORKER, type SickWorkerPolicy } from './heal/workers';
import { DEFAULT_FLAP_COUNT, DEFAULT_FLAP_WINDOW_HOURS, type HealPolicy, type NonTransientPattern } from './heal/policy';

/** App settings as the Functions host and the CLI see them: environment variables. */
export type Settings = Readonly<Record<string, string | undefined>>;

export type AutoHeal = 'on' | 'off' | 'dry-run';

export interface ClusterConfig {
  /** Shown in every row; defaults to the URL's host:port. */
  readonly name: string;
  /** Base URL, without a trailing slash; may carry a path prefix when Connect sits behind a gateway. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM: private CA bundle that replaces the public roots for this cluster. */
  readonly caCert?: string;
  /** PEM: client certificate and key for mTLS. */
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** This cluster's own AUTO_HEAL (`"autoHeal": "dry-run"` for a staging cluster beside a production one). */
  readonly autoHeal?: AutoHeal;
  /** Added to HEAL_EXCLUDE for this cluster. */
  readonly healExclude?: readonly NonTransientPattern[];
  /** The settings the credentials came from, for messages that say which one to fix (never their values). */
  readonly sources?: { readonly [F in 'username' | 'password' | 'caCert' | 'clientCert']: string };
}

export interface IngestionConfig {
  readonly endpoint: string;
  readonly dcrImmutableId: string;
}

/** The function's own storage account: the restart history (tables) and the row spool (blobs). */
export type StorageConfig =
  | { readonly kind: 'connection-string'; readonly connectionString: string }
  | { readonly kind: 'identity'; readonly tableServiceUri: string; readonly blobServiceUri: string; readonly clientId?: string };

export interface MonitorConfig {
  readonly clusters: readonly ClusterConfig[];
  /** Absent when rows go elsewhere (the CLI writes NDJSON). */
  readonly ingestion?: IngestionConfig;
  /** LOGS_NDJSON_FILE: rows appended to this file instead, for a local `func start` without Azure. */
  readonly ndjsonFile?: string;
  readonly autoHeal: AutoHeal;
  readonly heal: HealPolicy;
  /** Absent only where no restart is made without it (AUTO_HEAL off or dry-run, `kc-monitor status`). */
  readonly storage?: StorageConfig;
  /** User-assigned managed identity; absent means system-assigned (or a developer login locally). */
  readonly managedIdentityClientId?: string;
  /** The tick's budget (MONITOR_DEADLINE_SECONDS): shorter than the schedule interval. */
  readonly deadlineSeconds: number;
  /** Seconds between ticks of MONITOR_SCHEDULE, when it is a plain every-N schedule. */
  readonly scheduleIntervalSeconds?: number;
  /** SICK_WORKER_MIN_FAILED and SICK_WORKER_PERCENT. */
  readonly sickWorker: SickWorkerPolicy;
  /** The cap of the spool of unshipped rows (SPOOL_MAX_MB). */
  readonly spoolMaxBytes: number;
  /** Values that must never appear in a row, log line or message. */
  readonly secrets: readonly string[];
  /** Things that work but deserve a look; printed once, never fatal. */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** The function needs somewhere to ship rows; the CLI can write them to a file instead. */
  readonly requireIngestion: boolean;
  /** Restarting without a durable history would restart on every run: with AUTO_HEAL=on, storage is required. */
  readonly requireStorageToHeal?: boolean;
}

/**
 * Failures a restart cannot fix, shipped as defaults (`$defaults` in HEAL_NON_TRANSIENT_PATTERNS keeps them
 * when adding your own). Each is a JavaScript regular expression matched against the trace as Connect
 * reported it: redaction is for what is shipped, and must never change what a pattern sees.
 */
export const DEFAULT_NON_TRANSIENT_PATTERNS: readonly string[] = [
  // Invalid connector configuration: fix the config, which restarts the connector anyway.
  'org\\.apache\\.kafka\\.common\\.config\\.ConfigException',
  // The connector plugin is missing on the worker.
  'Failed to find any class that implements Connector|java\\.lang\\.(ClassNotFoundException|NoClassDefFoundError)',
  // Kafka credentials or ACLs.
  'org\\.apache\\.kafka\\.common\\.errors\\.(SaslAuthenticationException|\\w*AuthorizationException)',
  // Database credentials (PostgreSQL, MySQL, SQL Server, Oracle).
  'password authentication failed|Access denied for user|Login failed for user|ORA-01017',
  // A record the converters or transforms reject with errors.tolerance=none: it will be read again after a restart.
  'Tolerance exceeded in error handler',
];

const AUTO_HEAL_VALUES: readonly AutoHeal[] = ['on', 'off', 'dry-run'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DCR_IMMUTABLE_ID = /^dcr-[0-9a-f]{32}$/i;

/** Per-cluster fields of KAFKA_CONNECT_CLUSTERS; each may instead be named by a setting: `"passwordSetting": "EAST_PASSWORD"`. */
const CLUSTER_FIELDS = ['name', 'url', 'username', 'password', 'caCert', 'clientCert', 'clientKey'] as const;
type ClusterField = (typeof CLUSTER_FIELDS)[number];

/**
 * Reads and validates every setting at once. Throws one ConfigError listing every problem;
 * messages name the setting and never echo a secret.
 */
export function loadConfig(settings: Settings, options: LoadOptions): MonitorConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const clusters = readClusters(settings, problems, warnings);

  const endpoint = value(settings, 'LOGS_INGESTION_ENDPOINT');
  const dcrImmutableId = value(settings, 'LOGS_DCR_IMMUTABLE_ID');
  const ndjsonFile = value(settings, 'LOGS_NDJSON_FILE');
  if (ndjsonFile && value(settings, 'WEBSITE_INSTANCE_ID')) {
    problems.push('LOGS_NDJSON_FILE: for local runs (func start) only; in Azure rows go to LOGS_INGESTION_ENDPOINT');
  } else if (ndjsonFile && (endpoint || dcrImmutableId)) {
    problems.push('LOGS_NDJSON_FILE: set either it or LOGS_INGESTION_ENDPOINT and LOGS_DCR_IMMUTABLE_ID, not both');
  }
  let ingestion: IngestionConfig | undefined;
  if (endpoint || dcrImmutableId || (options.requireIngestion && !ndjsonFile)) {
    if (!endpoint) problems.push('LOGS_INGESTION_ENDPOINT: missing (the DCR logs ingestion endpoint, https://…ingest.monitor.azure.com)');
    else if (!isUrl(endpoint, ['https:'])) problems.push(`LOGS_INGESTION_ENDPOINT: ${JSON.stringify(endpoint)} is not an https URL`);
    if (!dcrImmutableId) problems.push('LOGS_DCR_IMMUTABLE_ID: missing (the DCR immutable id, dcr-…)');
    else if (!DCR_IMMUTABLE_ID.test(dcrImmutableId)) problems.push(`LOGS_DCR_IMMUTABLE_ID: ${JSON.stringify(dcrImmutableId)} is not a DCR immutable id (dcr- and 32 hex digits)`);
    if (endpoint && dcrImmutableId) ingestion = { endpoint: endpoint.replace(/\/+$/, ''), dcrImmutableId };
  }

  const autoHealRaw = (value(settings, 'AUTO_HEAL') ?? 'on').toLowerCase();
  const autoHeal = AUTO_HEAL_VALUES.find((v) => v === autoHealRaw);
  if (!autoHeal) problems.push(`AUTO_HEAL: ${JSON.stringify(autoHealRaw)} is not one of ${AUTO_HEAL_VALUES.join(', ')}`);

  const clientId = value(settings, 'AZURE_CLIENT_ID');
  if (clientId && !GUID.test(clientId)) problems.push(`AZURE_CLIENT_ID: ${JSON.stringify(clientId)} is not a client id (a GUID)`);

  const heal: HealPolicy = {
    maxAttempts: integer(settings, 'HEAL_MAX_ATTEMPTS', 0, 0, problems, '0 = unlimited'),
    backoffCapMinutes: integer(settings, 'HEAL_BACKOFF_CAP_MINUTES', 60, 1, problems, 'minutes'),
    unassignedMinutes: integer(settings, 'HEAL_UNASSIGNED_MINUTES', 10, 0, problems, 'minutes'),
    nonTransientPatterns: readPatterns(value(settings, 'HEAL_NON_TRANSIENT_PATTERNS'), problems),
    exclude: readExclude('HEAL_EXCLUDE', jsonSetting(settings, 'HEAL_EXCLUDE'), problems),
    flapCount: integer(settings, 'HEAL_FLAP_COUNT', DEFAULT_FLAP_COUNT, 1, problems, 'failures after running again'),
    flapWindowHours: integer(settings, 'HEAL_FLAP_WINDOW_HOURS', DEFAULT_FLAP_WINDOW_HOURS, 1, problems, 'hours'),
  };

  const deadlineSeconds = integer(settings, 'MONITOR_DEADLINE_SECONDS', 240, 10, problems, 'seconds');
  const schedule = value(settings, 'MONITOR_SCHEDULE');
  const scheduleProblem = schedule === undefined ? undefined : checkSchedule(schedule);
  if (scheduleProblem) problems.push(`MONITOR_SCHEDULE: ${scheduleProblem}`);
  const interval = scheduleProblem ? undefined : scheduleIntervalSeconds(schedule);
  if (interval !== undefined && deadlineSeconds >= interval) {
    problems.push(`MONITOR_DEADLINE_SECONDS: ${deadlineSeconds} s is not shorter than the ${interval} s between ticks of MONITOR_SCHEDULE`);
  }
  const spoolMaxMb = integer(settings, 'SPOOL_MAX_MB', 200, 1, problems, 'megabytes');
  const sickWorker: SickWorkerPolicy = {
    minFailed: integer(settings, 'SICK_WORKER_MIN_FAILED', DEFAULT_SICK_WORKER.minFailed, 1, problems, 'FAILED tasks on one worker'),
    minPercent: integer(settings, 'SICK_WORKER_PERCENT', DEFAULT_SICK_WORKER.minPercent, 1, problems, "percent of the worker's tasks"),
  };
  if (sickWorker.minPercent > 100) problems.push(`SICK_WORKER_PERCENT: ${sickWorker.minPercent} is over 100`);

  // App Service leaves a reference it could not resolve as its literal text: say which one, and why.
  for (const [name, v] of Object.entries(settings)) {
    if (v?.trim().startsWith('@Microsoft.KeyVault(')) {
      problems.push(`${name}: the Key Vault reference was not resolved (the app's identity needs Key Vault Secrets User on the vault; then refresh the references, see the README)`);
    }
  }

  // Node's global switch would turn TLS verification off for the Azure SDKs too: refuse to run with it.
  if (settings.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    problems.push('NODE_TLS_REJECT_UNAUTHORIZED: "0" turns TLS verification off; remove it (trust a private CA with KAFKA_CONNECT_CA_CERT instead)');
  }

  const storage = readStorage(settings, clientId, problems);
  if (!storage && (autoHeal === 'on' || clusters.some((c) => c.autoHeal === 'on')) && options.requireStorageToHeal) {
    problems.push('AzureWebJobsStorage: missing; the restart history needs it (UseDevelopmentStorage=true with Azurite locally), or set AUTO_HEAL=dry-run or off');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const secrets = [
    ...clusters.flatMap((c) => [c.password, c.clientKey]),
    // Azurite's shortcut holds no key, and hiding it would hide which storage a line talks about.
    ...(storage?.kind === 'connection-string' && !/^\s*UseDevelopmentStorage=true\s*;?\s*$/i.test(storage.connectionString)
      ? [storage.connectionString, /AccountKey=([^;]+)/i.exec(storage.connectionString)?.[1]]
      : []),
  ].filter((s): s is string => !!s);
  return {
    clusters,
    ...(ingestion && { ingestion }),
    ...(ndjsonFile && !ingestion && { ndjsonFile }),
    autoHeal: autoHeal ?? 'on',
    heal,
    ...(storage && { storage }),
    ...(clientId && { managedIdentityClientId: clientId }),
    deadlineSeconds,
    ...(interval !== undefined && { scheduleIntervalSeconds: interval }),
    spoolMaxBytes: spoolMaxMb * 1024 * 1024,
    sickWorker,
    secrets,
    warnings: [...new Set(warnings)],
  };
}

/** NCRONTAB's six fields, as the Functions timer trigger reads them: names and ranges per field. */
const NCRONTAB_FIELDS: ReadonlyArray<{ readonly name: string; readonly min: number; readonly max: number; readonly names?: readonly string[] }> = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day-of-week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const EVERY_5_MINUTES = '"0 */5 * * * *" is every 5 minutes';

/**
 * Why a schedule is not one the timer trigger takes, or undefined. Checked here because the host's own error
 * comes only once the app is deployed and its function simply does not start. Deliberately NCRONTAB's grammar
 * (numbers, names, `*`, ranges, steps, lists), narrower than cron libraries that also take `?`, `L` or `#`.
 */
export function checkSchedule(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length === 5) return `${JSON.stringify(schedule)} has 5 fields; NCRONTAB has six, starting with seconds: ${EVERY_5_MINUTES}`;
  if (fields.length !== 6) return `${JSON.stringify(schedule)} is not a six-field NCRONTAB schedule ({second} {minute} {hour} {day} {month} {day-of-week}); ${EVERY_5_MINUTES}`;
  for (const [i, field] of fields.entries()) {
    const spec = NCRONTAB_FIELDS[i]!;
    const valueOf = (text: string) => {
      const n = /^\d+$/.test(text) ? Number(text) : spec.names ? spec.names.indexOf(text.toLowerCase()) + spec.min : NaN;
      return n >= spec.min && n <= spec.max ? n : undefined;
    };
    const ok = field.split(',').every((item) => {
      const m = /^(\*|[^-/]+(?:-[^-/]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m || (m[2] !== undefined && Number(m[2]) < 1)) return false;
      if (m[1] === '*') return true;
      const [from, to] = m[1]!.split('-').map(valueOf);
      return from !== undefined && (!m[1]!.includes('-') || (to !== undefined && to >= from));
    });
    if (!ok) return `the ${spec.name} field ${JSON.stringify(field)} of ${JSON.stringify(schedule)} is not valid (${spec.min}-${spec.max}${spec.names ? ' or a name' : ''}, *, a range a-b, a step */n, or a list); ${EVERY_5_MINUTES}`;
  }
  return undefined;
}

// Seconds between ticks for the schedules people write (every N seconds, minutes or hours, such as the default
// every 5 minutes); undefined for anything fancier, which is then not checked.
export function scheduleIntervalSeconds(schedule: string | undefined): number | undefined {
  const fields = schedule?.trim().split(/\s+/);
  if (fields?.length !== 6 || fields.slice(3).some((f) => f !== '*')) return undefined;
  const [sec, min, hour] = fields as [string, string, string];
  const every = (f: string) => (f === '*' ? 1 : /^\*\/(\d+)$/.exec(f) ? Number(/^\*\/(\d+)$/.exec(f)![1]) : undefined);
  if (/^\d+$/.test(sec) && hour === '*' && every(min)) return every(min)! * 60;
  if (/^\d+$/.test(sec) && /^\d+$/.test(min) && every(hour)) return every(hour)! * 3600;
  if (every(sec) && min === '*' && hour === '*') return every(sec);
  return undefined;
}

function integer(settings: Settings, name: string, fallback: number, min: number, problems: string[], unit: string): number {
  const text = value(settings, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    problems.push(`${name}: ${JSON.stringify(text)} is not a whole number ≥ ${min} (${unit})`);
    return fallback;
  }
  return n;
}

function readPatterns(text: string | undefined, problems: string[]): NonTransientPattern[] {
  let sources: unknown = ['$defaults'];
  if (text !== undefined) {
    try {
      sources = JSON.parse(text);
    } catch {
      sources = undefined;
    }
    if (!Array.isArray(sources) || !sources.every((p) => typeof p === 'string' && p.length > 0)) {
      problems.push('HEAL_NON_TRANSIENT_PATTERNS: expected a JSON array of regular expressions, e.g. ["$defaults", "MyFatalException"]');
      return [];
    }
  }
  const patterns: NonTransientPattern[] = [];
  for (const source of (sources as string[]).flatMap((p) => (p === '$defaults' ? DEFAULT_NON_TRANSIENT_PATTERNS : [p]))) {
    try {
      patterns.push({ source, regex: new RegExp(source) });
    } catch {
      problems.push(`HEAL_NON_TRANSIENT_PATTERNS: ${JSON.stringify(source)} is not a valid regular expression`);
    }
  }
  return patterns;
}

/** A setting holding JSON: the parsed value, `undefined` when unset, or `NOT_JSON`. */
const NOT_JSON = Symbol('not JSON');
function jsonSetting(settings: Settings, name: string): unknown {
  const text = value(settings, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/** HEAL_EXCLUDE, or a cluster's healExclude: regular expressions on connector names. */
function readExclude(at: string, sources: unknown, problems: string[]): NonTransientPattern[] {
  if (sources === undefined) return [];
  if (!Array.isArray(sources) || !sources.every((p) => typeof p === 'string' && p.length > 0)) {
    problems.push(`${at}: expected a JSON array of regular expressions on connector names, e.g. ["^staging-", "^legacy-jdbc$"]`);
    return [];
  }
  const patterns: NonTransientPattern[] = [];
  for (const source of sources as string[]) {
    try {
      patterns.push({ source, regex: new RegExp(source) });
    } catch {
      problems.push(`${at}: ${JSON.stringify(source)} is not a valid regular expression`);
    }
  }
  return patterns;
}

/**
 * The Functions host's own storage settings: a connection string locally (UseDevelopmentStorage=true for
 * Azurite), identity-based `AzureWebJobsStorage__*` in Azure.
 */
function readStorage(settings: Settings, defaultClientId: string | undefined, problems: string[]): StorageConfig | undefined {
  const connectionString = value(settings, 'AzureWebJobsStorage');
  if (connectionString) {
    if (connectionString !== 'UseDevelopmentStorage=true' && !/(^|;)(AccountName|TableEndpoint)=/i.test(connectionString)) {
      problems.push('AzureWebJobsStorage: not a storage connection string (AccountName=…;AccountKey=… or UseDevelopmentStorage=true)');
      return undefined;
    }
    return { kind: 'connection-string', connectionString };
  }
  // The host needs blob and queue URIs; the history needs the table one, derived from any of them.
  const account = value(settings, 'AzureWebJobsStorage__accountName');
  const sibling = value(settings, 'AzureWebJobsStorage__blobServiceUri') ?? value(settings, 'AzureWebJobsStorage__queueServiceUri');
  const uri =
    value(settings, 'AzureWebJobsStorage__tableServiceUri') ??
    (account ? `https://${account}.table.core.windows.net` : sibling?.replace(/\.(blob|queue)\./, '.table.'));
  if (!uri) return undefined;
  if (!isUrl(uri, ['https:'])) {
    problems.push(`AzureWebJobsStorage__tableServiceUri: ${JSON.stringify(uri)} is not an https URL`);
    return undefined;
  }
  const clientId = value(settings, 'AzureWebJobsStorage__clientId') ?? defaultClientId;
  const tableServiceUri = uri.replace(/\/+$/, '');
  const blobServiceUri = (value(settings, 'AzureWebJobsStorage__blobServiceUri') ?? tableServiceUri.replace('.table.', '.blob.')).replace(/\/+$/, '');
  return { kind: 'identity', tableServiceUri, blobServiceUri, ...(clientId && { clientId }) };
}

function readClusters(settings: Settings, problems: string[], warnings: string[]): ClusterConfig[] {
  const list = value(settings, 'KAFKA_CONNECT_CLUSTERS');
  if (list) {
    if (value(settings, 'KAFKA_CONNECT_URL')) warnings.push('KAFKA_CONNECT_URL is ignored because KAFKA_CONNECT_CLUSTERS is set');
    return readClusterList(settings, list, problems, warnings);
  }
  const url = value(settings, 'KAFKA_CONNECT_URL');
  if (!url) {
    problems.push('KAFKA_CONNECT_URL: missing (the Connect REST URL, e.g. https://connect.internal:8083; or set KAFKA_CONNECT_CLUSTERS)');
    return [];
  }
  const cluster = checkCluster(
    'KAFKA_CONNECT_',
    {
      url,
      username: value(settings, 'KAFKA_CONNECT_USERNAME'),
      password: value(settings, 'KAFKA_CONNECT_PASSWORD'),
      caCert: value(settings, 'KAFKA_CONNECT_CA_CERT'),
      clientCert: value(settings, 'KAFKA_CONNECT_CLIENT_CERT'),
      clientKey: value(settings, 'KAFKA_CONNECT_CLIENT_KEY'),
    },
    // caCert → KAFKA_CONNECT_CA_CERT
    (field) => `KAFKA_CONNECT_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
    problems,
    warnings,
  );
  return cluster ? [cluster] : [];
}


function readClusterList(settings: Settings, text: string, problems: string[], warnings: string[]): ClusterConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's own message quotes the input, which may hold a password: say where, with values hidden.
    problems.push(`KAFKA_CONNECT_CLUSTERS: not valid JSON${whereJsonBreaks(text)} (expected an array like [{"name":"east","url":"https://connect-east:8083"}])`);
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push('KAFKA_CONNECT_CLUSTERS: expected a non-empty JSON array of clusters');
    return [];
  }
  const clusters: ClusterConfig[] = [];
  parsed.forEach((entry: unknown, i) => {
    const at = `KAFKA_CONNECT_CLUSTERS[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at}: expected an object with at least "url"`);
      return;
    }
    const raw: Partial<Record<ClusterField, string>> = {};
    const unresolved = new Set<ClusterField>();
    const named: Partial<Record<ClusterField, string>> = {};
    const healing: { autoHeal?: AutoHeal; healExclude?: NonTransientPattern[] } = {};
    for (const [key, v] of Object.entries(entry)) {
      if (key === 'autoHeal') {
        const mode = AUTO_HEAL_VALUES.find((m) => m === (typeof v === 'string' ? v.toLowerCase() : v));
        if (mode) healing.autoHeal = mode;
        else problems.push(`${at}.autoHeal: ${JSON.stringify(v)} is not one of ${AUTO_HEAL_VALUES.join(', ')}`);
        continue;
      }
      if (key === 'healExclude') {
        healing.healExclude = readExclude(`${at}.healExclude`, v, problems);
        continue;
      }
      const field = CLUSTER_FIELDS.find((f) => f === key || `${f}Setting` === key);
      if (!field) {
        problems.push(`${at}: unknown field "${key}" (known: ${CLUSTER_FIELDS.join(', ')}, autoHeal, healExclude, or <field>Setting to name the setting that holds it)`);
        continue;
      }
      if (typeof v !== 'string') {
        problems.push(`${at}.${key}: expected a string`);
        continue;
      }
      if (key !== field) named[field] = v;
      if (key === field) raw[field] = v;
      else if (value(settings, v) === undefined) {
        problems.push(`${at}.${key}: the setting ${v} is not set`);
        unresolved.add(field);
      } else raw[field] = value(settings, v);
    }
    const cluster = checkCluster(at, raw, (field) => named[field] ?? `${at}.${field}`, problems, warnings, unresolved);
    if (cluster) clusters.push({ ...cluster, ...healing });
  });
  const seen = new Set<string>();
  for (const c of clusters) {
    if (seen.has(c.name)) problems.push(`KAFKA_CONNECT_CLUSTERS: two clusters are named "${c.name}"; give each a unique "name"`);
    seen.add(c.name);
  }
  return clusters;
}

const JSON_ERRORS: Partial<Record<ReturnType<typeof printParseErrorCode>, string>> = {
  PropertyNameExpected: 'expected a "field" name (a comma too many?)',
  ValueExpected: 'expected a value (a comma too many?)',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected text after the end',
  UnexpectedEndOfString: 'a string is not closed',
  InvalidCharacter: 'a control character (a line break?) inside a string: write it as \\n',
  InvalidEscapeCharacter: 'an invalid escape: a \\ in a string is written \\\\',
  InvalidSymbol: 'an unexpected character (strings take double quotes)',
};

/**
 * ": expected "}" at line 1, column 58, near …"password":"…",▶]": where JSON breaks, and the text around it
 * with every string value hidden (the setting holds passwords and keys), field names and punctuation kept.
 */
export function whereJsonBreaks(text: string): string {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false });
  const first = errors[0];
  if (!first) return '';
  const scanner = createScanner(text, false);
  const tokens: Array<{ offset: number; text: string }> = [];
  for (let kind = scanner.scan(); kind !== SyntaxKind.EOF; kind = scanner.scan()) {
    const raw = text.slice(scanner.getTokenOffset(), scanner.getTokenOffset() + scanner.getTokenLength());
    tokens.push({ offset: scanner.getTokenOffset(), text: kind === SyntaxKind.StringLiteral ? raw : /^\s+$/.test(raw) ? ' ' : raw });
  }
  // Only punctuation and the field names we know are shown: a password pasted where a name goes, or a number
  // (a PIN, a port of a secret host) is hidden like every value.
  const known = new Set([...CLUSTER_FIELDS.flatMap((f) => [`"${f}"`, `"${f}Setting"`]), '"autoHeal"', '"healExclude"']);
  const shown = tokens.map((t) => {
    if (/^[\s[\]{}:,]+$/.test(t.text) || known.has(t.text)) return t;
    if (!t.text.startsWith('"')) return { offset: t.offset, text: '…' };
    return { offset: t.offset, text: t.text.endsWith('"') && t.text.length > 1 ? '"…"' : '"…' };
  });
  const before = shown.filter((t) => t.offset < first.offset).map((t) => t.text).join('').slice(-40);
  // Past the error the scanner may be inside a broken string: only punctuation is sure not to be a value.
  const after = shown.filter((t) => t.offset >= first.offset).map((t) => (/^[\s[\]{}:,]+$/.test(t.text) ? t.text : '…')).join('').replace(/…+/g, '…').slice(0, 12);
  const upTo = text.slice(0, first.offset).split('\n');
  const what = JSON_ERRORS[printParseErrorCode(first.error)] ?? 'unexpected input';
  return `: ${what} at line ${upTo.length}, column ${upTo.at(-1)!.length + 1}, near ${before.length === 40 ? '…' : ''}${before}▶${after}`;
}

function checkCluster(
  at: string,
  raw: Partial<Record<ClusterField, string | undefined>>,
  settingOf: (field: ClusterField) => string,
  problems: string[],
  warnings: string[],
  /** Fields named by a setting that is not set: already reported, so not reported again as missing. */
  unresolved: ReadonlySet<ClusterField> = new Set(),
): ClusterConfig | undefined {
  const before = problems.length;
  const given = (field: ClusterField) => !!raw[field] || unresolved.has(field);
  const url = raw.url?.trim();
  let parsed: URL | undefined;
  if (!url) {
    if (!unresolved.has('url')) problems.push(`${settingOf('url')}: missing`);
  }
  else if (!isUrl(url, ['http:', 'https:'])) problems.push(`${settingOf('url')}: ${JSON.stringify(redactUrl(url))} is not an http(s) URL`);
  else {
    parsed = new URL(url);
    if (parsed.username || parsed.password) {
      problems.push(`${settingOf('url')}: put credentials in ${settingOf('username')} and ${settingOf('password')}, not in the URL`);
    }
  }
  if (given('username') !== given('password')) {
    problems.push(`${raw.username ? settingOf('password') : settingOf('username')}: missing (basic auth needs both username and password)`);
  }
  if (given('clientCert') !== given('clientKey')) {
    problems.push(`${raw.clientCert ? settingOf('clientKey') : settingOf('clientCert')}: missing (mTLS needs both the client certificate and its key)`);
  }
  const caCert = raw.caCert && pem(raw.caCert);
  const clientCert = raw.clientCert && pem(raw.clientCert);
  const clientKey = raw.clientKey && pem(raw.clientKey);
  if (caCert && !isCertificate(caCert)) problems.push(`${settingOf('caCert')}: not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  if (clientCert && !isCertificate(clientCert)) problems.push(`${settingOf('clientCert')}: not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  if (clientKey && !isPrivateKey(clientKey)) problems.push(`${settingOf('clientKey')}: not an unencrypted PEM private key`);
  if (parsed && parsed.protocol === 'http:' && (caCert || clientCert)) {
    problems.push(`${settingOf('url')}: certificates are set but the URL is http:, not https:`);
  }
  if (problems.length > before || !parsed) return undefined;

  const name = raw.name?.trim() || parsed.host;
  if (parsed.protocol === 'http:' && raw.password && !isLoopback(parsed.hostname)) {
    warnings.push(`${name}: basic auth over plain http sends the password unencrypted; use https`);
  }
  return {
    name,
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`,
    sources: { username: settingOf('username'), password: settingOf('password'), caCert: settingOf('caCert'), clientCert: settingOf('clientCert') },
    ...(raw.username && { username: raw.username }),
    ...(raw.password && { password: raw.password }),
    ...(caCert && { caCert }),
    ...(clientCert && { clientCert }),
    ...(clientKey && { clientKey }),
  };
}

/** Nothing leaves the machine on these: a password over http to them is not sent over a network. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** A blank setting counts as unset: Bicep and the portal leave empty strings behind. */
function value(settings: Settings, name: string): string | undefined {
  const v = settings[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

function isUrl(text: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** Shows a bad URL without whatever credentials it may carry. */
function redactUrl(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/, '//***@');
}

/** App settings cannot hold newlines easily; accept PEM with literal \n. */
function pem(text: string): string {
  return text.includes('\\n') ? text.replace(/\\n/g, '\n') : text;
}

function isCertificate(text: string): boolean {
  try {
    new X509Certificate(text);
    return true;
  } catch {
    return false;
  }
}

function isPrivateKey(text: string): boolean {
  try {
    createPrivateKey(text);
    return true;
  } catch {
    return false;
  }
}
