// The SIP message model (RFC 3261 §7). Headers are an ordered list of (canonical name,
// single value): a list header received as "Allow: INVITE, ACK" becomes two entries, so
// code never splits commas again and the serializer can write them back either way.
// Content-Length is framing, not content: the parser consumes it and the serializer
// writes it from the body, so a message in memory can never disagree with its length.

import { canonicalName } from './headers.ts';

export interface SipHeader {
  /** Canonical spelling (Call-ID, CSeq, Via...) for known headers, as received otherwise. */
  readonly name: string;
  readonly value: string;
}

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  /** The Request-URI as received; parse with uri.ts when it is sip/sips. */
  readonly uri: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export const SIP_VERSION = 'SIP/2.0';

/** All values of a header, in order (case-insensitive, compact forms accepted). */
export function headerValues(msg: { readonly headers: readonly SipHeader[] }, name: string): string[] {
  const wanted = canonicalName(name).toLowerCase();
  const out: string[] = [];
  for (const h of msg.headers) if (h.name.toLowerCase() === wanted) out.push(h.value);
  return out;
}

/** The first value of a header, or undefined. */
export function headerValue(msg: { readonly headers: readonly SipHeader[] }, name: string): string | undefined {
  const wanted = canonicalName(name).toLowerCase();
  for (const h of msg.headers) if (h.name.toLowerCase() === wanted) return h.value;
  return undefined;
}

export function hasHeader(msg: { readonly headers: readonly SipHeader[] }, name: string): boolean {
  return headerValue(msg, name) !== undefined;
}

/** A copy of the header list without `name`, then `values` appended under it. */
export function replaceHeader(headers: readonly SipHeader[], name: string, ...values: string[]): SipHeader[] {
  const canonical = canonicalName(name);
  const lower = canonical.toLowerCase();
  return [...headers.filter((h) => h.name.toLowerCase() !== lower), ...values.map((value) => ({ name: canonical, value }))];
}

export interface RequestInit {
  method: string;
  uri: string;
  headers?: readonly (readonly [string, string])[] | readonly SipHeader[];
  body?: Buffer | string;
}

/** Builds a request; header names are canonicalised. */
export function request(init: RequestInit): SipRequest {
  return { kind: 'request', method: init.method, uri: init.uri, headers: toHeaders(init.headers), body: toBody(init.body) };
}

export interface ResponseInit {
  status: number;
  reason?: string;
  headers?: readonly (readonly [string, string])[] | readonly SipHeader[];
  body?: Buffer | string;
}

export function response(init: ResponseInit): SipResponse {
  return { kind: 'response', status: init.status, reason: init.reason ?? reasonPhrase(init.status), headers: toHeaders(init.headers), body: toBody(init.body) };
}

function toHeaders(list: RequestInit['headers']): SipHeader[] {
  if (list === undefined) return [];
  return list.map((h) => ('name' in h ? { name: canonicalName(h.name), value: h.value } : { name: canonicalName(h[0]), value: h[1] }));
}

function toBody(body: Buffer | string | undefined): Buffer {
  return body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

/** RFC 3261 §21 default reason phrases (plus 204/489 from RFC 5839/6665). */
const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required', 423: 'Interval Too Brief',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  489: 'Bad Event', 491: 'Request Pending', 493: 'Undecipherable',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Provisional' : status < 300 ? 'Success' : 'Failure');
}
