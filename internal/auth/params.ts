// The credentials / challenge grammar shared by Digest and Basic (RFC 7235 §2.1):
//   credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//   auth-param  = token BWS "=" BWS ( token / quoted-string )
// and quoted-string with quoted-pair escapes (RFC 7230 §3.2.6).
import { authError, type AuthResult } from './errors.ts';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const isTchar = (c: string): boolean => TCHAR.test(c);
const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t';

export interface SchemeAndRest {
  scheme: string;
  rest: string;
}

/** Splits `Digest a=b, ...` into the scheme (as written) and the parameter text. */
export function splitScheme(header: string): AuthResult<SchemeAndRest> {
  const text = header.trim();
  let i = 0;
  while (i < text.length && isTchar(text[i]!)) i++;
  if (i === 0) return authError('malformed', 'credentials must start with an auth-scheme token');
  if (i < text.length && !isWs(text[i])) return authError('malformed', `unexpected ${JSON.stringify(text[i])} after the auth-scheme`);
  return { ok: true, value: { scheme: text.slice(0, i), rest: text.slice(i).trim() } };
}

/**
 * Parses a comma-separated auth-param list into a map keyed by lower-case name.
 * Tolerates optional whitespace and empty list elements (RFC 7230 §7); rejects
 * duplicate names (RFC 7616 §3.4 allows each directive once) and bad quoting.
 */
export function parseAuthParams(text: string): AuthResult<Map<string, string>> {
  const params = new Map<string, string>();
  let i = 0;
  const n = text.length;
  // Line breaks between parameters count as whitespace: RFC examples fold long
  // headers (obs-fold, RFC 7230 §3.2.4) and a tolerant reader unfolds them.
  const skipWs = (): void => {
    while (i < n && (isWs(text[i]) || text[i] === '\r' || text[i] === '\n')) i++;
  };
  while (i < n) {
    skipWs();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const nameStart = i;
    while (i < n && isTchar(text[i]!)) i++;
    if (i === nameStart) return authError('malformed', `expected a parameter name at offset ${i}`);
    const name = text.slice(nameStart, i).toLowerCase();
    skipWs();
    if (text[i] !== '=') return authError('malformed', `expected "=" after ${name}`);
    i++;
    skipWs();
    let value: string;
    if (text[i] === '"') {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        const c = text[i]!;
        if (c === '\\') {
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (i + 1 >= n) return authError('malformed', `dangling escape in ${name}`);
          out += text[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\r' || c === '\n' || c === '\0') return authError('malformed', `control character in ${name}`);
        out += c;
        i++;
      }
      if (!closed) return authError('malformed', `unterminated quoted-string in ${name}`);
      value = out;
    } else {
      const valueStart = i;
      while (i < n && isTchar(text[i]!)) i++;
      if (i === valueStart) return authError('malformed', `expected a token or quoted-string for ${name}`);
      value = text.slice(valueStart, i);
    }
    if (params.has(name)) return authError('duplicate-param', `parameter ${name} appears more than once`);
    params.set(name, value);
    skipWs();
    if (i < n && text[i] !== ',') return authError('malformed', `expected "," after ${name}`);
  }
  return { ok: true, value: params };
}

/** quoted-string for output: escapes `\` and `"` (RFC 7230 §3.2.6). */
export function quote(value: string): string {
  return '"' + value.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}
