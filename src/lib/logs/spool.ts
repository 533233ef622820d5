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

/** Proof that this run alone is replaying an entry (a blob lease): another run skips it meanwhile. */
export interface SpoolClaim {
  readonly leaseId: string;
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

/** Long enough to replay one entry; short enough that a run that died frees it soon. */
const CLAIM_SECONDS = 60;

export const SPOOL_CONTAINER = 'kc-monitor-spool';

/**
 * The spool as gzipped NDJSON blobs in the function's own storage account. A blob's name starts with the
 * oldest TimeGenerated it holds, so the listing (lexicographic) is the replay order.
 */
export class BlobSpool implements Spool {
  private created: Promise<unknown> | undefined;

  constructor(private readonly container: ContainerClient) {}

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
      const lease = await this.container
        .getBlobClient(entry.name)
        .getBlobLeaseClient()
        .acquireLease(CLAIM_SECONDS, { ...(signal && { abortSignal: signal }) });
      return lease.leaseId ? { leaseId: lease.leaseId } : undefined;
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

  async remove(entry: SpoolEntry, claim?: SpoolClaim, signal?: AbortSignal): Promise<void> {
    await this.container.getBlockBlobClient(entry.name).deleteIfExists({
      ...(claim && { conditions: { leaseId: claim.leaseId } }),
      ...(signal && { abortSignal: signal }),
    });
  }
}
