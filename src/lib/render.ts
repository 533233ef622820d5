import type { ClusterSnapshot } from './connect/read';
import { countTasks, rootCause } from './connect/status';
import type { ClusterHealing, HealOutcome } from './heal/healer';
import { type Decision, targetKey } from './heal/policy';

export interface RenderOptions {
  /** ANSI colours; off unless the terminal supports them and NO_COLOR is unset. */
  readonly color?: boolean;
  /** Show RUNNING tasks too; by default only tasks that need a look are listed under their connector. */
  readonly allTasks?: boolean;
  /** What the healer would do now, per cluster, shown beside each target. */
  readonly decisions?: ReadonlyMap<string, readonly Decision[]>;
  /** AUTO_HEAL=dry-run (for every cluster, or those the function says): a due restart would not be made. */
  readonly dryRun?: boolean | ((cluster: string) => boolean);
  /** What a tick just did, per cluster, shown beside each target (instead of `decisions`). */
  readonly outcomes?: readonly ClusterHealing[];
  /** The terminal's columns: cells are cut with an ellipsis to fit. Unset (a pipe, `--wide`): no limit. */
  readonly width?: number;
}

const COLORS: Record<string, string> = {
  RUNNING: '32',
  REACHABLE: '32',
  restarted: '32',
  recovered: '32',
  FAILED: '31',
  failed: '31',
  'skipped-non-transient': '31',
  'skipped-max-attempts': '31',
  'skipped-excluded': '33',
  PAUSED: '33',
  STOPPED: '33',
  UNASSIGNED: '33',
  UNHEALTHY: '33',
  'deferred-backoff': '33',
  'deferred-rebalance': '33',
  'unassigned-too-long': '33',
  RESTARTING: '36',
  'dry-run': '36',
};

function painter(color: boolean | undefined) {
  return (key: string, text: string) => {
    const code = color ? (COLORS[key] ?? '31') : undefined;
    return code ? `\x1b[${code}m${text}\x1b[0m` : text;
  };
}

/** A terminal table: each cluster, its connectors, and under each connector the tasks that are not RUNNING. */
export function renderStatus(snapshots: readonly ClusterSnapshot[], options: RenderOptions = {}): string {
  const paint = painter(options.color);
  const lines: string[] = [];
  for (const s of snapshots) {
    const state = s.error ? s.error.kind : s.unhealthy ? 'UNHEALTHY' : 'REACHABLE';
    lines.push(`Cluster ${s.cluster}  ${paint(state, state)}${s.version ? `  Kafka Connect ${s.version}` : ''}`);
    if (s.unhealthy) lines.push(`  ${s.unhealthy}`);
    if (s.error) {
      lines.push(`  ${s.error.message}`, '');
      continue;
    }
    if (s.connectors.length === 0) {
      lines.push('  (no connectors)', '');
      continue;
    }
    const flapping = (text: string, flaps: boolean | undefined) => (flaps ? `flapping: ${text}` : text);
    const dryRun = typeof options.dryRun === 'function' ? options.dryRun(s.cluster) : options.dryRun;
    const decisions = new Map((options.decisions?.get(s.cluster) ?? []).map((d) => [targetKey(d.target), flapping(describeDecision(d, dryRun), d.flapping)]));
    const done = options.outcomes?.find((h) => h.cluster === s.cluster)?.outcomes ?? [];
    for (const o of done) if (o.target) decisions.set(targetKey(o.target), flapping(describeOutcome(o), o.flapping));
    const healing = (key: string) => decisions.get(key) ?? '';
    const rows: string[][] = [['CONNECTOR', 'TYPE', 'STATE', 'TASKS', 'WORKER', 'HEALING', 'DETAIL']];
    for (const c of [...s.connectors].sort((a, b) => a.name.localeCompare(b.name))) {
      const t = countTasks(c);
      const tasks = `${t.running}/${t.total} running${c.tasksMax !== undefined && c.tasksMax !== t.total ? ` (max ${c.tasksMax})` : ''}`;
      rows.push([c.name, c.type ?? '', c.state, tasks, c.workerId ?? '', healing(targetKey({ connector: c.name })), clocks(c.detail ?? rootCause(c.trace, DETAIL_MAX))]);
      for (const task of c.tasks) {
        if (task.state === 'RUNNING' && !options.allTasks) continue;
        rows.push([`  task ${task.id}`, '', task.state, '', task.workerId ?? '', healing(targetKey({ connector: c.name, taskId: task.id })), clocks(rootCause(task.trace, DETAIL_MAX))]);
      }
    }
    // CONNECTOR, STATE and HEALING stay whole longest: TYPE, TASKS and WORKER are cut first.
    lines.push(...table(rows, (row, col, padded) => (col === 2 ? paint(row[2]!, padded) : padded), options.width, [0, 2, 5]));
    lines.push('');
  }
  return lines.join('\n');
}

/** One line per healing decision of a tick: what was done to which target, and why. */
export function renderHealing(healings: readonly ClusterHealing[], options: RenderOptions = {}): string {
  const paint = painter(options.color);
  const rows: string[][] = [['CLUSTER', 'TARGET', 'OUTCOME', 'ATTEMPT', 'NEXT AFTER', 'REASON']];
  for (const h of healings) {
    for (const o of h.outcomes) {
      const target = o.target ? `${o.target.connector}${o.target.taskId !== undefined ? ` task ${o.target.taskId}` : ''}` : '(cluster)';
      rows.push([h.cluster, target, o.outcome, o.attempt !== undefined ? String(o.attempt) : '', o.nextAttemptAfter ? clock(o.nextAttemptAfter) : '', clocks(o.reason)]);
    }
  }
  if (rows.length === 1) return '  (nothing to heal)\n';
  return `${table(rows, (row, col, padded) => (col === 2 ? paint(row[2]!, padded) : padded), options.width, [1, 2, 4]).join('\n')}\n`;
}

function describeDecision(d: Decision, dryRun = false): string {
  switch (d.kind) {
    case 'restart':
      return dryRun ? `would restart (${d.attempt})` : `restart ${d.attempt} due`;
    case 'deferred-backoff':
      return `${d.attempt} restart${d.attempt === 1 ? '' : 's'}, next ${clock(d.nextAttemptAfter)}`;
    case 'skipped-excluded':
      return 'held: excluded';
    case 'skipped-non-transient':
      return 'held: non-transient';
    case 'skipped-max-attempts':
      return `gave up after ${d.attempt}`;
    case 'deferred-history':
      return 'held: no restart history';
    case 'skipped-paused':
      return 'held: connector paused';
    case 'unassigned-too-long':
      return `unassigned since ${clock(d.since)}`;
    case 'recovered':
      return d.recoveryMinutes !== undefined ? `recovered in ${d.recoveryMinutes} min` : 'recovered';
  }
}

/** The HEALING cell for what a tick did, in the words `describeDecision` uses for what it would do. */
function describeOutcome(o: HealOutcome): string {
  const restarts = (n: number) => `${n} restart${n === 1 ? '' : 's'}`;
  switch (o.outcome) {
    case 'restarted':
      return `restarted (${o.attempt})`;
    case 'dry-run':
      return `would restart (${o.attempt})`;
    case 'deferred-backoff':
      return `${restarts(o.attempt ?? 0)}, next ${o.nextAttemptAfter ? clock(o.nextAttemptAfter) : '?'}`;
    case 'skipped-excluded':
      return 'held: excluded';
    case 'skipped-non-transient':
      return 'held: non-transient';
    case 'skipped-max-attempts':
      return `gave up after ${o.attempt}`;
    case 'deferred-history':
      return 'held: no restart history';
    case 'skipped-paused':
      return 'held: connector paused';
    case 'unassigned-too-long':
      return 'unassigned too long';
    default:
      return o.outcome;
  }
}

/** "08:20Z": the time of day is what matters for a backoff measured in minutes. */
function clock(iso: string): string {
  return `${iso.slice(11, 16)}Z`;
}

/** Full ISO timestamps in a reason, as the time of day the rest of the table uses. */
function clocks(text: string): string {
  return text.replace(/\b\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}):\d{2}(?:\.\d+)?Z\b/g, '$1Z');
}

/** A root cause is cut here at the most; on a terminal the table cuts it to the width left. */
const DETAIL_MAX = 400;
/** Below this many columns the last one (DETAIL, REASON) goes on a line of its own under its row. */
const MIN_LAST_COLUMN = 24;
/** No column is cut narrower than this. */
const MIN_COLUMN = 8;

/**
 * Pads columns (the last one runs free); `decorate` may colour a cell after padding. Within `maxWidth`, the
 * last column is cut to what is left (with an ellipsis), or moved under its row when too little is; then the
 * widest other columns are cut, those in `keep` (what an operator acts on: a name, the next restart) last.
 */
function table(rows: readonly string[][], decorate: (row: readonly string[], col: number, padded: string) => string, maxWidth?: number, keep: readonly number[] = []): string[] {
  const last = rows[0]!.length - 1;
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => width(row[col] ?? ''))));
  let under = false;
  if (maxWidth !== undefined) {
    // The indent, and each column before the last with the two spaces after it.
    const fixed = () => 2 + widths.slice(0, last).reduce((n, w) => n + w + 2, 0);
    // The last column goes under its row before any other is cut; only then are the widest ones cut.
    under = fixed() + MIN_LAST_COLUMN > maxWidth;
    const cuttable = (cols: readonly number[]) => cols.filter((col) => widths[col]! > MIN_COLUMN);
    const others = [...widths.keys()].slice(0, last).filter((col) => !keep.includes(col));
    while (fixed() - 2 > maxWidth) {
      const candidates = cuttable(others).length > 0 ? cuttable(others) : cuttable(keep);
      if (candidates.length === 0) break;
      const widest = candidates.reduce((w, col) => (widths[col]! > widths[w]! ? col : w));
      widths[widest]!--;
    }
    widths[last] = under ? Math.max(MIN_COLUMN, maxWidth - 6) : maxWidth - fixed();
  }
  const fit = (cell: string, col: number) => (maxWidth === undefined ? cell : cut(cell, widths[col]!));
  return rows.flatMap((row, i) => {
    const cells = under ? row.slice(0, last) : row;
    const text = `  ${cells
      .map((cell, col) => {
        const fitted = fit(cell, col);
        const padded = col === row.length - 1 ? fitted : fitted + ' '.repeat(widths[col]! - width(fitted));
        return i > 0 ? decorate(row, col, padded) : padded;
      })
      .join('  ')}`.trimEnd();
    return under && i > 0 && row[last] ? [text, `      ${fit(row[last], last)}`] : [text];
  });
}

/** Cuts to `max` columns, the last one an ellipsis. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Columns line up for names with accents or emoji: count code points, not UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}
