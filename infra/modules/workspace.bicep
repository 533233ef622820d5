// The Log Analytics workspace (new, or an existing one in this resource group's scope) and the monitor's tables,
// whose columns come from infra/tables.json.

@description('Required. Workspace name (new or existing).')
param name string

@description('Optional. Create the workspace; false uses an existing one of this name in this resource group.')
param create bool = true

@description('Optional. Location of a new workspace.')
param location string = resourceGroup().location

@description('Optional. Interactive retention of the tables, in days.')
@minValue(4)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Total retention of the tables (interactive + long-term), in days.')
@minValue(4)
@maxValue(4383)
param totalRetentionInDays int = 90

@description('Optional. Tags of a new workspace.')
param tags object = {}

var schema = loadJsonContent('../tables.json')

resource newWorkspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (create) {
  name: name
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: name
}

// Analytics plan: Basic logs allow only simple alerts, and the per-connector rules need joins and aggregation.
resource tables 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = [
  for table in schema.tables: {
    parent: workspace
    name: table.name
    dependsOn: [newWorkspace]
    properties: {
      plan: 'Analytics'
      retentionInDays: retentionInDays
      totalRetentionInDays: totalRetentionInDays
      schema: {
        name: table.name
        description: table.description
        // The table API spells datetime as dateTime; the DCR stream declarations take the JSON's spelling.
        columns: map(table.columns, c => {
          name: c.name
          type: c.type == 'datetime' ? 'dateTime' : c.type
          description: c.description
        })
      }
    }
  }
]

@description('The workspace resource id.')
output resourceId string = workspace.id

@description('The workspace customer id (for queries).')
output customerId string = create ? newWorkspace!.properties.customerId : workspace.properties.customerId

@description('The workspace region: the DCR must be created in it.')
output location string = create ? location : workspace.location

@description('The tables created, in the order of infra/tables.json.')
output tableNames array = [for (table, i) in schema.tables: tables[i].name]
