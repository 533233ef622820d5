/**
 * What bin/kc-monitor.js loads: answers `--help` without loading the CLI and the SDKs it bundles (most of a
 * start), and hands every command to the CLI (dist/cli/kc-monitor.js, a bundle of its own).
 */
import { USAGE } from './usage';

export function run(): void {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h' || args[0] === 'help')) {
    // `kc-monitor --help | head` closes the pipe early: the reader's choice, as in the CLI.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') process.stderr.write(`kc-monitor: cannot write the help (${err.code ?? err.message})\n`);
      process.exit(err.code === 'EPIPE' ? 0 : 1);
    });
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a command runs
  (require('./kc-monitor.js') as typeof import('./kc-monitor.js')).run();
}
