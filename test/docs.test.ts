import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/kc-monitor';
import { CONNECT_FAILURES } from '../src/lib/errors';
import tables from '../infra/tables.json';

/** README lines that must stay true: each is checked against the code or the package it describes. */
const readme = readFileSync('README.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };

describe('the README', () => {
  it('documents every state a cluster row can carry, as tables.json does', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `cluster` |'))!;
    const state = tables.tables[0]!.columns.find((c) => c.name === 'State')!.description;
    for (const kind of CONNECT_FAILURES) {
      expect(row).toContain(`\`${kind}\``);
      expect(state).toContain(kind);
    }
  });

  it('states the Node version that package.json requires', () => {
    const version = pkg.engines.node.replace(/^>=/, '');
    expect(readme).toContain(`Node.js ${version} or later`);
    expect(readme).not.toMatch(/Node\.js 20\.\d+\+/);
  });

  it('lists every exit code of kc-monitor with its number', () => {
    const codes = [...readme.matchAll(/^\| (\d) \| /gm)].map((m) => Number(m[1]));
    expect(codes).toEqual(Object.values(EXIT).sort());
  });

  it('shows the crontab line, and an Azurite script that keeps to loopback and memory', () => {
    expect(readme).toContain('*/5 * * * * kc-monitor once\n');
    expect(readme).toContain('`npm run azurite`');
    expect(pkg.scripts.azurite).toMatch(/--inMemoryPersistence/);
    expect(pkg.scripts.azurite).toMatch(/--disableTelemetry/);
    for (const service of ['blob', 'queue', 'table']) expect(pkg.scripts.azurite).toContain(`--${service}Host 127.0.0.1`);
  });
});
