import tables from '../../../infra/tables.json';

/** KQL / DCR stream column types used by the schema. */
export type ColumnType = 'datetime' | 'string' | 'int' | 'long' | 'real' | 'boolean' | 'dynamic';

export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  readonly description: string;
}

export interface TableSchema {
  readonly name: string;
  readonly stream: string;
  readonly description: string;
  readonly columns: readonly ColumnSchema[];
}

/** Every table the monitor writes, as declared in infra/tables.json (the Bicep reads the same file). */
export const TABLES: readonly TableSchema[] = tables.tables as TableSchema[];

export function table(name: string): TableSchema {
  const found = TABLES.find((t) => t.name === name);
  if (!found) throw new Error(`infra/tables.json declares no table ${name}`);
  return found;
}

export const STATUS_TABLE = table('KafkaConnect_CL');
export const HEALING_TABLE = table('KafkaConnectHealing_CL');

/** Log Analytics truncates longer values; we cut them ourselves so the cut is visible and UTF-8 safe. */
export const MAX_VALUE_BYTES = 64 * 1024;
