import { type InvocationContext, type Timer, app } from '@azure/functions';
import { type Settings, loadConfig } from '../lib/config';
import { MonitorError, ensureError } from '../lib/errors';
import { clip } from '../lib/redact';
import type { Monitor } from '../lib/monitor';

/**
 * The timer handler. Settings are read and validated on the first run of a worker and the monitor kept,
 * so connections and the managed-identity token are reused from tick to tick (the host restarts the
 * worker when app settings change). The Azure SDKs and the Connect client load on that first run, not
 * when the host loads the app: a cold start pays only for this file and the settings check.
 */
export function createTimerHandler(settings: () => Settings) {
  let monitor: Monitor | undefined;
  return async function kafkaConnectMonitor(timer: Timer, context: InvocationContext): Promise<void> {
    try {
      if (!monitor) {
        const config = loadConfig(settings(), { requireIngestion: true, requireStorageToHeal: true });
        const { createMonitor } = await loadRuntime();
        monitor = createMonitor(config);
        for (const warning of config.warnings) context.warn(warning);
      }
      const current = monitor;
      if (timer.isPastDue) context.warn('the timer is past due: the previous tick ran late or the app was idle');
      const { summarizeTick, tickProblems } = await loadRuntime();
      const result = await current.tick();
      const problems = tickProblems(result);
      for (const line of [...problems.unreadable, ...problems.notShipped]) context.warn(line);
      context.log(summarizeTick(result));
    } catch (err) {
      // A bad setting is not transient: fail the invocation with the one-line message, no stack trace.
      const e = ensureError(err);
      const line = e instanceof MonitorError ? e.message : `tick failed: ${clip(e.message, 300)}`;
      context.error(line);
      const failure = new Error(line);
      failure.stack = line;
      throw failure;
    }
  };
}

type Runtime = typeof import('../lib/runtime.js');

/**
 * The runtime bundle is CommonJS that Node's import() cannot see named exports in (it is minified): they are
 * on `default` there, and on the module itself when the sources run (tests, tsc output).
 */
async function loadRuntime(): Promise<Runtime> {
  const loaded = (await import('../lib/runtime.js')) as Runtime & { default?: Runtime };
  return loaded.default?.createMonitor ? loaded.default : loaded;
}

app.timer('kafkaConnectMonitor', {
  schedule: '%MONITOR_SCHEDULE%',
  handler: createTimerHandler(() => process.env),
});
