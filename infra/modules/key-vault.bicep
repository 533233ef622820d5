// The Key Vault holding the Connect secrets (created, or an existing one in this module's resource group), read by
// the function through Key Vault references with its managed identity.

@description('Required. Vault name (new or existing).')
param name string

@description('Optional. Create the vault; false uses an existing one (RBAC authorization) of this name.')
param create bool = true

@description('Required. Principal id of the function\'s managed identity (granted Key Vault Secrets User).')
param principalId string

@description('Optional. The Connect basic-auth password; stored as secret kafka-connect-password when set.')
@secure()
param connectPassword string = ''

@description('Optional. The PEM key of the mTLS client certificate; stored as secret kafka-connect-client-key when set.')
@secure()
param connectClientKey string = ''

param location string = resourceGroup().location
param tags object = {}

var secretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'

resource newVault 'Microsoft.KeyVault/vaults@2023-07-01' = if (create) {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: name
}

resource passwordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(connectPassword)) {
  name: '${name}/kafka-connect-password'
  dependsOn: [newVault]
  properties: { value: connectPassword, contentType: 'Kafka Connect basic-auth password' }
}

resource clientKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(connectClientKey)) {
  name: '${name}/kafka-connect-client-key'
  dependsOn: [newVault]
  properties: { value: connectClientKey, contentType: 'PEM private key of the Connect mTLS client certificate' }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, principalId, secretsUserRole)
  dependsOn: [newVault]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRole)
    description: 'kafka-connect-monitor: read the Connect secrets through Key Vault references'
  }
}

@description('Key Vault reference for KAFKA_CONNECT_PASSWORD, empty when no password was given.')
output connectPasswordReference string = empty(connectPassword) ? '' : '@Microsoft.KeyVault(VaultName=${name};SecretName=kafka-connect-password)'

@description('Key Vault reference for KAFKA_CONNECT_CLIENT_KEY, empty when no key was given.')
output connectClientKeyReference string = empty(connectClientKey) ? '' : '@Microsoft.KeyVault(VaultName=${name};SecretName=kafka-connect-client-key)'

output resourceId string = vault.id
