import { type InvocationContext, type Timer, app } from '@azure/functions';
import { loadConfig, type Settings } from '../lib/config';
import { MonitorError, ensureError, oneLine } from '../lib/errors';
import { type Monitor, createMonitor } from '../lib/monitor';
import { summarizeTick, tickProblems } from '../lib/tick';

/**
 * The timer handler. Settings are read and validated on the first run of a worker and the monitor kept,
 * so connections and the managed-identity token are reused from tick to tick (the host restarts the
 * worker when app settings change).
 */
export function createTimerHandler(settings: () => Settings) {
  let monitor: Monitor | undefined;
  return async function kafkaConnectMonitor(timer: Timer, context: InvocationContext): Promise<void> {
    try {
      if (!monitor) {
        monitor = createMonitor(loadConfig(settings(), { requireIngestion: true, requireStorageToHeal: true }));
        for (const warning of monitor.config.warnings) context.warn(warning);
      }
      if (timer.isPastDue) context.warn('the timer is past due: the previous tick ran late or the app was idle');
      const result = await monitor.tick();
      const problems = tickProblems(result);
      for (const line of [...problems.unreadable, ...problems.notShipped]) context.warn(line);
      context.log(summarizeTick(result));
    } catch (err) {
      // A bad setting is not transient: fail the invocation with the one-line message, no stack trace.
      const e = ensureError(err);
      const line = e instanceof MonitorError ? e.message : `tick failed: ${oneLine(e.message)}`;
      context.error(line);
      const failure = new Error(line);
      failure.stack = line;
      throw failure;
    }
  };
}

app.timer('kafkaConnectMonitor', {
  schedule: '%MONITOR_SCHEDULE%',
  handler: createTimerHandler(() => process.env),
});
