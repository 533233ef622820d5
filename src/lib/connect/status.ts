import { oneLine } from '../errors';
import { safeTrace, secretValues, truncateTrace } from '../redact';

/** What Connect reports for a task (ConnectorStateInfo.TaskState). */
export interface TaskStatus {
  readonly id: number;
  readonly state: string;
  readonly workerId?: string;
  /** Cut and redacted: what is shipped and shown. */
  readonly trace?: string;
  /**
   * Cut but NOT redacted, for the non-transient patterns alone: redaction can rewrite the very words they
   * match (a secret value "kafka" would turn org.apache.kafka… into org.apache.***…). Not enumerable, so no
   * JSON, log line, spread or row made from a status can carry it.
   */
  readonly unredactedTrace?: string;
}

/** A connector as observed in one tick: its status plus the two config values that are safe to keep. */
export interface ConnectorStatus {
  readonly name: string;
  readonly state: string;
  readonly type?: string;
  readonly workerId?: string;
  /** Cut and redacted, as shipped; see TaskStatus for `unredactedTrace`. */
  readonly trace?: string;
  readonly unredactedTrace?: string;
  readonly tasks: readonly TaskStatus[];
  readonly connectorClass?: string;
  readonly tasksMax?: number;
  /** Set when this one connector could not be read; the others still are. */
  readonly detail?: string;
}

export interface ParseOptions {
  /** Values to scrub from traces verbatim (the cluster's own password, for one). */
  readonly secrets?: readonly string[];
  /** Traces are cut to this many UTF-8 bytes. */
  readonly maxTraceBytes: number;
}

/** AbstractStatus.State, as Connect writes them: taken as they are (25,000 a tick at 5,000 connectors). */
const CONNECT_STATES = new Set(['UNASSIGNED', 'RUNNING', 'PAUSED', 'FAILED', 'RESTARTING', 'STOPPED', 'DESTROYED']);

/** Connect states are upper-case words; anything else is kept but bounded so a bad proxy cannot flood a column. */
function state(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) return 'UNKNOWN';
  return CONNECT_STATES.has(value) ? value : oneLine(value, 40).toUpperCase();
}

function str(value: unknown, max = 200): string | undefined {
  return typeof value === 'string' && value.length > 0 ? oneLine(value, max) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Gives `status` its trace as shipped and, hidden (see TaskStatus), as the non-transient patterns see it. */
function addTrace(status: Mutable<TaskStatus> | Mutable<ConnectorStatus>, value: unknown, secrets: () => readonly string[], maxBytes: number): void {
  if (typeof value !== 'string' || value.length === 0) return;
  status.trace = safeTrace(value, maxBytes, secrets());
  Object.defineProperty(status, 'unredactedTrace', { value: truncateTrace(value, maxBytes), enumerable: false });
}

/**
 * Parses one ConnectorStateInfo (`GET /connectors/{name}/status`, or the `status` of an expanded entry) and,
 * when present, the ConnectorInfo (`info`), keeping only `connector.class` and `tasks.max` from its config:
 * the rest holds passwords in plain text. Never throws: malformed parts become UNKNOWN with a detail.
 */
export function parseConnector(name: string, status: unknown, info: unknown, options: ParseOptions): ConnectorStatus {
  const config = isObject(info) && isObject(info.config) ? info.config : {};
  // Only a trace needs them, and most connectors have none: found once, when the first trace asks.
  let secrets: readonly string[] | undefined;
  const secretsOf = () => (secrets ??= [...(options.secrets ?? []), ...secretValues(config)]);
  const connectorClass = str(config['connector.class']);
  const tasksMaxNumber = Number(config['tasks.max']);
  const tasksMax = Number.isInteger(tasksMaxNumber) && tasksMaxNumber >= 0 && tasksMaxNumber <= 2_147_483_647 ? tasksMaxNumber : undefined;
  // Built by assignment (a 5,000-connector cluster is parsed every tick; spreads cost more than the parse).
  const connector: Mutable<ConnectorStatus> = { name, state: 'UNKNOWN', tasks: [] };
  if (connectorClass) connector.connectorClass = connectorClass;
  if (tasksMax !== undefined) connector.tasksMax = tasksMax;

  if (!isObject(status) || !isObject(status.connector)) {
    connector.detail = 'status response has no "connector" object';
    return connector;
  }
  const c = status.connector;
  const tasks: TaskStatus[] = [];
  let malformedTasks = 0;
  for (const t of Array.isArray(status.tasks) ? status.tasks : []) {
    // Connect's task ids are Java ints; anything else would not fit the TaskId column either.
    if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || (t.id as number) > 2_147_483_647) {
      malformedTasks++;
      continue;
    }
    const task: Mutable<TaskStatus> = { id: t.id as number, state: state(t.state) };
    const workerId = str(t.worker_id);
    if (workerId) task.workerId = workerId;
    addTrace(task, t.trace, secretsOf, options.maxTraceBytes);
    tasks.push(task);
  }
  tasks.sort((a, b) => a.id - b.id);
  const type = str(status.type, 20)?.toLowerCase() ?? (isObject(info) ? str(info.type, 20)?.toLowerCase() : undefined);
  const workerId = str(c.worker_id);
  connector.state = state(c.state);
  if (type) connector.type = type;
  if (workerId) connector.workerId = workerId;
  connector.tasks = tasks;
  if (malformedTasks > 0) connector.detail = `${malformedTasks} task entr${malformedTasks === 1 ? 'y' : 'ies'} without a valid id ignored`;
  addTrace(connector, c.trace, secretsOf, options.maxTraceBytes);
  return connector;
}

export type ExpandedParse =
  | { readonly kind: 'expanded'; readonly connectors: ConnectorStatus[] }
  /** Connect < 2.3 ignores `expand` and answers the plain name list. */
  | { readonly kind: 'names'; readonly names: string[] }
  | { readonly kind: 'invalid'; readonly detail: string };

/** Parses `GET /connectors?expand=status&expand=info` (an object keyed by connector name). */
export function parseExpanded(body: unknown, options: ParseOptions): ExpandedParse {
  if (Array.isArray(body)) return parseNames(body);
  if (!isObject(body)) return { kind: 'invalid', detail: `expected an object keyed by connector name, got ${describe(body)}` };
  const connectors: ConnectorStatus[] = [];
  for (const [name, entry] of Object.entries(body)) {
    if (!isObject(entry)) continue;
    // Connect omits a connector whose status record is missing, and `info` can be null when it was
    // deleted mid-request; an entry with no status at all means `expand` was not understood.
    if (entry.status === undefined) return { kind: 'invalid', detail: `entry "${oneLine(name, 80)}" has no status (is "expand" supported?)` };
    connectors.push(parseConnector(name, entry.status, entry.info, options));
  }
  return { kind: 'expanded', connectors };
}

export function parseNames(body: unknown): Extract<ExpandedParse, { kind: 'names' } | { kind: 'invalid' }> {
  if (!Array.isArray(body)) return { kind: 'invalid', detail: `expected a list of connector names, got ${describe(body)}` };
  return { kind: 'names', names: body.filter((n): n is string => typeof n === 'string' && n.length > 0) };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** The facts of a ConnectorStatus an operator reads first. */
export function countTasks(connector: ConnectorStatus): { total: number; running: number; failed: number } {
  let running = 0;
  let failed = 0;
  for (const t of connector.tasks) {
    if (t.state === 'RUNNING') running++;
    else if (t.state === 'FAILED') failed++;
  }
  return { total: connector.tasks.length, running, failed };
}

/** The line of a stack trace that says why: the last `Caused by`, or the exception itself. */
export function rootCause(trace: string | undefined, max = 100): string {
  if (!trace) return '';
  const lines = trace.split('\n');
  const cause = [...lines].reverse().find((l) => l.trimStart().startsWith('Caused by:')) ?? lines[0] ?? '';
  const text = cause.trim().replace(/^Caused by:\s*/, '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
