// The chat focus over real sockets (UDP and TCP on loopback) with the real MSRP switch:
// joins, refusals, BYE both ways, the conference event package and moderator REFER.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { NonceManager } from '../../auth/nonce.ts';
import { MemoryCredentials } from '../../relay/testrelay.ts';
import { headerValue } from '../../sip/message.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { offerSdp, SipUac as TestUac } from '../../client/sip-uac.ts';
import { loopbackChatConfig } from '../testchat.ts';

const logger = createLogger({ name: 'focus-test', level: 'silent', env: {} });

/** The relay's kind of credential source (real HA1 digests) for realm example.com. */
export const testUsers = (): MemoryCredentials => new MemoryCredentials()
  .add('example.com', 'mod', 'mod-pw').add('example.com', 'carol', 'carol-pw').add('example.com', 'alice', 'alice-pw');

export async function startTestChat(): Promise<RunningChatServer> {
  const users = testUsers();
  return startChatServer(loopbackChatConfig({
    minExpires: 1,
    rooms: [
      { name: 'lobby', subject: 'Welcome', policy: { moderators: ['sip:mod@example.com'] } },
      { name: 'tiny', policy: { maxParticipants: 1 } },
      { name: 'closed', policy: { deny: ['sip:mallory@*'] } },
    ],
  }), {
    logger,
    auth: { realmFor: () => 'example.com', nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => users.lookup(r, u) },
  });
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('chat focus', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  const lobby = () => chat.switch.room('sip:lobby@chat.test')!;
  before(async () => {
    chat = await startTestChat();
  });
  after(async () => {
    await chat.close();
  });

  for (const transport of ['UDP', 'TCP'] as const) {
    it(`answers an INVITE over ${transport} with a chat room answer, admits the device, and removes it on BYE`, async () => {
      const uac = await TestUac.open(transport, transport === 'UDP' ? chat.focus.udpPort! : chat.focus.tcpPort!, 'alice');
      try {
        const d = uac.newDialog('sip:lobby@chat.test');
        const res = await uac.send(d, 'INVITE', { body: offerSdp(`msrp://127.0.0.1:7654/alice${transport};tcp`), headers: [['Subject', 'join']] });
        assert.equal(res.status, 200);
        const sdp = res.body.toString();
        assert.match(sdp, /^m=message \d+ TCP\/MSRP \*/m);
        assert.match(sdp, /^a=path:msrp:\/\/127\.0\.0\.1:\d+\/\S+;tcp$/m);
        assert.match(sdp, /^a=accept-types:message\/cpim$/m);
        assert.match(sdp, /^a=chatroom:nickname private-messages$/m);
        assert.match(sdp, /^a=setup:passive$/m);
        assert.match(headerValue(res, 'Contact') ?? '', /^<sip:lobby@127\.0\.0\.1:\d+(;transport=tcp)?>;isfocus$/);
        await uac.send(d, 'ACK');
        const p = lobby().participants().find((x) => x.sipUri === 'sip:alice@example.com');
        assert.ok(p, 'alice is in the room');
        assert.equal(p.devices.length, 1);
        assert.equal(chat.focus.calls, 1);
        const bye = await uac.send(d, 'BYE', { inDialog: true });
        assert.equal(bye.status, 200);
        await until(() => lobby().participants().length === 0);
        assert.equal(chat.focus.calls, 0);
      } finally {
        uac.close();
      }
    });
  }

  it('answers 404 for an unknown room', async () => {
    const uac = await TestUac.open('UDP', chat.focus.udpPort!);
    const res = await uac.send(uac.newDialog('sip:nowhere@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/x;tcp') });
    uac.close();
    assert.equal(res.status, 404);
  });

  it('answers 488 with a Warning for an offer without MSRP media, and for one without message/cpim', async () => {
    const uac = await TestUac.open('UDP', chat.focus.udpPort!);
    const audio = offerSdp('msrp://127.0.0.1:7654/x;tcp', { media: 'm=audio 4000 RTP/AVP 0' });
    const r1 = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: audio });
    const r2 = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/x;tcp', { acceptTypes: 'text/plain' }) });
    const r3 = await uac.send(uac.newDialog('sip:lobby@chat.test'), 'INVITE', { body: 'hello', contentType: 'text/plain' });
    uac.close();
    assert.equal(r1.status, 488);
    assert.match(headerValue(r1, 'Warning') ?? '', /^304 127\.0\.0\.1 "/);
    assert.equal(r2.status, 488);
    assert.match(headerValue(r2, 'Warning') ?? '', /^305 .*message\/cpim/);
    assert.equal(r3.status, 415, 'the UAS core refuses a body that is not SDP');
  });

  it('answers 486 when the room is full and 403 to a deny-listed participant', async () => {
    const a = await TestUac.open('TCP', chat.focus.tcpPort!, 'a');
    const b = await TestUac.open('TCP', chat.focus.tcpPort!, 'b');
    const m = await TestUac.open('UDP', chat.focus.udpPort!, 'mallory');
    try {
      const da = a.newDialog('sip:tiny@chat.test');
      assert.equal((await a.send(da, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/a;tcp') })).status, 200);
      await a.send(da, 'ACK');
      assert.equal((await b.send(b.newDialog('sip:tiny@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/b;tcp') })).status, 486);
      assert.equal((await m.send(m.newDialog('sip:closed@chat.test'), 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/m;tcp') })).status, 403);
      await a.send(da, 'BYE', { inDialog: true });
    } finally {
      a.close();
      b.close();
      m.close();
    }
  });

  it('sends the full conference state on SUBSCRIBE, then partial states with nicknames, and ends on Expires: 0', async () => {
    const watcher = await TestUac.open('UDP', chat.focus.udpPort!, 'watcher');
    const bob = await TestUac.open('UDP', chat.focus.udpPort!, 'bob');
    try {
      const sub = watcher.newDialog('sip:lobby@chat.test');
      const res = await watcher.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '600'], ['Accept', 'application/conference-info+xml']] });
      assert.equal(res.status, 200);
      assert.equal(headerValue(res, 'Expires'), '600');
      const full = await watcher.nextRequest('NOTIFY');
      assert.equal(headerValue(full, 'Event'), 'conference');
      assert.match(headerValue(full, 'Subscription-State') ?? '', /^active;expires=\d+/);
      assert.equal(headerValue(full, 'Content-Type'), 'application/conference-info+xml');
      const fullXml = full.body.toString();
      assert.match(fullXml, /state="full" version="1"/);
      assert.match(fullXml, /<subject>Welcome<\/subject>/);
      assert.match(fullXml, /<user-count>0<\/user-count>/);

      const d = bob.newDialog('sip:lobby@chat.test');
      d.seq = 10;
      assert.equal((await bob.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/bob;tcp') })).status, 200);
      await bob.send(d, 'ACK');
      const joined = (await watcher.nextRequest('NOTIFY')).body.toString();
      assert.match(joined, /state="partial" version="2"/);
      assert.match(joined, /<user entity="sip:bob@example.com" state="full">/);
      assert.match(joined, /<endpoint entity="sip:bob@127\.0\.0\.1:\d+" state="full">/);

      const room = lobby();
      const member = room.member({ uri: 'sip:bob@example.com' })!;
      assert.equal(room.claimNickname(member, 'Bobby').ok, true);
      const nick = (await watcher.nextRequest('NOTIFY')).body.toString();
      assert.match(nick, /version="3"/);
      // RFC 7701 §7.4 / §9.6: the XCON 'nickname' attribute of <user>.
      assert.match(nick, /xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info"/);
      assert.match(nick, /<user entity="sip:bob@example.com" state="full" xcon:nickname="Bobby">/);
      assert.match(nick, /<display-text>Bobby<\/display-text>/, 'no display name: the nickname is shown');

      await bob.send(d, 'BYE', { inDialog: true });
      const left = (await watcher.nextRequest('NOTIFY')).body.toString();
      assert.match(left, /version="4"/);
      assert.match(left, /<user entity="sip:bob@example.com" state="deleted"\/>/);

      const un = await watcher.send(sub, 'SUBSCRIBE', { inDialog: true, headers: [['Event', 'conference'], ['Expires', '0']] });
      assert.equal(un.status, 200);
      const last = await watcher.nextRequest('NOTIFY');
      assert.match(headerValue(last, 'Subscription-State') ?? '', /^terminated/);
      await until(() => chat.focus.subscriptions === 0);
    } finally {
      watcher.close();
      bob.close();
    }
  });

  it('refuses other event packages with 489 Bad Event and Allow-Events', async () => {
    const w = await TestUac.open('UDP', chat.focus.udpPort!, 'w');
    const r1 = await w.send(w.newDialog('sip:lobby@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'presence']] });
    w.close();
    assert.equal(r1.status, 489);
    assert.equal(headerValue(r1, 'Allow-Events'), 'conference');
  });

  it('lets an authenticated moderator remove a participant with REFER method=BYE, and refuses a forged moderator From and non-moderators', async () => {
    const carol = await TestUac.open('TCP', chat.focus.tcpPort!, 'carol');
    const mod = await TestUac.open('UDP', chat.focus.udpPort!, 'mod');
    try {
      const d = carol.newDialog('sip:lobby@chat.test');
      assert.equal((await carol.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/carol;tcp') })).status, 200);
      await carol.send(d, 'ACK');
      // Out of dialog with the moderator's URI in From and no credentials: a claim, so a challenge (issue 13).
      const forged = await carol.send(carol.newDialog('sip:lobby@chat.test', 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', '<sip:carol@example.com;method=BYE>']] });
      assert.equal(forged.status, 401);
      assert.match(headerValue(forged, 'WWW-Authenticate') ?? '', /^Digest realm="example\.com"/);
      // Within carol's own (unauthenticated) dialog: challenged too; authenticated as carol, not a moderator.
      assert.equal((await carol.send(d, 'REFER', { inDialog: true, headers: [['Refer-To', '<sip:carol@example.com;method=BYE>']] })).status, 401);
      carol.credentials = { username: 'carol', password: 'carol-pw' };
      const notMod = await carol.send(carol.newDialog('sip:lobby@chat.test', 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', '<sip:carol@example.com;method=BYE>']] });
      assert.equal(notMod.status, 403);
      assert.equal(lobby().participants().length, 1, 'carol is still in the room');
      mod.credentials = { username: 'mod', password: 'mod-pw' };
      const r = mod.newDialog('sip:lobby@chat.test', 'sip:mod@example.com');
      const res = await mod.send(r, 'REFER', { headers: [['Refer-To', '<sip:carol@example.com;method=BYE>']] });
      assert.equal(res.status, 202);
      const bye = await carol.nextRequest('BYE');
      assert.equal(headerValue(bye, 'Call-ID'), d.callId);
      const notify = await mod.nextRequest('NOTIFY');
      assert.equal(headerValue(notify, 'Event'), 'refer');
      assert.match(notify.body.toString(), /^SIP\/2\.0 200 OK/);
      await until(() => lobby().participants().length === 0 && chat.focus.calls === 0);
      const gone = await mod.send(mod.newDialog('sip:lobby@chat.test', 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', '<sip:carol@example.com;method=BYE>']] });
      assert.equal(gone.status, 404);
    } finally {
      carol.close();
      mod.close();
    }
  });
});
