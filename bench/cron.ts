/**
 * The cron + curl + jq script that kc-monitor replaces, as a baseline on the bench's simulated cluster: one
 * curl of the expanded status, jq picking the FAILED tasks, then one `curl -X POST …/restart` per task, in
 * sequence, in a shell. Asynchronous: the simulator answering it runs in this process.
 */
import { execFile, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SCRIPT = `set -euo pipefail
curl -sf "$U/connectors?expand=status" |
  jq -r 'to_entries[] | .key as $c | .value.status.tasks[] | select(.state == "FAILED") | "\\($c | @uri) \\(.id)"' |
  while read -r c t; do
    curl -sf -o /dev/null -X POST "$U/connectors/$c/tasks/$t/restart"; echo restarted
  done`;

export interface CronRun {
  readonly ms: number;
  readonly restarts: number;
}

/** Why the baseline cannot run here, or undefined when bash, curl and jq are on the PATH. */
export function cronUnavailable(): string | undefined {
  const missing = ['bash', 'curl', 'jq'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  return missing.length ? `${missing.join(' and ')} not installed (apt-get install ${missing.join(' ')})` : undefined;
}

export async function cronBaseline(url: string): Promise<CronRun> {
  const started = performance.now();
  const { stdout } = await run('bash', ['-c', SCRIPT], { env: { PATH: process.env.PATH, U: url }, maxBuffer: 64 * 1024 * 1024 });
  return { ms: performance.now() - started, restarts: stdout.split('\n').filter((l) => l === 'restarted').length };
}
