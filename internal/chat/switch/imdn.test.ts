// Disposition notifications (RFC 5438) in a room, over real sockets: a group message that
// asks for notifications reaches every participant with its IMDN headers untouched, and the
// notifications its recipients send back reach its sender only, even where private
// messages are off (a notification is not a private message).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { formatCpim } from '../../msrp/cpim.ts';
import { dispositionRequests, imdnMessageId } from '../../msrp/imdn.ts';
import { parseCpim } from '../../msrp/cpim.ts';
import { join, probe, ROOM_URI, startTestSwitch, type TestPeer } from './testpeer.ts';

const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

const IMDN = { imdn: 'urn:ietf:params:imdn' };

/** A group message asking for delivery and display notifications. */
function groupMessage(from: TestPeer, imdnId: string, text: string): Buffer {
  return formatCpim({
    from: { uri: from.sipUri }, to: [{ uri: ROOM_URI }], dateTime: '2026-12-06T04:00:00Z',
    namespaces: IMDN,
    headers: [
      { prefix: 'imdn', name: 'Message-ID', value: imdnId },
      { prefix: 'imdn', name: 'Disposition-Notification', value: 'positive-delivery, display' },
    ],
    contentType: 'text/plain;charset=utf-8', content: text,
  });
}

/** A notification from `from` about message `imdnId` of `sender`, in the RFC 5438 XML format. */
function notification(from: TestPeer, sender: string, imdnId: string, status: 'delivered' | 'displayed'): Buffer {
  const kind = status === 'delivered' ? 'delivery-notification' : 'display-notification';
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<imdn xmlns="urn:ietf:params:xml:ns:imdn">',
    `<message-id>${imdnId}</message-id>`,
    '<datetime>2026-12-06T04:00:01Z</datetime>',
    `<recipient-uri>${from.sipUri}</recipient-uri>`,
    `<original-recipient-uri>${ROOM_URI}</original-recipient-uri>`,
    `<${kind}><status><${status}/></status></${kind}>`,
    '</imdn>',
  ].join('\r\n');
  return formatCpim({
    from: { uri: from.sipUri }, to: [{ uri: sender }], dateTime: '2026-12-06T04:00:01Z',
    namespaces: IMDN,
    headers: [{ prefix: 'imdn', name: 'Message-ID', value: `n-${imdnId}-${status}` }],
    contentType: 'message/imdn+xml', contentHeaders: [{ name: 'Content-Disposition', value: 'notification' }],
    content: xml,
  });
}

/** A room where private messages are off and no device offered "private-messages". */
async function room() {
  const t = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 0, privateMessages: false, notices: false });
  stops.push(t.stop);
  const opts = { acceptsPrivate: false };
  const alice = await join(t.room, t.listener.port, 'sip:alice@example.com', opts);
  const bob = await join(t.room, t.listener.port, 'sip:bob@example.com', opts);
  const carol = await join(t.room, t.listener.port, 'sip:carol@example.com', opts);
  return { ...t, alice, bob, carol };
}

describe('disposition notifications (RFC 5438) in a room', () => {
  it('round trip: the group message keeps its request, each recipient\'s notification reaches the sender only', async () => {
    const { sw, alice, bob, carol } = await room();
    const msg = groupMessage(alice, 'm-34jk324j', 'did you get this?');
    assert.equal((await alice.sendAndWait(msg)).status, 200);
    for (const p of [bob, carol]) {
      const got = await p.nextText('did you get this?');
      // The switch forwards the CPIM body unchanged, so every recipient sees what was asked.
      assert.ok(got.body.equals(msg));
      const parsed = parseCpim(got.body);
      assert.ok(parsed.ok);
      assert.deepEqual(dispositionRequests(parsed.message), ['positive-delivery', 'display']);
      assert.equal(imdnMessageId(parsed.message), 'm-34jk324j');
    }
    const delivered = notification(bob, alice.sipUri, 'm-34jk324j', 'delivered');
    assert.equal((await bob.sendAndWait(delivered)).status, 200);
    const displayed = notification(carol, alice.sipUri, 'm-34jk324j', 'displayed');
    assert.equal((await carol.sendAndWait(displayed)).status, 200);
    const n1 = await alice.next((r) => r.body.equals(delivered));
    const n2 = await alice.next((r) => r.body.equals(displayed));
    assert.ok(n1.body.includes('<delivered/>') && n2.body.includes('<displayed/>'));
    assert.equal(sw.notifications, 2);
    // Nothing of the notifications reached the other participants: a probe from each
    // notifier's connection arrives after anything queued before it.
    await probe(bob, [carol]);
    await probe(carol, [bob]);
    for (const p of [bob, carol]) assert.ok(!p.received.some((r) => r.body.includes('urn:ietf:params:xml:ns:imdn')), `${p.sipUri} saw a notification`);
  });

  it('a private text message in the same room is still refused (403): only notifications pass', async () => {
    const { bob, alice } = await room();
    const res = await bob.sendAndWait(bob.cpim({ to: alice.sipUri, text: 'psst' }));
    assert.equal(res.status, 403);
  });

  it('a notification for a participant who left is answered 404, and reaches nobody', async () => {
    const { room: r, alice, bob, carol } = await room();
    r.removeParticipant(alice.sipUri, 'sip');
    const res = await bob.sendAndWait(notification(bob, alice.sipUri, 'm-gone', 'delivered'));
    assert.equal(res.status, 404);
    assert.match(res.comment ?? '', /not in the room/);
    await probe(bob, [carol]);
    assert.ok(!carol.received.some((x) => x.body.includes('m-gone')));
  });

  it('a notification goes to every device of the sender, not back to the device that sent it', async () => {
    const { room: r, listener, alice, bob } = await room();
    const alice2 = await join(r, listener.port, alice.sipUri, { acceptsPrivate: false });
    const n = notification(bob, alice.sipUri, 'm-two-devices', 'delivered');
    assert.equal((await bob.sendAndWait(n)).status, 200);
    await alice.next((x) => x.body.equals(n));
    await alice2.next((x) => x.body.equals(n));
  });
});

describe('a notification addressed to the room', () => {
  it('reaches every other participant (it names no one) and stays out of the history', async () => {
    const t = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 0, notices: false, historySize: 10 });
    stops.push(t.stop);
    const alice = await join(t.room, t.listener.port, 'sip:alice@example.com');
    const bob = await join(t.room, t.listener.port, 'sip:bob@example.com');
    const n = notification(bob, ROOM_URI, 'm-room', 'delivered');
    assert.equal((await bob.sendAndWait(n)).status, 200);
    await alice.next((r) => r.body.equals(n));
    assert.equal((await alice.sendAndWait(alice.cpim({ to: ROOM_URI, text: 'kept' }))).status, 200);
    const carol = await join(t.room, t.listener.port, 'sip:carol@example.com');
    await carol.nextText('kept');
    assert.ok(!carol.received.some((r) => r.body.includes('m-room')), 'the notification was replayed as history');
  });
});
