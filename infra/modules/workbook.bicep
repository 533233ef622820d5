// The workbook: clusters, connector health over time, what is failing now with traces, restart history.
// Every query is an infra/queries/workbook-*.kql file ({Cluster} is the workbook's cluster picker).

@description('Required. Resource id of the workspace holding the monitor\'s tables.')
param workspaceResourceId string

@description('Optional. Display name.')
param displayName string = 'Kafka Connect monitor'

@description('Optional. Location of the workbook.')
param location string = resourceGroup().location

@description('Optional. Tags of the workbook.')
param tags object = {}

var clusterPicker = {
  type: 9
  name: 'parameters'
  content: {
    version: 'KqlParameterItem/1.0'
    parameters: [
      {
        name: 'TimeRange'
        type: 4
        isRequired: true
        value: { durationMs: 86400000 }
        typeSettings: { selectableValues: [{ durationMs: 3600000 }, { durationMs: 14400000 }, { durationMs: 86400000 }, { durationMs: 604800000 }] }
      }
      {
        name: 'Cluster'
        type: 2
        multiSelect: true
        quote: '\''
        delimiter: ','
        isRequired: true
        query: loadTextContent('../queries/workbook-cluster-picker.kql')
        typeSettings: { additionalResourceOptions: ['value::all'], selectAllValue: '' }
        defaultValue: 'value::all'
        timeContext: { durationMs: 86400000 }
        queryType: 0
        resourceType: 'microsoft.operationalinsights/workspaces'
      }
    ]
  }
}

var sections = [
  { title: 'Clusters', file: loadTextContent('../queries/workbook-clusters.kql'), visualization: 'table' }
  { title: 'Connector health over time', file: loadTextContent('../queries/workbook-health-over-time.kql'), visualization: 'timechart' }
  { title: 'Failing now, with traces', file: loadTextContent('../queries/workbook-failing-now.kql'), visualization: 'table' }
  { title: 'Restart history', file: loadTextContent('../queries/workbook-restart-history.kql'), visualization: 'table' }
  { title: 'Restarts per connector', file: loadTextContent('../queries/workbook-restarts-per-connector.kql'), visualization: 'table' }
  { title: 'Time to recover (7 days)', file: loadTextContent('../queries/workbook-time-to-recover.kql'), visualization: 'table' }
  { title: 'Sick workers (24 hours)', file: loadTextContent('../queries/workbook-sick-workers.kql'), visualization: 'table' }
]

var queryItems = [
  for (s, i) in sections: {
    type: 3
    name: 'query-${i}'
    content: {
      version: 'KqlItem/1.0'
      title: s.title
      query: s.file
      size: 0
      queryType: 0
      resourceType: 'microsoft.operationalinsights/workspaces'
      timeContextFromParameter: 'TimeRange'
      visualization: s.visualization
    }
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A fixed GUID per resource group: redeploying updates this workbook instead of adding another.
  name: guid(resourceGroup().id, 'kafka-connect-monitor-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspaceResourceId
    serializedData: string({
      version: 'Notebook/1.0'
      items: concat([clusterPicker], queryItems)
      fallbackResourceIds: [workspaceResourceId]
    })
  }
}

output resourceId string = workbook.id
