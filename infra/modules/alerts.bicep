// Alerts on the monitor's tables: one rule per connector (the original tool's rule), and rules for what needs a
// human: the monitor's heartbeat, an unreachable cluster, a failure the healer will not restart, a task left
// UNASSIGNED. The queries live in infra/queries/*.kql, where the tests analyze them.

@description('Required. Resource id of the workspace holding KafkaConnect_CL and KafkaConnectHealing_CL.')
param workspaceResourceId string

@description('Required. Prefix of the rule names.')
param namePrefix string

@description('Optional. Connectors that get their own "not fully RUNNING for 10 minutes" rule: [{ cluster, name }]. Regenerate with `kc-monitor alert-params`.')
param connectors array = []

@description('Optional. E-mail addresses of the action group.')
param alertEmails array = []

param location string = resourceGroup().location
param tags object = {}

var connectorQuery = loadTextContent('../queries/alert-connector-not-running.kql')

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('kcmonitor', 12)
    enabled: true
    emailReceivers: [
      for (email, i) in alertEmails: {
        name: 'email-${i}'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

// The tables are created in the same deployment: skip the validation that would run before they exist.
resource connectorRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for c in connectors: {
    name: '${namePrefix}-connector-${uniqueString(c.cluster, c.name)}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: 'Kafka Connect ${c.cluster}/${c.name} not fully RUNNING'
      description: 'No tick in 10 minutes saw connector ${c.name} of cluster ${c.cluster} RUNNING with all its tasks RUNNING (or the monitor stopped reporting it).'
      severity: 2
      enabled: true
      scopes: [workspaceResourceId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT10M'
      criteria: {
        allOf: [
          {
            // KQL string literals: escape backslashes and double quotes of the names.
            query: 'let cluster = "${replace(replace(c.cluster, '\\', '\\\\'), '"', '\\"')}";\nlet connector = "${replace(replace(c.name, '\\', '\\\\'), '"', '\\"')}";\n${connectorQuery}'
            timeAggregation: 'Count'
            operator: 'LessThan'
            threshold: 1
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      skipQueryValidation: true
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]

var rules = [
  {
    ruleId: 'heartbeat'
    displayName: 'Kafka Connect monitor heartbeat lost'
    description: 'No cluster row for 15 minutes: the monitor function is not running, cannot ship rows, or its settings are broken (see its log).'
    severity: 1
    window: 'PT15M'
    query: loadTextContent('../queries/alert-heartbeat.kql')
    operator: 'LessThan'
    threshold: 1
    dimensions: []
  }
  {
    ruleId: 'cluster-unreachable'
    displayName: 'Kafka Connect cluster unreachable'
    description: 'The monitor could not read a Connect cluster (State and Detail say why: UNREACHABLE, DNS_FAILURE, TLS_ERROR, UNAUTHORIZED...).'
    severity: 1
    window: 'PT10M'
    query: loadTextContent('../queries/alert-cluster-unreachable.kql')
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster']
  }
  {
    ruleId: 'healer-gave-up'
    displayName: 'Kafka Connect failure the healer will not restart'
    description: 'A connector or task failed in a way a restart cannot fix (non-transient pattern), or used up HEAL_MAX_ATTEMPTS: a human must act.'
    severity: 2
    window: 'PT10M'
    query: loadTextContent('../queries/alert-healer-gave-up.kql')
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'ConnectorName']
  }
  {
    ruleId: 'unassigned'
    displayName: 'Kafka Connect task UNASSIGNED too long'
    description: 'A connector or task has been UNASSIGNED for longer than HEAL_UNASSIGNED_MINUTES: no worker picked it up.'
    severity: 2
    window: 'PT10M'
    query: loadTextContent('../queries/alert-unassigned.kql')
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'ConnectorName']
  }
]

resource monitorRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for r in rules: {
    name: '${namePrefix}-${r.ruleId}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: r.displayName
      description: r.description
      severity: r.severity
      enabled: true
      scopes: [workspaceResourceId]
      evaluationFrequency: 'PT5M'
      windowSize: r.window
      criteria: {
        allOf: [
          {
            query: r.query
            timeAggregation: 'Count'
            operator: r.operator
            threshold: r.threshold
            dimensions: map(r.dimensions, d => { name: d, operator: 'Include', values: ['*'] })
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      skipQueryValidation: true
      actions: { actionGroups: [actionGroup.id] }
    }
  }
]

output actionGroupId string = actionGroup.id
output connectorRuleNames array = [for (c, i) in connectors: connectorRules[i].name]
output monitorRuleNames array = [for (r, i) in rules: monitorRules[i].name]
