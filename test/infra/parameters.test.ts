import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node, Parser } from 'web-tree-sitter';
import { INFRA, bicepParser, declarations, identifiers, property, read } from './bicep';
import { DeploymentFailure, evaluator } from './evaluate';

/** What the parameters turn into, evaluated from the Bicep itself (test/infra/evaluate.ts). */
let parser: Parser;
beforeAll(async () => {
  parser = await bicepParser();
});

const tree = (file: string): Node => parser.parse(read(file))!.rootNode;
const subnet = { kind: 'existingSubnet', subnetId: '/subscriptions/s/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/spoke/subnets/kc' };
const withEndpointSubnet = { ...subnet, privateEndpointSubnetId: '/subscriptions/s/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/spoke/subnets/pe' };
const main = (params: Record<string, unknown>) => evaluator(tree('main.bicep'), { network: subnet, ...params });
/** What fail() stops the deployment with, for these parameters and this var (undefined: the var evaluates). */
const failure = (params: Record<string, unknown>, name: string): string | undefined => {
  try {
    main(params).value(name);
    return undefined;
  } catch (e) {
    if (e instanceof DeploymentFailure) return e.message;
    throw e;
  }
};

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

  it.each(['___', '---', '...', '-_-', '- .'])('%s (no letter or digit) stops the deployment, naming namePrefix, instead of making an invalid vault name', (namePrefix) => {
    for (const name of ['storageAccountName', 'vaultName']) expect(failure({ namePrefix }, name), name).toMatch(/^namePrefix .* no letter or digit/);
  });

  it('one letter or digit among the rest is enough', () => {
    const e = main({ namePrefix: '_-7' });
    expect(e.value('vaultName')).toMatch(/^kv-7-[a-z0-9]+$/);
    expect(e.value('storageAccountName')).toMatch(/^st7[a-z0-9]+$/);
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

  it('a setting named twice (clusters sharing it, or one naming a default) is one setting and one secret', () => {
    const shared = JSON.stringify([
      { name: 'east', url: 'https://connect-east:8083', username: 'monitor', passwordSetting: 'SHARED_PASSWORD' },
      { name: 'west', url: 'https://connect-west:8083', username: 'monitor', passwordSetting: 'SHARED_PASSWORD', clientKeySetting: 'KAFKA_CONNECT_CLIENT_KEY' },
      { name: 'north', url: 'https://connect-north:8083', passwordSetting: 'KAFKA_CONNECT_PASSWORD' },
    ]);
    const e = main({ connectClusters: shared, connectUsername: 'kc-monitor', connectClientCert: '-----BEGIN CERTIFICATE-----', clusterSecrets: { SHARED_PASSWORD: 'p1', KAFKA_CONNECT_PASSWORD: 'p2' }, connectPassword: 'p3' });
    expect(e.value('clusterSettingNames')).toEqual(['SHARED_PASSWORD', 'KAFKA_CONNECT_CLIENT_KEY', 'KAFKA_CONNECT_PASSWORD']);
    // The defaults keep their secrets: a cluster naming KAFKA_CONNECT_PASSWORD reads what connectPassword stores.
    expect(e.value('secretOfSetting')).toEqual({
      SHARED_PASSWORD: 'setting-shared-password',
      KAFKA_CONNECT_CLIENT_KEY: 'kafka-connect-client-key',
      KAFKA_CONNECT_PASSWORD: 'kafka-connect-password',
    });
    // A value for such a setting in clusterSecrets goes to that secret too, and connectPassword wins over it.
    expect(e.value('clusterSecretValues')).toEqual({ 'kafka-connect-password': 'p2', 'setting-shared-password': 'p1' });
    const vault = declarations(tree('main.bicep'), 'module').get('vault')!;
    const names = main({ connectClusters: shared, connectUsername: 'kc-monitor', connectClientCert: 'c' }).at(property(vault, 'params.secretNames')!) as string[];
    expect(names).toEqual([...new Set(names)]);
    expect(main({ connectClusters: shared, connectUsername: 'kc-monitor', connectClientCert: 'c', connectPassword: 'p3', clusterSecrets: { KAFKA_CONNECT_PASSWORD: 'p2' } }).at(property(vault, 'params.secretValues')!)).toEqual({
      'kafka-connect-password': 'p3',
    });
  });

  it('settings that differ only in case, or in _ against -, would share one secret: the deployment stops', () => {
    for (const [a, b] of [
      ['CONNECT_EAST_PASSWORD', 'connect_east_password'],
      ['CONNECT_EAST_PASSWORD', 'CONNECT-EAST-PASSWORD'],
    ]) {
      const clusters = JSON.stringify([
        { url: 'https://a:8083', passwordSetting: a },
        { url: 'https://b:8083', passwordSetting: b },
      ]);
      expect(failure({ connectClusters: clusters }, 'secretOfSetting')).toMatch(/^connectClusters names settings that differ only in case/);
    }
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
      network: withEndpointSubnet,
      privateLinkDnsZones: { blob: { id: zone('privatelink.blob.core.windows.net'), link: false }, vault: { id: zone('privatelink.vaultcore.azure.net'), link: true } },
    });
    expect(e.value('linkedZoneIds')).toEqual([zone('privatelink.vaultcore.azure.net')]);
    expect(e.value('createdPrivateLinkServices')).toEqual(['table']);
    const ids = e.value('privateLinkZoneIds') as Record<string, string>;
    expect(ids.blob).toBe(zone('privatelink.blob.core.windows.net'));
    expect(ids.table).toMatch(/\/resourceGroups\/rg-kcmon\/providers\/Microsoft\.Network\/privateDnsZones\/privatelink\.table\.core\.windows\.net$/);
  });

  it('with an existing vault (existingKeyVaultId), no vault zone is created or linked: the vault is not given an endpoint here', () => {
    const existingKeyVaultId = '/subscriptions/s/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-shared';
    const created = main({ privateEndpoints: true, network: withEndpointSubnet, existingKeyVaultId });
    expect(created.value('createdPrivateLinkServices')).toEqual(['blob', 'table']);
    expect(created.value('privateLinkZoneIds')).not.toHaveProperty('vault');
    const linked = main({ privateEndpoints: true, network: withEndpointSubnet, existingKeyVaultId, privateLinkDnsZones: { vault: { id: zone('privatelink.vaultcore.azure.net'), link: true } } });
    expect(linked.value('linkedZoneIds')).toEqual([]);
    // The vault created here keeps its zone.
    expect(main({ privateEndpoints: true, network: withEndpointSubnet }).value('createdPrivateLinkServices')).toEqual(['blob', 'table', 'vault']);
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
  // host.json's functionTimeout ends a run that outlasts it, mid-tick.
  const hostTimeoutSeconds = (() => {
    const [h, m, sec] = (JSON.parse(readFileSync(join(INFRA, '..', 'host.json'), 'utf8')) as { functionTimeout: string }).functionTimeout.split(':').map(Number);
    return h! * 3600 + m! * 60 + sec!;
  })();

  it.each([
    [1, 48],
    [5, 240],
    [10, 480],
    [12, 540],
    [15, 540],
    [30, 540],
  ])('every %i minutes: MONITOR_SCHEDULE 0 */N * * * * and a budget of %i s, 80 percent of the interval and at most 540 s', (minutes, seconds) => {
    const e = main({ monitorIntervalMinutes: minutes });
    expect(e.value('monitorSchedule')).toBe(`0 */${minutes} * * * *`);
    expect(e.value('deadlineSeconds')).toBe(seconds);
    expect(seconds).toBeLessThan(minutes * 60); // the settings check refuses a budget that is not shorter
    expect(seconds).toBeLessThanOrEqual(hostTimeoutSeconds - 60); // and the host must not stop the tick first
  });

  it('a budget given explicitly is kept', () => {
    expect(main({ monitorDeadlineSeconds: 200 }).value('deadlineSeconds')).toBe(200);
    expect(main({ monitorDeadlineSeconds: 10, monitorIntervalMinutes: 1 }).value('deadlineSeconds')).toBe(10);
    expect(main({ monitorDeadlineSeconds: 540, monitorIntervalMinutes: 30 }).value('deadlineSeconds')).toBe(540);
  });

  it('@maxValue(540) on monitorDeadlineSeconds: a minute under host.json\'s functionTimeout', () => {
    expect(read('main.bicep')).toMatch(/@minValue\(0\)\n@maxValue\(540\)\nparam monitorDeadlineSeconds int = 0\n/);
    expect(540).toBeLessThanOrEqual(hostTimeoutSeconds - 60);
  });

  it.each([
    [300, 5],
    [359, 5],
    [60, 1],
    [9, 5],
    [1, 1],
  ])('a budget of %i s every %i minutes, which the app would refuse on every tick, stops the deployment', (monitorDeadlineSeconds, monitorIntervalMinutes) => {
    expect(failure({ monitorDeadlineSeconds, monitorIntervalMinutes }, 'deadlineSeconds')).toMatch(/^monitorDeadlineSeconds \d+: give 10 to \d+ s/);
  });
});

describe('private endpoints: really private, or the deployment stops', () => {
  it('privateEndpoints with an existing subnet and no privateEndpointSubnetId stops the deployment instead of leaving storage and the vault public', () => {
    expect(failure({ privateEndpoints: true }, 'privateEndpointsOn')).toMatch(/needs network\.privateEndpointSubnetId/);
    for (const name of ['createdPrivateLinkServices', 'givenPrivateLinkZones']) expect(failure({ privateEndpoints: true }, name), name).toMatch(/privateEndpointSubnetId/);
  });

  it('the delegated subnet itself is no endpoint subnet', () => {
    expect(failure({ privateEndpoints: true, network: { ...subnet, privateEndpointSubnetId: subnet.subnetId } }, 'privateEndpointsOn')).toMatch(/not the delegated one/);
  });

  it('with an endpoint subnet, or a new VNet (which has one), the endpoints are on; without privateEndpoints, off', () => {
    expect(main({ privateEndpoints: true, network: withEndpointSubnet }).value('privateEndpointsOn')).toBe(true);
    expect(main({ privateEndpoints: true, network: { kind: 'peeredVnet', peerVnetId: 'x' } }).value('privateEndpointsOn')).toBe(true);
    expect(main({}).value('privateEndpointsOn')).toBe(false);
  });

  it('storage, the vault and the zones read privateEndpointsOn, never privateEndpoints itself', () => {
    const root = tree('main.bicep');
    const readers = [...declarations(root, 'variable'), ...declarations(root, 'module')].filter(([, d]) => identifiers(d).slice(1).includes('privateEndpoints')).map(([n]) => n);
    expect(readers).toEqual(['privateEndpointsOn']);
    const modules = declarations(root, 'module');
    expect(property(modules.get('storage')!, 'params.privateEndpointSubnetId')!.text).toMatch(/^privateEndpointsOn \?/);
    expect(property(modules.get('vault')!, 'params.privateEndpointSubnetId')!.text).toMatch(/^privateEndpointsOn && createVault \?/);
  });
});

describe('alertShape perConnector needs connectors', () => {
  it('with none, the deployment stops and says how to list them, instead of deploying no connector alert', () => {
    expect(failure({ alertShape: 'perConnector' }, 'alertConnectors')).toMatch(/^alertShape perConnector needs connectors: .*kc-monitor alert-params/);
  });

  it('with some, they are the rules; perClusterSplit needs none', () => {
    const connectors = [{ cluster: 'east', name: 'jdbc-sink' }];
    expect(main({ alertShape: 'perConnector', connectors }).value('alertConnectors')).toEqual(connectors);
    expect(main({}).value('alertConnectors')).toEqual([]);
    expect(property(declarations(tree('main.bicep'), 'module').get('alerts')!, 'params.connectors')!.text).toBe('alertConnectors');
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
