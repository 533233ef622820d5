// Where the function's outbound traffic goes: an existing subnet delegated to Microsoft.App/environments (Flex
// Consumption's VNet integration) in a network that reaches Connect, or a new VNet peered both ways with Connect's.
// A VNet of its own, peered with nothing, would reach no private Connect: there is no such choice.

@description('Required. { kind: \'existingSubnet\', subnetId, privateEndpointSubnetId? } or { kind: \'peeredVnet\', peerVnetId, addressPrefix?, functionSubnetPrefix?, privateEndpointSubnetPrefix? } (see main.bicep).')
param network object

@description('Required. Name of a new VNet.')
param vnetName string

@description('Optional. Location of a new VNet.')
param location string = resourceGroup().location

@description('Optional. Tags of a new VNet.')
param tags object = {}

var createVnet = network.kind == 'peeredVnet'
var peerVnetId = network.?peerVnetId ?? ''
// Subscription and resource group of the peer, or of this deployment when there is none (the module is then skipped).
var peerScope = split(createVnet ? peerVnetId : resourceGroup().id, '/')
var functionSubnet = 'function-app'
var endpointSubnet = 'private-endpoints'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = if (createVnet) {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [network.?addressPrefix ?? '10.90.0.0/24'] }
    subnets: [
      {
        name: functionSubnet
        properties: {
          addressPrefix: network.?functionSubnetPrefix ?? '10.90.0.0/26'
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: endpointSubnet
        properties: { addressPrefix: network.?privateEndpointSubnetPrefix ?? '10.90.0.64/28' }
      }
    ]
  }
}

resource toConnect 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = if (createVnet) {
  parent: vnet
  name: 'to-${last(split(peerVnetId, '/'))}'
  properties: {
    remoteVirtualNetwork: { id: peerVnetId }
    allowVirtualNetworkAccess: true
  }
}

// The way back, in Connect's network (another resource group, maybe another subscription).
module fromConnect 'vnet-peering.bicep' = if (createVnet) {
  name: '${deployment().name}-peering'
  scope: resourceGroup(peerScope[2], peerScope[4])
  params: {
    vnetName: last(split(peerVnetId, '/'))
    remoteVnetId: resourceId('Microsoft.Network/virtualNetworks', vnetName)
  }
  dependsOn: [toConnect]
}

var subnetId = createVnet ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnetName, functionSubnet) : network.?subnetId ?? ''

@description('The subnet the function app integrates with.')
output subnetId string = subnetId

@description('The VNet of that subnet (for private DNS zone links).')
output vnetId string = join(take(split(subnetId, '/'), 9), '/')

@description('The subnet for private endpoints (empty when none was given).')
output privateEndpointSubnetId string = createVnet ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnetName, endpointSubnet) : network.?privateEndpointSubnetId ?? ''
