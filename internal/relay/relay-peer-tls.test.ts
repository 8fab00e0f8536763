// Mutual TLS between relays, enforced (RFC 4976 §9.2, peer-auth.ts): a request toward one of
// our clients that arrives on an inbound connection other than the session's own is accepted
// only from a peer whose client certificate chains to ca.crt and names the host of the
// request's first From-Path URI (the previous hop's own URI, §6.4). Real TLS sockets on
// loopback, the test PKI (testcerts.ts), two relays of ours, strangers with and without
// certificates, and an endpoint our relay dials itself.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import pino from 'pino';
import type { MsrpRequest } from '../msrp/frame.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { defaultRelayOptions, type RelayOptions } from './options.ts';
import { startRelay } from './relay.ts';
import { MemoryCredentials } from './testrelay.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const r of relays) await r.relay.stop();
});

/** Log lines of the relays started with `logger`, parsed. */
const logLines: Record<string, unknown>[] = [];
const logger = pino({ level: 'info' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l) logLines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
}));

let pki: TestPki;
before(async () => {
  pki = await testPki();
});

/** A relay with a TLS and a plain TCP listener (the TCP one for AUTH-less strangers only). */
async function relay(overrides: Partial<RelayOptions> = {}, certs = pki.server): Promise<TestRelay & { tcpPort: number }> {
  const r = await startTestRelay({
    listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }, { hosts: ['127.0.0.1'], port: 0, tls: false }],
    ...overrides,
  }, certs, { logger });
  relays.push(r);
  return { ...r, tcpPort: r.relay.addresses.find((a) => !a.secure)!.port };
}

async function client(o: Parameters<typeof TestClient.connect>[0]): Promise<TestClient> {
  const c = await TestClient.connect(o);
  clients.push(c);
  return c;
}

/** bob, authenticated at `r`: his session URI and his connection. */
async function bobAt(r: TestRelay): Promise<{ bob: TestClient; sb: string }> {
  const bob = await client({ port: r.port, ca: r.ca });
  return { bob, sb: usePathOf(await bob.auth(r.relay.uri, 'bob', 'bob-pw')) };
}

async function drops(r: TestRelay, reason: string): Promise<number> {
  return (await r.relay.metrics.drops.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** The relay's side of `c`'s connection. */
function serverSide(r: TestRelay, c: TestClient) {
  const conn = [...r.relay.connections].find((x) => x.direction === 'inbound' && x.remotePort === c.socket.localPort);
  assert.ok(conn, 'the relay holds the connection');
  return conn;
}

/** A SEND toward bob (To-Path: bob's session, bob) whose From-Path starts with `previousHop`. */
function sendAsHop(from: TestClient, sb: string, bob: TestClient, previousHop: string, text: string): MsrpRequest {
  const body = Buffer.from(text);
  return from.send('SEND', [sb, bob.uri], [
    { name: 'Message-ID', value: randomBytes(6).toString('hex') },
    { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
    { name: 'Content-Type', value: 'text/plain' },
  ], body, [previousHop, 'msrps://far-end.invalid:9/x;tcp']);
}

/** Bob takes the next SEND (answering it 200) and returns its text. */
async function received(bob: TestClient): Promise<string> {
  const got = await bob.request('SEND');
  bob.write(buildResponse(got, 200));
  return Buffer.concat(got.body).toString();
}

const HOP = 'msrps://127.0.0.1:9/hop;tcp';

describe('relay-to-relay mutual TLS, enforced (RFC 4976 §9.2)', () => {
  it('carries SENDs between two relays of ours in both directions, each verifying the other\'s client certificate', async () => {
    const r1 = await relay();
    const r2 = await relay({}, pki.peer);
    const a = await client({ port: r1.port, ca: r1.ca });
    const sa = usePathOf(await a.auth(r1.relay.uri, 'alice', 'alice-pw'));
    const { bob: b, sb } = await bobAt(r2);

    const ab = a.sendMessage([sa, sb, b.uri], 'a to b');
    assert.equal((await a.response(ab.transactionId)).status, 200);
    const gotB = await b.request('SEND');
    assert.deepEqual(gotB.fromPath, [sb, sa, a.uri]);
    b.write(buildResponse(gotB, 200));

    const ba = b.sendMessage([sb, sa, a.uri], 'b to a');
    assert.equal((await b.response(ba.transactionId)).status, 200);
    const gotA = await a.request('SEND');
    assert.equal(Buffer.concat(gotA.body).toString(), 'b to a');
    assert.deepEqual(gotA.fromPath, [sa, sb, b.uri]);
    a.write(buildResponse(gotA, 200));

    // Each relay dialled the other and was verified as a client there: r1 (CN server) at r2, r2 (CN peer) at r1.
    for (const [at, cn, client] of [[r2, 'server', b], [r1, 'peer', a]] as const) {
      const fromPeer = [...at.relay.connections].find((c) => c.direction === 'inbound' && c.remotePort !== client.socket.localPort);
      assert.ok(fromPeer, `an inbound relay connection at the relay of ${cn === 'server' ? 'b' : 'a'}`);
      assert.equal((fromPeer.socket as TLSSocket).authorized, true);
      assert.equal(String((fromPeer.socket as TLSSocket).getPeerCertificate().subject.CN), cn);
    }
    for (const r of [r1, r2]) {
      for (const reason of ['peer-no-certificate', 'peer-certificate-untrusted', 'peer-certificate-host-mismatch']) assert.equal(await drops(r, reason), 0);
    }
  });

  it('refuses with 403 a request toward a client from a connection without a certificate (TLS or plain TCP), counted and logged', async () => {
    const r = await relay();
    const { bob, sb } = await bobAt(r);
    const logsBefore = logLines.length;
    const stranger = await client({ port: r.port, ca: r.ca });
    const sent = sendAsHop(stranger, sb, bob, HOP, 'anonymous');
    const res = await stranger.response(sent.transactionId);
    assert.equal(res.status, 403);
    assert.match(res.comment, /client certificate.*none presented/);
    assert.equal(await drops(r, 'peer-no-certificate'), 1);
    const conn = serverSide(r, stranger);
    const line = logLines.slice(logsBefore).find((l) => l['reason'] === 'peer-no-certificate');
    assert.ok(line, 'an info line says why');
    assert.equal(line['level'], 30);
    assert.equal(line['conn'], conn.id);
    assert.equal(line['previousHop'], HOP);

    const plain = await client({ port: r.tcpPort });
    const sent2 = sendAsHop(plain, sb, bob, HOP, 'anonymous over tcp');
    const res2 = await plain.response(sent2.transactionId);
    assert.equal(res2.status, 403);
    assert.match(res2.comment, /plain TCP/);
    assert.equal(await drops(r, 'peer-no-certificate'), 2);

    // The stranger is still an ordinary client: its own AUTH and its own session's traffic work.
    const sa = usePathOf(await stranger.auth(r.relay.uri, 'alice', 'alice-pw'));
    const own = stranger.sendMessage([sa, sb, bob.uri], 'as a client');
    assert.equal((await stranger.response(own.transactionId)).status, 200);
    // ... and that is the first SEND bob ever got: nothing anonymous reached him.
    assert.equal(await received(bob), 'as a client');
  });

  it('refuses a certificate from an untrusted CA, also under verify-if-presented, and keeps the connection for AUTH', async () => {
    for (const peerCertificates of ['require', 'verify-if-presented'] as const) {
      const r = await relay({ peerCertificates });
      const { bob, sb } = await bobAt(r);
      const forged = await client({ port: r.port, ca: r.ca, cert: pki.untrusted });
      const sent = sendAsHop(forged, sb, bob, HOP, 'forged');
      const res = await forged.response(sent.transactionId);
      assert.equal(res.status, 403, peerCertificates);
      assert.match(res.comment, /not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
      assert.equal(await drops(r, 'peer-certificate-untrusted'), 1);
      // Refused per request, not at the handshake: Digest still authenticates a user on it.
      assert.equal((await forged.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
      assert.equal(bob.frames.filter((f) => f.kind === 'request').length, 0);
    }
  });

  it('refuses a trusted certificate that does not name the host of the first From-Path URI', async () => {
    for (const peerCertificates of ['require', 'verify-if-presented'] as const) {
      const r = await relay({ peerCertificates });
      const { bob, sb } = await bobAt(r);
      // Valid chain, but issued for elsewhere.test only, while the From-Path says 127.0.0.1.
      const other = await client({ port: r.port, ca: r.ca, cert: pki.wrongHost });
      const res = await other.response(sendAsHop(other, sb, bob, HOP, 'wrong host').transactionId);
      assert.equal(res.status, 403, peerCertificates);
      assert.match(res.comment, /does not name 127\.0\.0\.1/);
      // A certificate for 127.0.0.1 speaking for another relay's URI.
      const peer = await client({ port: r.port, ca: r.ca, cert: pki.peer });
      const res2 = await peer.response(sendAsHop(peer, sb, bob, 'msrps://relay.other.test:2855/s;tcp', 'claims another host').transactionId);
      assert.equal(res2.status, 403);
      assert.match(res2.comment, /does not name relay\.other\.test/);
      assert.equal(await drops(r, 'peer-certificate-host-mismatch'), 2);
      // The same peer, speaking for its own host, is delivered.
      const res3 = await peer.response(sendAsHop(peer, sb, bob, HOP, 'from its own host').transactionId);
      assert.equal(res3.status, 200);
      assert.equal(await received(bob), 'from its own host');
    }
  });

  for (const scheme of ['msrps', 'msrp'] as const) {
    describe(`an ${scheme}: endpoint the relay dials itself`, () => {
      let server: TlsServer | NetServer;
      let endpoint: Promise<TestClient>;
      const port = (): number => (server.address() as AddressInfo).port;
      const uri = (): string => `${scheme}://127.0.0.1:${port()}/e;tcp`;
      before(async () => {
        // A foreign endpoint that uses no relay and has no client certificate (like the chat
        // switch): the relay connects to it, an outbound connection (over TLS its server
        // certificate is verified for 127.0.0.1 at connect; msrp: is plain TCP).
        server = scheme === 'msrps' ? createTlsServer({ cert: pki.peer.cert, key: pki.peer.key }) : createNetServer();
        endpoint = new Promise((resolve) => {
          server.once(scheme === 'msrps' ? 'secureConnection' : 'connection', (s: Socket) => resolve(TestClient.accepted(s, uri())));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      });
      after(() => {
        server.close();
      });

      it('accepts traffic toward the client coming back on that outbound connection', async () => {
        const r = await relay({ nextHops: { allow: [{ host: '127.0.0.1', port: port() }], allowPrivate: true, connectTimeoutMs: 2000 } });
        const a = await client({ port: r.port, ca: r.ca });
        const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
        const out = a.sendMessage([sa, uri()], 'to the endpoint');
        assert.equal((await a.response(out.transactionId)).status, 200);
        const e = await endpoint;
        clients.push(e);
        const got = await e.request('SEND');
        assert.deepEqual(got.fromPath, [sa, a.uri]);
        e.write(buildResponse(got, 200));
        // The endpoint sends back over the same connection (RFC 4975 §5.4: the session's connection).
        const back = e.send('SEND', [...got.fromPath], [
          { name: 'Message-ID', value: 'm1' }, { name: 'Byte-Range', value: '1-4/4' }, { name: 'Content-Type', value: 'text/plain' },
        ], 'back', [uri()]);
        assert.equal((await e.response(back.transactionId)).status, 200);
        const gotA = await a.request('SEND');
        assert.equal(Buffer.concat(gotA.body).toString(), 'back');
        assert.deepEqual(gotA.fromPath, [sa, uri()]);
        assert.ok([...r.relay.connections].some((c) => c.direction === 'outbound' && c.remotePort === port()));
        assert.equal(await drops(r, 'peer-no-certificate'), 0);
      });
    });
  }

  it('verify-if-presented lets a foreign endpoint without a certificate deliver, over TLS and plain TCP', async () => {
    // The deployment where endpoints without a relay send straight to our clients.
    const r = await relay({ peerCertificates: 'verify-if-presented' });
    const { bob, sb } = await bobAt(r);
    const stranger = await client({ port: r.port, ca: r.ca });
    assert.equal((await stranger.response(sendAsHop(stranger, sb, bob, HOP, 'no certificate').transactionId)).status, 200);
    assert.equal(await received(bob), 'no certificate');
    const plain = await client({ port: r.tcpPort });
    assert.equal((await plain.response(sendAsHop(plain, sb, bob, HOP, 'plain tcp').transactionId)).status, 200);
    assert.equal(await received(bob), 'plain tcp');
  });

  it('a policy changed while running (reconfigure) applies to the next request on a connection already judged', async () => {
    const r = await relay({ peerCertificates: 'verify-if-presented' });
    const { bob, sb } = await bobAt(r);
    const stranger = await client({ port: r.port, ca: r.ca });
    assert.equal((await stranger.response(sendAsHop(stranger, sb, bob, HOP, 'before').transactionId)).status, 200);
    assert.equal(await received(bob), 'before');
    const live = defaultRelayOptions({
      publicHost: '127.0.0.1', nonceSecret: randomBytes(32), realms: { default: 'example.test', byHost: [] },
      nextHops: { allow: [{ host: '127.0.0.1' }, { host: 'localhost' }], allowPrivate: true, connectTimeoutMs: 2000 },
      peerCertificates: 'require',
    });
    r.relay.reconfigure(live);
    assert.equal((await stranger.response(sendAsHop(stranger, sb, bob, HOP, 'after').transactionId)).status, 403);
    assert.equal(await drops(r, 'peer-no-certificate'), 1);
    assert.equal(stranger.socket.destroyed, false);
  });

  it('does not start with peerCertificates "require" but no mutual TLS (no certificate would ever be asked for)', async () => {
    const o = defaultRelayOptions({
      publicHost: '127.0.0.1', nonceSecret: randomBytes(32), tlsDir: pki.server.dir, mutualTls: false,
      listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }],
    });
    const deps = { credentials: new MemoryCredentials(), logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) };
    await assert.rejects(startRelay(o, deps), /peerCertificates "require" needs mutualTls/);
    const relaxed = await startRelay({ ...o, peerCertificates: 'verify-if-presented' }, deps);
    await relaxed.stop();
  });
});
