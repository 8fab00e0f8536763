// Time for the transaction layer (RFC 3261 §17, Table 4). Timers go through an injectable
// clock so that state machines are tested with fake time (testdata/clock.ts).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimer(ms: number, fire: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fire) {
    const t = setTimeout(fire, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** RFC 3261 §17.1.1.1 and Table 4. */
export interface TimerValues {
  /** RTT estimate (default 500 ms). */
  readonly T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s). */
  readonly T2: number;
  /** Maximum duration a message remains in the network (default 5 s). */
  readonly T4: number;
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** Where a message goes (or came from): the transport decides the socket (RFC 3261 §18.2.2). */
export interface Destination {
  /** UDP, TCP, TLS (upper case, as in Via). */
  readonly transport: string;
  readonly address: string;
  readonly port: number;
  /** The connection a request arrived on (TCP/TLS): responses go back over it. */
  readonly connectionId?: string;
}

export function isReliable(d: Destination): boolean {
  return d.transport.toUpperCase() !== 'UDP';
}
