// Session descriptions (RFC 8866): parse and format, keeping every line we do not model
// (unknown attributes, k=, z=, r=...) so that an offer survives a round trip. The field
// order is the one RFC 8866 §5 fixes:
//   v= o= s= [i=] [u=] *e= *p= [c=] *b= 1*(t= *r=) [z=] [k=] *a=  then per media:
//   m= [i=] *c= *b= [k=] *a=

import { sipError, type SipResult } from './errors.ts';

export interface SdpOrigin {
  readonly username: string;
  readonly sessionId: string;
  readonly sessionVersion: string;
  readonly netType: string;
  readonly addrType: string;
  readonly address: string;
}

export interface SdpConnection {
  readonly netType: string;
  readonly addrType: string;
  readonly address: string;
}

export interface SdpAttribute {
  readonly name: string;
  /** The text after the first ":", or null for a property attribute (`a=recvonly`). */
  readonly value: string | null;
}

export interface SdpTiming {
  /** The t= value, e.g. "0 0". */
  readonly time: string;
  /** Its r= lines. */
  readonly repeats: readonly string[];
}

export interface SdpMedia {
  readonly media: string;
  readonly port: number;
  readonly portCount: number | undefined;
  readonly proto: string;
  readonly formats: readonly string[];
  readonly information: string | undefined;
  readonly connections: readonly SdpConnection[];
  readonly bandwidths: readonly string[];
  readonly key: string | undefined;
  readonly attributes: readonly SdpAttribute[];
}

export interface SessionDescription {
  readonly version: number;
  readonly origin: SdpOrigin;
  readonly sessionName: string;
  readonly information: string | undefined;
  readonly uri: string | undefined;
  readonly emails: readonly string[];
  readonly phones: readonly string[];
  readonly connection: SdpConnection | undefined;
  readonly bandwidths: readonly string[];
  readonly timing: readonly SdpTiming[];
  readonly timeZones: string | undefined;
  readonly key: string | undefined;
  readonly attributes: readonly SdpAttribute[];
  readonly media: readonly SdpMedia[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

function bad(detail: string): SipResult<never> {
  return { ok: false, error: sipError('bad-sdp', detail) };
}

function parseConnection(value: string): SdpConnection | undefined {
  const p = value.split(' ');
  return p.length === 3 && p.every((x) => x !== '') ? { netType: p[0]!, addrType: p[1]!, address: p[2]! } : undefined;
}

export function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  return colon < 0 ? { name: value, value: null } : { name: value.slice(0, colon), value: value.slice(colon + 1) };
}

/** Parses an SDP body. Lines end in CRLF; a bare LF is accepted as RFC 8866 §5 allows. */
export function parseSdp(text: string | Buffer): SipResult<SessionDescription> {
  const lines = (typeof text === 'string' ? text : text.toString('utf8')).split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const session: Partial<Mutable<SessionDescription>> & Pick<Mutable<SessionDescription>, 'emails' | 'phones' | 'bandwidths' | 'timing' | 'attributes' | 'media'> = {
    emails: [], phones: [], bandwidths: [], timing: [], attributes: [], media: [],
  };
  let media: Mutable<SdpMedia> | undefined;
  for (const [index, line] of lines.entries()) {
    const m = /^([a-z])=(.*)$/.exec(line);
    if (!m) return bad(`line ${index + 1} is not <type>=<value>: ${JSON.stringify(line.slice(0, 40))}`);
    const type = m[1]!;
    const value = m[2]!;
    if (index === 0 && type !== 'v') return bad('the first line must be v=');
    if (media) {
      switch (type) {
        case 'i': media.information = value; continue;
        case 'c': {
          const c = parseConnection(value);
          if (!c) return bad(`bad c= ${value}`);
          media.connections.push(c);
          continue;
        }
        case 'b': media.bandwidths.push(value); continue;
        case 'k': media.key = value; continue;
        case 'a': media.attributes.push(parseAttribute(value)); continue;
        case 'm': break;
        default: return bad(`${type}= is not allowed in a media description`);
      }
    }
    switch (type) {
      case 'v':
        if (value !== '0') return bad('v= must be 0');
        session.version = 0;
        break;
      case 'o': {
        const p = value.split(' ');
        if (p.length !== 6 || p.some((x) => x === '')) return bad(`bad o= ${value}`);
        session.origin = { username: p[0]!, sessionId: p[1]!, sessionVersion: p[2]!, netType: p[3]!, addrType: p[4]!, address: p[5]! };
        break;
      }
      case 's': session.sessionName = value; break;
      case 'i': session.information = value; break;
      case 'u': session.uri = value; break;
      case 'e': session.emails.push(value); break;
      case 'p': session.phones.push(value); break;
      case 'c': {
        const c = parseConnection(value);
        if (!c) return bad(`bad c= ${value}`);
        session.connection = c;
        break;
      }
      case 'b': session.bandwidths.push(value); break;
      case 't': session.timing.push({ time: value, repeats: [] }); break;
      case 'r': {
        const last = session.timing[session.timing.length - 1];
        if (!last) return bad('r= before t=');
        session.timing[session.timing.length - 1] = { ...last, repeats: [...last.repeats, value] };
        break;
      }
      case 'z': session.timeZones = value; break;
      case 'k': session.key = value; break;
      case 'a': session.attributes.push(parseAttribute(value)); break;
      case 'm': {
        // m=<media> <port>[/<number of ports>] <proto> <fmt> ...
        const p = /^(\S+) (\d{1,5})(?:\/(\d+))? (\S+)((?: \S+)*)$/.exec(value);
        if (!p || Number(p[2]) > 65535) return bad(`bad m= ${value}`);
        media = {
          media: p[1]!, port: Number(p[2]), portCount: p[3] === undefined ? undefined : Number(p[3]), proto: p[4]!,
          formats: p[5]!.split(' ').filter((f) => f !== ''), information: undefined, connections: [], bandwidths: [], key: undefined, attributes: [],
        };
        session.media.push(media);
        break;
      }
      default:
        // RFC 8866 §5: a description with a type letter we do not understand is ignored as a whole.
        return bad(`unknown line type ${type}=`);
    }
  }
  if (session.version === undefined || !session.origin || session.sessionName === undefined || session.timing.length === 0) {
    return bad('v=, o=, s= and t= are mandatory (RFC 8866 §5)');
  }
  const complete: SessionDescription = {
    version: 0, origin: session.origin, sessionName: session.sessionName, information: session.information, uri: session.uri,
    emails: session.emails, phones: session.phones, connection: session.connection, bandwidths: session.bandwidths,
    timing: session.timing, timeZones: session.timeZones, key: session.key, attributes: session.attributes, media: session.media,
  };
  return { ok: true, value: complete };
}

const conn = (c: SdpConnection) => `${c.netType} ${c.addrType} ${c.address}`;
const attr = (a: SdpAttribute) => (a.value === null ? `a=${a.name}` : `a=${a.name}:${a.value}`);

export function formatSdp(sdp: SessionDescription): string {
  const o = sdp.origin;
  const lines = [`v=${sdp.version}`, `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`, `s=${sdp.sessionName}`];
  if (sdp.information !== undefined) lines.push(`i=${sdp.information}`);
  if (sdp.uri !== undefined) lines.push(`u=${sdp.uri}`);
  for (const e of sdp.emails) lines.push(`e=${e}`);
  for (const p of sdp.phones) lines.push(`p=${p}`);
  if (sdp.connection) lines.push(`c=${conn(sdp.connection)}`);
  for (const b of sdp.bandwidths) lines.push(`b=${b}`);
  for (const t of sdp.timing) lines.push(`t=${t.time}`, ...t.repeats.map((r) => `r=${r}`));
  if (sdp.timeZones !== undefined) lines.push(`z=${sdp.timeZones}`);
  if (sdp.key !== undefined) lines.push(`k=${sdp.key}`);
  for (const a of sdp.attributes) lines.push(attr(a));
  for (const m of sdp.media) {
    lines.push(`m=${m.media} ${m.port}${m.portCount === undefined ? '' : `/${m.portCount}`} ${m.proto}${m.formats.map((f) => ` ${f}`).join('')}`);
    if (m.information !== undefined) lines.push(`i=${m.information}`);
    for (const c of m.connections) lines.push(`c=${conn(c)}`);
    for (const b of m.bandwidths) lines.push(`b=${b}`);
    if (m.key !== undefined) lines.push(`k=${m.key}`);
    for (const a of m.attributes) lines.push(attr(a));
  }
  return lines.join('\r\n') + '\r\n';
}

/** Values of an attribute in a media description, then at session level (RFC 8866 §5.13: media-level wins). */
export function attributeValues(sdp: SessionDescription, media: SdpMedia, name: string): string[] {
  const pick = (list: readonly SdpAttribute[]) => list.filter((a) => a.name === name).map((a) => a.value ?? '');
  const own = pick(media.attributes);
  return own.length > 0 ? own : pick(sdp.attributes);
}
