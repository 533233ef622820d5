import { type SimConnector, type SimTask } from './connectSimulator';

const WORKERS = ['10.0.0.11:8083', '10.0.0.12:8083', '10.0.0.13:8083'];

/** A password that exists only in the simulation; it must never show up in a row or on screen. */
export const DEMO_DB_PASSWORD = 'example-S3cr3t-pa55';

const running = (id: number): SimTask => ({ id, state: 'RUNNING', workerId: WORKERS[id % WORKERS.length]! });

/** A small cluster an operator would recognise: healthy connectors, and each kind of trouble once. */
export function demoConnectors(): SimConnector[] {
  return [
    {
      name: 'jdbc-sink-orders',
      type: 'sink',
      config: {
        'connector.class': 'io.confluent.connect.jdbc.JdbcSinkConnector',
        'tasks.max': '4',
        topics: 'orders',
        'connection.url': 'jdbc:postgresql://orders-db:5432/app',
        'connection.user': 'app',
        'connection.password': DEMO_DB_PASSWORD,
      },
      state: 'RUNNING',
      workerId: WORKERS[0]!,
      tasks: [
        running(0),
        running(1),
        {
          id: 2,
          state: 'FAILED',
          workerId: WORKERS[1]!,
          trace: [
            'org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.',
            '\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:632)',
            `Caused by: java.sql.SQLException: Connection refused: jdbc:postgresql://app:${DEMO_DB_PASSWORD}@orders-db:5432/app`,
            '\t... 12 more',
          ].join('\n'),
        },
        running(3),
      ],
    },
    {
      name: 's3-sink-clickstream',
      type: 'sink',
      config: { 'connector.class': 'io.confluent.connect.s3.S3SinkConnector', 'tasks.max': '4', 'aws.secret.access.key': DEMO_DB_PASSWORD },
      state: 'RUNNING',
      workerId: WORKERS[1]!,
      tasks: [0, 1, 2, 3].map(running),
    },
    {
      name: 'debezium-inventory',
      type: 'source',
      config: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', 'tasks.max': '1', 'database.password': DEMO_DB_PASSWORD },
      state: 'RUNNING',
      workerId: WORKERS[2]!,
      tasks: [
        {
          id: 0,
          state: 'FAILED',
          workerId: WORKERS[2]!,
          trace: [
            'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.',
            '\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:50)',
            `Caused by: org.postgresql.util.PSQLException: FATAL: replication slot "debezium" is active for PID 4242`,
          ].join('\n'),
          sticky: true,
        },
      ],
    },
    {
      name: 'elastic-sink-logs',
      type: 'sink',
      config: { 'connector.class': 'io.confluent.connect.elasticsearch.ElasticsearchSinkConnector', 'tasks.max': '2' },
      state: 'FAILED',
      workerId: WORKERS[0]!,
      trace: [
        'org.apache.kafka.common.config.ConfigException: Invalid value http//elastic:9200 for configuration connection.url: Invalid URL',
        '\tat io.confluent.connect.elasticsearch.ElasticsearchSinkConnectorConfig.validate(ElasticsearchSinkConnectorConfig.java:412)',
        `\tat org.apache.kafka.connect.runtime.WorkerConnector.doStart(WorkerConnector.java:190)`,
      ].join('\n'),
      sticky: true,
      tasks: [],
    },
    {
      name: 'file-source-app-logs',
      type: 'source',
      config: { 'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector', 'tasks.max': '1', file: '/var/log/app.log' },
      state: 'PAUSED',
      workerId: WORKERS[1]!,
      tasks: [{ id: 0, state: 'PAUSED', workerId: WORKERS[1]! }],
    },
    {
      name: 'mirror-source us-east → eu',
      type: 'source',
      config: { 'connector.class': 'org.apache.kafka.connect.mirror.MirrorSourceConnector', 'tasks.max': '2' },
      state: 'RUNNING',
      workerId: WORKERS[2]!,
      tasks: [running(0), { id: 1, state: 'UNASSIGNED', workerId: WORKERS[0]! }],
    },
  ];
}

/**
 * `count` connectors with `tasksEach` tasks; every `failEvery`-th task FAILED (33 ≈ 3%), for good when
 * `sticky`. Deterministic, so the tests and the benchmark see the same cluster every run.
 */
export function generatedConnectors(count: number, tasksEach: number, failEvery = 33, sticky = false): SimConnector[] {
  const connectors: SimConnector[] = [];
  let n = 0;
  for (let i = 0; i < count; i++) {
    const name = `connector-${String(i).padStart(5, '0')}`;
    const tasks: SimTask[] = [];
    for (let id = 0; id < tasksEach; id++, n++) {
      tasks.push(
        n % failEvery === failEvery - 1
          ? { id, state: 'FAILED', workerId: WORKERS[n % 3]!, trace: `org.apache.kafka.connect.errors.RetriableException: timeout writing batch ${n}\n\tat com.example.Sink.put(Sink.java:42)`, sticky }
          : running(id),
      );
    }
    connectors.push({
      name,
      type: i % 2 === 0 ? 'sink' : 'source',
      config: { 'connector.class': i % 2 === 0 ? 'com.example.SinkConnector' : 'com.example.SourceConnector', 'tasks.max': String(tasksEach), 'db.password': `pw-${i}` },
      state: 'RUNNING',
      workerId: WORKERS[i % 3]!,
      tasks,
    });
  }
  return connectors;
}
