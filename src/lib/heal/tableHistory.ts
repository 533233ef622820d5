import { createHash } from 'node:crypto';
import { RestError, TableClient, type TableEntity, type TransactionAction, odata } from '@azure/data-tables';
import type { StorageConfig } from '../config';
import { mapLimit } from '../concurrency';
import { createCredential } from '../credential';
import { HISTORY_TABLE, type HistoryStore, keepIfNewer, merge, sameHistory } from './history';
import type { TargetHistory, TargetKey } from './policy';

// The Azure Table Storage adapter of the history, apart from history.ts so that what runs without Azure
// Storage (the CLI on a VM, the demo) never loads the Tables SDK.

/** The most operations one entity-group transaction may hold. */
const TRANSACTION_MAX = 100;

// A type, not an interface: the SDK's transaction actions want a string-indexed entity.
type HistoryEntity = {
  partitionKey: string;
  rowKey: string;
  attempts: number;
  lastAttempt?: string;
  healthySince?: string;
  unassignedSince?: string;
  failedSince?: string;
  recoveredAt?: string;
  /** ISO times joined by commas: a table property cannot hold an array. */
  flaps?: string;
  /** The target key itself, when the row key had to be shortened (see tableKey). */
  target?: string;
};

/**
 * The history in Azure Table Storage (the function's own AzureWebJobsStorage account), with optimistic
 * concurrency: every write is conditional on the ETag read, and a conflict is merged and retried, so a
 * `kc-monitor once` run next to the function never loses a restart.
 */
export class TableHistoryStore implements HistoryStore {
  private readonly etags = new Map<string, string>();
  /** Per cluster, the rows of the old key encoding read by the last load, for the next save to move. */
  private readonly legacy = new Map<string, LegacyRow[]>();
  private table: Promise<void> | undefined;
  /** The deadline of the save in progress, passed to every call it makes. */
  private signal: AbortSignal | undefined;

  constructor(private readonly client: TableClient) {}

  static fromConfig(storage: StorageConfig): TableHistoryStore {
    // A storage outage must not stall the tick: few, short retries; the next tick tries again.
    const options = { retryOptions: { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 } };
    if (storage.kind === 'connection-string') {
      const local = /UseDevelopmentStorage=true|127\.0\.0\.1|localhost/i.test(storage.connectionString);
      return new TableHistoryStore(TableClient.fromConnectionString(storage.connectionString, HISTORY_TABLE, { ...options, allowInsecureConnection: local }));
    }
    return new TableHistoryStore(new TableClient(storage.tableServiceUri, HISTORY_TABLE, createCredential(storage.clientId), options));
  }

  /**
   * Reads one cluster's history; creates nothing (a table not created yet is an empty history). Rows written
   * with the old percent-encoded keys are read too until `save` has moved them (see LEGACY_MOVED).
   */
  async load(cluster: string, signal?: AbortSignal): Promise<Map<TargetKey, TargetHistory>> {
    const partitionKey = tableKey(cluster);
    const legacyPartition = legacyEncode(cluster);
    const history = new Map<TargetKey, TargetHistory>();
    const legacy: LegacyRow[] = [];
    let moved = false;
    const read = async (pk: string) => {
      for await (const e of this.client.listEntities<HistoryEntity>({ queryOptions: { filter: odata`PartitionKey eq ${pk}` }, ...(signal && { abortSignal: signal }) })) {
        if (!e.rowKey) continue;
        if (e.rowKey === LEGACY_MOVED) moved = true;
        // Old keys always hold a `%` (encodeURIComponent turned the `:` of every target key into %3A).
        else if (e.rowKey.includes('%')) legacy.push({ partitionKey: pk, rowKey: e.rowKey, key: decodeURIComponent(e.rowKey), history: fromEntity(e) });
        else {
          history.set(e.target ?? decodeKey(e.rowKey), fromEntity(e));
          if (e.etag) this.etags.set(etagKey(pk, e.rowKey), e.etag);
        }
      }
    };
    try {
      await read(partitionKey);
      if (!moved && legacyPartition !== partitionKey) await read(legacyPartition);
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return history;
      throw err;
    }
    this.legacy.delete(cluster);
    if (!moved && legacy.length > 0) {
      for (const row of legacy) if (!history.has(row.key)) history.set(row.key, row.history);
      this.legacy.set(cluster, legacy);
    }
    return history;
  }

  async save(cluster: string, before: ReadonlyMap<TargetKey, TargetHistory>, after: ReadonlyMap<TargetKey, TargetHistory>, signal?: AbortSignal): Promise<void> {
    this.signal = signal;
    await this.ensureTable();
    const partitionKey = tableKey(cluster);
    const legacy = this.legacy.get(cluster) ?? [];
    const moving = new Set(legacy.map((r) => r.key));
    const writes: Array<[TargetKey, TargetHistory]> = [];
    // A target read from an old row is written under its new key even if nothing changed.
    for (const [key, h] of after) if (moving.has(key) || !sameHistory(before.get(key), h)) writes.push([key, h]);
    const deletes: TargetKey[] = [];
    for (const key of before.keys()) if (!after.has(key) && !moving.has(key)) deletes.push(key);
    // One partition per cluster: up to 100 writes go in one entity-group transaction (the service's limit).
    const groups: Array<typeof writes> = [];
    for (let i = 0; i < writes.length; i += TRANSACTION_MAX) groups.push(writes.slice(i, i + TRANSACTION_MAX));
    await mapLimit(groups, 4, (group) => this.writeGroup(partitionKey, group));
    // A delete in a transaction cannot be made conditional on an ETag (the SDK sends `*`): one call each, so a
    // restart another writer recorded meanwhile is kept (keepIfNewer).
    await mapLimit(deletes, 16, (key) => this.write(partitionKey, key, undefined));
    if (legacy.length === 0) return;
    // The old rows stay where they are, unread from now on: deleting one by its key is the very operation the
    // service decodes twice, and `t%3A0%3Aorders` decoded twice is `t:0:orders` — the row just written.
    await this.client.upsertEntity({ partitionKey, rowKey: LEGACY_MOVED, attempts: 0 }, 'Replace', this.options());
    this.legacy.delete(cluster);
  }

  private ensureTable(): Promise<void> {
    // Retried on the next tick if it failed: storage may come back.
    this.table ??= this.client.createTable(this.options()).catch((err: unknown) => {
      this.table = undefined;
      throw err;
    });
    return this.table;
  }

  /**
   * Writes a group of targets in one transaction, each create or update conditional as in `write`. One
   * conflict fails the whole group; then each target is written on its own, and a conflict merged.
   */
  private async writeGroup(partitionKey: string, group: ReadonlyArray<readonly [TargetKey, TargetHistory]>): Promise<void> {
    if (group.length === 1) return this.write(partitionKey, group[0]![0], group[0]![1]);
    const eks: string[] = [];
    const actions: TransactionAction[] = group.map(([key, h]) => {
      const entity = toEntity(partitionKey, key, h);
      const ek = etagKey(partitionKey, entity.rowKey);
      eks.push(ek);
      const etag = this.etags.get(ek);
      return etag ? ['update', entity, 'Replace', { etag }] : ['create', entity];
    });
    try {
      const res = await this.client.submitTransaction(actions, this.options());
      // Sub-responses come in the order of the actions.
      res.subResponses.forEach((r, i) => (r.etag ? this.etags.set(eks[i]!, r.etag) : this.etags.delete(eks[i]!)));
    } catch (err) {
      const status = err instanceof RestError ? err.statusCode : undefined;
      if (status !== 409 && status !== 412 && status !== 404) throw err;
      await mapLimit(group, 16, ([key, h]) => this.write(partitionKey, key, h));
    }
  }

  private async write(partitionKey: string, key: TargetKey, wanted: TargetHistory | undefined, tries = 3): Promise<void> {
    const rowKey = tableKey(key);
    const ek = etagKey(partitionKey, rowKey);
    const etag = this.etags.get(ek);
    try {
      if (!wanted) {
        if (etag) await this.client.deleteEntity(partitionKey, rowKey, { etag, ...this.options() });
        this.etags.delete(ek);
        return;
      }
      const entity = toEntity(partitionKey, key, wanted);
      const res = etag ? await this.client.updateEntity(entity, 'Replace', { etag, ...this.options() }) : await this.client.createEntity(entity, this.options());
      if (res.etag) this.etags.set(ek, res.etag);
    } catch (err) {
      const status = err instanceof RestError ? err.statusCode : undefined;
      if (status === 404 && !wanted) return this.forget(ek); // already gone
      if ((status !== 409 && status !== 412 && status !== 404) || tries <= 1) throw err;
      // Someone else wrote this target since we read it (or it vanished): merge with what is there now.
      const theirs = await this.read(partitionKey, rowKey);
      return this.write(partitionKey, key, wanted ? merge(wanted, theirs) : keepIfNewer(theirs), tries - 1);
    }
  }

  private async read(partitionKey: string, rowKey: string): Promise<TargetHistory | undefined> {
    const ek = etagKey(partitionKey, rowKey);
    try {
      const e = await this.client.getEntity<HistoryEntity>(partitionKey, rowKey, this.options());
      if (e.etag) this.etags.set(ek, e.etag);
      return fromEntity(e);
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) {
        this.etags.delete(ek);
        return undefined;
      }
      throw err;
    }
  }

  private options(): { abortSignal?: AbortSignal } {
    return this.signal ? { abortSignal: this.signal } : {};
  }

  private forget(ek: string): void {
    this.etags.delete(ek);
  }
}

function toEntity(partitionKey: string, key: TargetKey, h: TargetHistory): TableEntity<HistoryEntity> {
  const rowKey = tableKey(key);
  const { flaps, ...fields } = h;
  return { partitionKey, rowKey, ...fields, ...(flaps && { flaps: flaps.join(',') }), ...(rowKey !== encodeKey(key) && { target: key }) };
}

function fromEntity(e: HistoryEntity): TargetHistory {
  return {
    attempts: Number(e.attempts) || 0,
    ...(e.lastAttempt && { lastAttempt: e.lastAttempt }),
    ...(e.healthySince && { healthySince: e.healthySince }),
    ...(e.unassignedSince && { unassignedSince: e.unassignedSince }),
    ...(e.failedSince && { failedSince: e.failedSince }),
    ...(e.recoveredAt && { recoveredAt: e.recoveredAt }),
    ...(e.flaps && { flaps: e.flaps.split(',') }),
  };
}

/**
 * Table keys may not hold / \ # ? or control characters, and a `%` is decoded twice by some Table service
 * operations (get, update, delete). Keys stay readable: those characters, and `~` itself, become `~XX`
 * (hex); C1 controls and lone surrogates (which UTF-8 cannot carry) become `~uXXXX`; the rest stays as is.
 */
export function encodeKey(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what the Table service refuses in a key
  return text.replace(/[\x00-\x1f\x7f/\\#?%~]|[\x80-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x80 ? `~${code.toString(16).padStart(2, '0')}` : `~u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Keys past this many characters are shortened: the service refuses keys over 1 KiB (512 UTF-16 units). */
const MAX_KEY_CHARS = 400;

/**
 * The key of a cluster or target: `encodeKey`, or for a very long name (a 500-character connector name, or
 * 170 characters of `/`, each escaped in three) a readable head and a SHA-256 of the whole. The `~h` marker
 * cannot occur otherwise: `~` is always followed by hex or `u`.
 */
export function tableKey(text: string): string {
  const key = encodeKey(text);
  if (key.length <= MAX_KEY_CHARS) return key;
  const head = key.slice(0, MAX_KEY_CHARS - 46).replace(/~[0-9a-fu]{0,4}$/, '').replace(/[\ud800-\udbff]$/, '');
  return `${head}~h${createHash('sha256').update(text).digest('base64url')}`;
}

export function decodeKey(text: string): string {
  return text.replace(/~u([0-9a-f]{4})|~([0-9a-f]{2})/g, (_, wide: string | undefined, narrow: string | undefined) => String.fromCharCode(parseInt(wide ?? narrow!, 16)));
}

/** The keys of the first versions: read, moved to the new keys on the next save, never written. */
function legacyEncode(text: string): string {
  return encodeURIComponent(text);
}

/** The row that says a cluster's old rows were moved: from then on they are not read, even if a delete failed. */
const LEGACY_MOVED = '~legacy-keys-moved';

interface LegacyRow {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly key: TargetKey;
  readonly history: TargetHistory;
}

function etagKey(partitionKey: string, rowKey: string): string {
  return `${partitionKey}\n${rowKey}`;
}
