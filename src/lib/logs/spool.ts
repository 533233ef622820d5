import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import type { StorageConfig } from '../config';
import { createCredential } from '../credential';

/** A batch of rows kept for a later tick. */
export interface SpoolEntry {
  readonly name: string;
  readonly stream: string;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * Proof that this run alone is replaying an entry (a blob lease, renewed while held): another run skips it
 * meanwhile. `remove` ends it; `release` gives the entry back for a later run to try.
 */
export interface SpoolClaim {
  readonly leaseId: string;
  /** Stops renewing the lease. */
  end(): void;
  /** Stops renewing and frees the entry now (best effort: otherwise it frees itself within a minute). */
  release(): Promise<void>;
}

/** Rows that could not be shipped, kept durably until a later tick ships them. Listed oldest first. */
export interface Spool {
  list(signal?: AbortSignal): Promise<SpoolEntry[]>;
  put(stream: string, rows: readonly object[], signal?: AbortSignal): Promise<void>;
  /** Undefined when another run is replaying the entry, or it is gone. */
  claim(entry: SpoolEntry, signal?: AbortSignal): Promise<SpoolClaim | undefined>;
  read(entry: SpoolEntry, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  remove(entry: SpoolEntry, claim?: SpoolClaim, signal?: AbortSignal): Promise<void>;
}

/**
 * The lease a replay holds, renewed every third of it while the upload runs (an upload can outlast any
 * finite lease: 60 s is the longest), so it lapses within a minute only when the run holding it died.
 */
const CLAIM_SECONDS = 60;

export const SPOOL_CONTAINER = 'kc-monitor-spool';

/**
 * The spool as gzipped NDJSON blobs in the function's own storage account. A blob's name starts with the
 * oldest TimeGenerated it holds, so the listing (lexicographic) is the replay order.
 */
export class BlobSpool implements Spool {
  private created: Promise<unknown> | undefined;

  constructor(
    private readonly container: ContainerClient,
    /** 15 to 60 (the Blob service's range); shorter in tests that prove the renewal. */
    private readonly claimSeconds = CLAIM_SECONDS,
  ) {}

  static fromConfig(storage: StorageConfig): BlobSpool {
    // Each try is bounded: a storage account that accepts connections and never answers must not hold the tick.
    const options = { retryOptions: { maxTries: 3, tryTimeoutInMs: 10_000, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 } };
    const service =
      storage.kind === 'connection-string'
        ? BlobServiceClient.fromConnectionString(storage.connectionString, options)
        : new BlobServiceClient(storage.blobServiceUri, createCredential(storage.clientId), options);
    return new BlobSpool(service.getContainerClient(SPOOL_CONTAINER));
  }

  async list(signal?: AbortSignal): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ includeMetadata: true, ...(signal && { abortSignal: signal }) })) {
        entries.push({
          name: blob.name,
          stream: blob.metadata?.stream ?? '',
          rows: Number(blob.metadata?.rows ?? 0),
          bytes: blob.properties.contentLength ?? 0,
        });
      }
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return []; // no container yet: nothing spooled
      throw err;
    }
    return entries;
  }

  async put(stream: string, rows: readonly object[], signal?: AbortSignal): Promise<void> {
    if (rows.length === 0) return;
    this.created ??= this.container.createIfNotExists().catch((err: unknown) => {
      this.created = undefined;
      throw err;
    });
    await this.created;
    const oldest = rows.map((r) => String((r as { TimeGenerated?: unknown }).TimeGenerated ?? '')).sort()[0] || new Date(0).toISOString();
    const body = gzipSync(rows.map((r) => JSON.stringify(r)).join('\n'));
    await this.container.getBlockBlobClient(`${oldest}_${stream}_${randomUUID()}.ndjson.gz`).uploadData(body, {
      metadata: { stream, rows: String(rows.length) },
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
      ...(signal && { abortSignal: signal }),
    });
  }

  async claim(entry: SpoolEntry, signal?: AbortSignal): Promise<SpoolClaim | undefined> {
    try {
      const client = this.container.getBlobClient(entry.name).getBlobLeaseClient();
      const lease = await client.acquireLease(this.claimSeconds, { ...(signal && { abortSignal: signal }) });
      if (!lease.leaseId) return undefined;
      // A failed renewal is tried again at the next turn; the lease is still ours until it lapses.
      const renewal = setInterval(() => void client.renewLease().catch(() => undefined), (this.claimSeconds * 1000) / 3);
      renewal.unref();
      const end = () => clearInterval(renewal);
      return {
        leaseId: lease.leaseId,
        end,
        release: async () => {
          end();
          await client.releaseLease().catch(() => undefined);
        },
      };
    } catch (err) {
      // 409: another run holds it; 404: it was replayed and removed meanwhile.
      if (err instanceof RestError && (err.statusCode === 409 || err.statusCode === 404)) return undefined;
      throw err;
    }
  }

  async read(entry: SpoolEntry, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const body = await this.container.getBlockBlobClient(entry.name).downloadToBuffer(0, undefined, { ...(signal && { abortSignal: signal }) });
    return gunzipSync(body)
      .toString('utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /**
   * Idempotent: a blob already gone is removed. If the claim was lost (renewals failed, the lease lapsed), the
   * blob is still removed unless another run has leased it since — then that run replays it too, and this
   * throws to say so.
   */
  async remove(entry: SpoolEntry, claim?: SpoolClaim, signal?: AbortSignal): Promise<void> {
    claim?.end();
    const blob = this.container.getBlockBlobClient(entry.name);
    const options = { ...(signal && { abortSignal: signal }) };
    try {
      await blob.deleteIfExists({ ...(claim && { conditions: { leaseId: claim.leaseId } }), ...options });
    } catch (err) {
      if (!(claim && err instanceof RestError && err.statusCode === 412)) throw err;
      try {
        await blob.deleteIfExists(options);
      } catch (again) {
        if (again instanceof RestError && again.statusCode === 412) throw new Error(`another run claimed spooled batch ${entry.name} while it was replayed: its rows may be sent twice`, { cause: again });
        throw again;
      }
    }
  }
}
