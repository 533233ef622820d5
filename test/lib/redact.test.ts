import { describe, expect, it } from 'vitest';
import { REDACTED, headBytes, redact, secretValues, truncateTrace, utf8Length } from '../../src/lib/redact';

describe('redact', () => {
  it.each<[string, string, string]>([
    ['JDBC URL user:password@', 'Connection refused: jdbc:postgresql://app:hunter2@db:5432/app', `Connection refused: jdbc:postgresql://app:${REDACTED}@db:5432/app`],
    ['https URL userinfo', 'GET https://svc:t0ken@api.example.com/x failed', `GET https://svc:${REDACTED}@api.example.com/x failed`],
    ['password= in exception text', 'FATAL: login failed; password=hunter2 user=app', `FATAL: login failed; password=${REDACTED} user=app`],
    ['JDBC ;password=', 'jdbc:sqlserver://db;user=sa;password=Pa55word;encrypt=true', `jdbc:sqlserver://db;user=sa;password=${REDACTED};encrypt=true`],
    ['dotted config key', 'Invalid value for connection.password: abc123', `Invalid value for connection.password: ${REDACTED}`],
    ['JSON pair', '{"api_key": "AKIA1234", "region": "eu"}', `{"api_key": ${REDACTED}, "region": "eu"}`],
    ['SASL JAAS password', 'sasl.jaas.config=org.apache...PlainLoginModule required username="u" password="p@ss";', `sasl.jaas.config=${REDACTED} required username="u" password=${REDACTED};`],
    ['bearer token', 'Authorization: Bearer eyJhbGciOi.x.y', `Authorization: Bearer ${REDACTED}`],
    ['basic header', 'authorization=Basic dXNlcjpwYXNz', `authorization=Basic ${REDACTED}`],
    ['bare bearer', 'sent bearer abc.def-ghi', `sent bearer ${REDACTED}`],
    ['secret and token keys', 'client_secret=s1 refresh_token: t2 aws.secret.access.key=k3', `client_secret=${REDACTED} refresh_token: ${REDACTED} aws.secret.access.key=${REDACTED}`],
    ['private key block', 'key: -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- end', `key: ${REDACTED} end`],
 ['a password containing @', 'jdbc:postgresql://app:p@ss@word@db:5432/app failed', `jdbc:postgresql://app:${REDACTED}@db:5432/app failed`],
    ['Oracle thin user/password@host', 'jdbc:oracle:thin:scott/tiger@db.example:1521/ORCL', `jdbc:oracle:thin:scott/${REDACTED}@db.example:1521/ORCL`],
    ['storage account key and SAS signature', 'AccountName=st;AccountKey=abc123==;x https://st.blob.core.windows.net/c?sv=2022&sig=Zm9v%3D&se=1', `AccountName=st;AccountKey=${REDACTED};x https://st.blob.core.windows.net/c?sv=2022&sig=${REDACTED}&se=1`],
    ['nothing secret', 'java.lang.NullPointerException at Foo.bar(Foo.java:1)', 'java.lang.NullPointerException at Foo.bar(Foo.java:1)'],
    ['exception names are not keys', 'java.security.InvalidKeyException: bad', 'java.security.InvalidKeyException: bad'],
    ['class names ending in Credential are not keys', 'ManagedIdentityCredential: Authentication failed', 'ManagedIdentityCredential: Authentication failed'],
    ['credentials as a key', 'aws.credentials=abc credentials: xyz', `aws.credentials=${REDACTED} credentials: ${REDACTED}`],
  ])('%s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('scrubs known secret values verbatim, wherever they appear, longest first', () => {
    expect(redact('db said: wrong credentials for s3cr3t-value (prefix s3cr3t)', ['s3cr3t', 's3cr3t-value'])).toBe(
      `db said: wrong credentials for ${REDACTED} (prefix ${REDACTED})`,
    );
    // Too short to scrub without destroying the text.
    expect(redact('a b c', ['b'])).toBe('a b c');
  });

  it('collects the secret-looking values of a connector config, not placeholders', () => {
    expect(
      secretValues({
        'connection.password': 'pw1',
        'connection.url': 'jdbc:x',
        'aws.secret.access.key': 'k',
        'ssl.key.password': '${file:/secrets:pw}',
        'sasl.jaas.config': 'jaas',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
        'tasks.max': '2',
      }),
    ).toEqual(['pw1', 'k', 'jaas']);
  });
});

describe('truncateTrace', () => {
  const frames = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `\tat com.example.${tag}.frame${i}(${tag}.java:${i})`).join('\n');
  const trace = [
    'org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.',
    frames(1500, 'Outer'),
    'Caused by: org.apache.kafka.connect.errors.DataException: bad record',
    frames(50, 'Middle'),
    'Caused by: java.sql.SQLException: Connection refused',
    frames(20, 'Root'),
  ].join('\n');

  it.each([2_000, 8_000, 32_768])('keeps the head and the last Caused by within %i bytes', (max) => {
    const cut = truncateTrace(trace, max);
    expect(utf8Length(cut)).toBeLessThanOrEqual(max);
    expect(cut.startsWith('org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask')).toBe(true);
    expect(cut).toContain('Caused by: java.sql.SQLException: Connection refused');
    expect(cut).toMatch(/\.\.\. \[\d+ bytes cut by kc-monitor\] \.\.\./);
  });

  it('keeps the headline of every Caused by, so a ConfigException in the middle is still seen', () => {
    const nested = [
      'org.apache.kafka.connect.errors.ConnectException: Failed to start',
      frames(800, 'Outer'),
      'Caused by: org.apache.kafka.common.config.ConfigException: Invalid value x for configuration topics',
      frames(800, 'Middle'),
      'Caused by: java.lang.IllegalStateException: root',
      frames(10, 'Root'),
    ].join('\n');
    const cut = truncateTrace(nested, 8_000);
    expect(utf8Length(cut)).toBeLessThanOrEqual(8_000);
    expect(cut).toContain('Caused by: org.apache.kafka.common.config.ConfigException: Invalid value x for configuration topics');
    expect(cut).toContain('Caused by: java.lang.IllegalStateException: root');
  });

  it('leaves a trace that fits untouched', () => {
    expect(truncateTrace('short\nCaused by: x', 100)).toBe('short\nCaused by: x');
  });

  it('cuts a trace without any Caused by to its head', () => {
    const cut = truncateTrace(frames(1000, 'Only'), 1000);
    expect(utf8Length(cut)).toBeLessThanOrEqual(1000);
    expect(cut.startsWith('\tat com.example.Only.frame0')).toBe(true);
  });

  it('never splits a multi-byte character', () => {
    const text = `${'€'.repeat(5000)}\nCaused by: ${'😀'.repeat(3000)}`;
    const cut = truncateTrace(text, 4001);
    expect(utf8Length(cut)).toBeLessThanOrEqual(4001);
    expect(cut).not.toContain('\uFFFD');
    expect(headBytes('€€', 4)).toBe('€');
  });
});
