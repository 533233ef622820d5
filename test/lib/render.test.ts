import { describe, expect, it } from 'vitest';
import type { ClusterSnapshot } from '../../src/lib/connect/read';
import type { Decision } from '../../src/lib/heal/policy';
import { renderStatus } from '../../src/lib/render';

/** The HEALING column and the cluster line, for what the healer decides now (`kc-monitor status`). */
const snapshot = (cluster: string, extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot => ({
  cluster,
  version: '3.9.0',
  connectors: [{ name: 'orders', state: 'RUNNING', tasks: [{ id: 0, state: 'FAILED', workerId: 'w:1', trace: 'java.sql.SQLException: Connection refused' }] }],
  ...extra,
});
const task = { connector: 'orders', taskId: 0 };
const healingOf = (text: string) => /task 0 +FAILED +w:1 +(.+?) {2,}/.exec(text)?.[1];

describe('renderStatus', () => {
  it.each<[string, Decision, string]>([
    ['excluded', { kind: 'skipped-excluded', target: task, attempt: 0, pattern: '^orders', reason: 'r' }, 'held: excluded'],
    ['flapping, in backoff', { kind: 'deferred-backoff', target: task, attempt: 3, nextAttemptAfter: '2026-11-22T08:32:00.000Z', reason: 'r', flapping: true }, 'flapping: 3 restarts, next 08:32Z'],
    ['flapping, due', { kind: 'restart', target: task, attempt: 4, reason: 'r', flapping: true }, 'flapping: restart 4 due'],
  ])('HEALING for %s', (_name, decision, shown) => {
    expect(healingOf(renderStatus([snapshot('prod')], { decisions: new Map([['prod', [decision]]]) }))).toBe(shown);
  });

  it('says "would restart" only on the clusters in dry-run', () => {
    const restart: Decision = { kind: 'restart', target: task, attempt: 1, reason: 'r' };
    const text = renderStatus([snapshot('prod'), snapshot('staging')], { decisions: new Map([['prod', [restart]], ['staging', [restart]]]), dryRun: (c) => c === 'staging' });
    const [prod, staging] = text.split('Cluster staging');
    expect(healingOf(prod!)).toBe('restart 1 due');
    expect(healingOf(staging!)).toBe('would restart (1)');
  });

  it('an UNHEALTHY cluster says so, with the worker\'s message, above its connectors', () => {
    const lines = renderStatus([snapshot('prod', { unhealthy: 'GET /health → 500: Worker was unable to handle this request' })]).split('\n');
    expect(lines.slice(0, 2)).toEqual(['Cluster prod  UNHEALTHY  Kafka Connect 3.9.0', '  GET /health → 500: Worker was unable to handle this request']);
    expect(lines[2]).toMatch(/^ {2}CONNECTOR/);
  });
});
