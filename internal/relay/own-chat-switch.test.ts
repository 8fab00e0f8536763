// The relay's way to its own chat switch (nextHops.ownChatSwitch): participants' paths name the
// switch under the public host, which may resolve to a load balancer or nothing inside a pod;
// the relay goes to the switch on loopback. The engine's certificate need not chain to anything
// the relay trusts (a `kubectl create secret tls` Secret has no ca.crt): it is pinned instead.
// The switch here is an MSRP endpoint on a TLS socket (TestClient.accepted), as in
// relay-peer-tls.test.ts: what is tested is the relay's connection to it.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { buildResponse } from '../msrp/transaction.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

describe('the relay reaches its own chat switch', () => {
  let pki: TestPki;
  let dir: string;
  let relay: TestRelay;
  const servers: TlsServer[] = [];
  const clients: TestClient[] = [];

  /** A "switch" serving `cert` on loopback; resolves its first accepted connection as an endpoint. */
  async function switchWith(cert: { cert: string; key: string }): Promise<{ port: number; endpoint: Promise<TestClient> }> {
    const server = createTlsServer({ cert: cert.cert, key: cert.key });
    servers.push(server);
    const endpoint = new Promise<TestClient>((resolve) => server.once('secureConnection', (s: Socket) => resolve(TestClient.accepted(s, 'x'))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { port: (server.address() as AddressInfo).port, endpoint };
  }

  before(async () => {
    pki = await testPki();
    // The engine's certificate with a ca.crt that does not sign it (as good as none for the chain).
    dir = await mkdtemp(join(tmpdir(), 'msrp-own-switch-'));
    await copyFile(join(pki.server.dir, 'tls.crt'), join(dir, 'tls.crt'));
    await copyFile(join(pki.server.dir, 'tls.key'), join(dir, 'tls.key'));
    await writeFile(join(dir, 'ca.crt'), await readFile(join(pki.mesh.dir, 'ca.crt'), 'utf8'));
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) s.close();
    await relay?.relay.stop();
  });

  it('delivers to the switch under the public name on loopback, whatever the allow-list and the chain, and refuses another certificate there', async () => {
    const own = await switchWith(pki.server);
    relay = await startTestRelay({
      tlsDir: dir,
      // Nothing allowed, no private addresses: only the own-switch rule lets this through.
      nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 2000, ownChatSwitch: { host: 'chat.unresolvable.invalid', port: own.port, address: '127.0.0.1' } },
    });
    const a = await TestClient.connect({ port: relay.port, ca: pki.caPem });
    clients.push(a);
    const sa = usePathOf(await a.auth(relay.relay.uri, 'alice', 'alice-pw'));
    const room = `msrps://chat.unresolvable.invalid:${own.port}/r0-room;tcp`;
    const sent = a.sendMessage([sa, room], 'hello room');
    assert.equal((await a.response(sent.transactionId)).status, 200);
    const sw = await own.endpoint;
    clients.push(sw);
    const got = await sw.request('SEND');
    assert.equal(Buffer.concat(got.body).toString(), 'hello room');
    sw.write(buildResponse(got, 200));

    // Another port of that name is no switch of ours: refused like any next hop not allowed.
    const other = a.sendMessage([sa, `msrps://chat.unresolvable.invalid:${own.port + 1}/x;tcp`], 'elsewhere');
    assert.equal((await a.response(other.transactionId)).status, 403);
  });

  it('refuses a switch port that presents a certificate other than the engine\'s (481, as an unreachable next hop)', async () => {
    const impostor = await switchWith(pki.peer);
    const r = await startTestRelay({
      tlsDir: dir,
      nextHops: { allow: [], allowPrivate: false, connectTimeoutMs: 2000, ownChatSwitch: { host: 'chat.unresolvable.invalid', port: impostor.port, address: '127.0.0.1' } },
    });
    try {
      const a = await TestClient.connect({ port: r.port, ca: pki.caPem });
      clients.push(a);
      const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
      const sent = a.sendMessage([sa, `msrps://chat.unresolvable.invalid:${impostor.port}/r0-room;tcp`], 'not for you');
      assert.equal((await a.response(sent.transactionId)).status, 481);
    } finally {
      await r.relay.stop();
    }
  });
});
