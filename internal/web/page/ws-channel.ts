// What the page's two WebSocket channels share (msrp-socket.ts, RFC 7977; sip-socket.ts,
// RFC 7118): opening with a subprotocol, taking a message's bytes, and requests that wait for
// their response by key, each failing on its own timeout or together when the socket closes.

/** Opens `url` offering `subprotocol`; resolves once the handshake is done. */
export function openWebSocket(url: string, subprotocol: string, what: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [subprotocol]);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot open the ${what} WebSocket ${url}`)), { once: true });
  });
}

/** A received message as bytes (text messages are UTF-8, RFC 6455 §5.6). */
export function messageBytes(ev: MessageEvent<ArrayBuffer | string>): Buffer {
  return typeof ev.data === 'string' ? Buffer.from(ev.data, 'utf8') : Buffer.from(ev.data);
}

interface Waiter<T> {
  resolve(r: T): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Requests waiting for their response, by key (transaction id, or Via branch and method). */
export class Waiting<T> {
  readonly #waiters = new Map<string, Waiter<T>>();

  /** Waits for `settle(key, ...)`; fails with `timeoutMessage` after `ms`. `send` runs once the key is registered. */
  wait(key: string, ms: number, timeoutMessage: string, send: () => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        reject(new Error(timeoutMessage));
      }, ms);
      this.#waiters.set(key, { resolve, reject, timer });
      send();
    });
  }

  /** Resolves the request waiting on `key`, if any. */
  settle(key: string, response: T): void {
    const w = this.#waiters.get(key);
    if (w === undefined) return;
    this.#waiters.delete(key);
    clearTimeout(w.timer);
    w.resolve(response);
  }

  /** Fails every waiting request (the socket closed). */
  failAll(reason: string): void {
    for (const w of this.#waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.#waiters.clear();
  }
}
