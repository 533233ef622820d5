import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node, Parser } from 'web-tree-sitter';
import { INFRA, bicepFiles, bicepParser, declarations, decorators, identifiers, property, read } from './bicep';
import { evaluator } from './evaluate';

/** Structural facts of the Bicep, read from the parse tree: the conventions and the review's fixes that no value shows. */
let parser: Parser;
beforeAll(async () => {
  parser = await bicepParser();
});

const bicep = bicepFiles().filter((f) => f.endsWith('.bicep'));
const tree = (file: string): Node => parser.parse(read(file))!.rootNode;
const resources = (file: string) => [...declarations(tree(file), 'resource').entries()];
const typeOf = (resource: Node) => resource.namedChildren.find((c) => c?.type === 'string')!.text.slice(1, -1);

describe('conventions', () => {
  it.each(bicep)('%s: every parameter has a @description', (file) => {
    const undescribed = [...declarations(tree(file), 'parameter').entries()].filter(([, p]) => !decorators(p).includes('description')).map(([n]) => n);
    expect(undescribed).toEqual([]);
  });

  it('log search alert rules use the GA API version 2023-12-01', () => {
    const rules = bicep.flatMap((f) => resources(f).map(([, r]) => typeOf(r))).filter((t) => t.startsWith('Microsoft.Insights/scheduledQueryRules@'));
    expect(rules.length).toBeGreaterThanOrEqual(2);
    for (const t of rules) expect(t).toBe('Microsoft.Insights/scheduledQueryRules@2023-12-01');
  });

  it('nested deployment names are unique per deployment: two deployments in one resource group never collide', () => {
    const main = tree('main.bicep');
    expect(declarations(main, 'variable').get('run')!.text).toMatch(/uniqueString\(deployment\(\)\.name, /);
    for (const file of bicep) {
      const modules = [...declarations(tree(file), 'module').entries()];
      for (const [name, m] of modules) {
        const value = property(m, 'name')!.text;
        expect(value, `${file} ${name}`).toMatch(file === 'main.bicep' ? /^'\$\{run\}-/ : /^'\$\{deployment\(\)\.name\}-/);
      }
    }
  });

  it('child resources name their parent with parent:, never with an a/b name', () => {
    for (const file of bicep) {
      for (const [name, r] of resources(file)) {
        const [type] = typeOf(r).split('@');
        const depth = type!.split('/').length - 1;
        if (depth < 2) continue;
        // Extension resources (role assignments, diagnostic settings) hang on a scope: instead.
        if (/roleAssignments|diagnosticSettings/.test(type!)) continue;
        expect(property(r, 'parent'), `${file} ${name} (${type})`).toBeDefined();
        // The literal parts of the name: a '/' there would be the old a/b form.
        const literal = property(r, 'name')!.children.filter((c) => c?.type === 'string_content').map((c) => c!.text);
        expect(literal.join(''), `${file} ${name}`).not.toContain('/');
      }
    }
  });

  it('connectors is typed, and the network is one of two typed choices', () => {
    const main = tree('main.bicep');
    expect(declarations(main, 'parameter').get('connectors')!.text).toBe('param connectors connector[] = []');
    expect(declarations(main, 'type').get('connector')!.text).toMatch(/cluster: string[\s\S]*name: string/);
  });
});

describe('secrets', () => {
  it('connectClusters, clusterSecrets, the password and the client key are @secure()', () => {
    const params = declarations(tree('main.bicep'), 'parameter');
    for (const name of ['connectClusters', 'clusterSecrets', 'connectPassword', 'connectClientKey']) expect(decorators(params.get(name)!), name).toContain('secure');
  });

  it.each(bicep)('%s: no output is named like a secret or derived from a @secure() parameter', (file) => {
    const root = tree(file);
    const secure = [...declarations(root, 'parameter').entries()].filter(([, p]) => decorators(p).includes('secure')).map(([n]) => n);
    // A var computed from a secure parameter is a secret too.
    const vars = declarations(root, 'variable');
    const tainted = new Set(secure);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, v] of vars) {
        if (tainted.has(name) || !identifiers(v).slice(1).some((i) => tainted.has(i))) continue;
        tainted.add(name);
        changed = true;
      }
    }
    for (const [name, output] of declarations(root, 'output')) {
      expect(name, file).not.toMatch(/password|secret/i);
      const used = identifiers(output).slice(1).filter((i) => tainted.has(i));
      expect(used, `${file} output ${name}`).toEqual([]);
    }
  });

  it('the app settings are a @secure() module parameter: KAFKA_CONNECT_CLUSTERS does not show in the deployment history', () => {
    expect(decorators(declarations(tree('modules/function-app.bicep'), 'parameter').get('monitorSettings')!)).toContain('secure');
  });
});

describe('deploys on the first try and on the second', () => {
  it('the RBAC vault carries accessPolicies: [] and a createMode the deployer chooses (recover after a deleted resource group)', () => {
    const vault = declarations(tree('modules/key-vault.bicep'), 'resource').get('newVault')!;
    expect(property(vault, 'properties.accessPolicies')!.text).toBe('[]');
    expect(property(vault, 'properties.createMode')!.text).toBe('createMode');
    expect(property(vault, 'properties.enableRbacAuthorization')!.text).toBe('true');
    expect(read('main.bicep')).toMatch(/@allowed\(\['default', 'recover'\]\)\nparam keyVaultCreateMode string = 'default'/);
    expect(read('main.bicep')).toMatch(/createMode: keyVaultCreateMode/);
  });

  it('the created vault sends its audit events to the workspace', () => {
    const audit = declarations(tree('modules/key-vault.bicep'), 'resource').get('audit')!;
    expect(typeOf(audit)).toMatch(/^Microsoft\.Insights\/diagnosticSettings@/);
    expect(property(audit, 'properties.logs')!.text).toContain("categoryGroup: 'audit'");
    expect(property(audit, 'properties.workspaceId')!.text).toBe('workspaceResourceId');
  });

  it('basic-auth publishing is off for scm and ftp (Core Tools publishes with an Entra token)', () => {
    const app = tree('modules/function-app.bicep');
    const policies = declarations(app, 'resource').get('basicAuth')!;
    expect(typeOf(policies)).toBe('Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01');
    expect(policies.text).toMatch(/for kind in \['scm', 'ftp'\]/);
    expect(property(policies, 'properties.allow')!.text).toBe('false');
  });

  it('storage and the created vault go private together: public network access off exactly when the endpoints exist', () => {
    for (const [file, resource] of [
      ['modules/storage.bicep', 'account'],
      ['modules/key-vault.bicep', 'newVault'],
    ] as const) {
      const root = tree(file);
      const r = declarations(root, 'resource').get(resource)!;
      const e = (privateEndpointSubnetId: string) =>
        evaluator(root, { privateEndpointSubnetId, name: 'n', principalId: 'p', workspaceResourceId: 'w' }).at(property(r, 'properties.publicNetworkAccess')!);
      expect(e(''), file).toBe('Enabled');
      expect(e('/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/pe'), file).toBe('Disabled');
    }
  });

  it('alert rules live in the workspace\'s region (an existing workspace may be elsewhere), never the resource group\'s', () => {
    const alerts = declarations(tree('main.bicep'), 'module').get('alerts')!;
    expect(property(alerts, 'params.location')!.text).toBe('workspace.outputs.location');
    // No default: a caller cannot fall back to resourceGroup().location by forgetting it.
    expect(declarations(tree('modules/alerts.bicep'), 'parameter').get('location')!.text).toBe('param location string');
    const rules = resources('modules/alerts.bicep').filter(([, r]) => typeOf(r).startsWith('Microsoft.Insights/scheduledQueryRules'));
    expect(rules.length).toBe(2);
    for (const [name, r] of rules) expect(property(r, 'location')!.text, name).toBe('location');
  });

  it('every alert rule is skipped by the template validation only, not by the deployment: skipQueryValidation and autoMitigate on all', () => {
    for (const [name, r] of resources('modules/alerts.bicep').filter(([, r]) => typeOf(r).startsWith('Microsoft.Insights/scheduledQueryRules'))) {
      expect(property(r, 'properties.skipQueryValidation')!.text, name).toBe('true');
      expect(property(r, 'properties.autoMitigate')!.text, name).toBe('true');
      expect(property(r, 'properties.evaluationFrequency')!.text, name).toBe('frequency');
    }
  });
});

describe('the README deploy steps', () => {
  const readme = readFileSync(join(INFRA, '..', 'README.md'), 'utf8');

  it('publish with --javascript (a fresh clone has no local.settings.json to name the worker runtime), everywhere it is written', () => {
    expect(readme.includes('func azure functionapp publish <functionAppName> --javascript'), 'README documents the publish command with --javascript').toBe(true);
    const texts = [readme, ...bicepFiles().map(read)];
    const commands = texts.flatMap((t) => [...t.matchAll(/func azure functionapp publish [^\n`']*/g)].map((m) => m[0]));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    for (const command of commands) expect(command).toMatch(/ --javascript\b/);
  });

  it('say who may deploy: role assignments need Owner or Role Based Access Control Administrator', () => {
    expect(/Owner or Role Based Access Control Administrator/.test(readme), 'README names the roles the deployer needs').toBe(true);
  });
});
