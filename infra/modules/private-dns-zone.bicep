// A privatelink zone created for the private endpoints, linked to the function's VNet so that the host names of
// the storage account and the vault resolve to the endpoints from the function.

@description('Required. Zone name, e.g. privatelink.blob.core.windows.net.')
param zoneName string

@description('Required. Resource id of the VNet to link.')
param vnetId string

@description('Required. Name of the link.')
param linkName string

@description('Optional. Tags of the zone.')
param tags object = {}

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: zoneName
  location: 'global'
  tags: tags
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: linkName
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnetId }
  }
}

output resourceId string = zone.id
