// multipart/mixed bodies (RFC 2046 §5.1) as RCS clients send them in a group-chat INVITE to a
// conference factory: the SDP offer and an application/resource-lists+xml (RFC 5366 §4,
// RFC 4826) naming the invitees. Pure: a body and its Content-Type in, the parts out.
import { sipError, type SipResult } from './errors.ts';
import { parseContentType } from './fields.ts';

export interface BodyPart {
  /** Lower-cased media type of the part ("text/plain" when it has no Content-Type, RFC 2046 §5.1.1). */
  readonly mediaType: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** Splits a multipart body by the boundary of `contentTypeValue`; the preamble and epilogue are dropped. */
export function parseMultipart(body: Buffer, contentTypeValue: string): SipResult<BodyPart[]> {
  const ct = parseContentType(contentTypeValue);
  const boundary = ct?.params.get('boundary')?.replace(/^"|"$/g, '');
  if (!ct || !ct.mediaType.startsWith('multipart/') || boundary === undefined || boundary === '') {
    return { ok: false, error: sipError('bad-body', 'multipart body without a boundary') };
  }
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const parts: BodyPart[] = [];
  let at = text.indexOf(delimiter);
  if (at < 0) return { ok: false, error: sipError('bad-body', 'no multipart delimiter') };
  for (;;) {
    const afterDelimiter = at + delimiter.length;
    if (text.startsWith('--', afterDelimiter)) break; // the close-delimiter
    const start = text.indexOf('\n', afterDelimiter);
    if (start < 0) break;
    const next = text.indexOf(`\n${delimiter}`, start);
    if (next < 0) return { ok: false, error: sipError('bad-body', 'multipart body without a close-delimiter') };
    const rawEnd = text[next - 1] === '\r' ? next - 1 : next;
    const raw = text.slice(start + 1, rawEnd);
    const blank = /\r?\n\r?\n/.exec(raw);
    const head = blank === null ? raw : raw.slice(0, blank.index);
    // latin1 maps byte to char one to one: string offsets are body offsets, so the part's
    // content is a slice of the body, not a copy through a string.
    const content = blank === null ? body.subarray(0, 0) : body.subarray(start + 1 + blank.index + blank[0].length, rawEnd);
    const headers = new Map<string, string>();
    for (const line of head.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const partType = headers.get('content-type');
    parts.push({
      mediaType: partType === undefined ? 'text/plain' : (parseContentType(partType)?.mediaType ?? 'application/octet-stream'),
      headers, body: content,
    });
    at = next + 1;
  }
  return { ok: true, value: parts };
}

/** The entry URIs of a resource list (RFC 4826 §3.2: <list><entry uri="..."/>); at most `max`. */
export function resourceListUris(xml: Buffer, max = 100): string[] {
  const out: string[] = [];
  for (const m of xml.toString('utf8').matchAll(/<(?:[\w.-]+:)?entry\b[^>]*?\buri\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    const uri = (m[2] ?? m[3] ?? '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'");
    if (uri !== '') out.push(uri);
    if (out.length >= max) break;
  }
  return out;
}
