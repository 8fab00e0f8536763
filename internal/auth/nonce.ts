// Stateless nonces (RFC 7616 §3.3 leaves the format to the server, §5.4-§5.5 on replay):
//   nonce = base64url( version(1) || issued-at ms (6) || random (12) || HMAC-SHA-256(secret, ...)[0..16] )
// The MAC covers version, time, random, realm and an optional binding (e.g. the
// connection id), so a nonce minted for one realm or connection fails on another.
// Any replica holding the same secret verifies it without shared state. Replays of
// a nonce are caught by the nonce-count tracker below (RFC 7616 §3.4: nc).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 1;
const TIME_BYTES = 6;
const RANDOM_BYTES = 12;
const MAC_BYTES = 16;
const LENGTH = 1 + TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
/** A nonce claiming to be from the future by more than this is forged or from a skewed replica. */
const MAX_CLOCK_SKEW_MS = 5_000;

export type NonceState = 'valid' | 'stale' | 'invalid';
export type NonceCountState = 'ok' | 'replayed' | 'stale';

export interface NonceOptions {
  /** At least 32 bytes from a CSPRNG; shared by replicas that must accept each other's nonces. */
  secret: Buffer;
  lifetimeSec: number;
  /** Bound on nonces whose nonce-count is remembered (default 10,000). */
  maxTracked?: number;
  now?: () => number;
  random?: (size: number) => Buffer;
}

interface Tracked {
  issuedAt: number;
  lastNc: number;
}

export class NonceManager {
  readonly #secret: Buffer;
  readonly #lifetimeMs: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  readonly #random: (size: number) => Buffer;
  readonly #tracked = new Map<string, Tracked>();
  /** Nonces issued at or before this instant may have lost their nc history: treat as stale. */
  #forgottenUpTo = -1;

  constructor(options: NonceOptions) {
    if (options.secret.length < 32) throw new RangeError('nonce secret must be at least 32 bytes');
    this.#secret = options.secret;
    this.#lifetimeMs = options.lifetimeSec * 1000;
    this.#maxTracked = options.maxTracked ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? randomBytes;
  }

  issue(realm: string, binding = ''): string {
    const buf = Buffer.alloc(LENGTH);
    buf[0] = VERSION;
    buf.writeUIntBE(this.#now(), 1, TIME_BYTES);
    this.#random(RANDOM_BYTES).copy(buf, 1 + TIME_BYTES);
    this.#mac(buf.subarray(0, LENGTH - MAC_BYTES), realm, binding).copy(buf, LENGTH - MAC_BYTES);
    return buf.toString('base64url');
  }

  /** `stale` means: ours, unaltered, but older than the lifetime (RFC 7616 §3.3 stale=true). */
  check(nonce: string, realm: string, binding = ''): NonceState {
    const issuedAt = this.#verifiedIssuedAt(nonce, realm, binding);
    if (issuedAt === undefined) return 'invalid';
    const age = this.#now() - issuedAt;
    if (age < -MAX_CLOCK_SKEW_MS) return 'invalid';
    return age > this.#lifetimeMs ? 'stale' : 'valid';
  }

  /**
   * Records a use of a nonce that `check` found valid. Each use must carry a larger nc
   * than the previous one (RFC 7616 §3.4 nc, §5.5 replay attacks). When the tracker had
   * to forget a nonce to stay bounded, that nonce is reported stale so that the client
   * retries with a fresh one instead of a replay slipping through.
   */
  useCount(nonce: string, nc: string): NonceCountState {
    const count = Number.parseInt(nc, 16);
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== LENGTH || !Number.isFinite(count)) return 'stale'; // not one of ours: never count it
    const issuedAt = raw.readUIntBE(1, TIME_BYTES);
    const entry = this.#tracked.get(nonce);
    if (entry === undefined) {
      if (issuedAt <= this.#forgottenUpTo) return 'stale';
      this.#tracked.set(nonce, { issuedAt, lastNc: count });
      this.#bound();
      return 'ok';
    }
    if (count <= entry.lastNc) return 'replayed';
    entry.lastNc = count;
    return 'ok';
  }

  get trackedCount(): number {
    return this.#tracked.size;
  }

  #bound(): void {
    if (this.#tracked.size <= this.#maxTracked) return;
    const expiredBefore = this.#now() - this.#lifetimeMs;
    for (const [nonce, t] of this.#tracked) {
      if (t.issuedAt < expiredBefore) this.#tracked.delete(nonce); // stale anyway: check() says so
    }
    for (const [nonce, t] of this.#tracked) {
      if (this.#tracked.size <= this.#maxTracked) break;
      this.#tracked.delete(nonce);
      this.#forgottenUpTo = Math.max(this.#forgottenUpTo, t.issuedAt);
    }
  }

  #verifiedIssuedAt(nonce: string, realm: string, binding: string): number | undefined {
    if (!/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
    const buf = Buffer.from(nonce, 'base64url');
    if (buf.length !== LENGTH || buf[0] !== VERSION) return undefined;
    const expected = this.#mac(buf.subarray(0, LENGTH - MAC_BYTES), realm, binding);
    if (!timingSafeEqual(expected, buf.subarray(LENGTH - MAC_BYTES))) return undefined;
    return buf.readUIntBE(1, TIME_BYTES);
  }

  #mac(head: Buffer, realm: string, binding: string): Buffer {
    // Length-prefixed fields: "a" + "bc" and "ab" + "c" must not collide.
    const r = Buffer.from(realm, 'utf8');
    const b = Buffer.from(binding, 'utf8');
    const lens = Buffer.alloc(8);
    lens.writeUInt32BE(r.length, 0);
    lens.writeUInt32BE(b.length, 4);
    return createHmac('sha256', this.#secret).update(head).update(lens).update(r).update(b).digest().subarray(0, MAC_BYTES);
  }
}
