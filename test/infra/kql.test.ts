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
  if (file.startsWith('alert-')) return `${ruleOf(file).lets.map((l) => LETS[l]).join('')}${text}`;
  if (file.startsWith('workbook-')) return text.replaceAll('{Cluster}', "'east','west'");
  return text;
}

/** What each `let` variable of alerts.bicep turns into (its value for one schedule; the numbers do not matter here). */
const LETS: Record<string, string> = { healthLet: 'let window = 17m;\n', eventLet: 'let window = 10m;\n', decisionLet: 'let decisions = 132m;\n' };
const alertsBicep = readFileSync(join(INFRA, 'modules', 'alerts.bicep'), 'utf8');

/** The rule of alerts.bicep that runs this query file: the `let` lines it prepends and the dimensions it splits by. */
function ruleOf(file: string): { lets: string[]; dimensions: string[] } {
  const at = alertsBicep.indexOf(`loadTextContent('../queries/${file}')`);
  if (at < 0) throw new Error(`${file}: no rule of alerts.bicep loads it`);
  const line = alertsBicep.slice(alertsBicep.lastIndexOf('\n', at), at);
  const lets = [...line.matchAll(/\$\{(\w+Let)\}/g)].map((m) => m[1]!);
  const dimensions = /\n\s+dimensions: \[([^\]]*)\]/.exec(alertsBicep.slice(at))![1]!.split(',').map((d) => d.trim().replace(/'/g, '')).filter(Boolean);
  return { lets, dimensions };
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

  it.each(files.filter((f) => f.startsWith('alert-') && f !== 'alert-connector-not-running.kql'))('%s returns the columns its rule splits by', (file) => {
    const { lets, dimensions } = ruleOf(file);
    expect(lets.length, file).toBeGreaterThan(0);
    for (const l of lets) expect(Object.keys(LETS), file).toContain(l);
    const query = prepared(file, readFileSync(join(QUERIES, file), 'utf8'));
    if (dimensions.length > 0) expect(errors(`${query.trim()}\n| project ${dimensions.join(', ')}`, globals), file).toEqual([]);
    // A column it does not return is caught: the check above can fail.
    expect(errors(`${query.trim()}\n| project NoSuchColumn`, globals).length, file).toBeGreaterThan(0);
  });

  it('the rules on a healing decision join the state of every tick with the decision looked up over two hours', () => {
    for (const file of ['alert-healer-gave-up.kql', 'alert-unassigned.kql', 'alert-flapping.kql']) {
      const text = readFileSync(join(QUERIES, file), 'utf8');
      expect(ruleOf(file).lets, file).toEqual(['eventLet', 'decisionLet']);
      expect(text, file).toMatch(/KafkaConnectHealing_CL\n\s+\| where TimeGenerated > ago\(decisions\)/);
      expect(text, file).toMatch(/KafkaConnect_CL\n\| where TimeGenerated > ago\(window\) and RecordType in \("connector", "task"\)/);
      expect(text, file).toContain('| join kind=inner');
    }
  });

  it('the sick-worker rule pages once two ticks saw the worker sick, over the window that always holds two ticks', () => {
    expect(ruleOf('alert-sick-worker.kql').lets).toEqual(['healthLet']);
    const query = readFileSync(join(QUERIES, 'alert-sick-worker.kql'), 'utf8');
    expect(query).toMatch(/Ticks = dcount\(TimeGenerated\) by Cluster, WorkerId\n\| where Ticks >= 2\n/);
    expect(alertsBicep).toMatch(/window: healthWindow\n\s+query: '\$\{healthLet\}\$\{loadTextContent\('..\/queries\/alert-sick-worker.kql'\)\}'/);
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
