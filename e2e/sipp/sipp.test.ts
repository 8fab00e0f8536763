// Proves e2e/sipp/invite-room.xml and runSipp() against a minimal SIP responder (a real UDP
// socket here, standing in for the chat focus until it exists): sipp must exit 0 when the
// answer is a proper chat room answer, and fail when a check is not met.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { SCENARIOS, runSipp, sippAvailable } from './sipp.ts';

const available = sippAvailable();
const skip = !available && process.env.CI !== 'true' ? 'sipp not installed: apt-get install sip-tester' : false;

interface Answer {
  /** SDP lines of the answer. */
  sdp: string[];
  /** Contact header value. */
  contact: string;
}

const GOOD: Answer = {
  sdp: [
    'v=0', 'o=focus 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=message 2855 TCP/TLS/MSRP *',
    'a=accept-types:message/cpim text/plain',
    'a=accept-wrapped-types:*',
    'a=path:msrps://127.0.0.1:2855/focus1234;tcp',
    'a=setup:passive',
    'a=chatroom:nickname private-messages',
  ],
  contact: '<sip:room@127.0.0.1>;isfocus',
};

/** A SIP UAS on UDP that answers INVITE with 100 + 200 (given SDP), BYE with 200, and records what it saw. */
class Responder {
  readonly socket: Socket = createSocket('udp4');
  readonly seen: string[] = [];
  answer: Answer = GOOD;

  async start(): Promise<number> {
    this.socket.on('message', (msg, rinfo) => this.#onMessage(msg.toString('utf8'), rinfo.address, rinfo.port));
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  #onMessage(text: string, addr: string, port: number): void {
    const [head = '', body = ''] = text.split('\r\n\r\n', 2);
    const lines = head.split('\r\n');
    const method = lines[0]!.split(' ')[0]!;
    this.seen.push(method === 'SIP/2.0' ? lines[0]! : `${method}\n${body}`);
    if (method === 'ACK' || method === 'SIP/2.0') return;
    const hdr = (name: string): string[] => lines.slice(1).filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    const copy = [...hdr('Via'), ...hdr('From'), ...hdr('Call-ID'), ...hdr('CSeq')];
    const to = hdr('To')[0] ?? 'To: <sip:room@127.0.0.1>';
    const toTagged = /;tag=/.test(to) ? to : `${to};tag=focus42`;
    const send = (status: string, extra: string[], sdp?: string): void => {
      const bodyText = sdp ?? '';
      const msg = [`SIP/2.0 ${status}`, ...copy, status.startsWith('100') ? to : toTagged, ...extra,
        `Content-Length: ${Buffer.byteLength(bodyText)}`, '', bodyText].join('\r\n');
      this.socket.send(msg, port, addr);
    };
    if (method === 'INVITE') {
      send('100 Trying', []);
      const sdp = this.answer.sdp.join('\r\n') + '\r\n';
      send('200 OK', [`Contact: ${this.answer.contact}`, 'Content-Type: application/sdp', 'Allow: INVITE, ACK, BYE, CANCEL, OPTIONS'], sdp);
    } else if (method === 'BYE') {
      send('200 OK', []);
    } else {
      send('501 Not Implemented', []);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

describe('sipp invite-room scenario', { skip, timeout: 60_000 }, () => {
  const responder = new Responder();
  let port = 0;

  before(async () => {
    assert.ok(available, 'CI=true and sipp is not installed: .ci/peers.d/31-sipp.sh should have installed it');
    port = await responder.start();
  });
  after(() => responder.close());

  it('completes INVITE/200/ACK/BYE/200 against a chat room answer and exits 0', async () => {
    responder.answer = GOOD;
    responder.seen.length = 0;
    const r = await runSipp({ scenario: SCENARIOS.inviteRoom, target: `127.0.0.1:${port}`, transport: 'u1', service: 'room', keys: { msrp_port: '40123' } });
    assert.equal(r.code, 0, `sipp exited ${r.code}\n${r.argv.join(' ')}\n--- errors ---\n${r.errors}\n--- stderr ---\n${r.stderr}`);
    assert.equal(r.stats['SuccessfulCall(C)'], '1');
    assert.equal(r.stats['FailedCall(C)'], '0');
    // What sipp sent: the offer the scenario promises.
    const invite = responder.seen.find((m) => m.startsWith('INVITE'));
    assert.ok(invite, 'no INVITE seen');
    assert.match(invite, /m=message 40123 TCP\/TLS\/MSRP \*/);
    assert.match(invite, /a=path:msrps:\/\/127\.0\.0\.1:40123\/sipp\d+;tcp/);
    assert.match(invite, /a=accept-types:message\/cpim text\/plain/);
    assert.match(invite, /a=accept-wrapped-types:\*/);
    assert.match(invite, /a=setup:active/);
    assert.deepEqual(responder.seen.map((m) => m.split('\n')[0]), ['INVITE', 'ACK', 'BYE']);
  });

  for (const [what, answer] of [
    ['a=chatroom', { ...GOOD, sdp: GOOD.sdp.filter((l) => !l.startsWith('a=chatroom')) }],
    ['isfocus in Contact', { ...GOOD, contact: '<sip:room@127.0.0.1>' }],
    ['an MSRP m= line', { ...GOOD, sdp: GOOD.sdp.map((l) => (l.startsWith('m=') ? 'm=audio 4000 RTP/AVP 0' : l)) }],
    ['a=path', { ...GOOD, sdp: GOOD.sdp.filter((l) => !l.startsWith('a=path')) }],
  ] as const) {
    it(`fails (non-zero exit) when the answer lacks ${what}`, async () => {
      responder.answer = answer;
      const r = await runSipp({ scenario: SCENARIOS.inviteRoom, target: `127.0.0.1:${port}`, timeoutSec: 10 });
      assert.notEqual(r.code, 0, `sipp accepted an answer without ${what}`);
      assert.equal(r.code, 1, `expected exit 1 (a failed call), got ${r.code}\n${r.stderr}`);
      assert.equal(r.stats['FailedCall(C)'], '1');
    });
  }
});
