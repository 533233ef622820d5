import { mapLimit } from '../concurrency';
import { type ConnectClient, connectorPath } from '../connect/client';
import { ConnectError, ensureError } from '../errors';
import { clip } from '../redact';
import { type Target, targetKey } from './policy';

/** What became of one restart call. Only `restarted` and `failed` count as an attempt. */
export type RestartOutcome = 'restarted' | 'failed' | 'deferred-rebalance' | 'deferred-deadline' | 'deferred-history' | 'deferred-unhealthy' | 'not-found' | 'unaddressable' | 'dry-run';

export interface RestartResult {
  readonly target: Target;
  readonly outcome: RestartOutcome;
  readonly counted: boolean;
  readonly httpStatus?: number;
  readonly detail: string;
}

export interface RestartOptions {
  /** KIP-745 (Kafka 3.0): one call restarts a connector and its failed tasks. */
  readonly restartPlan: boolean;
  /** Kafka 4.0+ (Jetty 12): a name with `/`, `\` or `%` cannot be put in a URL path at all. */
  readonly strictPaths?: boolean;
  readonly concurrency: number;
  /** Waits before retrying a transient refusal (see isTransient) within the tick; then it is deferred to the next tick. */
  readonly retryDelaysMs: readonly number[];
  readonly signal?: AbortSignal;
}

/** One REST call and the targets it restarts. */
interface RestartCall {
  readonly path: string;
  readonly targets: readonly Target[];
  /** A KIP-745 call (connector and failed tasks at once). */
  readonly plan?: boolean;
}

/**
 * Plans the fewest calls that restart exactly the due targets: on Connect 3.0+ one
 * `restart?includeTasks=true&onlyFailed=true` per connector when every failed part of it is due; otherwise
 * the connector instance and each due task on its own, so a target in backoff or held back is not touched.
 */
export function planCalls(due: readonly Target[], failed: readonly Target[], restartPlan: boolean): RestartCall[] {
  // Grouped once each, so the plan is linear in the targets (a cluster may have thousands failing).
  const byConnector = groupByConnector(due);
  const failedBy = groupByConnector(failed);
  const calls: RestartCall[] = [];
  for (const [connector, targets] of byConnector) {
    const base = connectorPath(connector);
    const failedHere = (failedBy.get(connector) ?? []).map(targetKey);
    const dueHere = new Set(targets.map(targetKey));
    if (restartPlan && failedHere.length === dueHere.size && failedHere.every((k) => dueHere.has(k))) {
      calls.push({ path: `${base}/restart?includeTasks=true&onlyFailed=true`, targets, plan: true });
      continue;
    }
    for (const t of targets) calls.push({ path: restartPath(t), targets: [t] });
  }
  return calls;
}

function groupByConnector(targets: readonly Target[]): Map<string, Target[]> {
  const by = new Map<string, Target[]>();
  for (const t of targets) {
    const list = by.get(t.connector);
    if (list) list.push(t);
    else by.set(t.connector, [t]);
  }
  return by;
}

function restartPath(t: Target): string {
  const base = connectorPath(t.connector);
  return t.taskId === undefined ? `${base}/restart` : `${base}/tasks/${t.taskId}/restart`;
}

/** Makes the calls with bounded concurrency; never throws, every target gets a result. */
export async function restartTargets(client: ConnectClient, due: readonly Target[], failed: readonly Target[], options: RestartOptions): Promise<RestartResult[]> {
  // Not sent, not counted: a POST would only earn a 400 from Jetty, and counting it would back off from (and
  // give up on) restarts that never happened.
  const blocked = options.strictPaths ? due.filter((t) => UNADDRESSABLE.test(t.connector)) : [];
  const refused = blocked.map((target): RestartResult => ({ target, outcome: 'unaddressable', counted: false, detail: UNADDRESSABLE_DETAIL }));
  const calls = planCalls(blocked.length > 0 ? due.filter((t) => !UNADDRESSABLE.test(t.connector)) : due, failed, options.restartPlan);
  const results = await mapLimit(calls, options.concurrency, async (call) => {
    const r = await callWithRetry(client, call.path, options);
    if (!(call.plan && r.outcome === 'restarted' && r.httpStatus === 204)) return call.targets.map((target) => ({ target, ...r }));
    // 204 instead of a 202 plan: a Connect older than 3.0 (its version unknown to us) ignored the query and
    // restarted only the Connector instance. Restart the due tasks one by one.
    const out: RestartResult[] = [];
    for (const target of call.targets) {
      out.push({ target, ...(target.taskId === undefined ? r : await callWithRetry(client, restartPath(target), options)) });
    }
    return out;
  });
  return [...refused, ...results.flat()];
}

const UNADDRESSABLE = /[/\\%]/;
const UNADDRESSABLE_DETAIL = 'not restarted: Kafka Connect 4.x (Jetty 12) refuses a connector name with / \\ or % in a URL path, so no restart can reach it; rename the connector, or restart it by hand';

async function callWithRetry(client: ConnectClient, path: string, options: RestartOptions): Promise<Omit<RestartResult, 'target'>> {
  let refused: string | undefined;
  for (let retry = 0; ; retry++) {
    // Past the tick's deadline nothing is sent: the next tick makes this restart, and it does not count.
    if (options.signal?.aborted) {
      const detail = refused ? `POST ${short(path)} not tried again: the tick deadline passed (${retry} tries refused, the last ${refused})` : `POST ${short(path)} not sent: the tick deadline passed`;
      return { outcome: 'deferred-deadline', counted: false, detail };
    }
    try {
      const res = await client.post(path, options.signal);
      return { outcome: 'restarted', counted: true, httpStatus: res.status, detail: `POST ${short(path)} → ${res.status}${describePlan(res.body)}` };
    } catch (err) {
      const e = ensureError(err);
      if (!(e instanceof ConnectError)) return { outcome: 'failed', counted: true, detail: clip(e.message, 300) };
      const status = e.status !== undefined ? { httpStatus: e.status } : {};
      if (e.kind === 'NOT_FOUND') return { outcome: 'not-found', counted: false, ...status, detail: `${e.message} (deleted while the tick ran)` };
      // Jetty's own refusal of the path (a Connect whose version we could not read): the restart never happened.
      if (e.status === 400 && /^(Ambiguous URI path|Suspicious Path Character)/.test(e.detail)) return { outcome: 'unaddressable', counted: false, ...status, detail: `${e.message}: ${UNADDRESSABLE_DETAIL}` };
      const transient = isTransient(e);
      if (transient && retry < options.retryDelaysMs.length && !options.signal?.aborted) {
        refused = e.message;
        await sleep(options.retryDelaysMs[retry]!);
        continue;
      }
      // A rebalance or an overloaded leader is nobody's fault: try again next tick without counting it.
      if (transient) return { outcome: 'deferred-rebalance', counted: false, ...status, detail: `${e.message} (after ${retry + 1} tries)` };
      return { outcome: 'failed', counted: true, ...status, detail: e.message };
    }
  }
}

/**
 * A refusal that says nothing about the target: a rebalance (409), a request the leader never ran (timed out,
 * not forwarded, rebalance expected) or a gateway in front of Connect. Any other 500 is the restart itself
 * failing — `Failed to start task: x-0` from a synchronous task restart — and counts as an attempt, or
 * HEAL_MAX_ATTEMPTS and the gave-up alert could never fire.
 */
function isTransient(e: ConnectError): boolean {
  if (e.kind === 'CONFLICT') return true;
  if (e.kind !== 'SERVER_ERROR') return false;
  if (e.status === 502 || e.status === 503 || e.status === 504) return true;
  // Connect's own words, anchored: a connector named orders-rebalance-audit must not make its
  // "Failed to start task: orders-rebalance-audit-0" look like a rebalance.
  return e.status === 500 && /^(Request timed out|IO Error trying to forward REST request|Request cannot be completed because a rebalance is expected)/.test(e.detail);
}

/**
 * The 202 restart plan is the leader's view, from its own status store; each worker then plans again from its
 * own and restarts what it runs (DistributedHerder.doRestartConnectorAndTasks). An empty plan can come from a
 * leader that lags (3.9.2, a CI run: the connector still UNASSIGNED there), while the worker running the
 * connector restarts it: the call counts all the same, as a timeout does — a longer wait, never a restart too soon.
 */
function describePlan(body: unknown): string {
  const plan = body as { connector?: { state?: unknown }; tasks?: Array<{ state?: unknown }> } | undefined;
  if (!plan || typeof plan !== 'object' || !plan.connector) return '';
  const tasks = Array.isArray(plan.tasks) ? plan.tasks.filter((t) => t?.state === 'RESTARTING').length : 0;
  const parts = [plan.connector.state === 'RESTARTING' ? 'connector' : '', tasks > 0 ? `${tasks} task${tasks === 1 ? '' : 's'}` : ''].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(' and ')} RESTARTING)` : " (nothing RESTARTING in the leader's plan; the worker that runs it restarts what it sees FAILED)";
}

/** The connector is in the row already: `…/tasks/3/restart` says the rest, at a fraction of the bytes. */
function short(path: string): string {
  return path.replace(/^\/connectors\/[^/?]+/, '…');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
