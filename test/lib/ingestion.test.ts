import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogsIngestionSink, createCredential } from '../../src/lib/ingestion';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';

const DCR = 'dcr-00112233445566778899aabbccddeeff';

describe('LogsIngestionSink with the real SDK and DefaultAzureCredential', () => {
  const identity = new ManagedIdentityFake('token-abc', 'identity-header-secret');
  const ingestion = new IngestionFake('token-abc');
  let endpoint = '';

  beforeAll(async () => {
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    endpoint = await ingestion.start();
  });
  afterAll(async () => {
    await Promise.all([identity.stop(), ingestion.stop()]);
  });

  it('ships rows gzip-compressed with a managed-identity token', async () => {
    const sink = new LogsIngestionSink({ endpoint, dcrImmutableId: DCR }, createCredential());
    const result = await sink.ship('Custom-KafkaConnectStatus', [{ a: 1 }, { a: 2 }]);
    expect(result).toEqual({ stream: 'Custom-KafkaConnectStatus', sent: 2, failed: 0, failures: [] });
    expect(ingestion.rows('Custom-KafkaConnectStatus')).toEqual([{ a: 1 }, { a: 2 }]);
    console.log(identity.requests.map(String), ingestion.uploads.map((u) => [u.apiVersion, u.gzip]));
  });
});
