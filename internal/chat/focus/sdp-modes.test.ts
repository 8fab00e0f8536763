// The SDP cases of real clients, over real sockets (SIP over UDP to the focus, MSRP over TCP
// with the real switch): an offer with a=setup:passive (RFC 6135: the switch connects to the
// offer's first hop), a re-INVITE whose a=path moved (RFC 4975 §8.4: same session, new
// connection), and a=accept-wrapped-types honoured by the fan-out (RFC 4975 §8.6).
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { headerValue } from '../../sip/message.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { offerSdp, SipUac, type UacDialog } from '../../client/sip-uac.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { TestPeer, getHeader, probe } from '../switch/testpeer.ts';
import { loopbackChatConfig } from '../testchat.ts';
import { eventually } from '../../testwait.ts';

const logger = createLogger({ name: 'sdp-modes-test', level: 'silent', env: {} });
const ROOM = 'sip:lobby@chat.test';

describe('chat SDP: setup:passive, re-INVITE with a new path, accept-wrapped-types', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  const servers: Server[] = [];
  const uacs: SipUac[] = [];
  const peers: TestPeer[] = [];
  const lobby = () => chat.switch.room(ROOM)!;

  before(async () => {
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { notices: false } }] }), { logger });
  });
  after(async () => {
    for (const p of peers) p.close();
    for (const u of uacs) u.close();
    for (const s of servers) s.close();
    await chat.close();
  });

  async function uac(user: string): Promise<SipUac> {
    const u = await SipUac.open('UDP', chat.focus.udpPort!, user);
    uacs.push(u);
    return u;
  }

  /** INVITE with `offer`, ACK; the answer's a=path and a=setup. */
  async function invite(u: SipUac, d: UacDialog, offer: string, inDialog = false): Promise<{ status: number; path: string; setup: string; sdp: string }> {
    const res = await u.send(d, 'INVITE', { body: offer, inDialog });
    if (res.status === 200) await u.send(d, 'ACK', { inDialog: true });
    const sdp = res.body.toString();
    return { status: res.status, sdp, path: /^a=path:(\S+)$/m.exec(sdp)?.[1] ?? '', setup: /^a=setup:(\S+)$/m.exec(sdp)?.[1] ?? '' };
  }

  /** A participant that connects to the switch itself (a=setup:active). */
  async function activePeer(user: string, o: { acceptWrappedTypes?: string } = {}): Promise<{ peer: TestPeer; u: SipUac; d: UacDialog }> {
    const peer = new TestPeer(`sip:${user}@example.com`);
    peers.push(peer);
    const u = await uac(user);
    const d = u.newDialog(ROOM);
    const a = await invite(u, d, offerSdp(peer.uri, { setup: 'active', ...o }));
    assert.equal(a.status, 200);
    peer.focusUri = a.path;
    await peer.connect(Number(/:(\d+)\//.exec(a.path)![1]));
    assert.equal((await peer.bind()).status, 200);
    return { peer, u, d };
  }

  async function listeningPeer(user: string): Promise<{ peer: TestPeer; accepted: Promise<void> }> {
    const l = await TestPeer.listening(`sip:${user}@example.com`);
    servers.push(l.server);
    peers.push(l.peer);
    return l;
  }

  it('accepts a=setup:passive: answers a=setup:active, connects to the offered path and binds the session with an empty SEND', async () => {
    const { peer, accepted } = await listeningPeer('pat');
    const u = await uac('pat');
    const d = u.newDialog(ROOM);
    const a = await invite(u, d, offerSdp(peer.uri, { setup: 'passive' }));
    assert.equal(a.status, 200, a.sdp);
    assert.equal(a.setup, 'active', 'RFC 6135: the answer takes the other role');
    peer.focusUri = a.path;
    await accepted;
    // RFC 4975 §5.4 / RFC 6135: the side that connects sends a SEND at once (here empty).
    const first = await peer.nextHead((h) => h.method === 'SEND');
    assert.deepEqual(first.toPath, [peer.uri]);
    assert.deepEqual(first.fromPath, [a.path]);
    assert.equal(getHeader(first, 'Message-ID'), undefined, 'bodiless binding SEND');
    await eventually(() => lobby().participants().find((p) => p.sipUri === 'sip:pat@example.com')?.devices[0]?.connected === true, 'the device connected');

    // Both directions over the connection the switch opened.
    const other = await activePeer('olga');
    await probe(other.peer, [peer], ROOM);
    const res = await peer.sendAndWait(peer.cpim({ to: ROOM, text: 'hello from a passive client' }));
    assert.equal(res.status, 200);
    await other.peer.nextText('hello from a passive client');
    await u.send(d, 'BYE', { inDialog: true });
    await other.u.send(other.d, 'BYE', { inDialog: true });
    await eventually(() => lobby().participants().length === 0, 'the room empty again');
  });

  it('applies a re-INVITE with a new a=path: same session and nickname, the old connection closed, the new one used', async () => {
    const rita = await activePeer('rita');
    const other = await activePeer('otto');
    assert.equal((await rita.peer.nickname('"Rita"')).status, 200);
    const before = lobby().participants().find((p) => p.sipUri === 'sip:rita@example.com')!;
    const participantId = before.devices[0]!.participantId;
    const events: string[] = [];
    const off = lobby().onChange((e) => events.push(e.type));

    // The client moved (a new address, say): its new MSRP URI, connecting again itself.
    const moved = new TestPeer('sip:rita@example.com');
    peers.push(moved);
    const a = await invite(rita.u, rita.d, offerSdp(moved.uri, { setup: 'active' }), true);
    assert.equal(a.status, 200);
    assert.equal(a.path, rita.peer.focusUri, 'our session URI stays (RFC 4975 §8.4 allows either; keeping it keeps the session)');
    assert.equal(a.setup, 'passive');
    await rita.peer.closed; // RFC 4975 §5.4: no session uses the old connection any more
    moved.focusUri = a.path;
    await moved.connect(Number(/:(\d+)\//.exec(a.path)![1]));
    assert.equal((await moved.bind()).status, 200);

    const after = lobby().participants().find((p) => p.sipUri === 'sip:rita@example.com')!;
    assert.equal(after.devices.length, 1);
    assert.equal(after.devices[0]!.participantId, participantId);
    assert.deepEqual(after.devices[0]!.remotePath, [moved.uri]);
    assert.equal(after.nickname, 'Rita');
    assert.ok(!events.includes('left') && !events.includes('device-left'), `no one left: ${events.join(',')}`);
    off();

    await probe(other.peer, [moved], ROOM);
    assert.equal((await moved.sendAndWait(moved.cpim({ to: ROOM, text: 'after the move' }))).status, 200);
    await other.peer.nextText('after the move');
    // The old URI no longer speaks for the session (From-Path must end with the new path).
    assert.equal(chat.focus.calls, 2);

    // A second move, now asking the switch to connect (a=setup:passive).
    const { peer: listening, accepted } = await listeningPeer('rita');
    const b = await invite(rita.u, rita.d, offerSdp(listening.uri, { setup: 'passive' }), true);
    assert.equal(b.status, 200);
    assert.equal(b.setup, 'active');
    listening.focusUri = b.path;
    await moved.closed;
    await accepted;
    await probe(other.peer, [listening], ROOM);

    await rita.u.send(rita.d, 'BYE', { inDialog: true });
    await other.u.send(other.d, 'BYE', { inDialog: true });
    await eventually(() => lobby().participants().length === 0 && chat.focus.calls === 0, 'the room empty again');
  });

  it('refuses a re-INVITE whose new path is not usable with 488 and keeps the session as it was', async () => {
    const ivy = await activePeer('ivy');
    const res = await ivy.u.send(ivy.d, 'INVITE', { inDialog: true, body: offerSdp('http://not-msrp.example.com/x') });
    assert.equal(res.status, 488, 'a path that is not MSRP URIs is no usable MSRP media');
    assert.match(headerValue(res, 'Warning') ?? '', /^304 /);
    const p = lobby().participants().find((x) => x.sipUri === 'sip:ivy@example.com')!;
    assert.equal(p.devices[0]!.connected, true);
    const other = await activePeer('oona');
    await probe(other.peer, [ivy.peer], ROOM);
    await ivy.u.send(ivy.d, 'BYE', { inDialog: true });
    await other.u.send(other.d, 'BYE', { inDialog: true });
    await eventually(() => lobby().participants().length === 0, 'the room empty again');
  });

  it('fans out only the wrapped types a device signalled (a=accept-wrapped-types), and refuses such a private message with 415', async () => {
    const plain = await activePeer('plain', { acceptWrappedTypes: 'text/plain' });
    const any = await activePeer('any');
    const sender = await activePeer('sender');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const r = await sender.peer.sendAndWait(sender.peer.cpim({ to: ROOM, contentType: 'image/png', content: png }));
    assert.equal(r.status, 200);
    const got = await any.peer.next((m) => m.body.includes(png));
    assert.match(got.body.toString('latin1'), /Content-Type: image\/png/);
    // Ordered: the probe comes after the picture on every connection, so the picture would be before it.
    await probe(sender.peer, [plain.peer, any.peer], ROOM);
    assert.equal(plain.peer.received.some((m) => m.body.includes(png)), false, 'text/plain only: no picture');
    // Text still reaches it.
    await probe(sender.peer, [plain.peer], ROOM);
    const priv = await sender.peer.sendAndWait(sender.peer.cpim({ to: 'sip:plain@example.com', contentType: 'image/png', content: png }));
    assert.equal(priv.status, 415);
    for (const x of [plain, any, sender]) await x.u.send(x.d, 'BYE', { inDialog: true });
    await eventually(() => lobby().participants().length === 0, 'the room empty again');
  });

  it('still answers 488 with Warning 305 to an offer without message/cpim', async () => {
    const u = await uac('nocpim');
    const res = await u.send(u.newDialog(ROOM), 'INVITE', { body: offerSdp('msrp://127.0.0.1:9/x;tcp', { acceptTypes: 'text/plain', setup: 'passive' }) });
    assert.equal(res.status, 488);
    assert.match(headerValue(res, 'Warning') ?? '', /^305 /);
  });
});
