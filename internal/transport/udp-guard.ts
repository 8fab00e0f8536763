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
//
// The tables are bounded (maxTracked). A full table forgets the least recently heard entry,
// and validated peers go only after every unvalidated one: a flood of spoofed fresh addresses
// fills the table but cannot validate, so it must not push out the real peers we talk to.
// Peers whose validation expired (silent for the TTL) go first of all.

export interface UdpGuardOptions {
  /** Bytes sent per byte received towards an unvalidated peer (default 3, as QUIC). */
  readonly factor?: number;
  /** Datagrams per second per source address, and the burst (defaults 20 and 60). */
  readonly ratePerSec?: number;
  readonly burst?: number;
  /** How long a validated peer stays validated after its last datagram (default 10 min). */
  readonly validatedTtlMs?: number;
  /**
   * Peers and addresses remembered, each (default 50,000): the least recently heard go first,
   * validated peers after all unvalidated ones.
   */
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

/**
 * A Map in recency order: `touch` moves an entry to the end, `oldest` is the front. The front
 * is found through one iterator kept across calls rather than a fresh `keys()` each time:
 * V8 leaves deleted slots in place until it rehashes, and a fresh iterator walks over all of
 * them, so evicting the front of a 50,000-entry Map that way cost ~25 µs per eviction
 * (measured, Node 24) against well under 1 µs with the kept iterator. A Map iterator sees
 * entries added (or re-added by `touch`) after its position, as the spec requires.
 */
class RecencyMap<V> {
  readonly #map = new Map<string, V>();
  #cursor: MapIterator<[string, V]> = this.#map.entries();
  /** The entry the cursor last returned, still the front unless deleted or touched since. */
  #front: [string, V] | undefined;

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  /** Adds or moves `key` to the most recent end. */
  touch(key: string, value: V): void {
    this.delete(key);
    this.#map.set(key, value);
  }

  delete(key: string): void {
    if (this.#front?.[0] === key) this.#front = undefined;
    this.#map.delete(key);
  }

  oldest(): [string, V] | undefined {
    if (this.#front !== undefined) return this.#front;
    let r = this.#cursor.next();
    if (r.done === true) {
      // Spent iterators stay spent: start again from the front.
      this.#cursor = this.#map.entries();
      r = this.#cursor.next();
    }
    this.#front = r.done === true ? undefined : r.value;
    return this.#front;
  }
}

export class UdpGuard {
  readonly #factor: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Peers by address|port, unvalidated and validated apart, so eviction can prefer the former. */
  readonly #unvalidated = new RecencyMap<Peer>();
  readonly #validated = new RecencyMap<Peer>();
  readonly #buckets = new RecencyMap<Bucket>();

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
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    this.#buckets.touch(address, b);
    while (this.#buckets.size > this.#max) this.#buckets.delete(this.#buckets.oldest()![0]);
    if (b.tokens < 1) return 'rate';
    b.tokens -= 1;
    const p = this.#peer(address, port, now, true);
    p.seen = now;
    if (!p.validated) p.credit = Math.min(p.credit + this.#factor * bytes, 64 * 1024);
    return undefined;
  }

  /**
   * May `bytes` go to address:port? `firstRequest`: the first transmission of a request of
   * ours (not a response, not a retransmission).
   */
  maySend(address: string, port: number, bytes: number, firstRequest: boolean): UdpDrop | undefined {
    const key = `${address}|${port}`;
    const v = this.#validated.get(key);
    if (v !== undefined) {
      if (this.#now() - v.seen < this.#ttl) return undefined;
      // Expired: prove it again.
      v.validated = false;
      this.#validated.delete(key);
      this.#unvalidated.touch(key, v);
    }
    const peer = this.#peer(address, port, this.#now(), false);
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
    const key = `${address}|${port}`;
    const p = this.#peer(address, port, this.#now(), false);
    p.validated = true;
    p.seen = this.#now();
    this.#unvalidated.delete(key);
    this.#validated.touch(key, p);
  }

  isValidated(address: string, port: number): boolean {
    const p = this.#validated.get(`${address}|${port}`);
    return p !== undefined && this.#now() - p.seen < this.#ttl;
  }

  /** `heard`: the peer sent us something, so it becomes the most recent of its table. */
  #peer(address: string, port: number, now: number, heard: boolean): Peer {
    const key = `${address}|${port}`;
    const v = this.#validated.get(key);
    if (v !== undefined) {
      if (heard) this.#validated.touch(key, v);
      return v;
    }
    let p = this.#unvalidated.get(key);
    if (p === undefined) {
      p = { credit: 0, validated: false, freeRequestUsed: false, seen: now };
      this.#unvalidated.touch(key, p);
      this.#boundPeers(now);
    } else if (heard) {
      this.#unvalidated.touch(key, p);
    }
    return p;
  }

  /**
   * Over the bound after adding an unvalidated peer (the newest of its table): forget the
   * oldest validated peer if its validation expired, else the least recently heard unvalidated
   * one other than the new, else the least recently heard validated one (a table full of real
   * peers). O(1): each table's oldest entry is at hand.
   */
  #boundPeers(now: number): void {
    while (this.#unvalidated.size + this.#validated.size > this.#max) {
      const v = this.#validated.oldest();
      if (v !== undefined && now - v[1].seen >= this.#ttl) this.#validated.delete(v[0]);
      else if (this.#unvalidated.size > 1 || v === undefined) this.#unvalidated.delete(this.#unvalidated.oldest()![0]);
      else this.#validated.delete(v[0]);
    }
  }
}
