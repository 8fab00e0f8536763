// Security table of the relay's client surface (docs/security.md): each test one attack, on
// real sockets, and the refusal it must meet. Rows of issue 13 (SSRF by address, connection
// caps counted from accept, handshake deadline, bounded metric labels).
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { eventually } from '../testwait.ts';
import { closedWithin, rawConnect } from '../transport/testsockets.ts';
import type { RelayOptions } from './options.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { count, startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
const sockets: Socket[] = [];
const clients: TestClient[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  for (const r of relays) await r.relay.stop();
});

async function relay(o: Partial<RelayOptions>): Promise<TestRelay> {
  const r = await startTestRelay(o);
  relays.push(r);
  return r;
}

async function raw(port: number, localAddress: string): Promise<Socket> {
  const s = await rawConnect(port, { localAddress });
  sockets.push(s);
  return s;
}

describe('relay security table (docs/security.md)', { timeout: 60_000 }, () => {
  it('SSRF: a next hop whose static address is loopback spelled as IPv4-mapped hex (::ffff:7f00:1) gets 403, nothing is dialled', async () => {
    const accepted: Socket[] = [];
    const peer = createServer((s) => accepted.push(s));
    servers.push(peer);
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', () => resolve()));
    const r = await relay({
      nextHops: {
        allow: [{ host: '*.test' }], allowPrivate: false, connectTimeoutMs: 2000,
        staticHosts: { 'inside.test': { address: '::ffff:7f00:1', port: (peer.address() as AddressInfo).port } },
      },
    });
    const alice = await TestClient.connect({ port: r.port, ca: r.ca });
    clients.push(alice);
    const sa = usePathOf(await alice.auth(r.relay.uri, 'alice', 'alice-pw'));
    const sent = alice.sendMessage([sa, 'msrp://inside.test/s;tcp', 'msrp://b.invalid:9/b;tcp'], 'to the pod network');
    assert.equal((await alice.response(sent.transactionId)).status, 403);
    assert.equal(await count(r.relay.metrics.drops, { reason: 'next-hop-not-allowed' }), 1);
    assert.equal(accepted.length, 0, 'nothing was dialled');
  });

  it('slot exhaustion: TLS connections that never send a ClientHello count against connectionsPerSource; the next one is closed at accept', async () => {
    const r = await relay({ maxConnectionsPerAddress: 3 });
    const held = [await raw(r.port, '127.0.0.5'), await raw(r.port, '127.0.0.5'), await raw(r.port, '127.0.0.5')];
    const extra = await raw(r.port, '127.0.0.5');
    const ms = await closedWithin(extra, 2000);
    assert.ok(ms < 2000);
    assert.ok(held.every((s) => !s.destroyed), 'the first three are still open');
    assert.equal(await count(r.relay.metrics.limitRejections, { limit: 'connections-per-address' }), 1);
    // Another source is not affected.
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    clients.push(c);
    assert.equal((await c.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
  });

  it('many sources: connections past limits.connections are closed at accept whatever their source', async () => {
    const r = await relay({ maxConnections: 4, maxConnectionsPerAddress: 0 });
    const held = await Promise.all(['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'].map((a) => raw(r.port, a)));
    const extra = await raw(r.port, '127.0.0.15');
    await closedWithin(extra, 2000);
    assert.ok(held.every((s) => !s.destroyed));
    assert.equal(await count(r.relay.metrics.limitRejections, { limit: 'connections' }), 1);
  });

  it('slow handshake: a TLS connection that sends nothing is closed after tls.handshakeTimeoutSec, not Node\'s 120 s', async () => {
    const r = await relay({ tlsHandshakeTimeoutSec: 1 });
    const s = await raw(r.port, '127.0.0.21');
    const ms = await closedWithin(s, 5000);
    assert.ok(ms >= 900, `closed after ${ms} ms`);
    assert.equal(await count(r.relay.metrics.limitRejections, { limit: 'handshake-timeout' }), 1);
  });

  it('label flooding: requests with made-up method names are forwarded and counted as method="other", no series per name', async () => {
    const r = await relay({});
    const alice = await TestClient.connect({ port: r.port, ca: r.ca });
    const bob = await TestClient.connect({ port: r.port, ca: r.ca });
    clients.push(alice, bob);
    const sa = usePathOf(await alice.auth(r.relay.uri, 'alice', 'alice-pw'));
    const sb = usePathOf(await bob.auth(r.relay.uri, 'bob', 'bob-pw'));
    const names = ['FOOA', 'FOOB', 'FOOC', 'XYZZY'];
    for (const m of names) {
      alice.send(m, [sa, sb, bob.uri]);
      await bob.request(m);
    }
    alice.sendMessage([sa, sb, bob.uri], 'known');
    await bob.request('SEND');
    const labels = async () => (await r.relay.metrics.framesForwarded.get()).values.map((v) => v.labels.method).sort();
    await eventually(async () => (await labels()).length >= 2, 'the forwarded counts flushed');
    assert.deepEqual(await labels(), ['SEND', 'other']);
    assert.equal(await count(r.relay.metrics.framesForwarded, { method: 'other' }), names.length);
  });
});
