/**
 * A zod schema turned into the source of a plain JavaScript function that answers one question: would
 * the schema accept this value? The build writes such functions for the plan and for every provider
 * action's parameters (`scripts/build.js`), so `drctl validate` checks a valid plan without loading
 * zod or the providers. It never explains a failure: a value it rejects goes to zod, whose issues make
 * the positioned messages, so the messages people read come from one place.
 *
 * A node it cannot express (a transform, a refinement that is not one of `rules.ts`) compiles to
 * `false`: the plan then takes zod's path. That keeps the one promise that matters: it never accepts
 * what zod would refuse (test/plan/precompile.test.ts holds it to that on every example and fixture).
 */
import type { z } from 'zod';
import * as rules from './rules.ts';

/** The zod internals this reads: a node's definition (type, checks, children). */
interface Node {
  _zod: { def: Def; values?: Set<unknown> };
}
interface Def {
  type: string;
  format?: string;
  protocol?: RegExp;
  hostname?: RegExp;
  normalize?: boolean;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  shape?: Record<string, Node>;
  catchall?: Node;
  element?: Node;
  innerType?: Node;
  options?: Node[];
  keyType?: Node;
  valueType?: Node;
  partial?: boolean;
}
interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  fn?: unknown;
}

/**
 * The source of an ES module exporting `validators`: for each name of `schemas`, a function of one value
 * returning whether that schema accepts it. `rulesUrl` is where the module imports `rules.ts` from.
 */
export function precompileValidators(schemas: Record<string, z.ZodType>, rulesUrl: string): string {
  const names = new Map<Node, string>();
  const functions: string[] = [];
  const constants: string[] = [];
  const constantNames = new Map<string, string>();
  const constant = (source: string): string => {
    let name = constantNames.get(source);
    if (name === undefined) {
      name = `c${constantNames.size}`;
      constantNames.set(source, name);
      constants.push(`const ${name} = ${source};`);
    }
    return name;
  };
  const ruleName = new Map<unknown, string>(Object.entries(rules).map(([name, value]) => [value, name]));

  // schemas are trees without cycles (zod's recursive schemas use getters, which the plan does not), so
  // children are compiled first and a body already written is reused under its first name
  const bodies = new Map<string, string>();
  const compile = (node: Node): string => {
    const known = names.get(node);
    if (known !== undefined) return known;
    const def = node._zod.def;
    const lines = [...typeTest(def, node), ...(def.checks ?? []).map((check) => checkTest(check._zod.def))];
    const body = `${lines.map((line) => `  ${line}\n`).join('')}  return true;\n`;
    let name = bodies.get(body);
    if (name === undefined) {
      name = `v${bodies.size}`;
      bodies.set(body, name);
      functions.push(`function ${name}(x) {\n${body}}`);
    }
    names.set(node, name);
    return name;
  };

  const typeTest = (def: Def, node: Node): string[] => {
    switch (def.type) {
      case 'string':
        if (def.format === 'url') return urlTest(def);
        // any other format (email, uuid, ...) is zod's own code: zod decides
        if (def.format !== undefined) return ['return false;'];
        return [`if (typeof x !== 'string') return false;`];
      case 'boolean':
        return [`if (typeof x !== 'boolean') return false;`];
      case 'number':
        return [`if (typeof x !== 'number' || !Number.isFinite(x)) return false;`];
      case 'date':
        return [`if (!(x instanceof Date) || Number.isNaN(x.getTime())) return false;`];
      case 'unknown':
      case 'any':
        return [];
      case 'enum':
      case 'literal':
        if (![...(node._zod.values ?? [])].every((v) => ['string', 'number', 'boolean'].includes(typeof v)))
          return ['return false;'];
        return [
          `if (!${constant(`new Set(${JSON.stringify([...(node._zod.values ?? [])])})`)}.has(x)) return false;`,
        ];
      case 'optional':
        return [`if (x === undefined) return true;`, `if (!${compile(def.innerType!)}(x)) return false;`];
      case 'nullable':
        return [`if (x === null) return true;`, `if (!${compile(def.innerType!)}(x)) return false;`];
      case 'default':
        return [`if (x === undefined) return true;`, `if (!${compile(def.innerType!)}(x)) return false;`];
      case 'array':
        return [
          `if (!Array.isArray(x)) return false;`,
          `for (const item of x) if (!${compile(def.element!)}(item)) return false;`,
        ];
      case 'union':
        return [
          `if (!(${def.options!.map((option) => `${compile(option)}(x)`).join(' || ')})) return false;`,
        ];
      case 'object':
        return objectTest(def);
      case 'record':
        return recordTest(def);
      default:
        // never, transform, pipe and anything newer: zod decides
        return ['return false;'];
    }
  };

  // zod's URL check as it stands for a protocol pattern without hostname or normalising: the trimmed
  // text must parse as a URL, and an http(s)-only pattern also wants the "://"
  const urlTest = (def: Def): string[] => {
    if (def.hostname !== undefined || def.normalize) return ['return false;'];
    const lines = [`if (typeof x !== 'string') return false;`, `const t = x.trim();`];
    if (def.protocol?.source === '^https?$') lines.push(`if (!/^https?:\\/\\//i.test(t)) return false;`);
    lines.push(`let u; try { u = new URL(t); } catch { return false; }`);
    if (def.protocol !== undefined) {
      const protocol = regex(def.protocol);
      lines.push(
        `${protocol}.lastIndex = 0;`,
        `if (!${protocol}.test(u.protocol.endsWith(':') ? u.protocol.slice(0, -1) : u.protocol)) return false;`,
      );
    }
    return lines;
  };
  const regex = (pattern: RegExp): string =>
    constant(`new RegExp(${JSON.stringify(pattern.source)}, ${JSON.stringify(pattern.flags)})`);

  const objectTest = (def: Def): string[] => {
    const shape = def.shape ?? {};
    const keys = constant(`new Set(${JSON.stringify(Object.keys(shape))})`);
    const catchall = def.catchall?._zod.def.type;
    const lines = [`if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;`];
    for (const [key, value] of Object.entries(shape))
      lines.push(`if (!${compile(value)}(x[${JSON.stringify(key)}])) return false;`);
    // zod walks the input's keys with for-in: the same here
    if (catchall === 'never') lines.push(`for (const key in x) if (!${keys}.has(key)) return false;`);
    else if (def.catchall !== undefined && catchall !== 'unknown' && catchall !== 'any')
      lines.push(
        `for (const key in x) if (!${keys}.has(key) && !${compile(def.catchall)}(x[key])) return false;`,
      );
    return lines;
  };

  const recordTest = (def: Def): string[] => {
    const plain = `if (typeof x !== 'object' || x === null || Array.isArray(x) || (x.constructor !== undefined && x.constructor !== Object)) return false;`;
    const value = compile(def.valueType!);
    const enumerated = def.keyType!._zod.values;
    if (enumerated !== undefined && !def.partial) {
      // a record keyed by a fixed set needs every key of the set, and no other
      const keys = constant(`new Set(${JSON.stringify([...enumerated].map(String))})`);
      return [
        plain,
        `for (const key of ${keys}) if (!${value}(x[key])) return false;`,
        `for (const key in x) if (!${keys}.has(key)) return false;`,
      ];
    }
    const key = compile(def.keyType!);
    return [
      plain,
      `for (const key of Object.keys(x)) {`,
      `  if (key === '__proto__') continue;`,
      `  if (!${key}(key) && !(/^-?\\d+(?:\\.\\d+)?$/.test(key) && ${key}(Number(key)))) return false;`,
      `  if (!${value}(x[key])) return false;`,
      `}`,
    ];
  };

  const checkTest = (check: CheckDef): string => {
    switch (check.check) {
      case 'min_length':
        return `if (!(x.length >= ${check.minimum})) return false;`;
      case 'max_length':
        return `if (!(x.length <= ${check.maximum})) return false;`;
      case 'greater_than':
        return `if (!(x ${check.inclusive ? '>=' : '>'} ${check.value})) return false;`;
      case 'less_than':
        return `if (!(x ${check.inclusive ? '<=' : '<'} ${check.value})) return false;`;
      case 'number_format':
        return check.format === 'safeint' ? `if (!Number.isSafeInteger(x)) return false;` : 'return false;';
      case 'string_format': {
        if (check.format !== 'regex' || check.pattern === undefined) return 'return false;';
        const pattern = regex(check.pattern);
        return `${pattern}.lastIndex = 0; if (!${pattern}.test(x)) return false;`;
      }
      case 'custom': {
        const rule = ruleName.get(check.fn);
        return rule === undefined ? 'return false;' : `if (!rules.${rule}(x)) return false;`;
      }
      default:
        return 'return false;';
    }
  };

  const entries = Object.entries(schemas).map(
    ([name, schema]) => `  ${JSON.stringify(name)}: ${compile(schema as unknown as Node)},`,
  );
  return [
    '// Generated by the build from the zod schemas (src/plan/precompile.ts): do not edit.',
    `import * as rules from ${JSON.stringify(rulesUrl)};`,
    ...constants,
    ...functions,
    `export const validators = {\n${entries.join('\n')}\n};`,
    '',
  ].join('\n');
}
