// Interop: sipp (a real SIP UAC, Debian sip-tester) joins a room of the real chat focus
// with e2e/sipp/invite-room.xml over UDP and TCP: INVITE with an MSRP offer, 200 whose
// answer has m=message, a=path, a=chatroom and a Contact with isfocus, ACK, BYE, 200.
// passive-room.xml offers a=setup:passive and reinvite-room.xml moves the MSRP path with a
// re-INVITE: sipp speaks SIP only, so a TCP listener here stands for its MSRP side and
// sees the switch connect (RFC 6135) with the session's URIs. refer-invite.xml is a
// moderator's REFER method=INVITE: the invitee is a SIP UA here that answers the focus.
// Skip rule: sipp absent and CI !== 'true' → skipped with the reason; in CI it must run.
import { randomBytes } from 'node:crypto';
import { NonceManager } from '../internal/auth/nonce.ts';
import { MemoryCredentials } from '../internal/relay/testrelay.ts';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startChatServer, type RunningChatServer } from '../internal/chat/server.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { SCENARIOS, runSipp, sippAvailable } from './sipp/sipp.ts';
import { loopbackChatConfig } from '../internal/chat/testchat.ts';
import { offerSdp, SipUac } from '../internal/client/sip-uac.ts';
import { headerValue } from '../internal/sip/message.ts';
import { eventually } from '../internal/testwait.ts';

const skip = !sippAvailable() && process.env.CI !== 'true' ? 'sipp not installed: apt-get install sip-tester (or set SIPP_BIN)' : false;

describe('sipp joins a chat room of the real focus', { skip, timeout: 120_000 }, () => {
  let chat: RunningChatServer;
  before(async () => {
    // Moderator actions need SIP Digest (refer-invite.xml answers the challenge as mod / mod-pw).
    const users = new MemoryCredentials().add('example.com', 'mod', 'mod-pw');
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { moderators: ['sip:mod@example.com'] } }], minExpires: 60 }), {
      logger: createLogger({ name: 'sipp-focus', level: 'silent', env: {} }),
      // sipp answers only an MD5 challenge, and takes the first one offered (SHA-256 comes first by default).
      auth: { realmFor: () => 'example.com', nonces: new NonceManager({ secret: randomBytes(32), lifetimeSec: 300 }), lookup: (r, u) => users.lookup(r, u), algorithms: ['MD5'] },
    });
  });
  after(async () => {
    await chat.close();
  });

  for (const transport of ['u1', 't1'] as const) {
    it(`completes INVITE/200/ACK/BYE over ${transport === 'u1' ? 'UDP' : 'TCP'} with exit code 0`, async () => {
      const port = transport === 'u1' ? chat.focus.udpPort! : chat.focus.tcpPort!;
      const r = await runSipp({ scenario: SCENARIOS.inviteRoom, target: `127.0.0.1:${port}`, transport, service: 'lobby', keys: { msrp_sess: `sipp${transport}` } });
      assert.equal(r.code, 0, `sipp ${r.argv.join(' ')}\nexit ${r.code}\nerrors:\n${r.errors}\nmessages:\n${r.messages.slice(-4000)}\nstderr:\n${r.stderr}`);
      assert.equal(r.stats['SuccessfulCall(C)'], '1');
      // The BYE took the participant out again. The room is configured, so it exists
      // (`?.length ?? 0` would have passed without one); the focus removes the participant
      // after answering the BYE, hence the bounded poll.
      const room = chat.switch.room('sip:lobby@chat.test');
      assert.ok(room, 'the configured room exists');
      await eventually(() => room.participants().length === 0 && chat.focus.calls === 0, 'the BYE to empty the room');
    });
  }

  /** A TCP listener standing for sipp's MSRP side: resolves the first frame head the switch writes to it. */
  async function msrpListener(): Promise<{ port: number; firstHead: Promise<string>; close: () => void }> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const sockets: Socket[] = [];
    const firstHead = new Promise<string>((resolve) => server.on('connection', (s: Socket) => {
      sockets.push(s);
      let text = '';
      s.setEncoding('latin1').on('data', (d: string) => {
        text += d;
        if (text.includes('\r\n\r\n') || /\r\n-{7}\S+[$#+]/.test(text)) resolve(text);
      });
    }));
    return { port: (server.address() as AddressInfo).port, firstHead, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
  }

  /** The listener's first head, or sipp's failure when it ends first (a scenario that failed never lets the switch connect). */
  const headOrFailure = (head: Promise<string>, run: ReturnType<typeof runSipp>): Promise<string> =>
    Promise.race([head, run.then((r) => assert.fail(`sipp ended before the switch connected\n${failure(r)}`))]);

  const failure = (r: Awaited<ReturnType<typeof runSipp>>): string =>
    `sipp ${r.argv.join(' ')}\nexit ${r.code}\nerrors:\n${r.errors}\nmessages:\n${r.messages.slice(-4000)}\nstderr:\n${r.stderr}`;

  it('offers a=setup:passive (passive-room.xml): the answer says active and the switch connects to the offered path', async () => {
    const l = await msrpListener();
    try {
      const run = runSipp({ scenario: SCENARIOS.passiveRoom, target: `127.0.0.1:${chat.focus.udpPort!}`, transport: 'u1', service: 'lobby', keys: { msrp_port: String(l.port), msrp_sess: 'sipppassive' } });
      const head = await headOrFailure(l.firstHead, run);
      const r = await run;
      assert.equal(r.code, 0, failure(r));
      // RFC 6135 / RFC 4975 §5.4: the connecting side's first request, To-Path the offer's path.
      assert.match(head, /^MSRP \S+ SEND\r\nTo-Path: msrp:\/\/127\.0\.0\.1:\d+\/sipppassive1;tcp\r\nFrom-Path: msrp:\/\/127\.0\.0\.1:\d+\/\S+;tcp\r\n/);
      await eventually(() => chat.switch.room('sip:lobby@chat.test')!.participants().length === 0 && chat.focus.calls === 0, 'the BYE to empty the room');
    } finally {
      l.close();
    }
  });

  it('moves the MSRP path with a re-INVITE (reinvite-room.xml): same session URI, the switch connects to the new path', async () => {
    const l = await msrpListener();
    try {
      const room = chat.switch.room('sip:lobby@chat.test')!;
      const run = runSipp({ scenario: SCENARIOS.reinviteRoom, target: `127.0.0.1:${chat.focus.tcpPort!}`, transport: 't1', service: 'lobby', keys: { msrp_port: '9', msrp_sess: 'sippfirst', msrp_port2: String(l.port), msrp_sess2: 'sippmoved' } });
      const head = await headOrFailure(l.firstHead, run);
      const device = room.participants()[0]?.devices[0];
      const r = await run;
      assert.equal(r.code, 0, failure(r));
      assert.ok(device, 'the participant was in the room');
      assert.match(device.remotePath[0] ?? '', /\/sippmoved1;tcp$/, 'the new path was applied');
      const to = /To-Path: (\S+)/.exec(head)?.[1];
      const from = /From-Path: (\S+)/.exec(head)?.[1];
      assert.equal(to, device.remotePath[0]);
      assert.equal(from, device.localUri, 'the session URI of the first INVITE is kept');
      // Both answers named the same session: the first a=path is in the log line of the second.
      assert.match(r.messages, /a=path:msrp:\/\/127\.0\.0\.1:\d+\/\S+;tcp/);
      await eventually(() => room.participants().length === 0 && chat.focus.calls === 0, 'the BYE to empty the room');
    } finally {
      l.close();
    }
  });

  it('adds a participant for a moderator with REFER method=INVITE (refer-invite.xml): 202, NOTIFY 100, the focus INVITEs, NOTIFY 200', async () => {
    const invitee = await SipUac.open('UDP', chat.focus.udpPort!, 'zoe');
    try {
      let offered = '';
      invitee.answerInvite = (req) => {
        offered = req.body.toString();
        return { status: 200, body: offerSdp('msrp://127.0.0.1:9/zoe1;tcp', { setup: 'active' }) };
      };
      const r = await runSipp({
        scenario: SCENARIOS.referInvite, target: `127.0.0.1:${chat.focus.udpPort!}`, transport: 'u1', service: 'lobby',
        keys: { moderator: 'sip:mod@example.com', target_uri: `sip:zoe@127.0.0.1:${invitee.localPort}` },
        // The Digest uri must be the Request-URI (RFC 3261 §22.4); sipp's default is remote_ip:remote_port.
        extraArgs: ['-auth_uri', `lobby@127.0.0.1:${chat.focus.udpPort!}`],
      });
      assert.equal(r.code, 0, failure(r));
      assert.match(offered, /^a=setup:actpass$/m, 'the focus offered MSRP to the invitee');
      const ack = await invitee.nextRequest('ACK');
      assert.ok(headerValue(ack, 'Call-ID'));
      const room = chat.switch.room('sip:lobby@chat.test')!;
      assert.ok(room.participants().some((p) => p.sipUri === 'sip:zoe@127.0.0.1'), 'the invitee is in the room');
      room.removeParticipant('sip:zoe@127.0.0.1', 'moderator');
      await invitee.nextRequest('BYE');
      await eventually(() => room.participants().length === 0 && chat.focus.calls === 0, 'the room empty again');
    } finally {
      invitee.close();
    }
  });
});
