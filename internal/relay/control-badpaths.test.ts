// The engine's control endpoint (loopback, used by the admin sidecar) under malformed request
// targets sent as raw bytes (fetch would normalise them): each row gets a 4xx answer, never a
// 5xx or a dropped engine, and the endpoint still answers afterwards. With a chat server
// attached (rooms), as msrpd runs it.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { roomsControl } from '../chat/control.ts';
import { startChatServer, type RunningChatServer } from '../chat/server.ts';
import { loopbackChatConfig } from '../chat/testchat.ts';
import { createLogger } from '../telemetry/logger.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

/** Sends `head` as the request line (plus Host) and returns the status code answered. */
function rawStatus(port: number, requestLine: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(got);
      if (m !== null) {
        resolve(Number(m[1]));
        s.destroy();
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed without an answer: ${JSON.stringify(got.slice(0, 100))}`)));
    s.write(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

const ROWS: [string, string][] = [
  ['malformed percent-encoding in a room name', 'GET /rooms/%E0%A4%A/participants HTTP/1.1'],
  ['malformed percent-encoding in a session id', 'DELETE /sessions/%ZZ HTTP/1.1'],
  ['malformed percent-encoding in a participant id', 'DELETE /rooms/lobby/participants/%E0 HTTP/1.1'],
  ['a NUL byte in a room name', 'GET /rooms/%00/participants HTTP/1.1'],
  ['dot segments', 'GET /sessions/../../etc/passwd HTTP/1.1'],
  ['encoded slashes in a session id', 'DELETE /sessions/..%2f..%2fadmin HTTP/1.1'],
  ['an empty segment', 'GET //sessions HTTP/1.1'],
  ['too many segments', 'GET /rooms/a/participants/b/c HTTP/1.1'],
  ['an absolute-form target', 'GET http://elsewhere.example/sessions/x HTTP/1.1'],
  ['the asterisk form', 'OPTIONS * HTTP/1.1'],
  ['a method the route does not take', 'PUT /rooms/lobby/participants HTTP/1.1'],
  ['an unknown method', 'FOO /sessions HTTP/1.1'],
  ['a path past the header size limit', `GET /sessions/${'a'.repeat(70_000)} HTTP/1.1`],
  ['a non-ASCII byte in the target', 'GET /rooms/caf\u00e9/participants HTTP/1.1'],
];

describe('control endpoint: malformed paths (docs/security.md)', { timeout: 60_000 }, () => {
  let relay: TestRelay;
  let chat: RunningChatServer;
  before(async () => {
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby' }] }), { logger: createLogger({ name: 'control-badpaths', level: 'silent', env: {} }) });
    relay = await startTestRelay({ control: { host: '127.0.0.1', port: 0 } });
    relay.relay.attachRooms(roomsControl(chat));
  });
  after(async () => {
    await relay.relay.stop();
    await chat.close();
  });

  for (const [what, line] of ROWS) {
    it(`${what}: a 4xx, and the endpoint still answers`, async () => {
      const port = relay.relay.control!.port;
      const status = await rawStatus(port, line);
      assert.ok(status >= 400 && status < 500, `status ${status}`);
      assert.equal(await rawStatus(port, 'GET /sessions HTTP/1.1'), 200);
    });
  }
});
