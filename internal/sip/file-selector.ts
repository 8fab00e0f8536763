// The SDP attributes of file transfer (RFC 5547): a=file-selector describes the file, and
// a=file-transfer-id names one transfer. RFC 5547 (abstract, read): the offerer describes
// the files it wants to send (push) or would like to receive (pull), and the answerer
// accepts or refuses each; the file itself then travels in the MSRP session.
//
//   a=file-selector:name:"phototmp_1.jpg" type:image/jpeg size:195490 hash:sha-1:8D:55:...:DF
//   a=file-transfer-id:1391518338244
//
// Selectors are space-separated "name:value" pairs; the name is a quoted string (a quote,
// percent sign or line break percent-encoded), the others tokens. Unknown selectors are
// kept out of the result, not refused.
import { sipError, type SipResult } from './errors.ts';

export interface FileSelector {
  readonly name?: string;
  /** The file's media type (type "/" subtype, parameters as written). */
  readonly type?: string;
  readonly size?: number;
  readonly hash?: { readonly algorithm: string; readonly value: string };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MEDIA_TYPE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+(;[^\s]*)?$/;

function bad(detail: string): SipResult<never> {
  return { ok: false, error: sipError('bad-sdp', `a=file-selector: ${detail}`) };
}

/** Parses the value of a=file-selector. */
export function parseFileSelector(value: string): SipResult<FileSelector> {
  const out: { name?: string; type?: string; size?: number; hash?: { algorithm: string; value: string } } = {};
  let i = 0;
  const s = value.trim();
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i >= s.length) break;
    const colon = s.indexOf(':', i);
    if (colon < 0) return bad(`selector without a value at ${JSON.stringify(s.slice(i, i + 20))}`);
    const key = s.slice(i, colon).toLowerCase();
    i = colon + 1;
    if (key === 'name') {
      if (s[i] !== '"') return bad('name must be a quoted string');
      const close = s.indexOf('"', i + 1);
      if (close < 0) return bad('unterminated name');
      try {
        out.name = decodeURIComponent(s.slice(i + 1, close));
      } catch {
        out.name = s.slice(i + 1, close);
      }
      i = close + 1;
      continue;
    }
    let end = i;
    while (end < s.length && s[end] !== ' ' && s[end] !== '\t') end++;
    const v = s.slice(i, end);
    i = end;
    if (key === 'type') {
      if (!MEDIA_TYPE.test(v)) return bad(`bad type ${JSON.stringify(v)}`);
      out.type = v;
    } else if (key === 'size') {
      if (!/^\d{1,15}$/.test(v)) return bad(`bad size ${JSON.stringify(v)}`);
      out.size = Number(v);
    } else if (key === 'hash') {
      const k = v.indexOf(':');
      if (k <= 0 || !TOKEN.test(v.slice(0, k)) || !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/.test(v.slice(k + 1))) return bad(`bad hash ${JSON.stringify(v)}`);
      out.hash = { algorithm: v.slice(0, k).toLowerCase(), value: v.slice(k + 1).toUpperCase() };
    }
  }
  return { ok: true, value: out };
}
