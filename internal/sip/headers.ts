// Header names and list syntax (RFC 3261 §7.3, §25.1): canonical spelling, compact forms,
// which headers are comma-separated lists, splitting those lists outside quoted strings
// and angle brackets, and generic ";name=value" parameters.

/** RFC 3261 §7.3.3 and the extensions that define compact forms (IANA "Header Fields" registry). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'Accept-Contact', // RFC 3841
  b: 'Referred-By', // RFC 3892
  c: 'Content-Type',
  d: 'Request-Disposition', // RFC 3841
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact', // RFC 3841
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  n: 'Identity-Info', // RFC 4474
  o: 'Event', // RFC 6665
  r: 'Refer-To', // RFC 3515
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events', // RFC 6665
  v: 'Via',
  x: 'Session-Expires', // RFC 4028
  y: 'Identity', // RFC 8224
};

const COMPACT_OF: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(COMPACT_FORMS).map(([short, long]) => [long.toLowerCase(), short]),
);

/** Canonical spellings of the headers we know; other names are kept as received. */
const KNOWN = [
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events',
  'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition',
  'Content-Encoding', 'Content-Language', 'Content-Length', 'Content-Type', 'CSeq', 'Date', 'Error-Info',
  'Event', 'Expires', 'From', 'Identity', 'Identity-Info', 'In-Reply-To', 'Max-Forwards', 'MIME-Version',
  'Min-Expires', 'Min-SE', 'Organization', 'Path', 'Priority', 'Proxy-Authenticate', 'Proxy-Authorization',
  'Proxy-Require', 'RAck', 'Reason', 'Record-Route', 'Refer-To', 'Referred-By', 'Reject-Contact',
  'Reply-To', 'Request-Disposition', 'Require', 'Retry-After', 'Route', 'RSeq', 'Server', 'Service-Route',
  'Session-Expires', 'Subject', 'Subscription-State', 'Supported', 'Timestamp', 'To', 'Unsupported',
  'User-Agent', 'Via', 'Warning', 'WWW-Authenticate',
];
const CANONICAL: ReadonlyMap<string, string> = new Map(KNOWN.map((n) => [n.toLowerCase(), n]));

/**
 * Headers whose grammar is `#element` (RFC 3261 §7.3.1: several values may be combined
 * with commas). Authorization-family headers are not split: their commas separate
 * auth-params, not values; Date and Retry-After contain commas of their own.
 */
const LIST_HEADERS: ReadonlySet<string> = new Set([
  'accept', 'accept-contact', 'accept-encoding', 'accept-language', 'alert-info', 'allow', 'allow-events',
  'call-info', 'contact', 'content-encoding', 'content-language', 'error-info', 'in-reply-to', 'path',
  'proxy-require', 'reason', 'record-route', 'reject-contact', 'request-disposition', 'require', 'route',
  'service-route', 'supported', 'unsupported', 'via', 'warning',
]);

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/** Maps a received header name (any case, compact or long) to its canonical spelling. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const long = COMPACT_FORMS[lower];
    if (long !== undefined) return long;
  }
  return CANONICAL.get(lower) ?? name;
}

/** The compact form of a canonical name, when it has one. */
export function compactName(name: string): string | undefined {
  return COMPACT_OF[name.toLowerCase()];
}

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(name.toLowerCase());
}

/**
 * Splits a list value on commas that are outside quoted strings and angle brackets
 * (RFC 3261 §7.3.1); elements are trimmed and empty elements dropped (RFC 7230 §7 leniency).
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // quoted-pair
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      push(value.slice(start, i));
      start = i + 1;
    }
  }
  push(value.slice(start));
  return out;

  function push(element: string): void {
    const t = element.trim();
    if (t !== '') out.push(t);
  }
}

/** Generic parameters in order; a parameter without "=" has the value null. Names are lower-cased. */
export type Params = Map<string, string | null>;

/**
 * Parses `*( SEMI generic-param )` (RFC 3261 §25.1), starting with the first ";".
 * Values keep quotes unless `unquote` is set. Returns undefined on bad syntax.
 */
export function parseParams(text: string, unquote = false): Params | undefined {
  const params: Params = new Map();
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  skipWs();
  while (i < n) {
    if (text[i] !== ';') return undefined;
    i++;
    skipWs();
    const nameStart = i;
    while (i < n && !';= \t'.includes(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!isToken(name)) return undefined;
    skipWs();
    let value: string | null = null;
    if (text[i] === '=') {
      i++;
      skipWs();
      if (text[i] === '"') {
        const end = quotedEnd(text, i);
        if (end < 0) return undefined;
        value = unquote ? unquoteString(text.slice(i, end + 1)) : text.slice(i, end + 1);
        i = end + 1;
      } else {
        const valueStart = i;
        while (i < n && !'; \t'.includes(text[i]!)) i++;
        value = text.slice(valueStart, i);
        if (value === '') return undefined;
      }
      skipWs();
    }
    params.set(name.toLowerCase(), value);
  }
  return params;
}

/** Formats parameters back to `;name=value` text. */
export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** Index of the closing quote of the quoted string starting at `start`, or -1. */
export function quotedEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i;
  }
  return -1;
}

/** `"a \"b\""` → `a "b"`; a value that is not quoted is returned as is. */
export function unquoteString(s: string): string {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return s;
  return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function quoteString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}
