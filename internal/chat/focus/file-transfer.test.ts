// File transfer into a room as RFC 5547 offers it, over real sockets: SIP to the focus (TCP),
// MSRP to the switch. A participant pushes a file with an a=sendonly offer carrying
// a=file-selector and a=file-transfer-id; the focus answers a=recvonly with both echoed; the
// raw file sent on that session reaches the others as a CPIM file message. Pull offers and
// files from non-participants are refused.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SipUac } from '../../client/sip-uac.ts';
import { offerSdp } from '../../client/sip-uac.ts';
import { parseCpim } from '../../msrp/cpim.ts';
import { getHeader } from '../../msrp/frame.ts';
import { newMessageId, newSessionId } from '../../msrp/transaction.ts';
import { headerValue } from '../../sip/message.ts';
import { parseFileSelector } from '../../sip/file-selector.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { TestPeer } from '../switch/testpeer.ts';
import { loopbackChatConfig } from '../testchat.ts';

const logger = createLogger({ name: 'file-transfer-test', level: 'silent', env: {} });
const ROOM = 'sip:lobby@chat.test';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An RFC 5547 push offer (as RCS clients send it) for `file`, from the MSRP URI `path`. */
function pushOffer(path: string, file: Buffer, o: { direction?: string; name?: string; transferId?: string } = {}): string {
  const hash = createHash('sha1').update(file).digest('hex').toUpperCase().match(/../g)!.join(':');
  return [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=message 7654 TCP/MSRP *',
    'a=accept-types:image/jpeg',
    `a=file-selector:name:"${o.name ?? 'photo%20one.jpg'}" type:image/jpeg size:${file.length} hash:sha-1:${hash}`,
    `a=file-transfer-id:${o.transferId ?? 'ft-1391518338244'}`,
    'a=file-disposition:attachment',
    `a=${o.direction ?? 'sendonly'}`,
    'a=setup:active',
    `a=path:${path}`,
  ].join('\r\n') + '\r\n';
}

const pathOf = (sdp: string): string => /^a=path:(\S+)$/m.exec(sdp)![1]!;
const portOf = (uri: string): number => Number(/:(\d+)\//.exec(uri)![1]);

describe('file transfer into a room (RFC 5547 push)', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  const uacs: SipUac[] = [];
  const peers: TestPeer[] = [];
  before(async () => {
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { notices: false, bytesPerSec: 0, messagesPerSec: 0 } }] }), { logger });
  });
  after(async () => {
    for (const p of peers) p.close();
    for (const u of uacs) u.close();
    await chat.close();
  });

  /** INVITEs the room with `body` from `user`; a peer at `peer.uri` when given. */
  async function invite(user: string, body: string) {
    const uac = await SipUac.open('TCP', chat.focus.tcpPort!, user);
    uacs.push(uac);
    const d = uac.newDialog(ROOM);
    const res = await uac.send(d, 'INVITE', { body });
    if (res.status === 200) await uac.send(d, 'ACK');
    return { uac, d, res };
  }

  /** A device at the switch: a peer whose a=path is offered by `offer(path)`, connected and bound after the 200. */
  async function device(user: string, offer: (path: string) => string) {
    const p = new TestPeer(`sip:${user}@example.com`);
    Object.assign(p, { uri: `msrp://127.0.0.1:9/${newSessionId()};tcp` });
    peers.push(p);
    const call = await invite(user, offer(p.uri));
    assert.equal(call.res.status, 200, `INVITE by ${user}: ${call.res.status}`);
    p.focusUri = pathOf(call.res.body.toString());
    await p.connect(portOf(p.focusUri));
    assert.equal((await p.bind()).status, 200);
    return { peer: p, ...call };
  }

  it('a participant pushes a file: answered recvonly with its selector, and the others get it as a CPIM file message', async () => {
    const bob = await device('bob', (path) => offerSdp(path));
    const alice = await device('alice', (path) => offerSdp(path));
    const file = randomBytes(300_000);
    const upload = await device('alice', (path) => pushOffer(path, file));
    const answer = upload.res.body.toString();
    assert.match(answer, /^a=recvonly$/m);
    assert.match(answer, /^a=file-transfer-id:ft-1391518338244$/m);
    assert.doesNotMatch(answer, /^a=chatroom/m, 'a file session is no chat session');
    assert.match(answer, /^a=accept-types:.*\bimage\/jpeg\b/m);
    const selector = parseFileSelector(/^a=file-selector:(.*)$/m.exec(answer)![1]!);
    assert.ok(selector.ok);
    assert.equal(selector.value.size, file.length);
    assert.equal(selector.value.name, 'photo one.jpg');
    // A file session is a device of Alice's, not a new participant.
    const room = chat.switch.room(ROOM)!;
    assert.equal(room.participants().length, 2);
    assert.equal(room.participants().find((x) => x.sipUri === 'sip:alice@example.com')?.devices.length, 2);

    // The file itself, raw (image/jpeg), in three chunks of one message (RFC 4975 §5.1).
    const messageId = newMessageId();
    const size = 100_000;
    for (let start = 0; start < file.length; start += size) {
      const end = Math.min(start + size, file.length);
      const res = await upload.peer.sendAndWait(file.subarray(start, end), {
        messageId, range: `${start + 1}-${end}/${file.length}`, contentType: 'image/jpeg', continuation: end === file.length ? '$' : '+',
      });
      assert.equal(res.status, 200);
    }
    // Bob gets one CPIM message in three chunks, each shifted by the CPIM headers put in front.
    const fileChunk = (r: { head: Parameters<typeof getHeader>[0] }): boolean => Number(/\/(\d+)$/.exec(getHeader(r.head, 'Byte-Range') ?? '')?.[1] ?? 0) > file.length;
    const chunks = [await bob.peer.next(fileChunk), await bob.peer.next(fileChunk), await bob.peer.next(fileChunk)];
    assert.deepEqual(chunks.map((c) => c.continuation), ['+', '+', '$']);
    const ids = new Set(chunks.map((c) => getHeader(c.head, 'Message-ID')));
    assert.equal(ids.size, 1);
    assert.equal(getHeader(chunks[0]!.head, 'Content-Type'), 'message/cpim');
    const body = Buffer.concat(chunks.map((c) => c.body));
    const prefix = body.length - file.length;
    assert.deepEqual(chunks.map((c) => getHeader(c.head, 'Byte-Range')), [
      `1-${prefix + 100_000}/${body.length}`, `${prefix + 100_001}-${prefix + 200_000}/${body.length}`, `${prefix + 200_001}-${body.length}/${body.length}`,
    ]);
    const cpim = parseCpim(body);
    assert.ok(cpim.ok);
    assert.equal(cpim.message.from?.uri, 'sip:alice@example.com');
    assert.equal(cpim.message.to[0]?.uri, ROOM);
    assert.equal(cpim.message.contentType, 'image/jpeg');
    assert.equal(cpim.message.contentHeaders.find((h) => h.name === 'Content-Disposition')?.value, 'attachment; filename="photo one.jpg"');
    assert.equal(sha(cpim.message.content), sha(file));
    // Alice's chat device gets it too (her other device, as for any message of hers).
    assert.equal(sha(Buffer.concat([(await alice.peer.next(fileChunk)).body, (await alice.peer.next(fileChunk)).body, (await alice.peer.next(fileChunk)).body])), sha(body));
    // The file session receives nothing: the next message in the room reaches Bob and Alice's chat device only.
    const probe = bob.peer.cpim({ to: ROOM, text: 'got it' });
    assert.equal((await bob.peer.sendAndWait(probe)).status, 200);
    await alice.peer.nextText('got it');
    assert.equal(upload.peer.received.length, 0);

    // RFC 5547: the sender ends the file session with BYE; Alice stays in the room.
    assert.equal((await upload.uac.send(upload.d, 'BYE', { inDialog: true })).status, 200);
    await upload.peer.closed;
    assert.equal(room.participants().find((x) => x.sipUri === 'sip:alice@example.com')?.devices.length, 1);
  });

  it('refuses a pull (recvonly) offer: the room keeps no files to fetch (488, Warning 399)', async () => {
    const r = await invite('bob', pushOffer('msrp://127.0.0.1:9/pull;tcp', Buffer.from('x'), { direction: 'recvonly' }));
    assert.equal(r.res.status, 488);
    assert.match(headerValue(r.res, 'Warning') ?? '', /^399 .*no files to fetch/);
  });

  it('refuses a file from someone who is not in the room (403)', async () => {
    const r = await invite('carol', pushOffer('msrp://127.0.0.1:9/carol;tcp', Buffer.from('x')));
    assert.equal(r.res.status, 403);
    assert.equal(chat.switch.room(ROOM)!.participants().some((x) => x.sipUri === 'sip:carol@example.com'), false);
  });

  it('refuses a file-selector that does not parse (488)', async () => {
    const bad = pushOffer('msrp://127.0.0.1:9/bad;tcp', Buffer.from('x')).replace(/size:\d+/, 'size:big');
    const r = await invite('bob', bad);
    assert.equal(r.res.status, 488);
  });
});
