// TypeBox JSON Schema -> Kubernetes structural schema (apiextensions.k8s.io/v1 JSONSchemaProps).
//
// A structural schema (KEP-2335) gives every node a `type` (except int-or-string and
// preserve-unknown-fields nodes), keeps logical junctors free of type/default/description,
// and has no $ref, patternProperties, dependencies, uniqueItems or additionalProperties:false.
// TypeBox emits plain JSON Schema, so this module maps its idioms onto that subset and
// refuses what has no structural form instead of emitting a CRD the API server rejects.

export type JSONSchemaProps = Record<string, unknown>;

/** Keywords of apiextensions.k8s.io/v1 JSONSchemaProps that we emit. */
const ALLOWED = new Set([
  'type',
  'format',
  'title',
  'description',
  'default',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'multipleOf',
  'enum',
  'maxProperties',
  'minProperties',
  'required',
  'items',
  'allOf',
  'oneOf',
  'anyOf',
  'not',
  'properties',
  'additionalProperties',
  'nullable',
  'example',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-list-type',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);

/** Keywords a structural schema forbids inside allOf/anyOf/oneOf/not. */
const FORBIDDEN_IN_JUNCTORS = ['type', 'description', 'default', 'additionalProperties', 'nullable'];

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

export class StructuralSchemaError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'StructuralSchemaError';
    this.path = path;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOfLiteral(value: unknown, path: string): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  throw new StructuralSchemaError(path, `unsupported literal ${JSON.stringify(value)}`);
}

/** Literal values of a union member (`const` or `enum`), or undefined when it is not a literal. */
function literalValues(member: Record<string, unknown>): unknown[] | undefined {
  if ('const' in member) return [member.const];
  if (Array.isArray(member.enum)) return member.enum as unknown[];
  return undefined;
}

/** Converts one TypeBox schema (already plain JSON) into structural form. */
function convert(input: Record<string, unknown>, path: string): JSONSchemaProps {
  const node: Record<string, unknown> = { ...input };
  delete node.$id;
  delete node.$schema;

  for (const key of ['$ref', '$defs', 'definitions', 'dependencies', 'dependentRequired', 'dependentSchemas',
    'if', 'then', 'else', 'additionalItems', 'prefixItems', 'contains', 'propertyNames', 'unevaluatedProperties']) {
    if (key in node) throw new StructuralSchemaError(path, `"${key}" has no structural form`);
  }
  if (node.uniqueItems === true) {
    throw new StructuralSchemaError(path, 'uniqueItems is not allowed; use x-kubernetes-list-type: set');
  }
  delete node.uniqueItems;

  // Literal -> single-value enum.
  if ('const' in node) {
    node.type ??= typeOfLiteral(node.const, path);
    node.enum = [node.const];
    delete node.const;
  }
  // Type.Enum emits only `enum`.
  if (Array.isArray(node.enum) && node.type === undefined) {
    const types = new Set(node.enum.map((v) => typeOfLiteral(v, path)));
    if (types.size !== 1) throw new StructuralSchemaError(path, 'enum values of mixed types');
    node.type = [...types][0];
  }

  if (Array.isArray(node.anyOf) && node['x-kubernetes-int-or-string'] !== true) {
    const members = node.anyOf as Record<string, unknown>[];
    delete node.anyOf;
    const nonNull = members.filter((m) => m.type !== 'null');
    if (nonNull.length < members.length) node.nullable = true;
    const literals = nonNull.map(literalValues);
    if (nonNull.length === 1) {
      // T | null
      Object.assign(node, { ...convert(nonNull[0]!, path), ...withoutUndefined(node) });
    } else if (literals.every((l) => l !== undefined)) {
      // 'a' | 'b' | 'c'
      const values = literals.flat();
      const types = new Set(values.map((v) => typeOfLiteral(v, path)));
      if (types.size !== 1) throw new StructuralSchemaError(path, 'union of literals of mixed types');
      node.type = [...types][0];
      node.enum = values;
    } else {
      throw new StructuralSchemaError(path, 'a union of non-literal types has no structural form (use IntOrString for int|string)');
    }
  }
  if (Array.isArray(node.oneOf) || Array.isArray(node.allOf)) {
    throw new StructuralSchemaError(path, 'oneOf/allOf from TypeBox are not mapped; express the rule with CEL');
  }

  // Type.Record(String, X) -> additionalProperties: X.
  if (isRecord(node.patternProperties)) {
    const entries = Object.entries(node.patternProperties);
    if (entries.length !== 1 || !['^.*$', '^(.*)$'].includes(entries[0]![0])) {
      throw new StructuralSchemaError(path, 'patternProperties other than a string-keyed record');
    }
    node.additionalProperties = entries[0]![1];
    delete node.patternProperties;
  }
  if (node.additionalProperties === false) {
    // The API server prunes (or with strict field validation rejects) unknown fields itself;
    // v1 CRDs forbid additionalProperties: false.
    delete node.additionalProperties;
  } else if (node.additionalProperties === true) {
    delete node.additionalProperties;
    node['x-kubernetes-preserve-unknown-fields'] = true;
  }

  if (isRecord(node.properties)) {
    const properties: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(node.properties)) {
      properties[name] = convert(child as Record<string, unknown>, `${path}.${name}`);
    }
    node.properties = properties;
  }
  if (isRecord(node.additionalProperties)) {
    node.additionalProperties = convert(node.additionalProperties, `${path}.*`);
  }
  if (Array.isArray(node.items)) throw new StructuralSchemaError(path, 'tuples have no structural form');
  if (isRecord(node.items)) node.items = convert(node.items, `${path}[*]`);
  // The API server validates a default (CEL rules included) as written, without applying
  // the nested defaults first, so an object default such as `{}` is expanded here with the
  // defaults of its properties.
  if (isRecord(node.default) && isRecord(node.properties)) {
    node.default = expandDefault(node.default, node.properties);
  }
  // A property with a default is filled in by the API server before validation, so it is
  // required in the TypeScript type (reads always have it) but optional for whoever writes.
  if (Array.isArray(node.required) && isRecord(node.properties)) {
    const properties = node.properties;
    node.required = (node.required as string[]).filter((name) => {
      const child = properties[name];
      return !(isRecord(child) && 'default' in child);
    });
  }
  if (Array.isArray(node.required) && node.required.length === 0) delete node.required;

  for (const key of Object.keys(node)) {
    if (!ALLOWED.has(key)) throw new StructuralSchemaError(path, `keyword "${key}" is not part of a CRD schema`);
  }
  return node;
}

function expandDefault(value: Record<string, unknown>, properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const [name, child] of Object.entries(properties)) {
    if (!isRecord(child)) continue;
    if (out[name] === undefined && child.default !== undefined) out[name] = structuredClone(child.default);
    if (isRecord(out[name]) && isRecord(child.properties)) out[name] = expandDefault(out[name], child.properties);
  }
  return out;
}

function withoutUndefined(node: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(node).filter(([, v]) => v !== undefined));
}

/** Returns the structural CRD form of a TypeBox schema. Throws StructuralSchemaError on what cannot be mapped. */
export function toStructural(schema: unknown, path = '<root>'): JSONSchemaProps {
  // A JSON round trip drops TypeBox's symbol and non-enumerable markers.
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return convert(plain, path);
}

/**
 * Lists every way a schema breaks the structural rules (KEP-2335) or the CEL practicalities
 * the API server enforces; empty when it is fine. Used by the unit tests on the rendered CRDs.
 */
export function structuralProblems(schema: unknown, path = '<root>', inJunctor = false, intOrString = false): string[] {
  const problems: string[] = [];
  if (!isRecord(schema)) return [`${path}: not an object`];
  for (const key of Object.keys(schema)) {
    if (!ALLOWED.has(key)) problems.push(`${path}: unsupported keyword "${key}"`);
  }
  if (inJunctor) {
    for (const key of FORBIDDEN_IN_JUNCTORS) {
      // The one exception: anyOf [{type: integer}, {type: string}] under x-kubernetes-int-or-string.
      if (key === 'type' && intOrString && Object.keys(schema).length === 1) continue;
      if (key in schema) problems.push(`${path}: "${key}" inside a logical junctor`);
    }
  } else {
    const opaque = schema['x-kubernetes-int-or-string'] === true || schema['x-kubernetes-preserve-unknown-fields'] === true;
    if (schema.type === undefined && !opaque) problems.push(`${path}: missing type`);
    if (schema.type !== undefined && !TYPES.has(schema.type as string)) problems.push(`${path}: bad type ${JSON.stringify(schema.type)}`);
  }
  if (schema.additionalProperties === false) problems.push(`${path}: additionalProperties: false`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) {
    problems.push(`${path}: properties and additionalProperties together`);
  }
  if (schema.type === 'array' && !isRecord(schema.items)) problems.push(`${path}: array without items`);
  if (schema['x-kubernetes-list-type'] === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'];
    const items = schema.items as Record<string, unknown> | undefined;
    const required = (items?.required as string[] | undefined) ?? [];
    if (!Array.isArray(keys) || keys.length === 0) problems.push(`${path}: list-type map without list-map-keys`);
    else for (const k of keys as string[]) if (!required.includes(k)) problems.push(`${path}: map key ${k} is not required`);
  }
  const rules = schema['x-kubernetes-validations'];
  if (rules !== undefined) {
    if (!Array.isArray(rules)) problems.push(`${path}: x-kubernetes-validations is not a list`);
    else {
      for (const r of rules as Record<string, unknown>[]) {
        if (typeof r.rule !== 'string' || r.rule === '') problems.push(`${path}: CEL rule without a rule`);
        if (typeof r.message !== 'string' && typeof r.messageExpression !== 'string') {
          problems.push(`${path}: CEL rule ${String(r.rule)} without a message`);
        }
      }
    }
  }
  if (isRecord(schema.properties)) {
    for (const [name, child] of Object.entries(schema.properties)) {
      problems.push(...structuralProblems(child, `${path}.${name}`, false));
    }
  }
  if (isRecord(schema.additionalProperties)) problems.push(...structuralProblems(schema.additionalProperties, `${path}.*`));
  if (isRecord(schema.items)) problems.push(...structuralProblems(schema.items, `${path}[*]`));
  for (const junctor of ['allOf', 'anyOf', 'oneOf']) {
    const members = schema[junctor];
    if (Array.isArray(members)) {
      const intOrStr = schema['x-kubernetes-int-or-string'] === true;
      members.forEach((m, i) => problems.push(...structuralProblems(m, `${path}.${junctor}[${i}]`, true, intOrStr)));
    }
  }
  if (isRecord(schema.not)) problems.push(...structuralProblems(schema.not, `${path}.not`, true));
  return problems;
}
