// Test support: a chat participant's MSRP side over TLS, written by hand (start lines and
// headers as text): enough to bind a session, send CPIM and see what arrives, and to share
// one connection between sessions as a relay does. Used by the rooms-over-replicas tests.
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { newMessageId, newSessionId, newTransactionId } from '../msrp/transaction.ts';

/** An MSRP participant over TLS written by hand: enough to bind, send and see what arrives. */
export class TlsParticipant {
  readonly uri = `msrp://127.0.0.1:9/${newSessionId()};tcp`;
  readonly sipUri: string;
  socket!: TLSSocket;
  text = '';
  focusUri = '';

  constructor(sipUri: string) {
    this.sipUri = sipUri;
  }

  async connect(port: number, ca: string, servername = 'localhost'): Promise<void> {
    this.socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      this.text += d;
    });
  }

  /** A SEND in our session; on `via`'s connection when given (one connection, several sessions: a relay's). */
  send(body = '', via: TlsParticipant = this): string {
    const tid = newTransactionId();
    const headers = body === '' ? '' : `Message-ID: ${newMessageId()}\r\nByte-Range: 1-${Buffer.byteLength(body)}/${Buffer.byteLength(body)}\r\nContent-Type: message/cpim\r\n\r\n${body}\r\n`;
    via.socket.write(`MSRP ${tid} SEND\r\nTo-Path: ${this.focusUri}\r\nFrom-Path: ${this.uri}\r\n${headers === '' ? '' : headers}-------${tid}$\r\n`);
    return tid;
  }

  async seen(what: string | RegExp, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(typeof what === 'string' ? this.text.includes(what) : what.test(this.text))) {
      if (Date.now() > end) assert.fail(`${this.sipUri}: ${String(what)} not seen within ${timeoutMs} ms; got:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
