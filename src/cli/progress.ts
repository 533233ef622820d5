import type { Writable } from 'node:stream';
import type { TickProgress } from '../lib/tick';

/** A progress line on stderr: what each cluster is doing, so that a slow endpoint is never a silent wait. */
export interface Progress {
  update(progress: TickProgress): void;
  /** Clears the line, before the table or an error is printed. */
  stop(): void;
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined };

/** Only on a terminal: a pipe, a file or cron gets nothing (and no escape codes). */
export async function startProgress(stderr: Writable & { isTTY?: boolean; columns?: number }, env: Readonly<Record<string, string | undefined>>): Promise<Progress> {
  if (!stderr.isTTY || env.TERM === 'dumb') return SILENT;
  const { default: yoctoSpinner } = await import('yocto-spinner');
  const spinner = yoctoSpinner({ stream: stderr, text: 'starting…' }).start();
  const steps = new Map<string, string>();
  const failed = new Set<string>();
  return {
    update(p) {
      if (p.step === 'shipping') steps.set('', `shipping ${p.rows} row${p.rows === 1 ? '' : 's'}…`);
      // A cluster that could not be read keeps saying so: "0 restarts" after it would hide the failure.
      else if (!failed.has(p.cluster)) steps.set(p.cluster, describe(p));
      if (p.step === 'read' && p.failure) failed.add(p.cluster);
      const text = [...steps].map(([cluster, step]) => (cluster ? `${cluster}: ${step}` : step)).join(' · ');
      // One line: a wrapped spinner line is redrawn as two, and scrolls.
      const room = Math.max(10, (stderr.columns ?? 80) - 3);
      spinner.text = text.length > room ? `${text.slice(0, room - 1)}…` : text;
    },
    stop() {
      spinner.stop();
    },
  };
}

function describe(p: Exclude<TickProgress, { step: 'shipping' }>): string {
  switch (p.step) {
    case 'reading':
      return 'reading…';
    case 'read':
      return p.failure ? p.failure : `${p.connectors} connectors`;
    case 'healing':
      return 'restarting…';
    case 'healed':
      return `${p.restarts} restart${p.restarts === 1 ? '' : 's'}`;
  }
}
