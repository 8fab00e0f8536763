// Server transactions (RFC 3261 §17.2): transport-agnostic state machines that absorb
// request retransmissions and retransmit responses. They are given a `send` function and
// a clock; the transaction layer (transactions.ts) matches requests to them.
//
// INVITE (§17.2.1, Figure 7):
//   Proceeding ─1xx─► Proceeding (retransmitted INVITE: resend last 1xx)
//   Proceeding ─2xx─► Terminated (the TU retransmits 2xx until ACK, §13.3.1.4: dialogs.ts)
//   Proceeding ─300-699─► Completed (Timer G resends on UDP, Timer H gives up)
//   Completed ─ACK─► Confirmed ─Timer I─► Terminated
// non-INVITE (§17.2.2, Figure 8):
//   Trying ─1xx─► Proceeding ─final─► Completed ─Timer J─► Terminated

import type { SipRequest, SipResponse } from './message.ts';
import { isReliable, type Clock, type Destination, type TimerHandle, type TimerValues } from './timers.ts';

export type SendFn = (message: SipRequest | SipResponse, destination: Destination) => void;

export interface TransactionContext {
  readonly send: SendFn;
  readonly clock: Clock;
  readonly timers: TimerValues;
}

export interface ServerTransactionEvents {
  /** The transaction is over; the layer forgets it. */
  onTerminated?(): void;
  /** INVITE: Timer H fired, no ACK for a final non-2xx response (§17.2.1: inform the TU). */
  onTimeout?(): void;
  /** INVITE: the ACK for a non-2xx final response arrived. */
  onAck?(ack: SipRequest): void;
}

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'terminated';
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

abstract class ServerTransactionBase<S extends string> {
  abstract state: S;
  readonly request: SipRequest;
  /** Where the request came from: responses are sent back there (the transport applies §18.2.2). */
  readonly source: Destination;
  protected readonly ctx: TransactionContext;
  protected readonly events: ServerTransactionEvents;
  protected lastResponse: SipResponse | undefined;
  readonly #handles: TimerHandle[] = [];

  constructor(ctx: TransactionContext, request: SipRequest, source: Destination, events: ServerTransactionEvents) {
    this.ctx = ctx;
    this.request = request;
    this.source = source;
    this.events = events;
  }

  get reliable(): boolean {
    return isReliable(this.source);
  }

  /** The last response sent, if any. */
  get response(): SipResponse | undefined {
    return this.lastResponse;
  }

  protected transmit(res: SipResponse): void {
    this.lastResponse = res;
    this.ctx.send(res, this.source);
  }

  protected timer(ms: number, fire: () => void): void {
    this.#handles.push(this.ctx.clock.setTimer(ms, fire));
  }

  protected terminate(): void {
    for (const h of this.#handles.splice(0)) h.cancel();
    this.setTerminated();
    this.events.onTerminated?.();
  }

  protected abstract setTerminated(): void;
}

export class InviteServerTransaction extends ServerTransactionBase<InviteServerState> {
  state: InviteServerState = 'proceeding';

  /** RFC 3261 §17.2.1: responds 100 Trying at once, so the client stops retransmitting. */
  start(trying: SipResponse): void {
    this.transmit(trying);
  }

  /** A response from the TU. */
  respond(res: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.transmit(res);
    if (res.status < 200) return;
    if (res.status < 300) {
      this.terminate();
      return;
    }
    this.state = 'completed';
    const { T1, T2 } = this.ctx.timers;
    if (!this.reliable) {
      // Timer G: retransmit the final response at T1, 2T1, 4T1... capped at T2.
      const g = (interval: number) => this.timer(interval, () => {
        if (this.state !== 'completed') return;
        this.ctx.send(res, this.source);
        g(Math.min(2 * interval, T2));
      });
      g(T1);
    }
    // Timer H: 64*T1 without ACK ends the transaction and tells the TU.
    this.timer(64 * T1, () => {
      if (this.state !== 'completed') return;
      this.terminate();
      this.events.onTimeout?.();
    });
  }

  /** A request matched to this transaction: a retransmitted INVITE or the ACK of a non-2xx. */
  receive(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state !== 'completed') return;
      this.state = 'confirmed';
      this.events.onAck?.(req);
      // Timer I: absorb further ACKs for T4 on UDP, none on reliable transports.
      if (this.reliable) this.terminate();
      else this.timer(this.ctx.timers.T4, () => this.terminate());
      return;
    }
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      this.ctx.send(this.lastResponse, this.source);
    }
  }

  /** Transport failure (§17.2.4): the transaction ends. */
  transportError(): void {
    if (this.state !== 'terminated') this.terminate();
  }

  protected setTerminated(): void {
    this.state = 'terminated';
  }
}

export class NonInviteServerTransaction extends ServerTransactionBase<NonInviteServerState> {
  state: NonInviteServerState = 'trying';

  respond(res: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.transmit(res);
    if (res.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    // Timer J: 64*T1 on UDP to absorb retransmissions, zero on reliable transports.
    if (this.reliable) this.terminate();
    else this.timer(64 * this.ctx.timers.T1, () => this.terminate());
  }

  /** A retransmission of the request: nothing in Trying, the last response otherwise (§17.2.2). */
  receive(_req: SipRequest): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      this.ctx.send(this.lastResponse, this.source);
    }
  }

  transportError(): void {
    if (this.state !== 'terminated') this.terminate();
  }

  protected setTerminated(): void {
    this.state = 'terminated';
  }
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
