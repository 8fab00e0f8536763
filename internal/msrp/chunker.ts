// Sender side of MSRP chunking (RFC 4975 §5.1, §7.1.1): a message becomes SEND requests,
// each with Byte-Range "start-end/total" and end-line flag "+" (more follows), "$" (last)
// or "#" (aborted). The receiver side is reassembler.ts.
//
// Chunk bodies are slices (`subarray`) of the caller's buffers: nothing is copied here.

import type { Continuation, MsrpHeader, MsrpRequest } from './frame.ts';
import type { ByteRange } from './headers.ts';
import { newTransactionId } from './transaction.ts';

/** RFC 4975 §9: range-start "-" range-end "/" total, where unknown values are "*". */
export function formatByteRange(r: ByteRange): string {
  return `${r.start}-${r.end}/${r.total}`;
}

export interface ChunkerOptions {
  readonly toPath: readonly string[];
  readonly fromPath: readonly string[];
  readonly messageId: string;
  /** Media type of the whole message; written on every chunk that has a body (RFC 4975 §9 content-stuff). */
  readonly contentType: string;
  /** Most body bytes per chunk (>= 1). */
  readonly chunkSize: number;
  /** More headers for every chunk (Success-Report, Failure-Report, ...), in order. */
  readonly headers?: readonly MsrpHeader[];
  /**
   * Write range-end "*" so a chunk can be cut short after its head went out
   * (RFC 4975 §7.1.1: a sender that may interrupt a chunk does not know where it ends).
   */
  readonly interruptible?: boolean;
  readonly newTransactionId?: () => string;
}

export type ChunkerErrorCode = 'bad-options' | 'size-mismatch';

/** Thrown only for caller mistakes (bad options, a stream longer or shorter than declared). */
export class ChunkerError extends Error {
  readonly code: ChunkerErrorCode;
  constructor(code: ChunkerErrorCode, message: string) {
    super(message);
    this.name = 'ChunkerError';
    this.code = code;
  }
}

function checkOptions(o: ChunkerOptions): void {
  if (!Number.isSafeInteger(o.chunkSize) || o.chunkSize < 1) throw new ChunkerError('bad-options', `chunkSize ${o.chunkSize} is not a positive integer`);
  if (o.toPath.length === 0 || o.fromPath.length === 0) throw new ChunkerError('bad-options', 'toPath and fromPath need at least one URI');
}

/** One SEND chunk. `start` is 1-based; `body` may be several slices. */
export function buildChunk(
  o: ChunkerOptions,
  start: number,
  body: readonly Buffer[],
  length: number,
  total: number | '*',
  continuation: Continuation,
): MsrpRequest {
  // RFC 4975 §7.1.1: an empty chunk has range-end = range-start - 1 ("1-0/0" for an empty message).
  const end: number | '*' = o.interruptible === true && length > 0 ? '*' : start + length - 1;
  const headers: MsrpHeader[] = [
    { name: 'Message-ID', value: o.messageId },
    { name: 'Byte-Range', value: formatByteRange({ start, end, total }) },
  ];
  if (o.headers !== undefined) headers.push(...o.headers);
  // RFC 4975 §9: Content-Type is the last header and present exactly when there is a body.
  if (length > 0) headers.push({ name: 'Content-Type', value: o.contentType });
  return {
    kind: 'request',
    method: 'SEND',
    transactionId: (o.newTransactionId ?? newTransactionId)(),
    toPath: o.toPath,
    fromPath: o.fromPath,
    headers,
    body,
    continuation,
  };
}

/**
 * Forwarders (the relay on a shared connection, the chat switch toward a recipient) interrupt
 * a chunk in progress only when it is larger than this, or of unknown length, so short
 * messages are never cut (RFC 4975 §7.1.1 allows any chunk to be interrupted).
 */
export const INTERRUPTIBLE_CHUNK_BYTES = 1024 * 1024;

/** An interruptible chunk yields to waiting frames once this many body bytes went out since its head. */
export const INTERRUPT_QUANTUM_BYTES = 64 * 1024;

/** True when a chunk announced as `range` (undefined: none given) may be interrupted by a forwarder. */
export function interruptibleRange(range: ByteRange | undefined): boolean {
  if (range === undefined || range.end === '*') return true;
  return range.end - range.start + 1 > INTERRUPTIBLE_CHUNK_BYTES;
}

/**
 * The Byte-Range of the rest of a chunk announced as `range` once `written` of its body bytes
 * went out in an interrupted piece (RFC 4975 §7.1.1): it starts at the next byte; the end and
 * total stay as announced.
 */
export function resumedByteRange(range: ByteRange, written: number): string {
  return formatByteRange({ start: range.start + written, end: range.end, total: range.total });
}

/**
 * The frame that actually went out when a chunk in progress was cut short after
 * `bytesSent` body bytes (RFC 4975 §7.1.1): same head, shorter body, flag "+" (interrupted,
 * the rest follows in a new chunk) or "#" (the message is aborted).
 */
export function interruptChunk(chunk: MsrpRequest, bytesSent: number, flag: '+' | '#' = '+'): MsrpRequest {
  const body: Buffer[] = [];
  let left = bytesSent;
  for (const b of chunk.body) {
    if (left <= 0) break;
    body.push(b.length <= left ? b : b.subarray(0, left));
    left -= b.length;
  }
  return { ...chunk, body, continuation: flag };
}

/**
 * Chunks a message held in memory. `next()` hands out chunks in order; `interrupt()` and
 * `abort()` cover RFC 4975 §7.1.1 interruption (e.g. to let a short message through
 * between chunks of a large file) and abort.
 */
export class BufferChunker {
  readonly #message: Buffer;
  readonly #options: ChunkerOptions;
  #offset = 0;
  #finished = false;

  constructor(message: Buffer, options: ChunkerOptions) {
    checkOptions(options);
    this.#message = message;
    this.#options = options;
  }

  /** Body bytes handed out so far (0-based offset of the next chunk). */
  get offset(): number {
    return this.#offset;
  }

  /** True once the "$" or "#" chunk has been handed out. */
  get finished(): boolean {
    return this.#finished;
  }

  next(): MsrpRequest | undefined {
    if (this.#finished) return undefined;
    const total = this.#message.length;
    const start = this.#offset;
    const end = Math.min(total, start + this.#options.chunkSize);
    const last = end === total;
    this.#offset = end;
    this.#finished = last;
    const body = end > start ? [this.#message.subarray(start, end)] : [];
    return buildChunk(this.#options, start + 1, body, end - start, total, last ? '$' : '+');
  }

  /**
   * `chunk` (the latest from `next()`) was cut short after `bytesSent` body bytes: returns
   * the frame as sent, ended with "+", and rewinds so the next chunk starts with the rest.
   */
  interrupt(chunk: MsrpRequest, bytesSent: number): MsrpRequest {
    const chunkLength = chunk.body.reduce((n, b) => n + b.length, 0);
    if (!Number.isSafeInteger(bytesSent) || bytesSent < 0 || bytesSent > chunkLength) {
      throw new ChunkerError('bad-options', `bytesSent ${bytesSent} outside 0..${chunkLength}`);
    }
    const sent = interruptChunk(chunk, bytesSent, '+');
    this.#offset -= chunkLength - bytesSent;
    this.#finished = false;
    return sent;
  }

  /** Ends the message with an empty "#" chunk at the current offset (RFC 4975 §7.1.1). */
  abort(): MsrpRequest {
    this.#finished = true;
    return buildChunk(this.#options, this.#offset + 1, [], 0, this.#message.length, '#');
  }
}

/** All chunks of an in-memory message. */
export function chunkMessage(message: Buffer, options: ChunkerOptions): MsrpRequest[] {
  const c = new BufferChunker(message, options);
  const out: MsrpRequest[] = [];
  for (let f = c.next(); f !== undefined; f = c.next()) out.push(f);
  return out;
}

/**
 * Chunks a stream (any async iterable of bytes, e.g. a Readable). With `size` known, every
 * chunk carries the total; without it, total is "*" until the last chunk (RFC 4975 §7.1.1).
 * To know which chunk is last, up to chunkSize + 1 bytes are held back; slices of the
 * source's buffers are kept, never copied.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  options: ChunkerOptions & { readonly size?: number },
): AsyncGenerator<MsrpRequest, void, undefined> {
  checkOptions(options);
  const { size, chunkSize } = options;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let sent = 0; // body bytes already emitted
  const take = (n: number): Buffer[] => {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const b = pending[0];
      if (b === undefined) break;
      if (b.length <= left) {
        out.push(b);
        pending.shift();
        left -= b.length;
      } else {
        out.push(b.subarray(0, left));
        pending[0] = b.subarray(left);
        left = 0;
      }
    }
    pendingBytes -= n - left;
    return out;
  };
  for await (const piece of source) {
    if (piece.length === 0) continue;
    pending.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.length));
    pendingBytes += piece.length;
    if (size !== undefined && sent + pendingBytes > size) {
      throw new ChunkerError('size-mismatch', `stream is longer than the declared ${size} bytes`);
    }
    // Emit while we are sure more bytes follow the chunk, so it is not the last one.
    while (pendingBytes > chunkSize) {
      const body = take(chunkSize);
      yield buildChunk(options, sent + 1, body, chunkSize, size ?? '*', '+');
      sent += chunkSize;
    }
  }
  const total = sent + pendingBytes;
  if (size !== undefined && total !== size) {
    throw new ChunkerError('size-mismatch', `stream ended after ${total} of the declared ${size} bytes`);
  }
  const length = pendingBytes;
  yield buildChunk(options, sent + 1, take(length), length, total, '$');
}
