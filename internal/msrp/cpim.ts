// message/cpim (RFC 3862) as MSRP and RFC 7701 chat rooms carry it.
//
// In MSRP, "Content-Type: message/cpim" is the MSRP header, so the body starts directly
// with the CPIM message headers (RFC 3862 §3.1's "m:" part is not in the body):
//
//   From: MR SANDERS <im:piglet@100akerwood.com>     message headers (RFC 3862 §3.3, §4)
//   NS: MyFeatures <mid:MessageFeatures@id.foo.com>
//   MyFeatures.WackyMessageOption: Use-silly-font
//                                                    blank line
//   Content-Type: text/plain                         encapsulated MIME headers
//                                                    blank line
//   <content, any bytes>
//
// Header syntax (RFC 3862 §3.3): Header-name ":" *( ";" Parameter ) SP Header-value, with
// Header-name = [ Name-prefix "." ] Name. Display names are tokens or quoted strings with
// the §3.2 escapes (\" \\ \b \t \n \r \' \uXXXX). The content is returned as a Buffer
// slice and never decoded: it may be binary (a file in a chat room).

import { MsrpStatus } from './status.ts';

/** RFC 3862 §3.3: the namespace of unprefixed headers. */
export const CPIM_DEFAULT_NAMESPACE = 'urn:ietf:params:cpim-headers:';
/** Bound on the two header blocks together; a longer head is refused, not scanned. */
export const MAX_CPIM_HEAD_BYTES = 64 * 1024;

export interface CpimAddress {
  readonly displayName?: string;
  readonly uri: string;
}
export interface CpimParameter {
  readonly name: string;
  readonly value?: string;
}
export interface CpimHeader {
  readonly prefix?: string;
  readonly name: string;
  /** Namespace URN the header name lives in (RFC 3862 §4.6). */
  readonly namespace: string;
  readonly params: readonly CpimParameter[];
  /** Value as written, escapes not decoded; typed fields of CpimMessage are decoded. */
  readonly value: string;
}
export interface MimeHeader {
  readonly name: string;
  readonly value: string;
}
export interface CpimSubject {
  readonly value: string;
  readonly lang?: string;
}

export interface CpimMessage {
  readonly from?: CpimAddress;
  readonly to: readonly CpimAddress[];
  readonly cc: readonly CpimAddress[];
  readonly dateTime?: string;
  readonly subject: readonly CpimSubject[];
  /** Prefix → namespace URN from NS headers (RFC 3862 §4.6). */
  readonly namespaces: ReadonlyMap<string, string>;
  readonly require: readonly string[];
  /** Every message header in order, the typed ones above included. */
  readonly headers: readonly CpimHeader[];
  readonly contentHeaders: readonly MimeHeader[];
  readonly contentType?: string;
  readonly content: Buffer;
}

export type CpimErrorCode =
  | 'missing-blank-line'
  | 'bad-header'
  | 'bad-address'
  | 'unknown-namespace-prefix'
  | 'head-too-large'
  | 'unsupported-required-header';

export interface CpimError {
  readonly code: CpimErrorCode;
  /** 400 for malformed CPIM, 413 for an oversized head, 415 for a Require we cannot honour. */
  readonly status: typeof MsrpStatus.BAD_REQUEST | typeof MsrpStatus.STOP_SENDING | typeof MsrpStatus.UNSUPPORTED_MEDIA_TYPE;
  readonly message: string;
}

export type CpimResult = { readonly ok: true; readonly message: CpimMessage } | { readonly ok: false; readonly error: CpimError };

export interface CpimParseOptions {
  /**
   * Accept a message whose blank line between message headers and MIME headers is
   * missing, as in the RFC 7701 §9 examples: a "Content-*" header among the message
   * headers is then taken as the start of the MIME headers.
   */
  readonly lenient?: boolean;
}

function err(code: CpimErrorCode, message: string, status: CpimError['status'] = MsrpStatus.BAD_REQUEST): CpimResult {
  return { ok: false, error: { code, status, message } };
}

// RFC 3862 §3.3 NAMECHAR (no "." so the prefix separator is unambiguous).
const NAME = /^[A-Za-z0-9!#$%&'*+\-^_`|~]+$/;

interface Line {
  readonly text: string;
  readonly next: number; // offset after the line ending
}

/** Reads one line ending in CRLF (or, leniently, LF) from `buf` at `at`. */
function readLine(buf: Buffer, at: number, limit: number): Line | null {
  const lf = buf.indexOf(0x0a, at);
  if (lf === -1 || lf >= limit) return null;
  const end = lf > at && buf[lf - 1] === 0x0d ? lf - 1 : lf;
  return { text: buf.toString('utf8', at, end), next: lf + 1 };
}

const CONTENT_PREFIX = 'content-';

function isContentNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d;
}

/**
 * Watches a message/cpim body arrive in pieces (a streamed MSRP chunk) and tells when its head
 * is complete, so parseCpim can be called once: two blank lines (RFC 3862 §3.1), or one
 * blank line after a block that already holds a Content-* header (the RFC 7701 §9 examples'
 * missing blank line, as parseCpim's `lenient` takes it). Each byte is looked at once and
 * nothing is kept, so a head that trickles in a few bytes per segment costs what a whole
 * one does; past MAX_CPIM_HEAD_BYTES it stays incomplete (the caller answers 413).
 */
export class CpimHeadScanner {
  #seen = 0;
  #blankLines = 0;
  /** Bytes of the current line so far, and whether they are exactly "\r". */
  #lineBytes = 0;
  #lineIsCr = false;
  /** How far the current line matches content-[A-Za-z0-9-]*: (8 past "content-"; -1 no match). */
  #match = 0;
  #sawContentHeader = false;
  #complete = false;

  /** Takes the next body bytes; true once the head is complete (and from then on). */
  push(segment: Buffer): boolean {
    if (this.#complete) return true;
    const n = Math.min(segment.length, MAX_CPIM_HEAD_BYTES - this.#seen);
    this.#seen += n;
    for (let i = 0; i < n; i++) {
      const c = segment[i]!;
      if (c === 0x0a) {
        if (this.#lineBytes === 0 || (this.#lineBytes === 1 && this.#lineIsCr)) {
          this.#blankLines++;
          if (this.#blankLines === 2 || this.#sawContentHeader) return (this.#complete = true);
        }
        this.#lineBytes = 0;
        this.#match = 0;
        continue;
      }
      this.#lineIsCr = this.#lineBytes === 0 && c === 0x0d;
      this.#lineBytes++;
      // A MIME header among the message headers: only the first block is looked at.
      if (this.#blankLines > 0 || this.#match < 0 || this.#sawContentHeader) continue;
      if (this.#match < CONTENT_PREFIX.length) {
        const lower = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
        this.#match = lower === CONTENT_PREFIX.charCodeAt(this.#match) ? this.#match + 1 : -1;
      } else if (c === 0x3a /* : */) {
        this.#sawContentHeader = true;
      } else if (!isContentNameChar(c)) {
        this.#match = -1;
      }
    }
    return false;
  }
}

/** Parses a message/cpim body (the MSRP body, from the message headers on). */
export function parseCpim(body: Buffer, options: CpimParseOptions = {}): CpimResult {
  const limit = Math.min(body.length, MAX_CPIM_HEAD_BYTES);
  const messageLines: string[] = [];
  const mimeLines: string[] = [];
  let at = 0;
  let inMime = false;
  for (;;) {
    const line = readLine(body, at, limit);
    if (line === null) {
      if (body.length > MAX_CPIM_HEAD_BYTES) return err('head-too-large', `CPIM headers exceed ${MAX_CPIM_HEAD_BYTES} bytes`, MsrpStatus.STOP_SENDING);
      const where = inMime ? 'after the encapsulated MIME headers' : 'after the CPIM message headers';
      return err('missing-blank-line', `no blank line ${where} (RFC 3862 §3.1)`);
    }
    at = line.next;
    if (line.text === '') {
      if (inMime) break;
      inMime = true;
      continue;
    }
    if (!inMime && /^content-[A-Za-z0-9-]*:/i.test(line.text)) {
      // A MIME header among the message headers: the blank line before the MIME headers is
      // missing. The RFC 7701 §9 examples have exactly this defect.
      if (options.lenient !== true) {
        return err('missing-blank-line', `${JSON.stringify(line.text)} is a MIME header among the CPIM message headers: the blank line between them is missing (RFC 3862 §3.1)`);
      }
      inMime = true;
    }
    (inMime ? mimeLines : messageLines).push(line.text);
  }

  const headers: CpimHeader[] = [];
  const namespaces = new Map<string, string>();
  const to: CpimAddress[] = [];
  const cc: CpimAddress[] = [];
  const subject: CpimSubject[] = [];
  const require: string[] = [];
  let from: CpimAddress | undefined;
  let dateTime: string | undefined;
  for (let n = 0; n < messageLines.length; n++) {
    const text = messageLines[n] ?? '';
    const h = parseHeaderLine(text, namespaces);
    if (typeof h === 'string') return err(h === 'prefix' ? 'unknown-namespace-prefix' : 'bad-header', describe(h, n, text));
    headers.push(h);
    if (h.namespace !== CPIM_DEFAULT_NAMESPACE) continue;
    // RFC 3862 §3.3: standard names matched case-insensitively here, to be liberal.
    const name = h.name.toLowerCase();
    if (name === 'from' || name === 'to' || name === 'cc') {
      const a = parseAddress(h.value);
      if (a === null) return err('bad-address', `${h.name} on line ${n + 1} is not [ Formal-name ] "<" URI ">" (RFC 3862 §4.1)`);
      if (name === 'from') from = a;
      else (name === 'to' ? to : cc).push(a);
    } else if (name === 'datetime') {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(h.value)) {
        return err('bad-header', `DateTime on line ${n + 1} is not an RFC 3339 date-time (RFC 3862 §4.4)`);
      }
      dateTime = h.value;
    } else if (name === 'subject') {
      const lang = h.params.find((p) => p.name.toLowerCase() === 'lang')?.value;
      subject.push(lang === undefined ? { value: unescape(h.value) } : { value: unescape(h.value), lang });
    } else if (name === 'ns') {
      const m = /^(?:([^\s<]+) +)?<([^>]*)>$/.exec(h.value);
      if (m === null) return err('bad-header', `NS on line ${n + 1} is not [ Name-prefix SP ] "<" URI ">" (RFC 3862 §4.6)`);
      namespaces.set(m[1] ?? '', m[2] ?? '');
    } else if (name === 'require') {
      for (const r of h.value.split(',')) if (r.trim() !== '') require.push(r.trim());
    }
  }

  const contentHeaders: MimeHeader[] = [];
  for (const text of mimeLines) {
    const colon = text.indexOf(':');
    if (colon <= 0 || !NAME.test(text.slice(0, colon))) return err('bad-header', `MIME header ${JSON.stringify(text)} has no name (RFC 3862 §3.1)`);
    contentHeaders.push({ name: text.slice(0, colon), value: text.slice(colon + 1).trim() });
  }
  const contentType = contentHeaders.find((h) => h.name.toLowerCase() === 'content-type')?.value;
  const message: CpimMessage = {
    ...(from === undefined ? {} : { from }),
    to,
    cc,
    ...(dateTime === undefined ? {} : { dateTime }),
    subject,
    namespaces,
    require,
    headers,
    contentHeaders,
    ...(contentType === undefined ? {} : { contentType }),
    content: body.subarray(at),
  };
  return { ok: true, message };
}

function describe(problem: 'syntax' | 'prefix', n: number, text: string): string {
  return problem === 'prefix'
    ? `line ${n + 1} ${JSON.stringify(text)} uses a namespace prefix no earlier NS header declares (RFC 3862 §4.6)`
    : `line ${n + 1} ${JSON.stringify(text)} is not Header-name ":" *(";" Parameter) SP Header-value (RFC 3862 §3.3)`;
}

/** One message header line; 'syntax' or 'prefix' on failure. */
function parseHeaderLine(text: string, namespaces: ReadonlyMap<string, string>): CpimHeader | 'syntax' | 'prefix' {
  const colon = text.indexOf(':');
  if (colon <= 0) return 'syntax';
  const fullName = text.slice(0, colon);
  const dot = fullName.indexOf('.');
  const prefix = dot === -1 ? undefined : fullName.slice(0, dot);
  const name = dot === -1 ? fullName : fullName.slice(dot + 1);
  if (!NAME.test(name) || (prefix !== undefined && !NAME.test(prefix))) return 'syntax';
  const namespace = prefix === undefined ? (namespaces.get('') ?? CPIM_DEFAULT_NAMESPACE) : namespaces.get(prefix);
  if (namespace === undefined) return 'prefix';
  const params: CpimParameter[] = [];
  let i = colon + 1;
  while (text.charCodeAt(i) === 0x3b /* ; */) {
    const m = /^;([A-Za-z0-9!#$%&'*+\-^_`|~]+)(?:=("(?:[^"\\]|\\.)*"|[^;\s]+))?/.exec(text.slice(i));
    if (m === null) return 'syntax';
    const pv = m[2];
    params.push(pv === undefined ? { name: m[1] ?? '' } : { name: m[1] ?? '', value: pv.startsWith('"') ? unescape(pv.slice(1, -1)) : pv });
    i += m[0].length;
  }
  if (i < text.length && text.charCodeAt(i) !== 0x20) return 'syntax';
  const value = text.slice(i + 1);
  const header = { name, namespace, params, value };
  return prefix === undefined ? header : { prefix, ...header };
}

/** RFC 3862 §4.1 (From, To, cc): [ Formal-name ] "<" URI ">", Formal-name = 1*( Token SP ) / String. */
export function parseAddress(value: string): CpimAddress | null {
  const v = value.trim();
  if (!v.endsWith('>')) return null;
  let rest: string;
  let displayName: string | undefined;
  if (v.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)" */.exec(v);
    if (m === null) return null;
    displayName = unescape(m[1] ?? '');
    rest = v.slice(m[0].length);
  } else {
    const lt = v.indexOf('<');
    if (lt === -1) return null;
    const name = v.slice(0, lt).trim();
    if (name !== '') displayName = name;
    rest = v.slice(lt);
  }
  if (!rest.startsWith('<') || rest.indexOf('>') !== rest.length - 1 || rest.length < 3) return null;
  const uri = rest.slice(1, -1);
  return displayName === undefined ? { uri } : { displayName, uri };
}

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', t: '\t', n: '\n', r: '\r', '"': '"', "'": "'", '\\': '\\' };

/** Decodes RFC 3862 §3.2 escapes; an unknown escape is kept as written. */
export function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(u[0-9A-Fa-f]{4}|[btnr"'\\])/g, (_m, e: string) =>
    e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (ESCAPES[e] ?? e),
  );
}

/** RFC 3862 §3.2: quote, backslash and control characters must be escaped. */
export function escape(s: string): string {
  return s.replace(/["\\\u0000-\u001f\u007f]/g, (c) => {
    if (c === '"' || c === '\\') return '\\' + c;
    const named = { '\b': 'b', '\t': 't', '\n': 'n', '\r': 'r' }[c];
    return named === undefined ? '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0') : '\\' + named;
  });
}

const TOKEN_WORDS = /^[!#-'*+\-.0-9A-Z^-~\u0080-\uffff]+( [!#-'*+\-.0-9A-Z^-~\u0080-\uffff]+)*$/;

/** Writes `Name <uri>`, quoting the display name only when it is not a run of tokens. */
export function formatAddress(a: CpimAddress): string {
  if (a.displayName === undefined || a.displayName === '') return `<${a.uri}>`;
  const name = TOKEN_WORDS.test(a.displayName) ? a.displayName : `"${escape(a.displayName)}"`;
  return `${name} <${a.uri}>`;
}

export interface CpimInit {
  readonly from?: CpimAddress;
  readonly to?: readonly CpimAddress[];
  readonly cc?: readonly CpimAddress[];
  readonly dateTime?: string | Date;
  readonly subject?: string | readonly CpimSubject[];
  /** Prefix → URN; written as NS headers before any header that uses them. */
  readonly namespaces?: Readonly<Record<string, string>>;
  readonly require?: readonly string[];
  /** Further message headers, values written as given (they must not contain CR or LF). */
  readonly headers?: readonly { readonly prefix?: string; readonly name: string; readonly value: string }[];
  readonly contentType?: string;
  readonly contentHeaders?: readonly MimeHeader[];
  readonly content: Buffer | string;
}

/** Writes a message/cpim body (without the MSRP Content-Type), CRLF line endings. */
export function formatCpim(m: CpimInit): Buffer {
  const lines: string[] = [];
  if (m.from !== undefined) lines.push(`From: ${formatAddress(m.from)}`);
  for (const a of m.to ?? []) lines.push(`To: ${formatAddress(a)}`);
  for (const a of m.cc ?? []) lines.push(`cc: ${formatAddress(a)}`);
  if (m.dateTime !== undefined) lines.push(`DateTime: ${m.dateTime instanceof Date ? m.dateTime.toISOString() : m.dateTime}`);
  const subjects = typeof m.subject === 'string' ? [{ value: m.subject }] : (m.subject ?? []);
  for (const s of subjects) lines.push(s.lang === undefined ? `Subject: ${escape(s.value)}` : `Subject:;lang=${s.lang} ${escape(s.value)}`);
  for (const [prefix, urn] of Object.entries(m.namespaces ?? {})) lines.push(prefix === '' ? `NS: <${urn}>` : `NS: ${prefix} <${urn}>`);
  if (m.require !== undefined && m.require.length > 0) lines.push(`Require: ${m.require.join(',')}`);
  for (const h of m.headers ?? []) lines.push(`${h.prefix === undefined ? '' : h.prefix + '.'}${h.name}: ${h.value}`);
  lines.push('');
  if (m.contentType !== undefined) lines.push(`Content-Type: ${m.contentType}`);
  for (const h of m.contentHeaders ?? []) lines.push(`${h.name}: ${h.value}`);
  lines.push('', '');
  for (const l of lines) if (/[\r\n]/.test(l)) throw new RangeError(`CPIM header ${JSON.stringify(l)} contains a line break`);
  const content = typeof m.content === 'string' ? Buffer.from(m.content, 'utf8') : m.content;
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), content]);
}

/**
 * RFC 3862 §4.7: a recipient that does not understand a header named in Require must
 * not process the message. `understood` holds names as "Prefix.Name" or "Name".
 * Answered with 415: the content, as sent, cannot be handled.
 */
export function checkRequire(m: CpimMessage, understood: ReadonlySet<string>): CpimError | null {
  for (const r of m.require) {
    if (!understood.has(r)) {
      return { code: 'unsupported-required-header', status: MsrpStatus.UNSUPPORTED_MEDIA_TYPE, message: `Require names ${JSON.stringify(r)}, which is not supported (RFC 3862 §4.7)` };
    }
  }
  return null;
}
