import { createRequire } from 'node:module';
import type { TableSchema } from '../../src/lib/logs/schema';

interface Diagnostic {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
}

// The Kusto language service is a bridge.NET script that defines globals; load it once.
const load = createRequire(__filename);
load('@kusto/language-service-next/bridge.js');
load('@kusto/language-service-next/Kusto.Language.Bridge.js');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const K = (globalThis as any).Kusto.Language;

const KQL_TYPES: Record<string, string> = { boolean: 'bool' };

/** A Log Analytics workspace holding the given tables (as the DCR and the tables API create them). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function workspace(tables: ReadonlyArray<{ name: string; columns: TableSchema['columns'] }>): any {
  const symbols = tables.map((t) =>
    K.Symbols.TableSymbol.From(`(${t.columns.map((c) => `${c.name}: ${KQL_TYPES[c.type] ?? c.type}`).join(', ')})`).WithName(t.name),
  );
  return K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.$ctor1('Workspace', symbols));
}

/** Parses and analyzes a query: syntax and semantics (unknown tables or columns, wrong types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function analyze(query: string, globals: any): Diagnostic[] {
  const found = K.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
  const out: Diagnostic[] = [];
  for (let i = 0; i < found.Count; i++) {
    const d = found.getItem(i);
    out.push({ severity: String(d.Severity), code: String(d.Code), message: String(d.Message) });
  }
  return out;
}

export function errors(query: string, globals: unknown): string[] {
  return analyze(query, globals)
    .filter((d) => d.severity === 'Error')
    .map((d) => `${d.code} ${d.message}`);
}
