// Typed views of the headers a UAS reads (RFC 3261 §20, grammar in §25.1). Each parser
// takes one value (lists are already split by the message parser) and returns undefined
// when the value does not follow its grammar; the message parser turns that into a 400
// naming the header.

import { formatParams, isToken, parseParams, quotedEnd, quoteString, splitList, unquoteString, type Params } from './headers.ts';
import { headerValue, headerValues, type SipMessage } from './message.ts';

/** RFC 3261 §8.1.1.7: branch values from RFC 3261 elements start with this magic cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  /** "SIP/2.0" (protocol-name "/" protocol-version), upper-cased. */
  readonly protocol: string;
  /** UDP, TCP, TLS, SCTP, WS, WSS... upper-cased. */
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: true when present without a value (a request asking for it), a number once filled. */
  readonly rport: number | true | undefined;
  readonly params: Params;
}

// sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS.
const VIA_HEAD = /^([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+/;

/** Parses one via-parm (RFC 3261 §20.42, §25.1). */
export function parseVia(value: string): Via | undefined {
  const head = VIA_HEAD.exec(value);
  if (!head) return undefined;
  const rest = value.slice(head[0].length);
  const semi = rest.indexOf(';');
  const sentBy = (semi < 0 ? rest : rest.slice(0, semi)).trim();
  const hostPort = parseHostPort(sentBy);
  if (!hostPort) return undefined;
  const params = parseParams(semi < 0 ? '' : rest.slice(semi));
  if (!params) return undefined;
  const rportRaw = params.get('rport');
  let rport: number | true | undefined;
  if (rportRaw === null) rport = true;
  else if (rportRaw !== undefined) {
    if (!/^\d{1,5}$/.test(rportRaw)) return undefined;
    rport = Number(rportRaw);
  }
  return {
    protocol: `${head[1]!.toUpperCase()}/${head[2]!}`,
    transport: head[3]!.toUpperCase(),
    host: hostPort.host,
    port: hostPort.port,
    branch: params.get('branch') ?? undefined,
    received: params.get('received') ?? undefined,
    rport,
    params,
  };
}

export function formatVia(via: Pick<Via, 'protocol' | 'transport' | 'host' | 'port' | 'params'>): string {
  const host = via.host.includes(':') && !via.host.startsWith('[') ? `[${via.host}]` : via.host;
  return `${via.protocol}/${via.transport} ${host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(via.params)}`;
}

/** host [":" port]; IPv6 references keep their brackets. */
export function parseHostPort(text: string): { host: string; port: number | undefined } | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(0, close + 1);
    const after = text.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return undefined;
      portText = after.slice(1);
    }
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) return undefined;
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!/^[A-Za-z0-9]([A-Za-z0-9\-.]*[A-Za-z0-9.])?$/.test(host)) return undefined;
  }
  if (portText === undefined) return { host, port: undefined };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return undefined;
  return { host, port: Number(portText) };
}

/** name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route, Refer-To. */
export interface NameAddr {
  /** Display name, unquoted; undefined when absent. */
  readonly displayName: string | undefined;
  /** The URI between "<" and ">", or the bare addr-spec. */
  readonly uri: string;
  /** Header parameters (after ">" or after a bare addr-spec), e.g. tag, expires, isfocus. */
  readonly params: Params;
}

/**
 * Parses `[display-name] LAQUOT addr-spec RAQUOT *(SEMI param)` or `addr-spec *(SEMI param)`.
 * RFC 3261 §20.10: with a bare addr-spec, everything after the first ";" is a header parameter.
 */
export function parseNameAddr(value: string): NameAddr | undefined {
  const text = value.trim();
  let displayName: string | undefined;
  let rest: string;
  let uri: string;
  let i = 0;
  if (text.startsWith('"')) {
    const end = quotedEnd(text, 0);
    if (end < 0) return undefined;
    displayName = unquoteString(text.slice(0, end + 1));
    i = end + 1;
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (text[i] !== '<') return undefined;
  }
  const lt = text.indexOf('<', i);
  if (lt >= 0) {
    if (displayName === undefined) {
      const words = text.slice(0, lt).trim();
      // display-name = *(token LWS) / quoted-string
      if (words !== '' && !words.split(/\s+/).every(isToken)) return undefined;
      displayName = words === '' ? undefined : words;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) return undefined;
    uri = text.slice(lt + 1, gt).trim();
    rest = text.slice(gt + 1);
  } else {
    if (displayName !== undefined) return undefined;
    const semi = text.indexOf(';');
    uri = (semi < 0 ? text : text.slice(0, semi)).trim();
    rest = semi < 0 ? '' : text.slice(semi);
    // RFC 3261 §20.10: an addr-spec containing "," "?" or ";" must be enclosed in <>.
    if (/[\s,?]/.test(uri)) return undefined;
  }
  if (!/^[A-Za-z][A-Za-z0-9+\-.]*:\S+$/.test(uri)) return undefined;
  const params = parseParams(rest);
  if (!params) return undefined;
  return { displayName, uri, params };
}

export function formatNameAddr(addr: NameAddr): string {
  const name = addr.displayName === undefined ? '' : isDisplayTokens(addr.displayName) ? `${addr.displayName} ` : `${quoteString(addr.displayName)} `;
  return `${name}<${addr.uri}>${formatParams(addr.params)}`;
}

function isDisplayTokens(s: string): boolean {
  return s !== '' && s.split(' ').every(isToken);
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** RFC 3261 §8.1.1.5: the sequence number is a 32-bit unsigned integer, less than 2**31. */
export function parseCSeq(value: string): CSeq | undefined {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) return undefined;
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) return undefined;
  return { seq, method: m[2]! };
}

/** Max-Forwards: 1*DIGIT; RFC 4475 "scalar02" treats values above 255 as invalid. */
export function parseMaxForwards(value: string): number | undefined {
  if (!/^\d{1,10}$/.test(value.trim())) return undefined; // leading zeros are legal (RFC 4475 "wsinv": 0068)
  const n = Number(value.trim());
  return n <= 255 ? n : undefined;
}

export interface ContentType {
  /** type "/" subtype, lower-cased. */
  readonly mediaType: string;
  readonly params: Params;
}

export function parseContentType(value: string): ContentType | undefined {
  const m = /^\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*/.exec(value);
  if (!m) return undefined;
  const params = parseParams(value.slice(m[0].length));
  if (!params) return undefined;
  return { mediaType: `${m[1]}/${m[2]}`.toLowerCase(), params };
}

/** Contact: "*" (REGISTER only) or a name-addr with expires, q and feature tags such as isfocus (RFC 3840, RFC 4579). */
export type Contact = { readonly star: true } | (NameAddr & { readonly star: false; readonly expires: number | undefined });

export function parseContact(value: string): Contact | undefined {
  if (value.trim() === '*') return { star: true };
  const addr = parseNameAddr(value);
  if (!addr) return undefined;
  const e = addr.params.get('expires');
  let expires: number | undefined;
  if (e !== undefined && e !== null) {
    if (!/^\d{1,10}$/.test(e)) return undefined;
    expires = Number(e);
  }
  return { ...addr, star: false, expires };
}

// ---- message-level accessors ------------------------------------------------------------

export function topVia(msg: SipMessage): Via | undefined {
  const v = headerValue(msg, 'Via');
  return v === undefined ? undefined : parseVia(v);
}

export function vias(msg: SipMessage): Via[] {
  return headerValues(msg, 'Via').map(parseVia).filter((v): v is Via => v !== undefined);
}

export function fromHeader(msg: SipMessage): NameAddr | undefined {
  const v = headerValue(msg, 'From');
  return v === undefined ? undefined : parseNameAddr(v);
}

export function toHeader(msg: SipMessage): NameAddr | undefined {
  const v = headerValue(msg, 'To');
  return v === undefined ? undefined : parseNameAddr(v);
}

export function fromTag(msg: SipMessage): string | undefined {
  return fromHeader(msg)?.params.get('tag') ?? undefined;
}

export function toTag(msg: SipMessage): string | undefined {
  return toHeader(msg)?.params.get('tag') ?? undefined;
}

export function callId(msg: SipMessage): string | undefined {
  return headerValue(msg, 'Call-ID')?.trim();
}

export function cseq(msg: SipMessage): CSeq | undefined {
  const v = headerValue(msg, 'CSeq');
  return v === undefined ? undefined : parseCSeq(v);
}

export function maxForwards(msg: SipMessage): number | undefined {
  const v = headerValue(msg, 'Max-Forwards');
  return v === undefined ? undefined : parseMaxForwards(v);
}

export function contacts(msg: SipMessage): Contact[] {
  return headerValues(msg, 'Contact').map(parseContact).filter((c): c is Contact => c !== undefined);
}

export function routes(msg: SipMessage, name: 'Route' | 'Record-Route' = 'Route'): NameAddr[] {
  return headerValues(msg, name).map(parseNameAddr).filter((a): a is NameAddr => a !== undefined);
}

export function contentType(msg: SipMessage): ContentType | undefined {
  const v = headerValue(msg, 'Content-Type');
  return v === undefined ? undefined : parseContentType(v);
}

/** Option tags of Require, Proxy-Require, Supported or Unsupported (RFC 3261 §20.32, §20.37). */
export function optionTags(msg: SipMessage, name: 'Require' | 'Proxy-Require' | 'Supported' | 'Unsupported'): string[] {
  // Split again: messages built in code may carry "a, b" in one entry.
  return headerValues(msg, name).flatMap(splitList);
}
