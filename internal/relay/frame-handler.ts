// What the relay does with the parser's events on each connection (transport/connection.ts
// FrameHandler): whole frames and streamed requests go to the forwarder, responses to the
// transactions it opened; malformed input is answered, skipped or ends the connection
// (RFC 4975 §7.2, the parse-error budget); a closed connection aborts its request in
// progress and hands the rest of the clean-up to the relay (`closed`).
// Methods on one object shared by every connection: no closure per connection or per frame.
import type { Continuation, MsrpFrame, MsrpHead, MsrpRequest } from '../msrp/frame.ts';
import type { FrameWire } from '../msrp/parser.ts';
import type { MsrpParseError } from '../msrp/errors.ts';
import { reasonPhrase } from '../msrp/status.ts';
import { buildResponse } from '../msrp/transaction.ts';
import type { Connection, FrameHandler } from '../transport/connection.ts';
import type { Forwarder } from './forwarder.ts';
import type { Inbound } from './inbound.ts';
import type { RelayMetrics } from './metrics.ts';
import type { RelayOptions } from './options.ts';
import { outletOf } from './outlet.ts';
import type { ParseErrorBudget } from './parse-error-budget.ts';

export interface RelayFrameHandlerDeps {
  forwarder: Forwarder;
  metrics: Pick<RelayMetrics, 'parseErrors' | 'drops'>;
  /** For the log line when the budget is spent (the budget itself reads it too). */
  options: Pick<RelayOptions, 'parseErrorBudget'>;
  budget: ParseErrorBudget;
  /** The connection closed: the relay's own bookkeeping (after its request in progress was aborted). */
  closed: (conn: Connection) => void;
}

export class RelayFrameHandler implements FrameHandler {
  readonly #d: RelayFrameHandlerDeps;
  /** The streamed request in progress on each connection (between onHead and onEnd). */
  readonly #inbound = new WeakMap<Connection, Inbound>();
  /** Connections closing because of malformed input: whatever else they send is ignored. */
  readonly #broken = new WeakSet<Connection>();

  constructor(deps: RelayFrameHandlerDeps) {
    this.#d = deps;
  }

  onFrame(conn: Connection, frame: MsrpFrame, wire?: FrameWire): void {
    if (this.#broken.has(conn)) return;
    if (frame.kind === 'response') this.#d.forwarder.onResponse(conn, frame);
    else this.#d.forwarder.begin(conn, frame, frame, wire);
  }

  onHead(conn: Connection, head: MsrpHead): void {
    if (head.kind !== 'request' || this.#broken.has(conn)) return;
    this.#inbound.set(conn, this.#d.forwarder.begin(conn, head));
  }

  onBody(conn: Connection, segment: Buffer): void {
    this.#inbound.get(conn)?.body(segment);
  }

  onEnd(conn: Connection, flag: Continuation): void {
    this.#inbound.get(conn)?.end(flag);
    this.#inbound.delete(conn);
  }

  onParseError(conn: Connection, err: MsrpParseError): void {
    if (this.#broken.has(conn)) return;
    const { metrics } = this.#d;
    const current = this.#inbound.get(conn);
    this.#inbound.delete(conn);
    current?.abort();
    metrics.parseErrors.inc({ code: err.code });
    const fields = { code: err.code, status: err.status, fatal: err.fatal, tid: err.transactionId, method: err.head?.method, detail: err.message };
    if (err.fatal) {
      // Framing is lost: nothing more can be read from this connection.
      metrics.drops.inc({ reason: `parse-${err.code}` });
      conn.log.info(fields, 'malformed MSRP input, closing the connection');
      this.#closeAfterWrites(conn);
      return;
    }
    if (!this.#d.budget.spend(conn)) {
      metrics.drops.inc({ reason: 'parse-errors' });
      conn.log.info({ ...fields, budget: this.#d.options.parseErrorBudget }, 'too many malformed MSRP frames, closing the connection');
      this.#closeAfterWrites(conn);
      return;
    }
    // The parser has skipped to the bad transaction's end-line and goes on with the next
    // frame. Answer the bad request hop-by-hop when it can be addressed (RFC 4975 §7.2);
    // REPORTs are never answered (§7.1.2), nor are responses. Otherwise the transaction
    // is lost and the sender's own timeout tells it so.
    const h = err.head;
    const answer = h?.kind === 'request' && h.method !== 'REPORT' && err.transactionId !== undefined;
    if (answer) {
      const request: MsrpRequest = {
        kind: 'request', transactionId: err.transactionId, method: h.method ?? '', toPath: h.toPath, fromPath: h.fromPath,
        headers: [], body: [], continuation: '$',
      };
      this.#d.forwarder.send(conn, buildResponse(request, err.status, `${reasonPhrase(err.status)} (${err.code})`));
    } else {
      metrics.drops.inc({ reason: `parse-${err.code}` });
    }
    conn.log.info({ ...fields, answered: answer }, answer ? 'malformed MSRP request answered' : 'malformed MSRP frame skipped');
  }

  onClose(conn: Connection): void {
    this.#inbound.get(conn)?.abort();
    this.#inbound.delete(conn);
    this.#d.closed(conn);
  }

  /** Stops reading, lets what we already owe this peer go out, then closes (hard after 1 s). */
  #closeAfterWrites(conn: Connection): void {
    this.#broken.add(conn);
    conn.pause('parse-error');
    outletOf(conn).writeFrame([], undefined, () => {
      conn.end();
      setTimeout(() => conn.destroy(), 1000).unref();
    });
  }
}
