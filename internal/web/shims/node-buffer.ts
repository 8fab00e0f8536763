// Browser stand-in for `node:buffer` (aliased by bundle.ts): the `buffer` package's Buffer,
// and isUtf8 (Node >= 18.14) with a fatal TextDecoder.
import { Buffer } from 'buffer';

export { Buffer };

const strict = new TextDecoder('utf-8', { fatal: true });

export function isUtf8(input: ArrayBufferView | ArrayBuffer): boolean {
  try {
    // Typed arrays and DataViews are what TextDecoder takes; the cast only names them.
    strict.decode(input as Uint8Array);
    return true;
  } catch {
    return false;
  }
}
