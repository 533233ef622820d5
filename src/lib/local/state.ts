import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { lock } from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import type { Settings } from '../config';
import { ConfigError, MonitorError } from '../errors';
import { type HistoryStore, keepIfNewer, merge, sameHistory } from '../heal/history';
import type { TargetHistory, TargetKey } from '../heal/policy';
import type { SavedRowMemory } from '../logs/rows';
import type { Spool, SpoolClaim, SpoolEntry } from '../logs/spool';

/**
 * Where `kc-monitor` keeps its restart history and spool when there is no Azure Storage (a plain VM under
 * cron): KC_MONITOR_STATE_DIR, else the platform's per-user state directory.
 */
export function stateDir(settings: Settings): string {
  const set = settings.KC_MONITOR_STATE_DIR?.trim();
  if (set) return set;
  if (process.platform === 'win32') return join(settings.LOCALAPPDATA || join(homedir(), 'AppData', 'Local'), 'kc-monitor');
  // XDG Base Directory: state is "data that should persist between restarts" but is not worth backing up.
  return join(settings.XDG_STATE_HOME?.trim() || join(homedir(), '.local', 'state'), 'kc-monitor');
}

/**
 * A live run touches its lock every LOCK_UPDATE_MS; one untouched for LOCK_STALE_MS is a dead run's (killed,
 * the VM rebooted) and is taken over. Both are well under the wait, so a dead run never turns into "busy".
 */
const LOCK_UPDATE_MS = 5_000;
const LOCK_STALE_MS = 30_000;

const ROW_MEMORY_FILE = 'rows.json';
/** Destinations and cluster sets remembered apart, the most recent kept. */
const ROW_MEMORY_SCOPES = 8;

/** Raised when another run holds the state directory for longer than this one is willing to wait. */
export class StateBusyError extends MonitorError {}

/**
 * The CLI's own state directory. `once` holds its lock for the whole run, so that two overlapping cron runs
 * take turns: the second reads the restarts the first wrote down and backs off instead of restarting again.
 */
export class LocalState {
  readonly history: FileHistoryStore;
  readonly spool: FileSpool;

  private constructor(readonly dir: string) {
    this.history = new FileHistoryStore(join(dir, 'history.json'));
    this.spool = new FileSpool(join(dir, 'spool'));
  }

  /**
   * What the last run for `scope` remembered of the rows it shipped (see RowMemory), so that a cron run every 5
   * minutes ships lean rows between its hourly detail runs and a trace or a decision once, as the function does.
   * The scope is where the rows go and which clusters: a hand run to stdout beside a cron job that writes a file,
   * or two crontab lines for two clusters, each keep their own. Unreadable or absent: undefined, a detail run.
   * Nothing in it is secret (trace digests, decisions as shipped).
   */
  readRowMemory(scope: string): unknown {
    return this.rowMemories().find(([s]) => s === scope)?.[1];
  }

  /** Replaced atomically; a failure only costs the next run a detail run, so it is said, not thrown. */
  async writeRowMemory(scope: string, memory: SavedRowMemory): Promise<string | undefined> {
    const path = join(this.dir, ROW_MEMORY_FILE);
    const memories = [[scope, memory], ...this.rowMemories().filter(([s]) => s !== scope)].slice(0, ROW_MEMORY_SCOPES);
    try {
      await writeFileAtomic(path, `${JSON.stringify({ version: 1, memories })}\n`, { mode: 0o600 });
      return undefined;
    } catch (err) {
      return `cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}): the next run ships every row again`;
    }
  }

  /** The file's memories, most recent first; none when it cannot be read. */
  private rowMemories(): Array<[string, unknown]> {
    try {
      const file = JSON.parse(readFileSync(join(this.dir, ROW_MEMORY_FILE), 'utf8')) as { version?: unknown; memories?: unknown };
      if (file.version !== 1 || !Array.isArray(file.memories)) return [];
      return file.memories.filter((m): m is [string, unknown] => Array.isArray(m) && m.length === 2 && typeof m[0] === 'string');
    } catch {
      return [];
    }
  }

  /** Creates the directory (owner-only: traces in the spool may name hosts and users). */
  static open(dir: string): LocalState {
    try {
      mkdirSync(join(dir, 'spool'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ConfigError([`KC_MONITOR_STATE_DIR: cannot create ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    return new LocalState(dir);
  }

  /** Opens the directory only to read: `status` never creates it. */
  static peek(dir: string): LocalState {
    return new LocalState(dir);
  }

  /**
   * Waits up to `waitMs` for a run in progress to finish (calling `onWait` once, when it has to wait); resolves to
   * the function that releases the lock.
   */
  async lock(waitMs: number, onWait: (lockfile: string) => void = () => undefined): Promise<() => Promise<void>> {
    const lockfilePath = join(this.dir, 'run.lock');
    const attempt = (retries: number) =>
      lock(this.dir, {
        lockfilePath,
        stale: LOCK_STALE_MS,
        update: LOCK_UPDATE_MS,
        retries: { retries, factor: 1, minTimeout: 250, maxTimeout: 250 },
        // A lock lost mid-run (its directory removed, the clock jumped) must not kill the run with a throw.
        onCompromised: () => undefined,
      });
    try {
      try {
        return await attempt(0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        onWait(lockfilePath);
        return await attempt(Math.max(1, Math.ceil(waitMs / 250)));
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
        throw new StateBusyError(`another kc-monitor run holds ${lockfilePath} (${lockAge(lockfilePath)}; waited ${Math.round(waitMs / 1000)} s); nothing was done this time`);
      }
      throw new ConfigError([`KC_MONITOR_STATE_DIR: cannot lock ${this.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  }
}

/** "alive: touched 3 s ago": the lock's mtime is its holder's heartbeat. */
function lockAge(lockfile: string): string {
  try {
    return `alive: touched ${Math.max(0, Math.round((Date.now() - statSync(lockfile).mtimeMs) / 1000))} s ago`;
  } catch {
    return 'just released';
  }
}

interface HistoryFile {
  readonly version: 1;
  /** Per cluster, per target key. */
  readonly clusters: Record<string, Record<TargetKey, TargetHistory>>;
}

/**
 * The restart history as one JSON file, replaced atomically (write, fsync, rename): a run killed mid-write
 * leaves the previous file, never half of one. Changes are merged with what is on disk, as the Table store does.
 */
export class FileHistoryStore implements HistoryStore {
  /** One tick saves its clusters in parallel: each save rewrites the whole file, so they take turns. */
  private saving: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Whether any run has written a history here yet. */
  exists(): boolean {
    try {
      return statSync(this.path).isFile();
    } catch {
      return false;
    }
  }

  async load(cluster: string): Promise<Map<TargetKey, TargetHistory>> {
    return new Map(Object.entries(ownEntry(this.read().clusters, cluster)));
  }

  save(cluster: string, before: ReadonlyMap<TargetKey, TargetHistory>, after: ReadonlyMap<TargetKey, TargetHistory>): Promise<void> {
    const turn = this.saving.then(() => this.write(cluster, before, after));
    this.saving = turn.catch(() => undefined);
    return turn;
  }

  private async write(cluster: string, before: ReadonlyMap<TargetKey, TargetHistory>, after: ReadonlyMap<TargetKey, TargetHistory>): Promise<void> {
    const file = this.read();
    const disk = new Map(Object.entries(ownEntry(file.clusters, cluster)));
    // Nobody else wrote this target since we read it: ours stands. Otherwise merge, so backoff never shrinks.
    const untouched = (key: TargetKey) => {
      const b = before.get(key);
      const d = disk.get(key);
      return b === undefined ? d === undefined : d !== undefined && sameHistory(b, d);
    };
    for (const [key, h] of after) {
      if (before.has(key) && sameHistory(before.get(key), h)) continue;
      disk.set(key, untouched(key) ? h : merge(h, disk.get(key)));
    }
    for (const key of before.keys()) {
      if (after.has(key)) continue;
      const kept = untouched(key) ? undefined : keepIfNewer(disk.get(key));
      if (kept) disk.set(key, kept);
      else disk.delete(key);
    }
    const clusters = { ...file.clusters, [cluster]: Object.fromEntries(disk) };
    if (disk.size === 0) delete clusters[cluster];
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, clusters } satisfies HistoryFile, null, 1)}\n`, { mode: 0o600 });
  }

  private read(): HistoryFile {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, clusters: {} };
      throw new MonitorError(`cannot read ${this.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const parsed = JSON.parse(text) as Partial<HistoryFile>;
      if (parsed.version === 1 && typeof parsed.clusters === 'object' && parsed.clusters !== null) return parsed as HistoryFile;
    } catch {
      // reported below
    }
    throw new MonitorError(`${this.path} is not a kc-monitor history file (move it away to start afresh)`);
  }
}

/** A cluster may be named `__proto__` or `constructor`: only the file's own keys count. */
function ownEntry(clusters: HistoryFile['clusters'], cluster: string): Record<TargetKey, TargetHistory> {
  return Object.hasOwn(clusters, cluster) ? clusters[cluster]! : {};
}

/** `<oldest TimeGenerated>_<rows>_<uuid>_<stream>.ndjson.gz`: the name sorts oldest first, as the blob spool's. */
const SPOOL_FILE = /^([^_]+)_(\d+)_([0-9a-f-]{36})_(.+)\.ndjson\.gz$/;

/**
 * The spool as gzipped NDJSON files, each written atomically. Only one run at a time uses it (the state
 * lock), so a claim is the file still being there.
 */
export class FileSpool implements Spool {
  constructor(readonly dir: string) {}

  async list(): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.flatMap((name) => {
      const m = SPOOL_FILE.exec(name);
      if (!m) return []; // write-file-atomic's temporary files, or anything else
      return [{ name, stream: m[4]!, rows: Number(m[2]), bytes: statSync(join(this.dir, name)).size }];
    });
  }

  async put(stream: string, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return;
    const oldest = rows.map((r) => String((r as { TimeGenerated?: unknown }).TimeGenerated ?? '')).sort()[0] || new Date(0).toISOString();
    // Colons are not allowed in Windows file names; dropping them keeps the order.
    const name = `${oldest.replace(/:/g, '')}_${rows.length}_${randomUUID()}_${stream}.ndjson.gz`;
    await writeFileAtomic(join(this.dir, name), gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')), { mode: 0o600 });
  }

  async claim(entry: SpoolEntry): Promise<SpoolClaim | undefined> {
    try {
      statSync(join(this.dir, entry.name));
    } catch {
      return undefined;
    }
    return { leaseId: 'state-lock', end: () => undefined, release: async () => undefined };
  }

  async read(entry: SpoolEntry): Promise<Record<string, unknown>[]> {
    return gunzipSync(readFileSync(join(this.dir, entry.name)))
      .toString('utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async remove(entry: SpoolEntry): Promise<void> {
    rmSync(join(this.dir, entry.name), { force: true });
  }
}
