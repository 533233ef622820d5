/**
 * Credentials leave Kafka Connect in stack traces (JDBC URLs, `password=` in exception text) and in
 * connector config. Everything the monitor ships or prints goes through here first.
 */

export const REDACTED = '***';

/** Config keys whose values are secrets: their values are redacted wherever they show up in traces. */
export const SECRET_KEY = /(password|passwd|pwd|secret|token|credential|auth|jaas|sasl|(?:^|[._-])key$|api[._-]?key|private[._-]?key|access[._-]?key)/i;

const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // PEM private keys pasted into messages.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  // user:password@ in any URL (jdbc:postgresql://u:p@host, https://u:p@host); up to the last @, since
  // passwords contain @ too.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s/]*@/gi, `$1:${REDACTED}@`],
  // Oracle thin URLs carry user/password@host.
  [/(\bjdbc:oracle:[a-z]+:[^\s/:@]+)\/[^\s@]+@/gi, `$1/${REDACTED}@`],
  // Authorization headers and bearer tokens, whatever the scheme.
  [/\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(basic|bearer|digest|negotiate)\s+)?[^\s"',;]+/gi, `$1$2 ${REDACTED}`],
  [/\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  // key=value and "key": "value" pairs whose key names a secret (password=, api_key:, sasl.jaas.config=,
  // token=, AccountKey= and sig= of storage connection strings and SAS URLs...).
  [
    /\b([\w.-]*(?:password|passwd|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|jaas\.config|accountkey|sharedaccesskey)|(?:[\w-]+[._])?credentials?|key|sig)(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;&)}\]]+)/gi,
    `$1$2${REDACTED}`,
  ],
];

/** Replaces credentials in free text: known secret values first, then every pattern above. */
export function redact(text: string, knownSecrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...knownSecrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** The secret-looking values of a connector's config, so they can be scrubbed from its traces verbatim. */
export function secretValues(config: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(config)
    .filter(([key, v]) => typeof v === 'string' && SECRET_KEY.test(key) && !v.startsWith('${'))
    .map(([, v]) => v as string);
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, never splitting a character. */
export function headBytes(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  let out = Buffer.from(text, 'utf8').subarray(0, Math.max(0, maxBytes)).toString('utf8');
  // A cut inside a multi-byte character decodes as U+FFFD; drop it and anything still over.
  while (out.length > 0 && (out.endsWith('\uFFFD') || utf8Length(out) > maxBytes)) out = out.slice(0, -1);
  return out;
}

/**
 * Cuts a Java stack trace to `maxBytes`, keeping what an on-call engineer reads: the head (the exception
 * and where it surfaced), the headline of every `Caused by` in between (so the non-transient patterns still
 * see them), and the last `Caused by` (the root cause), with a marker saying how much went.
 */
export function truncateTrace(trace: string, maxBytes: number): string {
  const total = utf8Length(trace);
  if (total <= maxBytes) return trace;
  const markerFor = (omitted: number) => `\n\t... [${omitted} bytes cut by kc-monitor] ...\n`;
  const markerBytes = utf8Length(markerFor(total));

  const lastCause = trace.lastIndexOf('Caused by:');
  const causeStart = lastCause > 0 ? trace.lastIndexOf('\n', lastCause) + 1 : -1;
  const budget = Math.max(0, maxBytes - markerBytes);
  const cause = causeStart > 0 ? headBytes(trace.slice(causeStart), Math.floor(budget / 2)) : '';
  const before = causeStart > 0 ? trace.slice(0, causeStart) : trace;
  const causes = before
    .split('\n')
    .filter((line) => line.trimStart().startsWith('Caused by:'))
    .map((line) => `${headBytes(line, 300)}\n`)
    .join('');
  const middle = headBytes(causes, Math.floor((budget - utf8Length(cause)) / 2));
  const head = headBytes(before, budget - utf8Length(cause) - utf8Length(middle));
  // Causes already inside the head need not be repeated.
  const rest = middle
    .split('\n')
    .filter((line) => line && !head.includes(line))
    .map((line) => `${line}\n`)
    .join('');
  const omitted = total - utf8Length(head) - utf8Length(cause);
  return headBytes(`${head}${markerFor(omitted)}${rest}${cause}`, maxBytes);
}
