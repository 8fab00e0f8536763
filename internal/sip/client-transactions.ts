// Client transactions (RFC 3261 §17.1), for the requests a focus sends (NOTIFY, BYE,
// and INVITE when it calls out).
//
// INVITE (§17.1.1, Figure 5):
//   Calling ─1xx─► Proceeding;  Calling/Proceeding ─2xx─► Terminated (to the TU)
//   Calling/Proceeding ─300-699─► Completed (ACK sent, Timer D) ─► Terminated
//   Timer A resends on UDP (T1, 2T1, ... uncapped), Timer B (64*T1) times out.
// non-INVITE (§17.1.2, Figure 6):
//   Trying ─1xx─► Proceeding ─final─► Completed ─Timer K─► Terminated
//   Timer E resends on UDP (T1 doubling to T2; T2 once Proceeding), Timer F (64*T1) times out.

import { headerValues, type SipHeader, type SipRequest, type SipResponse } from './message.ts';
import { isReliable, type Destination, type TimerHandle } from './timers.ts';
import type { TransactionContext } from './server-transactions.ts';

export interface ClientTransactionEvents {
  /** Every response that the transaction passes up (1xx, the final one; for INVITE every 2xx). */
  onResponse?(res: SipResponse): void;
  /** Timer B or F fired: treat as 408 (§8.1.3.1). */
  onTimeout?(): void;
  /** A send failed (§17.1.4): treat as 503. */
  onTransportError?(): void;
  onTerminated?(): void;
}

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'terminated';
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

abstract class ClientTransactionBase<S extends string> {
  abstract state: S;
  readonly request: SipRequest;
  readonly destination: Destination;
  protected readonly ctx: TransactionContext;
  protected readonly events: ClientTransactionEvents;
  #handles: TimerHandle[] = [];

  constructor(ctx: TransactionContext, request: SipRequest, destination: Destination, events: ClientTransactionEvents) {
    this.ctx = ctx;
    this.request = request;
    this.destination = destination;
    this.events = events;
  }

  get reliable(): boolean {
    return isReliable(this.destination);
  }

  protected timer(ms: number, fire: () => void): TimerHandle {
    const h = this.ctx.clock.setTimer(ms, fire);
    this.#handles.push(h);
    return h;
  }

  protected cancelTimers(): void {
    for (const h of this.#handles.splice(0)) h.cancel();
  }

  protected terminate(): void {
    this.cancelTimers();
    this.setTerminated();
    this.events.onTerminated?.();
  }

  protected timeout(): void {
    this.terminate();
    this.events.onTimeout?.();
  }

  transportError(): void {
    if (this.isTerminated()) return;
    this.terminate();
    this.events.onTransportError?.();
  }

  protected abstract setTerminated(): void;
  protected abstract isTerminated(): boolean;
}

export class InviteClientTransaction extends ClientTransactionBase<InviteClientState> {
  state: InviteClientState = 'calling';
  #timerA: TimerHandle | undefined;

  start(): void {
    this.ctx.send(this.request, this.destination);
    const { T1 } = this.ctx.timers;
    if (!this.reliable) {
      const a = (interval: number) => {
        this.#timerA = this.timer(interval, () => {
          if (this.state !== 'calling') return;
          this.ctx.send(this.request, this.destination);
          a(2 * interval);
        });
      };
      a(T1);
    }
    this.timer(64 * T1, () => {
      if (this.state === 'calling') this.timeout();
    });
  }

  receive(res: SipResponse): void {
    if (this.state === 'terminated') return;
    if (res.status < 200) {
      if (this.state === 'calling') {
        this.state = 'proceeding';
        this.#timerA?.cancel();
      }
      if (this.state === 'proceeding') this.events.onResponse?.(res);
      return;
    }
    if (res.status < 300) {
      if (this.state === 'completed') return;
      // §17.1.1.2: a 2xx ends the transaction; the TU sends the ACK itself (end to end).
      this.terminate();
      this.events.onResponse?.(res);
      return;
    }
    const ack = ackForFailure(this.request, res);
    this.ctx.send(ack, this.destination);
    if (this.state === 'completed') return; // a retransmitted final response: ACK again only
    this.cancelTimers();
    this.state = 'completed';
    this.events.onResponse?.(res);
    // Timer D: at least 32 s on UDP to absorb retransmitted finals; zero on reliable transports.
    if (this.reliable) this.terminate();
    else this.timer(Math.max(32000, 64 * this.ctx.timers.T1), () => this.terminate());
  }

  protected setTerminated(): void {
    this.state = 'terminated';
  }

  protected isTerminated(): boolean {
    return this.state === 'terminated';
  }
}

/**
 * The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same Request-URI, Call-ID,
 * From, CSeq number and top Via (branch) as the INVITE, To from the response, the INVITE's
 * Route headers, method ACK.
 */
export function ackForFailure(invite: SipRequest, res: SipResponse): SipRequest {
  const headers: SipHeader[] = [];
  const viaTop = headerValues(invite, 'Via')[0];
  if (viaTop !== undefined) headers.push({ name: 'Via', value: viaTop });
  for (const name of ['Max-Forwards', 'From'] as const) {
    const v = headerValues(invite, name)[0];
    if (v !== undefined) headers.push({ name, value: v });
  }
  const to = headerValues(res, 'To')[0] ?? headerValues(invite, 'To')[0];
  if (to !== undefined) headers.push({ name: 'To', value: to });
  const callId = headerValues(invite, 'Call-ID')[0];
  if (callId !== undefined) headers.push({ name: 'Call-ID', value: callId });
  const seq = (headerValues(invite, 'CSeq')[0] ?? '').trim().split(/\s+/)[0] ?? '0';
  headers.push({ name: 'CSeq', value: `${seq} ACK` });
  for (const r of headerValues(invite, 'Route')) headers.push({ name: 'Route', value: r });
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientState> {
  state: NonInviteClientState = 'trying';

  start(): void {
    this.ctx.send(this.request, this.destination);
    const { T1, T2 } = this.ctx.timers;
    if (!this.reliable) {
      const e = (interval: number) => this.timer(interval, () => {
        if (this.state !== 'trying' && this.state !== 'proceeding') return;
        this.ctx.send(this.request, this.destination);
        e(this.state === 'proceeding' ? T2 : Math.min(2 * interval, T2));
      });
      e(T1);
    }
    this.timer(64 * T1, () => {
      if (this.state === 'trying' || this.state === 'proceeding') this.timeout();
    });
  }

  receive(res: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.events.onResponse?.(res);
      return;
    }
    this.cancelTimers();
    this.state = 'completed';
    this.events.onResponse?.(res);
    // Timer K: T4 on UDP to absorb retransmitted responses, zero on reliable transports.
    if (this.reliable) this.terminate();
    else this.timer(this.ctx.timers.T4, () => this.terminate());
  }

  protected setTerminated(): void {
    this.state = 'terminated';
  }

  protected isTerminated(): boolean {
    return this.state === 'terminated';
  }
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
