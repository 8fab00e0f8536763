import assert from 'node:assert/strict';
import { after, describe, it, mock } from 'node:test';
import { getHeader } from '../../msrp/frame.ts';
import { newMessageId } from '../../msrp/transaction.ts';
import { ANONYMOUS_URI } from './room.ts';
import { join, probe, ROOM_URI, startTestSwitch } from './testpeer.ts';

const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

async function room3(policy = {}) {
  const t = await startTestSwitch(policy);
  stops.push(t.stop);
  const port = t.listener.port;
  const alice = await join(t.room, port, 'sip:alice@example.com', { displayName: 'Alice' });
  const bob = await join(t.room, port, 'sip:bob@example.com');
  const carol = await join(t.room, port, 'sip:carol@example.com');
  const dave = await join(t.room, port, 'sip:dave@example.org', { acceptsPrivate: false });
  // Drain the join notices: they were queued before the probes, which every peer then saw.
  await probe(alice, [bob, carol, dave]);
  await probe(bob, [alice, carol, dave]);
  for (const p of [alice, bob, carol, dave]) p.received.length = 0;
  return { ...t, alice, bob, carol, dave };
}

describe('public messages (RFC 7701 §6.1)', () => {
  it('fans a public message out to every other participant with the CPIM bytes unmodified and a new MSRP envelope', async () => {
    const { alice, bob, carol, dave } = await room3();
    const body = alice.cpim({ to: ROOM_URI, text: 'Hello guys, how are you today?' });
    const messageId = newMessageId();
    const res = await alice.sendAndWait(body, { messageId });
    assert.equal(res.status, 200);
    for (const p of [bob, carol, dave]) {
      const got = await p.next();
      assert.ok(got.body.equals(body), `${p.sipUri} got the same CPIM bytes`);
      assert.deepEqual(got.head.toPath, [p.uri]);
      assert.deepEqual(got.head.fromPath, [p.focusUri]);
      assert.equal(getHeader(got.head, 'Content-Type'), 'message/cpim');
      assert.equal(getHeader(got.head, 'Byte-Range'), `1-${body.length}/${body.length}`);
      assert.notEqual(getHeader(got.head, 'Message-ID'), messageId, 'the switch mints its own Message-ID');
      assert.equal(got.continuation, '$');
    }
    // Bob's probe is handled after alice's message (bob has it): an echo would arrive before it.
    await probe(bob, [alice]);
    assert.equal(alice.received.length, 0, 'the sender does not get its own message back');
  });

  it('takes sip:anonymous@anonymous.invalid in CPIM To as the room (RCS)', async () => {
    const { alice, bob } = await room3();
    const body = alice.cpim({ to: ANONYMOUS_URI, text: 'hi from RCS' });
    assert.equal((await alice.sendAndWait(body)).status, 200);
    assert.ok((await bob.next()).body.equals(body));
  });

  it('refuses a CPIM From that is not the sender with 403 and delivers nothing', async () => {
    const { alice, bob } = await room3();
    const res = await alice.sendAndWait(alice.cpim({ to: ROOM_URI, from: 'sip:bob@example.com', text: 'I am Bob' }));
    assert.equal(res.status, 403);
    await probe(alice, [bob]);
    assert.equal(bob.received.length, 0, 'nothing before the probe sent behind it');
  });

  it('refuses a body that is not message/cpim with 415', async () => {
    const { alice, bob } = await room3();
    const res = await alice.sendAndWait(Buffer.from('plain text'), { contentType: 'text/plain' });
    assert.equal(res.status, 415);
    await probe(alice, [bob]);
    assert.equal(bob.received.length, 0, 'nothing before the probe sent behind it');
  });

  it('answers 400 for CPIM it cannot parse', async () => {
    const { alice } = await room3();
    assert.equal((await alice.sendAndWait(Buffer.from('From: <sip:alice@example.com>\r\nno blank line'))).status, 400);
  });

  it('answers 481 for a session it does not know and 403 when From-Path is not the session\'s participant', async () => {
    const { alice, bob } = await room3();
    const saved = alice.focusUri;
    alice.focusUri = saved.replace(/\/[^/;]+;/, '/nosuchsession0000;');
    assert.equal((await alice.sendAndWait(alice.cpim({ to: ROOM_URI, text: 'x' }))).status, 481);
    alice.focusUri = saved;
    const req = alice.request('SEND', [{ name: 'Message-ID', value: newMessageId() }, { name: 'Content-Type', value: 'message/cpim' }],
      alice.cpim({ to: ROOM_URI, text: 'x' }), '$', [bob.uri]);
    assert.equal((await alice.response(req.transactionId)).status, 403);
  });

  it('answers 501 for methods it does not understand', async () => {
    const { alice } = await room3();
    const req = alice.request('FOO', []);
    assert.equal((await alice.response(req.transactionId)).status, 501);
  });

  it('passes isComposing (RFC 3994) through like any message and keeps it out of history', async () => {
    const { room, listener, alice, bob } = await room3();
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype></isComposing>';
    const body = alice.cpim({ to: ROOM_URI, content: Buffer.from(xml), contentType: 'application/im-iscomposing+xml' });
    assert.equal((await alice.sendAndWait(body)).status, 200);
    assert.ok((await bob.next()).body.equals(body));
    const late = await join(room, listener.port, 'sip:late@example.com');
    // A replay is queued at admission (room.ts), before any later live message.
    await probe(alice, [late]);
    assert.ok(!late.received.some((r) => r.body.includes('isComposing')), 'isComposing is not replayed');
  });

  it('sends a success REPORT for a whole message when the sender asks for one', async () => {
    const { alice } = await room3();
    const body = alice.cpim({ to: ROOM_URI, text: 'report please' });
    const messageId = newMessageId();
    await alice.sendAndWait(body, { messageId, headers: [{ name: 'Success-Report', value: 'yes' }] });
    const report = await alice.next((r) => r.head.method === 'REPORT');
    assert.equal(getHeader(report.head, 'Message-ID'), messageId);
    assert.equal(getHeader(report.head, 'Status'), '000 200 OK');
    assert.equal(getHeader(report.head, 'Byte-Range'), `1-${body.length}/${body.length}`);
  });
});

describe('private messages (RFC 7701 §6.2)', () => {
  it('delivers a private message to exactly its recipient', async () => {
    const { alice, bob, carol, dave } = await room3();
    const body = alice.cpim({ to: 'sip:bob@example.com', text: 'psst' });
    assert.equal((await alice.sendAndWait(body)).status, 200);
    assert.ok((await bob.next()).body.equals(body));
    await probe(alice, [carol, dave]);
    assert.equal(carol.received.length + dave.received.length, 0, 'nothing before the probe sent behind it');
  });

  it('finds the recipient by nickname written as the CPIM To display name', async () => {
    const { alice, bob } = await room3();
    assert.equal((await bob.nickname('"bobby"')).status, 200);
    const body = alice.cpim({ to: 'sip:unknown@example.com', toName: 'bobby', text: 'by nickname' });
    assert.equal((await alice.sendAndWait(body)).status, 200);
    assert.ok((await bob.next()).body.equals(body));
  });

  it('answers 404 when the recipient is not in the room', async () => {
    const { alice } = await room3();
    assert.equal((await alice.sendAndWait(alice.cpim({ to: 'sip:nobody@example.com', text: 'x' }))).status, 404);
  });

  it('answers 428 when the recipient does not take private messages (no a=chatroom private-messages)', async () => {
    const { alice, dave } = await room3();
    assert.equal((await alice.sendAndWait(alice.cpim({ to: 'sip:dave@example.org', text: 'x' }))).status, 428);
    await probe(alice, [dave]);
    assert.equal(dave.received.length, 0, 'nothing before the probe sent behind it');
  });

  it('answers 403 when the room disables private messages', async () => {
    const { alice } = await room3({ privateMessages: false });
    assert.equal((await alice.sendAndWait(alice.cpim({ to: 'sip:bob@example.com', text: 'x' }))).status, 403);
  });
});

describe('nicknames (RFC 7701 §7)', () => {
  it('answers 200, then 425 to another participant for the same nickname in any case or width', async () => {
    const { alice, bob } = await room3();
    assert.equal((await alice.nickname('"Alice"')).status, 200);
    assert.equal((await bob.nickname('"ALICE"')).status, 425);
    assert.equal((await bob.nickname('"\uff21lice"')).status, 425);
    assert.equal((await alice.nickname('"Alice"')).status, 200, 're-taking one\'s own nickname is fine');
  });

  it('answers 424 for malformed nicknames', async () => {
    const { alice } = await room3();
    assert.equal((await alice.nickname('Alice')).status, 424, 'not a quoted-string');
    assert.equal((await alice.nickname('"   "')).status, 424, 'empty');
    assert.equal((await alice.nickname(`"${'x'.repeat(65)}"`)).status, 424, 'too long');
    const req = alice.request('NICKNAME', []);
    assert.equal((await alice.response(req.transactionId)).status, 424, 'no Use-Nickname');
  });

  it('answers 425 for reserved nicknames and keeps a released one for its holder during the quarantine', async (t) => {
    // The quarantine runs on Date.now (nicknames.ts): a mocked clock makes "during" and
    // "after" exact instead of racing a 300 ms wall-clock window.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    t.after(() => mock.timers.reset());
    const { room, listener, alice, bob } = await room3({ nicknameQuarantineMs: 300 });
    assert.equal((await bob.nickname('"admin"')).status, 425);
    assert.equal((await alice.nickname('"wonder"')).status, 200);
    assert.equal((await alice.nickname('"alice2"')).status, 200, 'changing releases "wonder"');
    assert.equal((await bob.nickname('"wonder"')).status, 425, 'quarantined');
    assert.equal((await alice.nickname('"wonder"')).status, 200, 'its last holder may take it back');
    room.remove(alice.participantId, 'sip');
    assert.equal((await bob.nickname('"wonder"')).status, 425, 'quarantined after leaving');
    const again = await join(room, listener.port, 'sip:alice@example.com');
    assert.equal((await again.nickname('"wonder"')).status, 200, 'the same participant rejoining gets it back');
    assert.equal((await again.nickname('"other"')).status, 200);
    mock.timers.tick(299);
    assert.equal((await bob.nickname('"wonder"')).status, 425, 'still quarantined 1 ms before the end');
    mock.timers.tick(1);
    assert.equal((await bob.nickname('"wonder"')).status, 200, 'free after the quarantine');
  });

  it('answers 403 when the room disables nicknames', async () => {
    const { alice } = await room3({ nicknames: false });
    assert.equal((await alice.nickname('"Alice"')).status, 403);
  });

  it('emits nickname events for the conference event package', async () => {
    const { room, alice } = await room3();
    const events: unknown[] = [];
    room.onChange((e) => events.push(e));
    await alice.nickname('"Al"');
    assert.deepEqual(events, [{ type: 'nickname', sipUri: 'sip:alice@example.com', nickname: 'Al', previous: undefined }]);
    assert.equal(room.participants().find((p) => p.sipUri === 'sip:alice@example.com')?.nickname, 'Al');
  });
});
