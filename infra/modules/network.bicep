// Where the function's outbound traffic goes: a new VNet with a subnet delegated to Microsoft.App/environments
// (Flex Consumption's VNet integration), or an existing subnet; and optional links from private DNS zones so
// that the Connect host name resolves from the function.

@description('Optional. Resource id of an existing subnet delegated to Microsoft.App/environments (the common case: Connect lives in a peered network). Empty creates a VNet.')
param existingSubnetId string = ''

@description('Optional. Name of a new VNet.')
param vnetName string

@description('Optional. Address space of a new VNet.')
param vnetAddressPrefix string = '10.90.0.0/24'

@description('Optional. Prefix of the function subnet of a new VNet (/28 or larger; /26 leaves room to scale).')
param subnetPrefix string = '10.90.0.0/26'

param location string = resourceGroup().location
param tags object = {}

var createVnet = empty(existingSubnetId)
var subnetName = 'function-app'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = if (createVnet) {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [vnetAddressPrefix] }
    subnets: [
      {
        name: subnetName
        properties: {
          addressPrefix: subnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
        }
      }
    ]
  }
}

@description('The subnet the function app integrates with.')
output subnetId string = createVnet ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnetName, subnetName) : existingSubnetId

@description('The VNet of that subnet (for private DNS zone links).')
output vnetId string = createVnet ? vnet.id : join(take(split(existingSubnetId, '/'), 9), '/')
