// SIP over UDP against reflection (issue 13): a datagram's source address can be forged, so a
// UDP server can be made to send to a victim. Three rules, after QUIC's anti-amplification
// limit (RFC 9000 §8.1):
//   - per source address, a rate limit on datagrams (token bucket); beyond it they are
//     dropped unanswered (answering is what an attacker wants);
//   - towards an address:port that has not proved it receives what we send ("validated"),
//     we send at most `factor` times the bytes it sent us; retransmissions (Timer G of a 401,
//     a 2xx never ACKed, NOTIFY/BYE on Timer E) come out of that credit too;
//   - the first transmission of one request of ours (the first NOTIFY of a subscription)
//     goes out once even without credit, so that a real subscriber can answer it and
//     validate itself; never its retransmissions, and only once per unvalidated peer.
// An address:port is validated by what only a real receiver can do (the caller tells us):
// a response to one of our requests, a request in a dialog (it carries our tag), the ACK
// of our 2xx, a right Digest answer to a nonce bound to its address (chat/focus/identity.ts).
// TCP and TLS are not concerned: the handshake validates. Pure; the caller passes the clock.

export interface UdpGuardOptions {
  /** Bytes sent per byte received towards an unvalidated peer (default 3, as QUIC). */
  readonly factor?: number;
  /** Datagrams per second per source address, and the burst (defaults 20 and 60). */
  readonly ratePerSec?: number;
  readonly burst?: number;
  /** How long a validated peer stays validated after its last datagram (default 10 min). */
  readonly validatedTtlMs?: number;
  /** Peers and addresses remembered, each (default 50,000): the oldest go first. */
  readonly maxTracked?: number;
  readonly now?: () => number;
}

interface Peer {
  credit: number;
  validated: boolean;
  freeRequestUsed: boolean;
  seen: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export type UdpDrop = 'rate' | 'amplification';

export class UdpGuard {
  readonly #factor: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #peers = new Map<string, Peer>();
  readonly #buckets = new Map<string, Bucket>();

  constructor(o: UdpGuardOptions = {}) {
    this.#factor = o.factor ?? 3;
    this.#rate = o.ratePerSec ?? 20;
    this.#burst = o.burst ?? 60;
    this.#ttl = o.validatedTtlMs ?? 10 * 60_000;
    this.#max = o.maxTracked ?? 50_000;
    this.#now = o.now ?? Date.now;
  }

  /** A datagram of `bytes` from address:port: undefined to process it, else why it is dropped. */
  received(address: string, port: number, bytes: number): UdpDrop | undefined {
    const now = this.#now();
    let b = this.#buckets.get(address);
    if (b === undefined) {
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(address, b);
      this.#bound(this.#buckets);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    if (b.tokens < 1) return 'rate';
    b.tokens -= 1;
    const p = this.#peer(address, port, now);
    p.seen = now;
    if (!p.validated) p.credit = Math.min(p.credit + this.#factor * bytes, 64 * 1024);
    return undefined;
  }

  /**
   * May `bytes` go to address:port? `firstRequest`: the first transmission of a request of
   * ours (not a response, not a retransmission).
   */
  maySend(address: string, port: number, bytes: number, firstRequest: boolean): UdpDrop | undefined {
    const p = this.#peers.get(`${address}|${port}`);
    if (p?.validated === true && this.#now() - p.seen < this.#ttl) return undefined;
    const peer = p ?? this.#peer(address, port, this.#now());
    if (peer.validated) peer.validated = false; // expired: prove it again
    if (peer.credit >= bytes) {
      peer.credit -= bytes;
      return undefined;
    }
    if (firstRequest && !peer.freeRequestUsed) {
      peer.freeRequestUsed = true;
      return undefined;
    }
    return 'amplification';
  }

  /** address:port proved it receives what we send. */
  validate(address: string, port: number): void {
    const p = this.#peer(address, port, this.#now());
    p.validated = true;
    p.seen = this.#now();
  }

  isValidated(address: string, port: number): boolean {
    const p = this.#peers.get(`${address}|${port}`);
    return p?.validated === true && this.#now() - p.seen < this.#ttl;
  }

  #peer(address: string, port: number, now: number): Peer {
    const key = `${address}|${port}`;
    let p = this.#peers.get(key);
    if (p === undefined) {
      p = { credit: 0, validated: false, freeRequestUsed: false, seen: now };
      this.#peers.set(key, p);
      this.#bound(this.#peers);
    }
    return p;
  }

  #bound(map: Map<string, unknown>): void {
    while (map.size > this.#max) map.delete(map.keys().next().value!);
  }
}
