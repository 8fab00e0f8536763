// Dial-out over real sockets (SIP over UDP both ways, MSRP over TCP with the real switch): a
// moderator's REFER with Refer-To method=INVITE makes the focus INVITE the target with an
// MSRP offer; the invitee's answer admits it to the room (RFC 4579 §5.5, RFC 3515 NOTIFYs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NonceManager } from '../../auth/nonce.ts';
import { MemoryCredentials } from '../../relay/testrelay.ts';
import { headerValue, type SipRequest } from '../../sip/message.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { offerSdp, SipUac } from '../../client/sip-uac.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { TestPeer, probe } from '../switch/testpeer.ts';
import { loopbackChatConfig } from '../testchat.ts';
import { eventually } from '../../testwait.ts';

const logger = createLogger({ name: 'dial-out-test', level: 'silent', env: {} });
const ROOM = 'sip:lobby@chat.test';

describe('dial-out: REFER method=INVITE', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  const uacs: SipUac[] = [];
  const peers: TestPeer[] = [];
  const lobby = () => chat.switch.room(ROOM)!;

  before(async () => {
    // Moderator actions need an authenticated identity (identity.ts): SIP Digest against these users.
    const users = new MemoryCredentials().add('example.com', 'mod', 'mod-pw').add('example.com', 'eve', 'eve-pw');
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { moderators: ['sip:mod@example.com'], notices: false } }] }), {
      logger,
      auth: { realmFor: () => 'example.com', nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => users.lookup(r, u) },
    });
  });
  after(async () => {
    for (const p of peers) p.close();
    for (const u of uacs) u.close();
    await chat.close();
  });

  async function uac(user: string): Promise<SipUac> {
    const u = await SipUac.open('UDP', chat.focus.udpPort!, user);
    uacs.push(u);
    return u;
  }
  /** A user who answers the focus's Digest challenge with the password of the store's user `user`. */
  async function authenticated(user: string): Promise<SipUac> {
    const u = await uac(user);
    u.credentials = { username: user, password: `${user}-pw` };
    return u;
  }

  /** A phone that answers the focus's INVITE with an MSRP answer and connects itself (a=setup:active). */
  async function invitee(user: string): Promise<{ u: SipUac; peer: TestPeer; invite: Promise<SipRequest> }> {
    const u = await uac(user);
    const peer = new TestPeer(`sip:${user}@127.0.0.1`);
    peers.push(peer);
    let resolveInvite!: (r: SipRequest) => void;
    const invite = new Promise<SipRequest>((r) => (resolveInvite = r));
    u.answerInvite = (req) => {
      resolveInvite(req);
      return { status: 200, body: offerSdp(peer.uri, { setup: 'active' }) };
    };
    return { u, peer, invite };
  }

  it('invites the Refer-To target for a moderator: 202, NOTIFY 100 then 200, the invitee in the room over MSRP', async () => {
    const carol = await invitee('carol');
    const mod = await authenticated('mod');
    const target = `sip:carol@127.0.0.1:${carol.u.localPort}`;
    const res = await mod.send(mod.newDialog(ROOM, 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', `<${target};method=INVITE>`]] });
    assert.equal(res.status, 202);

    const invite = await carol.invite;
    const offer = invite.body.toString();
    assert.match(headerValue(invite, 'From') ?? '', /^<sip:lobby@chat\.test>;tag=/, 'the room calls');
    assert.match(headerValue(invite, 'Contact') ?? '', /;isfocus$/);
    assert.equal(headerValue(invite, 'Referred-By'), '<sip:mod@example.com>');
    assert.match(offer, /^m=message \d+ TCP\/MSRP \*$/m);
    assert.match(offer, /^a=accept-types:message\/cpim$/m);
    assert.match(offer, /^a=setup:actpass$/m);
    assert.match(offer, /^a=chatroom:nickname private-messages$/m);
    const ourPath = /^a=path:(\S+)$/m.exec(offer)![1]!;

    // RFC 3515 §2.4.5: progress, then the outcome, which ends the implicit subscription.
    const trying = await mod.nextRequest('NOTIFY');
    assert.equal(headerValue(trying, 'Event'), 'refer');
    assert.match(headerValue(trying, 'Subscription-State') ?? '', /^active/);
    assert.match(trying.body.toString(), /^SIP\/2\.0 100 Trying/);
    const done = await mod.nextRequest('NOTIFY');
    assert.match(headerValue(done, 'Subscription-State') ?? '', /^terminated/);
    assert.match(done.body.toString(), /^SIP\/2\.0 200 OK/);

    // The focus ACKed; the invitee connects to the path of the offer and is a participant.
    await carol.u.nextRequest('ACK');
    carol.peer.focusUri = ourPath;
    await carol.peer.connect(Number(/:(\d+)\//.exec(ourPath)![1]));
    assert.equal((await carol.peer.bind()).status, 200);
    const p = lobby().participants().find((x) => x.sipUri === 'sip:carol@127.0.0.1');
    assert.ok(p, 'carol is in the room');
    assert.equal(p.devices[0]!.localUri, ourPath, 'admitted under the session URI the offer named');
    assert.equal(chat.focus.calls, 1);

    // A participant who dialled in talks with her.
    const dave = new TestPeer('sip:dave@example.com');
    peers.push(dave);
    const du = await uac('dave');
    const dd = du.newDialog(ROOM);
    const joined = await du.send(dd, 'INVITE', { body: offerSdp(dave.uri) });
    await du.send(dd, 'ACK');
    dave.focusUri = /^a=path:(\S+)$/m.exec(joined.body.toString())![1]!;
    await dave.connect(Number(/:(\d+)\//.exec(dave.focusUri)![1]));
    assert.equal((await dave.bind()).status, 200);
    await probe(dave, [carol.peer], ROOM);

    // The moderator removes her again: the focus sends BYE in the dialog it created.
    const rm = await mod.send(mod.newDialog(ROOM, 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', '<sip:carol@127.0.0.1;method=BYE>']] });
    assert.equal(rm.status, 202);
    const bye = await carol.u.nextRequest('BYE');
    assert.equal(headerValue(bye, 'Call-ID'), headerValue(invite, 'Call-ID'));
    await eventually(() => !lobby().participants().some((x) => x.sipUri === 'sip:carol@127.0.0.1') && chat.focus.calls === 1, 'carol gone');
    await du.send(dd, 'BYE', { inDialog: true });
    await eventually(() => lobby().participants().length === 0 && chat.focus.calls === 0, 'the room empty again');
  });

  it('treats a Refer-To without a method parameter as INVITE, and reports a refusal in the final NOTIFY', async () => {
    const busy = await uac('busy');
    let invited = false;
    busy.answerInvite = () => {
      invited = true;
      return { status: 486 };
    };
    const mod = await uac('mod2');
    mod.credentials = { username: 'mod', password: 'mod-pw' };
    const res = await mod.send(mod.newDialog(ROOM, 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', `<sip:busy@127.0.0.1:${busy.localPort}>`]] });
    assert.equal(res.status, 202);
    assert.match((await mod.nextRequest('NOTIFY')).body.toString(), /^SIP\/2\.0 100/);
    assert.match((await mod.nextRequest('NOTIFY')).body.toString(), /^SIP\/2\.0 486 Busy Here/);
    assert.equal(invited, true);
    assert.equal(lobby().participants().length, 0);
  });

  it('refuses REFER method=INVITE from someone who is not a moderator (403), inviting nobody', async () => {
    const target = await uac('target');
    let invited = false;
    target.answerInvite = () => {
      invited = true;
      return { status: 486 };
    };
    // Authenticated as eve, who is not on the room's moderator list.
    const eve = await authenticated('eve');
    const res = await eve.send(eve.newDialog(ROOM), 'REFER', { headers: [['Refer-To', `<sip:target@127.0.0.1:${target.localPort};method=INVITE>`]] });
    assert.equal(res.status, 403);
    // Ordered check: an OPTIONS round trip to the focus after the refusal; the refusal was synchronous.
    assert.equal((await eve.send(eve.newDialog(ROOM), 'OPTIONS')).status, 200);
    assert.equal(invited, false);
  });
});

describe('dial-out with chat.media.privateAddresses: deny', { timeout: 60_000 }, () => {
  it('refuses a REFER method=INVITE whose target resolves to a private address: final NOTIFY 403, no INVITE sent', async () => {
    const users = new MemoryCredentials().add('example.com', 'mod', 'mod-pw');
    const config = loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { moderators: ['sip:mod@example.com'], notices: false } }] });
    const chat = await startChatServer({ ...config, media: { ...config.media, privateAddresses: 'deny' } }, {
      logger,
      auth: { realmFor: () => 'example.com', nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => users.lookup(r, u) },
    });
    const carol = await SipUac.open('UDP', chat.focus.udpPort!, 'carol');
    const mod = await SipUac.open('UDP', chat.focus.udpPort!, 'mod');
    try {
      let invited = 0;
      carol.answerInvite = () => {
        invited++;
        return { status: 486 };
      };
      mod.credentials = { username: 'mod', password: 'mod-pw' };
      // A phone on loopback: the address class a metadata service or a pod shares.
      const res = await mod.send(mod.newDialog(ROOM, 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', `<sip:carol@127.0.0.1:${carol.localPort};method=INVITE>`]] });
      assert.equal(res.status, 202);
      assert.match((await mod.nextRequest('NOTIFY')).body.toString(), /^SIP\/2\.0 100 Trying/);
      const done = await mod.nextRequest('NOTIFY');
      assert.match(headerValue(done, 'Subscription-State') ?? '', /^terminated/);
      assert.match(done.body.toString(), /^SIP\/2\.0 403 /);
      // The final NOTIFY follows the dial-out's outcome, so an INVITE, had one been sent, came first.
      assert.equal(invited, 0, 'the focus sent no INVITE to the private address');
      assert.equal(chat.focus.calls, 0);
    } finally {
      carol.close();
      mod.close();
      await chat.close();
    }
  });
});
