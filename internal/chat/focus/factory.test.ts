// The conference factory over real sockets with a real (PGlite) store: an RCS-style group
// creation (INVITE to the factory URI, multipart/mixed with the SDP offer and a resource
// list, Conversation-ID, Subject) makes an ad-hoc room in the store's rooms table, its
// creator the moderator, and invites the listed people; a later INVITE to the factory with
// the same Conversation-ID rejoins that room instead of making another.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { offerSdp, SipUac } from '../../client/sip-uac.ts';
import { headerValue, type SipRequest, type SipResponse } from '../../sip/message.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/index.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../../telemetry/metrics.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { FactoryLimits } from './factory.ts';
import { loopbackChatConfig } from '../testchat.ts';
import { eventually } from '../../testwait.ts';

const logger = createLogger({ name: 'factory-test', level: 'silent', env: {} });

function groupBody(sdp: string, invitees: readonly string[]): string {
  const list = '<?xml version="1.0" encoding="UTF-8"?>\r\n<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:cp="urn:ietf:params:xml:ns:copycontrol">\r\n' +
    `<list>\r\n${invitees.map((u) => `<entry uri="${u}" cp:copyControl="to"/>\r\n`).join('')}</list>\r\n</resource-lists>\r\n`;
  return `--boundary1\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--boundary1\r\nContent-Type: application/resource-lists+xml\r\nContent-Disposition: recipient-list\r\n\r\n${list}\r\n--boundary1--\r\n`;
}

describe('conference factory (ad-hoc rooms, RCS group chat)', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let chat: RunningChatServer;
  const uacs: SipUac[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'focus-factory-'));
    store = await openStore({ dataDir: join(dir, 'pglite'), logger });
    chat = await startChatServer({ ...loopbackChatConfig({ rooms: [], minExpires: 1 }), factory: 'factory' }, { logger, store });
  });
  after(async () => {
    for (const u of uacs) u.close();
    await chat?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function uac(user: string): Promise<SipUac> {
    const u = await SipUac.open('UDP', chat.focus.udpPort!, user);
    uacs.push(u);
    return u;
  }

  it('creates the group in the store with its creator as moderator, invites the listed people, and rejoins it by Conversation-ID', async () => {
    const bob = await uac('bob');
    let bobInvite!: (r: SipRequest) => void;
    const invited = new Promise<SipRequest>((r) => (bobInvite = r));
    bob.answerInvite = (req) => {
      bobInvite(req);
      return { status: 200, body: offerSdp('msrp://127.0.0.1:9/bob1;tcp', { setup: 'active' }) };
    };
    const alice = await uac('alice');
    const d = alice.newDialog('sip:factory@chat.test');
    const conversation = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6';
    const res = await alice.send(d, 'INVITE', {
      body: groupBody(offerSdp('msrp://127.0.0.1:9/alice1;tcp'), [`sip:bob@127.0.0.1:${bob.localPort}`]),
      contentType: 'multipart/mixed;boundary=boundary1',
      headers: [['Conversation-ID', conversation], ['Contribution-ID', 'abcdef'], ['Subject', 'Trip planning']],
    });
    assert.equal(res.status, 200, res.reason);
    await alice.send(d, 'ACK');
    const contact = headerValue(res, 'Contact') ?? '';
    const m = /^<sip:(grp-[0-9a-f]{16})@127\.0\.0\.1:\d+>;isfocus$/.exec(contact);
    assert.ok(m, `the 200's Contact names the new room: ${contact}`);
    const name = m[1]!;
    assert.match(res.body.toString(), /^a=chatroom:/m);

    // The room is a row of the store (the admin API and the operator read that table).
    const row = await store.rooms.get(name);
    assert.ok(row, 'the ad-hoc room is in the store');
    assert.equal(row.spec['uri'], `sip:${name}@chat.test`);
    assert.equal(row.spec['subject'], 'Trip planning');
    assert.equal(row.spec['conversationId'], conversation);
    assert.deepEqual((row.spec['policy'] as { moderators: string[] }).moderators, ['sip:alice@example.com']);
    const room = chat.switch.room(`sip:${name}@chat.test`)!;
    assert.ok(room.isModerator('sip:alice@example.com'));
    assert.equal(room.subject, 'Trip planning');

    // Bob, from the resource list, is invited by the room on Alice's behalf.
    const inv = await invited;
    assert.match(headerValue(inv, 'From') ?? '', new RegExp(`^<sip:${name}@chat\\.test>;tag=`));
    assert.equal(headerValue(inv, 'Referred-By'), '<sip:alice@example.com>');
    await eventually(() => room.participants().some((p) => p.sipUri === `sip:bob@127.0.0.1`), 'bob in the room');

    // Alice leaves and comes back through the factory with the same Conversation-ID.
    await alice.send(d, 'BYE', { inDialog: true });
    await eventually(() => !room.participants().some((p) => p.sipUri === 'sip:alice@example.com'), 'alice gone');
    const roomsBefore = (await store.rooms.list({}, { limit: 100 })).items.length;
    const again = alice.newDialog('sip:factory@chat.test');
    const back = await alice.send(again, 'INVITE', { body: offerSdp('msrp://127.0.0.1:9/alice2;tcp'), headers: [['Conversation-ID', conversation]] });
    assert.equal(back.status, 200);
    await alice.send(again, 'ACK');
    assert.equal(headerValue(back, 'Contact'), contact, 'the same room');
    assert.ok(room.participants().some((p) => p.sipUri === 'sip:alice@example.com'), 'alice is back in it');
    assert.equal((await store.rooms.list({}, { limit: 100 })).items.length, roomsBefore, 'no new room');
    await alice.send(again, 'BYE', { inDialog: true });
    room.removeParticipant('sip:bob@127.0.0.1', 'moderator');
    await eventually(() => room.participants().length === 0 && chat.focus.calls === 0, 'the room empty again');
  });

  it('makes a new room for an INVITE without a conversation identity, and answers 400 to a broken multipart body', async () => {
    const carol = await uac('carol');
    const d = carol.newDialog('sip:factory@chat.test');
    const res = await carol.send(d, 'INVITE', { body: offerSdp('msrp://127.0.0.1:9/carol1;tcp') });
    assert.equal(res.status, 200);
    await carol.send(d, 'ACK');
    assert.match(headerValue(res, 'Contact') ?? '', /^<sip:grp-[0-9a-f]{16}@/);
    await carol.send(d, 'BYE', { inDialog: true });
    const bad = await carol.send(carol.newDialog('sip:factory@chat.test'), 'INVITE', { body: 'no boundary here', contentType: 'multipart/mixed' });
    assert.equal(bad.status, 400);
  });

  it('answers 404, not 500, to a Request-URI whose user part escapes are not UTF-8 (sip:%FF@...)', async () => {
    const u = await uac('escapes');
    for (const uri of ['sip:%FF@chat.test', 'sip:%E0%A4@127.0.0.1']) {
      const res = await u.send(u.newDialog(uri), 'INVITE', { body: offerSdp('msrp://127.0.0.1:9/esc;tcp') });
      assert.equal(res.status, 404, uri);
    }
  });
});

describe('conference factory limits (an open focus must not let anyone write unbounded rooms)', { timeout: 60_000 }, () => {
  const closers: (() => unknown)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  const counted = async (metrics: Metrics, series: string): Promise<number> => {
    const line = (await metrics.render()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  };

  /** A focus without Digest (anyone may create) with these limits, and a UAC on it. */
  async function open(factoryLimits: { maxRooms: number; perCreator: number; windowSec: number }): Promise<{ uac: SipUac; metrics: Metrics; chat: RunningChatServer; warnings: string[] }> {
    const metrics = createMetrics({ defaultMetrics: false });
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const chat = await startChatServer({ ...loopbackChatConfig({ rooms: [] }), factory: 'factory', factoryLimits }, { logger, metrics });
    closers.push(() => chat.close());
    const uac = await SipUac.open('UDP', chat.focus.udpPort!, 'mallory');
    closers.push(() => uac.close());
    return { uac, metrics, chat, warnings };
  }

  async function create(uac: SipUac, conversation: string): Promise<SipResponse> {
    const d = uac.newDialog('sip:factory@chat.test');
    const res = await uac.send(d, 'INVITE', { body: offerSdp(`msrp://127.0.0.1:9/${conversation};tcp`), headers: [['Conversation-ID', conversation]] });
    if (res.status === 200) {
      await uac.send(d, 'ACK');
      await uac.send(d, 'BYE', { inDialog: true });
    }
    return res;
  }

  it('answers 486 with Retry-After to a source past perCreator creations in the window, counts and logs it, and still lets it rejoin', async () => {
    const { uac, metrics, chat, warnings } = await open({ maxRooms: 100, perCreator: 2, windowSec: 60 });
    assert.equal((await create(uac, 'conv-1')).status, 200);
    assert.equal((await create(uac, 'conv-2')).status, 200);
    const refused = await create(uac, 'conv-3');
    assert.equal(refused.status, 486, refused.reason);
    const retry = Number(headerValue(refused, 'Retry-After'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After within the window: ${retry}`);
    assert.equal(await counted(metrics, 'msrp_focus_factory_refusals_total{reason="rate"}'), 1);
    assert.equal(warnings.filter((l) => l.includes('conference factory refused a room creation') && l.includes('"why":"rate"')).length, 1, 'one log line');
    assert.equal(chat.rooms.adHocRooms?.(), 2, 'no third room');
    assert.equal((await create(uac, 'conv-1')).status, 200, 'a rejoin creates nothing and is not limited');
  });

  it('answers 503 with Retry-After once maxRooms ad-hoc rooms exist, whoever asks', async () => {
    const { uac, metrics, chat } = await open({ maxRooms: 2, perCreator: 0, windowSec: 60 });
    assert.equal((await create(uac, 'a-1')).status, 200);
    assert.equal((await create(uac, 'a-2')).status, 200);
    const refused = await create(uac, 'a-3');
    assert.equal(refused.status, 503, refused.reason);
    assert.equal(headerValue(refused, 'Retry-After'), '300');
    assert.equal(await counted(metrics, 'msrp_focus_factory_refusals_total{reason="rooms"}'), 1);
    assert.equal(chat.rooms.adHocRooms?.(), 2);
  });

  it('counts creations per authenticated user when the focus has Digest realms, else per source address (IPv6 by /64)', () => {
    let t = 0;
    const byUser = new FactoryLimits({ maxRooms: 0, perCreator: 1, windowSec: 60, byUser: true, now: () => t });
    byUser.created('sip:alice@example.com', '192.0.2.1');
    assert.equal(byUser.check(0, 'sip:alice@example.com', '192.0.2.9')?.status, 486, 'alice from another address');
    assert.equal(byUser.check(0, 'sip:bob@example.com', '192.0.2.1'), undefined, 'bob behind the same NAT');
    const bySource = new FactoryLimits({ maxRooms: 0, perCreator: 1, windowSec: 60, byUser: false, now: () => t });
    bySource.created('sip:alice@example.com', '2001:db8::1');
    assert.equal(bySource.check(0, 'sip:bob@example.com', '2001:db8::2')?.status, 486, 'a made-up From does not help, nor another address of the /64');
    assert.equal(bySource.check(0, 'sip:alice@example.com', '2001:db8:1::1'), undefined, 'another /64');
    t += 60_000;
    assert.equal(bySource.check(0, 'sip:bob@example.com', '2001:db8::2'), undefined, 'the next window');
  });
});
