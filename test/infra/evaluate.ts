import type { Node } from 'web-tree-sitter';

/**
 * Evaluates the `var`s of a Bicep file for given parameter values: the expression subset the infra uses (literals,
 * interpolation, operators, ternaries, lambdas and the functions below), read from the tree-sitter parse tree, so
 * that a test can check what the parameters turn into without a Bicep compiler or Azure. Anything else (a resource,
 * a module output, a function not listed) throws: a test never gets a made-up value.
 * Deployment functions (uniqueString, resourceGroup, deployment, environment, resourceId) are stand-ins, fixed per
 * input, with the shape of the real ones; fail() throws a DeploymentFailure with its message.
 */
export function evaluator(root: Node, params: Record<string, unknown> = {}) {
  const declarations = new Map<string, Node>();
  for (const node of root.namedChildren) {
    if (node && (node.type === 'variable_declaration' || node.type === 'parameter_declaration')) declarations.set(nameOf(node), node);
  }
  const values = new Map<string, unknown>();

  const lookup = (name: string): unknown => {
    if (values.has(name)) return values.get(name);
    const node = declarations.get(name);
    if (!node) throw new Error(`${name}: not a var or param of this file (a resource or module is not evaluated)`);
    let value: unknown;
    if (node.type === 'parameter_declaration') {
      const fallback = valueOf(node);
      if (name in params) value = params[name];
      else if (fallback) value = evaluate(fallback, new Map());
      else throw new Error(`param ${name} has no default: give it`);
    } else value = evaluate(valueOf(node)!, new Map());
    values.set(name, value);
    return value;
  };

  // tree-sitter-bicep reads `x => x.value + 1` as `((x => x).value) + 1`; Bicep reads the whole right side as the
  // body. Such an expression is the lambda, with the lambda's own node standing for its body.
  const inlining = (lambda: Node) => `\u0000inlining ${lambda.id}`;
  const parameterNames = (lambda: Node) =>
    lambda.namedChildren.slice(0, -1).flatMap((c) => (!c ? [] : c.type === 'identifier' ? [c.text] : c.namedChildren.flatMap((p) => (p ? [p.text] : []))));
  const bind = (scope: Map<string, unknown>, names: string[], args: unknown[]) => new Map([...scope, ...names.map((n, i) => [n, args[i]] as const)]);

  const evaluate = (node: Node, scope: Map<string, unknown>): unknown => {
    const named = node.namedChildren.filter((c): c is Node => c !== null);
    const token = (type: string) => node.children.some((c) => c?.type === type);
    const lambda = leftmostLambda(node);
    if (lambda && !scope.has(inlining(lambda))) {
      return (...args: unknown[]) => evaluate(node, bind(scope, parameterNames(lambda), args).set(inlining(lambda), true));
    }
    switch (node.type) {
      case 'number':
        return Number(node.text);
      case 'boolean':
      case 'true':
      case 'false':
        return node.text === 'true';
      case 'null':
        return null;
      case 'string':
        return stringOf(node, scope);
      case 'array':
        return named.map((c) => evaluate(c, scope));
      case 'object':
        return Object.fromEntries(
          named.filter((c) => c.type === 'object_property').map((p) => {
            const [key, value] = p.namedChildren.filter((c): c is Node => c !== null && c.type !== 'decorators');
            return [key!.type === 'string' ? stringOf(key!, scope) : key!.text, evaluate(value!, scope)];
          }),
        );
      case 'identifier':
        if (scope.has(node.text)) return scope.get(node.text);
        if (node.text === 'true' || node.text === 'false') return node.text === 'true';
        if (node.text === 'null') return null;
        return lookup(node.text);
      case 'parenthesized_expression':
        return evaluate(named[0]!, scope);
      case 'member_expression': {
        const target = evaluate(named[0]!, scope) as Record<string, unknown> | null | undefined;
        const property = named[1]!.text;
        const safe = token('.?');
        if (target === null || target === undefined || !(property in target)) {
          if (safe) return null;
          throw new Error(`${node.text}: no property ${property}`);
        }
        return target[property];
      }
      case 'subscript_expression': {
        const target = evaluate(named[0]!, scope) as Record<string, unknown> | unknown[] | null;
        const index = evaluate(named[1]!, scope) as string | number;
        const safe = node.children.some((c) => c?.type === '?' || c?.text === '[?');
        const found = target !== null && target !== undefined && (Array.isArray(target) ? typeof index === 'number' && index < target.length : Object.hasOwn(target, index));
        if (!found) {
          if (safe) return null;
          throw new Error(`${node.text}: no element ${String(index)}`);
        }
        return (target as Record<string, unknown>)[index];
      }
      case 'ternary_expression':
        return evaluate(named[0]!, scope) ? evaluate(named[1]!, scope) : evaluate(named[2]!, scope);
      case 'unary_expression': {
        const operand = evaluate(named[0]!, scope);
        if (token('!')) return !operand;
        if (token('-')) return -(operand as number);
        break;
      }
      case 'binary_expression': {
        const op = node.children.find((c) => c !== null && !c.isNamed)!.type;
        if (op === '&&') return Boolean(evaluate(named[0]!, scope)) && Boolean(evaluate(named[1]!, scope));
        if (op === '||') return Boolean(evaluate(named[0]!, scope)) || Boolean(evaluate(named[1]!, scope));
        if (op === '??') return evaluate(named[0]!, scope) ?? evaluate(named[1]!, scope);
        return binary(op, evaluate(named[0]!, scope), evaluate(named[1]!, scope), node.text);
      }
      case 'lambda_expression': {
        const body = named[named.length - 1]!;
        if (scope.has(inlining(node))) return evaluate(body, scope);
        return (...args: unknown[]) => evaluate(body, bind(scope, parameterNames(node), args));
      }
      case 'call_expression': {
        const name = named[0]!.text;
        const args = (named[1]?.namedChildren ?? []).filter((c): c is Node => c !== null).map((c) => evaluate(c, scope));
        const fn = FUNCTIONS[name];
        if (!fn) throw new Error(`${name}(): not a function the evaluator knows`);
        return (fn as (...a: unknown[]) => unknown)(...args);
      }
    }
    throw new Error(`${node.type}: not evaluated (${node.text.slice(0, 60)})`);
  };

  const stringOf = (node: Node, scope: Map<string, unknown>): string =>
    node.children
      .map((c) => {
        if (!c) return '';
        if (c.type === 'string_content') return c.text;
        if (c.type === 'escape_sequence') return ESCAPES[c.text] ?? c.text.slice(1);
        if (c.type === 'interpolation') return toText(evaluate(c.namedChildren[0]!, scope));
        return '';
      })
      .join('');

  return {
    /** The value of a var or param. */
    value: (name: string) => lookup(name),
    /** The value of any expression of the file, e.g. a property of a resource. */
    at: (node: Node) => evaluate(node, new Map()),
  };
}

/** The lambda that an operator or accessor expression starts with, as tree-sitter-bicep groups it. */
function leftmostLambda(node: Node): Node | undefined {
  let n: Node | null = node;
  while (n && ['member_expression', 'subscript_expression', 'binary_expression', 'ternary_expression'].includes(n.type)) {
    n = n.namedChildren[0] ?? null;
    if (n?.type === 'lambda_expression') return n;
  }
  return undefined;
}

function nameOf(declaration: Node): string {
  return declaration.namedChildren.find((c) => c?.type === 'identifier')!.text;
}

/** The expression after `=`: a var's value, a param's default (undefined when it has none). */
function valueOf(declaration: Node): Node | undefined {
  const children = declaration.children;
  const equals = children.findIndex((c) => c?.type === '=');
  return equals < 0 ? undefined : (children.slice(equals + 1).find((c) => c?.isNamed) ?? undefined);
}

const ESCAPES: Record<string, string> = { '\\\\': '\\', "\\'": "'", '\\n': '\n', '\\r': '\r', '\\t': '\t', '\\$': '$' };

function toText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function binary(op: string, a: unknown, b: unknown, text: string): unknown {
  const x = a as number;
  const y = b as number;
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return Math.trunc(x / y); // Bicep divides integers
    case '%':
      return x % y;
    case '==':
      return same(a, b);
    case '!=':
      return !same(a, b);
    case '=~':
      return String(a).toLowerCase() === String(b).toLowerCase();
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
  throw new Error(`${op}: not an operator the evaluator knows (${text})`);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

const isEmpty = (x: unknown) => x === null || x === undefined || x === '' || (Array.isArray(x) ? x.length === 0 : typeof x === 'object' && Object.keys(x).length === 0);
type Fn = (...args: never[]) => unknown;
type Lambda = (...args: unknown[]) => unknown;

/** What Bicep's fail() raises: the deployment stops with this message. */
export class DeploymentFailure extends Error {
  override readonly name = 'DeploymentFailure';
}

/** A stand-in for uniqueString: 13 characters of [a-z0-9], fixed per input, as the real one is. */
export function fakeUniqueString(...parts: string[]): string {
  let h = 2166136261;
  for (const ch of parts.join('|')) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  let out = '';
  for (let i = 0; i < 13; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822519) >>> 0;
    out += 'abcdefghijklmnopqrstuvwxyz234567'[h % 32];
  }
  return out;
}

const FUNCTIONS: Record<string, Fn> = {
  length: (x: string | unknown[] | object) => (typeof x === 'string' || Array.isArray(x) ? x.length : Object.keys(x).length),
  range: (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i),
  map: (xs: unknown[], f: Lambda) => xs.map((x, i) => f(x, i)),
  filter: (xs: unknown[], f: Lambda) => xs.filter((x, i) => f(x, i)),
  flatten: (xs: unknown[][]) => xs.flat(),
  first: (xs: string | unknown[]) => (typeof xs === 'string' ? xs.slice(0, 1) : (xs[0] ?? null)),
  last: (xs: string | unknown[]) => (typeof xs === 'string' ? xs.slice(-1) : (xs[xs.length - 1] ?? null)),
  join: (xs: string[], delimiter: string) => xs.join(delimiter),
  contains: (container: string | unknown[] | object, item: unknown) =>
    typeof container === 'string' ? container.includes(String(item)) : Array.isArray(container) ? container.some((x) => same(x, item)) : Object.hasOwn(container, String(item)),
  toLower: (s: string) => s.toLowerCase(),
  toUpper: (s: string) => s.toUpperCase(),
  substring: (s: string, start: number, count?: number) => s.substr(start, count ?? s.length - start),
  take: (x: string | unknown[], n: number) => x.slice(0, Math.max(0, n)),
  skip: (x: string | unknown[], n: number) => x.slice(Math.max(0, n)),
  empty: (x: unknown) => isEmpty(x),
  split: (s: string, delimiter: string) => s.split(delimiter),
  replace: (s: string, from: string, to: string) => s.split(from).join(to),
  trim: (s: string) => s.trim(),
  startsWith: (s: string, p: string) => s.toLowerCase().startsWith(p.toLowerCase()),
  endsWith: (s: string, p: string) => s.toLowerCase().endsWith(p.toLowerCase()),
  concat: (...xs: (string | unknown[])[]) => (xs.every((x) => typeof x === 'string') ? xs.join('') : (xs as unknown[][]).flat()),
  // Objects: the later value of a key wins; arrays: every distinct value once, in order (ARM's union()).
  union: (...xs: (object | unknown[])[]) =>
    xs.every((x) => Array.isArray(x)) ? (xs as unknown[][]).flat().filter((x, i, all) => all.findIndex((y) => same(x, y)) === i) : Object.assign({}, ...xs),
  items: (o: Record<string, unknown>) =>
    Object.keys(o)
      .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
      .map((key) => ({ key, value: o[key] })),
  toObject: (xs: unknown[], key: Lambda, value?: Lambda) => Object.fromEntries(xs.map((x) => [key(x), value ? value(x) : x])),
  json: (s: string) => JSON.parse(s) as unknown,
  int: (x: string | number) => Math.trunc(Number(x)),
  string: (x: unknown) => toText(x),
  min: (...xs: (number | number[])[]) => Math.min(...xs.flat()),
  max: (...xs: (number | number[])[]) => Math.max(...xs.flat()),
  uniqueString: (...parts: string[]) => fakeUniqueString(...parts),
  // fail() stops the deployment with its message; the evaluator throws it (a ternary evaluates one branch only).
  fail: (message: string) => {
    throw new DeploymentFailure(message);
  },
  any: (x: unknown) => x,
  resourceGroup: () => ({ id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-kcmon', name: 'rg-kcmon', location: 'westeurope' }),
  subscription: () => ({ id: '/subscriptions/00000000-0000-0000-0000-000000000000', subscriptionId: '00000000-0000-0000-0000-000000000000' }),
  deployment: () => ({ name: 'main' }),
  environment: () => ({ name: 'AzureCloud', suffixes: { storage: 'core.windows.net' } }),
  resourceId: (type: string, ...names: string[]) => {
    const [provider, ...types] = type.split('/');
    return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-kcmon/providers/${provider}/${types.map((t, i) => `${t}/${names[i]}`).join('/')}`;
  },
};
