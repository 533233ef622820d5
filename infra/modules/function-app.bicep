// The Function App on Flex Consumption: Node, a user-assigned managed identity for everything (storage, DCR,
// Key Vault references, Application Insights), VNet integration, and no basic-auth publishing.

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

@description('Optional. privateRanges: only traffic to private addresses enters the VNet; application: all of the app\'s outbound traffic; all: platform traffic too (see main.bicep).')
@allowed(['privateRanges', 'application', 'all'])
param outboundRouting string = 'privateRanges'

@description('Required. Application Insights connection string.')
param applicationInsightsConnectionString string

// Secure: KAFKA_CONNECT_CLUSTERS may hold credentials, and the nested deployment would show them otherwise.
@description('Required. The monitor\'s own app settings (MONITOR_SCHEDULE, KAFKA_CONNECT_*, LOGS_*, AUTO_HEAL, HEAL_*, and the settings KAFKA_CONNECT_CLUSTERS names).')
@secure()
param monitorSettings object

@description('Optional. Node.js version: 22 (recommended) or 20.')
@allowed(['20', '22'])
param nodeVersion string = '22'

@description('Optional. Instance memory; billed per GB-second while a tick runs. 2,048 MB leaves the host and a 5,000-connector tick (under 200 MB of heap) room.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Optional. Location of the plan and the app.')
param location string = resourceGroup().location

@description('Optional. Tags of the plan and the app.')
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
    // Private destinations (a private Connect, private endpoints) are routed into the VNet in every mode.
    outboundVnetRouting: {
      allTraffic: outboundRouting == 'all'
      applicationTraffic: outboundRouting != 'privateRanges'
    }
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
      // Every deployment replaces all the settings: every one the app needs is here, none is set by hand.
      appSettings: map(items(union(monitorSettings, hostSettings)), s => { name: s.key, value: string(s.value) })
    }
  }
}

// Core Tools publishes with an Entra token: basic-auth credentials for scm and ftp stay off.
resource basicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = [
  for kind in ['scm', 'ftp']: {
    parent: site
    name: kind
    properties: { allow: false }
  }
]

output name string = site.name
output resourceId string = site.id
output defaultHostName string = site.properties.defaultHostName
