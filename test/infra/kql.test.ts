import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/lib/logs/schema';
import { INFRA } from './bicep';
import { errors, workspace } from './kql';

const QUERIES = join(INFRA, 'queries');
const globals = workspace(TABLES);

/**
 * Each query as Azure runs it: alert rules with the `let` lines alerts.bicep prepends (the window; the cluster and
 * connector of a per-connector rule), workbook queries with the cluster picker's value, the DCR transform against
 * its input stream.
 */
function prepared(file: string, text: string): string {
  if (file === 'alert-connector-not-running.kql') return `let window = 15m;\nlet cluster = "east";\nlet connector = "jdbc-sink \\"orders\\"";\n${text}`;
  if (file.startsWith('alert-')) return `let window = 10m;\n${text}`;
  if (file.startsWith('workbook-')) return text.replaceAll('{Cluster}', "'east','west'");
  return text;
}

const files = readdirSync(QUERIES).filter((f) => f.endsWith('.kql')).sort();
const readme = readFileSync(join(INFRA, '..', 'README.md'), 'utf8');
const readmeQueries = [...readme.matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('KQL (analyzed by @kusto/language-service-next against tables built from infra/tables.json)', () => {
  it('finds the queries: every alert, the workbook, the DCR transform, and the README', () => {
    expect(files).toEqual(expect.arrayContaining(['alert-connector-not-running.kql', 'alert-unhealthy-connectors.kql', 'alert-heartbeat.kql', 'alert-cluster-unreachable.kql', 'alert-healer-gave-up.kql', 'alert-flapping.kql', 'alert-worker-unhealthy.kql', 'alert-sick-worker.kql', 'alert-unassigned.kql', 'dcr-transform.kql']));
    expect(files.filter((f) => f.startsWith('workbook-')).length).toBeGreaterThanOrEqual(4);
    expect(readmeQueries.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files.filter((f) => f !== 'dcr-transform.kql'))('%s has no error', (file) => {
    expect(errors(prepared(file, readFileSync(join(QUERIES, file), 'utf8')), globals)).toEqual([]);
  });

  it.each(TABLES.map((t) => [t.stream, t] as const))('the DCR transform of %s runs on its stream and outputs every column', (_stream, table) => {
    const transform = readFileSync(join(QUERIES, 'dcr-transform.kql'), 'utf8');
    const source = workspace([{ name: 'source', columns: table.columns }]);
    expect(errors(transform, source)).toEqual([]);
    // Every column, TimeGenerated first, must come out of the transformation.
    expect(table.columns[0]?.name).toBe('TimeGenerated');
    expect(errors(`${transform.trim()}\n| project ${table.columns.map((c) => c.name).join(', ')}`, source)).toEqual([]);
  });

  it.each(readmeQueries.map((q, i) => [i + 1, q] as const))('README query %i has no error', (_i, query) => {
    expect(errors(query, globals)).toEqual([]);
  });

  it.each(files.filter((f) => f.startsWith('alert-')))('%s needs the window alerts.bicep prepends (no window of its own)', (file) => {
    const text = readFileSync(join(QUERIES, file), 'utf8');
    expect(text).toContain('ago(window)');
    expect(errors(text.replace(/let \w+ = [^;]*;/g, ''), globals).join('\n')).toMatch(/window/);
  });

  it('the split rule returns only the connectors to alert on, one row each, with the columns it splits by', () => {
    const query = prepared('alert-unhealthy-connectors.kql', readFileSync(join(QUERIES, 'alert-unhealthy-connectors.kql'), 'utf8'));
    // Never healthy in the window, and seen by two ticks at least: a new connector's first tick does not page.
    expect(query).toMatch(/Ticks = dcount\(TimeGenerated\)[^\n]* by Cluster, ConnectorName\n\| where Healthy == 0 and Ticks >= 2\n/);
    expect(errors(`${query.trim()}\n| project Cluster, ConnectorName`, globals)).toEqual([]);
  });

  it('the analyzer does catch a wrong column, a wrong table and bad syntax', () => {
    expect(errors('KafkaConnect_CL | where Outcome == "restarted"', globals)[0]).toMatch(/^KS142 /);
    expect(errors('KafkaConnect_CLL | take 1', globals).length).toBeGreaterThan(0);
    expect(errors('KafkaConnect_CL | where', globals).length).toBeGreaterThan(0);
    expect(errors('KafkaConnect_CL | where TaskId > "x"', globals)[0]).toMatch(/^KS106 /);
  });
});
