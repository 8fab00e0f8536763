// Test support for the connection caps (docs/security.md "Connection caps"): raw TCP sockets
// that hold a slot without ever speaking (no TLS ClientHello, no request), from a chosen
// loopback address (127.0.0.0/8 is all loopback on Linux, so each address is its own source).
import { connect, type Socket } from 'node:net';

/** A plain TCP connection to `port` on 127.0.0.1 (or `host`), from `localAddress`; resolves once connected. */
export function rawConnect(port: number, o: { host?: string; localAddress?: string } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: o.host ?? '127.0.0.1', port, ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => undefined); // a reset by the server shows as 'close'
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with the milliseconds until `s` closes (by the peer), or rejects after `timeoutMs`. */
export function closedWithin(s: Socket, timeoutMs: number): Promise<number> {
  const started = Date.now();
  if (s.destroyed || s.readyState === 'closed') return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    s.resume(); // read (and drop) anything, so an end from the peer is seen
  });
}
