import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NON_TRANSIENT_PATTERNS, type Settings, loadConfig, scheduleIntervalSeconds, whereJsonBreaks } from '../../src/lib/config';
import { ConfigError } from '../../src/lib/errors';
import { type Pem, issueCertificate, makeCertificateAuthority } from '../fakes/tls';

const DCR = 'dcr-00112233445566778899aabbccddeeff';
const INGESTION = { LOGS_INGESTION_ENDPOINT: 'https://dcr-x.westeurope-1.ingest.monitor.azure.com', LOGS_DCR_IMMUTABLE_ID: DCR };

const CLIENT = '11111111-2222-3333-4444-555555555555';

function problemsOfStorage(settings: Settings): readonly string[] {
  try {
    loadConfig(settings, { requireIngestion: false, requireStorageToHeal: true });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function problemsOf(settings: Settings, requireIngestion = true): readonly string[] {
  try {
    loadConfig(settings, { requireIngestion });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  let ca: Pem;
  let client: Pem;
  beforeAll(async () => {
    ca = await makeCertificateAuthority('config test CA');
    client = await issueCertificate(ca, 'monitor');
  });

  it('reads a single cluster with basic auth and ingestion', () => {
    const config = loadConfig(
      { KAFKA_CONNECT_URL: 'https://connect.internal:8083/', KAFKA_CONNECT_USERNAME: 'monitor', KAFKA_CONNECT_PASSWORD: 'pw-123456', ...INGESTION },
      { requireIngestion: true },
    );
    expect(config.clusters).toEqual([
      {
        name: 'connect.internal:8083',
        url: 'https://connect.internal:8083',
        username: 'monitor',
        password: 'pw-123456',
        // Messages name these settings when the credentials are refused.
        sources: { username: 'KAFKA_CONNECT_USERNAME', password: 'KAFKA_CONNECT_PASSWORD', caCert: 'KAFKA_CONNECT_CA_CERT', clientCert: 'KAFKA_CONNECT_CLIENT_CERT' },
      },
    ]);
    expect(config.ingestion).toEqual({ endpoint: INGESTION.LOGS_INGESTION_ENDPOINT, dcrImmutableId: DCR });
    expect(config.autoHeal).toBe('on');
    expect(config.secrets).toEqual(['pw-123456']);
  });

  it('keeps a gateway path prefix and defaults the name to host:port', () => {
    const config = loadConfig({ KAFKA_CONNECT_URL: 'http://gw.example:9000/kafka/connect/' }, { requireIngestion: false });
    expect(config.clusters[0]).toMatchObject({ name: 'gw.example:9000', url: 'http://gw.example:9000/kafka/connect' });
  });

  it('reads several clusters, with secrets named by the setting that holds them', () => {
    const config = loadConfig(
      {
        KAFKA_CONNECT_CLUSTERS: JSON.stringify([
          { name: 'east', url: 'https://east:8083', username: 'm', passwordSetting: 'EAST_PASSWORD' },
          { url: 'http://west:8083' },
        ]),
        EAST_PASSWORD: 'east-secret-1',
        KAFKA_CONNECT_URL: 'http://ignored:8083',
      },
      { requireIngestion: false },
    );
    expect(config.clusters.map((c) => [c.name, c.url, c.password])).toEqual([
      ['east', 'https://east:8083', 'east-secret-1'],
      ['west:8083', 'http://west:8083', undefined],
    ]);
    expect(config.warnings).toEqual(['KAFKA_CONNECT_URL is ignored because KAFKA_CONNECT_CLUSTERS is set']);
  });

  it('accepts PEM with literal \\n escapes, as app settings hold them', () => {
    const config = loadConfig(
      {
        KAFKA_CONNECT_URL: 'https://connect:8443',
        KAFKA_CONNECT_CA_CERT: ca.cert.replace(/\n/g, '\\n'),
        KAFKA_CONNECT_CLIENT_CERT: client.cert,
        KAFKA_CONNECT_CLIENT_KEY: client.key.replace(/\n/g, '\\n'),
      },
      { requireIngestion: false },
    );
    expect(config.clusters[0]?.caCert).toBe(ca.cert);
    expect(config.clusters[0]?.clientKey).toBe(client.key);
    expect(config.secrets).toEqual([client.key]);
  });

  it.each<[string, Settings, boolean, string[]]>([
    ['nothing set, function', {}, true, ['KAFKA_CONNECT_URL: missing', 'LOGS_INGESTION_ENDPOINT: missing', 'LOGS_DCR_IMMUTABLE_ID: missing']],
    ['nothing set, CLI', {}, false, ['KAFKA_CONNECT_URL: missing']],
    ['blank counts as unset', { KAFKA_CONNECT_URL: '  ' }, false, ['KAFKA_CONNECT_URL: missing']],
    ['not a URL', { KAFKA_CONNECT_URL: 'connect:8083' }, false, ['KAFKA_CONNECT_URL: "connect:8083" is not an http(s) URL']],
    ['credentials in the URL', { KAFKA_CONNECT_URL: 'https://u:p4ss@connect:8083' }, false, ['KAFKA_CONNECT_URL: put credentials in KAFKA_CONNECT_USERNAME and KAFKA_CONNECT_PASSWORD']],
    ['username without password', { KAFKA_CONNECT_URL: 'https://c:8083', KAFKA_CONNECT_USERNAME: 'u' }, false, ['KAFKA_CONNECT_PASSWORD: missing']],
    ['client cert without key', { KAFKA_CONNECT_URL: 'https://c:8083', KAFKA_CONNECT_CLIENT_CERT: 'x' }, false, ['KAFKA_CONNECT_CLIENT_KEY: missing', 'KAFKA_CONNECT_CLIENT_CERT: not a PEM certificate']],
    ['garbage CA', { KAFKA_CONNECT_URL: 'https://c:8083', KAFKA_CONNECT_CA_CERT: 'not a cert' }, false, ['KAFKA_CONNECT_CA_CERT: not a PEM certificate']],
    ['http ingestion endpoint', { KAFKA_CONNECT_URL: 'http://c:8083', LOGS_INGESTION_ENDPOINT: 'http://dce', LOGS_DCR_IMMUTABLE_ID: DCR }, false, ['LOGS_INGESTION_ENDPOINT: "http://dce" is not an https URL']],
    ['DCR resource id instead of immutable id', { KAFKA_CONNECT_URL: 'http://c:8083', ...INGESTION, LOGS_DCR_IMMUTABLE_ID: '/subscriptions/x/dcr' }, false, ['LOGS_DCR_IMMUTABLE_ID: "/subscriptions/x/dcr" is not a DCR immutable id']],
    ['AUTO_HEAL typo', { KAFKA_CONNECT_URL: 'http://c:8083', AUTO_HEAL: 'yes' }, false, ['AUTO_HEAL: "yes" is not one of on, off, dry-run']],
    ['AZURE_CLIENT_ID not a GUID', { KAFKA_CONNECT_URL: 'http://c:8083', AZURE_CLIENT_ID: 'my-identity' }, false, ['AZURE_CLIENT_ID: "my-identity" is not a client id']],
    ['clusters not JSON', { KAFKA_CONNECT_CLUSTERS: '[{name: east}]' }, false, ['KAFKA_CONNECT_CLUSTERS: not valid JSON']],
    ['clusters empty', { KAFKA_CONNECT_CLUSTERS: '[]' }, false, ['KAFKA_CONNECT_CLUSTERS: expected a non-empty JSON array']],
    ['cluster field typo', { KAFKA_CONNECT_CLUSTERS: '[{"url":"http://a:1","pasword":"x"}]' }, false, ['KAFKA_CONNECT_CLUSTERS[0]: unknown field "pasword"']],
    ['named setting missing', { KAFKA_CONNECT_CLUSTERS: '[{"url":"http://a:1","username":"u","passwordSetting":"NOPE"}]' }, false, ['KAFKA_CONNECT_CLUSTERS[0].passwordSetting: the setting NOPE is not set']],
    ['duplicate names', { KAFKA_CONNECT_CLUSTERS: '[{"url":"http://a:1"},{"url":"https://a:1","name":"a:1"}]' }, false, ['KAFKA_CONNECT_CLUSTERS: two clusters are named "a:1"']],
    ['cluster without url', { KAFKA_CONNECT_CLUSTERS: '[{"name":"east"}, 7]' }, false, ['KAFKA_CONNECT_CLUSTERS[0].url: missing', 'KAFKA_CONNECT_CLUSTERS[1]: expected an object']],
    ['negative HEAL_MAX_ATTEMPTS', { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_MAX_ATTEMPTS: '-1' }, false, ['HEAL_MAX_ATTEMPTS: "-1" is not a whole number ≥ 0 (0 = unlimited)']],
    ['a zero backoff cap', { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_BACKOFF_CAP_MINUTES: '0' }, false, ['HEAL_BACKOFF_CAP_MINUTES: "0" is not a whole number ≥ 1 (minutes)']],
    ['a fractional UNASSIGNED threshold', { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_UNASSIGNED_MINUTES: '2.5' }, false, ['HEAL_UNASSIGNED_MINUTES: "2.5" is not a whole number ≥ 0 (minutes)']],
    ['patterns not a JSON array', { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_NON_TRANSIENT_PATTERNS: 'ConfigException' }, false, ['HEAL_NON_TRANSIENT_PATTERNS: expected a JSON array of regular expressions']],
    ['an invalid pattern', { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_NON_TRANSIENT_PATTERNS: '["ok", "broken(["]' }, false, ['HEAL_NON_TRANSIENT_PATTERNS: "broken([" is not a valid regular expression']],
    ['AUTO_HEAL=on without storage where restarts need it', { KAFKA_CONNECT_URL: 'http://c:8083' }, false, []],
    ['an unresolved Key Vault reference', { KAFKA_CONNECT_URL: 'http://c:8083', KAFKA_CONNECT_USERNAME: 'u', KAFKA_CONNECT_PASSWORD: '@Microsoft.KeyVault(VaultName=kv;SecretName=kafka-connect-password)' }, false, ['KAFKA_CONNECT_PASSWORD: the Key Vault reference was not resolved']],
    ['TLS verification turned off globally', { KAFKA_CONNECT_URL: 'http://c:8083', NODE_TLS_REJECT_UNAUTHORIZED: '0' }, false, ['NODE_TLS_REJECT_UNAUTHORIZED: "0" turns TLS verification off']],
    ['a deadline as long as the schedule', { KAFKA_CONNECT_URL: 'http://c:8083', MONITOR_SCHEDULE: '0 */5 * * * *', MONITOR_DEADLINE_SECONDS: '300' }, false, ['MONITOR_DEADLINE_SECONDS: 300 s is not shorter than the 300 s between ticks of MONITOR_SCHEDULE']],
    ['a deadline too short to do anything', { KAFKA_CONNECT_URL: 'http://c:8083', MONITOR_DEADLINE_SECONDS: '5' }, false, ['MONITOR_DEADLINE_SECONDS: "5" is not a whole number ≥ 10 (seconds)']],
    ['a spool cap of zero', { KAFKA_CONNECT_URL: 'http://c:8083', SPOOL_MAX_MB: '0' }, false, ['SPOOL_MAX_MB: "0" is not a whole number ≥ 1 (megabytes)']],
    ['a storage setting that is not a connection string', { KAFKA_CONNECT_URL: 'http://c:8083', AzureWebJobsStorage: 'my-account' }, false, ['AzureWebJobsStorage: not a storage connection string']],
  ])('%s', (_name, settings, requireIngestion, expected) => {
    const problems = problemsOf(settings, requireIngestion);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((start, i) => expect(problems[i]).toContain(start));
  });

  it('reports every problem in one message that never holds a secret value', () => {
    const settings = {
      KAFKA_CONNECT_CLUSTERS: '[{"url":"https://user:CANARY-pw-1@a:1","password":"CANARY-pw-2","clientKey":"CANARY-key"}, {"password": "CANARY-pw-3"',
      AUTO_HEAL: 'sometimes',
    };
    let message = '';
    try {
      loadConfig(settings, { requireIngestion: true });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: KAFKA_CONNECT_CLUSTERS: not valid JSON.*; LOGS_INGESTION_ENDPOINT: missing.*; AUTO_HEAL/);
    expect(message).not.toMatch(/CANARY/);
    expect(message).not.toContain('\n');

    const parsedButBad = { KAFKA_CONNECT_CLUSTERS: '[{"url":"https://user:CANARY-pw-1@a:1","password":"CANARY-pw-2","clientKey":"CANARY-key"}]' };
    const problems = problemsOf(parsedButBad, false).join('\n');
    expect(problems).toContain('KAFKA_CONNECT_CLUSTERS[0].url: put credentials in');
    expect(problems).toContain('KAFKA_CONNECT_CLUSTERS[0].clientKey: not an unencrypted PEM private key');
    expect(problems).not.toMatch(/CANARY/);
  });

  it('reads the healing policy: defaults, numbers, and $defaults expanded among custom patterns', () => {
    const defaults = loadConfig({ KAFKA_CONNECT_URL: 'http://c:8083' }, { requireIngestion: false });
    expect(defaults.heal).toMatchObject({ maxAttempts: 0, backoffCapMinutes: 60, unassignedMinutes: 10 });
    expect(defaults.heal.nonTransientPatterns.map((p) => p.source)).toEqual(DEFAULT_NON_TRANSIENT_PATTERNS);
    const custom = loadConfig(
      { KAFKA_CONNECT_URL: 'http://c:8083', HEAL_MAX_ATTEMPTS: '5', HEAL_BACKOFF_CAP_MINUTES: '30', HEAL_UNASSIGNED_MINUTES: '0', HEAL_NON_TRANSIENT_PATTERNS: '["$defaults", "MyFatal"]' },
      { requireIngestion: false },
    );
    expect(custom.heal).toMatchObject({ maxAttempts: 5, backoffCapMinutes: 30, unassignedMinutes: 0 });
    expect(custom.heal.nonTransientPatterns.map((p) => p.source)).toEqual([...DEFAULT_NON_TRANSIENT_PATTERNS, 'MyFatal']);
    const only = loadConfig({ KAFKA_CONNECT_URL: 'http://c:8083', HEAL_NON_TRANSIENT_PATTERNS: '["MyFatal"]' }, { requireIngestion: false });
    expect(only.heal.nonTransientPatterns.map((p) => p.source)).toEqual(['MyFatal']);
  });

  it.each<[string, Settings, unknown]>([
    ['a connection string', { AzureWebJobsStorage: 'UseDevelopmentStorage=true' }, { kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true' }],
    ['an identity-based account name', { AzureWebJobsStorage__accountName: 'stkcmon', AzureWebJobsStorage__clientId: CLIENT }, { kind: 'identity', tableServiceUri: 'https://stkcmon.table.core.windows.net', blobServiceUri: 'https://stkcmon.blob.core.windows.net', clientId: CLIENT }],
    ['a table service URI, with AZURE_CLIENT_ID', { AzureWebJobsStorage__tableServiceUri: 'https://st.table.core.windows.net/', AZURE_CLIENT_ID: CLIENT }, { kind: 'identity', tableServiceUri: 'https://st.table.core.windows.net', blobServiceUri: 'https://st.blob.core.windows.net', clientId: CLIENT }],
    ['only blob and queue URIs (the table one is derived)', { AzureWebJobsStorage__blobServiceUri: 'https://st.blob.core.windows.net', AzureWebJobsStorage__queueServiceUri: 'https://st.queue.core.windows.net' }, { kind: 'identity', tableServiceUri: 'https://st.table.core.windows.net', blobServiceUri: 'https://st.blob.core.windows.net' }],
  ])('reads the function storage from %s', (_name, settings, expected) => {
    const config = loadConfig({ KAFKA_CONNECT_URL: 'http://c:8083', ...settings }, { requireIngestion: false, requireStorageToHeal: true });
    expect(config.storage).toEqual(expected);
  });

  it('requires storage to heal where asked to, not to dry-run', () => {
    expect(problemsOfStorage({ KAFKA_CONNECT_URL: 'http://c:8083' })).toEqual([
      'AzureWebJobsStorage: missing; the restart history needs it (UseDevelopmentStorage=true with Azurite locally), or set AUTO_HEAL=dry-run or off',
    ]);
    expect(problemsOfStorage({ KAFKA_CONNECT_URL: 'http://c:8083', AUTO_HEAL: 'dry-run' })).toEqual([]);
  });

  it('counts a storage account key among the secrets', () => {
    const config = loadConfig({ KAFKA_CONNECT_URL: 'http://c:8083', AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=st;AccountKey=S3cr3tK3y==;EndpointSuffix=core.windows.net' }, { requireIngestion: false });
    expect(config.secrets).toContain('S3cr3tK3y==');
  });

  it.each<[string | undefined, number | undefined]>([
    ['0 */5 * * * *', 300],
    ['0 */1 * * * *', 60],
    ['30 * * * * *', 60],
    ['*/30 * * * * *', 30],
    ['0 0 * * * *', 3600],
    ['0 0 */2 * * *', 7200],
    ['0 15 9 * * 1-5', undefined],
    [undefined, undefined],
  ])('reads the interval of the schedule %s as %s s', (schedule, seconds) => {
    expect(scheduleIntervalSeconds(schedule)).toBe(seconds);
  });

  it('warns when a password would cross plain http', () => {
    const config = loadConfig({ KAFKA_CONNECT_URL: 'http://c:8083', KAFKA_CONNECT_USERNAME: 'u', KAFKA_CONNECT_PASSWORD: 'p' }, { requireIngestion: false });
    expect(config.warnings).toEqual(['c:8083: basic auth over plain http sends the password unencrypted; use https']);
  });
});

describe('whereJsonBreaks', () => {
  // The snippet shows punctuation and the field names we know; every value, an unknown key and a number are hidden.
  it.each([
    ['a trailing comma', '[{"name":"east","url":"http://x","password":"S3CRET",}]', ': expected a "field" name (a comma too many?) at line 1, column 54, near [{"name":"…","url":"…","password":"…",▶}]'],
    ['a secret pasted where a field name goes', '[{"name":"east","S3CRET":"x" "url":"y"}]', ': expected "," at line 1, column 30, near [{"name":"…","…":"…" ▶…:…}]'],
    ['a number, then a missing comma', '[{"name":"east","port":98765 "url":"x"}]', ': expected "," at line 1, column 30, near [{"name":"…","…":… ▶…:…}]'],
    ['a line break inside a secret', '[{"name":"east","password":"abc\ndef"}]', ': a string is not closed at line 1, column 28, near [{"name":"…","password":▶… …'],
    ['valid JSON', '[{"name":"east"}]', ''],
  ])('%s', (_name, text, says) => {
    expect(whereJsonBreaks(text)).toBe(says);
    for (const secret of ['S3CRET', '98765', 'abc', 'port']) expect(whereJsonBreaks(text)).not.toContain(secret);
  });
});
