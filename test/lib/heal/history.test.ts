import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { HISTORY_TABLE, TableHistoryStore, merge } from '../../../src/lib/heal/history';
import type { TargetHistory } from '../../../src/lib/heal/policy';
import { testStorage } from '../../fakes/azurite';

const store = () => TableHistoryStore.fromConfig({ kind: 'connection-string', connectionString: testStorage() });
const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}`;

describe('TableHistoryStore against Azurite', () => {
  it('creates its table and round-trips the history of one cluster, for any connector name', async () => {
    const cluster = unique('east/prod #1?');
    const history = new Map<string, TargetHistory>([
      ['c:jdbc-sink', { attempts: 2, lastAttempt: '2026-11-22T08:00:00.000Z' }],
      ['t:3:names with / \\ # ? and ünïcode', { attempts: 1, lastAttempt: '2026-11-22T08:05:00.000Z', healthySince: '2026-11-22T08:06:00.000Z' }],
      ['t:0:mirror', { attempts: 0, unassignedSince: '2026-11-22T07:55:00.000Z' }],
    ]);
    await store().save(cluster, new Map(), history);
    expect(await store().load(cluster)).toEqual(history);
    expect(await store().load(unique('other'))).toEqual(new Map());
  });

  it('writes only what changed and deletes what was forgotten', async () => {
    const cluster = unique('west');
    const s = store();
    await s.save(cluster, new Map(), new Map([['c:a', { attempts: 1, lastAttempt: 'x' }], ['c:b', { attempts: 1, lastAttempt: 'y' }]]));
    const loaded = await s.load(cluster);
    await s.save(cluster, loaded, new Map([['c:a', { attempts: 2, lastAttempt: 'z' }]]));
    expect(await store().load(cluster)).toEqual(new Map([['c:a', { attempts: 2, lastAttempt: 'z' }]]));
  });

  it('merges a concurrent writer instead of losing its restart (ETag conflict)', async () => {
    const cluster = unique('shared');
    await store().save(cluster, new Map(), new Map([['c:a', { attempts: 1, lastAttempt: '2026-11-22T08:00:00.000Z' }]]));
    const fn = store();
    const cli = store();
    const seenByFn = await fn.load(cluster);
    const seenByCli = await cli.load(cluster);
    // Both restart the connector; the CLI writes first.
    await cli.save(cluster, seenByCli, new Map([['c:a', { attempts: 2, lastAttempt: '2026-11-22T08:03:00.000Z' }]]));
    await fn.save(cluster, seenByFn, new Map([['c:a', { attempts: 2, lastAttempt: '2026-11-22T08:02:00.000Z' }]]));
    expect((await store().load(cluster)).get('c:a')).toEqual({ attempts: 2, lastAttempt: '2026-11-22T08:03:00.000Z' });

    // One forgets the target while the other records a new restart: the restart wins.
    const a = await fn.load(cluster);
    const b = await cli.load(cluster);
    await cli.save(cluster, b, new Map([['c:a', { attempts: 3, lastAttempt: '2026-11-22T08:09:00.000Z' }]]));
    await fn.save(cluster, a, new Map());
    expect((await store().load(cluster)).get('c:a')).toEqual({ attempts: 3, lastAttempt: '2026-11-22T08:09:00.000Z' });
  });

  it('keeps the larger count and the later restart when merging', () => {
    expect(merge({ attempts: 1, lastAttempt: 'b', healthySince: 'h' }, { attempts: 4, lastAttempt: 'a' })).toEqual({ attempts: 4, lastAttempt: 'b', healthySince: 'h' });
    expect(merge({ attempts: 1 }, undefined)).toEqual({ attempts: 1 });
  });

  it('fails loudly (for the healer to report) when storage is unreachable', async () => {
    const down = new TableHistoryStore(
      TableClient.fromConnectionString(testStorage().replace(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'TableEndpoint=http://127.0.0.1:1'), HISTORY_TABLE, {
        allowInsecureConnection: true,
        retryOptions: { maxRetries: 0 },
      }),
    );
    await expect(down.load('any')).rejects.toThrow(/ECONNREFUSED/);
  });
});
