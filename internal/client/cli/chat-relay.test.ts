// `msrp chat --relay` end to end: a real relay (TLS, Digest AUTH with real HA1 credentials)
// and a real chat server (SIP focus + MSRP switch) on loopback. Three CLI processes AUTH to
// the relay and join one room through it (a=path [relay session, own URI]; To-Path [relay
// session, switch session]), take nicknames, exchange public and private messages and a
// file. The relay is not an open relay: the switch's host:port must be in nextHops.allow.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChatServer, type RunningChatServer } from '../../chat/server.ts';
import { startTestRelay, type TestRelay } from '../../relay/testrelay.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { testPki } from '../../transport/testcerts.ts';
import { eventually } from '../../testwait.ts';
import { runMsrp } from './testrun.ts';

const ROOM = 'sip:lobby@chat.test';

function chatConfig(transport: 'tcp' | 'tls'): Parameters<typeof startChatServer>[0] {
  return {
    enabled: true, domain: 'chat.test', publicHost: '127.0.0.1',
    sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
    msrp: { host: '127.0.0.1', port: 0, transport, relayInFront: false },
    autoCreate: false,
    factoryLimits: { maxRooms: 1000, perCreator: 10, windowSec: 60 },
    media: { privateAddresses: 'allow', foreignAddresses: 'allow', trustedHosts: [] },
    subscriptions: { minExpires: 60, maxExpires: 3600 },
    connections: { max: 10000, perSource: 100, tlsHandshakeTimeoutSec: 10, sipIdleSec: 900, msrpIdleSec: 60 },
    page: { enabled: true },
    rooms: [{ name: 'lobby', policy: { history: { enabled: false } } }],
  };
}

describe('msrp chat --relay', { timeout: 90_000 }, () => {
  let chat: RunningChatServer;
  let relay: TestRelay;
  let closedRelay: TestRelay;
  let dir: string;
  let caFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msrp-chat-relay-'));
    chat = await startChatServer(chatConfig('tcp'), { logger: createLogger({ name: 'chat-relay-cli', level: 'silent', env: {} }) });
    // Only the switch's exact host:port is an allowed next hop (loopback needs allowPrivate).
    relay = await startTestRelay({ nextHops: { allow: [{ host: '127.0.0.1', port: chat.msrp.port }], allowPrivate: true, connectTimeoutMs: 2000 } });
    relay.credentials.add('example.test', 'carol', 'carol-pw').add('example.test', 'dave', 'dave-pw');
    // A relay that does not list the switch: it must refuse to forward there.
    closedRelay = await startTestRelay({ nextHops: { allow: [{ host: '127.0.0.1', port: 1 }], allowPrivate: true, connectTimeoutMs: 2000 } });
    closedRelay.credentials.add('example.test', 'dave', 'dave-pw');
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, relay.ca);
  });
  after(async () => {
    await chat.close();
    await relay.relay.stop();
    await closedRelay.relay.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const joinArgs = (r: TestRelay, user: string, script: string, extra: string[] = [], server = chat): string[] => [
    'chat', ROOM, '--focus', `127.0.0.1:${server.focus.udpPort!}`, '--relay', `msrps://127.0.0.1:${r.port}`,
    '--user', user, '--password', `${user}-pw`, '--ca', caFile, '--script', script, '--expect-timeout', '8000', ...extra,
  ];

  it('lets three participants join through the relay, talk in public and in private, and share a file', async () => {
    const data = randomBytes(3000);
    const sha = createHash('sha256').update(data).digest('hex');
    const src = join(dir, 'notes.bin');
    await writeFile(src, data);
    const scripts: Record<string, string[]> = {
      // Alice starts once Bob and Carol hold their nicknames (bound, so they get her hello):
      // the test waits for that in the room instead of Alice sleeping 1.5 s.
      alice: ['/nick Alice', 'hello everyone', 'expect:^\\[private\\] <sip:bob@localhost> psst alice$', 'expect:^<sip:carol@localhost> hi from carol$', `/file ${src}`, 'wait:800'],
      bob: ['/nick Bob', 'expect:^<sip:alice@localhost> hello everyone$', '/msg Alice psst alice', 'expect:hi from carol', `expect:^<sip:alice@localhost> \\[file notes.bin 3000 bytes sha256 ${sha}`, 'wait:300'],
      carol: ['/nick Carol', 'expect:^<sip:alice@localhost> hello everyone$', 'wait:300', 'hi from carol', `expect:^<sip:alice@localhost> \\[file notes.bin 3000 bytes sha256 ${sha}`, 'wait:300'],
    };
    // Count the connections the switch takes while the three are in the room.
    const adopted: string[] = [];
    const adopt = chat.switch.adopt.bind(chat.switch);
    chat.switch.adopt = (socket, direction) => {
      adopted.push(`${socket.remoteAddress}:${socket.remotePort}`);
      return adopt(socket, direction);
    };
    const saveDirs: Record<string, string> = {};
    const start = async (user: string) => {
      const file = join(dir, `${user}.txt`);
      await writeFile(file, scripts[user]!.join('\n') + '\n');
      saveDirs[user] = await mkdtemp(join(dir, `${user}-files-`));
      return [user, await runMsrp(joinArgs(relay, user, file, ['--save-dir', saveDirs[user]]))] as const;
    };
    const others = [start('bob'), start('carol')];
    const nicknames = () => chat.switch.room(ROOM)?.participants().map((p) => p.nickname) ?? [];
    await eventually(() => ['Bob', 'Carol'].every((n) => nicknames().includes(n)), 'bob and carol in the room with their nicknames', 20_000);
    const results = Object.fromEntries(await Promise.all([start('alice'), ...others]));
    chat.switch.adopt = adopt;
    for (const [user, r] of Object.entries(results)) {
      assert.equal(r.code, 0, `${user} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.match(r.stderr, /joined sip:lobby@chat\.test/);
      assert.match(r.stdout, new RegExp(`^\\* you are ${user[0]!.toUpperCase()}${user.slice(1)}$`, 'm'));
    }
    assert.doesNotMatch(results['carol']!.stdout, /psst/, 'a private message reaches only its recipient');
    assert.doesNotMatch(results['bob']!.stdout, /psst/, 'the sender of a private message does not get it back');
    assert.match(results['carol']!.stdout, /^<sip:alice@localhost> hello everyone$/m);
    assert.doesNotMatch(results['alice']!.stdout, /^<sip:alice@localhost> hello everyone$/m, 'no echo to the sender');
    // The file arrived whole, saved to disk by bob and carol, not by alice (the sender).
    for (const user of ['bob', 'carol']) {
      assert.deepEqual(await readdir(saveDirs[user]!), ['notes.bin']);
      assert.ok((await readFile(join(saveDirs[user]!, 'notes.bin'))).equals(data), `${user} saved the file's bytes`);
    }
    assert.deepEqual(await readdir(saveDirs['alice']!), []);
    // All of it went through the relay: its one connection to the switch carried every session.
    assert.equal(adopted.length, 1, `one connection at the switch, the relay's (direct clients would open three): ${adopted.join(', ')}`);
    // The room is configured, so it exists (`?.length ?? 0` would have hidden a missing room);
    // the BYEs empty it, which the focus does after answering them: a bounded poll.
    const room = chat.switch.room(ROOM);
    assert.ok(room, 'the configured room exists');
    await eventually(() => room.participants().length === 0, 'everyone left with BYE');
  });

  it('is no open relay: without the switch in nextHops.allow nothing reaches the room', async () => {
    const file = join(dir, 'dave.txt');
    await writeFile(file, ['/nick Dave', 'expect:^\\* you are Dave$'].join('\n') + '\n');
    const switchConnections = chat.switch.connections.size;
    const r = await runMsrp(joinArgs(closedRelay, 'dave', file, ['--expect-timeout', '3000']));
    assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    // The relay answers the NICKNAME itself: 403, the next hop is not allowed (forwarder.ts: next-hop-not-allowed).
    assert.match(r.stdout, /^\* 403 /m);
    assert.doesNotMatch(r.stdout, /you are Dave/);
    assert.equal(chat.switch.connections.size, switchConnections, 'the relay opened no connection to the switch');
    // The session never bound at the switch (the focus drops it after its connect timeout).
    const room = chat.switch.room(ROOM);
    assert.ok(room, 'the configured room exists (`room === undefined ||` would have hidden it)');
    assert.ok(room.participants().every((p) => p.nickname !== 'Dave'));
  });

  it('exits with status 1 and closes its relay session when the focus cannot be reached', async () => {
    // A port that was just free: the SIP connection over TCP is refused at once.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const file = join(dir, 'carol-nofocus.txt');
    await writeFile(file, '/nick Carol\n');
    const args = joinArgs(relay, 'carol', file).map((a) => (a === `127.0.0.1:${chat.focus.udpPort!}` ? `127.0.0.1:${closedPort}` : a));
    const r = await runMsrp([...args, '--transport', 'tcp']);
    // Before the fix the relay connection kept the process alive after the error was printed,
    // until runMsrp's SIGKILL (code null).
    assert.equal(r.code, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, /msrp chat: .*ECONNREFUSED/);
    await eventually(() => ![...relay.relay.sessions.all()].some((sess) => sess.user === 'carol'), 'carol\'s relay session to end');
  });

  it('reaches a switch on msrps (as npm start runs it): the relay verifies its certificate', async () => {
    const pki = await testPki();
    const tlsChat = await startChatServer(chatConfig('tls'), {
      logger: createLogger({ name: 'chat-relay-cli-tls', level: 'silent', env: {} }), tls: { cert: pki.peer.cert, key: pki.peer.key },
    });
    assert.equal(tlsChat.msrp.scheme, 'msrps');
    const tlsRelay = await startTestRelay({ nextHops: { allow: [{ host: '127.0.0.1', port: tlsChat.msrp.port }], allowPrivate: true, connectTimeoutMs: 2000 } });
    try {
      // Bob starts once Alice holds her nickname (bound, so she gets his "here"), awaited in
      // the room instead of Bob's script sleeping 1.5 s.
      const scripts: Record<string, string[]> = {
        alice: ['/nick Alice', 'expect:^<sip:bob@localhost> here$', 'hello over tls', 'wait:500'],
        bob: ['/nick Bob', 'here', 'expect:^<sip:alice@localhost> hello over tls$', 'wait:200'],
      };
      const start = async (user: string) => {
        const file = join(dir, `tls-${user}.txt`);
        await writeFile(file, scripts[user]!.join('\n') + '\n');
        return [user, await runMsrp(joinArgs(tlsRelay, user, file, [], tlsChat))] as const;
      };
      const alice = start('alice');
      await eventually(() => tlsChat.switch.room(ROOM)?.participants().some((p) => p.nickname === 'Alice') === true, 'alice in the room with her nickname', 20_000);
      const results = await Promise.all([alice, start('bob')]);
      for (const [user, r] of results) assert.equal(r.code, 0, `${user} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    } finally {
      await tlsChat.close();
      await tlsRelay.relay.stop();
    }
  });
});
