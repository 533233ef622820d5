// The function's own storage account: the host's state, the deployment package (blob container) and the
// restart history (table KafkaConnectRestarts). Keys are disabled: the managed identity is the only way in.

@description('Required. Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Principal id of the function\'s managed identity.')
param principalId string

@description('Optional. Blob container the Flex Consumption plan deploys the app package from.')
param deploymentContainerName string = 'app-package'

@description('Optional. Subnet for private endpoints (blob, table); empty keeps public network access.')
param privateEndpointSubnetId string = ''

@description('Optional. Zone privatelink.blob.core.windows.net, for the blob endpoint.')
param blobDnsZoneId string = ''

@description('Optional. Zone privatelink.table.core.windows.net, for the table endpoint.')
param tableDnsZoneId string = ''

@description('Optional. Location of the account.')
param location string = resourceGroup().location

@description('Optional. Tags of the account.')
param tags object = {}

// Blob: host state, timer schedule, the package and the spool. Table: the restart history. No queue: the app has
// no queue trigger and no Durable Functions.
var roles = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
var isPrivate = !empty(privateEndpointSubnetId)
var endpoints = { blob: blobDnsZoneId, table: tableDnsZoneId }

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: isPrivate ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: isPrivate ? 'Deny' : 'Allow', bypass: isPrivate ? 'None' : 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
}

// Data-plane roles only, nothing on the control plane.
resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    scope: account
    name: guid(account.id, principalId, role.value)
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
      description: 'kafka-connect-monitor: ${role.key}'
    }
  }
]

module privateEndpoints 'private-endpoint.bicep' = [
  for e in items(endpoints): if (isPrivate) {
    name: '${deployment().name}-${e.key}'
    params: {
      name: 'pe-${name}-${e.key}'
      resourceId: account.id
      groupId: e.key
      subnetId: privateEndpointSubnetId
      dnsZoneId: e.value
      location: location
      tags: tags
    }
  }
]

output name string = account.name
output resourceId string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
