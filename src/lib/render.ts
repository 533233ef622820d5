import type { ClusterSnapshot } from './connect/read';
import { countTasks } from './connect/status';

export interface RenderOptions {
  /** ANSI colours; off unless the terminal supports them and NO_COLOR is unset. */
  readonly color?: boolean;
  /** Show RUNNING tasks too; by default only tasks that need a look are listed under their connector. */
  readonly allTasks?: boolean;
}

const COLORS: Record<string, string> = { RUNNING: '32', REACHABLE: '32', FAILED: '31', PAUSED: '33', STOPPED: '33', UNASSIGNED: '33', RESTARTING: '36' };

/** A terminal table: each cluster, its connectors, and under each connector the tasks that are not RUNNING. */
export function renderStatus(snapshots: readonly ClusterSnapshot[], options: RenderOptions = {}): string {
  const paint = (state: string, text: string) => {
    const code = options.color ? (COLORS[state] ?? (state === 'REACHABLE' ? '32' : '31')) : undefined;
    return code ? `\x1b[${code}m${text}\x1b[0m` : text;
  };
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
    const table: string[][] = [['CONNECTOR', 'TYPE', 'STATE', 'TASKS', 'WORKER', 'DETAIL']];
    const states: string[] = ['STATE'];
    for (const c of [...s.connectors].sort((a, b) => a.name.localeCompare(b.name))) {
      const t = countTasks(c);
      const tasks = `${t.running}/${t.total} running${c.tasksMax !== undefined && c.tasksMax !== t.total ? ` (max ${c.tasksMax})` : ''}`;
      table.push([c.name, c.type ?? '', c.state, tasks, c.workerId ?? '', c.detail ?? rootCause(c.trace)]);
      states.push(c.state);
      for (const task of c.tasks) {
        if (task.state === 'RUNNING' && !options.allTasks) continue;
        table.push([`  task ${task.id}`, '', task.state, '', task.workerId ?? '', rootCause(task.trace)]);
        states.push(task.state);
      }
    }
    const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => width(row[col] ?? ''))));
    table.forEach((row, i) => {
      const cells = row.map((cell, col) => {
        const padded = col === row.length - 1 ? cell : cell + ' '.repeat(widths[col]! - width(cell));
        return col === 2 && i > 0 ? paint(states[i]!, padded) : padded;
      });
      lines.push(`  ${cells.join('  ').trimEnd()}`);
    });
    lines.push('');
  }
  return lines.join('\n');
}

/** The line of a stack trace that says why: the last `Caused by`, or the exception itself. */
export function rootCause(trace: string | undefined, max = 100): string {
  if (!trace) return '';
  const lines = trace.split('\n');
  const cause = [...lines].reverse().find((l) => l.trimStart().startsWith('Caused by:')) ?? lines[0] ?? '';
  const text = cause.trim().replace(/^Caused by:\s*/, '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Columns line up for names with accents or emoji: count code points, not UTF-16 units. */
function width(text: string): number {
  return [...text].length;
}
