import { mkdirSync, mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TargetHistory } from '../../../src/lib/heal/policy';
import { LocalState, StateBusyError, stateDir } from '../../../src/lib/local/state';

const fresh = () => LocalState.open(join(mkdtempSync(join(tmpdir(), 'kc-local-')), 'state'));
const map = (entries: Record<string, TargetHistory>) => new Map(Object.entries(entries));

describe('stateDir', () => {
  it.each([
    [{ KC_MONITOR_STATE_DIR: '/srv/kc' }, '/srv/kc'],
    [{ XDG_STATE_HOME: '/home/ops/.state' }, '/home/ops/.state/kc-monitor'],
    [{ KC_MONITOR_STATE_DIR: ' ', XDG_STATE_HOME: '/x' }, '/x/kc-monitor'],
  ])('%o → %s', (settings, dir) => {
    expect(stateDir(settings)).toBe(dir);
  });

  it('defaults under the home directory', () => {
    expect(stateDir({})).toMatch(/[/\\]\.local[/\\]state[/\\]kc-monitor$/);
  });
});

describe('FileHistoryStore', () => {
  it('saves per cluster, and loads what was saved, even for a cluster named __proto__', async () => {
    const { history } = fresh();
    expect(history.exists()).toBe(false);
    await history.save('__proto__', new Map(), map({ 't:0:a': { attempts: 1, lastAttempt: '2026-01-05T08:00:00.000Z' } }));
    await history.save('east', new Map(), map({ 'c:b': { attempts: 2 } }));
    expect(history.exists()).toBe(true);
    expect(await history.load('__proto__')).toEqual(map({ 't:0:a': { attempts: 1, lastAttempt: '2026-01-05T08:00:00.000Z' } }));
    expect(await history.load('east')).toEqual(map({ 'c:b': { attempts: 2 } }));
    expect(await history.load('constructor')).toEqual(new Map());
  });

  it.each<[string, Record<string, TargetHistory>, Record<string, TargetHistory>, Record<string, TargetHistory>, Record<string, TargetHistory>]>([
    // name, what we loaded, what we save, what another run wrote meanwhile, what the file holds after
    ['nobody else wrote: ours stands', { k: { attempts: 1 } }, { k: { attempts: 2, lastAttempt: 't2' } }, { k: { attempts: 1 } }, { k: { attempts: 2, lastAttempt: 't2' } }],
    ['another run restarted later: the larger count and the later restart', { k: { attempts: 1, lastAttempt: 't1' } }, { k: { attempts: 2, lastAttempt: 't2' } }, { k: { attempts: 3, lastAttempt: 't3' } }, { k: { attempts: 3, lastAttempt: 't3' } }],
    ['we forget a healed target nobody touched', { k: { attempts: 1 } }, {}, { k: { attempts: 1 } }, {}],
    ['we forget it, but another run restarted it since: theirs is kept', { k: { attempts: 1, lastAttempt: 't1' } }, {}, { k: { attempts: 2, lastAttempt: 't2' } }, { k: { attempts: 2, lastAttempt: 't2' } }],
    ['unchanged targets are not rewritten over a newer record', { k: { attempts: 1 } }, { k: { attempts: 1 } }, { k: { attempts: 4, lastAttempt: 't4' } }, { k: { attempts: 4, lastAttempt: 't4' } }],
  ])('%s', async (_name, loaded, ours, theirs, after) => {
    const { history } = fresh();
    await history.save('c', new Map(), map(theirs));
    await history.save('c', map(loaded), map(ours));
    expect(Object.fromEntries(await history.load('c'))).toEqual(after);
  });

  it('keeps every cluster when a tick saves several at once (they take turns with the file)', async () => {
    const { history } = fresh();
    await Promise.all(['a', 'b', 'c'].map((c, i) => history.save(c, new Map(), map({ [`c:${c}`]: { attempts: i + 1 } }))));
    for (const [i, c] of ['a', 'b', 'c'].entries()) expect(await history.load(c)).toEqual(map({ [`c:${c}`]: { attempts: i + 1 } }));
  });

  it('refuses a file that is not its own, saying how to start afresh, and never overwrites it', async () => {
    const { history } = fresh();
    writeFileSync(history.path, 'not json');
    await expect(history.load('c')).rejects.toThrow(`${history.path} is not a kc-monitor history file (move it away to start afresh)`);
    await expect(history.save('c', new Map(), map({ k: { attempts: 1 } }))).rejects.toThrow(/not a kc-monitor history file/);
    expect(readFileSync(history.path, 'utf8')).toBe('not json');
  });
});

describe('FileSpool', () => {
  it('lists oldest first, reads back what was put, ignores other files, and removes', async () => {
    const { spool } = fresh();
    await spool.put('Custom-KafkaConnectHealing', [{ TimeGenerated: '2026-01-05T08:05:00.000Z', n: 2 }]);
    await spool.put('Custom-KafkaConnectStatus', [{ TimeGenerated: '2026-01-05T08:00:00.000Z', n: 1 }, { TimeGenerated: '2026-01-05T08:01:00.000Z', n: 3 }]);
    writeFileSync(join(spool.dir, 'x.ndjson.gz.1234'), 'a temporary file of write-file-atomic');
    const entries = await spool.list();
    expect(entries.map((e) => [e.stream, e.rows])).toEqual([
      ['Custom-KafkaConnectStatus', 2],
      ['Custom-KafkaConnectHealing', 1],
    ]);
    expect(entries.every((e) => !e.name.includes(':') && e.bytes > 0)).toBe(true);
    expect(await spool.read(entries[0]!)).toEqual([{ TimeGenerated: '2026-01-05T08:00:00.000Z', n: 1 }, { TimeGenerated: '2026-01-05T08:01:00.000Z', n: 3 }]);
    expect(await spool.claim(entries[0]!)).toBeDefined();
    await spool.remove(entries[0]!);
    expect(await spool.claim(entries[0]!)).toBeUndefined();
    expect(readdirSync(spool.dir).filter((f) => f.endsWith('.ndjson.gz'))).toHaveLength(1);
  });
});

describe('LocalState.lock', () => {
  it('lets one run in at a time: the second says it waits, then gives up with a line naming the lock and its age', async () => {
    const state = fresh();
    const lockfile = join(state.dir, 'run.lock');
    const release = await state.lock(1_000, () => expect.unreachable('the first run does not wait'));
    const started = Date.now();
    const waits: string[] = [];
    const second = state.lock(600, (file) => waits.push(file));
    await expect(second).rejects.toThrow(StateBusyError);
    await expect(second).rejects.toThrow(/^another kc-monitor run holds .*run\.lock \(alive: touched [01] s ago; waited 1 s\); nothing was done this time$/);
    expect(waits).toEqual([lockfile]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await release();
    await (await state.lock(1_000))();
  });

  it("takes over a dead run's lock (untouched for 30 s) at once, without waiting", async () => {
    const state = fresh();
    mkdirSync(join(state.dir, 'run.lock'));
    const longAgo = new Date(Date.now() - 31_000);
    utimesSync(join(state.dir, 'run.lock'), longAgo, longAgo);
    const waits: string[] = [];
    const release = await state.lock(600, (file) => waits.push(file));
    expect(waits).toEqual([]);
    await release();
  });

  it('keeps a live lock fresh: one touched 20 s ago is still held', async () => {
    const state = fresh();
    mkdirSync(join(state.dir, 'run.lock'));
    const recently = new Date(Date.now() - 20_000);
    utimesSync(join(state.dir, 'run.lock'), recently, recently);
    await expect(state.lock(300)).rejects.toThrow(/alive: touched 2[01] s ago/);
  });
});
