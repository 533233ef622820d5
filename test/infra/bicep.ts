import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Language, type Node, Parser } from 'web-tree-sitter';

export const INFRA = join(__dirname, '..', '..', 'infra');

/** Every Bicep file of the deployment, relative to infra/. */
export function bicepFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(INFRA, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : /\.bicep(param)?$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  return walk('.').sort();
}

let parser: Promise<Parser> | undefined;

/** tree-sitter-bicep, through its wasm: no Bicep compiler can run here. */
export function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Language.load(createRequire(__filename).resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

/**
 * The grammar knows .bicep only. A .bicepparam is `using '<file>'` plus `param name = <expression>`: check it
 * as the same expressions bound with `var`, which the grammar parses with the same rules.
 */
export function asBicep(file: string, text: string): string {
  if (!file.endsWith('.bicepparam')) return text;
  return text.replace(/^using\s+'[^']*'\s*$/m, '').replace(/^param\s+(\w+)\s*=/gm, 'var $1 =');
}

export interface SyntaxProblem {
  readonly line: number;
  readonly column: number;
  readonly text: string;
}

export function syntaxProblems(root: Node): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const walk = (n: Node) => {
    if (n.type === 'ERROR' || n.isMissing) problems.push({ line: n.startPosition.row + 1, column: n.startPosition.column + 1, text: n.isMissing ? `missing ${n.type}` : n.text.slice(0, 80) });
    for (const c of n.children) if (c) walk(c);
  };
  walk(root);
  return problems;
}

/** The string literals of a file, as written (escapes not undone). */
export function stringLiterals(root: Node): string[] {
  return root.descendantsOfType('string').flatMap((n) => (n ? [n.text] : []));
}

export function read(file: string): string {
  return readFileSync(join(INFRA, file), 'utf8');
}

/** The declarations of a kind (param, var, resource, module, output, type) at the top of a file, by name. */
export function declarations(root: Node, kind: 'parameter' | 'variable' | 'resource' | 'module' | 'output' | 'type'): Map<string, Node> {
  const found = new Map<string, Node>();
  for (const n of root.namedChildren) if (n?.type === `${kind}_declaration`) found.set(n.namedChildren.find((c) => c?.type === 'identifier')!.text, n);
  return found;
}

/** The names of the decorators of a declaration (`@secure()` → 'secure'). */
export function decorators(declaration: Node): string[] {
  const before = declaration.previousNamedSibling;
  if (before?.type !== 'decorators') return [];
  return before.namedChildren.flatMap((d) => (d ? [d.namedChildren[0]?.namedChildren[0]?.text ?? ''] : []));
}

/** The value node of a property path in the body of a resource or module (`properties.outboundVnetRouting`). */
export function property(declaration: Node, path: string): Node | undefined {
  let node: Node | undefined = declaration.namedChildren.findLast((c) => c?.type === 'object' || c?.type === 'if_statement' || c?.type === 'for_statement') ?? undefined;
  for (const key of path.split('.')) {
    while (node && node.type !== 'object') node = node.namedChildren.findLast((c) => c?.type === 'object' || c?.type === 'if_statement') ?? undefined;
    const entry: Node | undefined = node?.namedChildren.find((c) => c?.type === 'object_property' && c.namedChildren[0]?.text.replace(/'/g, '') === key) ?? undefined;
    node = entry?.namedChildren[entry.namedChildren.length - 1] ?? undefined;
  }
  return node;
}

/** Every identifier an expression mentions (for "derived from" checks). */
export function identifiers(node: Node): string[] {
  return node.descendantsOfType('identifier').flatMap((n) => (n ? [n.text] : []));
}
