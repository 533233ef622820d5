/**
 * Credentials leave Kafka Connect in stack traces (JDBC URLs, `password=` in exception text) and in
 * connector config. Everything the monitor ships or prints goes through here first.
 */

import { oneLine } from './errors';

export const REDACTED = '***';

/**
 * Config keys whose values are secrets: their values are scrubbed verbatim from that connector's traces.
 * Deliberately narrow: `sasl.mechanism=PLAIN` or `sasl.kerberos.service.name=kafka` are not secrets, and
 * scrubbing "kafka" from a trace would break `org.apache.kafka…` and every pattern that matches it.
 */
export const SECRET_KEY = /(password|passwd|pwd|secret|token|credential|jaas\.config|user\.info|(?:^|[._-])key$|api[._-]?key|private[._-]?key|access[._-]?key|sas[._-]?(?:token|key))/i;

// Every quantifier below is bounded, so each rule is linear in the text (a 64 KB `a1.a1.…` trace once took
// seconds per rule, synchronously, where no deadline can interrupt it).
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // PEM private keys pasted into messages.
  [/-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]{0,40}PRIVATE KEY-----|$)/g, REDACTED],
  // user:password@ in any URL (jdbc:postgresql://u:p@host, https://u:p@host); up to the last @, since
  // passwords contain @ too.
  [/(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/@]{0,256}):[^\s/]{0,256}@/gi, `$1:${REDACTED}@`],
  // Oracle thin URLs carry user/password@host.
  [/(\bjdbc:oracle:[a-z]{1,20}:[^\s/:@]{1,256})\/[^\s@]{1,256}@/gi, `$1/${REDACTED}@`],
  // Authorization headers and bearer tokens, whatever the scheme.
  [/\b((?:proxy-)?authorization["']?[ \t]{0,8}[:=][ \t]{0,8}["']?)(?:(basic|bearer|digest|negotiate)[ \t]{1,8})?[^\s"',;]+/gi, `$1$2 ${REDACTED}`],
  // The whole word after it: a token cut at its `=` padding left `Bearer password=…`'s value behind.
  [/\b(bearer)[ \t]{1,8}[^\s"',;]+/gi, `$1 ${REDACTED}`],
  // key=value and "key": "value" pairs whose key names a secret (password=, api_key:, sasl.jaas.config=,
  // token=, AccountKey= and sig= of storage connection strings and SAS URLs...).
  [
    // A quoted value may end at a line break or the end: where a cut fell inside it.
    /\b([\w.-]{0,64}(?:password|passwd|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|jaas\.config|accountkey|sharedaccesskey)|(?:[\w-]{1,64}[._])?credentials?|key|sig)(["']?[ \t]{0,8}[=:][ \t]{0,8})("[^"\n]{0,4096}(?:"|(?=\n)|$)|'[^'\n]{0,4096}(?:'|(?=\n)|$)|[^\s"',;&)}\]]+)/gi,
    `$1$2${REDACTED}`,
  ],
];

/**
 * Replaces credentials in free text: known secret values first, then every pattern above. Linear in the
 * text; callers cut long text to its budget first (`clip`, `truncateTrace`) and never cut after a secret
 * could have been split by the cut.
 */
export function redact(text: string, knownSecrets: readonly string[] = []): string {
  return applyRules(scrubKnown(text, knownSecrets));
}

/** Known secret values, replaced verbatim — before any cut, which could leave half of one (a passphrase has spaces). */
function scrubKnown(text: string, knownSecrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...knownSecrets].filter(isDistinctive).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return out;
}

function applyRules(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Text from outside (an error body, an SDK message, a trace line) made safe to show in one bounded line:
 * cut to a generous budget at a word boundary (so no secret is split and half left unrecognised), redacted,
 * then cut to `max` characters. Redact-then-cut: a `user:pass@` across the final cut is already gone.
 */
export function clip(text: string, max: number, knownSecrets: readonly string[] = []): string {
  return oneLine(applyRules(headAtBoundary(scrubKnown(text, knownSecrets), max * 4 + 256)), max);
}

/** At most `maxChars` of `text`; when cut, the last partial word goes too (it could be half a secret). */
function headAtBoundary(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const head = text.slice(0, maxChars);
  const boundary = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\n'), head.lastIndexOf('\t'));
  return `${boundary > 0 ? head.slice(0, boundary) : ''} …`;
}

/**
 * Values of secret-looking keys that are worth scrubbing verbatim from traces. Short values, words, numbers
 * and Java names are left out: "kafka", "PLAIN" or "org.apache.kafka.common.security.plain.PlainLoginModule"
 * are in every trace, and replacing them would destroy the trace, not protect anything (the patterns above
 * still catch `password=…` wherever it appears).
 */
export function secretValues(config: Readonly<Record<string, unknown>>): string[] {
  return secretEntries(config).map(([, v]) => v);
}

/** The config entries whose values `secretValues` takes. */
export function secretEntries(config: Readonly<Record<string, unknown>>): Array<[string, string]> {
  return Object.entries(config).filter((e): e is [string, string] => typeof e[1] === 'string' && SECRET_KEY.test(e[0]) && !e[1].startsWith('${') && isDistinctive(e[1]));
}

/** Long enough and irregular enough that finding it in a trace means it is the secret, not a word. */
function isDistinctive(value: string): boolean {
  if (value.length < 6) return false;
  if (/^[A-Za-z]+$/.test(value) && value.length < 16) return false; // a word: kafka, GSSAPI, password
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(value)) return false; // an enum: USER_INFO, SASL_SSL
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$/.test(value)) return false; // a Java package or class name
  if (/^(true|false|none|null|[-+]?\d+(\.\d+)?)$/i.test(value)) return false;
  if (/^[a-z]+(?:[_-][a-z]+)+$/.test(value)) return false; // a lower-case identifier: customer_id, order-id
  if (/^[a-z][a-z0-9+.-]*:\/\/[^@\s]*$/i.test(value)) return false; // a URL without user:pass@ (a token endpoint)
  if (/^(\/|[A-Za-z]:\\)[^\s]*$/.test(value)) return false; // a file path (gcs.credentials.path)
  return true;
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
 * A trace as shipped: cut to `maxBytes` first (so redaction stays cheap on a 1 MB trace), every cut at a
 * word boundary (so no secret is split and left half-recognised), then redacted.
 */
export function safeTrace(trace: string, maxBytes: number, knownSecrets: readonly string[] = []): string {
  const redacted = applyRules(truncateTrace(scrubKnown(trace, knownSecrets), maxBytes));
  // `***` can be longer than what it replaced; what is cut now is already clean.
  return utf8Length(redacted) <= maxBytes ? redacted : headBytes(redacted, maxBytes);
}

/** Like headBytes, but a cut drops the last partial word too: it could be the first half of a secret. */
function headWords(text: string, maxBytes: number): string {
  const head = headBytes(text, maxBytes);
  if (head.length === text.length || /\s$/.test(head) || /^\s/.test(text.slice(head.length))) return head;
  const boundary = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\n'), head.lastIndexOf('\t'));
  return boundary > 0 ? head.slice(0, boundary + 1) : '';
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
  const cause = causeStart > 0 ? headWords(trace.slice(causeStart), Math.floor(budget / 2)) : '';
  const before = causeStart > 0 ? trace.slice(0, causeStart) : trace;
  const causes = before
    .split('\n')
    .filter((line) => line.trimStart().startsWith('Caused by:'))
    .map((line) => `${headWords(line, 300)}\n`)
    .join('');
  const middle = headWords(causes, Math.floor((budget - utf8Length(cause)) / 2));
  // A headline cut short gets its line break back in `rest`, one byte more than `middle`: without room for
  // it the final cut took the last word of the root cause.
  const head = headWords(before, budget - utf8Length(cause) - utf8Length(middle) - 1);
  // Causes already inside the head need not be repeated.
  const rest = middle
    .split('\n')
    .filter((line) => line && !head.includes(line))
    .map((line) => `${line}\n`)
    .join('');
  const omitted = total - utf8Length(head) - utf8Length(cause);
  return headWords(`${head}${markerFor(omitted)}${rest}${cause}`, maxBytes);
}
