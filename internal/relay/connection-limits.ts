// Connections per source address (`maxConnectionsPerAddress`, 0 = no limit): one client
// cannot hold more than its share of the relay's sockets. Pure bookkeeping by address; the
// relay counts inbound client connections only (mesh links between replicas are not
// limited). The limit is a live option: read on every new connection.
import type { RelayOptions } from './options.ts';

export class ConnectionsPerAddress {
  readonly #options: Pick<RelayOptions, 'maxConnectionsPerAddress'>;
  readonly #open = new Map<string, number>();

  constructor(options: Pick<RelayOptions, 'maxConnectionsPerAddress'>) {
    this.#options = options;
  }

  /** A new connection from `address`: counted and true, or false (not counted) when over the limit. */
  admit(address: string): boolean {
    const n = (this.#open.get(address) ?? 0) + 1;
    const max = this.#options.maxConnectionsPerAddress;
    if (max > 0 && n > max) return false;
    this.#open.set(address, n);
    return true;
  }

  /** A connection admitted from `address` closed. */
  release(address: string): void {
    const n = (this.#open.get(address) ?? 1) - 1;
    if (n <= 0) this.#open.delete(address);
    else this.#open.set(address, n);
  }

  /** Open connections counted for `address`. */
  count(address: string): number {
    return this.#open.get(address) ?? 0;
  }
}
