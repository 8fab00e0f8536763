// Replicas of one relay acting as one (docs/relay.md "Scale-out"): any replica accepts any
// client, a frame for a session another replica owns crosses the mesh, and neither clients
// nor foreign relays can tell. Real TLS sockets on loopback; replica k's mesh listens on
// 127.0.1.k like pod k behind the headless Service.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { getHeader } from '../msrp/frame.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { count, eventually, startTestMesh, startTestRelay, type TestMeshReplica, type TestRelay } from './testrelay.ts';

describe('three replicas of one relay over the mesh', () => {
  let pki: TestPki;
  let replicas: TestMeshReplica[];
  let relayUri: string;
  let meshPort: number;
  const clients: TestClient[] = [];
  const others: TestRelay[] = [];

  before(async () => {
    pki = await testPki();
    ({ replicas, uri: relayUri, meshPort } = await startTestMesh(3));
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const r of [...replicas, ...others]) await r.relay.stop();
  });

  const client = async (r: TestRelay): Promise<TestClient> => {
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    clients.push(c);
    return c;
  };
  const session = async (c: TestClient, user: string): Promise<string> => usePathOf(await c.auth(relayUri, user, `${user}-pw`));

  it('mints session ids that name the replica the client reached, under one public URI', async () => {
    for (const r of replicas) {
      const c = await client(r);
      const s = await session(c, 'alice');
      assert.match(s, new RegExp(`^msrps://relay\\.msrp\\.test:2855/r${r.ordinal}-[A-Za-z0-9]+;tcp$`));
    }
  });

  it('carries a SEND from a client on replica 0 to one on replica 1, and the REPORT back, paths as on one relay', async () => {
    const a = await client(replicas[0]!);
    const b = await client(replicas[1]!);
    const sa = await session(a, 'alice');
    const sb = await session(b, 'bob');

    const sent = a.sendMessage([sa, sb, b.uri], 'across the mesh', [{ name: 'Success-Report', value: 'yes' }]);
    assert.equal((await a.response(sent.transactionId)).status, 200);
    const got = await b.request('SEND');
    // RFC 4976 §6.4: both of our URIs were passed, as when both clients are on one replica; no mesh hop shows.
    assert.deepEqual(got.toPath, [b.uri]);
    assert.deepEqual(got.fromPath, [sb, sa, a.uri]);
    assert.equal(Buffer.concat(got.body).toString(), 'across the mesh');
    b.write(buildResponse(got, 200));

    b.send('REPORT', [...got.fromPath], [
      { name: 'Message-ID', value: getHeader(got, 'Message-ID')! },
      { name: 'Byte-Range', value: '1-15/15' },
      { name: 'Status', value: '000 200 OK' },
    ]);
    const report = await a.request('REPORT');
    assert.deepEqual(report.toPath, [a.uri]);
    assert.deepEqual(report.fromPath, [sa, sb, b.uri]);

    // One persistent link each way, reused by the next message.
    assert.equal(replicas[0]!.relay.mesh!.links(), 1);
    assert.equal(replicas[1]!.relay.mesh!.links(), 1);
    const again = a.sendMessage([sa, sb, b.uri], 'again');
    assert.equal((await a.response(again.transactionId)).status, 200);
    assert.equal(Buffer.concat((await b.request('SEND')).body).toString(), 'again');
    assert.equal(replicas[0]!.relay.mesh!.links(), 1);
  });

  it('streams a large chunk across the mesh without holding it (byte for byte)', async () => {
    const a = await client(replicas[2]!);
    const b = await client(replicas[0]!);
    const sa = await session(a, 'alice');
    const sb = await session(b, 'bob');
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const sent = a.sendMessage([sa, sb, b.uri], body);
    assert.equal((await a.response(sent.transactionId, 15000)).status, 200);
    const got = await b.request('SEND', 15000);
    assert.equal(Buffer.compare(Buffer.concat(got.body), body), 0);
  });

  it('lets a partner relay that reached replica 0 deliver to a client on replica 1 (mutual TLS checked at the door)', async () => {
    const b = await client(replicas[1]!);
    const sb = await session(b, 'bob');
    // The partner resolves our public name to replica 0, as a load balancer might send it there.
    const partner = await startTestRelay({
      nextHops: {
        allow: [{ host: 'relay.msrp.test' }], allowPrivate: true, connectTimeoutMs: 2000,
        staticHosts: { 'relay.msrp.test': { address: '127.0.0.1', port: replicas[0]!.port } },
      },
    }, pki.peer);
    others.push(partner);
    const c = await client(partner);
    const sc = usePathOf(await c.auth(partner.relay.uri, 'alice', 'alice-pw'));
    const sent = c.sendMessage([sc, sb, b.uri], 'from a partner');
    assert.equal((await c.response(sent.transactionId)).status, 200);
    const got = await b.request('SEND');
    assert.deepEqual(got.toPath, [b.uri]);
    assert.deepEqual(got.fromPath, [sb, sc, c.uri]);
    b.write(buildResponse(got, 200));

    // A non-200 from the receiver comes back to the partner's client as a failure REPORT
    // (RFC 4975 §7.1.2), through replica 1, the mesh and replica 0's way back to the partner.
    const failing = c.sendMessage([sc, sb, b.uri], 'refused by bob', [{ name: 'Failure-Report', value: 'yes' }]);
    assert.equal((await c.response(failing.transactionId)).status, 200);
    const refused = await b.request('SEND');
    b.write(buildResponse(refused, 415));
    const report = await c.request('REPORT');
    assert.match(getHeader(report, 'Status')!, /^000 415 /);
    assert.deepEqual(report.toPath, [c.uri]);
  });

  it('refuses a partner without a client certificate at the replica it reached (403), before any mesh hop', async () => {
    const b = await client(replicas[1]!);
    const sb = await session(b, 'bob');
    const stranger = await TestClient.connect({ port: replicas[2]!.port, ca: replicas[2]!.ca, uri: 'msrps://127.0.0.1:9/x;tcp' });
    clients.push(stranger);
    const sent = stranger.sendMessage([sb, b.uri], 'no certificate');
    const res = await stranger.response(sent.transactionId);
    assert.equal(res.status, 403);
    assert.match(res.comment ?? '', /client certificate/);
  });

  it('answers 481 when the owning replica is down, with a metric, and keeps the other replicas serving', async () => {
    const { replicas: trio, uri } = await startTestMesh(3);
    try {
      const a = await TestClient.connect({ port: trio[0]!.port, ca: trio[0]!.ca });
      const b = await TestClient.connect({ port: trio[1]!.port, ca: trio[1]!.ca });
      const z = await TestClient.connect({ port: trio[2]!.port, ca: trio[2]!.ca });
      clients.push(a, b, z);
      const sa = usePathOf(await a.auth(uri, 'alice', 'alice-pw'));
      const sb = usePathOf(await b.auth(uri, 'bob', 'bob-pw'));
      const sz = usePathOf(await z.auth(uri, 'bob', 'bob-pw'));
      // A link to replica 2 exists, then replica 2 dies (its client connections and links with it).
      const first = a.sendMessage([sa, sz, z.uri], 'before');
      assert.equal((await a.response(first.transactionId)).status, 200);
      await z.request('SEND');
      await trio[2]!.relay.stop();
      await eventually(() => trio[0]!.relay.mesh!.links() === 0, 'the link to replica 2 to close');

      const lost = a.sendMessage([sa, sz, z.uri], 'after');
      const res = await a.response(lost.transactionId);
      assert.equal(res.status, 481);
      assert.ok(await count(trio[0]!.relay.metrics.meshLinkFailures, { reason: 'unreachable' }) >= 1);
      assert.ok(await count(trio[0]!.relay.metrics.drops, { reason: 'mesh-unreachable' }) >= 1);

      // Replicas 0 and 1 still talk.
      const ok = a.sendMessage([sa, sb, b.uri], 'still here');
      assert.equal((await a.response(ok.transactionId)).status, 200);
      assert.equal(Buffer.concat((await b.request('SEND')).body).toString(), 'still here');
    } finally {
      for (const r of trio) await r.relay.stop();
    }
  });

  it('fails a transaction in flight with a 408 REPORT when the mesh link breaks before the answer', async () => {
    // A fake replica 1: the fault (a replica that takes a frame, never answers, and drops the
    // link) cannot be caused with a real one, which answers every frame it forwards at once.
    const { replicas: solo, uri, meshPort: port } = await startTestMesh(1);
    const took = Promise.withResolvers<void>();
    const fake = createTlsServer({ cert: pki.mesh.cert, key: pki.mesh.key, ca: readFileSync(join(pki.mesh.dir, 'ca.crt'), 'utf8'), requestCert: true, rejectUnauthorized: true }, (s) => {
      s.once('data', () => {
        took.resolve();
        s.destroy();
      });
    });
    await new Promise<void>((resolve) => fake.listen(port, '127.0.1.1', resolve));
    try {
      const a = await TestClient.connect({ port: solo[0]!.port, ca: solo[0]!.ca });
      clients.push(a);
      const sa = usePathOf(await a.auth(uri, 'alice', 'alice-pw'));
      const sent = a.sendMessage([sa, 'msrps://relay.msrp.test:2855/r1-gone;tcp', 'msrps://b.invalid:9/b;tcp'], 'cut off', [{ name: 'Failure-Report', value: 'yes' }]);
      assert.equal((await a.response(sent.transactionId)).status, 200);
      await took.promise;
      const report = await a.request('REPORT');
      assert.match(getHeader(report, 'Status')!, /^000 408 /);
      assert.equal(getHeader(report, 'Message-ID'), getHeader(sent, 'Message-ID'));
    } finally {
      fake.close();
      await solo[0]!.relay.stop();
    }
  });

  it('accepts on the mesh port only a certificate from the mesh CA that names a replica', async () => {
    const r1 = replicas[1]!;
    const meshCa = readFileSync(join(pki.mesh.dir, 'ca.crt'), 'utf8');
    /** Resolves when the replica closes the connection (a refused link); the accepted case is the next test. */
    const refused = (cert: { cert: string; key: string } | undefined) => new Promise<void>((resolve, reject) => {
      const s: TLSSocket = tlsConnect({ host: '127.0.1.1', port: meshPort, ca: meshCa, ...(cert !== undefined ? { cert: cert.cert, key: cert.key } : {}) });
      s.once('error', () => undefined);
      s.once('close', () => resolve());
      s.setTimeout(5000, () => reject(new Error('the mesh port kept the connection')));
    });
    const before = await count(r1.relay.metrics.meshLinkFailures, { reason: 'refused-certificate' });
    await refused(undefined);
    await refused(pki.meshWrongCa);
    await refused(pki.meshWrongName);
    // Relay clients' certificates are no way in either: the mesh trusts its own CA only.
    await refused(pki.peer);
    await eventually(async () => (await count(r1.relay.metrics.meshLinkFailures, { reason: 'refused-certificate' })) === before + 4, 'four refusals counted');
  });

  it('delivers what a replica sends over the mesh, and refuses a mesh frame for a session the replica does not own', async () => {
    const b = await client(replicas[1]!);
    const sb = await session(b, 'bob');
    const a = await client(replicas[0]!);
    const sa = await session(a, 'alice');
    // Speak as replica 2 on replica 1's mesh port.
    const peer = await TestClient.connect({ host: '127.0.1.1', port: meshPort, ca: readFileSync(join(pki.mesh.dir, 'ca.crt'), 'utf8'), cert: { cert: pki.mesh.cert, key: pki.mesh.key }, servername: '127.0.1.1', uri: 'msrps://relay.msrp.test:2855/r2-peer;tcp' });
    clients.push(peer);
    const ok = peer.send('SEND', [sb, b.uri], [{ name: 'Message-ID', value: 'm1' }, { name: 'Byte-Range', value: '1-4/4' }, { name: 'Content-Type', value: 'text/plain' }], 'mesh', ['msrps://relay.msrp.test:2855/r2-peer;tcp', 'msrps://far.invalid:9/x;tcp']);
    assert.equal((await peer.response(ok.transactionId)).status, 200);
    const got = await b.request('SEND');
    assert.deepEqual(got.fromPath, [sb, 'msrps://relay.msrp.test:2855/r2-peer;tcp', 'msrps://far.invalid:9/x;tcp']);
    const astray = peer.send('SEND', [sa, a.uri], [{ name: 'Message-ID', value: 'm2' }, { name: 'Byte-Range', value: '1-4/4' }, { name: 'Content-Type', value: 'text/plain' }], 'lost');
    assert.equal((await peer.response(astray.transactionId)).status, 481);
  });
});
