// The list of received buffers behind MsrpParser (the `ws` Receiver's `_buffers` +
// `consume(n)`): bytes are consumed from the front by moving an offset and dropping
// exhausted buffers, never by copying.

/** A partially consumed buffer larger than this is copied when only a small tail remains, so it can be freed. */
const COMPACT_ABOVE = 65536;

export class BufferList {
  /** Received buffers; chunks[0] is consumed up to `offset`. */
  chunks: Buffer[] = [];
  offset = 0;
  /** Unconsumed bytes across all chunks. */
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Consumes n bytes from the front (n <= length). */
  advance(n: number): void {
    this.length -= n;
    const chunks = this.chunks;
    while (n > 0) {
      const left = chunks[0]!.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      chunks.shift();
      this.offset = 0;
    }
    if (chunks.length > 0 && this.offset === chunks[0]!.length) {
      chunks.shift();
      this.offset = 0;
    }
  }

  /** Lets a large, mostly consumed first buffer be collected by copying its tail (at most `maxTail` bytes). */
  compact(maxTail: number): void {
    const c = this.chunks[0];
    if (c !== undefined && c.length > COMPACT_ABOVE && c.length - this.offset <= maxTail) {
      this.chunks[0] = Buffer.from(c.subarray(this.offset));
      this.offset = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.offset = 0;
    this.length = 0;
  }
}
