// Interop: sipp (a real SIP UAC, Debian sip-tester) joins a room of the real chat focus
// with e2e/sipp/invite-room.xml over UDP and TCP: INVITE with an MSRP offer, 200 whose
// answer has m=message, a=path, a=chatroom and a Contact with isfocus, ACK, BYE, 200.
// Skip rule: sipp absent and CI !== 'true' → skipped with the reason; in CI it must run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startChatServer, type RunningChatServer } from '../internal/chat/server.ts';
import { createLogger } from '../internal/telemetry/logger.ts';
import { SCENARIOS, runSipp, sippAvailable } from './sipp/sipp.ts';
import { loopbackChatConfig } from '../internal/chat/testchat.ts';
import { eventually } from '../internal/testwait.ts';

const skip = !sippAvailable() && process.env.CI !== 'true' ? 'sipp not installed: apt-get install sip-tester (or set SIPP_BIN)' : false;

describe('sipp joins a chat room of the real focus', { skip, timeout: 90_000 }, () => {
  let chat: RunningChatServer;
  before(async () => {
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby' }], minExpires: 60 }), { logger: createLogger({ name: 'sipp-focus', level: 'silent', env: {} }) });
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
});
