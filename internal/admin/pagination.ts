// Opaque cursors: base64url of a small JSON document holding the last key of the page.
// Opaque so that the key shape can change without breaking clients; checked on the way
// in so that a tampered cursor is a 400, not a SQL surprise.
import type { Page } from '../store/page.ts';
import { ProblemError } from './errors.ts';

export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url');
}

export function decodeCursor<K extends string | number>(cursor: string | undefined, kind: 'string' | 'number'): K | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof v.k === kind && (kind === 'string' ? (v.k as string).length <= 512 : Number.isSafeInteger(v.k))) return v.k as K;
  } catch {
    // fall through
  }
  throw new ProblemError('invalid-cursor', 'cursor is not one this API issued', { errors: [{ field: 'cursor', message: 'is not a cursor this API issued', in: 'query' }] });
}

export function pageResponse<T, K extends string | number, R>(page: Page<T, K>, render: (t: T) => R): { items: R[]; nextCursor?: string } {
  return { items: page.items.map(render), ...(page.next !== undefined ? { nextCursor: encodeCursor(page.next) } : {}) };
}

/** ETag helpers: strong tags with the version inside quotes (RFC 9110 §8.8.3). */
export const etag = (version: string | number): string => `"${version}"`;

export function ifMatchVersion(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(header);
  if (!m) throw new ProblemError('validation', 'If-Match must be one entity tag from an ETag header', { errors: [{ field: 'if-match', message: 'must be one quoted entity tag, e.g. "3"', in: 'header' }] });
  return m[1];
}
