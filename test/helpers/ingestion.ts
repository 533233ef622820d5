import { afterAll, beforeAll } from 'vitest';
import { IngestionFake, ManagedIdentityFake } from '../fakes/ingestion';

/**
 * The ingestion fake and the managed-identity fake for one test file, started before its tests and stopped
 * after them, with IDENTITY_ENDPOINT and IDENTITY_HEADER set for the real credential.
 */
export function useIngestionFakes(token: string): { identity: ManagedIdentityFake; ingestion: IngestionFake; endpoint: () => string } {
  const identity = new ManagedIdentityFake(token, `${token}-header`);
  const ingestion = new IngestionFake(token);
  let endpoint = '';
  beforeAll(async () => {
    process.env.IDENTITY_ENDPOINT = await identity.start();
    process.env.IDENTITY_HEADER = identity.header;
    endpoint = await ingestion.start();
  });
  afterAll(async () => {
    await Promise.all([identity.stop(), ingestion.stop()]);
  });
  return { identity, ingestion, endpoint: () => endpoint };
}
