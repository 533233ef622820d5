// kafka-connect-monitor: the whole system in one resource group.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
// Log Analytics workspace and tables, the Data Collection Rule, the Function App on Flex Consumption with VNet
// integration and a user-assigned identity, its storage account, Key Vault, roles, alerts and a workbook.
targetScope = 'resourceGroup'

// ---------- Naming and placement

@description('Optional. Prefix of every resource name (letters and digits, 3-11 characters).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'kcmon'

@description('Optional. Location of every resource.')
param location string = resourceGroup().location

@description('Optional. Tags of every resource.')
param tags object = { application: 'kafka-connect-monitor' }

// ---------- Kafka Connect

@description('Optional. Base URL of one Connect cluster, e.g. https://connect.internal:8083. Set this or connectClusters.')
param connectUrl string = ''

@description('Optional. Several clusters as the JSON of KAFKA_CONNECT_CLUSTERS; name secrets by setting (e.g. "passwordSetting") rather than inline.')
param connectClusters string = ''

@description('Optional. Basic-auth user of the Connect REST API.')
param connectUsername string = ''

@description('Optional. Basic-auth password; stored in Key Vault and read through a Key Vault reference.')
@secure()
param connectPassword string = ''

@description('Optional. PEM of the private CA of the Connect listener.')
param connectCaCert string = ''

@description('Optional. PEM client certificate for mTLS.')
param connectClientCert string = ''

@description('Optional. PEM key of the client certificate; stored in Key Vault.')
@secure()
param connectClientKey string = ''

// ---------- The monitor

@description('Optional. NCRONTAB schedule of the monitor (six fields).')
param monitorSchedule string = '0 */5 * * * *'

@description('Optional. The tick\'s budget in seconds; shorter than the schedule interval.')
@minValue(10)
param monitorDeadlineSeconds int = 240

@description('Optional. Cap of the spool of rows kept through an ingestion outage, in MB.')
@minValue(1)
param spoolMaxMb int = 200

@description('Optional. on: restart failed connectors and tasks; dry-run: decide and record only; off: monitor only.')
@allowed(['on', 'dry-run', 'off'])
param autoHeal string = 'on'

@description('Optional. Restarts per failure episode before giving up; 0 = unlimited.')
@minValue(0)
param healMaxAttempts int = 0

@description('Optional. Longest wait between two restarts of one target, in minutes.')
@minValue(1)
param healBackoffCapMinutes int = 60

@description('Optional. JSON array of regular expressions for failures a restart cannot fix; "$defaults" keeps the built-in ones.')
param healNonTransientPatterns string = '["$defaults"]'

@description('Optional. Report a task UNASSIGNED for longer than this, in minutes.')
@minValue(0)
param healUnassignedMinutes int = 10

@description('Optional. Node.js version of the Function App.')
@allowed(['20', '22'])
param nodeVersion string = '22'

// ---------- Log Analytics

@description('Optional. Resource id of an existing Log Analytics workspace; empty creates one.')
param existingWorkspaceId string = ''

@description('Optional. Interactive retention of the monitor\'s tables, in days.')
param retentionInDays int = 30

@description('Optional. Total retention (interactive + long-term) of the monitor\'s tables, in days.')
param totalRetentionInDays int = 90

// ---------- Key Vault

@description('Optional. Resource id of an existing Key Vault (RBAC authorization) for the Connect secrets; empty creates one (purge-protected: its name stays reserved for 90 days after deletion, so a redeploy into a recreated resource group should point here at the recovered vault).')
param existingKeyVaultId string = ''

// ---------- Network

@description('Optional. Resource id of an existing subnet delegated to Microsoft.App/environments, e.g. in a VNet peered with Connect\'s; empty creates a VNet.')
param existingSubnetId string = ''

@description('Optional. Address space of a new VNet.')
param vnetAddressPrefix string = '10.90.0.0/24'

@description('Optional. Prefix of the function subnet of a new VNet.')
param subnetPrefix string = '10.90.0.0/26'

@description('Optional. Resource ids of private DNS zones to link to the function\'s VNet, so the Connect host name resolves.')
param privateDnsZoneIds array = []

// ---------- Alerts

@description('Optional. Connectors that get their own "not fully RUNNING for 10 minutes" alert rule: [{ cluster, name }]. Print them from the live clusters with `kc-monitor alert-params`.')
param connectors array = []

@description('Optional. E-mail addresses notified by the alerts.')
param alertEmails array = []

// ---------- Resources

var suffix = uniqueString(resourceGroup().id, namePrefix)
var createWorkspace = empty(existingWorkspaceId)
var workspaceName = createWorkspace ? 'log-${namePrefix}-${suffix}' : last(split(existingWorkspaceId, '/'))
var createVault = empty(existingKeyVaultId)
var vaultName = createVault ? take('kv-${namePrefix}-${suffix}', 24) : last(split(existingKeyVaultId, '/'))

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}-${suffix}'
  location: location
  tags: tags
}

module workspace 'modules/workspace.bicep' = {
  name: 'workspace'
  // The condition goes inside resourceGroup(): Bicep cannot resolve a scope chosen by a ternary (BCP420).
  scope: resourceGroup(createWorkspace ? subscription().subscriptionId : split(existingWorkspaceId, '/')[2], createWorkspace ? resourceGroup().name : split(existingWorkspaceId, '/')[4])
  params: {
    name: workspaceName
    create: createWorkspace
    location: location
    retentionInDays: retentionInDays
    totalRetentionInDays: totalRetentionInDays
    tags: tags
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${namePrefix}-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.outputs.resourceId
    DisableLocalAuth: true
  }
}

// Telemetry is sent with the identity (DisableLocalAuth): it needs Monitoring Metrics Publisher here too.
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, identity.id, '3913510d-42f4-4e42-8a64-420c390055eb')
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    description: 'kafka-connect-monitor: send telemetry with Entra ID'
  }
}

module dcr 'modules/data-collection-rule.bicep' = {
  name: 'data-collection-rule'
  params: {
    name: 'dcr-${namePrefix}-${suffix}'
    location: workspace.outputs.location // a DCR must be in its workspace's region
    workspaceResourceId: workspace.outputs.resourceId
    principalId: identity.properties.principalId
    tags: tags
  }
  dependsOn: [workspace] // the tables must exist before a data flow can target them
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${namePrefix}${suffix}', 24)
    location: location
    principalId: identity.properties.principalId
    tags: tags
  }
}

module vault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: resourceGroup(createVault ? subscription().subscriptionId : split(existingKeyVaultId, '/')[2], createVault ? resourceGroup().name : split(existingKeyVaultId, '/')[4])
  params: {
    name: vaultName
    create: createVault
    location: location
    principalId: identity.properties.principalId
    connectPassword: connectPassword
    connectClientKey: connectClientKey
    tags: tags
  }
}

module network 'modules/network.bicep' = {
  name: 'network'
  params: {
    existingSubnetId: existingSubnetId
    vnetName: 'vnet-${namePrefix}-${suffix}'
    vnetAddressPrefix: vnetAddressPrefix
    subnetPrefix: subnetPrefix
    location: location
    tags: tags
  }
}

module dnsLinks 'modules/dns-link.bicep' = [
  for zoneId in privateDnsZoneIds: {
    name: 'dns-link-${uniqueString(zoneId)}'
    scope: resourceGroup(split(zoneId, '/')[2], split(zoneId, '/')[4])
    params: {
      zoneName: last(split(zoneId, '/'))
      vnetId: network.outputs.vnetId
      linkName: 'link-${namePrefix}-${suffix}'
    }
  }
]

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: 'func-${namePrefix}-${suffix}'
    location: location
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    subnetId: network.outputs.subnetId
    applicationInsightsConnectionString: appInsights.properties.ConnectionString
    nodeVersion: nodeVersion
    tags: tags
    // Every setting of the monitor (README "Settings"); secrets only as Key Vault references.
    monitorSettings: {
      MONITOR_SCHEDULE: monitorSchedule
      MONITOR_DEADLINE_SECONDS: monitorDeadlineSeconds
      SPOOL_MAX_MB: spoolMaxMb
      KAFKA_CONNECT_URL: connectUrl
      KAFKA_CONNECT_CLUSTERS: connectClusters
      KAFKA_CONNECT_USERNAME: connectUsername
      KAFKA_CONNECT_PASSWORD: vault.outputs.connectPasswordReference
      KAFKA_CONNECT_CA_CERT: connectCaCert
      KAFKA_CONNECT_CLIENT_CERT: connectClientCert
      KAFKA_CONNECT_CLIENT_KEY: vault.outputs.connectClientKeyReference
      LOGS_INGESTION_ENDPOINT: dcr.outputs.logsIngestionEndpoint
      LOGS_DCR_IMMUTABLE_ID: dcr.outputs.immutableId
      AUTO_HEAL: autoHeal
      HEAL_MAX_ATTEMPTS: healMaxAttempts
      HEAL_BACKOFF_CAP_MINUTES: healBackoffCapMinutes
      HEAL_NON_TRANSIENT_PATTERNS: healNonTransientPatterns
      HEAL_UNASSIGNED_MINUTES: healUnassignedMinutes
    }
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: 'alert-${namePrefix}'
    location: location
    workspaceResourceId: workspace.outputs.resourceId
    connectors: connectors
    alertEmails: alertEmails
    tags: tags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    workspaceResourceId: workspace.outputs.resourceId
    tags: tags
  }
}

@description('Publish the code here: func azure functionapp publish <functionAppName>.')
output functionAppName string = functionApp.outputs.name
output workspaceResourceId string = workspace.outputs.resourceId
output workspaceCustomerId string = workspace.outputs.customerId
output dataCollectionRuleId string = dcr.outputs.resourceId
output logsIngestionEndpoint string = dcr.outputs.logsIngestionEndpoint
output dcrImmutableId string = dcr.outputs.immutableId
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output storageAccountName string = storage.outputs.name
output keyVaultName string = vaultName
output subnetId string = network.outputs.subnetId
output alertRuleNames array = concat(alerts.outputs.connectorRuleNames, alerts.outputs.monitorRuleNames)
output workbookId string = workbook.outputs.resourceId
