// The one catalogue of admin API errors (STYLE.md "fastify": one error catalogue).
// Every error leaves as application/problem+json (RFC 9457) with a stable `type` URI
// built from the code below; clients switch on `type`, never on `title` or `detail`.
//
// Decision on optimistic concurrency: a stale If-Match answers 412 precondition-failed,
// as RFC 9110 §13.1.1 requires, and 409 conflict stays for state conflicts (duplicate
// names, a realm that still has users). docs/admin-api.md says the same.
import type { FastifyReply } from 'fastify';
import { StoreError } from '../store/errors.ts';

export const PROBLEM_BASE = 'https://msrp.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export const PROBLEMS = {
  'validation': { status: 400, title: 'The request has invalid fields' },
  'malformed-body': { status: 400, title: 'The request body is not valid JSON' },
  'invalid-cursor': { status: 400, title: 'The pagination cursor is not one this API issued' },
  'unauthenticated': { status: 401, title: 'A valid bearer token is required' },
  'forbidden': { status: 403, title: 'The token does not allow this operation' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'The resource does not support this method' },
  'conflict': { status: 409, title: 'The request conflicts with the current state' },
  'precondition-failed': { status: 412, title: 'The resource changed since the version given in If-Match' },
  'payload-too-large': { status: 413, title: 'The request body is larger than the limit' },
  'unsupported-media-type': { status: 415, title: 'The request body must be application/json' },
  'engine-error': { status: 502, title: 'The engine control endpoint answered unexpectedly' },
  'database-unavailable': { status: 503, title: 'The database is not reachable' },
  'engine-unavailable': { status: 503, title: 'The engine control endpoint is not reachable' },
  'internal': { status: 500, title: 'Internal error' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export interface FieldError {
  /** Dotted path of the failing field, e.g. `policy.allow[0]`; query/path parameters by name. */
  field: string;
  message: string;
  /** Where the field is: body (default), query, path or header. */
  in?: 'body' | 'query' | 'path' | 'header';
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
}

/** An error that knows its problem type; thrown by routes and hooks, rendered by the app. */
export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  constructor(code: ProblemCode, detail?: string, options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'ProblemError';
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string): ProblemError => new ProblemError('not-found', `${what}: not found`);

export const problemType = (code: ProblemCode): string => PROBLEM_BASE + code;

export function problemBody(code: ProblemCode, detail?: string, errors?: FieldError[], instance?: string): Problem {
  const p = PROBLEMS[code];
  return {
    type: problemType(code), title: p.title, status: p.status,
    ...(detail !== undefined ? { detail } : {}),
    ...(instance !== undefined ? { instance } : {}),
    ...(errors !== undefined ? { errors } : {}),
  };
}

/** A store failure as a problem: the store's codes map one to one. */
export function problemFromStore(e: StoreError): ProblemError {
  switch (e.code) {
    case 'not-found': return new ProblemError('not-found', e.message, { cause: e });
    case 'conflict': return new ProblemError('conflict', e.message, { cause: e });
    case 'invalid': return new ProblemError('validation', e.message, { cause: e });
    case 'precondition': return new ProblemError('precondition-failed', e.message, { cause: e });
    // Never leak driver text (host names, ports) to API callers: the log has it.
    case 'unavailable': return new ProblemError('database-unavailable', 'the database did not answer; retry later', { cause: e });
    case 'migration': return new ProblemError('internal', 'database schema problem', { cause: e });
  }
}

/** Sends a problem, bypassing the route's response schema (which describes success bodies). */
export function sendProblem(reply: FastifyReply, err: ProblemError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
  const body = problemBody(err.code, err.message, err.errors, reply.request.url.split('?')[0]);
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).serializer((b: unknown) => JSON.stringify(b)).send(body);
}

export { StoreError };
