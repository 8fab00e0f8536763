// Schema-first configuration (STYLE.md "fastify"): one TypeBox schema gives the type,
// the defaults, the validation and the documentation. Sources, lowest first:
//   schema defaults < file (YAML or JSON) < environment.
// Environment names: `<prefix><SEG>__<SEG>...`, `__` nests, each segment is snake case
// of the camelCase key, a number indexes an array: MSRP_RELAY__LISTEN__0__PORT ->
// relay.listen[0].port. Values are coerced to the type the schema expects there.
//
// Unknown env names with a single segment are ignored: Kubernetes injects service-link
// variables such as MSRP_PORT or MSRP_SERVICE_HOST for a Service named "msrp". Names
// with `__` follow our convention only, so an unknown one is a typo and an error.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Static, TSchema } from 'typebox';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.ts';

export interface LoadOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Default `MSRP_`. */
  envPrefix?: string;
}

/** The parts of JSON Schema the loader walks (TypeBox schemas are JSON Schema). */
interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
}

type Json = Record<string, unknown>;

export function loadConfig<T extends TSchema>(schema: T, options: LoadOptions = {}): Static<T> {
  const env = options.env ?? process.env;
  const prefix = options.envPrefix ?? 'MSRP_';
  /** JSON pointer (`/relay/listen/0/port`) -> where that value came from. */
  const origins = new Map<string, string>();

  let root: unknown = {};
  if (options.file !== undefined) {
    root = readConfigFile(options.file);
    markOrigins(root, '', options.file, origins);
  }

  const issues: ConfigIssue[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(prefix)) continue;
    const raw = env[name];
    if (raw === undefined) continue;
    const issue = applyEnv(schema, root as Json, name, name.slice(prefix.length), raw, origins);
    if (issue) issues.push(issue);
  }
  if (issues.length > 0) throw new ConfigError('config-invalid', issues);

  Value.Default(schema, root);
  const errors = Value.Errors(schema, root);
  if (errors.length > 0) throw new ConfigError('config-invalid', describeErrors(errors, root, origins));
  return root as Static<T>;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('config-file', [{ path: '', message: `cannot read: ${(e as Error).message}`, source: file }]);
  }
  let value: unknown;
  try {
    // YAML 1.2 is a superset of JSON, but JSON files get JSON's stricter errors.
    value = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError('config-file', [{ path: '', message: `cannot parse: ${withoutQuotedInput((e as Error).message)}`, source: file }]);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('config-file', [{ path: '', message: 'must be a mapping at the top level', source: file }]);
  }
  return value;
}

function markOrigins(value: unknown, pointer: string, source: string, origins: Map<string, string>): void {
  origins.set(pointer, source);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) markOrigins(v, `${pointer}/${k}`, source, origins);
  }
}

/** RELAY -> relay, PUBLIC_HOST -> publicHost. */
export function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The schema member that a value must match: the first non-null branch of a union. */
function resolve(node: SchemaNode | undefined): SchemaNode | undefined {
  if (node?.anyOf && !node.anyOf.every((b) => b.const !== undefined)) {
    return node.anyOf.find((b) => b.type !== 'null') ?? node.anyOf[0];
  }
  return node;
}

function kindOf(node: SchemaNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (node.anyOf || node.enum || node.const !== undefined) return 'string';
  return Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
}

function applyEnv(schema: SchemaNode, root: Json, name: string, rest: string, raw: string, origins: Map<string, string>): ConfigIssue | undefined {
  const segments = rest.split('__');
  if (segments.some((s) => s === '')) return { path: '', message: 'empty segment in variable name', source: name };
  let node: SchemaNode | undefined = resolve(schema);
  let target: unknown = root;
  const keys: (string | number)[] = [];
  for (const segment of segments) {
    const kind = kindOf(node);
    if (kind === 'object' && node?.properties) {
      const wanted = snakeToCamel(segment);
      const key = Object.keys(node.properties).find((k) => k === wanted) ??
        Object.keys(node.properties).find((k) => k.toLowerCase() === segment.replace(/_/g, '').toLowerCase());
      if (key === undefined) {
        if (segments.length === 1) return undefined; // e.g. Kubernetes service links, see above
        return { path: pathOf([...keys, wanted]), message: 'is not a known setting', source: name };
      }
      keys.push(key);
      node = resolve(node.properties[key]);
    } else if (kind === 'array' && /^\d+$/.test(segment)) {
      keys.push(Number(segment));
      node = resolve(node?.items);
    } else {
      return { path: pathOf([...keys, segment]), message: kind === 'array' ? 'needs a numeric index here' : 'is not a known setting', source: name };
    }
  }
  // Walk/create containers down to the parent of the leaf.
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const container = target as Record<string | number, unknown>;
    if (container[k] === undefined || container[k] === null || typeof container[k] !== 'object') {
      container[k] = typeof keys[i + 1] === 'number' ? [] : {};
    }
    target = container[k];
  }
  const coerced = coerce(node, raw);
  if (!coerced.ok) return { path: pathOf(keys), message: coerced.message, source: name };
  (target as Record<string | number, unknown>)[keys[keys.length - 1]!] = coerced.value;
  const pointer = keys.map((k) => `/${k}`).join('');
  markOrigins(coerced.value, pointer, name, origins);
  return undefined;
}

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

export function coerce(node: SchemaNode | undefined, raw: string): Coerced {
  const kind = kindOf(node);
  const text = raw.trim();
  switch (kind) {
    case 'integer':
    case 'number': {
      const n = text === '' ? NaN : Number(text);
      // A non-number stays a string so that validation reports it with the schema's words.
      return { ok: true, value: Number.isFinite(n) ? n : raw };
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return { ok: true, value: true };
      if (['false', '0', 'no', 'off'].includes(lower)) return { ok: true, value: false };
      return { ok: true, value: raw };
    }
    case 'array': {
      if (text.startsWith('[')) return parseJson(text);
      const parts = text === '' ? [] : text.split(',').map((s) => s.trim());
      const items: unknown[] = [];
      for (const part of parts) {
        const c = coerce(resolve(node?.items), part);
        if (!c.ok) return c;
        items.push(c.value);
      }
      return { ok: true, value: items };
    }
    case 'object':
      return text.startsWith('{') ? parseJson(text) : { ok: false, message: 'expects a JSON object here' };
    default:
      return { ok: true, value: raw };
  }
}

function parseJson(text: string): Coerced {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: `is not valid JSON: ${withoutQuotedInput((e as Error).message)}` };
  }
}

/** `relay.listen[0].port` from ['relay','listen',0,'port']. */
export function pathOf(keys: readonly (string | number)[]): string {
  let out = '';
  for (const k of keys) out += typeof k === 'number' || /^\d+$/.test(k) ? `[${k}]` : out === '' ? k : `.${k}`;
  return out;
}

interface ValidationErrorLike {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describeErrors(errors: readonly object[], root: unknown, origins: Map<string, string>): ConfigIssue[] {
  const list = errors as ValidationErrorLike[];
  const anyOfPaths = new Set(list.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const issues = new Map<string, ConfigIssue>();
  const add = (pointer: string, message: string, withValue: boolean): void => {
    const keys = pointer.split('/').slice(1);
    const path = pathOf(keys);
    if (issues.has(`${path}\n${message}`)) return;
    const got = !withValue ? '' : isSecretSetting(keys) ? ' (the value is not shown: a secret setting)' : ` (got ${JSON.stringify(withoutCredentials(valueAt(root, keys)))})`;
    issues.set(`${path}\n${message}`, { path, message: message + got, source: origins.get(pointer) ?? nearestOrigin(pointer, origins) });
  };
  for (const e of list) {
    // One error per unknown key; the summary `additionalProperties` error (below) names them too, but
    // Value.Errors stops at a few errors, so with many unknown keys only these may be left.
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('additionalProperties')) {
      add(e.instancePath, 'is not a known setting', false);
      continue;
    }
    if (e.keyword === 'const' && anyOfPaths.has(e.instancePath)) continue; // folded into the anyOf message
    if (e.keyword === 'additionalProperties') {
      for (const extra of (e.params['additionalProperties'] as string[] | undefined) ?? []) add(`${e.instancePath}/${extra}`, 'is not a known setting', false);
    } else if (e.keyword === 'required') {
      for (const missing of (e.params['requiredProperties'] as string[] | undefined) ?? []) add(`${e.instancePath}/${missing}`, 'is required', false);
    } else if (e.keyword === 'anyOf') {
      const allowed = list.filter((x) => x.keyword === 'const' && x.instancePath === e.instancePath).map((x) => JSON.stringify(x.params['allowedValue']));
      add(e.instancePath, allowed.length > 0 ? `must be one of ${allowed.join(', ')}` : e.message, true);
    } else if (e.keyword === 'enum') {
      add(e.instancePath, `must be one of ${((e.params['allowedValues'] as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}`, true);
    } else {
      add(e.instancePath, e.message, true);
    }
  }
  return [...issues.values()];
}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let v: unknown = root;
  for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function nearestOrigin(pointer: string, origins: Map<string, string>): string | undefined {
  for (let p = pointer; p !== ''; p = p.slice(0, p.lastIndexOf('/'))) {
    const o = origins.get(p);
    if (o !== undefined) return o;
  }
  return undefined;
}

// Configuration errors are logged (msrpd's stderr, a live reload's warning): they never carry
// a secret value (docs/security.md). Settings named like a secret show no value at all, URLs
// lose their password, and parser messages lose the input they quote.
const SECRET_KEY = /(^url$|password|secret|token$|^key$)/i;

function isSecretSetting(keys: readonly string[]): boolean {
  const last = keys[keys.length - 1] ?? '';
  return SECRET_KEY.test(last);
}

/** The value as shown in an error: URL passwords masked, and inside objects and arrays (a section of the wrong shape) secret settings too. */
function withoutCredentials(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@');
  if (Array.isArray(value)) return value.map(withoutCredentials);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '***' : withoutCredentials(v)]));
  }
  return value;
}

/** A parser's message without the source text it quotes (a YAML code frame, JSON.parse's excerpt). */
function withoutQuotedInput(message: string): string {
  const firstLine = message.split('\n')[0] ?? '';
  return firstLine.replace(/:$/, '').replace(/"(?:[^"\\]|\\.)*"(\.\.\.)?/g, '"…"').replace(/'(?:[^'\\]|\\.)*'/g, "'…'");
}
