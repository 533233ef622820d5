// The Data Collection Rule the function ships rows through (Logs Ingestion API, kind Direct: no DCE needed).
// Streams, columns and tables come from infra/tables.json.

@description('Required. DCR name.')
param name string

@description('Required. Resource id of the destination workspace.')
param workspaceResourceId string

@description('Required. Principal id of the function\'s managed identity (granted Monitoring Metrics Publisher on this DCR).')
param principalId string

@description('Optional. Location: the workspace\'s region.')
param location string = resourceGroup().location

@description('Optional. Tags of the DCR.')
param tags object = {}

var schema = loadJsonContent('../tables.json')
var transform = trim(loadTextContent('../queries/dcr-transform.kql'))
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: name
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'kafka-connect-monitor: Kafka Connect status and healing rows'
    streamDeclarations: toObject(schema.tables, t => t.stream, t => {
      columns: map(t.columns, c => { name: c.name, type: c.type })
    })
    destinations: {
      logAnalytics: [
        {
          name: 'workspace'
          workspaceResourceId: workspaceResourceId
        }
      ]
    }
    dataFlows: map(schema.tables, t => {
      streams: [t.stream]
      destinations: ['workspace']
      transformKql: transform
      outputStream: 'Custom-${t.name}'
    })
  }
}

// A new assignment can take up to 30 minutes to work: uploads get 403 until then.
resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: dcr
  name: guid(dcr.id, principalId, monitoringMetricsPublisher)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    description: 'kafka-connect-monitor: upload rows through the Logs Ingestion API'
  }
}

output name string = dcr.name
output resourceId string = dcr.id
@description('LOGS_DCR_IMMUTABLE_ID')
output immutableId string = dcr.properties.immutableId
@description('LOGS_INGESTION_ENDPOINT')
output logsIngestionEndpoint string = dcr.properties.endpoints.logsIngestion
