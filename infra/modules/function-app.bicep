// The Function App on Flex Consumption: Node, a user-assigned managed identity for everything (storage, DCR,
// Key Vault references, Application Insights), VNet integration with all outbound traffic through the VNet.

@description('Required. Function app name (globally unique host name).')
param name string

@description('Required. Resource id of the user-assigned managed identity.')
param identityId string

@description('Required. Client id of that identity.')
param identityClientId string

@description('Required. Name of the function\'s storage account.')
param storageAccountName string

@description('Required. URL of the blob container the app package is deployed to.')
param deploymentContainerUrl string

@description('Required. Subnet delegated to Microsoft.App/environments.')
param subnetId string

@description('Required. Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Required. The monitor\'s own app settings (MONITOR_SCHEDULE, KAFKA_CONNECT_*, LOGS_*, AUTO_HEAL, HEAL_*).')
param monitorSettings object

@description('Optional. Node.js version: 22 (recommended) or 20.')
@allowed(['20', '22'])
param nodeVersion string = '22'

@description('Optional. Instance memory; the monitor needs little: 512 MB reads 5,000 connectors.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

param location string = resourceGroup().location
param tags object = {}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// Identity-based host storage and Entra-authenticated telemetry: no connection string with a key anywhere.
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: subnetId
    // Connect is private: every outbound call (Connect, storage, Logs Ingestion) leaves through the VNet.
    outboundVnetRouting: { allTraffic: true }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      // One timer, one instance at a time: the smallest plan that Flex allows.
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'node', version: nodeVersion }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: map(items(union(monitorSettings, hostSettings)), s => { name: s.key, value: string(s.value) })
    }
  }
}

output name string = site.name
output resourceId string = site.id
output defaultHostName string = site.properties.defaultHostName
