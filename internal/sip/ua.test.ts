import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FakeClock } from './testdata/clock.ts';
import { UserAgentServer, type IncomingRequest, type UserAgentOptions } from './ua.ts';
import { headerValue, headerValues, request, type SipMessage, type SipRequest, type SipResponse } from './message.ts';
import { toTag } from './fields.ts';
import { parseDatagram } from './parser.ts';
import { computeResponse, ha1, NonceManager } from '../auth/index.ts';
import { sip } from './testdata/vectors.ts';
import type { Destination } from './timers.ts';

const SRC: Destination = { transport: 'TCP', address: '127.0.0.1', port: 40000, connectionId: 'c1' };

function make(overrides: Partial<UserAgentOptions> = {}) {
  const clock = new FakeClock();
  const sent: SipMessage[] = [];
  const tu: IncomingRequest[] = [];
  const ua = new UserAgentServer({
    send: (m) => sent.push(m), contact: '<sip:room@127.0.0.1:5060;transport=tcp>;isfocus', clock,
    supported: ['timer'], onRequest: (r) => tu.push(r), ...overrides,
  });
  const responses = () => sent.filter((m): m is SipResponse => m.kind === 'response');
  const last = () => responses().at(-1)!;
  return { ua, sent, tu, clock, responses, last };
}

let branchSeq = 0;
function req(method: string, extra: [string, string][] = [], options: { body?: string; toTag?: string; seq?: number; branch?: string } = {}): SipRequest {
  return request({ method, uri: 'sip:room@127.0.0.1', headers: [
    ['Via', `SIP/2.0/TCP client.example.com;branch=${options.branch ?? `z9hG4bK${++branchSeq}`}`], ['Max-Forwards', '70'],
    ['From', '<sip:alice@example.com>;tag=a1'], ['To', `<sip:room@127.0.0.1>${options.toTag ? `;tag=${options.toTag}` : ''}`],
    ['Call-ID', 'ua-test@client'], ['CSeq', `${options.seq ?? 1} ${method}`], ['Contact', '<sip:alice@client.example.com;transport=tcp>'], ...extra,
  ], body: options.body });
}

describe('UserAgentServer generic answers (RFC 3261 §8.2)', () => {
  it('answers Max-Forwards 0 with 483', () => {
    const { ua, last } = make();
    const options = req('OPTIONS');
    ua.receive({ ...options, headers: options.headers.map((h) => (h.name === 'Max-Forwards' ? { ...h, value: '0' } : h)) }, SRC);
    assert.equal(last().status, 483);
  });

  it('answers a known but disallowed method with 405 and Allow, an unknown one with 501', () => {
    const { ua, last } = make();
    ua.receive(req('REGISTER'), SRC);
    assert.equal(last().status, 405);
    assert.deepEqual(headerValues(last(), 'Allow'), ['INVITE, ACK, BYE, CANCEL, OPTIONS, SUBSCRIBE, NOTIFY, REFER']);
    ua.receive(req('FOO'), SRC);
    assert.equal(last().status, 501);
  });

  it('answers an unsupported Require with 420 listing it in Unsupported', () => {
    const { ua, last } = make();
    ua.receive(req('INVITE', [['Require', '100rel, timer']]), SRC);
    assert.equal(last().status, 420);
    assert.equal(headerValue(last(), 'Unsupported'), '100rel');
  });

  it('answers an INVITE body it cannot read with 415 and Accept', () => {
    const { ua, last } = make();
    ua.receive(req('INVITE', [['Content-Type', 'text/html']], { body: '<p>' }), SRC);
    assert.equal(last().status, 415);
    assert.equal(headerValue(last(), 'Accept'), 'application/sdp');
  });

  it('answers BYE in an unknown dialog with 481 and drops an unknown ACK', () => {
    const { ua, sent, last } = make();
    ua.receive(req('BYE', [], { toTag: 'nope', seq: 2 }), SRC);
    assert.equal(last().status, 481);
    const before = sent.length;
    ua.receive(req('ACK', [], { toTag: 'nope' }), SRC);
    assert.equal(sent.length, before, 'ACK is never answered');
  });

  it('answers OPTIONS with 200, Allow, Accept and Supported', () => {
    const { ua, last, tu } = make();
    ua.receive(req('OPTIONS'), SRC);
    assert.equal(last().status, 200);
    assert.ok(headerValue(last(), 'Allow')!.includes('INVITE'));
    assert.equal(headerValue(last(), 'Supported'), 'timer');
    assert.match(headerValue(last(), 'To')!, /;tag=/);
    assert.equal(tu.length, 0);
  });

  it('answers a request that failed to parse with the error status and reason ("Missing Call-ID")', () => {
    const { ua, last } = make();
    const r = parseDatagram(sip('OPTIONS sip:room@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP c.example.com;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=1\nTo: <sip:room@127.0.0.1>\nCSeq: 1 OPTIONS'));
    assert.ok(r && !r.ok);
    ua.receiveError(r.error, SRC);
    assert.equal(last().status, 400);
    assert.equal(last().reason, 'Missing Call-ID');
  });
});

describe('UserAgentServer INVITE dialogs', () => {
  it('sends 100, hands the INVITE to the TU, creates the dialog on 200 and retransmits it until the ACK', () => {
    const { ua, tu, responses, clock } = make();
    const invite = req('INVITE', [['Content-Type', 'application/sdp']], { body: 'v=0\r\n' });
    ua.receive(invite, SRC);
    assert.deepEqual(responses().map((r) => r.status), [100]);
    assert.equal(tu.length, 1);
    const dialog = tu[0]!.respond(200, { body: 'v=0\r\n', contentType: 'application/sdp' })!;
    assert.equal(dialog.state, 'confirmed');
    assert.equal(dialog.remoteTarget, 'sip:alice@client.example.com;transport=tcp');
    const ok = responses().at(-1)!;
    assert.equal(headerValue(ok, 'Contact'), '<sip:room@127.0.0.1:5060;transport=tcp>;isfocus');
    assert.equal(toTag(ok), dialog.id.localTag);
    clock.advance(500);
    clock.advance(1000);
    assert.deepEqual(responses().map((r) => r.status), [100, 200, 200, 200], '§13.3.1.4: T1 then 2T1');
    ua.receive(req('ACK', [], { toTag: dialog.id.localTag }), SRC);
    clock.advance(10000);
    assert.equal(responses().length, 4, 'the ACK stops the retransmissions');
    ua.receive(req('BYE', [], { toTag: dialog.id.localTag, seq: 2 }), SRC);
    assert.equal(tu.at(-1)!.request.method, 'BYE');
    assert.equal(tu.at(-1)!.dialog, dialog);
    tu.at(-1)!.respond(200);
    assert.equal(responses().at(-1)!.status, 200);
    assert.equal(ua.dialogs.size, 0);
  });

  it('makes a dialog for a REFER accepted with 202, none when the 202 says Refer-Sub: false (RFC 4488)', () => {
    const { ua, tu, last } = make();
    ua.receive(req('REFER', [['Refer-To', '<sip:bob@example.com>'], ['Refer-Sub', 'false']]), SRC);
    assert.equal(tu[0]!.respond(202, { headers: [['Refer-Sub', 'false']] }), undefined);
    assert.equal(last().status, 202);
    assert.ok(toTag(last()) !== undefined && headerValue(last(), 'Contact') !== undefined);
    assert.equal(ua.dialogs.size, 0, 'nothing left to end');
    ua.receive(req('REFER', [['Refer-To', '<sip:bob@example.com>']], { seq: 2 }), SRC);
    assert.ok(tu[1]!.respond(202) !== undefined);
    assert.equal(ua.dialogs.size, 1);
  });

  it('ends the dialog with BYE when no ACK comes within 64*T1', () => {
    const ended: string[] = [];
    const { ua, tu, sent, clock } = make({ onDialogEnded: (_d, why) => ended.push(why) });
    ua.receive(req('INVITE'), SRC);
    tu[0]!.respond(200);
    clock.advance(32000);
    assert.deepEqual(ended, ['no-ack']);
    assert.ok(sent.some((m) => m.kind === 'request' && m.method === 'BYE'));
  });

  it('answers CANCEL with 200 and the pending INVITE with 487; an unmatched CANCEL gets 481', () => {
    const cancelled: string[] = [];
    const { ua, tu, responses } = make({ onCancel: (i) => cancelled.push(i.method) });
    ua.receive(req('INVITE', [], { branch: 'z9hG4bKcancelme' }), SRC);
    tu[0]!.respond(180);
    ua.receive(req('CANCEL', [], { branch: 'z9hG4bKcancelme' }), SRC);
    assert.deepEqual(responses().map((r) => `${r.status} ${headerValue(r, 'CSeq')}`), ['100 1 INVITE', '180 1 INVITE', '200 1 CANCEL', '487 1 INVITE']);
    assert.equal(toTag(responses()[1]!), toTag(responses()[3]!), 'one To tag for every response to the INVITE');
    assert.deepEqual(cancelled, ['INVITE']);
    tu[0]!.respond(200);
    assert.equal(responses().length, 4, 'the TU answer after 487 is ignored');
    ua.receive(req('CANCEL', [], { branch: 'z9hG4bKunknown' }), SRC);
    assert.equal(responses().at(-1)!.status, 481);
  });

  it('sends NOTIFY in the dialog and resolves with its final response', async () => {
    const { ua, tu, sent } = make({ sentBy: () => ({ host: '127.0.0.1', port: 5060 }) });
    ua.receive(req('SUBSCRIBE', [['Event', 'conference']]), SRC);
    const dialog = tu[0]!.respond(200, { headers: [['Expires', '600']] })!;
    const pending = ua.request(dialog, 'NOTIFY', { headers: [['Event', 'conference'], ['Subscription-State', 'active;expires=600']] });
    const notify = sent.at(-1)!;
    assert.ok(notify.kind === 'request' && notify.method === 'NOTIFY');
    assert.equal(notify.uri, 'sip:alice@client.example.com;transport=tcp');
    assert.match(headerValue(notify, 'From')!, new RegExp(`tag=${dialog.id.localTag}`));
    ua.receive({ kind: 'response', status: 200, reason: 'OK', headers: notify.headers, body: Buffer.alloc(0) }, SRC);
    assert.equal((await pending).status, 200);
  });
});

describe('UserAgentServer Digest challenge (RFC 3261 §22.4)', () => {
  it('challenges an INVITE with 401 and accepts credentials computed with method INVITE and the Request-URI', () => {
    const nonces = new NonceManager({ secret: randomBytes(32), lifetimeSec: 60 });
    const stored = { ha1Md5: ha1('MD5', 'alice', 'example.com', 'pw'), ha1Sha256: ha1('SHA-256', 'alice', 'example.com', 'pw') };
    const { ua, last, tu } = make({ digest: { realm: 'example.com', nonces, lookup: (u) => (u === 'alice' ? stored : undefined) } });
    ua.receive(req('INVITE'), SRC);
    assert.equal(last().status, 401);
    const challenges = headerValues(last(), 'WWW-Authenticate');
    assert.equal(challenges.length, 2);
    const nonce = /nonce="([^"]+)"/.exec(challenges[0]!)![1]!;
    const uri = 'sip:room@127.0.0.1';
    const credentials = (method: string) => {
      const response = computeResponse({ algorithm: 'SHA-256', ha1: stored.ha1Sha256, nonce, cnonce: 'c', nc: '00000001', qop: 'auth', method, uri });
      return `Digest username="alice", realm="example.com", nonce="${nonce}", uri="${uri}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c", response="${response}"`;
    };
    ua.receive(req('INVITE', [['Authorization', credentials('AUTH')]]), SRC);
    assert.equal(last().status, 401, 'a digest over another method is refused');
    ua.receive(req('INVITE', [['Authorization', credentials('INVITE')]]), SRC);
    assert.equal(tu.length, 1);
    assert.equal(tu[0]!.user, 'alice');
  });
});
