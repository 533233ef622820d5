// Links one existing private DNS zone (for the Connect host name) to the function's VNet. Deployed in the zone's
// resource group.

@description('Required. Name of the private DNS zone, e.g. connect.internal.')
param zoneName string

@description('Required. Resource id of the VNet to link.')
param vnetId string

@description('Required. Name of the link.')
param linkName string

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' existing = {
  name: zoneName
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: linkName
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnetId }
  }
}

output resourceId string = link.id
