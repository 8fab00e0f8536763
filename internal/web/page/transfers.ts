// Messages in and out of the page as MSRP SEND chunks (RFC 4975 §5.1, §7.1.1), as the rest
// of the project sends them: a CPIM message (RFC 3862) cut by msrp/chunker.ts, a few chunks
// in flight at a time, progress counted as the switch acknowledges each chunk (200); and the
// chunks we receive put back together by msrp/reassembler.ts, with progress per Message-ID.
import { BufferChunker } from '../../msrp/chunker.ts';
import type { MsrpRequest } from '../../msrp/frame.ts';
import { Reassembler } from '../../msrp/reassembler.ts';
import { failureReportOf } from '../../msrp/reports.ts';
import { buildResponse, newMessageId } from '../../msrp/transaction.ts';
import type { MsrpSocket } from './msrp-socket.ts';

/** Below the relay's WebSocket message cap (relay.websocket.maxMessageBytes, 1 MiB by default). */
const CHUNK_BYTES = 64 * 1024;
/** Chunks sent before waiting for the oldest one's 200 (bounded memory in the browser). */
const WINDOW = 4;
/** Largest message taken (a file sent to the room). */
const MAX_RECEIVED_BYTES = 64 * 1024 * 1024;

export interface Route {
  readonly toPath: readonly string[];
  readonly fromPath: readonly string[];
}

/** Sends one message; `onProgress(acked, total)` after each acknowledged chunk. Throws on a refused chunk. */
export async function sendMessage(socket: MsrpSocket, route: Route, cpim: Buffer, onProgress?: (acked: number, total: number) => void): Promise<void> {
  const chunker = new BufferChunker(cpim, { ...route, messageId: newMessageId(), contentType: 'message/cpim', chunkSize: CHUNK_BYTES });
  const inFlight: Promise<number>[] = [];
  let acked = 0;
  const settle = async (): Promise<void> => {
    acked += await inFlight.shift()!;
    onProgress?.(acked, cpim.length);
  };
  for (let chunk = chunker.next(); chunk !== undefined; chunk = chunker.next()) {
    const length = chunk.body.reduce((n, b) => n + b.length, 0);
    const method = chunk.method;
    inFlight.push(socket.request(chunk).then((res) => {
      if (res.status !== 200) throw new Error(`${method} refused: ${res.status} ${res.comment}`);
      return length;
    }));
    if (inFlight.length >= WINDOW) await settle();
  }
  while (inFlight.length > 0) await settle();
}

export interface Incoming {
  /** A chunk of a message still arriving. */
  onProgress(messageId: string, received: number, total: number | undefined): void;
  /** A whole message (its CPIM body). */
  onMessage(messageId: string, body: Buffer): void;
}

/** Takes the SENDs the switch relays to us; answers each (RFC 4975 §7.2) unless Failure-Report: no. */
export class Receiver {
  readonly #socket: MsrpSocket;
  readonly #to: Incoming;
  readonly #reassembler = new Reassembler({ maxMessageBytes: MAX_RECEIVED_BYTES });

  constructor(socket: MsrpSocket, to: Incoming) {
    this.#socket = socket;
    this.#to = to;
  }

  take(req: MsrpRequest): void {
    if (req.method !== 'SEND') {
      // REPORTs get no response (RFC 4975 §7.1.2); anything else we do not implement.
      if (req.method !== 'REPORT') this.#answer(req, 501);
      return;
    }
    const r = this.#reassembler.accept(req);
    if (!r.ok) {
      this.#answer(req, r.error.status, r.error.message);
      return;
    }
    this.#answer(req, 200);
    if (r.state === 'partial') this.#to.onProgress(r.messageId, r.received, r.total);
    else if (r.state === 'complete' && r.body.length > 0) this.#to.onMessage(r.messageId, r.body);
  }

  #answer(req: MsrpRequest, status: number, comment?: string): void {
    if (failureReportOf(req) === 'no') return;
    this.#socket.write(buildResponse(req, status, comment));
  }
}
