// Start line and header section of a SIP message (RFC 3261 §7.1-§7.3, ABNF in §25.1),
// then the checks every element makes before acting on a message (§8.1.1, §8.2, §16.3).
// The framer (parser.ts) finds where a head ends; this file turns its bytes into a
// message or an error value.

import { isUtf8 } from 'node:buffer';
import { sipError, type SipParseError } from './errors.ts';
import { canonicalName, isListHeader, isToken, splitList } from './headers.ts';
import { parseContentType, parseCSeq, parseMaxForwards, parseNameAddr, parseVia } from './fields.ts';
import type { SipHeader, SipMessage } from './message.ts';

export interface ParsedHead {
  /** The message without its body; undefined when the start line could not be read. */
  readonly message: SipMessage | undefined;
  /** Content-Length, undefined when absent, NaN when unusable (malformed or contradictory). */
  readonly contentLength: number | undefined;
  readonly error: SipParseError | undefined;
}

const EMPTY = Buffer.alloc(0);
const REQUEST_URI = /^[A-Za-z][A-Za-z0-9+\-.]*:[^\s]+$/;
const VERSION = /^SIP\/(\d+)\.(\d+)$/i;
/** Anything but HTAB and printable characters; bare CR and LF are reported separately. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** Parses head bytes: start line and header lines, without the final empty line. */
export function parseHead(bytes: Buffer): ParsedHead {
  let error: SipParseError | undefined;
  const fail = (e: SipParseError) => {
    error ??= e;
  };
  // UTF-8 is allowed in reason phrases, display names and quoted strings (RFC 3261 §25.1 UTF8-NONASCII);
  // an invalid head is still split in latin1 so that Content-Length keeps the stream framed.
  const utf8 = isUtf8(bytes);
  if (!utf8) fail(sipError('invalid-utf8'));
  const lines = bytes.toString(utf8 ? 'utf8' : 'latin1').split('\r\n');
  for (const line of lines) {
    if (line.includes('\r') || line.includes('\n')) {
      fail(sipError('bad-line-ending'));
      break;
    }
    if (CONTROL.test(line)) {
      fail(sipError('control-char', JSON.stringify(line.slice(0, 40))));
      break;
    }
  }

  // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header line;
  // the fold and the whitespace around it are equivalent to a single SP.
  const headerLines: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (headerLines.length === 0) {
        fail(sipError('bad-header-line', 'the first header line starts with whitespace'));
        continue;
      }
      headerLines[headerLines.length - 1] = `${headerLines[headerLines.length - 1]!.trimEnd()} ${line.trim()}`;
    } else headerLines.push(line);
  }

  const headers: SipHeader[] = [];
  let contentLength: number | undefined;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon < 0) {
      fail(sipError('bad-header-line', JSON.stringify(line.slice(0, 40))));
      continue;
    }
    const rawName = line.slice(0, colon).replace(/[ \t]+$/, ''); // HCOLON = *( SP / HTAB ) ":" SWS
    if (!isToken(rawName)) {
      fail(sipError('bad-header-name', JSON.stringify(rawName.slice(0, 40))));
      continue;
    }
    const name = canonicalName(rawName);
    const value = line.slice(colon + 1).trim();
    if (name === 'Content-Length') {
      const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (Number.isNaN(n) || (contentLength !== undefined && contentLength !== n)) {
        const detail = Number.isNaN(n) ? JSON.stringify(value) : `values disagree: ${contentLength} and ${n}`;
        fail(sipError('bad-content-length', detail, { header: name, fatal: true }));
        contentLength = NaN;
      } else if (contentLength === undefined) contentLength = n;
      continue;
    }
    if (isListHeader(name) && value !== '') {
      for (const element of splitList(value)) headers.push({ name, value: element });
    } else headers.push({ name, value });
  }

  const start = parseStartLine(lines[0] ?? '');
  if ('code' in start) return { message: undefined, contentLength, error: error ?? start };
  const message: SipMessage = start.kind === 'request'
    ? { kind: 'request', method: start.method, uri: start.uri, headers, body: EMPTY }
    : { kind: 'response', status: start.status, reason: start.reason, headers, body: EMPTY };
  return { message, contentLength, error: error === undefined ? undefined : { ...error, partial: message } };
}

type StartLine =
  | { readonly kind: 'request'; readonly method: string; readonly uri: string }
  | { readonly kind: 'response'; readonly status: number; readonly reason: string };

function parseStartLine(line: string): StartLine | SipParseError {
  if (/^SIP\//i.test(line)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the phrase may be empty (RFC 4475 "noreason").
    const m = /^(\S+) (\d{3})(?: (.*))?$/.exec(line);
    if (!m) return sipError('bad-status-code', JSON.stringify(line.slice(0, 60)));
    if (!isSip20(m[1]!)) return sipError('bad-version', m[1]);
    const status = Number(m[2]);
    if (status < 100 || status > 699) return sipError('bad-status-code', m[2]);
    return { kind: 'response', status, reason: m[3] ?? '' };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly one SP between the
  // elements (RFC 4475 "lwsstart", "trws", "lwsruri": extra or trailing whitespace is invalid).
  const parts = line.split(' ');
  if (parts.length !== 3 || !isToken(parts[0]!)) return sipError('bad-start-line', JSON.stringify(line.slice(0, 60)));
  const [method, uri, version] = parts as [string, string, string];
  if (!VERSION.test(version)) return sipError('bad-start-line', JSON.stringify(line.slice(0, 60)));
  // RFC 4475 "ltgtruri": a Request-URI in angle brackets is a 400.
  if (!REQUEST_URI.test(uri)) return sipError('bad-request-uri', JSON.stringify(uri.slice(0, 60)));
  if (!isSip20(version)) return sipError('bad-version', version);
  return { kind: 'request', method, uri };
}

function isSip20(version: string): boolean {
  const m = VERSION.exec(version);
  return m !== null && Number(m[1]) === 2 && Number(m[2]) === 0;
}

const MANDATORY = ['Via', 'From', 'To', 'Call-ID', 'CSeq'] as const;
const SINGLE = ['From', 'To', 'Call-ID', 'CSeq', 'Max-Forwards', 'Content-Type'] as const;

/**
 * The checks a UA makes before looking at a message (RFC 3261 §8.1.1, §8.2.2, §20):
 * mandatory headers (reason "Missing Call-ID"), single-valued headers at most once,
 * and the grammar of the headers a transaction layer relies on.
 */
export function validateMessage(msg: SipMessage): SipParseError | undefined {
  const count = new Map<string, number>();
  for (const h of msg.headers) count.set(h.name, (count.get(h.name) ?? 0) + 1);
  const extra = (header: string) => ({ header, partial: msg });
  for (const name of MANDATORY) {
    if (!count.has(name)) return sipError('missing-header', name, { ...extra(name), reason: `Missing ${name}` });
  }
  for (const name of SINGLE) {
    if ((count.get(name) ?? 0) > 1) return sipError('duplicate-header', name, { ...extra(name), reason: `Multiple ${name}` });
  }
  for (const h of msg.headers) {
    const ok = h.name === 'Via' ? parseVia(h.value) !== undefined
      : h.name === 'From' || h.name === 'To' ? parseNameAddr(h.value) !== undefined
        : h.name === 'Max-Forwards' ? parseMaxForwards(h.value) !== undefined
          : h.name === 'Content-Type' ? parseContentType(h.value) !== undefined
            : h.name === 'Call-ID' ? /^\S+$/.test(h.value)
              : true;
    if (!ok) return sipError('bad-header-value', `${h.name}: ${JSON.stringify(h.value.slice(0, 60))}`, extra(h.name));
  }
  const cseqValue = msg.headers.find((h) => h.name === 'CSeq')!.value;
  const cseq = parseCSeq(cseqValue);
  if (!cseq) return sipError('bad-header-value', `CSeq: ${JSON.stringify(cseqValue.slice(0, 60))}`, extra('CSeq'));
  if (msg.kind === 'request' && cseq.method !== msg.method) {
    return sipError('cseq-method-mismatch', `${cseq.method} vs ${msg.method}`, extra('CSeq'));
  }
  return undefined;
}
