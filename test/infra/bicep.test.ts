import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Parser } from 'web-tree-sitter';
import { INFRA, asBicep, bicepFiles, bicepParser, read, stringLiterals, syntaxProblems } from './bicep';

let parser: Parser;
beforeAll(async () => {
  parser = await bicepParser();
});

const parse = (file: string) => parser.parse(asBicep(file, read(file)))!.rootNode;

describe('the Bicep files (parsed with tree-sitter-bicep)', () => {
  const files = bicepFiles();

  it('are all there: main, its parameters and every module it uses', () => {
    expect(files).toEqual(expect.arrayContaining(['main.bicep', 'main.bicepparam', 'modules/function-app.bicep', 'modules/data-collection-rule.bicep']));
    expect(files.length).toBeGreaterThanOrEqual(11);
  });

  it.each(files)('%s parses with no error node', (file) => {
    expect(syntaxProblems(parse(file))).toEqual([]);
  });

  it('the parser does find errors (a broken copy of main.bicep fails)', () => {
    const broken = read('main.bicep').replace("resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {", "resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {{");
    expect(syntaxProblems(parser.parse(broken)!.rootNode).length).toBeGreaterThan(0);
  });

  it.each(files)('%s refers only to files that exist', (file) => {
    const text = read(file);
    const refs = [...text.matchAll(/(?:loadJsonContent|loadTextContent)\('([^']+)'\)|^module \w+ '([^']+)'|^using '([^']+)'/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
    for (const ref of refs) expect(existsSync(join(INFRA, dirname(file), ref)), `${file} → ${ref}`).toBe(true);
  });

  it('choose a module scope inside resourceGroup(), never with a ternary of scopes (Bicep cannot resolve that: BCP420)', () => {
    for (const file of files) expect(read(file), file).not.toMatch(/^\s*scope: [^(\n]*\?/m);
  });

  it('hold no inline KQL: every query is an infra/queries/*.kql file the KQL tests analyze', () => {
    for (const file of files) {
      const inline = stringLiterals(parse(file)).filter((s) => /\|\s*(where|summarize|project|extend|join|distinct)\b/.test(s));
      expect(inline, file).toEqual([]);
    }
  });
});

describe('main.bicep', () => {
  const main = read('main.bicep');
  const params = [...main.matchAll(/^param (\w+) /gm)].map((m) => m[1]!);

  it('main.bicepparam sets only parameters that main.bicep declares', () => {
    const set = [...read('main.bicepparam').matchAll(/^param (\w+) =/gm)].map((m) => m[1]!);
    expect(set.length).toBeGreaterThan(3);
    for (const p of set) expect(params, p).toContain(p);
  });

  it('wires every setting of the app (local.settings.json.example) into the Function App', () => {
    const example = JSON.parse(readFileSync(join(INFRA, '..', 'local.settings.json.example'), 'utf8')) as { Values: Record<string, string> };
    const wired = read('main.bicep') + read('modules/function-app.bicep');
    // The connection string is the local form of the identity-based AzureWebJobsStorage__* settings; Flex sets the worker
    // runtime itself; LOGS_NDJSON_FILE is for `func start` only (refused in Azure).
    const local = new Set(['AzureWebJobsStorage', 'FUNCTIONS_WORKER_RUNTIME', 'LOGS_NDJSON_FILE']);
    for (const name of Object.keys(example.Values).filter((n) => !local.has(n))) {
      expect(wired, name).toMatch(new RegExp(`^\\s+${name}: `, 'm'));
    }
    expect(wired).toMatch(/AzureWebJobsStorage__accountName: storageAccountName/);
    expect(wired).toMatch(/AzureWebJobsStorage__credential: 'managedidentity'/);
  });

  it('keeps secrets out of app settings: the Connect password, the client key and every cluster secret are Key Vault references', () => {
    expect(main).toMatch(/KAFKA_CONNECT_PASSWORD: references\.\?KAFKA_CONNECT_PASSWORD \?\? ''/);
    expect(main).toMatch(/KAFKA_CONNECT_CLIENT_KEY: references\.\?KAFKA_CONNECT_CLIENT_KEY \?\? ''/);
    expect(main).toMatch(/\}, references\)/);
    for (const secret of ['connectPassword', 'connectClientKey', 'connectClusters', 'clusterSecrets']) expect(main).toMatch(new RegExp(`@secure\\(\\)\\nparam ${secret} `));
    expect(read('modules/key-vault.bicep')).toContain("'@Microsoft.KeyVault(VaultName=${name};SecretName=${n})'");
  });

  it('grants exactly the least-privilege roles, with guid() names: no queue role (no queue trigger, no Durable Functions)', () => {
    const all = bicepFiles().map(read).join('\n');
    const roles = {
      'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
      'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
    };
    for (const id of Object.values(roles)) expect(all).toContain(id);
    // Every GUID in the files is a role, but the example subscription id of main.bicepparam.
    const granted = [...all.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g)].map((m) => m[0]).filter((g) => !/^[0-]+$/.test(g));
    expect(new Set(granted)).toEqual(new Set(Object.values(roles)));
    expect(all).not.toContain('974c5e8b-45b9-4653-ba55-5f855dd0fb88'); // Storage Queue Data Contributor
    for (const block of all.split("'Microsoft.Authorization/roleAssignments@").slice(1)) expect(block).toMatch(/^[^}]*name: guid\(/);
    expect(all).not.toContain('newGuid(');
  });

  it('runs on Flex Consumption with Node 22 by default, a user-assigned identity and VNet integration', () => {
    const app = read('modules/function-app.bicep');
    expect(app).toMatch(/sku: \{ name: 'FC1', tier: 'FlexConsumption' \}/);
    expect(app).toMatch(/runtime: \{ name: 'node', version: nodeVersion \}/);
    expect(app).toMatch(/param nodeVersion string = '22'/);
    expect(app).toMatch(/virtualNetworkSubnetId: subnetId/);
    expect(app).toMatch(/type: 'UserAssigned'/);
    expect(read('modules/network.bicep')).toMatch(/serviceName: 'Microsoft.App\/environments'/);
    expect(main).toMatch(/MONITOR_SCHEDULE: monitorSchedule/);
    expect(main).toMatch(/param monitorIntervalMinutes int = 5\n/);
  });

  it('builds tables, stream declarations and data flows from infra/tables.json, not typed twice', () => {
    expect(read('modules/workspace.bicep')).toMatch(/loadJsonContent\('\.\.\/tables\.json'\)/);
    expect(read('modules/data-collection-rule.bicep')).toMatch(/loadJsonContent\('\.\.\/tables\.json'\)/);
    // A DCR must live in its workspace's region, which an existing workspace decides.
    expect(main).toMatch(/location: workspace\.outputs\.location/);
    const schema = JSON.parse(read('tables.json')) as { tables: Array<{ columns: Array<{ name: string }> }> };
    for (const file of ['modules/workspace.bicep', 'modules/data-collection-rule.bicep']) {
      for (const column of schema.tables.flatMap((t) => t.columns.map((c) => c.name))) {
        expect(read(file), `${file} types column ${column}`).not.toMatch(new RegExp(`name: '${column}'`));
      }
    }
  });
});
