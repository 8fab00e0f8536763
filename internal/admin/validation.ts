// Request validation: TypeBox schemas compiled once per route (schema first: the same
// schema is the OpenAPI document and the serializer). Adds what JSON Schema cannot say
// well: named string formats with reasons a person can act on, defaults applied to
// bodies (so that a declarative PUT with defaults omitted equals one with them spelled
// out), and a JSON body parser that refuses invalid UTF-8 naming the fields it hit.
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Format from 'typebox/format';
import Value from 'typebox/value';
import { ProblemError, type FieldError } from './errors.ts';
import { sipUriProblem, uriPatternProblem } from './room-uris.ts';

const CONTROL = /[\x00-\x1f\x7f]/;

interface NamedFormat {
  check(value: string): boolean;
  /** Why the value fails, for the `errors[].message` of a 400. */
  explain(value: string): string;
}

const plainText = (v: string): string | undefined =>
  !v.isWellFormed() ? 'must be well-formed Unicode (no unpaired surrogates)' :
  CONTROL.test(v) ? 'must not contain control characters' : undefined;

const identifier = (re: RegExp, rule: string): NamedFormat => ({
  check: (v) => re.test(v),
  explain: (v) => plainText(v) ?? `must be ${rule}`,
});

/** The formats our schemas use; registered with TypeBox once per process. */
export const FORMATS: Record<string, NamedFormat> = {
  'text': { check: (v) => plainText(v) === undefined, explain: (v) => plainText(v) ?? 'is not acceptable text' },
  // Multi-line text (welcome messages): newlines and tabs allowed, other controls not.
  'multiline-text': {
    check: (v) => v.isWellFormed() && !/[\x00-\x08\x0b-\x1f\x7f]/.test(v.replaceAll('\r\n', '\n')),
    explain: (v) => (v.isWellFormed() ? 'must not contain control characters other than newlines and tabs' : 'must be well-formed Unicode (no unpaired surrogates)'),
  },
  // A Digest realm is usually a domain name (RFC 7616 §3.3 leaves it free; we keep it DNS-like).
  'realm-name': identifier(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/, 'a domain-like name: letters, digits, and . _ - inside'),
  // A SIP user part that also works as a Digest username (no ":" per RFC 7617 §2).
  'username': identifier(/^[A-Za-z0-9]([A-Za-z0-9._~+-]*[A-Za-z0-9_~+-])?$/, 'letters, digits and . _ ~ + - (starting with a letter or digit)'),
  // As the ChatRoom CRD's spec.name (internal/operator/api/chatroom.ts).
  'room-name': identifier(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/, 'lower-case letters, digits and - _ . inside (as a ChatRoom name)'),
  'token-name': identifier(/^[A-Za-z0-9]([A-Za-z0-9 ._:@/-]*[A-Za-z0-9])?$/, 'letters, digits, spaces and . _ : @ / - inside'),
  'sip-uri': { check: (v) => sipUriProblem(v) === undefined, explain: (v) => sipUriProblem(v) ?? 'is not a SIP URI' },
  'uri-pattern': { check: (v) => uriPatternProblem(v) === undefined, explain: (v) => uriPatternProblem(v) ?? 'is not a URI pattern' },
};

let registered = false;
export function registerFormats(): void {
  if (registered) return;
  registered = true;
  for (const [name, f] of Object.entries(FORMATS)) Format.Set(name, (v) => f.check(v));
}

/** `/policy/allow/0` -> `policy.allow[0]`. */
export function fieldName(pointer: string): string {
  return pointer.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');
}

function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  for (const seg of pointer.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[seg];
  return v;
}

const PART: Record<string, FieldError['in']> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

interface TypeBoxError { keyword: string; instancePath: string; params: Record<string, unknown>; message: string }

/** TypeBox errors -> one entry per failing field, with the most useful message each. */
export function fieldErrors(errors: readonly TypeBoxError[], value: unknown, part: string): FieldError[] {
  const where = PART[part] ?? 'body';
  const out: FieldError[] = [];
  const seen = new Set<string>();
  const add = (field: string, message: string): void => {
    if (seen.has(field)) return; // first (most specific) message per field
    seen.add(field);
    out.push({ field, message, ...(where !== 'body' ? { in: where } : {}) });
  };
  for (const e of errors) {
    const field = fieldName(e.instancePath);
    const prefix = field === '' ? '' : `${field}.`;
    switch (e.keyword) {
      case 'boolean': break; // "schema is false": reported by additionalProperties below
      case 'required':
        for (const p of (e.params['requiredProperties'] as string[] | undefined) ?? []) add(prefix + p, 'is required');
        break;
      case 'additionalProperties':
        for (const p of (e.params['additionalProperties'] as string[] | undefined) ?? []) add(prefix + p, 'is not a known field');
        break;
      case 'format': {
        const f = FORMATS[String(e.params['format'])];
        const v = valueAt(value, e.instancePath);
        add(field, f && typeof v === 'string' ? f.explain(v) : e.message);
        break;
      }
      case 'enum':
        add(field, `must be one of ${((e.params['allowedValues'] as unknown[] | undefined) ?? []).map((x) => JSON.stringify(x)).join(', ')}`);
        break;
      default:
        add(field === '' ? '(body)' : field, e.message);
    }
  }
  return out;
}

/**
 * Validator compiler: bodies get their defaults filled in; query strings, path
 * parameters and headers are converted from text first (`?limit=5` -> 5).
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  registerFormats();
  const check = Compile(schema);
  return (input: unknown) => {
    let value = input;
    if (httpPart === 'body') {
      if (value !== undefined && value !== null) value = Value.Default(schema, value);
    } else {
      value = Value.Default(schema, Value.Convert(schema, value));
    }
    if (check.Check(value)) return { value };
    const errors = fieldErrors(check.Errors(value), value, httpPart ?? 'body');
    // Fastify hands this array to the error handler as error.validation.
    return { error: errors.map((e) => ({ ...e, message: e.message, instancePath: e.field, schemaPath: '', keyword: 'field', params: { in: e.in ?? PART[httpPart ?? 'body'] } })) as unknown as FastifySchemaValidationError[] };
  };
};

/** Strings in a parsed body that hold U+FFFD: where the invalid bytes were. */
function replacedFields(v: unknown, path: string, out: string[]): void {
  if (typeof v === 'string') {
    if (v.includes('\uFFFD')) out.push(path === '' ? '(body)' : path);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => replacedFields(x, `${path}[${i}]`, out));
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes('\uFFFD')) out.push(path === '' ? k : `${path}.${k}`);
      replacedFields(x, path === '' ? k : `${path}.${k}`, out);
    }
  }
}

/** application/json parser that refuses invalid UTF-8 (RFC 8259 §8.1) with the fields named. */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(body);
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch (e) {
      done(new ProblemError('malformed-body', `body is not valid JSON: ${(e as Error).message}`), undefined);
      return;
    }
    if (!isUtf8(body)) {
      const fields: string[] = [];
      replacedFields(parsed, '', fields);
      done(new ProblemError('validation', 'the body is not valid UTF-8', {
        errors: (fields.length > 0 ? fields : ['(body)']).map((field) => ({ field, message: 'must be valid UTF-8' })),
      }), undefined);
      return;
    }
    done(null, parsed);
  });
}
