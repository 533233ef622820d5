/** Base of every error the monitor raises on purpose; its message is one line, safe to show and log. */
export class MonitorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The settings are missing or malformed. Lists every problem at once; never holds a secret's value. */
export class ConfigError extends MonitorError {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
  }
}

/** How a call to the Kafka Connect REST API failed, in the words an operator searches for (a cluster row's State). */
export const CONNECT_FAILURES = [
  'UNREACHABLE',
  'DNS_FAILURE',
  'TLS_ERROR',
  'TIMEOUT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'SERVER_ERROR',
  'BAD_RESPONSE',
  'ABORTED',
] as const;

export type ConnectFailure = (typeof CONNECT_FAILURES)[number];

export class ConnectError extends MonitorError {
  constructor(
    readonly cluster: string,
    readonly kind: ConnectFailure,
    readonly method: string,
    readonly path: string,
    readonly detail: string,
    readonly status?: number,
  ) {
    super(`${cluster}: ${method} ${path} → ${status ? `${status} ` : ''}${kind}: ${detail}`);
  }
}

/** Turns whatever was thrown into an Error (a string, an object, undefined...). */
export function ensureError(err: unknown): Error {
  if (err instanceof Error) return err;
  let text: string;
  try {
    text = typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    text = String(err);
  }
  return new Error(`Non-error thrown: ${text}`);
}

/** Whitespace that `oneLine` would change: any but a single space, or a space at either end. */
const NOT_ONE_LINE = /[^\S ]| {2}|^ | $/;

/** First line of a message, whitespace collapsed and bounded: what an operator sees in a row or a log line. */
export function oneLine(text: string, max = 300): string {
  // Most values (a state, a worker id) are one line already: a test allocates nothing, a replace does.
  if (text.length <= max && !NOT_ONE_LINE.test(text)) return text;
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
