// Example parameters. Copy, fill in, and deploy:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
using 'main.bicep'

param namePrefix = 'kcmon'

// One cluster; for several use connectClusters (the JSON of KAFKA_CONNECT_CLUSTERS) instead.
param connectUrl = 'https://connect.internal.example:8083'
param connectUsername = 'kc-monitor'
// Never commit a password: read it from the environment of the shell that deploys.
param connectPassword = readEnvironmentVariable('KAFKA_CONNECT_PASSWORD', '')

// Start with a week of dry-run, then switch to 'on'.
param autoHeal = 'dry-run'

// Connect lives in a peered VNet: integrate with a subnet there (delegated to Microsoft.App/environments),
// and link the private DNS zone that resolves the Connect host name. Empty values create a new VNet instead.
param existingSubnetId = ''
param privateDnsZoneIds = []

// One alert rule per connector; regenerate with: npx kc-monitor alert-params
param connectors = [
  { cluster: 'connect.internal.example:8083', name: 'jdbc-sink-orders' }
  { cluster: 'connect.internal.example:8083', name: 'debezium-inventory' }
]
param alertEmails = ['oncall@example.com']
