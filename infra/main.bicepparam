// Example parameters. Copy, fill in, and deploy:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
using 'main.bicep'

param namePrefix = 'kcmon'

// One cluster; for several use connectClusters (the JSON of KAFKA_CONNECT_CLUSTERS) and clusterSecrets instead.
param connectUrl = 'https://connect.internal.example:8083'
param connectUsername = 'kc-monitor'
// Never commit a password: read it from the environment of the shell that deploys. Later deployments may leave it
// empty: the setting keeps pointing at the secret stored in Key Vault.
param connectPassword = readEnvironmentVariable('KAFKA_CONNECT_PASSWORD', '')

// Start with a week of dry-run, then switch to 'on'.
param autoHeal = 'dry-run'

// Connect lives in a peered network: integrate with a subnet there, delegated to Microsoft.App/environments.
// Or create a VNet peered with Connect's: { kind: 'peeredVnet', peerVnetId: '/subscriptions/…/virtualNetworks/connect' }.
param network = {
  kind: 'existingSubnet'
  subnetId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/kc-monitor'
}
// The zone that resolves connect.internal.example is already linked to the spoke VNet (through the hub): no link.
param connectDnsZones = [
  {
    id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/internal.example'
    link: false
  }
]

// One rule split by connector, evaluated every 5 minutes. For one rule per connector instead:
//   param alertShape = 'perConnector' and param connectors = [...] (npx kc-monitor alert-params prints them)
param alertShape = 'perClusterSplit'
param alertFrequencyMinutes = 5
param alertEmails = ['oncall@example.com']
