// Table of hostile values for every string field the admin API stores (issue: SQL
// metacharacters, overlong values, control characters, invalid UTF-8). Identifiers,
// URIs and patterns refuse all of them. Free text (descriptions, subjects, welcome
// messages, passwords) legitimately contains quotes and semicolons: there the SQL
// value must be stored verbatim (queries are parameterised) and the rest refused.
import assert from 'node:assert/strict';

type Kind = 'identifier' | 'text' | 'uri' | 'pattern';
type Json = Record<string, unknown>;

interface FieldDef {
  field: string;
  kind: Kind;
  max: number;
  method: 'POST' | 'PUT' | 'PATCH' | 'GET';
  /** `n` makes names unique per case. */
  url: (realm: string, n: number) => string;
  body?: (v: string, n: number) => Json;
  /** Where the accepted value shows up in the answer, to check it round-trips. */
  echo?: (answer: Json) => unknown;
}

export interface BadInputCase {
  method: string;
  url: string;
  field: string;
  label: string;
  payload: Buffer | string | undefined;
  accepted: boolean;
  verify?: (answer: Json) => Promise<void> | void;
  headers?: Record<string, string>;
}

const MARK = 'QQ_VALUE_QQ';
const SQL = `x'); DROP TABLE realms; --`;
const INVALID_UTF8 = Buffer.from([0x61, 0xc3, 0x28, 0xff, 0x62]);

const uriRoom = (v: string, n: number): Json => ({ uri: v === MARK ? MARK : `sip:r${n}@example.com`, });

const FIELDS: FieldDef[] = [
  { field: 'name', kind: 'identifier', max: 253, method: 'POST', url: () => '/v1/realms', body: (v) => ({ name: v }) },
  { field: 'description', kind: 'text', max: 1024, method: 'PATCH', url: (r) => `/v1/realms/${r}`, body: (v) => ({ description: v }), echo: (a) => a['description'] },
  { field: 'username', kind: 'identifier', max: 64, method: 'POST', url: (r) => `/v1/realms/${r}/users`, body: (v) => ({ username: v, password: 'valid password' }) },
  { field: 'password', kind: 'text', max: 256, method: 'POST', url: (r) => `/v1/realms/${r}/users`, body: (v, n) => ({ username: `pw${n}`, password: v }) },
  { field: 'password', kind: 'text', max: 256, method: 'PUT', url: (r) => `/v1/realms/${r}/users/pw/password`, body: (v) => ({ password: v }) },
  { field: 'uri', kind: 'uri', max: 512, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${n}`, body: (v, n) => uriRoom(v, n) },
  { field: 'subject', kind: 'text', max: 1024, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${process.pid}-${n}`, body: (v, n) => ({ ...uriRoom('', n), subject: v }), echo: (a) => a['subject'] },
  { field: 'policy.welcome', kind: 'text', max: 4096, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${process.pid}-${n}`, body: (v, n) => ({ ...uriRoom('', n), policy: { welcome: v } }), echo: (a) => (a['policy'] as Json)['welcome'] },
  { field: 'policy.allow[0]', kind: 'pattern', max: 512, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${n}`, body: (v, n) => ({ ...uriRoom('', n), policy: { allow: [v] } }) },
  { field: 'policy.deny[1]', kind: 'pattern', max: 512, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${n}`, body: (v, n) => ({ ...uriRoom('', n), policy: { deny: ['sip:*@ok.example.com', v] } }) },
  { field: 'policy.moderators[0]', kind: 'uri', max: 512, method: 'PUT', url: (_r, n) => `/v1/rooms/bad-${n}`, body: (v, n) => ({ ...uriRoom('', n), policy: { moderators: [v] } }) },
  { field: 'name', kind: 'identifier', max: 128, method: 'POST', url: () => '/v1/tokens', body: (v) => ({ name: v, role: 'read-only' }) },
];

function values(kind: Kind, max: number): { label: string; value: string | Buffer; rejected: boolean }[] {
  const long = kind === 'uri' || kind === 'pattern' ? `sip:${'a'.repeat(max)}@example.com` : 'a'.repeat(max + 1);
  return [
    { label: 'SQL metacharacters', value: SQL, rejected: kind !== 'text' },
    { label: 'SQL comment and quote', value: `" OR 1=1; --`, rejected: kind !== 'text' },
    { label: 'overlong', value: long, rejected: true },
    { label: 'NUL', value: kind === 'uri' || kind === 'pattern' ? 'sip:a\u0000b@example.com' : 'abcd\u0000efgh', rejected: true },
    { label: 'ESC', value: kind === 'uri' || kind === 'pattern' ? 'sip:a\u001bb@example.com' : 'abcd\u001b[31mefgh', rejected: true },
    { label: 'DEL', value: 'abcd\u007fefgh', rejected: true },
    { label: 'unpaired surrogate', value: 'abcd\ud800efgh', rejected: true },
    { label: 'invalid UTF-8', value: INVALID_UTF8, rejected: true },
  ];
}

function payload(body: Json, value: string | Buffer): Buffer {
  const text = JSON.stringify(body);
  const at = text.indexOf(`"${MARK}"`);
  assert.ok(at >= 0, `no ${MARK} in ${text}`);
  const inner = typeof value === 'string' ? Buffer.from(JSON.stringify(value), 'utf8') : Buffer.concat([Buffer.from('"'), value, Buffer.from('"')]);
  return Buffer.concat([Buffer.from(text.slice(0, at), 'utf8'), inner, Buffer.from(text.slice(at + MARK.length + 2), 'utf8')]);
}

let n = 0;
export function badInputCases(realm: string): BadInputCase[] {
  const out: BadInputCase[] = [];
  for (const f of FIELDS) {
    for (const v of values(f.kind, f.max)) {
      const i = n++;
      out.push({
        method: f.method, url: f.url(realm, i), field: f.field, label: v.label,
        payload: f.body ? payload(f.body(MARK, i), v.value) : undefined,
        accepted: !v.rejected,
        ...(f.echo && typeof v.value === 'string' ? { verify: (a: Json) => assert.equal(f.echo!(a), v.value) } : {}),
      });
    }
  }
  // Path and query parameters: a room name in the URL, a list filter.
  for (const v of values('identifier', 64)) {
    if (typeof v.value !== 'string' || !v.value.isWellFormed()) continue; // not expressible in a URL
    out.push({ method: 'PUT', url: `/v1/rooms/${encodeURIComponent(v.value)}`, field: 'name', label: `path ${v.label}`, payload: JSON.stringify({ uri: 'sip:a@example.com' }), accepted: false });
  }
  for (const v of values('text', 253)) {
    if (typeof v.value !== 'string' || !v.value.isWellFormed()) continue; // not expressible in a URL
    out.push({ method: 'GET', url: `/v1/realms?prefix=${encodeURIComponent(v.value)}`, field: 'prefix', label: `query ${v.label}`, payload: undefined, accepted: !v.rejected });
  }
  return out;
}
