// A small ASN.1 DER writer (ITU-T X.690 §8, §10), and a reader of tag-length-value
// headers: just what X.509 certificates for the mesh need (mesh-pki.ts). Every writer
// returns the complete encoding of one value, so structures nest by concatenation.

/** Universal tags (X.680 §8.4) and the constructed/context bits used here. */
export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** X.690 §8.1.3: short form below 128, else the long form (0x80 | byte count, big-endian). */
function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(content.length), content]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

/** X.690 §11.6: a SET OF is sorted by encoding (one element in every use here, but be exact). */
export function set(...items: Buffer[]): Buffer {
  return tlv(TAG.set, Buffer.concat([...items].sort((a, b) => Buffer.compare(a, b))));
}

/** X.690 §11.1: TRUE is 0xff. */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

/**
 * A non-negative INTEGER from its big-endian magnitude: X.690 §8.3.2 minimal octets (no
 * leading 0x00 unless the next octet's top bit is set, which would read as negative).
 */
export function unsignedInteger(magnitude: Buffer | number): Buffer {
  const hex = typeof magnitude === 'number' ? magnitude.toString(16) : '';
  let b = typeof magnitude === 'number' ? Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex') : magnitude;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(TAG.integer, b);
}

/** X.690 §8.19: first two arcs as 40*a+b, every arc base 128 with the high bit on all but the last octet. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  const push = (v: bigint) => {
    const groups: number[] = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) groups.unshift(Number(x & 0x7fn) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.oid, Buffer.from(out));
}

/** X.690 §8.6: the first content octet counts the unused bits of the last one. */
export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A DER named-bit list (X.690 §11.2.2: trailing zero bits removed), bit 0 being the most
 * significant bit of the first octet, as X.509 KeyUsage numbers them.
 */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Buffer): Buffer {
  return tlv(TAG.octetString, bytes);
}

export function utf8String(s: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(s, 'utf8'));
}

export function printableString(s: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new Error(`not a PrintableString: ${s}`);
  return tlv(TAG.printableString, Buffer.from(s, 'ascii'));
}

/** [n] IMPLICIT over a primitive value: the context tag replaces the universal one. */
export function contextPrimitive(n: number, content: Buffer): Buffer {
  return tlv(0x80 | n, content);
}

/** [n] EXPLICIT (or IMPLICIT over a constructed type): a constructed context tag around `inner`. */
export function contextConstructed(n: number, ...inner: Buffer[]): Buffer {
  return tlv(0xa0 | n, Buffer.concat(inner));
}

/**
 * RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) for dates through 2049, GeneralizedTime
 * (YYYYMMDDHHMMSSZ) from 2050 on; always UTC, whole seconds, no fraction.
 */
export function x509Time(d: Date): Buffer {
  const year = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  if (year >= 1950 && year <= 2049) return tlv(TAG.utcTime, Buffer.from(`${p2(year % 100)}${rest}`, 'ascii'));
  if (year < 0 || year > 9999) throw new Error(`year ${year} cannot be encoded`);
  return tlv(TAG.generalizedTime, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'ascii'));
}

/** One decoded header: the value's tag and where its content and the whole encoding lie. */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Reads the TLV at `offset` (definite lengths only, as DER requires). */
export function readTlv(buf: Buffer, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let contentStart = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || contentStart + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[contentStart + i]!;
    contentStart += n;
  }
  const end = contentStart + len;
  if (end > buf.length) throw new Error('DER: value runs past the end');
  return { tag, start: offset, contentStart, end };
}

/** The direct children of a constructed value. */
export function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}
