// kafka-connect-monitor: the whole system in one resource group.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
// Log Analytics workspace and tables, the Data Collection Rule, the Function App on Flex Consumption with VNet
// integration and a user-assigned identity, its storage account, Key Vault, roles, alerts and a workbook.
// The deployer needs Owner or Role Based Access Control Administrator on the resource group: it grants roles.
targetScope = 'resourceGroup'

// ---------- Naming and placement

@description('Optional. Prefix of every resource name, 3-11 characters, with at least one letter or digit. Names use it lower-cased, keeping letters, digits and hyphens; the storage account and Key Vault names drop the hyphens too: "KC_Mon-1" gives func-kcmon-1-…, stkcmon1… and kv-kcmon1-….')
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

@description('Optional. Several clusters as the JSON of KAFKA_CONNECT_CLUSTERS. Name secrets by setting ("passwordSetting": "CONNECT_EAST_PASSWORD") and pass their values in clusterSecrets: every setting named here becomes a Key Vault reference.')
@secure()
param connectClusters string = ''

@description('Optional. Values of the settings that connectClusters names, e.g. { CONNECT_EAST_PASSWORD: \'…\' }; stored in Key Vault. Needed only when a value is new or changes: later deployments without it keep the stored secrets and still write the references.')
@secure()
param clusterSecrets object = {}

@description('Optional. Basic-auth user of the Connect REST API. When set, KAFKA_CONNECT_PASSWORD is always the Key Vault reference to secret kafka-connect-password.')
param connectUsername string = ''

@description('Optional. Basic-auth password; stored in Key Vault as kafka-connect-password. Needed only when it is new or changes.')
@secure()
param connectPassword string = ''

@description('Optional. PEM of the private CA of the Connect listener.')
param connectCaCert string = ''

@description('Optional. PEM client certificate for mTLS. When set, KAFKA_CONNECT_CLIENT_KEY is always the Key Vault reference to secret kafka-connect-client-key.')
param connectClientCert string = ''

@description('Optional. PEM key of the client certificate; stored in Key Vault as kafka-connect-client-key. Needed only when it is new or changes.')
@secure()
param connectClientKey string = ''

// ---------- The monitor

@description('Optional. Minutes between ticks; sets MONITOR_SCHEDULE (0 */N * * * *) and the windows of the alerts. A divisor of 60, so that the first tick of each hour is a detail tick.')
@allowed([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30])
param monitorIntervalMinutes int = 5

@description('Optional. The tick\'s budget in seconds: 10 to 540 and shorter than the interval, or 0 for 80% of the interval up to 540 (240 s at 5 minutes). host.json\'s functionTimeout (10 minutes) stops a longer run mid-tick; 540 leaves the host a minute.')
@minValue(0)
@maxValue(540)
param monitorDeadlineSeconds int = 0

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

@description('Optional. JSON array of regular expressions on connector names that are monitored and reported but never restarted (HEAL_EXCLUDE), e.g. ["^staging-"].')
param healExclude string = '[]'

@description('Optional. A target that ran again and failed again this many times within healFlapWindowHours is flapping (HEAL_FLAP_COUNT).')
@minValue(1)
param healFlapCount int = 3

@description('Optional. The window of healFlapCount, in hours (HEAL_FLAP_WINDOW_HOURS).')
@minValue(1)
param healFlapWindowHours int = 24

@description('Optional. A worker with at least this many FAILED tasks (and sickWorkerPercent of its tasks) while the others are healthy is reported sick (SICK_WORKER_MIN_FAILED).')
@minValue(1)
param sickWorkerMinFailed int = 3

@description('Optional. The share of a worker\'s tasks, in percent, that must be FAILED for it to be reported sick (SICK_WORKER_PERCENT).')
@minValue(1)
@maxValue(100)
param sickWorkerPercent int = 50

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

@description('Optional. Resource id of an existing Key Vault (RBAC authorization) for the Connect secrets; empty creates one.')
param existingKeyVaultId string = ''

@description('Optional. default: create the vault (or update it). recover: bring back the soft-deleted vault of the same name, once, after the resource group was deleted and recreated; the vault is purge-protected, so its name stays taken for 90 days and a default deployment fails. Set it back to default afterwards.')
@allowed(['default', 'recover'])
param keyVaultCreateMode string = 'default'

// ---------- Network

@description('Required. Where the function\'s outbound traffic enters a network that reaches Connect: { kind: \'existingSubnet\', subnetId } (a subnet delegated to Microsoft.App/environments, e.g. in a spoke peered with Connect\'s network), or { kind: \'peeredVnet\', peerVnetId } to create a VNet peered both ways with Connect\'s VNet. A VNet of its own would reach nothing.')
param network functionNetwork

@description('Optional. privateRanges: only traffic to private addresses (a private Connect, peered networks, private endpoints) enters the VNet; Entra ID, Logs Ingestion, Application Insights, Storage and Key Vault are reached directly, so a forced tunnel on the subnet cannot cut them off. application: all of the app\'s outbound traffic enters the VNet and its routes (the firewall must allow the endpoints in the README). all: platform traffic too.')
@allowed(['privateRanges', 'application', 'all'])
param outboundRouting string = 'privateRanges'

@description('Optional. Private DNS zones that resolve Connect host names, each { id, link }. link: true links the zone to the function\'s VNet; false for a zone the VNet already resolves (linked already, or reached through a hub\'s DNS): a second link fails the deployment.')
param connectDnsZones privateDnsZone[] = []

@description('Optional. Put the storage account and the created Key Vault behind private endpoints, with public network access off, as the Flex Consumption samples do (an existing vault keeps its own network rules). With network.kind existingSubnet it needs network.privateEndpointSubnetId: without it the deployment fails rather than leave them public. DNS for the privatelink zones: privateLinkDnsZones.')
param privateEndpoints bool = false

@description('Optional. With privateEndpoints: existing zones privatelink.blob.core.windows.net, privatelink.table.core.windows.net and privatelink.vaultcore.azure.net as { blob, table, vault }, each { id, link }, e.g. a hub\'s. A service left out gets its zone created here and linked to the function\'s VNet.')
param privateLinkDnsZones privateLinkZones = {}

// ---------- Alerts

@description('Optional. perClusterSplit: one rule split by cluster and connector; only connectors seen and not healthy in the window come back, so only they are billed as time series; a monitor or cluster that stops reporting fires the heartbeat or cluster rule instead. perConnector: one rule per entry of connectors (the original tool\'s shape), which also fires for each connector when its rows stop; billed per rule, 1,000 rules per workspace and 100 one-minute rules per subscription at most.')
@allowed(['perClusterSplit', 'perConnector'])
param alertShape string = 'perClusterSplit'

@description('Optional. Minutes between two evaluations of every alert rule (the billing tiers). Less often costs less and alerts later.')
@allowed([1, 5, 10, 15])
param alertFrequencyMinutes int = 5

@description('Optional. With alertShape perConnector: the connectors that get a rule, at least one (an empty list fails the deployment). Print them from the live clusters with `kc-monitor alert-params`.')
param connectors connector[] = []

@description('Optional. E-mail addresses notified by the alerts.')
param alertEmails string[] = []

// ---------- Types

@description('A private DNS zone and whether this deployment links it to the function\'s VNet.')
type privateDnsZone = {
  @description('Resource id of the zone.')
  id: string
  @description('true: link it to the function\'s VNet. false: the VNet resolves it already.')
  link: bool
}

@description('Existing privatelink zones by service.')
type privateLinkZones = {
  @description('privatelink.blob.core.windows.net')
  blob: privateDnsZone?
  @description('privatelink.table.core.windows.net')
  table: privateDnsZone?
  @description('privatelink.vaultcore.azure.net')
  vault: privateDnsZone?
}

@description('A connector that gets its own alert rule.')
type connector = {
  @description('Cluster name as in the rows (host:port unless named in KAFKA_CONNECT_CLUSTERS).')
  cluster: string
  @description('Connector name.')
  name: string
}

@discriminator('kind')
@description('The network the function integrates with.')
type functionNetwork = existingSubnet | peeredVnet

@description('An existing subnet delegated to Microsoft.App/environments.')
type existingSubnet = {
  kind: 'existingSubnet'
  @description('Resource id of the subnet.')
  subnetId: string
  @description('With privateEndpoints: resource id of a subnet of the same VNet for the private endpoints (not the delegated one).')
  privateEndpointSubnetId: string?
}

@description('A new VNet, peered both ways with the VNet Connect lives in.')
type peeredVnet = {
  kind: 'peeredVnet'
  @description('Resource id of Connect\'s VNet. The deployer needs Network Contributor on it for the peering back.')
  peerVnetId: string
  @description('Address space of the new VNet; must not overlap the peer\'s. Default 10.90.0.0/24.')
  addressPrefix: string?
  @description('Function subnet, /28 or larger. Default 10.90.0.0/26.')
  functionSubnetPrefix: string?
  @description('Private endpoint subnet. Default 10.90.0.64/28.')
  privateEndpointSubnetPrefix: string?
}

// ---------- Names

var suffix = uniqueString(resourceGroup().id, namePrefix)
// Nested deployment names: unique per deployment, so that two deployments in one resource group do not collide.
var run = uniqueString(deployment().name, resourceGroup().id, namePrefix)
// The prefix as names can take it: lower case, letters, digits and hyphens; and without hyphens for the storage
// account and the vault, whose names allow no other characters (or no two hyphens in a row).
var namePart = join(filter(map(range(0, length(namePrefix)), i => toLower(substring(namePrefix, i, 1))), c => contains('abcdefghijklmnopqrstuvwxyz0123456789-', c)), '')
// A prefix with no letter or digit ('___') would leave the vault a name with two hyphens in a row: stop instead.
var compactPrefix = empty(replace(namePart, '-', '')) ? fail('namePrefix "${namePrefix}" has no letter or digit: the storage account and Key Vault names need at least one.') : replace(namePart, '-', '')
var storageAccountName = take('st${compactPrefix}${suffix}', 24)
var functionAppName = 'func-${namePart}-${suffix}'
var createWorkspace = empty(existingWorkspaceId)
var workspaceName = createWorkspace ? 'log-${namePart}-${suffix}' : last(split(existingWorkspaceId, '/'))
var createVault = empty(existingKeyVaultId)
var vaultName = createVault ? take('kv-${compactPrefix}-${suffix}', 24) : last(split(existingKeyVaultId, '/'))

// ---------- The monitor's schedule

var monitorSchedule = '0 */${monitorIntervalMinutes} * * * *'
// The app refuses a budget under 10 s or not shorter than the interval, on every tick: refuse it here instead, once.
// 80% of a long interval would outlast host.json's functionTimeout (10 minutes): 540 s at most.
var deadlineSeconds = monitorDeadlineSeconds == 0 ? min(monitorIntervalMinutes * 48, 540) : monitorDeadlineSeconds >= 10 && monitorDeadlineSeconds < monitorIntervalMinutes * 60 ? monitorDeadlineSeconds : fail('monitorDeadlineSeconds ${monitorDeadlineSeconds}: give 10 to ${min(monitorIntervalMinutes * 60 - 1, 540)} s (shorter than the ${monitorIntervalMinutes}-minute interval), or 0.')

// ---------- Secrets: which settings are Key Vault references, and which values this deployment stores

// Settings that KAFKA_CONNECT_CLUSTERS names ("passwordSetting": "CONNECT_EAST_PASSWORD"), each once: clusters that
// share a setting name it again, and union() keeps one (a setting is one app setting, one secret).
var namedSettings = empty(connectClusters) ? [] : flatten(map(json(connectClusters), c => map(filter(items(c), f => endsWith(f.key, 'Setting')), f => f.value)))
var clusterSettingNames = union(namedSettings, [])
// Two names that differ only in case, or in '_' against '-', would share one secret: stop rather than mix them.
var clusterSecretNames = map(clusterSettingNames, n => 'setting-${toLower(replace(n, '_', '-'))}')
var clusterSettingSecrets = length(union(clusterSecretNames, [])) == length(clusterSettingNames) ? toObject(range(0, length(clusterSettingNames)), i => clusterSettingNames[i], i => clusterSecretNames[i]) : fail('connectClusters names settings that differ only in case or in "_" against "-" (${join(clusterSettingNames, ', ')}): give each secret one name.')
// Setting name → secret name. A reference is written whenever its setting is configured, whether or not this
// deployment passes the value: the reference to a secret stored earlier stays valid. A cluster that names
// KAFKA_CONNECT_PASSWORD or KAFKA_CONNECT_CLIENT_KEY shares the one that connectPassword or connectClientKey stores.
var basicAuthSecret = empty(connectUsername) ? {} : { KAFKA_CONNECT_PASSWORD: 'kafka-connect-password' }
var clientKeySecret = empty(connectClientCert) ? {} : { KAFKA_CONNECT_CLIENT_KEY: 'kafka-connect-client-key' }
var secretOfSetting = union(clusterSettingSecrets, basicAuthSecret, clientKeySecret)
// Secret name → value, only for the values given now; connectPassword and connectClientKey win over clusterSecrets.
var passwordValue = empty(connectPassword) ? {} : { 'kafka-connect-password': connectPassword }
var clientKeyValue = empty(connectClientKey) ? {} : { 'kafka-connect-client-key': connectClientKey }
var clusterSecretValues = toObject(items(clusterSecrets), s => secretOfSetting[?s.key] ?? 'setting-${toLower(replace(s.key, '_', '-'))}', s => s.value)

// ---------- Private endpoints: on for real, or the deployment stops (never public by omission)

// The fields of either kind of network: a union type offers only `kind` to a property access.
var networkFields = any(network)
// A new VNet has its endpoint subnet; an existing subnet needs another one of its VNet (a subnet delegated to
// Microsoft.App/environments takes no endpoints). Without it storage and the vault would stay public: stop instead.
var endpointSubnetId = networkFields.?privateEndpointSubnetId ?? ''
var endpointSubnetGiven = networkFields.kind == 'peeredVnet' || (!empty(endpointSubnetId) && endpointSubnetId != (networkFields.?subnetId ?? ''))
var privateEndpointsOn = !privateEndpoints ? false : endpointSubnetGiven ? true : fail('privateEndpoints: true with network.kind \'existingSubnet\' needs network.privateEndpointSubnetId, a subnet of the same VNet that is not the delegated one; without it the storage account and the Key Vault would keep public network access.')

// ---------- Which existing DNS zones this deployment links (created zones are always linked)

var privateLinkZoneNames = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
  vault: 'privatelink.vaultcore.azure.net'
}
// The services that get an endpoint here: an existing vault (existingKeyVaultId) gets none, nor its zone.
var privateLinkServices = filter(map(items(privateLinkZoneNames), z => z.key), s => s != 'vault' || createVault)
var givenPrivateLinkZones = privateEndpointsOn ? filter(map(privateLinkServices, s => privateLinkDnsZones[?s]), z => z != null) : []
var linkedZoneIds = map(filter(concat(connectDnsZones, givenPrivateLinkZones), z => z.link), z => z.id)
var createdPrivateLinkServices = privateEndpointsOn ? filter(privateLinkServices, s => privateLinkDnsZones[?s] == null) : []

// ---------- Resources

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePart}-${suffix}'
  location: location
  tags: tags
}

module workspace 'modules/workspace.bicep' = {
  name: '${run}-workspace'
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
  name: 'appi-${namePart}-${suffix}'
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
  name: '${run}-data-collection-rule'
  params: {
    name: 'dcr-${namePart}-${suffix}'
    location: workspace.outputs.location // a DCR must be in its workspace's region
    workspaceResourceId: workspace.outputs.resourceId
    principalId: identity.properties.principalId
    tags: tags
  }
  dependsOn: [workspace] // the tables must exist before a data flow can target them
}

module net 'modules/network.bicep' = {
  name: '${run}-network'
  params: {
    network: network
    vnetName: 'vnet-${namePart}-${suffix}'
    location: location
    tags: tags
  }
}

module dnsLinks 'modules/dns-link.bicep' = [
  for zoneId in linkedZoneIds: {
    name: '${run}-dns-link-${uniqueString(zoneId)}'
    scope: resourceGroup(split(zoneId, '/')[2], split(zoneId, '/')[4])
    params: {
      zoneName: last(split(zoneId, '/'))
      vnetId: net.outputs.vnetId
      linkName: 'link-${namePart}-${suffix}'
    }
  }
]

module privateLinkZones 'modules/private-dns-zone.bicep' = [
  for service in createdPrivateLinkServices: {
    name: '${run}-zone-${service}'
    params: {
      zoneName: privateLinkZoneNames[service]
      vnetId: net.outputs.vnetId
      linkName: 'link-${namePart}-${suffix}'
      tags: tags
    }
  }
]

// Zone id per service: the one given, or the one created here.
var privateLinkZoneIds = toObject(privateLinkServices, s => s, s => privateLinkDnsZones[?s].?id ?? resourceId('Microsoft.Network/privateDnsZones', privateLinkZoneNames[s]))

module storage 'modules/storage.bicep' = {
  name: '${run}-storage'
  params: {
    name: storageAccountName
    location: location
    principalId: identity.properties.principalId
    privateEndpointSubnetId: privateEndpointsOn ? net.outputs.privateEndpointSubnetId : ''
    blobDnsZoneId: privateLinkZoneIds.blob
    tableDnsZoneId: privateLinkZoneIds.table
    tags: tags
  }
  dependsOn: [privateLinkZones]
}

module vault 'modules/key-vault.bicep' = {
  name: '${run}-key-vault'
  scope: resourceGroup(createVault ? subscription().subscriptionId : split(existingKeyVaultId, '/')[2], createVault ? resourceGroup().name : split(existingKeyVaultId, '/')[4])
  params: {
    name: vaultName
    create: createVault
    createMode: keyVaultCreateMode
    location: location
    principalId: identity.properties.principalId
    secretNames: union(map(items(secretOfSetting), s => s.value), [])
    secretValues: union(clusterSecretValues, passwordValue, clientKeyValue)
    workspaceResourceId: workspace.outputs.resourceId
    privateEndpointSubnetId: privateEndpointsOn && createVault ? net.outputs.privateEndpointSubnetId : ''
    vaultDnsZoneId: privateLinkZoneIds.?vault ?? ''
    tags: tags
  }
  dependsOn: [privateLinkZones]
}

// Setting name → its Key Vault reference.
var references = toObject(items(secretOfSetting), s => s.key, s => vault.outputs.references[s.value])

module functionApp 'modules/function-app.bicep' = {
  name: '${run}-function-app'
  params: {
    name: functionAppName
    location: location
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    subnetId: net.outputs.subnetId
    outboundRouting: outboundRouting
    applicationInsightsConnectionString: appInsights.properties.ConnectionString
    nodeVersion: nodeVersion
    tags: tags
    // Every setting of the monitor (README "Settings"), and a Key Vault reference for every secret setting.
    monitorSettings: union({
      MONITOR_SCHEDULE: monitorSchedule
      MONITOR_DEADLINE_SECONDS: deadlineSeconds
      SPOOL_MAX_MB: spoolMaxMb
      KAFKA_CONNECT_URL: connectUrl
      KAFKA_CONNECT_CLUSTERS: connectClusters
      KAFKA_CONNECT_USERNAME: connectUsername
      KAFKA_CONNECT_PASSWORD: references.?KAFKA_CONNECT_PASSWORD ?? ''
      KAFKA_CONNECT_CA_CERT: connectCaCert
      KAFKA_CONNECT_CLIENT_CERT: connectClientCert
      KAFKA_CONNECT_CLIENT_KEY: references.?KAFKA_CONNECT_CLIENT_KEY ?? ''
      LOGS_INGESTION_ENDPOINT: dcr.outputs.logsIngestionEndpoint
      LOGS_DCR_IMMUTABLE_ID: dcr.outputs.immutableId
      AUTO_HEAL: autoHeal
      HEAL_MAX_ATTEMPTS: healMaxAttempts
      HEAL_BACKOFF_CAP_MINUTES: healBackoffCapMinutes
      HEAL_NON_TRANSIENT_PATTERNS: healNonTransientPatterns
      HEAL_UNASSIGNED_MINUTES: healUnassignedMinutes
      HEAL_EXCLUDE: healExclude
      HEAL_FLAP_COUNT: healFlapCount
      HEAL_FLAP_WINDOW_HOURS: healFlapWindowHours
      SICK_WORKER_MIN_FAILED: sickWorkerMinFailed
      SICK_WORKER_PERCENT: sickWorkerPercent
    }, references)
  }
  dependsOn: [dnsLinks, vault]
}

// perConnector with no connectors would deploy no connector rule at all, silently: stop with what to do instead.
var alertConnectors = alertShape == 'perConnector' && empty(connectors) ? fail('alertShape perConnector needs connectors: `npx kc-monitor alert-params --json > connectors.json`, then -p connectors=@connectors.json; or keep alertShape perClusterSplit.') : connectors

module alerts 'modules/alerts.bicep' = {
  name: '${run}-alerts'
  params: {
    namePrefix: 'alert-${namePart}'
    location: workspace.outputs.location // log search rules run in their workspace's region
    workspaceResourceId: workspace.outputs.resourceId
    shape: alertShape
    frequencyMinutes: alertFrequencyMinutes
    tickMinutes: monitorIntervalMinutes
    deadlineSeconds: deadlineSeconds
    connectors: alertConnectors
    alertEmails: alertEmails
    tags: tags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: '${run}-workbook'
  params: {
    location: location
    workspaceResourceId: workspace.outputs.resourceId
    tags: tags
  }
}

@description('Publish the code here: func azure functionapp publish <functionAppName> --javascript')
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
output subnetId string = net.outputs.subnetId
output alertRuleNames array = alerts.outputs.ruleNames
output workbookId string = workbook.outputs.resourceId
