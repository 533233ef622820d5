import { beforeAll, describe, expect, it } from 'vitest';
import type { Node, Parser } from 'web-tree-sitter';
import { bicepParser, declarations, property, read } from './bicep';
import { evaluator } from './evaluate';

/** What the parameters turn into, evaluated from the Bicep itself (test/infra/evaluate.ts). */
let parser: Parser;
beforeAll(async () => {
  parser = await bicepParser();
});

const tree = (file: string): Node => parser.parse(read(file))!.rootNode;
const subnet = { kind: 'existingSubnet', subnetId: '/subscriptions/s/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/spoke/subnets/kc' };
const main = (params: Record<string, unknown>) => evaluator(tree('main.bicep'), { network: subnet, ...params });

describe('names from namePrefix (storage accounts take 3-24 lower-case letters and digits; vaults letters, digits and single hyphens)', () => {
  it.each(['kcmon', 'KC-Mon', 'prod_eu_01', 'Team.42', 'a-b-c-d-e-f', 'ABCDEFGHIJK'])('%s makes valid names', (namePrefix) => {
    const e = main({ namePrefix });
    expect(e.value('storageAccountName')).toMatch(/^[a-z0-9]{3,24}$/);
    const vault = e.value('vaultName') as string;
    expect(vault).toMatch(/^[a-z][a-z0-9-]{1,22}[a-z0-9]$/);
    expect(vault).not.toContain('--');
    expect(e.value('functionAppName')).toMatch(/^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$/);
  });

  it('keeps the names of the default prefix as they were (a redeploy must find its resources)', () => {
    const e = main({});
    const suffix = e.value('suffix') as string;
    expect(e.value('storageAccountName')).toBe(`stkcmon${suffix}`.slice(0, 24));
    expect(e.value('vaultName')).toBe(`kv-kcmon-${suffix}`.slice(0, 24));
    expect(e.value('functionAppName')).toBe(`func-kcmon-${suffix}`);
  });

  it('the prefix bounds are declared where a deployer sees them', () => {
    const text = read('main.bicep');
    expect(text).toMatch(/@minLength\(3\)\n@maxLength\(11\)\nparam namePrefix string/);
  });
});

describe('Key Vault references: written whenever a setting needs one, secrets stored only when given', () => {
  const clusters = JSON.stringify([
    { name: 'east', url: 'https://connect-east:8083', username: 'monitor', passwordSetting: 'CONNECT_EAST_PASSWORD' },
    { name: 'west', url: 'https://connect-west:8083', caCertSetting: 'CONNECT_WEST_CA', clientCertSetting: 'WEST_CERT', clientKeySetting: 'WEST_KEY' },
  ]);

  it('a second deployment without the password still points KAFKA_CONNECT_PASSWORD at the stored secret', () => {
    const first = main({ connectUsername: 'kc-monitor', connectPassword: 's3cret' });
    const second = main({ connectUsername: 'kc-monitor' });
    expect(first.value('secretOfSetting')).toEqual({ KAFKA_CONNECT_PASSWORD: 'kafka-connect-password' });
    expect(second.value('secretOfSetting')).toEqual({ KAFKA_CONNECT_PASSWORD: 'kafka-connect-password' });
    expect(first.value('passwordValue')).toEqual({ 'kafka-connect-password': 's3cret' });
    expect(second.value('passwordValue')).toEqual({});
  });

  it('the client key follows the client certificate the same way; nothing configured, no reference', () => {
    expect(main({ connectClientCert: '-----BEGIN CERTIFICATE-----' }).value('secretOfSetting')).toEqual({ KAFKA_CONNECT_CLIENT_KEY: 'kafka-connect-client-key' });
    expect(main({}).value('secretOfSetting')).toEqual({});
  });

  it('every setting KAFKA_CONNECT_CLUSTERS names becomes a reference, with or without clusterSecrets', () => {
    const expected = {
      CONNECT_EAST_PASSWORD: 'setting-connect-east-password',
      CONNECT_WEST_CA: 'setting-connect-west-ca',
      WEST_CERT: 'setting-west-cert',
      WEST_KEY: 'setting-west-key',
    };
    expect(main({ connectClusters: clusters }).value('secretOfSetting')).toEqual(expected);
    const withValues = main({ connectClusters: clusters, clusterSecrets: { CONNECT_EAST_PASSWORD: 'p1', WEST_KEY: 'k1' } });
    expect(withValues.value('secretOfSetting')).toEqual(expected);
    expect(withValues.value('clusterSecretValues')).toEqual({ 'setting-connect-east-password': 'p1', 'setting-west-key': 'k1' });
    // Secret names are the only thing Key Vault allows: letters, digits and hyphens.
    for (const name of Object.values(expected)) expect(name).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
  });

  it('the vault module turns secret names into references and stores only the values it is given', () => {
    const vault = tree('modules/key-vault.bicep');
    const secrets = declarations(vault, 'resource').get('secrets')!;
    expect(secrets.text).toMatch(/for s in items\(secretValues\)/);
    const references = declarations(vault, 'output').get('references')!;
    expect(references.text).toMatch(/toObject\(secretNames, /);
  });
});

describe('private DNS zones: linked only when asked, created only when missing', () => {
  const zone = (name: string) => `/subscriptions/s/resourceGroups/rg-hub/providers/Microsoft.Network/privateDnsZones/${name}`;

  it('links the Connect zones marked link: true, and no other', () => {
    const e = main({ connectDnsZones: [{ id: zone('corp.example'), link: false }, { id: zone('connect.example'), link: true }] });
    expect(e.value('linkedZoneIds')).toEqual([zone('connect.example')]);
    expect(e.value('createdPrivateLinkServices')).toEqual([]);
  });

  it('without private endpoints, privatelink zones are neither linked nor created', () => {
    const e = main({ privateLinkDnsZones: { blob: { id: zone('privatelink.blob.core.windows.net'), link: true } } });
    expect(e.value('linkedZoneIds')).toEqual([]);
    expect(e.value('createdPrivateLinkServices')).toEqual([]);
  });

  it('with private endpoints: hub zones used as given (linked only when asked), the missing ones created here', () => {
    const e = main({
      privateEndpoints: true,
      privateLinkDnsZones: { blob: { id: zone('privatelink.blob.core.windows.net'), link: false }, vault: { id: zone('privatelink.vaultcore.azure.net'), link: true } },
    });
    expect(e.value('linkedZoneIds')).toEqual([zone('privatelink.vaultcore.azure.net')]);
    expect(e.value('createdPrivateLinkServices')).toEqual(['table']);
    const ids = e.value('privateLinkZoneIds') as Record<string, string>;
    expect(ids.blob).toBe(zone('privatelink.blob.core.windows.net'));
    expect(ids.table).toMatch(/\/resourceGroups\/rg-kcmon\/providers\/Microsoft\.Network\/privateDnsZones\/privatelink\.table\.core\.windows\.net$/);
  });

  it('every zone name is the privatelink zone of its service', () => {
    expect(main({}).value('privateLinkZoneNames')).toEqual({
      blob: 'privatelink.blob.core.windows.net',
      table: 'privatelink.table.core.windows.net',
      vault: 'privatelink.vaultcore.azure.net',
    });
  });
});

describe('the schedule and the tick budget', () => {
  it.each([
    [1, 48],
    [5, 240],
    [15, 720],
  ])('every %i minutes: MONITOR_SCHEDULE 0 */N * * * * and a budget of %i s, 80 percent of the interval', (minutes, seconds) => {
    const e = main({ monitorIntervalMinutes: minutes });
    expect(e.value('monitorSchedule')).toBe(`0 */${minutes} * * * *`);
    expect(e.value('deadlineSeconds')).toBe(seconds);
    expect(seconds).toBeLessThan(minutes * 60); // the settings check refuses a budget that is not shorter
  });

  it('a budget given explicitly is kept', () => {
    expect(main({ monitorDeadlineSeconds: 200 }).value('deadlineSeconds')).toBe(200);
  });
});

describe('outbound routing: what enters the VNet', () => {
  const routing = (outboundRouting: string) => {
    const app = tree('modules/function-app.bicep');
    const site = declarations(app, 'resource').get('site')!;
    return evaluator(app, { outboundRouting, name: 'f', identityId: 'i', identityClientId: 'c', storageAccountName: 's', deploymentContainerUrl: 'u', subnetId: 'n', applicationInsightsConnectionString: 'a', monitorSettings: {} }).at(
      property(site, 'properties.outboundVnetRouting')!,
    );
  };

  it.each([
    ['privateRanges', { allTraffic: false, applicationTraffic: false }],
    ['application', { allTraffic: false, applicationTraffic: true }],
    ['all', { allTraffic: true, applicationTraffic: true }],
  ])('%s', (mode, expected) => {
    expect(routing(mode)).toEqual(expected);
  });

  it('defaults to private ranges only: a forced tunnel on the subnet does not cut off Entra ID or Logs Ingestion', () => {
    expect(read('main.bicep')).toMatch(/param outboundRouting string = 'privateRanges'/);
  });
});

describe('the network: a subnet that reaches Connect, or a VNet peered with it', () => {
  it('main requires it: param network has no default, and its type offers only those two', () => {
    const root = tree('main.bicep');
    const network = declarations(root, 'parameter').get('network')!;
    expect(network.text).toBe('param network functionNetwork');
    const type = declarations(root, 'type').get('functionNetwork')!;
    expect(type.text).toBe('type functionNetwork = existingSubnet | peeredVnet');
    expect(declarations(root, 'type').get('existingSubnet')!.text).toMatch(/kind: 'existingSubnet'\n\s+@description\('[^']+'\)\n\s+subnetId: string\n/);
    expect(declarations(root, 'type').get('peeredVnet')!.text).toMatch(/kind: 'peeredVnet'\n\s+@description\('(?:[^'\\]|\\.)*'\)\n\s+peerVnetId: string\n/);
  });

  it('a new VNet comes with the peering both ways, under one condition', () => {
    const net = tree('modules/network.bicep');
    const conditionOf = (n: Node) => n.namedChildren.find((c) => c?.type === 'if_statement')?.namedChildren[0]?.text;
    const vnet = declarations(net, 'resource').get('vnet')!;
    expect(conditionOf(vnet)).toBe('(createVnet)');
    expect(conditionOf(declarations(net, 'resource').get('toConnect')!)).toBe('(createVnet)');
    expect(conditionOf(declarations(net, 'module').get('fromConnect')!)).toBe('(createVnet)');
    expect(evaluator(net, { network: subnet, vnetName: 'v' }).value('createVnet')).toBe(false);
    expect(evaluator(net, { network: { kind: 'peeredVnet', peerVnetId: 'x' }, vnetName: 'v' }).value('createVnet')).toBe(true);
  });
});
