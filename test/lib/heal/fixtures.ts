import { DEFAULT_NON_TRANSIENT_PATTERNS } from '../../../src/lib/config';
import type { HealPolicy } from '../../../src/lib/heal/policy';

/** The fixed clock and the policy the healing tests decide with. */
export const NOW = new Date('2026-11-22T08:00:00.000Z');
export const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
export const iso = (minutes: number) => at(minutes).toISOString();

export const POLICY: HealPolicy = {
  maxAttempts: 0,
  backoffCapMinutes: 60,
  unassignedMinutes: 10,
  nonTransientPatterns: DEFAULT_NON_TRANSIENT_PATTERNS.map((source) => ({ source, regex: new RegExp(source) })),
};

/** A failure a restart can fix, with its root cause last. */
export const TRANSIENT = 'org.apache.kafka.connect.errors.ConnectException: Exiting\nCaused by: java.sql.SQLException: Connection refused';
