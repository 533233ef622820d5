// Alerts on the monitor's tables: connectors not healthy (one rule split by connector, or one rule per connector),
// and rules for what needs a human: the monitor's heartbeat, an unreachable cluster, a failure the healer will not
// restart, a task left UNASSIGNED. The queries live in infra/queries/*.kql, where the tests analyze them.

@description('Required. Resource id of the workspace holding KafkaConnect_CL and KafkaConnectHealing_CL.')
param workspaceResourceId string

@description('Required. Prefix of the rule names.')
param namePrefix string

@description('Optional. perClusterSplit: one rule split by cluster and connector. perConnector: one rule per entry of connectors.')
@allowed(['perClusterSplit', 'perConnector'])
param shape string = 'perClusterSplit'

@description('Optional. Minutes between two evaluations of every rule.')
@allowed([1, 5, 10, 15])
param frequencyMinutes int = 5

@description('Required. Minutes between ticks of the monitor (MONITOR_SCHEDULE).')
param tickMinutes int

@description('Required. The tick\'s budget in seconds (MONITOR_DEADLINE_SECONDS).')
param deadlineSeconds int

@description('Optional. With shape perConnector: the connectors that get a rule, [{ cluster, name }].')
param connectors array = []

@description('Optional. E-mail addresses of the action group.')
param alertEmails string[] = []

@description('Required. Location of the rules: the workspace\'s region, where their queries run.')
param location string

@description('Optional. Tags of the rules and the action group.')
param tags object = {}

// Every row of a tick carries the tick's start time, and arrives up to the tick's budget later, plus the ingestion
// latency, which Log Analytics gives as 20 s to 3 minutes on average: 3 minutes are allowed.
var ingestionMinutes = 3
var latestArrivalMinutes = (deadlineSeconds + 59) / 60 + ingestionMinutes
// The window sizes a log search alert rule accepts (PT1M to PT6H; P1D and P2D are longer than any window here).
var windowSizes = [1, 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360]
// Rules on an absence (no healthy row for a connector, no heartbeat): the query's window spans two ticks plus the
// latest arrival, so that one tick missed, or one late by its whole budget and the ingestion latency, still leaves a
// healthy row in it. It is exact, not rounded: the rule's windowSize, a size Azure accepts and never shorter than
// the frequency, only bounds the rows the query sees, and a longer window would alert later.
var healthWindowMinutes = 2 * tickMinutes + latestArrivalMinutes
var healthRuleWindowMinutes = first(filter(windowSizes, w => w >= max(healthWindowMinutes, frequencyMinutes)))
// Rules on a presence (a row saying something is wrong): every row falls in the window of some evaluation.
var eventWindowMinutes = first(filter(windowSizes, w => w >= frequencyMinutes + latestArrivalMinutes))
// Rules on a state the healer decided (gave up, UNASSIGNED too long, flapping): the state is in the status rows of
// every tick, the decision only when it changes and at the hourly detail tick (the first tick of each hour). The
// decision is looked up over two hours, so that one missed detail tick does not close the alert, and a tick more.
var decisionWindowMinutes = 120 + tickMinutes + latestArrivalMinutes
var decisionRangeMinutes = first(filter(windowSizes, w => w >= decisionWindowMinutes))
var frequency = 'PT${frequencyMinutes}M'
var healthWindow = healthRuleWindowMinutes < 60 ? 'PT${healthRuleWindowMinutes}M' : 'PT${healthRuleWindowMinutes / 60}H'
var eventWindow = eventWindowMinutes < 60 ? 'PT${eventWindowMinutes}M' : 'PT${eventWindowMinutes / 60}H'
// The window each query filters on, stated once here.
var healthLet = 'let window = ${healthWindowMinutes}m;\n'
var eventLet = 'let window = ${eventWindowMinutes}m;\n'
var decisionLet = 'let decisions = ${decisionWindowMinutes}m;\n'
// The time range such a query sees: longer than its windowSize (which still says how long the state must last).
var decisionRange = 'PT${decisionRangeMinutes / 60}H'
var ruledConnectors = shape == 'perConnector' ? connectors : []
var connectorRuleNames = map(ruledConnectors, c => '${namePrefix}-connector-${uniqueString(c.cluster, c.name)}')

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

var connectorQuery = loadTextContent('../queries/alert-connector-not-running.kql')

// The tables are created in the same deployment: skip the validation that would run before they exist.
resource connectorRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for (c, i) in ruledConnectors: {
    name: connectorRuleNames[i]
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: 'Kafka Connect ${c.cluster}/${c.name} not healthy'
      description: 'No tick in ${healthWindowMinutes} minutes saw connector ${c.name} of cluster ${c.cluster} RUNNING with all its tasks RUNNING, PAUSED or STOPPED (or the monitor stopped reporting it).'
      severity: 2
      enabled: true
      scopes: [workspaceResourceId]
      evaluationFrequency: frequency
      windowSize: healthWindow
      criteria: {
        allOf: [
          {
            // KQL string literals: escape backslashes and double quotes of the names.
            query: '${healthLet}let cluster = "${replace(replace(c.cluster, '\\', '\\\\'), '"', '\\"')}";\nlet connector = "${replace(replace(c.name, '\\', '\\\\'), '"', '\\"')}";\n${connectorQuery}'
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

var splitRule = shape == 'perClusterSplit' ? [
  {
    ruleId: 'connectors-not-healthy'
    displayName: 'Kafka Connect connector not healthy'
    description: 'Two ticks or more of ${healthWindowMinutes} minutes saw a connector, and none saw it RUNNING with all its tasks RUNNING, PAUSED or STOPPED. One alert per connector.'
    severity: 2
    window: healthWindow
    query: '${healthLet}${loadTextContent('../queries/alert-unhealthy-connectors.kql')}'
    queryTimeRange: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'ConnectorName']
  }
] : []

var monitorRuleSet = [
  {
    ruleId: 'heartbeat'
    displayName: 'Kafka Connect monitor heartbeat lost'
    description: 'No cluster row for ${healthWindowMinutes} minutes: the monitor function is not running, cannot ship rows, or its settings are broken (see its log).'
    severity: 1
    window: healthWindow
    query: '${healthLet}${loadTextContent('../queries/alert-heartbeat.kql')}'
    queryTimeRange: null
    operator: 'LessThan'
    threshold: 1
    dimensions: []
  }
  {
    ruleId: 'cluster-unreachable'
    displayName: 'Kafka Connect cluster unreachable'
    description: 'The monitor could not read a Connect cluster (State and Detail say why: UNREACHABLE, DNS_FAILURE, TLS_ERROR, UNAUTHORIZED...).'
    severity: 1
    window: eventWindow
    query: '${eventLet}${loadTextContent('../queries/alert-cluster-unreachable.kql')}'
    queryTimeRange: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster']
  }
  {
    ruleId: 'worker-unhealthy'
    displayName: 'Kafka Connect worker unhealthy'
    description: 'GET /health (Connect 3.9+) answered 500 or 503: the worker says it cannot handle requests well, or is still starting. Detail holds its message.'
    severity: 2
    window: eventWindow
    query: '${eventLet}${loadTextContent('../queries/alert-worker-unhealthy.kql')}'
    queryTimeRange: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster']
  }
  {
    ruleId: 'sick-worker'
    displayName: 'Kafka Connect worker with many failed tasks'
    description: 'Two ticks or more saw several FAILED tasks on one worker (SICK_WORKER_MIN_FAILED, SICK_WORKER_PERCENT), of more than one connector or of connectors that run fine elsewhere, while the other workers fail half as much or less: look at that host and its log, not at the connectors.'
    severity: 2
    // Two ticks: the window of the rules on an absence, which always holds two.
    window: healthWindow
    query: '${healthLet}${loadTextContent('../queries/alert-sick-worker.kql')}'
    queryTimeRange: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'WorkerId']
  }
  {
    ruleId: 'healer-gave-up'
    displayName: 'Kafka Connect failure the healer will not restart'
    description: 'A connector or task failed in a way a restart cannot fix (non-transient pattern), or used up HEAL_MAX_ATTEMPTS: a human must act.'
    severity: 2
    window: eventWindow
    query: '${eventLet}${decisionLet}${loadTextContent('../queries/alert-healer-gave-up.kql')}'
    queryTimeRange: decisionRange
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'ConnectorName']
  }
  {
    ruleId: 'flapping'
    displayName: 'Kafka Connect connector or task flapping'
    description: 'A connector or task keeps failing again after it ran again (HEAL_FLAP_COUNT times in HEAL_FLAP_WINDOW_HOURS): restarts heal it, none fixes it. Look at its trace and its dependencies.'
    severity: 2
    window: eventWindow
    query: '${eventLet}${decisionLet}${loadTextContent('../queries/alert-flapping.kql')}'
    queryTimeRange: decisionRange
    operator: 'GreaterThan'
    threshold: 0
    // A string dimension, one per connector or task (TaskId alone is empty on a connector's own rows).
    dimensions: ['Cluster', 'Target']
  }
  {
    ruleId: 'unassigned'
    displayName: 'Kafka Connect task UNASSIGNED too long'
    description: 'A connector or task has been UNASSIGNED for longer than HEAL_UNASSIGNED_MINUTES: no worker picked it up.'
    severity: 2
    window: eventWindow
    query: '${eventLet}${decisionLet}${loadTextContent('../queries/alert-unassigned.kql')}'
    queryTimeRange: decisionRange
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Cluster', 'ConnectorName']
  }
]

var rules = concat(splitRule, monitorRuleSet)

resource monitorRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
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
      evaluationFrequency: frequency
      windowSize: r.window
      overrideQueryTimeRange: r.queryTimeRange
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
output ruleNames array = concat(connectorRuleNames, map(rules, r => '${namePrefix}-${r.ruleId}'))
