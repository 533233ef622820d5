// Links one existing private DNS zone to the function's VNet, deployed in the zone's resource group: only zones
// given with link: true, since a zone can be linked to a VNet once ("already linked" fails the deployment).

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
