// A private endpoint for one sub-resource (blob, table, vault) and its DNS record in the privatelink zone.

@description('Required. Name of the private endpoint.')
param name string

@description('Required. Resource id of the storage account or vault.')
param resourceId string

@description('Required. The sub-resource: blob, table or vault.')
@allowed(['blob', 'table', 'vault'])
param groupId string

@description('Required. Subnet of the private endpoint (not one delegated to Microsoft.App/environments).')
param subnetId string

@description('Required. The privatelink zone that gets the endpoint\'s A record.')
param dnsZoneId string

@description('Optional. Location of the private endpoint (its subnet\'s).')
param location string = resourceGroup().location

@description('Optional. Tags of the private endpoint.')
param tags object = {}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: { privateLinkServiceId: resourceId, groupIds: [groupId] }
      }
    ]
  }
}

resource dns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: groupId, properties: { privateDnsZoneId: dnsZoneId } }]
  }
}
