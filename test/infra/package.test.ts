import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const patterns = readFileSync(join(ROOT, '.funcignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

/** .funcignore follows .gitignore: `dir/` a directory anywhere on the path, other globs on any name on it. */
function ignored(path: string): boolean {
  const parts = path.split('/');
  return patterns.some((p) => {
    if (p.endsWith('/')) {
      const dir = p.slice(0, -1);
      return dir.includes('/') ? path.startsWith(`${dir}/`) : parts.slice(0, -1).includes(dir);
    }
    const glob = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    // A pattern without a slash matches a name anywhere on the path (the file, or a directory above it).
    return p.includes('/') ? glob.test(path) : parts.some((part) => glob.test(part));
  });
}

describe('what `func azure functionapp publish` uploads', () => {
  it('is the host files and the two bundles, and main points the host at the entry bundle', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; scripts: Record<string, string> };
    expect(pkg.main).toBe('dist/function/*.js');
    // The function's bundles (the CLI has a bundle of its own since the local-state change).
    const bundle = pkg.scripts['bundle:function'] ?? pkg.scripts.bundle!;
    expect(bundle).toContain('--outfile=dist/function/monitor.js');
    expect(bundle).toContain('--outfile=dist/lib/runtime.js');
    for (const kept of ['host.json', 'package.json', 'dist/function/monitor.js', 'dist/lib/runtime.js']) expect(ignored(kept), kept).toBe(false);
  });

  it.each(['node_modules/undici/index.js', 'src/lib/tick.ts', 'test/faults.test.ts', 'dist/src/lib/tick.js', 'dist/lib/runtime.js.map', 'local.settings.json', 'infra/main.bicep', 'bench/bench.ts', '.git/HEAD', 'README.md'])(
    'leaves out %s',
    (path) => {
      expect(ignored(path)).toBe(true);
    },
  );
});
