// The Key Vault holding the Connect secrets (created, or an existing one in this module's resource group), read by
// the function through Key Vault references with its managed identity.

@description('Required. Vault name (new or existing).')
param name string

@description('Optional. Create the vault; false uses an existing one (RBAC authorization) of this name.')
param create bool = true

@description('Optional. default, or recover: bring back the soft-deleted vault of this name (after its resource group was deleted).')
@allowed(['default', 'recover'])
param createMode string = 'default'

@description('Required. Principal id of the function\'s managed identity (granted Key Vault Secrets User).')
param principalId string

@description('Optional. Names of the secrets the app settings refer to; the references output has one for each.')
param secretNames string[] = []

@description('Optional. Secret name → value, stored now. A secret not given keeps the value stored earlier.')
@secure()
param secretValues object = {}

@description('Required. Workspace that receives the vault\'s audit events (a created vault only).')
param workspaceResourceId string

@description('Optional. Subnet for a private endpoint; empty keeps public network access (a created vault only).')
param privateEndpointSubnetId string = ''

@description('Optional. Zone privatelink.vaultcore.azure.net, for the private endpoint.')
param vaultDnsZoneId string = ''

@description('Optional. Location of a new vault.')
param location string = resourceGroup().location

@description('Optional. Tags of a new vault.')
param tags object = {}

var secretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'
var isPrivate = !empty(privateEndpointSubnetId)

resource newVault 'Microsoft.KeyVault/vaults@2023-07-01' = if (create) {
  name: name
  location: location
  tags: tags
  properties: {
    createMode: createMode
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    // Unused with RBAC authorization, but the API wants the property on create.
    accessPolicies: []
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: isPrivate ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: isPrivate ? 'Deny' : 'Allow', bypass: 'None' }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: name
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for s in items(secretValues): {
    parent: vault
    name: s.key
    dependsOn: [newVault]
    properties: { value: s.value }
  }
]

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

// Who read or changed which secret: the vault's audit events, in the monitor's workspace.
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (create) {
  scope: vault
  name: 'audit-to-workspace'
  dependsOn: [newVault]
  properties: {
    workspaceId: workspaceResourceId
    logs: [{ categoryGroup: 'audit', enabled: true }]
  }
}

module endpoint 'private-endpoint.bicep' = if (create && isPrivate) {
  name: '${deployment().name}-endpoint'
  params: {
    name: 'pe-${name}'
    resourceId: resourceId('Microsoft.KeyVault/vaults', name)
    groupId: 'vault'
    subnetId: privateEndpointSubnetId
    dnsZoneId: vaultDnsZoneId
    location: location
    tags: tags
  }
  dependsOn: [newVault]
}

@description('Secret name → the Key Vault reference an app setting holds.')
output references object = toObject(secretNames, n => n, n => '@Microsoft.KeyVault(VaultName=${name};SecretName=${n})')

output resourceId string = vault.id
