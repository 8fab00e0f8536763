// Connection caps of a set of listeners (docs/security.md "Connection caps"): at most `max`
// connections in all, and at most `perSource` from one source, each 0 = no limit. Counted
// from accept, before any TLS handshake, so half-open handshakes count as much as
// established sessions. The limits object is read on every new connection: a live
// reconfigure takes effect on the next one.
//
// A source is an IPv4 address, or an IPv6 /64 (RFC 4291 §2.5.4: one subnet, which one host
// or one customer gets whole, so counting single IPv6 addresses would give an attacker 2^64
// slots). IPv4-mapped IPv6 addresses (dual-stack listeners) count as their IPv4 address.
import { sourceKey } from '../auth/guesses.ts';

export interface ConnectionCaps {
  /** Connections over all the listeners sharing these limits; 0 = no limit. */
  readonly max: number;
  /** Connections from one source (IPv4 address or IPv6 /64); 0 = no limit. */
  readonly perSource: number;
}

/** Why a connection was refused: the metric label (a fixed set). */
export type CapRefusal = 'connections' | 'connections-per-source';

export class ConnectionLimits {
  readonly #caps: ConnectionCaps;
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(caps: ConnectionCaps) {
    this.#caps = caps;
  }

  /** A new connection from `address`: counted, or refused (not counted) with the cap it hit. */
  admit(address: string): { ok: true; source: string } | { ok: false; refusal: CapRefusal } {
    const { max, perSource } = this.#caps;
    if (max > 0 && this.#total >= max) return { ok: false, refusal: 'connections' };
    const source = sourceOf(address);
    const n = (this.#open.get(source) ?? 0) + 1;
    if (perSource > 0 && n > perSource) return { ok: false, refusal: 'connections-per-source' };
    this.#open.set(source, n);
    this.#total++;
    return { ok: true, source };
  }

  /** A connection admitted as `source` (admit's answer) closed. */
  release(source: string): void {
    const n = this.#open.get(source);
    if (n === undefined) return;
    this.#total--;
    if (n <= 1) this.#open.delete(source);
    else this.#open.set(source, n - 1);
  }

  /** Open connections counted for the source of `address`. */
  count(address: string): number {
    return this.#open.get(sourceOf(address)) ?? 0;
  }

  get total(): number {
    return this.#total;
  }
}

/** The source a connection from `address` is counted under: the IPv4 address, or the IPv6 /64 (the password-guessing limiter's key). */
export const sourceOf = sourceKey;
