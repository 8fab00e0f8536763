// Browser stand-in for `node:crypto` (aliased by bundle.ts): the calls internal/msrp,
// internal/sip and internal/auth make. Random bytes (transaction ids, tags, branches, Digest
// cnonces) come from crypto.getRandomValues; the Digest hashes (RFC 7616 §3.4: MD5 and
// SHA-256, computed synchronously as auth/digest.ts does) from @noble/hashes, since WebCrypto
// has no MD5 and only an asynchronous SHA-256.
import { md5 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Buffer } from 'buffer';

export function randomFillSync<T extends ArrayBufferView>(target: T): T {
  globalThis.crypto.getRandomValues(new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
  return target;
}

export function randomBytes(size: number): Buffer {
  return randomFillSync(Buffer.alloc(size));
}

const HASHES = { md5, sha256 } as const;

/** The part of Node's Hash that auth/digest.ts uses: update(text or bytes), then digest('hex'). */
class Hash {
  readonly #fn: (typeof HASHES)[keyof typeof HASHES];
  readonly #parts: Uint8Array[] = [];

  constructor(name: keyof typeof HASHES) {
    this.#fn = HASHES[name];
  }

  update(data: string | Uint8Array, encoding?: 'utf8'): this {
    this.#parts.push(typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data);
    return this;
  }

  digest(encoding?: 'hex'): Buffer | string {
    const out = Buffer.from(this.#fn(Buffer.concat(this.#parts)));
    return encoding === undefined ? out : out.toString(encoding);
  }
}

export function createHash(name: string): Hash {
  const key = name.toLowerCase().replace('-', '');
  if (key !== 'md5' && key !== 'sha256') throw new Error(`createHash: ${name} is not available in the browser bundle`);
  return new Hash(key);
}

/** Compares every byte whatever the first difference (Node's contract; lengths must match). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) throw new RangeError('timingSafeEqual: inputs differ in length');
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
