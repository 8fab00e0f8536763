// Browser stand-in for `node:crypto` (aliased by bundle.ts): the two calls internal/msrp and
// internal/sip make, for transaction ids, tags and branches, from crypto.getRandomValues.
import { Buffer } from 'buffer';

export function randomFillSync<T extends ArrayBufferView>(target: T): T {
  globalThis.crypto.getRandomValues(new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
  return target;
}

export function randomBytes(size: number): Buffer {
  return randomFillSync(Buffer.alloc(size));
}
