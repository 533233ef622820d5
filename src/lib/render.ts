import type { ClusterSnapshot } from './connect/read';
import { countTasks, rootCause } from './connect/status';
import type { ClusterHealing } from './heal/healer';
import { type Decision, targetKey } from './heal/policy';

export interface RenderOptions {
  /** ANSI colours; off unless the terminal supports them and NO_COLOR is unset. */
  readonly color?: boolean;
  /** Show RUNNING tasks too; by default only tasks that need a look are listed under their connector. */
  readonly allTasks?: boolean;
  /** What the healer would do now, per cluster, shown beside each target. */
  readonly decisions?: ReadonlyMap<string, readonly Decision[]>;
  /** AUTO_HEAL=dry-run: a due restart would not be made. */
  readonly dryRun?: boolean;
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
  PAUSED: '33',
  STOPPED: '33',
  UNASSIGNED: '33',
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
    const state = s.error ? s.error.kind : 'REACHABLE';
    lines.push(`Cluster ${s.cluster}  ${paint(state, state)}${s.version ? `  Kafka Connect ${s.version}` : ''}`);
    if (s.error) {
      lines.push(`  ${s.error.message}`, '');
      continue;
    }
    if (s.connectors.length === 0) {
      lines.push('  (no connectors)', '');
      continue;
    }
    const decisions = new Map((options.decisions?.get(s.cluster) ?? []).map((d) => [targetKey(d.target), d]));
    const healing = (key: string) => describeDecision(decisions.get(key), options.dryRun);
    const rows: string[][] = [['CONNECTOR', 'TYPE', 'STATE', 'TASKS', 'WORKER', 'HEALING', 'DETAIL']];
    for (const c of [...s.connectors].sort((a, b) => a.name.localeCompare(b.name))) {
      const t = countTasks(c);
      const tasks = `${t.running}/${t.total} running${c.tasksMax !== undefined && c.tasksMax !== t.total ? ` (max ${c.tasksMax})` : ''}`;
      rows.push([c.name, c.type ?? '', c.state, tasks, c.workerId ?? '', healing(targetKey({ connector: c.name })), c.detail ?? rootCause(c.trace)]);
      for (const task of c.tasks) {
        if (task.state === 'RUNNING' && !options.allTasks) continue;
        rows.push([`  task ${task.id}`, '', task.state, '', task.workerId ?? '', healing(targetKey({ connector: c.name, taskId: task.id })), rootCause(task.trace)]);
      }
    }
    lines.push(...table(rows, (row, col, padded) => (col === 2 ? paint(row[2]!, padded) : padded)));
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
      rows.push([h.cluster, target, o.outcome, o.attempt !== undefined ? String(o.attempt) : '', o.nextAttemptAfter ? clock(o.nextAttemptAfter) : '', o.reason]);
    }
  }
  if (rows.length === 1) return '  (nothing to heal)\n';
  return `${table(rows, (row, col, padded) => (col === 2 ? paint(row[2]!, padded) : padded)).join('\n')}\n`;
}

function describeDecision(d: Decision | undefined, dryRun = false): string {
  if (!d) return '';
  switch (d.kind) {
    case 'restart':
      return dryRun ? `would restart (${d.attempt})` : `restart ${d.attempt} due`;
    case 'deferred-backoff':
      return `${d.attempt} restart${d.attempt === 1 ? '' : 's'}, next ${clock(d.nextAttemptAfter)}`;
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
      return 'recovered';
  }
}

/** "08:20Z": the time of day is what matters for a backoff measured in minutes. */
function clock(iso: string): string {
  return `${iso.slice(11, 16)}Z`;
}

/** Pads columns (the last one runs free); `decorate` may colour a cell after padding. */
function table(rows: readonly string[][], decorate: (row: readonly string[], col: number, padded: string) => string): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => width(row[col] ?? ''))));
  return rows.map((row, i) =>
    `  ${row
      .map((cell, col) => {
        const padded = col === row.length - 1 ? cell : cell + ' '.repeat(widths[col]! - width(cell));
        return i > 0 ? decorate(row, col, padded) : padded;
      })
      .join('  ')}`.trimEnd(),
  );
}

/** Columns line up for names with accents or emoji: count code points, not UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}
