// `msrp chat` end to end: three CLI processes join one room of the real focus (SIP over UDP
// and TCP, MSRP direct to the switch), take nicknames, and exchange public and private
// messages through the switch, driven by --script files.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChatServer, type RunningChatServer } from '../../chat/server.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { loopbackChatConfig } from '../../chat/testchat.ts';
import { eventually } from '../../testwait.ts';
import { runMsrp } from './testrun.ts';


describe('msrp chat', { timeout: 60_000 }, () => {
  let chat: RunningChatServer;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msrp-chat-'));
    chat = await startChatServer(loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { history: { enabled: false } } }], minExpires: 60 }), { logger: createLogger({ name: 'chat-cli', level: 'silent', env: {} }) });
  });
  after(async () => {
    await chat.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The configured room, opened at the first INVITE (after that, `?.length ?? 0` would hide a missing one). */
  const lobby = () => {
    const room = chat.switch.room('sip:lobby@chat.test');
    assert.ok(room, 'the configured room exists');
    return room;
  };

  it('lets three participants talk in public and in private through the switch', async () => {
    const scripts: Record<string, string[]> = {
      // Bob and Carol stay until Alice's "see you", which she sends after /who, so /who sees all
      // three. Then a chain: Bob answers, Carol answers after Bob's answer (the switch's
      // connection to her carries "see you" first), Alice leaves after Carol's: nobody leaves
      // before the last message meant for them.
      // Alice starts once Bob and Carol hold their nicknames (so are bound and will get her
      // hello): the test waits for that in the room, instead of Alice sleeping 1.5 s.
      alice: ['/nick Alice', 'hello everyone', 'expect:^\\[private\\] <sip:bob@localhost> psst alice$', 'expect:^<sip:carol@localhost> hi from carol$', '/who', 'expect:in the room: ', 'see you', 'expect:^<sip:carol@localhost> bye from carol$'],
      bob: ['/nick Bob', 'expect:^<sip:alice@localhost> hello everyone$', '/msg Alice psst alice', 'expect:hi from carol', 'expect:^<sip:alice@localhost> see you$', 'bye from bob'],
      carol: ['/nick Carol', 'expect:^<sip:alice@localhost> hello everyone$', 'wait:300', 'hi from carol', 'expect:^<sip:alice@localhost> see you$', 'expect:^<sip:bob@localhost> bye from bob$', 'bye from carol'],
    };
    const start = async (user: string, transport: 'udp' | 'tcp') => {
      const file = join(dir, `${user}.txt`);
      await writeFile(file, scripts[user]!.join('\n') + '\n');
      const port = transport === 'tcp' ? chat.focus.tcpPort! : chat.focus.udpPort!;
      return [user, await runMsrp(['chat', 'sip:lobby@chat.test', '--focus', `127.0.0.1:${port}`, '--transport', transport, '--user', user, '--script', file, '--expect-timeout', '8000'])] as const;
    };
    const others = [start('bob', 'tcp'), start('carol', 'udp')];
    const nicknames = () => chat.switch.room('sip:lobby@chat.test')?.participants().map((p) => p.nickname) ?? [];
    await eventually(() => ['Bob', 'Carol'].every((n) => nicknames().includes(n)), 'bob and carol in the room with their nicknames', 20_000);
    const results = Object.fromEntries(await Promise.all([start('alice', 'udp'), ...others]));
    for (const [user, r] of Object.entries(results)) {
      assert.equal(r.code, 0, `${user} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    assert.doesNotMatch(results['carol']!.stdout, /psst/, 'a private message reaches only its recipient');
    // The room list names all three (the old pattern had an alternative, "in the room: .*Alice",
    // that the script's own expect: line guaranteed, so it could not fail).
    const who = /^in the room: .*$/m.exec(results['alice']!.stdout)?.[0];
    assert.ok(who !== undefined, `alice printed the room list:\n${results['alice']!.stdout}`);
    for (const nick of ['Alice', 'Bob', 'Carol']) assert.match(who, new RegExp(`\\b${nick} \\(`), `${nick} in ${who}`);
    // The room is configured, so it exists; the BYEs empty it (the focus removes a participant
    // after answering the BYE, hence the bounded poll).
    await eventually(() => lobby().participants().length === 0, 'everyone left with BYE');
  });
  it('refuses a malformed --dns-server as a usage error before it joins the room', async () => {
    // Without --relay the DNS servers are used only to dial the switch, after the focus has
    // accepted the INVITE: checked there, the error left the dialog and its sockets open and
    // the process alive (runMsrp's SIGKILL, code null) with a participant in the room.
    const port = chat.focus.udpPort!;
    const r = await runMsrp(['chat', 'sip:lobby@chat.test', '--focus', `127.0.0.1:${port}`, '--user', 'mallory', '--dns-server', 'not-an-address']);
    assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, /--dns-server wants an IP address/);
    assert.equal(chat.switch.room('sip:lobby@chat.test')?.participants().length ?? 0, 0, 'nobody joined');
  });
});
