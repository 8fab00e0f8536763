// Password guessing: failed Digest (or Basic) attempts counted per user and per source
// address across connections and protocols, so that neither opening a new connection
// (MSRP AUTH closes one after auth.maxFailures) nor switching from MSRP AUTH to SIP Digest
// buys more guesses. Pure: the caller passes the clock, logs each failure and counts the
// metric (the relay's AUTH, internal/relay/auth-handler.ts, and the chat focus's SIP Digest,
// internal/chat/focus/identity.ts, share one instance in an engine).
//
// Each key (a user `realm\0name`, or a source: an IPv4 address, an IPv6 /64) holds the
// failures of a fixed window. Once `max` failures are in the window, every attempt for that
// key is refused without checking the password, until the window ends. A success clears
// the user's count (not the source's: a guesser with one account of its own must not reset
// its source by logging in). The per-user bound is the higher one: it also lets an
// attacker lock a victim out for one window, which is the price of stopping a slow
// distributed guess at one account (docs/security.md "Password guessing").
//
// Memory under attack: windows that have ended are dropped as new ones start (the Map's
// order is the windows' start order, so they are at its front), and a username is keyed by
// its hash when long, so a flood of failures with made-up 16 KiB usernames costs a bounded
// few bytes per key, not the header size.
import { createHash } from 'node:crypto';
import { parseIPv4, parseIPv6 } from '../msrp/ip.ts';

export interface GuessLimits {
  /** Failures per user in a window before the user is refused until the window ends; 0 = no limit. */
  readonly perUser: number;
  /** Failures per source address (IPv6: per /64) in a window; 0 = no limit. */
  readonly perSource: number;
  readonly windowMs: number;
}

export const DEFAULT_GUESS_LIMITS: GuessLimits = { perUser: 10, perSource: 20, windowMs: 60_000 };

export type GuessVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly scope: 'user' | 'source'; readonly retryAfterMs: number };

interface Window {
  start: number;
  failures: number;
}

/**
 * The key of a source address: IPv4 as is (IPv4-mapped IPv6 too, dotted or hex), IPv6 by its
 * /64 (RFC 4291 §2.5.4: one subnet, which one host or customer gets whole). Shared with the
 * connection caps (transport/connection-limits.ts).
 */
export function sourceKey(address: string): string {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (parseIPv4(a)) return a;
  const g = parseIPv6(a);
  if (!g) return a.toLowerCase();
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const [hi = 0, lo = 0] = g.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

export class GuessLimiter {
  readonly #limits: GuessLimits;
  readonly #now: () => number;
  readonly #maxTracked: number;
  readonly #users = new Map<string, Window>();
  readonly #sources = new Map<string, Window>();

  constructor(limits: GuessLimits = DEFAULT_GUESS_LIMITS, o: { now?: () => number; maxTracked?: number } = {}) {
    this.#limits = limits;
    this.#now = o.now ?? Date.now;
    this.#maxTracked = o.maxTracked ?? 100_000;
  }

  /** Before checking a password: may `user` (realm-qualified) be tried from `source` now? */
  check(realm: string, user: string, source: string): GuessVerdict {
    return this.#verdict(this.#sources, sourceKey(source), this.#limits.perSource, 'source')
      ?? this.#verdict(this.#users, userKey(realm, user), this.#limits.perUser, 'user')
      ?? { ok: true };
  }

  /** A wrong password (or unknown user): counts for the user and the source; the verdict for the next attempt. */
  failed(realm: string, user: string, source: string): GuessVerdict {
    this.#count(this.#sources, sourceKey(source));
    this.#count(this.#users, userKey(realm, user));
    return this.check(realm, user, source);
  }

  /** The right password: the user's failures are forgiven. */
  succeeded(realm: string, user: string): void {
    this.#users.delete(userKey(realm, user));
  }

  /** Keys tracked (users + sources): bounded by maxTracked each. */
  get tracked(): number {
    return this.#users.size + this.#sources.size;
  }

  #verdict(map: Map<string, Window>, key: string, max: number, scope: 'user' | 'source'): GuessVerdict | undefined {
    if (max <= 0) return undefined;
    const w = map.get(key);
    if (!w) return undefined;
    const left = w.start + this.#limits.windowMs - this.#now();
    if (left <= 0) {
      map.delete(key);
      return undefined;
    }
    return w.failures >= max ? { ok: false, scope, retryAfterMs: left } : undefined;
  }

  #count(map: Map<string, Window>, key: string): void {
    const now = this.#now();
    const w = map.get(key);
    if (w && now - w.start < this.#limits.windowMs) {
      w.failures++;
      return;
    }
    map.delete(key); // re-inserted last: the Map's order is the windows' start order
    // Windows that have ended are at the front: gone now rather than when evicted.
    for (const [k, old] of map) {
      if (now - old.start < this.#limits.windowMs) break;
      map.delete(k);
    }
    map.set(key, { start: now, failures: 1 });
    // Bounded: the oldest windows go first (an attacker cycling sources forgets its own oldest).
    while (map.size > this.#maxTracked) map.delete(map.keys().next().value!);
  }
}

/** Usernames longer than this are keyed by their SHA-256 (no real account has such a name). */
const MAX_KEYED_USER = 128;

function userKey(realm: string, user: string): string {
  const u = user.length <= MAX_KEYED_USER ? user : `\u0001${createHash('sha256').update(user).digest('base64url')}`;
  return `${realm}\u0000${u}`;
}
