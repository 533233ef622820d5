// The peering from Connect's VNet back to the function's: a peering works only when both sides exist.

@description('Required. Name of Connect\'s VNet, in this module\'s resource group.')
param vnetName string

@description('Required. Resource id of the function\'s VNet.')
param remoteVnetId string

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: vnetName
}

resource peering 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = {
  parent: vnet
  name: 'to-${last(split(remoteVnetId, '/'))}'
  properties: {
    remoteVirtualNetwork: { id: remoteVnetId }
    allowVirtualNetworkAccess: true
  }
}
