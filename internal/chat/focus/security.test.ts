// The SIP focus as an attacker sees it (issue 13): one row per attack, each with the refusal
// it must get, over real sockets against the real chat server (and, for MSRP AUTH, the real
// relay). Credentials are the relay's kind of source (real HA1 digests, relay/testrelay.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { GuessLimiter } from '../../auth/guesses.ts';
import { NonceManager } from '../../auth/nonce.ts';
import { offerSdp, SipUac } from '../../client/sip-uac.ts';
import { TestClient } from '../../relay/testclient.ts';
import { MemoryCredentials, startTestRelay, type TestRelay } from '../../relay/testrelay.ts';
import { createSocket } from 'node:dgram';
import { headerValue, request } from '../../sip/message.ts';
import { serialize } from '../../sip/serializer.ts';
import { eventually } from '../../testwait.ts';
import { createMetrics, type Metrics } from '../../telemetry/metrics.ts';
import { startChatServer, type RunningChatServer } from '../server.ts';
import { loopbackChatConfig } from '../testchat.ts';

/** Log lines as objects (pino JSON), to check the one line per failure. */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const metricValue = async (metrics: Metrics, series: string): Promise<number> => {
  const text = await metrics.render();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

const REALM = 'example.com';
const kick = (target: string): [string, string][] => [['Refer-To', `<${target};method=BYE>`]];

describe('SIP focus security (issue 13)', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  const metrics = createMetrics({ defaultMetrics: false });
  const log = capturingLogger();
  const uacs: SipUac[] = [];
  const open = async (user: string, transport: 'UDP' | 'TCP' = 'TCP'): Promise<SipUac> => {
    const u = await SipUac.open(transport, transport === 'UDP' ? chat.focus.udpPort! : chat.focus.tcpPort!, user);
    uacs.push(u);
    return u;
  };
  const join = async (u: SipUac, room: string) => {
    const d = u.newDialog(`sip:${room}@chat.test`, `sip:${u.user}@${REALM}`);
    const res = await u.send(d, 'INVITE', { body: offerSdp(`msrp://127.0.0.1:7654/${u.user}${room};tcp`) });
    if (res.status === 200) await u.send(d, 'ACK');
    return { d, res };
  };
  const room = (name: string) => chat.switch.room(`sip:${name}@chat.test`)!;
  /** Credential lookups (the store, in production): a request that cannot authenticate should cost none. */
  let lookups = 0;

  before(async () => {
    const users = new MemoryCredentials().add(REALM, 'mod', 'mod-pw').add(REALM, 'alice', 'alice-pw').add(REALM, 'mallory', 'mallory-pw').add(REALM, 'victim', 'victim-pw');
    chat = await startChatServer(loopbackChatConfig({
      rooms: [
        { name: 'open', policy: { moderators: [`sip:mod@${REALM}`] } },
        { name: 'vault', policy: { requireAuth: true, moderators: [`sip:mod@${REALM}`] } },
        { name: 'club', policy: { requireAuth: true, allow: [`sip:alice@${REALM}`] } },
      ],
    }), {
      logger: log.logger, metrics,
      auth: { realmFor: () => REALM, nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => {
        lookups++;
        return users.lookup(r, u);
      } },
      guesses: new GuessLimiter({ perUser: 3, perSource: 50, windowMs: 60_000 }),
    });
  });
  after(async () => {
    for (const u of uacs) u.close();
    await chat.close();
  });

  it('forged REFER kick: an out-of-dialog REFER with a moderator\'s From and no credentials is challenged, the target stays', async () => {
    const alice = await open('alice');
    alice.credentials = { username: 'alice', password: 'alice-pw' };
    assert.equal((await join(alice, 'open')).res.status, 200);
    const attacker = await open('mallory', 'UDP');
    const res = await attacker.send(attacker.newDialog('sip:open@chat.test', `sip:mod@${REALM}`), 'REFER', { headers: kick(`sip:alice@${REALM}`) });
    assert.equal(res.status, 401);
    assert.equal(room('open').participants().length, 1, 'alice is still in the room');
    // The same with mallory's own password: authenticated, but not a moderator.
    attacker.credentials = { username: 'mallory', password: 'mallory-pw' };
    const again = await attacker.send(attacker.newDialog('sip:open@chat.test', `sip:mod@${REALM}`), 'REFER', { headers: kick(`sip:alice@${REALM}`) });
    assert.equal(again.status, 403);
    assert.equal(room('open').participants().length, 1, 'alice is still in the room');
  });

  it('unauthenticated SUBSCRIBE to the roster of a requireAuth room: 401 and no NOTIFY; an authenticated one gets the state', async () => {
    const alice = await open('alice');
    alice.credentials = { username: 'alice', password: 'alice-pw' };
    assert.equal((await join(alice, 'vault')).res.status, 200);
    const spy = await open('spy');
    const res = await spy.send(spy.newDialog('sip:vault@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '600']] });
    assert.equal(res.status, 401);
    assert.match(headerValue(res, 'WWW-Authenticate') ?? '', /algorithm=SHA-256/);
    assert.equal(chat.focus.subscriptions, 0);
    spy.credentials = { username: 'mod', password: 'mod-pw' };
    const ok = await spy.send(spy.newDialog('sip:vault@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '0']] });
    assert.equal(ok.status, 200);
    assert.match((await spy.nextRequest('NOTIFY')).body.toString(), /sip:alice@example\.com/);
  });

  it('unauthenticated INVITE to a requireAuth room: 401 before any admission', async () => {
    const anon = await open('anon', 'UDP');
    const { res } = await join(anon, 'vault');
    assert.equal(res.status, 401);
    assert.ok(!room('vault').participants().some((p) => p.sipUri.includes('anon')));
  });

  it('a made-up nonce (or one another focus issued) is challenged again before any credential lookup', async () => {
    const forger = await open('forger');
    const foreign = new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }).issue(REALM, '127.0.0.1');
    const before = lookups;
    for (const nonce of ['AAAA', foreign]) {
      const authorization = `Digest username="victim", realm="${REALM}", nonce="${nonce}", uri="sip:vault@chat.test", response="${'0'.repeat(32)}", qop=auth, nc=00000001, cnonce="c", algorithm=MD5`;
      const res = await forger.send(forger.newDialog('sip:vault@chat.test', `sip:victim@${REALM}`), 'INVITE', { headers: [['Authorization', authorization]], body: offerSdp('msrp://127.0.0.1:7654/forger;tcp') });
      assert.equal(res.status, 401);
      assert.ok(headerValue(res, 'WWW-Authenticate') !== undefined);
    }
    assert.equal(lookups, before, 'no lookup for credentials that cannot be right');
    assert.ok(!room('vault').participants().some((p) => p.sipUri.includes('victim')));
  });

  it('ACL bypass by forged From: the allow list matches the authenticated user, not the From', async () => {
    const mallory = await open('mallory');
    const forged = mallory.newDialog('sip:club@chat.test', `sip:alice@${REALM}`);
    assert.equal((await mallory.send(forged, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/m;tcp') })).status, 401);
    mallory.credentials = { username: 'mallory', password: 'mallory-pw' };
    const authed = mallory.newDialog('sip:club@chat.test', `sip:alice@${REALM}`);
    assert.equal((await mallory.send(authed, 'INVITE', { body: offerSdp('msrp://127.0.0.1:7654/m;tcp') })).status, 403);
    const sub = await mallory.send(mallory.newDialog('sip:club@chat.test', `sip:alice@${REALM}`), 'SUBSCRIBE', { headers: [['Event', 'conference']] });
    assert.equal(sub.status, 403, 'nor may a refused identity read the roster');
    assert.equal(room('club').participants().length, 0);
    const alice = await open('alice');
    alice.credentials = { username: 'alice', password: 'alice-pw' };
    assert.equal((await join(alice, 'club')).res.status, 200, 'the real alice joins');
  });

  it('password guessing over SIP Digest: after 3 wrong passwords the user is refused (403, Retry-After) even with the right one; one log line and a metric per failure', async () => {
    const guesser = await open('victim');
    const before = log.lines.length;
    for (let i = 0; i < 3; i++) {
      guesser.credentials = { username: 'victim', password: `guess-${i}` };
      const r = await guesser.send(guesser.newDialog('sip:vault@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'conference']] });
      assert.equal(r.status, i < 2 ? 401 : 403, `attempt ${i + 1}`);
    }
    guesser.credentials = { username: 'victim', password: 'victim-pw' };
    const right = await guesser.send(guesser.newDialog('sip:vault@chat.test'), 'SUBSCRIBE', { headers: [['Event', 'conference']] });
    assert.equal(right.status, 403);
    assert.match(headerValue(right, 'Retry-After') ?? '', /^\d+$/);
    const failures = log.lines.slice(before).filter((l) => l['msg'] === 'authentication failed');
    assert.equal(failures.length, 3);
    assert.deepEqual({ user: failures[0]!['user'], realm: failures[0]!['realm'], source: failures[0]!['source'] }, { user: 'victim', realm: REALM, source: '127.0.0.1' });
    assert.equal(await metricValue(metrics, 'msrp_auth_failures_total{protocol="sip"}'), 3);
    assert.ok(await metricValue(metrics, 'msrp_auth_guess_refusals_total{protocol="sip",scope="user"}') >= 1);
  });
});

describe('spoofed SIP over UDP (issue 13)', { timeout: 60_000 }, () => {
  it('sends the spoofed address at most ~3x the bytes it received from it: 401s, 2xx and NOTIFYs are not retransmitted to it, and a flood is rate limited', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const users = new MemoryCredentials().add(REALM, 'mod', 'mod-pw');
    const chat = await startChatServer(loopbackChatConfig({
      rooms: [{ name: 'open' }, { name: 'vault', policy: { requireAuth: true } }],
    }), {
      logger: pino({ level: 'silent' }), metrics,
      auth: { realmFor: () => REALM, nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => users.lookup(r, u) },
      // Short RFC 3261 timers so every retransmission schedule (Timer G/H, E/F, 2xx) runs out within the test.
      focusTuning: { timers: { T1: 10, T2: 40, T4: 50 } },
    });
    // The victim: a real UDP socket whose address the attacker writes as source (what the
    // focus sees of a spoofed datagram); it receives but never answers.
    const victim = createSocket('udp4');
    await new Promise<void>((r) => victim.bind(0, '127.0.0.1', r));
    const port = victim.address().port;
    let received = 0;
    let sent = 0;
    victim.on('message', (d) => (received += d.length));
    const spoof = (method: string, room: string, i: number, headers: [string, string][] = [], body = ''): Promise<void> => {
      const bytes = serialize(request({
        method, uri: `sip:${room}@chat.test`, body,
        headers: [
          ['Via', `SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`], ['Max-Forwards', '70'],
          ['From', `<sip:x${i}@example.com>;tag=${randomBytes(4).toString('hex')}`], ['To', `<sip:${room}@chat.test>`],
          ['Call-ID', randomBytes(8).toString('hex')], ['CSeq', `1 ${method}`], ['Contact', `<sip:x@127.0.0.1:${port}>`],
          ...headers, ...(body === '' ? [] : [['Content-Type', 'application/sdp'] as [string, string]]),
        ],
      }));
      sent += bytes.length;
      return new Promise((r) => victim.send(bytes, chat.focus.udpPort, '127.0.0.1', () => r()));
    };
    try {
      for (let i = 0; i < 10; i++) {
        await spoof('INVITE', 'vault', i, [], offerSdp(`msrp://127.0.0.1:7654/v${i};tcp`)); // 401 (+ Timer G)
        await spoof('SUBSCRIBE', 'open', i, [['Event', 'conference'], ['Expires', '600']]); // 200 + NOTIFY (+ Timer E)
        await spoof('INVITE', 'open', i, [], offerSdp(`msrp://127.0.0.1:7654/o${i};tcp`)); // 200 never ACKed (+ 2xx retransmission, BYE)
      }
      const ua = chat.focus.ua;
      const invites = async () => await metricValue(metrics, 'msrp_focus_invites_total{outcome="401"}') + await metricValue(metrics, 'msrp_focus_invites_total{outcome="200"}');
      await eventually(async () => await invites() === 20, 'the focus to answer the 20 spoofed INVITEs');
      await eventually(() => ua.transactions.serverCount === 0 && ua.transactions.clientCount === 0 && chat.focus.calls === 0 && chat.focus.subscriptions === 0,
        'every transaction, call and subscription of the spoofed requests to end', 20_000);
      const ratio = received / sent;
      assert.ok(received > 0, 'the focus did answer');
      assert.ok(ratio <= 3.5, `bytes sent to the spoofed address / bytes received from it = ${ratio.toFixed(2)} (${received}/${sent})`);
      assert.ok(await metricValue(metrics, 'msrp_focus_udp_drops_total{reason="amplification"}') > 0);

      // A flood from one address, paced so the socket buffer loses none: beyond the burst
      // (60) and the refill (20/s), datagrams are dropped unanswered.
      let answers = 0;
      victim.on('message', () => answers++);
      const flood = 150;
      const started = Date.now();
      for (let i = 0; i < flood; i++) {
        await spoof('OPTIONS', 'open', i);
        await new Promise((r) => setImmediate(r));
      }
      const rateDrops = async () => await metricValue(metrics, 'msrp_focus_udp_drops_total{reason="rate"}');
      await eventually(async () => answers + await rateDrops() >= flood, 'every flood datagram answered or dropped');
      const allowed = 60 + Math.ceil(((Date.now() - started) / 1000) * 20);
      assert.ok(await rateDrops() >= flood - allowed, `rate drops ${await rateDrops()}, answers ${answers}`);
      assert.ok(answers <= allowed, `answers ${answers} > ${allowed}`);
    } finally {
      victim.close();
      await chat.close();
    }
  });
});

describe('MSRP AUTH password guessing (issue 13)', { timeout: 30_000 }, () => {
  /** One AUTH on a connection of its own: the per-connection limit (auth.maxFailures) never triggers. */
  const authAlone = async (r: TestRelay, user: string, password: string, o: { wrongPassword?: boolean } = {}) => {
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    try {
      return await c.auth(r.relay.uri, user, password, o);
    } finally {
      c.close();
    }
  };
  /** Past a guessing limit even alice's right password is refused, and the comment says why. */
  const assertGuessingRefused = async (r: TestRelay) => {
    const res = await authAlone(r, 'alice', 'alice-pw');
    assert.equal(res.status, 403);
    assert.match(res.comment ?? '', /too many failed attempts/);
  };

  it('counts wrong passwords per user across connections: past the limit even the right password gets 403', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const log = capturingLogger();
    const r = await startTestRelay({}, undefined, { metrics, logger: log.logger, guesses: new GuessLimiter({ perUser: 3, perSource: 100, windowMs: 60_000 }) });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await authAlone(r, 'alice', 'nope', { wrongPassword: true })).status, 403);
      }
      await assertGuessingRefused(r);
      assert.equal((await authAlone(r, 'bob', 'bob-pw')).status, 200, 'another user is not affected');
      const lines = log.lines.filter((l) => l['msg'] === 'authentication failed');
      assert.equal(lines.length, 3);
      assert.equal(lines[0]!['user'], 'alice');
      assert.equal(lines[0]!['realm'], 'example.test');
      assert.equal(lines[0]!['source'], '127.0.0.1');
      assert.equal(await metricValue(metrics, 'msrp_auth_failures_total{protocol="msrp"}'), 3);
    } finally {
      await r.relay.stop();
    }
  });

  it('counts wrong passwords per source across users: past the limit the source is refused', async () => {
    const r = await startTestRelay({}, undefined, { guesses: new GuessLimiter({ perUser: 100, perSource: 2, windowMs: 60_000 }) });
    try {
      for (const user of ['alice', 'bob']) {
        assert.equal((await authAlone(r, user, 'x', { wrongPassword: true })).status, 403);
      }
      await assertGuessingRefused(r);
    } finally {
      await r.relay.stop();
    }
  });
});
