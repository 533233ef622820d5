import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

/**
 * The one Azure credential of the monitor, used by the Logs Ingestion sink and by storage (history, spool):
 * a managed identity in Azure (AZURE_CLIENT_ID picks a user-assigned one), a developer login locally.
 */
export function createCredential(managedIdentityClientId?: string): TokenCredential {
  return new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {});
}
