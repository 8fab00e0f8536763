import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './testdata/clock.ts';
import type { InviteServerTransaction, NonInviteClientTransaction, InviteClientTransaction } from './transactions.ts';
import { TransactionLayer, serverKey } from './transactions.ts';
import { request, response, type SipMessage, type SipRequest } from './message.ts';
import { buildResponse } from './responses.ts';
import type { Destination } from './timers.ts';

const UDP: Destination = { transport: 'UDP', address: '192.0.2.1', port: 5060 };
const TCP: Destination = { transport: 'TCP', address: '192.0.2.1', port: 5060, connectionId: 'c1' };

function req(method: string, branch = 'z9hG4bKabc', seqMethod = method): SipRequest {
  return request({ method, uri: 'sip:room@example.com', headers: [
    ['Via', `SIP/2.0/UDP pc.example.com:5060;branch=${branch}`], ['From', '<sip:a@example.com>;tag=1'], ['To', '<sip:room@example.com>'],
    ['Call-ID', 'tx@pc'], ['CSeq', `1 ${seqMethod}`], ['Max-Forwards', '70'],
  ] });
}

function setup() {
  const clock = new FakeClock();
  const sent: { msg: SipMessage; at: number }[] = [];
  const layer = new TransactionLayer({ send: (msg) => sent.push({ msg, at: clock.now() }), clock });
  const statuses = () => sent.map((s) => (s.msg.kind === 'response' ? s.msg.status : s.msg.method));
  return { clock, sent, layer, statuses };
}

describe('transaction matching (RFC 3261 §17.2.3)', () => {
  it('matches an ACK to its INVITE and keeps CANCEL apart', () => {
    assert.equal(serverKey(req('ACK')), serverKey(req('INVITE')));
    assert.notEqual(serverKey(req('CANCEL')), serverKey(req('INVITE')));
    assert.equal(serverKey(req('CANCEL'), 'INVITE'), serverKey(req('INVITE')));
    assert.notEqual(serverKey(req('INVITE', 'z9hG4bKother')), serverKey(req('INVITE')));
  });

  it('falls back to Call-ID, From tag, CSeq and Via for RFC 2543 branches', () => {
    assert.ok(serverKey(req('INVITE', 'old'))!.startsWith('2543|'));
    assert.equal(serverKey(req('ACK', 'old', 'ACK')), serverKey(req('INVITE', 'old')));
  });
});

describe('INVITE server transaction (RFC 3261 §17.2.1)', () => {
  it('retransmits a final failure with Timer G until the ACK, then absorbs ACKs for T4 (UDP)', () => {
    const { clock, sent, layer } = setup();
    const invite = req('INVITE');
    const tx = layer.createServer(invite, UDP) as InviteServerTransaction;
    tx.respond(buildResponse(invite, 486, 'x'));
    assert.equal(tx.state, 'completed');
    clock.advance(500);
    clock.advance(1000);
    clock.advance(2000);
    clock.advance(4000);
    clock.advance(4000);
    assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500, 3500, 7500, 11500], 'T1, 2T1, 4T1 then capped at T2');
    layer.findServer(req('ACK', 'z9hG4bKabc', 'ACK'))!.receive(req('ACK', 'z9hG4bKabc', 'ACK'));
    assert.equal(tx.state, 'confirmed');
    clock.advance(4999);
    assert.equal(tx.state, 'confirmed');
    clock.advance(1);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.serverCount, 0);
  });

  it('gives up with Timer H after 64*T1 without ACK and tells the TU', () => {
    const { clock, layer } = setup();
    let timedOut = false;
    const invite = req('INVITE');
    const tx = layer.createServer(invite, TCP, { onTimeout: () => (timedOut = true) }) as InviteServerTransaction;
    tx.respond(buildResponse(invite, 603, 'x'));
    clock.advance(31999);
    assert.equal(timedOut, false);
    clock.advance(1);
    assert.equal(timedOut, true);
    assert.equal(tx.state, 'terminated');
  });

  it('answers a retransmitted INVITE with the last provisional and ends on 2xx', () => {
    const { layer, statuses } = setup();
    const invite = req('INVITE');
    const tx = layer.createServer(invite, UDP) as InviteServerTransaction;
    tx.start(buildResponse(invite, 100, undefined));
    layer.findServer(invite)!.receive(invite);
    tx.respond(buildResponse(invite, 200, 'x'));
    assert.deepEqual(statuses(), [100, 100, 200]);
    assert.equal(tx.state, 'terminated', 'the TU retransmits 2xx, not the transaction');
    assert.equal(layer.findServer(invite), undefined);
  });

  it('ends at once on ACK over a reliable transport (Timer I = 0)', () => {
    const { layer } = setup();
    const invite = req('INVITE');
    const tx = layer.createServer(invite, TCP) as InviteServerTransaction;
    tx.respond(buildResponse(invite, 404, 'x'));
    tx.receive(req('ACK', 'z9hG4bKabc', 'ACK'));
    assert.equal(tx.state, 'terminated');
  });
});

describe('non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('absorbs retransmissions in Trying, repeats the response in Completed, and ends after Timer J', () => {
    const { clock, layer, statuses } = setup();
    const bye = req('BYE');
    const tx = layer.createServer(bye, UDP);
    layer.findServer(bye)!.receive(bye);
    assert.deepEqual(statuses(), []);
    tx.respond(buildResponse(bye, 200, 'x'));
    layer.findServer(bye)!.receive(bye);
    assert.deepEqual(statuses(), [200, 200]);
    clock.advance(32000);
    assert.equal(tx.state, 'terminated');
    assert.equal(layer.findServer(bye), undefined);
  });
});

describe('client transactions (RFC 3261 §17.1)', () => {
  it('non-INVITE: Timer E doubles to T2, stays at T2 once Proceeding, and Timer F times out', () => {
    const { clock, sent, layer } = setup();
    let timedOut = false;
    const notify = req('NOTIFY');
    const tx = layer.sendRequest(notify, UDP, { onTimeout: () => (timedOut = true) }) as NonInviteClientTransaction;
    clock.advance(7500);
    assert.deepEqual(sent.map((s) => s.at), [0, 500, 1500, 3500, 7500]);
    assert.ok(layer.receiveResponse(response({ status: 100, headers: notify.headers.map((h) => [h.name, h.value] as const) })));
    assert.equal(tx.state, 'proceeding');
    clock.advance(24499);
    assert.equal(timedOut, false);
    clock.advance(1);
    assert.equal(timedOut, true);
    assert.equal(tx.state, 'terminated');
  });

  it('non-INVITE: a final response completes, Timer K (T4) ends it on UDP', () => {
    const { clock, layer } = setup();
    const finals: number[] = [];
    const notify = req('NOTIFY');
    const tx = layer.sendRequest(notify, UDP, { onResponse: (r) => finals.push(r.status) });
    layer.receiveResponse(buildResponse(notify, 200, 'x'));
    assert.equal(tx.state, 'completed');
    clock.advance(5000);
    assert.equal(tx.state, 'terminated');
    assert.deepEqual(finals, [200]);
    assert.equal(layer.receiveResponse(buildResponse(notify, 200, 'x')), false);
  });

  it('INVITE: Timer A retransmits on UDP, a failure is ACKed with the same branch, Timer D ends it', () => {
    const { clock, sent, layer, statuses } = setup();
    const invite = req('INVITE');
    const tx = layer.sendRequest(invite, UDP) as InviteClientTransaction;
    clock.advance(1500);
    assert.deepEqual(statuses(), ['INVITE', 'INVITE', 'INVITE']);
    layer.receiveResponse(buildResponse(invite, 486, 'callee'));
    assert.equal(tx.state, 'completed');
    const ack = sent.at(-1)!.msg;
    assert.ok(ack.kind === 'request' && ack.method === 'ACK');
    assert.equal(ack.headers.find((h) => h.name === 'Via')!.value, invite.headers[0]!.value);
    assert.match(ack.headers.find((h) => h.name === 'To')!.value, /tag=callee/);
    layer.receiveResponse(buildResponse(invite, 486, 'callee'));
    assert.equal(statuses().filter((s) => s === 'ACK').length, 2, 'a retransmitted failure is ACKed again');
    clock.advance(32000);
    assert.equal(tx.state, 'terminated');
  });

  it('INVITE: a 2xx ends the transaction and goes to the TU; Timer B times out an unanswered INVITE', () => {
    const { clock, layer } = setup();
    const got: number[] = [];
    const a = req('INVITE', 'z9hG4bKa');
    const txA = layer.sendRequest(a, TCP, { onResponse: (r) => got.push(r.status) });
    layer.receiveResponse(buildResponse(a, 200, 'x'));
    assert.equal(txA.state, 'terminated');
    assert.deepEqual(got, [200]);
    let timedOut = false;
    layer.sendRequest(req('INVITE', 'z9hG4bKb'), TCP, { onTimeout: () => (timedOut = true) });
    clock.advance(32000);
    assert.equal(timedOut, true);
  });
});
