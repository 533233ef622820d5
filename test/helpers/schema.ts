import { expect } from 'vitest';
import { utf8Length } from '../../src/lib/redact';
import { MAX_VALUE_BYTES, STATUS_TABLE } from '../../src/lib/logs/schema';

/** A row fits the table when every key is a column and every value has the column's type. */
export function expectRowsFitSchema(rows: readonly object[], columns = STATUS_TABLE.columns): void {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      const type = types.get(key);
      expect(type, `column ${key}`).toBeDefined();
      if (type === 'string') expect(typeof value).toBe('string');
      if (type === 'int') expect(Number.isInteger(value) && Math.abs(value as number) < 2 ** 31).toBe(true);
      if (type === 'datetime') expect(new Date(value as string).toISOString()).toBe(value);
      if (type === 'boolean') expect(typeof value).toBe('boolean');
      if (typeof value === 'string') expect(utf8Length(value)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    }
  }
}
