// Receiver side of MSRP chunking (RFC 4975 §5.1, §7.1.1, §7.1.2): reassembles SEND chunks
// by Message-ID and Byte-Range. Chunks may arrive out of order, overlap or repeat (a sender
// may resend after a failure), leave gaps, and announce the total only at the end ("*").
// The sender side is chunker.ts.
//
// Memory is bounded like the ws Receiver's maxPayload: the limit is checked the moment a
// number is known (a declared total, a chunk's end), before any byte is stored. Stored
// bytes are copied out of the frame's slices so a kept chunk never pins a large socket
// buffer, and counted exactly.

import { bodyLength, getHeader, type MsrpRequest } from './frame.ts';
import { parseByteRange, type ByteRange } from './headers.ts';
import { MsrpStatus } from './status.ts';

export interface ReassemblerOptions {
  /** Largest message accepted, in bytes (default 16 MiB). Larger → 413. */
  readonly maxMessageBytes?: number;
  /** Most messages in progress at once (default 64). More → 413 for the new one. */
  readonly maxMessages?: number;
}

export type ReassemblyErrorCode =
  | 'not-send'
  | 'missing-message-id'
  | 'bad-byte-range'
  | 'byte-range-mismatch'
  | 'inconsistent-total'
  | 'beyond-total'
  | 'message-too-large'
  | 'too-many-messages';

export interface ReassemblyError {
  readonly code: ReassemblyErrorCode;
  /** RFC 4975 §7.3: 400 for a malformed chunk, 413 to make the sender stop this message. */
  readonly status: typeof MsrpStatus.BAD_REQUEST | typeof MsrpStatus.STOP_SENDING;
  readonly message: string;
  readonly messageId?: string;
}

export interface Progress {
  readonly messageId: string;
  /** Distinct body bytes held so far. */
  readonly received: number;
  /** Message size once any chunk has told it, else undefined. */
  readonly total: number | undefined;
}

export type ReassemblyResult =
  | ({ readonly ok: true; readonly state: 'partial' } & Progress)
  | ({ readonly ok: true; readonly state: 'complete'; readonly body: Buffer; readonly contentType: string | undefined } & Progress)
  /** RFC 4975 §7.1.1: "#" ends the message; what was received is discarded. */
  | ({ readonly ok: true; readonly state: 'aborted' } & Progress)
  /** A chunk of a message already completed or aborted (a resend): nothing to do. */
  | ({ readonly ok: true; readonly state: 'duplicate' } & Progress)
  | { readonly ok: false; readonly error: ReassemblyError };

interface Segment {
  /** 0-based offset in the message. */
  readonly start: number;
  readonly data: Buffer;
}

interface Pending {
  total: number | undefined;
  received: number;
  contentType: string | undefined;
  /** Sorted by start, never overlapping. */
  readonly segments: Segment[];
}

type Closed = 'complete' | 'aborted' | 'rejected';

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_MESSAGES = 64;

export class Reassembler {
  readonly #maxMessageBytes: number;
  readonly #maxMessages: number;
  readonly #pending = new Map<string, Pending>();
  /** Recently finished Message-IDs, oldest first, so late chunks are recognised (bounded). */
  readonly #closed = new Map<string, Closed>();

  constructor(options: ReassemblerOptions = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  }

  /** Messages in progress. */
  get size(): number {
    return this.#pending.size;
  }

  /** Bytes held across all messages in progress. */
  get bufferedBytes(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.received;
    return n;
  }

  progress(messageId: string): Progress | undefined {
    const p = this.#pending.get(messageId);
    return p === undefined ? undefined : { messageId, received: p.received, total: p.total };
  }

  /** Drops a message in progress (e.g. the session closed). */
  discard(messageId: string): void {
    if (this.#pending.delete(messageId)) this.#close(messageId, 'aborted');
  }

  /** Takes one SEND chunk. Never throws on bad input: errors are values with a status. */
  accept(frame: MsrpRequest): ReassemblyResult {
    if (frame.method !== 'SEND') return fail('not-send', MsrpStatus.BAD_REQUEST, `${frame.method} requests carry no message chunks`);
    const messageId = getHeader(frame, 'Message-ID');
    if (messageId === undefined) return fail('missing-message-id', MsrpStatus.BAD_REQUEST, 'SEND without Message-ID (RFC 4975 §7.1.1)');

    const closed = this.#closed.get(messageId);
    if (closed === 'rejected') {
      // RFC 4975 §7.3: 413 asks the sender to stop; chunks already in flight get it too.
      return fail('message-too-large', MsrpStatus.STOP_SENDING, `message ${messageId} was refused earlier`, messageId);
    }
    if (closed !== undefined) return { ok: true, state: 'duplicate', messageId, received: 0, total: undefined };

    // RFC 4975 §7.1.1: a SEND without Byte-Range carries the whole message in one chunk.
    const rangeHeader = getHeader(frame, 'Byte-Range');
    let range: ByteRange = { start: 1, end: '*', total: '*' };
    if (rangeHeader !== undefined) {
      const r = parseByteRange(rangeHeader);
      if (!r.ok) return fail('bad-byte-range', MsrpStatus.BAD_REQUEST, r.error.message, messageId);
      range = r.value;
    }
    const length = bodyLength(frame);
    const begin = range.start - 1; // 0-based
    const end = begin + length; // exclusive

    if (range.end !== '*') {
      const declared = range.end - range.start + 1;
      // A chunk may be cut short and ended with "+" or "#" (RFC 4975 §7.1.1 interruption),
      // never be longer than announced, and a "$" chunk must be exactly as announced.
      if (length > declared || (frame.continuation === '$' && length !== declared)) {
        return fail('byte-range-mismatch', MsrpStatus.BAD_REQUEST, `${length} body bytes for Byte-Range ${rangeHeader ?? ''}`, messageId);
      }
    }

    let p = this.#pending.get(messageId);
    if (frame.continuation === '#') {
      // RFC 4975 §7.1.1: the receiver discards the partial message.
      this.#pending.delete(messageId);
      this.#close(messageId, 'aborted');
      return { ok: true, state: 'aborted', messageId, received: p?.received ?? 0, total: p?.total };
    }

    let total = range.total === '*' ? undefined : range.total;
    // The "$" chunk is the last one: the message ends where it ends.
    if (frame.continuation === '$') {
      if (total !== undefined && total !== end) {
        return fail('inconsistent-total', MsrpStatus.BAD_REQUEST, `last chunk ends at byte ${end} but total is ${total}`, messageId);
      }
      total = end;
    }
    if ((total ?? 0) > this.#maxMessageBytes || end > this.#maxMessageBytes) {
      this.#reject(messageId);
      return fail('message-too-large', MsrpStatus.STOP_SENDING, `message ${messageId} exceeds ${this.#maxMessageBytes} bytes`, messageId);
    }
    if (p === undefined) {
      if (this.#pending.size >= this.#maxMessages) {
        this.#close(messageId, 'rejected');
        return fail('too-many-messages', MsrpStatus.STOP_SENDING, `more than ${this.#maxMessages} messages in progress`, messageId);
      }
      p = { total: undefined, received: 0, contentType: undefined, segments: [] };
      this.#pending.set(messageId, p);
    }
    if (total !== undefined) {
      if (p.total !== undefined && p.total !== total) {
        return fail('inconsistent-total', MsrpStatus.BAD_REQUEST, `total ${total} differs from the earlier ${p.total}`, messageId);
      }
      const last = p.segments[p.segments.length - 1];
      if (last !== undefined && last.start + last.data.length > total) {
        return fail('beyond-total', MsrpStatus.BAD_REQUEST, `earlier chunks reach past the total ${total}`, messageId);
      }
      p.total = total;
    }
    if (p.total !== undefined && end > p.total) {
      return fail('beyond-total', MsrpStatus.BAD_REQUEST, `chunk ends at byte ${end}, past the total ${p.total}`, messageId);
    }
    p.contentType ??= getHeader(frame, 'Content-Type');

    insert(p, begin, end, frame.body);

    if (p.total !== undefined && p.received === p.total) {
      this.#pending.delete(messageId);
      this.#close(messageId, 'complete');
      const parts = p.segments.map((s) => s.data);
      const body = parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts, p.total);
      return { ok: true, state: 'complete', messageId, received: p.received, total: p.total, body, contentType: p.contentType };
    }
    return { ok: true, state: 'partial', messageId, received: p.received, total: p.total };
  }

  #reject(messageId: string): void {
    this.#pending.delete(messageId);
    this.#close(messageId, 'rejected');
  }

  #close(messageId: string, how: Closed): void {
    this.#closed.delete(messageId);
    this.#closed.set(messageId, how);
    // Keep a bounded memory of finished ids: enough to catch stragglers of recent messages.
    if (this.#closed.size > this.#maxMessages * 4) {
      const oldest = this.#closed.keys().next();
      if (oldest.done !== true) this.#closed.delete(oldest.value);
    }
  }
}

function fail(code: ReassemblyErrorCode, status: ReassemblyError['status'], message: string, messageId?: string): ReassemblyResult {
  const error: ReassemblyError = messageId === undefined ? { code, status, message } : { code, status, message, messageId };
  return { ok: false, error };
}

/**
 * Stores bytes [begin, end) of the message that are not held yet. Bytes already held win
 * over a resend of the same range: RFC 4975 does not let a resend change content, and
 * keeping the first copy means nothing stored is ever rewritten.
 */
function insert(p: Pending, begin: number, end: number, body: readonly Buffer[]): void {
  const segs = p.segments;
  // First segment that ends after `begin` (binary search: segments are sorted and disjoint).
  let lo = 0;
  let hi = segs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = segs[mid];
    if (s !== undefined && s.start + s.data.length <= begin) lo = mid + 1;
    else hi = mid;
  }
  let i = lo;
  let pos = begin;
  while (pos < end) {
    const s = segs[i];
    const gapEnd = s === undefined ? end : Math.min(end, s.start);
    if (gapEnd > pos) {
      const data = copyRange(body, pos - begin, gapEnd - begin);
      segs.splice(i, 0, { start: pos, data });
      p.received += data.length;
      i++;
      pos = gapEnd;
      continue;
    }
    if (s === undefined) break;
    pos = Math.max(pos, s.start + s.data.length);
    i++;
  }
}

/** Copies bytes [from, to) of a body given as slices into one new buffer. */
function copyRange(body: readonly Buffer[], from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  let offset = 0; // position of the current slice within the body
  let written = 0;
  for (const b of body) {
    const sliceEnd = offset + b.length;
    if (sliceEnd > from && offset < to) {
      const a = Math.max(from, offset) - offset;
      const z = Math.min(to, sliceEnd) - offset;
      written += b.copy(out, written, a, z);
    }
    offset = sliceEnd;
    if (offset >= to) break;
  }
  return out;
}
