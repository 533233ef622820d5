import { describe, expect, it } from 'vitest';
import type { ConnectClient, ConnectResponse } from '../../../src/lib/connect/client';
import { type ConnectFailure, ConnectError } from '../../../src/lib/errors';
import type { Target } from '../../../src/lib/heal/policy';
import { planCalls, restartTargets } from '../../../src/lib/heal/restart';

/**
 * The restart calls against a scripted client: each POST is answered (or refused) as the script says, so
 * every outcome, retry and fallback can be stated exactly. The simulator tests (restart.test.ts) show the
 * same against HTTP.
 */
type Answer = ConnectResponse | Error | ((path: string) => ConnectResponse | Error);

function scripted(...answers: Answer[]) {
  const posts: string[] = [];
  const client = {
    async post(path: string): Promise<ConnectResponse> {
      posts.push(path);
      const next = answers.length > 1 ? answers.shift()! : answers[0];
      const answer = typeof next === 'function' ? next(path) : next;
      if (answer instanceof Error) throw answer;
      return answer ?? { status: 204, body: undefined };
    },
  };
  return { client: client as unknown as ConnectClient, posts };
}

const refusal = (kind: ConnectFailure, detail: string, status?: number) => new ConnectError('c', kind, 'POST', '/connectors/x/restart', detail, status);
const task = (taskId: number, connector = 'x'): Target => ({ connector, taskId });
const OPTS = { restartPlan: true, concurrency: 4, retryDelaysMs: [0, 0] };
const NO_CONTENT: ConnectResponse = { status: 204, body: undefined };

describe('planCalls', () => {
  const a = (taskId?: number): Target => (taskId === undefined ? { connector: 'a' } : { connector: 'a', taskId });
  const b = (taskId?: number): Target => (taskId === undefined ? { connector: 'b' } : { connector: 'b', taskId });
  it.each<[string, Target[], Target[], Array<[string, string[], boolean]>]>([
    ['one KIP-745 call per connector, in the order first due', [b(0), a(1), b(1)], [a(1), b(0), b(1)], [['/connectors/b/restart?includeTasks=true&onlyFailed=true', ['t:0:b', 't:1:b'], true], ['/connectors/a/restart?includeTasks=true&onlyFailed=true', ['t:1:a'], true]]],
    ['failures of other connectors do not hold one back', [a(1)], [a(1), b(0), b()], [['/connectors/a/restart?includeTasks=true&onlyFailed=true', ['t:1:a'], true]]],
    ['as many due as failed, but not the same ones: each on its own', [a(1), a(3)], [a(1), a(2)], [['/connectors/a/tasks/1/restart', ['t:1:a'], false], ['/connectors/a/tasks/3/restart', ['t:3:a'], false]]],
    ['a due target that is not among the failed: each on its own', [a(), a(1)], [a(1)], [['/connectors/a/restart', ['c:a'], false], ['/connectors/a/tasks/1/restart', ['t:1:a'], false]]],
  ])('%s', (_name, due, failed, calls) => {
    const key = (t: Target) => (t.taskId === undefined ? `c:${t.connector}` : `t:${t.taskId}:${t.connector}`);
    expect(planCalls(due, failed, true).map((c) => [c.path, c.targets.map(key), c.plan ?? false])).toEqual(calls);
  });
});

describe('restartTargets', () => {
  it.each<[string, unknown, string]>([
    ['a connector and 2 tasks', { connector: { state: 'RESTARTING' }, tasks: [{ state: 'RESTARTING' }, { state: 'RESTARTING' }, { state: 'RUNNING' }] }, ' (connector and 2 tasks RESTARTING)'],
    ['1 task', { connector: { state: 'RUNNING' }, tasks: [{ state: 'RESTARTING' }, null] }, ' (1 task RESTARTING)'],
    ['the connector alone', { connector: { state: 'RESTARTING' }, tasks: [] }, ' (connector RESTARTING)'],
    ['no plan', undefined, ''],
    ['a plan without its connector', { tasks: [{ state: 'RESTARTING' }] }, ''],
    ['a body that is not an object', 'accepted', ''],
  ])('says what the 202 plan restarts: %s', async (_name, body, said) => {
    const { client } = scripted({ status: 202, body });
    const [r] = await restartTargets(client, [task(1)], [task(1)], OPTS);
    expect(r).toStrictEqual({ target: task(1), outcome: 'restarted', counted: true, httpStatus: 202, detail: `POST …/restart?includeTasks=true&onlyFailed=true → 202${said}` });
  });

  // The plan is the leader's view: each worker plans again from its own status store and restarts what it runs
  // (3.9.2, a CI run: the leader still had the connector UNASSIGNED). An empty plan counts, as a timeout does.
  it.each<[string, unknown]>([
    ['everything RUNNING', { connector: { state: 'RUNNING' }, tasks: [{ state: 'RUNNING' }] }],
    ['the connector UNASSIGNED, no tasks', { connector: { state: 'UNASSIGNED' }, tasks: [] }],
    ['tasks that are not a list', { connector: { state: 'RUNNING' }, tasks: 'none' }],
  ])('counts a 202 whose plan restarts nothing (%s) once, and says the plan is the leader\'s', async (_name, body) => {
    const { client, posts } = scripted({ status: 202, body });
    const [r] = await restartTargets(client, [task(1)], [task(1)], OPTS);
    expect(posts).toHaveLength(1);
    expect(r).toStrictEqual({
      target: task(1),
      outcome: 'restarted',
      counted: true,
      httpStatus: 202,
      detail: "POST …/restart?includeTasks=true&onlyFailed=true → 202 (nothing RESTARTING in the leader's plan; the worker that runs it restarts what it sees FAILED)",
    });
  });

  it('says how many tries were refused when the deadline passes between them', async () => {
    const { client, posts } = scripted(refusal('CONFLICT', 'rebalance', 409));
    const [r] = await restartTargets(client, [task(1)], [task(1), task(2)], { ...OPTS, retryDelaysMs: [60, 60], signal: AbortSignal.timeout(20) });
    expect(posts).toHaveLength(1);
    expect(r).toStrictEqual({
      target: task(1),
      outcome: 'deferred-deadline',
      counted: false,
      detail: `POST …/tasks/1/restart not tried again: the tick deadline passed (1 tries refused, the last ${refusal('CONFLICT', 'rebalance', 409).message})`,
    });
  });

  it('names the call by what follows the connector, whatever its name', async () => {
    const { client } = scripted(NO_CONTENT);
    const [r] = await restartTargets(client, [task(3, 'a b/c')], [task(3, 'a b/c'), task(4, 'a b/c')], OPTS);
    expect(r?.detail).toBe('POST …/tasks/3/restart → 204');
  });

  // Connect < 3.0 ignores the query and restarts the Connector instance alone (204): the tasks go one by one.
  it('after a 204 to the KIP-745 call restarts the due tasks one by one, and the connector only once', async () => {
    const { client, posts } = scripted(NO_CONTENT);
    const due = [{ connector: 'x' }, task(0), task(2)];
    const results = await restartTargets(client, due, due, OPTS);
    expect(posts).toEqual(['/connectors/x/restart?includeTasks=true&onlyFailed=true', '/connectors/x/tasks/0/restart', '/connectors/x/tasks/2/restart']);
    expect(results.map((r) => [r.target.taskId, r.detail])).toEqual([
      [undefined, 'POST …/restart?includeTasks=true&onlyFailed=true → 204'],
      [0, 'POST …/tasks/0/restart → 204'],
      [2, 'POST …/tasks/2/restart → 204'],
    ]);
  });

  it('makes no fallback when the KIP-745 call was not made', async () => {
    const { client, posts } = scripted(refusal('CONFLICT', 'rebalance', 409));
    const due = [task(0), task(1)];
    const results = await restartTargets(client, due, due, { ...OPTS, retryDelaysMs: [] });
    expect(posts).toEqual(['/connectors/x/restart?includeTasks=true&onlyFailed=true']);
    expect(results.map((r) => r.outcome)).toEqual(['deferred-rebalance', 'deferred-rebalance']);
  });

  it('waits the retry delays between tries', async () => {
    const { client, posts } = scripted(refusal('CONFLICT', 'rebalance', 409), refusal('CONFLICT', 'rebalance', 409), { status: 202, body: undefined });
    const started = performance.now();
    const [r] = await restartTargets(client, [task(1)], [task(1), task(2)], { ...OPTS, retryDelaysMs: [60, 90] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(posts).toHaveLength(3);
    expect(r).toMatchObject({ outcome: 'restarted', httpStatus: 202 });
  });

  it('past the deadline sends nothing, and counts nothing', async () => {
    const { client, posts } = scripted(NO_CONTENT);
    const results = await restartTargets(client, [task(1), task(2)], [task(1), task(2), task(3)], { ...OPTS, signal: AbortSignal.abort() });
    expect(posts).toEqual([]);
    expect(results).toStrictEqual([
      { target: task(1), outcome: 'deferred-deadline', counted: false, detail: 'POST …/tasks/1/restart not sent: the tick deadline passed' },
      { target: task(2), outcome: 'deferred-deadline', counted: false, detail: 'POST …/tasks/2/restart not sent: the tick deadline passed' },
    ]);
  });

  it('does not retry once the deadline passed during a try: deferred, not counted', async () => {
    const deadline = new AbortController();
    const { client, posts } = scripted(() => {
      deadline.abort();
      return refusal('CONFLICT', 'rebalance', 409);
    });
    const [r] = await restartTargets(client, [task(1)], [task(1)], { ...OPTS, signal: deadline.signal });
    expect(posts).toHaveLength(1);
    expect(r).toStrictEqual({ target: task(1), outcome: 'deferred-rebalance', counted: false, httpStatus: 409, detail: `${refusal('CONFLICT', 'rebalance', 409).message} (after 1 tries)` });
  });

  it.each<[string, Error, object]>([
    // Not a ConnectError: the client's own failure (a bug, an undici error it did not map): counted, redacted, one line.
    ['a network error that is no ConnectError', new Error('socket hang up\n at jdbc:mysql://app:S3cret-pw@db:3306'), { outcome: 'failed', counted: true, detail: 'socket hang up at jdbc:mysql://app:***@db:3306' }],
    ['an unreachable worker (no status)', refusal('UNREACHABLE', 'connect ECONNREFUSED'), { outcome: 'failed', counted: true, detail: refusal('UNREACHABLE', 'connect ECONNREFUSED').message }],
    ['a connector deleted mid-tick', refusal('NOT_FOUND', 'Unknown connector: x', 404), { outcome: 'not-found', counted: false, httpStatus: 404, detail: `${refusal('NOT_FOUND', 'Unknown connector: x', 404).message} (deleted while the tick ran)` }],
    ['Jetty 12 refusing the path', refusal('BAD_RESPONSE', 'Ambiguous URI path separator', 400), { outcome: 'unaddressable', counted: false, httpStatus: 400 }],
    ['Jetty 12 refusing a character', refusal('BAD_RESPONSE', 'Suspicious Path Character', 400), { outcome: 'unaddressable', counted: false, httpStatus: 400 }],
    ["Jetty's words only at the start", refusal('BAD_RESPONSE', 'Not an Ambiguous URI path', 400), { outcome: 'failed', counted: true, httpStatus: 400 }],
    ["Jetty's words with another status", refusal('FORBIDDEN', 'Ambiguous URI path separator', 403), { outcome: 'failed', counted: true, httpStatus: 403 }],
    ['another 400', refusal('BAD_RESPONSE', 'Bad Request', 400), { outcome: 'failed', counted: true, httpStatus: 400 }],
  ])('%s', async (_name, error, expected) => {
    const { client, posts } = scripted(error);
    const [r] = await restartTargets(client, [task(1)], [task(1), task(2)], OPTS);
    expect(r).toMatchObject(expected);
    if (!('httpStatus' in expected)) expect(r).not.toHaveProperty('httpStatus');
    expect(posts).toHaveLength(1);
  });

  it("says that Jetty's refusal is final, and why", async () => {
    const e = refusal('BAD_RESPONSE', 'Ambiguous URI path separator', 400);
    const [r] = await restartTargets(scripted(e).client, [task(1)], [task(1), task(2)], OPTS);
    expect(r?.detail).toMatch(new RegExp(`^${e.message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not restarted: Kafka Connect 4\\.x \\(Jetty 12\\) refuses`));
  });

  // Transient: retried within the tick, then deferred uncounted. Anything else: the restart failed, counted.
  it.each<[string, ConnectError, boolean]>([
    ['409', refusal('CONFLICT', 'rebalance', 409), true],
    ['502', refusal('SERVER_ERROR', 'Bad Gateway', 502), true],
    ['503', refusal('SERVER_ERROR', 'Service Unavailable', 503), true],
    ['504', refusal('SERVER_ERROR', 'Gateway Timeout', 504), true],
    ['500 Request timed out', refusal('SERVER_ERROR', 'Request timed out', 500), true],
    ['500 with those words later in the message', refusal('SERVER_ERROR', 'Failed to start task x: Request timed out', 500), false],
    ['501 Request timed out', refusal('SERVER_ERROR', 'Request timed out', 501), false],
    ['500 of another kind', refusal('SERVER_ERROR', 'java.lang.NullPointerException', 500), false],
    ['503 that is not a server error (a proxy body we could not read)', refusal('BAD_RESPONSE', 'Service Unavailable', 503), false],
    ['403', refusal('FORBIDDEN', 'Forbidden', 403), false],
  ])('%s: transient = %s', async (_name, error, transient) => {
    const { client, posts } = scripted(error);
    const [r] = await restartTargets(client, [task(1)], [task(1), task(2)], OPTS);
    expect(r).toStrictEqual({
      target: task(1),
      outcome: transient ? 'deferred-rebalance' : 'failed',
      counted: !transient,
      httpStatus: error.status,
      detail: transient ? `${error.message} (after 3 tries)` : error.message,
    });
    expect(posts).toHaveLength(transient ? 3 : 1);
  });

  it.each([
    ['a/b', true],
    ['a\\b', true],
    ['100%', true],
    ['plain-name', false],
    ['dotted.name_1', false],
  ])('on Connect 4.x, %s unaddressable: %s', async (name, unaddressable) => {
    const { client, posts } = scripted(NO_CONTENT);
    const due = [task(1, name), task(1, 'ok')];
    const results = await restartTargets(client, due, due, { ...OPTS, restartPlan: false, strictPaths: true });
    expect(posts).toEqual([...(unaddressable ? [] : [`/connectors/${encodeURIComponent(name)}/tasks/1/restart`]), '/connectors/ok/tasks/1/restart']);
    expect(results.map((r) => [r.target.connector, r.outcome, r.counted])).toEqual(
      unaddressable ? [[name, 'unaddressable', false], ['ok', 'restarted', true]] : [[name, 'restarted', true], ['ok', 'restarted', true]],
    );
    if (unaddressable) {
      expect(results[0]?.detail).toBe('not restarted: Kafka Connect 4.x (Jetty 12) refuses a connector name with / \\ or % in a URL path, so no restart can reach it; rename the connector, or restart it by hand');
    }
  });
});
