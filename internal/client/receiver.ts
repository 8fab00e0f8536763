// The receiving half of an endpoint (RFC 4975 §7.1.1, §7.1.2): SEND chunks are reassembled
// by Message-ID and Byte-Range, either in memory (text, small messages: internal/msrp's
// Reassembler) or straight into a file at the chunk's offset (attachments, any size).
// Each chunk is answered once it is stored (disk write done), which paces the sender; when
// more than HIGH_WATER bytes wait for the disk, reading from the connection pauses.
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Continuation, MsrpHeader, MsrpRequestHead } from '../msrp/frame.ts';
import { getHeader } from '../msrp/frame.ts';
import { parseByteRange, type ByteRange } from '../msrp/headers.ts';
import { Reassembler } from '../msrp/reassembler.ts';
import { MsrpStatus } from '../msrp/status.ts';
import { isFileMessage, parseContentDigest, parseDisposition, safeFileName, sha256File } from './file-meta.ts';
import type { BodySink, Link } from './link.ts';

export interface ReceivedFile {
  /** Where the bytes are: the final name, or the ".part" file when the digest did not match. */
  readonly path: string;
  /** The sanitised name the sender proposed. */
  readonly name: string;
  readonly sha256: string;
  /** 'verified': Content-Digest matched; 'absent': the sender declared none; 'mismatch': corrupt. */
  readonly digest: 'verified' | 'absent' | 'mismatch';
  readonly declaredSize: number | undefined;
}

export interface ReceivedMessage {
  readonly messageId: string;
  /** From-Path of the first chunk: the way back to the sender, original sender last. */
  readonly fromPath: readonly string[];
  readonly contentType: string | undefined;
  /** Headers of the first chunk other than the paths (Content-Disposition, ...). */
  readonly headers: readonly MsrpHeader[];
  readonly size: number;
  /** The body of a message kept in memory. */
  readonly body?: Buffer;
  /** Where a message saved as a file went. */
  readonly file?: ReceivedFile;
}

export interface ReceiveProgress {
  readonly messageId: string;
  readonly received: number;
  readonly total: number | undefined;
  readonly name?: string;
}

/** How the receiver talks back; the endpoint applies RFC 4975's reporting rules. */
export interface ReceiverReplies {
  /** Answers the chunk's transaction: 'accepted' / 'complete' with 200, 'rejected' with `status`. */
  answer(link: Link, head: MsrpRequestHead, outcome: 'accepted' | 'complete' | 'rejected', status: number, comment?: string): void;
  /** A REPORT about the message (success once complete; failure after a late error such as a bad digest). */
  report(link: Link, head: MsrpRequestHead, status: number, range: ByteRange, comment?: string): void;
}

export interface ReceiverOptions {
  /** Save attachments and non-text messages into this directory; without it everything stays in memory. */
  readonly saveFilesTo?: string;
  /** Largest message kept in memory (default 16 MiB); larger ones are refused with 413. */
  readonly maxMessageBytes?: number;
  /** Largest file accepted (default: no limit). */
  readonly maxFileBytes?: number;
  readonly onMessage?: (m: ReceivedMessage) => void;
  readonly onProgress?: (p: ReceiveProgress) => void;
}

const HIGH_WATER = 16 * 1024 * 1024;
const LOW_WATER = 4 * 1024 * 1024;
const MAX_FILES_IN_PROGRESS = 16;

interface FileState {
  readonly messageId: string;
  readonly first: MsrpRequestHead;
  readonly name: string;
  readonly tmpPath: string;
  readonly declaredSize: number | undefined;
  readonly declaredSha256: string | undefined;
  readonly fh: Promise<FileHandle>;
  queue: Promise<void>;
  /** Disjoint, sorted [start, end) byte ranges stored. */
  ranges: [number, number][];
  total: number | undefined;
  hash: Hash | undefined;
  hashedUpTo: number;
  failed: string | undefined;
  finished: boolean;
}

/** Adds [s, e) to a sorted list of disjoint ranges, merging neighbours. */
export function addRange(ranges: [number, number][], s: number, e: number): [number, number][] {
  if (e <= s) return ranges;
  const out: [number, number][] = [];
  let cur: [number, number] = [s, e];
  let placed = false;
  for (const r of ranges) {
    if (r[1] < cur[0]) out.push(r);
    else if (r[0] > cur[1]) {
      if (!placed) out.push(cur);
      placed = true;
      out.push(r);
    } else cur = [Math.min(r[0], cur[0]), Math.max(r[1], cur[1])];
  }
  if (!placed) out.push(cur);
  return out;
}

function covered(ranges: readonly [number, number][]): number {
  let n = 0;
  for (const [a, b] of ranges) n += b - a;
  return n;
}

export class Receiver {
  readonly #o: ReceiverOptions;
  readonly #replies: ReceiverReplies;
  readonly #memory: Reassembler;
  readonly #files = new Map<string, FileState>();
  /** Message-IDs saved recently, so late duplicates are answered without reopening files. */
  readonly #done = new Set<string>();
  readonly #pausedLinks = new Set<Link>();
  #queuedBytes = 0;

  constructor(o: ReceiverOptions, replies: ReceiverReplies) {
    this.#o = o;
    this.#replies = replies;
    this.#memory = new Reassembler({ maxMessageBytes: o.maxMessageBytes ?? 16 * 1024 * 1024 });
  }

  /** Opens the body sink for one SEND chunk. */
  openChunk(link: Link, head: MsrpRequestHead): BodySink {
    const messageId = getHeader(head, 'Message-ID');
    if (messageId === undefined) return this.#refuse(link, head, MsrpStatus.BAD_REQUEST, 'SEND without Message-ID');
    let range: ByteRange = { start: 1, end: '*', total: '*' };
    const rangeText = getHeader(head, 'Byte-Range');
    if (rangeText !== undefined) {
      const r = parseByteRange(rangeText);
      if (!r.ok) return this.#refuse(link, head, MsrpStatus.BAD_REQUEST, r.error.message);
      range = r.value;
    }
    if (this.#done.has(messageId)) return this.#ignore(link, head);
    const file = this.#files.get(messageId);
    if (file !== undefined) return this.#fileChunk(link, head, file, range);
    if (this.#o.saveFilesTo !== undefined && isFileMessage(head.headers)) {
      if (this.#files.size >= MAX_FILES_IN_PROGRESS) return this.#refuse(link, head, MsrpStatus.STOP_SENDING, 'too many files in progress');
      return this.#fileChunk(link, head, this.#newFile(messageId, head, this.#o.saveFilesTo), range);
    }
    return this.#memoryChunk(link, head, messageId);
  }

  /** Discards everything in progress (the endpoint is closing). */
  async close(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    for (const f of files) await this.#discardFile(f);
  }

  // ---- plumbing ------------------------------------------------------------------------

  #refuse(link: Link, head: MsrpRequestHead, status: number, comment: string): BodySink {
    let answered = false;
    return {
      data: () => undefined,
      end: () => {
        if (answered) return;
        answered = true;
        this.#replies.answer(link, head, 'rejected', status, comment);
      },
      abort: () => undefined,
    };
  }

  #ignore(link: Link, head: MsrpRequestHead): BodySink {
    return { data: () => undefined, end: () => this.#replies.answer(link, head, 'accepted', MsrpStatus.OK), abort: () => undefined };
  }

  // ---- in memory -----------------------------------------------------------------------

  #memoryChunk(link: Link, head: MsrpRequestHead, messageId: string): BodySink {
    const slices: Buffer[] = [];
    let length = 0;
    let tooLarge = false;
    const limit = this.#o.maxMessageBytes ?? 16 * 1024 * 1024;
    return {
      data: (segment) => {
        if (tooLarge) return;
        length += segment.length;
        // Stop holding bytes the moment the limit is crossed (the Reassembler would refuse them anyway).
        if (length > limit) {
          tooLarge = true;
          slices.length = 0;
          return;
        }
        slices.push(segment);
      },
      end: (continuation: Continuation) => {
        if (tooLarge) {
          this.#memory.discard(messageId);
          this.#replies.answer(link, head, 'rejected', MsrpStatus.STOP_SENDING, `message larger than ${limit} bytes`);
          return;
        }
        // RFC 4975 §5.4: an empty SEND without Content-Type only binds the connection.
        if (length === 0 && getHeader(head, 'Content-Type') === undefined && continuation === '$') {
          this.#replies.answer(link, head, 'accepted', MsrpStatus.OK);
          return;
        }
        const r = this.#memory.accept({ ...head, body: slices, continuation });
        if (!r.ok) {
          this.#replies.answer(link, head, 'rejected', r.error.status, r.error.message);
          return;
        }
        if (r.state !== 'complete') {
          this.#replies.answer(link, head, 'accepted', MsrpStatus.OK);
          if (r.state === 'partial') this.#o.onProgress?.({ messageId, received: r.received, total: r.total });
          return;
        }
        this.#replies.answer(link, head, 'complete', MsrpStatus.OK);
        this.#replies.report(link, head, MsrpStatus.OK, { start: 1, end: r.body.length, total: r.body.length });
        const headers = head.headers.filter((h) => !/^(Message-ID|Byte-Range|Success-Report|Failure-Report)$/i.test(h.name));
        this.#o.onMessage?.({ messageId, fromPath: head.fromPath, contentType: r.contentType, headers, size: r.body.length, body: r.body });
      },
      abort: () => undefined,
    };
  }

  // ---- to a file -----------------------------------------------------------------------

  #newFile(messageId: string, head: MsrpRequestHead, dir: string): FileState {
    const cd = getHeader(head, 'Content-Disposition');
    const disposition = cd === undefined ? undefined : parseDisposition(cd);
    const digest = getHeader(head, 'Content-Digest');
    const name = safeFileName(disposition?.filename, `msrp-${messageId}`);
    const tmpPath = join(dir, `.${name}.${messageId}.part`);
    const fh = open(tmpPath, 'w', 0o600);
    const state: FileState = {
      messageId, first: head, name, tmpPath,
      declaredSize: disposition?.size,
      declaredSha256: digest === undefined ? undefined : parseContentDigest(digest),
      fh, queue: fh.then(() => undefined),
      ranges: [], total: undefined, hash: createHash('sha256'), hashedUpTo: 0, failed: undefined, finished: false,
    };
    state.queue = state.queue.catch((err: Error) => {
      state.failed = `cannot create ${tmpPath}: ${err.message}`;
    });
    this.#files.set(messageId, state);
    return state;
  }

  #fileChunk(link: Link, head: MsrpRequestHead, f: FileState, range: ByteRange): BodySink {
    const begin = range.start - 1;
    let pos = begin;
    let aborted = false;
    const max = this.#o.maxFileBytes ?? Number.MAX_SAFE_INTEGER;
    let tooLarge = (range.total !== '*' && range.total > max) || (f.declaredSize !== undefined && f.declaredSize > max);
    return {
      data: (segment) => {
        if (aborted || tooLarge || f.failed !== undefined) return;
        const at = pos;
        pos += segment.length;
        if (pos > max) {
          tooLarge = true;
          return;
        }
        // Hash on the fly while the bytes arrive in order; otherwise re-read the file at the end.
        if (f.hash !== undefined) {
          if (at === f.hashedUpTo) {
            f.hash.update(segment);
            f.hashedUpTo += segment.length;
          } else f.hash = undefined;
        }
        this.#queued(link, segment.length);
        f.queue = f.queue.then(async () => {
          if (f.failed !== undefined) return;
          const fh = await f.fh;
          let off = 0;
          while (off < segment.length) {
            const { bytesWritten } = await fh.write(segment, off, segment.length - off, at + off);
            off += bytesWritten;
          }
        }).catch((err: Error) => {
          f.failed = `cannot write ${f.tmpPath}: ${err.message}`;
        }).finally(() => this.#queued(link, -segment.length));
      },
      end: (continuation) => {
        f.queue = f.queue.then(() => this.#chunkStored(link, head, f, begin, pos, continuation, tooLarge));
      },
      abort: () => {
        aborted = true;
      },
    };
  }

  #queued(link: Link, delta: number): void {
    this.#queuedBytes += delta;
    if (delta > 0 && this.#queuedBytes > HIGH_WATER && !this.#pausedLinks.has(link)) {
      this.#pausedLinks.add(link);
      link.pause('disk');
    } else if (delta < 0 && this.#queuedBytes <= LOW_WATER && this.#pausedLinks.size > 0) {
      for (const l of this.#pausedLinks) l.resume('disk');
      this.#pausedLinks.clear();
    }
  }

  async #chunkStored(link: Link, head: MsrpRequestHead, f: FileState, begin: number, end: number, continuation: Continuation, tooLarge: boolean): Promise<void> {
    if (f.finished) {
      this.#replies.answer(link, head, 'accepted', MsrpStatus.OK);
      return;
    }
    if (tooLarge || f.failed !== undefined) {
      this.#files.delete(f.messageId);
      await this.#discardFile(f);
      this.#replies.answer(link, head, 'rejected', MsrpStatus.STOP_SENDING, f.failed ?? 'file too large');
      return;
    }
    if (continuation === '#') {
      // RFC 4975 §7.1.1: the sender aborted the message; what was received is discarded.
      this.#files.delete(f.messageId);
      await this.#discardFile(f);
      this.#replies.answer(link, head, 'accepted', MsrpStatus.OK);
      return;
    }
    f.ranges = addRange(f.ranges, begin, end);
    if (continuation === '$') {
      if (f.total !== undefined && f.total !== end) {
        this.#replies.answer(link, head, 'rejected', MsrpStatus.BAD_REQUEST, `last chunk ends at ${end}, total was ${f.total}`);
        return;
      }
      f.total = end;
    }
    const received = covered(f.ranges);
    const complete = f.total !== undefined && received === f.total && f.ranges.length === 1 && f.ranges[0]![0] === 0;
    this.#replies.answer(link, head, complete ? 'complete' : 'accepted', MsrpStatus.OK);
    this.#o.onProgress?.({ messageId: f.messageId, received, total: f.total ?? f.declaredSize, name: f.name });
    if (complete) await this.#finishFile(link, head, f);
  }

  async #finishFile(link: Link, head: MsrpRequestHead, f: FileState): Promise<void> {
    f.finished = true;
    this.#files.delete(f.messageId);
    this.#remember(f.messageId);
    const size = f.total!;
    const fh = await f.fh;
    await fh.close();
    const sha256 = f.hash !== undefined && f.hashedUpTo === size ? f.hash.digest('hex') : await sha256File(f.tmpPath);
    const sizeOk = f.declaredSize === undefined || f.declaredSize === size;
    const digest = f.declaredSha256 === undefined ? 'absent' : f.declaredSha256 === sha256 ? 'verified' : 'mismatch';
    let path = f.tmpPath;
    const range = { start: 1, end: size, total: size };
    if (sizeOk && digest !== 'mismatch') {
      path = await this.#placeFile(f);
      this.#replies.report(link, head, MsrpStatus.OK, range);
    } else {
      // The bytes arrived but are not what the sender described: tell the sender (a failure
      // REPORT, RFC 4975 §7.1.2) and keep the evidence under the ".part" name.
      const why = sizeOk ? 'Content-Digest does not match the received bytes' : `received ${size} bytes, Content-Disposition said ${f.declaredSize}`;
      this.#replies.report(link, head, MsrpStatus.BAD_REQUEST, range, why);
    }
    const headers = f.first.headers.filter((h) => !/^(Message-ID|Byte-Range|Success-Report|Failure-Report)$/i.test(h.name));
    this.#o.onMessage?.({
      messageId: f.messageId, fromPath: f.first.fromPath, contentType: getHeader(f.first, 'Content-Type'), headers, size,
      file: { path, name: f.name, sha256, digest: sizeOk ? digest : 'mismatch', declaredSize: f.declaredSize },
    });
  }

  /** Renames the finished file to its name, or "name (n).ext" when that exists; never overwrites. */
  async #placeFile(f: FileState): Promise<string> {
    const dir = this.#o.saveFilesTo!;
    const ext = extname(f.name);
    const stem = f.name.slice(0, f.name.length - ext.length);
    for (let n = 0; n < 1000; n++) {
      const candidate = join(dir, n === 0 ? f.name : `${stem} (${n})${ext}`);
      try {
        // Reserve the name atomically ('wx' fails if it exists), then move the data over it.
        const reserved = await open(candidate, 'wx', 0o600);
        await reserved.close();
        await rename(f.tmpPath, candidate);
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return f.tmpPath;
  }

  async #discardFile(f: FileState): Promise<void> {
    f.finished = true;
    this.#remember(f.messageId);
    try {
      await (await f.fh).close();
    } catch {
      /* never opened */
    }
    await rm(f.tmpPath, { force: true });
  }

  #remember(messageId: string): void {
    this.#done.add(messageId);
    if (this.#done.size > 1024) this.#done.delete(this.#done.values().next().value!);
  }
}
