// The RFC 7701 §9 flows as vectors, sent byte for byte over a socket to the switch.
//
// The published examples have defects, fixed here (each fix is marked where it is made):
//  - the CPIM bodies have no blank line between the CPIM message headers (From/To/DateTime)
//    and the encapsulated MIME headers (Content-Type), which RFC 3862 §3.1 requires; the
//    vectors add it (the switch also accepts the published form, see the last test);
//  - Byte-Range values do not match the bodies printed under them; the vectors carry the
//    real lengths (computed below, so they stay right if a body is edited);
//  - some responses in the flows carry a transaction id other than their request's; RFC
//    4975 §7.2 says a response echoes the request's, which is what the switch sends and
//    what these tests expect.
// The URIs, Message-IDs and transaction ids are the RFC's; the focus's session URI is the
// one admit() minted (the RFC's msrp://conference.example.com:12763/9di4ea;tcp would need
// that host to be us).
import assert from 'node:assert/strict';

import { after, describe, it } from 'node:test';
import { connectEndpoint } from '../../client/endpoint.ts';
import { getHeader } from '../../msrp/frame.ts';
import { rfc7701BodyAsPublished, rfc7701BodyFixed } from '../../msrp/testdata/rfc7701.ts';
import { join, probe, startTestSwitch, TestPeer } from './testpeer.ts';

const CONFERENCE = 'sip:conference@example.com';
const ALICE_PATH = 'msrp://client.example.com:7777/iau39soe2843z;tcp';
const BOB_PATH = 'msrp://client.example.com:8888/9m4c2kd3;tcp';

const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

const crlf = (lines: string[]) => lines.join('\r\n');

/** A SEND as in RFC 7701 §9.3/§9.4/§9.5, with the body's Byte-Range computed from the body. */
function send(tid: string, toPath: string, fromPath: string, messageId: string, body: string, range?: { start: number; total: number; flag: '+' | '$' }): Buffer {
  const len = Buffer.byteLength(body);
  const r = range ?? { start: 1, total: len, flag: '$' as const };
  return Buffer.from(crlf([
    `MSRP ${tid} SEND`,
    `To-Path: ${toPath}`,
    `From-Path: ${fromPath}`,
    `Message-ID: ${messageId}`,
    // Fixed: the RFC's Byte-Range values disagree with the bodies printed.
    `Byte-Range: ${r.start}-${r.start + len - 1}/${r.total}`,
    'Content-Type: message/cpim',
    '',
    body,
    `-------${tid}${r.flag}`,
    '',
  ]));
}

async function rfcRoom() {
  const t = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 0 });
  stops.push(t.stop);
  const room = t.sw.createRoom({ uri: CONFERENCE });
  const alice = new TestPeer('sip:alice@example.com');
  Object.assign(alice, { uri: ALICE_PATH });
  const bob = new TestPeer('sip:bob@example.com');
  Object.assign(bob, { uri: BOB_PATH });
  for (const p of [alice, bob]) {
    const r = room.admit({ sipUri: p.sipUri, remotePath: [p.uri], acceptsPrivate: true });
    assert.ok(r.ok);
    p.focusUri = r.localUri;
    p.participantId = r.participantId;
    await p.connect(t.listener.port);
    assert.equal((await p.bind()).status, 200);
  }
  // Drain the join notices: queued before the probes, which both then saw.
  await probe(alice, [bob], CONFERENCE);
  await probe(bob, [alice], CONFERENCE);
  alice.received.length = 0;
  bob.received.length = 0;
  return { ...t, room, alice, bob };
}

describe('RFC 7701 §9 flows', () => {
  it('§9.2 NICKNAME with Use-Nickname is answered 200 under the same transaction id', async () => {
    const { alice } = await rfcRoom();
    alice.socket.write(crlf([
      'MSRP 09swk2d NICKNAME',
      `To-Path: ${alice.focusUri}`,
      `From-Path: ${ALICE_PATH}`,
      'Use-Nickname: "Alice the great"',
      '-------09swk2d$',
      '',
    ]));
    const res = await alice.response('09swk2d');
    assert.equal(res.status, 200);
    assert.deepEqual(res.toPath, [ALICE_PATH]);
    assert.deepEqual(res.fromPath, [alice.focusUri]);
  });

  it('§9.3 a regular message reaches Bob with the CPIM body untouched', async () => {
    const { alice, bob } = await rfcRoom();
    const body = rfc7701BodyFixed;
    alice.socket.write(send('d93kswow', alice.focusUri, ALICE_PATH, '12339sdqwer', body));
    assert.equal((await alice.response('d93kswow')).status, 200);
    const got = await bob.next();
    assert.equal(got.body.toString(), body);
    assert.deepEqual(got.head.toPath, [BOB_PATH]);
    assert.equal(getHeader(got.head, 'Byte-Range'), `1-${Buffer.byteLength(body)}/${Buffer.byteLength(body)}`);
  });

  it('§9.4 a private message reaches only its recipient', async () => {
    const { alice, bob } = await rfcRoom();
    const body = crlf([
      'From: Bob <sip:bob@example.com>',
      'To: Alice <sip:alice@example.com>',
      'DateTime: 2009-03-02T15:02:31-03:00',
      '', // Fixed: missing blank line.
      'Content-Type: text/plain',
      '',
      'Just between you and me',
    ]);
    bob.socket.write(send('6a87d7s', bob.focusUri, BOB_PATH, '823kjhd98', body));
    assert.equal((await bob.response('6a87d7s')).status, 200);
    assert.equal((await alice.next()).body.toString(), body);
  });

  it('§9.5 a chunked private message is forwarded chunk by chunk with the same Byte-Ranges', async () => {
    const { alice, bob } = await rfcRoom();
    const body = crlf([
      'From: Alice <sip:alice@example.com>',
      'To: Bob <sip:bob@example.com>',
      'DateTime: 2009-03-02T15:02:31-03:00',
      '', // Fixed: missing blank line.
      'Content-Type: text/plain',
      '',
      'This is a long private message split in two chunks, the first with the CPIM headers.',
    ]);
    const total = Buffer.byteLength(body);
    const cut = body.indexOf('split') ;
    const first = body.slice(0, cut);
    const second = body.slice(cut);
    // Fixed: each chunk's response answers its own transaction id.
    alice.socket.write(send('asd9f8g', alice.focusUri, ALICE_PATH, 'asd9f8g23', first, { start: 1, total, flag: '+' }));
    assert.equal((await alice.response('asd9f8g')).status, 200);
    const c1 = await bob.next();
    assert.equal(c1.continuation, '+');
    assert.equal(getHeader(c1.head, 'Byte-Range'), `1-${Buffer.byteLength(first)}/${total}`);
    alice.socket.write(send('8dfjds3', alice.focusUri, ALICE_PATH, 'asd9f8g23', second, { start: Buffer.byteLength(first) + 1, total, flag: '$' }));
    assert.equal((await alice.response('8dfjds3')).status, 200);
    const c2 = await bob.next();
    assert.equal(c2.continuation, '$');
    assert.equal(getHeader(c2.head, 'Message-ID'), getHeader(c1.head, 'Message-ID'));
    assert.equal(Buffer.concat([c1.body, c2.body]).toString(), body);
  });

  it('accepts the §9.3 body as published (no blank line before Content-Type) and forwards it unchanged', async () => {
    const { alice, bob } = await rfcRoom();
    const published = rfc7701BodyAsPublished;
    alice.socket.write(send('d93kswow', alice.focusUri, ALICE_PATH, '12339sdqwer', published));
    assert.equal((await alice.response('d93kswow')).status, 200);
    assert.equal((await bob.next()).body.toString(), published);
  });
});

describe('interop with the project\'s MSRP client (internal/client)', () => {
  it('a client endpoint sends a CPIM message into the room and receives one from it', async () => {
    const t = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 0 });
    stops.push(t.stop);
    const c = await connectEndpoint(`msrp://127.0.0.1:${t.listener.port};tcp`);
    assert.ok(c.ok);
    const ep = c.endpoint;
    const r = t.room.admit({ sipUri: 'sip:cli@example.com', remotePath: [ep.localUri], acceptsPrivate: true });
    assert.ok(r.ok);
    const bob = await join(t.room, t.listener.port, 'sip:bob@example.com');
    const body = bob.cpim({ to: 'sip:lobby@chat.example.com', from: 'sip:cli@example.com', text: 'from the CLI library' });
    const sent = await ep.send({ toPath: [r.localUri], message: body, contentType: 'message/cpim' });
    assert.ok(sent.ok, JSON.stringify(sent));
    assert.ok((await bob.nextText('from the CLI library')).body.equals(body));
    const back = bob.cpim({ to: 'sip:lobby@chat.example.com', text: 'hello CLI' });
    await bob.sendAndWait(back);
    let got = await ep.nextMessage(2000);
    while (got !== undefined && !got.body?.includes('hello CLI')) got = await ep.nextMessage(2000);
    assert.ok(got?.body?.equals(back));
    await ep.close();
  });
});


