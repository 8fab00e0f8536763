// The sending half of an endpoint (RFC 4975 §7.1.1, §7.1.2): a message becomes SEND chunks
// (internal/msrp's chunker); up to `window` chunks wait for their hop-by-hop 200 at once,
// the socket's 'drain' paces the writes, and REPORTs for the Message-ID end the send early
// (failure) or confirm delivery (success).
import { Readable } from 'node:stream';
import type { MsrpHeader, MsrpRequest, MsrpResponse } from '../msrp/frame.ts';
import { bodyLength, getHeader } from '../msrp/frame.ts';
import { buildChunk, chunkStream, ChunkerError, type ChunkerOptions } from '../msrp/chunker.ts';
import { parseByteRange, parseStatusHeader } from '../msrp/headers.ts';
import { newMessageId, newTransactionId } from '../msrp/transaction.ts';
import { reasonPhrase } from '../msrp/status.ts';
import type { Link, TransactionResult } from './link.ts';
import { addRange } from './receiver.ts';

export interface SendProgress {
  readonly messageId: string;
  /** Body bytes written to the socket. */
  readonly sent: number;
  /** Body bytes the next hop answered 200 for (equal to `sent` without responses). */
  readonly acknowledged: number;
  readonly total: number | undefined;
}

export interface SendOptions {
  /** Where the message goes: [our relay's Use-Path..., the peer's path...] or the peer's URI. */
  readonly toPath: readonly string[];
  /** A message held in memory. */
  readonly message?: string | Buffer;
  /** Or a byte stream (a file's ReadStream, stdin), with its size when known. */
  readonly stream?: AsyncIterable<Uint8Array>;
  readonly size?: number;
  /** Default "text/plain;charset=UTF-8" for a string, else "application/octet-stream". */
  readonly contentType?: string;
  /** MIME headers sent on every chunk before Content-Type (Content-Disposition, Content-Digest, ...). */
  readonly headers?: readonly MsrpHeader[];
  /** Largest chunk body (default 256 KiB). */
  readonly chunkSize?: number;
  /** Chunks awaiting their response at once (default 8). */
  readonly window?: number;
  /** Ask the recipient for a success REPORT and wait for it (RFC 4975 §7.1.2). Default false. */
  readonly successReport?: boolean;
  /** RFC 4975 §7.1.1 Failure-Report (default "yes": every chunk gets a response). */
  readonly failureReport?: 'yes' | 'partial' | 'no';
  readonly messageId?: string;
  /** How long to wait for the success REPORT after the last 200 (default 30 s). */
  readonly reportTimeoutMs?: number;
  readonly onProgress?: (p: SendProgress) => void;
  /** Aborting ends the message with a "#" chunk (RFC 4975 §7.1.1). */
  readonly signal?: AbortSignal;
}

export type SendErrorCode = 'rejected' | 'failure-report' | 'timeout' | 'closed' | 'aborted' | 'report-timeout' | 'bad-input';

export type SendResult =
  | {
      readonly ok: true;
      readonly messageId: string;
      readonly bytes: number;
      readonly elapsedMs: number;
      /** True when a success REPORT covering the whole message arrived. */
      readonly delivered: boolean;
    }
  | {
      readonly ok: false;
      readonly messageId: string;
      readonly code: SendErrorCode;
      /** MSRP status from the response or REPORT; 408 for timeouts. */
      readonly status: number;
      readonly message: string;
      readonly acknowledged: number;
    };

/** What the endpoint routes to a running send. */
export interface SendTracker {
  onReport(report: MsrpRequest): void;
  onStrayResponse(response: MsrpResponse): boolean;
}

interface Failure {
  code: SendErrorCode;
  status: number;
  message: string;
}

/** Runs one send over `link`. `register` hooks the tracker into the endpoint's REPORT routing. */
export async function runSend(link: Link, fromPath: readonly string[], o: SendOptions, register: (messageId: string, t: SendTracker) => () => void): Promise<SendResult> {
  const started = performance.now();
  const messageId = o.messageId ?? newMessageId();
  const failureReport = o.failureReport ?? 'yes';
  const window = Math.max(1, o.window ?? 8);
  const headers: MsrpHeader[] = [];
  if (o.successReport === true) headers.push({ name: 'Success-Report', value: 'yes' });
  if (failureReport !== 'yes') headers.push({ name: 'Failure-Report', value: failureReport });
  if (o.headers !== undefined) headers.push(...o.headers);
  const chunker: ChunkerOptions = {
    toPath: o.toPath, fromPath, messageId, headers,
    contentType: o.contentType ?? (typeof o.message === 'string' ? 'text/plain;charset=UTF-8' : 'application/octet-stream'),
    chunkSize: o.chunkSize ?? 256 * 1024,
  };

  let failure: Failure | undefined;
  let sent = 0;
  let acknowledged = 0;
  let total: number | undefined;
  let successRanges: [number, number][] = [];
  let wakeReport: (() => void) | undefined;
  const ourTids = new Set<string>();
  const fail = (f: Failure): void => {
    failure ??= f;
    wakeReport?.();
  };
  const progress = (): void => o.onProgress?.({ messageId, sent, acknowledged, total });

  const unregister = register(messageId, {
    onReport(report) {
      const statusText = getHeader(report, 'Status');
      const status = statusText === undefined ? undefined : parseStatusHeader(statusText);
      if (status === undefined || !status.ok) return;
      if (status.value.code !== 200) {
        fail({ code: 'failure-report', status: status.value.code, message: `REPORT ${status.value.code} ${status.value.comment || reasonPhrase(status.value.code)}` });
        return;
      }
      const rangeText = getHeader(report, 'Byte-Range');
      const range = rangeText === undefined ? undefined : parseByteRange(rangeText);
      if (range !== undefined && range.ok && range.value.end !== '*') successRanges = addRange(successRanges, range.value.start - 1, range.value.end);
      wakeReport?.();
    },
    onStrayResponse(response) {
      if (!ourTids.has(response.transactionId)) return false;
      // Failure-Report "partial": only errors are answered (RFC 4975 §7.2).
      if (response.status !== 200) fail({ code: 'rejected', status: response.status, message: `${response.status} ${response.comment}` });
      return true;
    },
  });

  const inFlight = new Set<Promise<void>>();
  const onResult = (chunkBytes: number, r: TransactionResult): void => {
    if (!r.ok) {
      fail({ code: r.code, status: 408, message: r.message });
      return;
    }
    if (r.response.status !== 200) {
      fail({ code: 'rejected', status: r.response.status, message: `${r.response.status} ${r.response.comment}`.trim() });
      return;
    }
    acknowledged += chunkBytes;
    progress();
  };

  const write = async (chunk: MsrpRequest): Promise<void> => {
    const frame = safeTransactionId(chunk);
    const n = bodyLength(frame);
    if (failureReport === 'yes') {
      const { written, result } = link.request(frame);
      const p = result.then((r) => onResult(n, r));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      sent += n;
      if (!written) await link.drained();
    } else {
      ourTids.add(frame.transactionId);
      let flushed!: () => void;
      const done = new Promise<void>((r) => (flushed = r));
      const written = link.write(frame, () => {
        acknowledged += n;
        progress();
        flushed();
      });
      if (link.closed) fail({ code: 'closed', status: 408, message: 'connection closed' });
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
      sent += n;
      if (!written) await link.drained();
    }
    progress();
  };

  const source = o.message !== undefined ? once(typeof o.message === 'string' ? Buffer.from(o.message, 'utf8') : o.message) : o.stream;
  if (source === undefined) {
    unregister();
    return { ok: false, messageId, code: 'bad-input', status: 400, message: 'send needs a message or a stream', acknowledged: 0 };
  }
  const size = o.message !== undefined ? (typeof o.message === 'string' ? Buffer.byteLength(o.message) : o.message.length) : o.size;
  total = size;
  let offset = 0;
  try {
    for await (const chunk of chunkStream(source, size === undefined ? chunker : { ...chunker, size })) {
      if (o.signal?.aborted === true) fail({ code: 'aborted', status: 413, message: 'send aborted' });
      if (failure !== undefined || link.closed) break;
      while (inFlight.size >= window && failure === undefined) await Promise.race(inFlight);
      if (failure !== undefined) break;
      if (chunk.continuation === '$') total = offset + bodyLength(chunk);
      offset += bodyLength(chunk);
      await write(chunk);
    }
  } catch (err) {
    const message = err instanceof ChunkerError ? err.message : `reading the message failed: ${(err as Error).message}`;
    fail({ code: 'bad-input', status: 400, message });
  }
  if (failure !== undefined && !link.closed && failure.code !== 'rejected' && failure.code !== 'failure-report') {
    // RFC 4975 §7.1.1: tell the receiver to discard what it has with an empty "#" chunk; it is
    // a transaction like any other, so once answered the receiver has let the message go.
    const abort = buildChunk(chunker, offset + 1, [], 0, total ?? '*', '#');
    if (failureReport === 'yes') await link.request(abort).result;
    else link.write(abort);
  }
  await Promise.all(inFlight);
  if (failure === undefined && link.closed && acknowledged < (total ?? 0)) fail({ code: 'closed', status: 408, message: 'connection closed' });

  let delivered = false;
  if (failure === undefined && o.successReport === true) {
    const whole = total ?? sent;
    const isDelivered = (): boolean => whole === 0 || (successRanges.length === 1 && successRanges[0]![0] === 0 && successRanges[0]![1] >= whole);
    if (!isDelivered()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.reportTimeoutMs ?? 30_000);
        timer.unref();
        wakeReport = () => {
          if (isDelivered() || failure !== undefined) {
            clearTimeout(timer);
            resolve();
          }
        };
        link.socket.once('close', () => wakeReport?.());
      });
    }
    delivered = isDelivered();
    if (!delivered && failure === undefined) fail({ code: 'report-timeout', status: 408, message: 'no success REPORT arrived' });
  }
  unregister();
  if (failure !== undefined) return { ok: false, messageId, ...failure, acknowledged };
  return { ok: true, messageId, bytes: total ?? sent, elapsedMs: performance.now() - started, delivered };
}

function once(b: Buffer): AsyncIterable<Uint8Array> {
  return Readable.from([b]) as AsyncIterable<Uint8Array>;
}

/**
 * RFC 4975 §7.1: the sender must make sure the end-line does not occur in the body. With 95
 * random bits a collision is improbable, but checking costs one indexOf per slice.
 */
function safeTransactionId(chunk: MsrpRequest): MsrpRequest {
  let frame = chunk;
  for (let tries = 0; tries < 8; tries++) {
    const needle = `-------${frame.transactionId}`;
    if (!frame.body.some((b) => b.includes(needle, 0, 'latin1'))) return frame;
    frame = { ...frame, transactionId: newTransactionId() };
  }
  return frame;
}
