import { describe, expect, it } from 'vitest';
import { REDACTED, clip, headBytes, redact, safeTrace, secretValues, truncateTrace, utf8Length } from '../../src/lib/redact';

/** The edges of the redaction and the cuts: each case a behaviour a mutant of src/lib/redact.ts broke unnoticed. */
describe('redact', () => {
  it.each<[string, string, string]>([
    ['a single-quoted password', "ALTER ROLE app PASSWORD='hunter2' failed", `ALTER ROLE app PASSWORD=${REDACTED} failed`],
    ['a single-quoted password cut at the end', "login failed: password='hunter2", `login failed: password=${REDACTED}`],
    ['a single-quoted password cut at a line break', "password='hunter2\n\tat x", `password=${REDACTED}\n\tat x`],
    ['a double-quoted password cut at the end', '{"password":"correct horse', `{"password":${REDACTED}`],
    ['a double-quoted password cut at a line break', '"password": "hunter2\nnext line', `"password": ${REDACTED}\nnext line`],
    ['a bare credential= key', 'credential=abc123 next', `credential=${REDACTED} next`],
    ['a prefixed credentials key', 'google_credentials=abc123 next', `google_credentials=${REDACTED} next`],
    ['apikey, accesskey and privatekey run together', 'apikey=abc123 accesskey=def456 privatekey=ghi789 next', `apikey=${REDACTED} accesskey=${REDACTED} privatekey=${REDACTED} next`],
    ['access_key and private_key', 'access_key=abc private_key=def', `access_key=${REDACTED} private_key=${REDACTED}`],
    ['an RSA private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- tail', `${REDACTED} tail`],
    ['a private key block cut before its end', 'pasted: -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\nabc', `pasted: ${REDACTED}`],
    ['a URL with userinfo at the very start', 'https://svc:t0ken@api.example.com/x', `https://svc:${REDACTED}@api.example.com/x`],
    ['an Authorization header in JSON', '{"Authorization": "Basic dXNlcjpwYXNz", "x": 1}', `{"Authorization": "Basic ${REDACTED}", "x": 1}`],
    ['an Authorization header with a space before the colon', 'Authorization : Basic dXNlcjpwYXNz', `Authorization : Basic ${REDACTED}`],
    ['an Authorization scheme followed by two spaces', 'Authorization: Basic  dXNlcjpwYXNz next', `Authorization: Basic ${REDACTED} next`],
    ['a Proxy-Authorization header', 'proxy-authorization: Negotiate YIIabc next', `proxy-authorization: Negotiate ${REDACTED} next`],
  ])('%s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('redacts an Authorization header without a scheme', () => {
    const out = redact('sent Authorization: dXNlcjpwYXNz next');
    expect(out).not.toContain('dXNlcjpwYXNz');
    expect(out).toMatch(/^sent Authorization:\s+\*\*\* next$/);
  });
});

describe('secretValues', () => {
  // Scrubbed verbatim from that connector's traces: the keys that name a secret, and no others.
  it.each<[string, boolean]>([
    ['key', true],
    ['apikey', true],
    ['api_key_v2', true],
    ['privatekey', true],
    ['private_key_id', true],
    ['accesskey', true],
    ['access_key_id', true],
    ['saskey', true],
    ['sas_key_primary', true],
    ['ssl.keystore.type', false],
    ['key.converter.schemas.enable', false],
  ])('treats the value of %s as a secret: %s', (key, secret) => {
    expect(secretValues({ [key]: 'Xy9-abc!q' })).toEqual(secret ? ['Xy9-abc!q'] : []);
  });

  // The value of a secret key is scrubbed only when it can only be the secret (see isDistinctive).
  it.each<[string, string, boolean]>([
    ['5 characters: too short', 'x1!Y9', false],
    ['a word of 15 letters', 'Abcdefghijklmno', false],
    ['16 letters: long enough to be a secret', 'Abcdefghijklmnop', true],
    ['an enum', 'SASL_PLAIN_TEXT', false],
    ['not quite an enum (lower-case start)', 'xUSER_INFO', true],
    ['not quite an enum (more after it)', 'USER_INFO-x9', true],
    ['a Java class name', 'org.apache.kafka.common.security.plain.PlainLoginModule', false],
    ['a host name is not a Java name', 'db-1.example.com', true],
    ['a negative number', '-1234567', false],
    ['a decimal number', '3.14159', false],
    ['a number followed by more', '2024-Secret!', true],
    ['a lower-case identifier', 'dead-letter-queue', false],
    ['an identifier followed by more', 'order_id-2024X', true],
    ['a URL without userinfo', 'https://login.example.com/oauth2/token', false],
    ['a URL with userinfo', 'https://svc:Pa55@login.example.com/token', true],
    ['a URL after something else', '=https://token.example.com/x', true],
    ['a Windows path', 'C:\\secrets\\key.json', false],
    ['a base64 value with slashes', 'Zm9vYmFy/YmF6+cXV4==', true],
    ['a passphrase starting with a slash', '/correct horse battery', true],
  ])('%s: %s', (_name, value, secret) => {
    expect(secretValues({ 'connection.password': value })).toEqual(secret ? [value] : []);
  });

  it('ignores values that are not strings', () => {
    expect(secretValues({ 'connection.password': 12345678, 'ssl.key.password': { value: 'Xy9-abc!q' }, 'api.token': null })).toEqual([]);
  });
});

describe('headBytes', () => {
  it.each<[string, string, number, string]>([
    ['fits: untouched, even with a U+FFFD already in it', 'bad byte \uFFFD', 100, 'bad byte \uFFFD'],
    ['exactly the budget, ending in U+FFFD: untouched', 'ab\uFFFD', 5, 'ab\uFFFD'],
    ['a cut inside a 4-byte character drops it', 'a😀', 4, 'a'],
    ['and keeps what came before', 'abc😀', 6, 'abc'],
    ['a cut inside a 3-byte character', '€€', 5, '€'],
    ['a plain cut', 'abcdef', 3, 'abc'],
    ['no budget', 'abc', 0, ''],
    ['a negative budget', 'abc', -1, ''],
  ])('%s', (_name, text, max, expected) => {
    expect(headBytes(text, max)).toBe(expected);
  });
});

describe('clip', () => {
  it('redacts before it cuts: a long secret does not push the cause out', () => {
    expect(clip(`password=${'x'.repeat(400)} then the cause`, 100)).toBe(`password=${REDACTED} then the cause`);
  });

  it('cuts only past its generous budget (max × 4 + 256 characters)', () => {
    expect(clip('y'.repeat(296), 10)).toBe('yyyyyyyyy…');
    expect(clip('y'.repeat(297), 10)).toBe('…');
  });

  it('does not show an unbroken run cut at the budget, even if a key is at its start', () => {
    expect(clip(`password=${'x'.repeat(1_000)} cause`, 100)).toBe('…');
  });

  it('drops the partial word at the cut even when whitespace collapses into view', () => {
    expect(clip(`${' '.repeat(650)}Zq8-Unguessable-Xy`, 100)).toBe('…');
  });
});

describe('safeTrace', () => {
  it('cuts again when the redaction made the trace longer than its budget', () => {
    expect(safeTrace('password=ab', 11)).toBe('password=**');
    expect(safeTrace('password=ab', 12)).toBe(`password=${REDACTED}`);
  });
});

describe('truncateTrace, exactly', () => {
  const frames = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `\tat ${tag}.f${i}(${tag}.java:${i})`);
  const marker = (bytes: number) => `\t... [${bytes} bytes cut by kc-monitor] ...`;
  const lines = (...parts: Array<string | string[]>) => parts.flat().join('\n');

  // 1,381 bytes: a head, a Caused by, an indented (suppressed) Caused by, and the root cause.
  const NESTED = lines('a.Outer: outer message', frames(20, 'A'), 'Caused by: b.Middle: middle one', frames(20, 'B'), '\t\tCaused by: c.Suppressed: indented', frames(20, 'C'), 'Caused by: d.Root: the root cause', frames(3, 'D'));

  it.each<[string, string, number, string]>([
    [
      'the head, every Caused by headline, and the last Caused by whole; the marker counts the bytes between head and root cause',
      NESTED,
      300,
      lines('a.Outer: outer message', frames(4, 'A'), '\t', marker(1_191), 'Caused by: b.Middle: middle one', '\t\tCaused by: c.Suppressed: indented', 'Caused by: d.Root: the root cause', frames(3, 'D')),
    ],
    [
      'a larger budget goes to the head',
      NESTED,
      600,
      lines('a.Outer: outer message', frames(18, 'A'), '\tat ', marker(906), 'Caused by: b.Middle: middle one', '\t\tCaused by: c.Suppressed: indented', 'Caused by: d.Root: the root cause', frames(3, 'D')),
    ],
    [
      'a long root cause gets at most half the budget',
      lines('a.Outer: outer message', frames(20, 'A'), 'Caused by: d.Root: the root cause', frames(30, 'D')),
      300,
      `${lines('a.Outer: outer message', frames(5, 'A'), '\tat ', marker(815), 'Caused by: d.Root: the root cause', frames(5, 'D'))}\n`,
    ],
    [
      'the headlines in between get at most half of what is left, cut at a word',
      lines('a.Outer: outer', frames(10, 'A'), ...Array.from({ length: 10 }, (_, i) => [`Caused by: m.Mid${i}: middle number ${i}`, ...frames(3, `M${i}`)]), 'Caused by: d.Root: root', frames(1, 'D')),
      400,
      lines('a.Outer: outer', frames(7, 'A'), '\tat ', marker(1_033), ...[0, 1, 2, 3].map((i) => `Caused by: m.Mid${i}: middle number ${i}`), 'Caused by: m.Mid4:', 'Caused by: d.Root: root', frames(1, 'D')),
    ],
    [
      'a Caused by already in the head is not repeated',
      lines('a.Outer: x', 'Caused by: b.Mid: early', frames(40, 'A'), 'Caused by: d.Root: root', frames(2, 'D')),
      300,
      lines('a.Outer: x', 'Caused by: b.Mid: early', frames(7, 'A'), '\tat ', marker(683), 'Caused by: d.Root: root', frames(2, 'D')),
    ],
    ['no Caused by: the head alone', lines('a.Outer: outer message', frames(30, 'A')), 200, `${lines('a.Outer: outer message', frames(7, 'A'), '\tat', marker(473))}\n`],
    ['no Caused by, starting with a blank line: the head alone', lines('', frames(40, 'A')), 200, `${lines('', frames(8, 'A'), '\tat ', marker(663))}\n`],
    [
      'a Caused by inside the first line is no cause of its own',
      `a.Outer: wrapped Caused by: b.Root: flattened into one line ${'word '.repeat(60)}`,
      150,
      `a.Outer: wrapped Caused by: b.Root: flattened into one line ${'word '.repeat(10).trimEnd()}\n${marker(251)}\n`,
    ],
  ])('%s', (_name, trace, max, expected) => {
    const cut = truncateTrace(trace, max);
    expect(cut).toBe(expected);
    expect(utf8Length(cut)).toBeLessThanOrEqual(max);
  });

  // Found by the stack-trace property (once it reached its budget): a headline cut short got its line break
  // back after the head had used every byte, and the final cut took the root cause's last word.
  it('keeps the root cause whole when a headline in between is cut short', () => {
    const trace = lines(
      'org.apache.kafka.connect.errors.ConnectException: aaa😀aaa',
      '\tat com.example.C0.run(C0.java:100)',
      'Caused by: com.example.E0Exception: aaaa😀aaaaaaaééaa',
      '\tat com.example.C0.run(C0.java:0)',
      '\t\tCaused by: com.example.E10Exception: aaaaaaaaaaaaaaaaa',
      'Caused by: com.example.E10Exception: aa😀aaaaaaaaaaaaaa',
    );
    const cut = truncateTrace(trace, utf8Length(trace) - 1);
    expect(cut.endsWith('\nCaused by: com.example.E10Exception: aa😀aaaaaaaaaaaaaa')).toBe(true);
    expect(utf8Length(cut)).toBeLessThanOrEqual(utf8Length(trace) - 1);
  });

  it.each(['\n', ' '])('keeps no head of a trace that is one unbroken word after a lone %j', (lead) => {
    expect(truncateTrace(`${lead}${'x'.repeat(300)}`, 100)).toBe(`\n${marker(301)}\n`);
  });

  it('leaves a trace of exactly its budget untouched, and cuts one byte less', () => {
    const trace = 'x.Y: z\nCaused by: q';
    expect(truncateTrace(trace, utf8Length(trace))).toBe(trace);
    expect(truncateTrace(trace, utf8Length(trace) - 1)).not.toBe(trace);
  });
});
