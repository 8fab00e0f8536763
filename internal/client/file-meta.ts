// How a file travels in MSRP with this client: the file's bytes are the message body, and
// every chunk carries two MIME headers (RFC 4975 §9 Other-Mime-header, before Content-Type):
//
//   Content-Disposition: attachment; filename="report.pdf"; size=123456      (RFC 2183, RFC 6266)
//   Content-Digest: sha-256=:<base64 of the SHA-256 of the whole file>:      (RFC 9530)
//
// RFC 5547 negotiates the same facts (name, size, hash) in SDP; we have no SDP between the
// `msrp` peers, so they ride on the message. The receiver names the file from
// Content-Disposition (sanitised), checks the size, and checks the digest before it
// renames the file into place.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { MsrpHeader } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { parseContentType } from '../msrp/headers.ts';
import { quote } from '../auth/params.ts';

export interface FileDescription {
  readonly name: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the content. */
  readonly sha256: string;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(piece as Buffer);
  return h.digest('hex');
}

/** The MIME headers describing a file (see the top of this file). */
export function fileHeaders(d: FileDescription): MsrpHeader[] {
  // RFC 6266 §4.3: a non-ASCII name goes in filename* (RFC 5987), with an ASCII fallback.
  const ascii = /^[\x20-\x7e]*$/.test(d.name);
  const fallback = ascii ? d.name : d.name.replace(/[^\x20-\x7e]/g, '_');
  let disposition = `attachment; filename=${quote(fallback)}`;
  if (!ascii) disposition += `; filename*=UTF-8''${encodeURIComponent(d.name)}`;
  disposition += `; size=${d.size}`;
  return [
    { name: 'Content-Disposition', value: disposition },
    { name: 'Content-Digest', value: `sha-256=:${Buffer.from(d.sha256, 'hex').toString('base64')}:` },
  ];
}

export interface Disposition {
  readonly type: string;
  readonly filename: string | undefined;
  readonly size: number | undefined;
}

/** Parses Content-Disposition (RFC 2183 / RFC 6266): type and the filename, filename* and size parameters. */
export function parseDisposition(value: string): Disposition | undefined {
  // Same parameter grammar as Content-Type, so reuse its parser on a fake "type/subtype".
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (type === '') return undefined;
  const p = parseContentType(`x/x${semi < 0 ? '' : value.slice(semi)}`);
  if (!p.ok) return { type, filename: undefined, size: undefined };
  let filename = p.value.params.get('filename');
  const ext = p.value.params.get('filename*');
  if (ext !== undefined) {
    const m = /^utf-8'[^']*'(.*)$/i.exec(ext);
    if (m !== null) {
      try {
        filename = decodeURIComponent(m[1]!);
      } catch {
        /* keep the plain filename */
      }
    }
  }
  const sizeText = p.value.params.get('size');
  const size = sizeText !== undefined && /^\d{1,15}$/.test(sizeText) ? Number(sizeText) : undefined;
  return { type, filename, size };
}

/** The SHA-256 in a Content-Digest value (RFC 9530 dictionary, byte sequence), as hex. */
export function parseContentDigest(value: string): string | undefined {
  for (const member of value.split(',')) {
    const m = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):\s*$/i.exec(member);
    if (m !== null) {
      const bytes = Buffer.from(m[1]!, 'base64');
      if (bytes.length === 32) return bytes.toString('hex');
    }
  }
  return undefined;
}

/**
 * A file name from a peer made safe to create in our directory: no path (either separator),
 * no control characters, not "." or "..", not hidden, bounded length.
 */
export function safeFileName(name: string | undefined, fallback: string): string {
  let n = basename((name ?? '').replace(/\\/g, '/'));
  n = n.replace(/[\x00-\x1f\x7f/]/g, '_').replace(/^\.+/, '').trim();
  if (n.length > 200) n = n.slice(n.length - 200);
  return n === '' ? fallback : n;
}

/** True when a message should be saved as a file rather than shown: an attachment, or not text. */
export function isFileMessage(headers: readonly MsrpHeader[]): boolean {
  const cd = getHeader({ headers }, 'Content-Disposition');
  if (cd !== undefined) {
    const d = parseDisposition(cd);
    if (d !== undefined && (d.type === 'attachment' || d.filename !== undefined)) return true;
  }
  const ct = getHeader({ headers }, 'Content-Type');
  if (ct === undefined) return false;
  const p = parseContentType(ct);
  if (!p.ok) return true;
  return !(p.value.type === 'text' || (p.value.type === 'message' && p.value.subtype === 'cpim'));
}
