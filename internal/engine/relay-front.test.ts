// Our relay in front of the chat switch (chat.msrp.relayInFront, docs/chat.md "Our relay in
// front of the switch"), over real sockets: SIP over TCP to the focus, MSRP over TLS to the
// relay's listener only, the relay on to the switch (nextHops.ownChatSwitch, certificate
// pinned), wired as the engine wires it (relay.openFront / endFront behind the chat server's
// front hook). The clients have no relay session of their own: no AUTH anywhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { offerSdp, SipUac, type UacDialog } from '../client/sip-uac.ts';
import { startChatServer, type RunningChatServer } from '../chat/server.ts';
import { TlsParticipant } from '../chat/testparticipant.ts';
import { loopbackChatConfig } from '../chat/testchat.ts';
import { formatCpim } from '../msrp/cpim.ts';
import { newSessionId } from '../msrp/transaction.ts';
import { startTestRelay, type TestRelay } from '../relay/testrelay.ts';
import { createLogger } from '../telemetry/logger.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { loadTlsMaterial, secureContextOptions } from '../transport/tls-files.ts';
import { eventually } from '../testwait.ts';

const logger = createLogger({ name: 'relay-front-test', level: 'silent', env: {} });
const ROOM = 'sip:lobby@chat.test';

function cpim(from: string, text: string): string {
  return formatCpim({ from: { uri: from }, to: [{ uri: ROOM }], dateTime: '2026-12-06T06:00:00Z', contentType: 'text/plain', content: text }).toString('latin1');
}

/** The status of the response to transaction `tid` that `p` has received. */
async function statusOf(p: TlsParticipant, tid: string): Promise<number> {
  const re = new RegExp(`MSRP ${tid} (\\d{3})`);
  await p.seen(re);
  return Number(re.exec(p.text)![1]);
}

describe('our relay in front of the chat switch', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let chat: RunningChatServer;
  let relay: TestRelay;
  const uacs: SipUac[] = [];
  const participants: TlsParticipant[] = [];

  before(async () => {
    pki = await testPki();
    // The chat server starts before the relay (as in the engine): the hook reaches it late.
    const hook: { relay?: TestRelay } = {};
    const config = loopbackChatConfig({ rooms: [{ name: 'lobby', policy: { notices: false, history: { enabled: false } } }] });
    chat = await startChatServer({ ...config, msrp: { ...config.msrp, transport: 'tls', relayInFront: true } }, {
      logger, tls: secureContextOptions(await loadTlsMaterial(pki.server.dir)),
      front: { open: () => hook.relay?.relay.openFront(60_000), end: (id) => hook.relay?.relay.endFront(id) },
    });
    // Nothing in nextHops.allow: only the own-switch rule lets the front sessions through.
    relay = await startTestRelay({
      nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 2000, ownChatSwitch: { host: '127.0.0.1', port: chat.msrp.port, address: '127.0.0.1' } },
    });
    hook.relay = relay;
  });
  after(async () => {
    for (const p of participants) p.socket?.destroy();
    for (const u of uacs) u.close();
    await chat.close();
    await relay.relay.stop();
  });

  /** Joins by SIP over TCP with a direct offer (one a=path URI); connects to the answer's first hop, which must be the relay. */
  async function join(user: string): Promise<{ p: TlsParticipant; u: SipUac; d: UacDialog; path: string[] }> {
    const p = new TlsParticipant(`sip:${user}@example.com`);
    participants.push(p);
    const u = await SipUac.open('TCP', chat.focus.tcpPort!, user);
    uacs.push(u);
    const d = u.newDialog(ROOM);
    const res = await u.send(d, 'INVITE', { body: offerSdp(p.uri) });
    assert.equal(res.status, 200);
    await u.send(d, 'ACK', { inDialog: true });
    const path = (/^a=path:(.+)$/m.exec(res.body.toString())?.[1] ?? '').trim().split(/\s+/);
    assert.equal(path.length, 2, `a=path ${path.join(' ')}`);
    assert.ok(path[0]!.startsWith(`msrps://127.0.0.1:${relay.port}/`), `first hop is the relay: ${path[0]}`);
    assert.ok(path[1]!.startsWith(`msrps://127.0.0.1:${chat.msrp.port}/`), `then the switch: ${path[1]}`);
    p.focusUri = path.join(' ');
    await p.connect(relay.port, pki.caPem);
    assert.equal(await statusOf(p, p.send()), 200); // binds the front session and the switch session
    return { p, u, d, path };
  }

  it('answers [front, switch], carries messages through the relay, refuses others on the front URI, and ends the front session with BYE', async () => {
    const before = relay.relay.sessions.size;
    const alice = await join('alice');
    const bob = await join('bob');
    const frontId = (uri: string) => /\/([^/;]+);tcp$/.exec(uri)![1]!;
    assert.ok(relay.relay.sessions.get(frontId(alice.path[0]!))?.onlyTo, 'alice\'s front session is bound');
    assert.equal(relay.relay.sessions.size, before + 2);

    alice.p.send(cpim(alice.p.sipUri, 'hello bob, via the relay'));
    await bob.p.seen('hello bob, via the relay');
    bob.p.send(cpim(bob.p.sipUri, 'hello alice'));
    await alice.p.seen('hello alice');

    // Alice herself may go nowhere but the switch through her front session.
    const elsewhere = new TlsParticipant(alice.p.sipUri);
    elsewhere.focusUri = `${alice.path[0]} msrps://127.0.0.1:${relay.port + 1}/x;tcp`;
    const tid = elsewhere.send(cpim(alice.p.sipUri, 'elsewhere'), alice.p);
    assert.equal(await statusOf(alice.p, tid), 403);

    // A third party that did not get the answer, on its own connection to the relay.
    const mallory = new TlsParticipant('sip:mallory@example.com');
    participants.push(mallory);
    await mallory.connect(relay.port, pki.caPem);
    // Alice's front URI toward the switch: the session is bound to Alice's connection.
    mallory.focusUri = alice.p.focusUri;
    assert.equal(await statusOf(mallory, mallory.send(cpim(mallory.sipUri, 'not mine'))), 403);
    // Alice's front URI toward Alice: only the switch may deliver to her.
    mallory.focusUri = `${alice.path[0]} ${alice.p.uri}`;
    assert.equal(await statusOf(mallory, mallory.send(cpim(mallory.sipUri, 'spoofed'))), 403);
    // A front URI nobody handed out.
    mallory.focusUri = `msrps://127.0.0.1:${relay.port}/${newSessionId()};tcp ${alice.path[1]}`;
    assert.equal(await statusOf(mallory, mallory.send(cpim(mallory.sipUri, 'guessed'))), 481);
    assert.ok(!alice.p.text.includes('spoofed') && !bob.p.text.includes('not mine'));

    // BYE: the device leaves and its front session with it; its URI no longer forwards.
    assert.equal((await alice.u.send(alice.d, 'BYE', { inDialog: true })).status, 200);
    await eventually(() => relay.relay.sessions.get(frontId(alice.path[0]!)) === undefined, 'alice\'s front session ended');
    assert.equal(relay.relay.sessions.size, before + 1);
    assert.equal(await statusOf(alice.p, alice.p.send(cpim(alice.p.sipUri, 'after bye'))), 481);
    // Bob is untouched.
    assert.equal(await statusOf(bob.p, bob.p.send(cpim(bob.p.sipUri, 'still here'))), 200);
    assert.ok(relay.relay.sessions.get(frontId(bob.path[0]!)) !== undefined);
  });
});
