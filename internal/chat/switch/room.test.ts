import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { MsrpParser } from '../../msrp/parser.ts';
import { parseCpim } from '../../msrp/cpim.ts';
import type { MsrpFrame } from '../../msrp/frame.ts';
import { MemoryHistory } from './history.ts';
import { NicknameRegistry, nicknameKey, parseUseNickname } from './nicknames.ts';
import { admittedByLists, policyFromSpec, uriKey } from './policy.ts';
import type { RoomEvent } from './room.ts';
import { eventually } from '../../testwait.ts';
import { join, probe, ROOM_URI, startTestSwitch, TestPeer } from './testpeer.ts';

const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

async function sw(policy = {}, o = {}) {
  const t = await startTestSwitch({ messagesPerSec: 0, bytesPerSec: 0, ...policy }, o);
  stops.push(t.stop);
  return t;
}

describe('history, welcome and notices (beyond RFC 7701)', () => {
  it('replays the last N public messages byte for byte to a joiner, then the welcome message', async () => {
    const { room, listener } = await sw({ historySize: 2, welcome: 'Welcome to the lobby!' });
    const alice = await join(room, listener.port, 'sip:alice@example.com');
    const bodies = [1, 2, 3].map((i) => alice.cpim({ to: ROOM_URI, text: `history ${i}` }));
    for (const b of bodies) assert.equal((await alice.sendAndWait(b)).status, 200);
    await alice.sendAndWait(alice.cpim({ to: 'sip:alice@example.com', text: 'private, never replayed' }));
    const bob = await join(room, listener.port, 'sip:bob@example.com');
    const first = await bob.next();
    const second = await bob.next();
    assert.ok(first.body.equals(bodies[1]!));
    assert.ok(second.body.equals(bodies[2]!));
    const welcome = await bob.next();
    const cpim = parseCpim(welcome.body);
    assert.ok(cpim.ok);
    assert.equal(cpim.message.from?.uri, ROOM_URI);
    assert.equal(cpim.message.content.toString(), 'Welcome to the lobby!');
  });

  it('loads history from the store when the room is created', async () => {
    const history = new MemoryHistory();
    const stored = Buffer.from('From: <sip:x@example.com>\r\nTo: <sip:lobby@chat.example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nfrom the store');
    await history.append(ROOM_URI, { cpim: stored, from: 'sip:x@example.com', at: new Date() }, 10);
    const { room, listener } = await sw({}, { history });
    const bob = await join(room, listener.port, 'sip:bob@example.com');
    assert.ok((await bob.next()).body.equals(stored));
  });

  it('tells the room, as CPIM from the room URI, who joins and who leaves', async () => {
    const { room, listener } = await sw();
    const alice = await join(room, listener.port, 'sip:alice@example.com', { displayName: 'Alice' });
    const bob = await join(room, listener.port, 'sip:bob@example.com', { displayName: 'Bob' });
    const joined = parseCpim((await alice.nextText('Bob joined')).body);
    assert.ok(joined.ok && joined.message.from?.uri === ROOM_URI);
    room.remove(bob.participantId, 'sip');
    await alice.nextText('Bob left');
    await bob.closed;
  });
});

describe('admission (the SIP focus calls admit)', () => {
  it('refuses a joiner beyond maxParticipants with 486 but admits another device of a member', async () => {
    const { room, listener } = await sw({ maxParticipants: 2 });
    await join(room, listener.port, 'sip:alice@example.com');
    await join(room, listener.port, 'sip:bob@example.com');
    const r = room.admit({ sipUri: 'sip:carol@example.com', remotePath: ['msrp://c.invalid:9/abcd;tcp'] });
    assert.ok(!r.ok && r.reason === 'full' && r.sipStatus === 486);
    await join(room, listener.port, 'sip:alice@example.com', { deviceId: 'laptop' });
    assert.equal(room.participants().find((p) => p.sipUri === 'sip:alice@example.com')?.devices.length, 2);
  });

  it('applies deny (wins) and allow glob lists with 403', async () => {
    const { room } = await sw({ allow: ['sip:*@example.com'], deny: ['sip:mallory@*'] });
    const path = ['msrp://x.invalid:9/abcd;tcp'];
    const denied = room.admit({ sipUri: 'sip:mallory@example.com', remotePath: path });
    assert.ok(!denied.ok && denied.reason === 'denied' && denied.sipStatus === 403);
    const stranger = room.admit({ sipUri: 'sip:eve@elsewhere.org', remotePath: path });
    assert.ok(!stranger.ok && stranger.sipStatus === 403);
    assert.ok(room.admit({ sipUri: 'sips:Alice@EXAMPLE.com;transport=tls', remotePath: path }).ok);
  });

  it('answers with the features the SDP answer should carry and a session URI per device', async () => {
    const { room } = await sw({ privateMessages: false });
    const r = room.admit({ sipUri: 'sip:alice@example.com', remotePath: ['msrp://x.invalid:9/abcd;tcp'] });
    assert.ok(r.ok);
    assert.match(r.localUri, /^msrp:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9]+;tcp$/);
    assert.deepEqual(r.features, { nickname: true, privateMessages: false });
    assert.equal(r.setup, 'passive');
  });

  it('removes a device that never connects', async () => {
    const { room } = await sw({}, { connectTimeoutMs: 100 });
    const events: RoomEvent[] = [];
    room.onChange((e) => events.push(e));
    const r = room.admit({ sipUri: 'sip:alice@example.com', remotePath: ['msrp://x.invalid:9/abcd;tcp'] });
    assert.ok(r.ok);
    await eventually(() => events.some((e) => e.type === 'device-left' && e.reason === 'connect-timeout' && e.participantId === r.participantId), 'the device removed after its connect timeout');
    assert.equal(room.participants().length, 0);
  });

  it('connects out to a device that offered a=setup:passive and binds with an empty SEND (RFC 4975 §5.4)', async () => {
    const { room } = await sw();
    const frames: MsrpFrame[] = [];
    let sock: Socket | undefined;
    const server = createServer((s) => {
      sock = s;
      const parser = new MsrpParser({ onFrame: (f) => frames.push(f) });
      s.on('data', (c: Buffer) => parser.push(c));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const me = `msrp://127.0.0.1:${port}/passive1;tcp`;
    const r = room.admit({ sipUri: 'sip:pat@example.com', remotePath: [me], setup: 'active' });
    assert.ok(r.ok && r.setup === 'active');
    await eventually(() => frames.length > 0, 'the binding SEND at the passive device');
    const bindSend = frames[0]!;
    assert.ok(bindSend.kind === 'request' && bindSend.method === 'SEND' && bindSend.body.length === 0);
    assert.deepEqual(bindSend.toPath, [me]);
    assert.deepEqual(bindSend.fromPath, [r.localUri]);
    sock?.destroy();
    server.close();
  });
});

describe('moderation and subject', () => {
  it('lets a moderator remove a participant (all devices, connection closed, notice) and refuses others with 403', async () => {
    const { room, listener } = await sw({ moderators: ['sip:alice@example.com'] });
    const alice = await join(room, listener.port, 'sip:alice@example.com');
    const bob = await join(room, listener.port, 'sip:bob@example.com');
    const events: RoomEvent[] = [];
    room.onChange((e) => events.push(e));
    assert.deepEqual(room.removeByModerator('sip:bob@example.com', 'sip:alice@example.com'), { ok: false, status: 403, message: 'not a moderator of this room' });
    assert.equal(room.removeByModerator('sip:alice@example.com', 'sip:nobody@example.com').ok, false);
    assert.deepEqual(room.removeByModerator('sip:alice@example.com', 'sip:bob@example.com'), { ok: true, removed: 1 });
    await bob.closed;
    await alice.nextText('was removed by a moderator');
    assert.ok(events.some((e) => e.type === 'device-left' && e.reason === 'moderator'));
    assert.deepEqual(room.participants().map((p) => p.sipUri), ['sip:alice@example.com']);
  });

  it('lets moderators set the subject, tells the room (CPIM Subject) and emits an event', async () => {
    const { room, listener } = await sw({ moderators: ['sip:alice@example.com'] });
    const bob = await join(room, listener.port, 'sip:bob@example.com');
    assert.equal(room.setSubject('mine now', 'sip:bob@example.com').ok, false);
    const events: RoomEvent[] = [];
    room.onChange((e) => events.push(e));
    assert.ok(room.setSubject('Release planning', 'sip:alice@example.com').ok);
    const got = parseCpim((await bob.nextText('subject: Release planning')).body);
    assert.ok(got.ok);
    assert.deepEqual(got.message.subject, [{ value: 'Release planning' }]);
    assert.deepEqual(events, [{ type: 'subject', subject: 'Release planning', by: 'sip:alice@example.com' }]);
  });
});

describe('several devices per participant', () => {
  it('delivers to every device of a member, and copies a device\'s public message to its other devices', async () => {
    const { room, listener } = await sw();
    const phone = await join(room, listener.port, 'sip:alice@example.com', { deviceId: 'phone' });
    const laptop = await join(room, listener.port, 'sip:alice@example.com', { deviceId: 'laptop' });
    const bob = await join(room, listener.port, 'sip:bob@example.com');
    // Drain the join notices: queued before the probes, which every device then saw.
    await probe(bob, [phone, laptop]);
    await probe(phone, [laptop, bob]);
    for (const p of [phone, laptop, bob]) p.received.length = 0;
    const fromBob = bob.cpim({ to: ROOM_URI, text: 'to everyone' });
    await bob.sendAndWait(fromBob);
    assert.ok((await phone.next()).body.equals(fromBob));
    assert.ok((await laptop.next()).body.equals(fromBob));
    const fromPhone = phone.cpim({ to: ROOM_URI, text: 'from my phone' });
    await phone.sendAndWait(fromPhone);
    assert.ok((await laptop.next()).body.equals(fromPhone));
    assert.ok((await bob.next()).body.equals(fromPhone));
    const priv = bob.cpim({ to: 'sip:alice@example.com', text: 'private to both devices' });
    await bob.sendAndWait(priv);
    assert.ok((await phone.next()).body.equals(priv));
    assert.ok((await laptop.next()).body.equals(priv));
    await probe(bob, [phone, laptop]);
    assert.equal(phone.received.length, 0, 'no echo to the sending device (nothing before the probe)');
    // One device leaving does not make the participant leave.
    const events: RoomEvent[] = [];
    room.onChange((e) => events.push(e));
    room.remove(phone.participantId, 'sip');
    assert.deepEqual(events.map((e) => e.type), ['device-left']);
  });

  it('refuses a session used from a second connection with 506 (RFC 4975 §5.4)', async () => {
    const { room, listener } = await sw();
    const alice = await join(room, listener.port, 'sip:alice@example.com');
    const twin = new TestPeer('sip:alice@example.com');
    Object.assign(twin, { uri: alice.uri });
    twin.focusUri = alice.focusUri;
    await twin.connect(listener.port);
    assert.equal((await twin.bind()).status, 506);
    twin.close();
  });
});

describe('policy, URIs and nicknames (units)', () => {
  it('maps a stored ChatRoom spec onto the policy', () => {
    const p = policyFromSpec({ policy: { nicknames: false, maxParticipants: 7, history: { enabled: false, size: 9 }, deny: ['sip:*@bad.example'], welcome: 'hi' } });
    assert.equal(p.nicknames, false);
    assert.equal(p.maxParticipants, 7);
    assert.equal(p.historySize, 0);
    assert.deepEqual(p.deny, ['sip:*@bad.example']);
    assert.equal(p.welcome, 'hi');
    assert.equal(p.privateMessages, true);
  });

  it('compares SIP URIs by scheme (sips = sip), user (case-sensitive) and host (case-insensitive), without parameters', () => {
    assert.equal(uriKey('<sips:Alice@EXAMPLE.com;transport=tls>'), 'sip:Alice@example.com');
    assert.notEqual(uriKey('sip:alice@example.com'), uriKey('sip:Alice@example.com'));
    assert.ok(admittedByLists('sip:bob@sub.example.com', { allow: ['sip:*@*.example.com'], deny: [] }));
    assert.ok(!admittedByLists('sip:bob@example.com.evil', { allow: ['sip:*@example.com'], deny: [] }));
  });

  it('prepares nicknames RFC 8266-style and parses Use-Nickname quoted-strings', () => {
    assert.equal(nicknameKey('  Ｂob   Smith '), 'bob smith');
    assert.deepEqual(parseUseNickname('"Bob \\"the\\" builder"'), { ok: true, nickname: 'Bob "the" builder' });
    assert.equal(parseUseNickname('"a\u0007"').ok, false);
    let now = 0;
    const reg = new NicknameRegistry({ quarantineMs: 10, reserved: [], now: () => now });
    assert.ok(reg.claim('a', 'x').ok);
    reg.release('a');
    assert.deepEqual(reg.claim('b', 'X'), { ok: false, status: 425, reason: 'nickname recently released, reserved for a while' });
    now = 11;
    assert.ok(reg.claim('b', 'X').ok);
  });
});
