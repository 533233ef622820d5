/** An Apache Kafka version as major.minor, which is all feature gates need. */
export interface KafkaVersion {
  readonly major: number;
  readonly minor: number;
}

/**
 * Reads the `version` of `GET /`. Confluent Platform reports its own numbering with a -ccs/-ce suffix
 * (7.6.0-ccs is Apache Kafka 3.6); map it back so feature gates compare like with like.
 */
export function parseKafkaVersion(version: string | undefined): KafkaVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?(.*)$/.exec(version?.trim() ?? '');
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (!/^-(ccs|ce)\b/i.test(m[3] ?? '')) return { major, minor };
  if (major === 5) return { major: 2, minor };
  if (major === 6) return { major: 2, minor: minor + 6 };
  if (major >= 7) return { major: major - 4, minor };
  return { major, minor };
}

export function atLeast(version: KafkaVersion | undefined, major: number, minor: number): boolean {
  if (!version) return true; // unknown: try the modern API; the response shape tells the rest
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** `?expand=status&expand=info` (KIP-465), Kafka 2.3. */
export const supportsExpand = (v: KafkaVersion | undefined) => atLeast(v, 2, 3);
/** `GET /health` (KIP-1017), Kafka 3.9: the worker's own view of whether it can serve requests. */
export const supportsHealth = (v: KafkaVersion | undefined) => v !== undefined && atLeast(v, 3, 9);
/** `restart?includeTasks=true&onlyFailed=true` (KIP-745), Kafka 3.0. */
export const supportsRestartPlan = (v: KafkaVersion | undefined) => atLeast(v, 3, 0);
/**
 * Kafka 4.0 moved Connect to Jetty 12, which refuses `%2F`, `%5C` and `%25` in a path segment (400
 * "Ambiguous URI path separator", "Suspicious Path Character", "Ambiguous URI path encoding") before
 * Connect sees the request: a connector whose name holds `/`, `\` or `%` cannot be restarted over REST.
 */
export const refusesEncodedSeparators = (v: KafkaVersion | undefined) => v !== undefined && atLeast(v, 4, 0);
