// Next-hop resolution (RFC 4976 §8) against a real DNS server on UDP loopback (testdns.ts),
// through nextHops.dnsServers: SRV `_msrp(s)._tcp.<host>` by priority and weight, A/AAAA
// with port 2855 or the URI's port when there is no SRV record, no SRV lookup when the URI
// has a port, private addresses refused unless allowed, and the 481 a sender gets when a
// name does not resolve. Connections are real TCP/TLS sockets.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseMsrpUri, type MsrpUri } from '../msrp/uri.ts';
import { Connection, type FrameHandler } from '../transport/connection.ts';
import { testPki } from '../transport/testcerts.ts';
import { NextHops, type NextHopError } from './next-hops.ts';
import { defaultRelayOptions, type RelayOptions } from './options.ts';
import { startTestDns, type TestDnsServer } from './testdns.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';
import { eventually } from '../testwait.ts';

const silent = pino({ level: 'silent' });
const ignore: FrameHandler = { onFrame() {}, onHead() {}, onBody() {}, onEnd() {}, onParseError() {}, onClose() {} };

/** A TCP server on `host` that counts the connections it accepts. */
async function peer(host = '127.0.0.1', port = 0): Promise<{ server: Server; port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, accepted };
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const p = await peer();
  await new Promise<void>((r) => p.server.close(() => r()));
  return p.port;
}

function uri(s: string): MsrpUri {
  const u = parseMsrpUri(s);
  assert.ok(u.ok, s);
  return u.uri;
}

let dns: TestDnsServer;
const servers: Server[] = [];
const opened: Connection[] = [];
before(async () => {
  dns = await startTestDns();
});
after(async () => {
  for (const c of opened) c.destroy();
  for (const s of servers) s.close();
  await dns.close();
});

/** NextHops over our DNS server, adopting sockets into real Connections. */
function nextHops(nh: Partial<RelayOptions['nextHops']> = {}): NextHops {
  const options = defaultRelayOptions({
    publicHost: 'relay.test', nonceSecret: randomBytes(32),
    nextHops: { allow: [{ host: '*' }], allowPrivate: true, connectTimeoutMs: 1000, dnsServers: [dns.address], ...nh },
  });
  return new NextHops({
    options, log: silent, tls: () => undefined,
    adopt(socket, key) {
      const c = new Connection({
        id: key, socket, direction: 'outbound', logger: silent, handler: ignore,
        limits: { maxHeaderBytes: 16384, streamThreshold: 65536 }, maxBufferedBytes: 1 << 20,
      });
      opened.push(c);
      return c;
    },
  });
}

describe('next-hop resolution through nextHops.dnsServers (RFC 4976 §8)', () => {
  it('connects to the SRV target with the lowest priority, then the highest weight, on its port', async () => {
    const [p1, p2, p3] = await Promise.all([peer(), peer(), peer()]);
    servers.push(p1.server, p2.server, p3.server);
    dns.zone.set('_msrp._tcp.srv1.test', { srv: [
      { priority: 20, weight: 100, port: p3.port, target: 'c.srv1.test' },
      { priority: 10, weight: 1, port: p2.port, target: 'b.srv1.test' },
      { priority: 10, weight: 50, port: p1.port, target: 'a.srv1.test' },
    ] });
    for (const h of ['a', 'b', 'c']) dns.zone.set(`${h}.srv1.test`, { a: ['127.0.0.1'] });
    const conn = await nextHops().get(uri('msrp://srv1.test/s;tcp'));
    assert.equal(conn.remotePort, p1.port, 'priority 10, weight 50');
    assert.ok(dns.queries.includes('SRV _msrp._tcp.srv1.test'));
  });

  it('falls back to the next SRV target when the preferred one refuses the connection', async () => {
    const p2 = await peer();
    servers.push(p2.server);
    dns.zone.set('_msrp._tcp.srv2.test', { srv: [
      { priority: 10, weight: 0, port: await deadPort(), target: 'a.srv2.test' },
      { priority: 20, weight: 0, port: p2.port, target: 'b.srv2.test' },
    ] });
    dns.zone.set('a.srv2.test', { a: ['127.0.0.1'] });
    dns.zone.set('b.srv2.test', { a: ['127.0.0.1'] });
    const conn = await nextHops().get(uri('msrp://srv2.test/s;tcp'));
    assert.equal(conn.remotePort, p2.port, 'the second target, after the first refused');
  });

  it('without an SRV record, dials the A record on port 2855', async () => {
    // 127.0.0.2 is loopback too, and its port 2855 is ours to bind in a test.
    let p: Awaited<ReturnType<typeof peer>> | undefined;
    try {
      p = await peer('127.0.0.2', 2855);
      servers.push(p.server);
    } catch {
      // Someone else holds it (a wildcard bind): the dialled port is still visible on the connection.
    }
    dns.zone.set('plain.test', { a: ['127.0.0.2'] });
    const before = dns.queries.length;
    const conn = await nextHops().get(uri('msrp://plain.test/s;tcp'));
    assert.equal(conn.remoteAddress, '127.0.0.2');
    assert.equal(conn.remotePort, 2855);
    if (p !== undefined) {
      await new Promise((r) => setImmediate(r));
      assert.equal(p.accepted.length, 1);
    }
    assert.deepEqual(dns.queries.slice(before), ['SRV _msrp._tcp.plain.test', 'A plain.test', 'AAAA plain.test']);
  });

  it('with a port in the URI, asks no SRV record and dials that port on the A record', async () => {
    const [p1, p2] = await Promise.all([peer(), peer()]);
    servers.push(p1.server, p2.server);
    // An SRV record that would lead elsewhere: it must not be consulted.
    dns.zone.set('_msrp._tcp.ported.test', { srv: [{ priority: 0, weight: 0, port: p2.port, target: 'ported.test' }] });
    dns.zone.set('ported.test', { a: ['127.0.0.1'] });
    const before = dns.queries.length;
    const conn = await nextHops().get(uri(`msrp://ported.test:${p1.port}/s;tcp`));
    assert.equal(conn.remotePort, p1.port);
    assert.equal(p2.accepted.length, 0);
    assert.equal(dns.queries.slice(before).some((q) => q.startsWith('SRV')), false);
  });

  it('dials an AAAA-only name over IPv6', async (t) => {
    let p: Awaited<ReturnType<typeof peer>>;
    try {
      p = await peer('::1');
    } catch (err) {
      if (process.env['CI'] === 'true') throw err;
      t.skip('no IPv6 loopback here (under CI=true this fails instead)');
      return;
    }
    servers.push(p.server);
    dns.zone.set('six.test', { aaaa: ['::1'] });
    const conn = await nextHops().get(uri(`msrp://six.test:${p.port}/s;tcp`));
    assert.equal(conn.remoteAddress, '::1');
  });

  it('refuses a name that resolves to a private address unless nextHops.allowPrivate', async () => {
    const p = await peer();
    servers.push(p.server);
    dns.zone.set('_msrp._tcp.inside.test', { srv: [{ priority: 0, weight: 0, port: p.port, target: 'pod.inside.test' }] });
    dns.zone.set('pod.inside.test', { a: ['127.0.0.1'] });
    await assert.rejects(nextHops({ allowPrivate: false }).get(uri('msrp://inside.test/s;tcp')),
      (err: NextHopError) => err.code === 'not-allowed' && /private address 127\.0\.0\.1/.test(err.message));
    assert.equal(p.accepted.length, 0, 'nothing was dialled');
    const conn = await nextHops({ allowPrivate: true }).get(uri('msrp://inside.test/s;tcp'));
    assert.equal(conn.remotePort, p.port);
  });

  it('judges resolved addresses by number: NAT64, expanded and IPv4-mapped loopback are private too', async () => {
    const p = await peer();
    servers.push(p.server);
    // AAAA records an attacker's zone can serve: 127.0.0.1 behind the NAT64 prefix, and ::1 written out.
    dns.zone.set('nat64.test', { aaaa: ['64:ff9b::7f00:1'] });
    dns.zone.set('expanded.test', { aaaa: ['0:0:0:0:0:0:0:1'] });
    for (const host of ['nat64.test', 'expanded.test']) {
      await assert.rejects(nextHops({ allowPrivate: false }).get(uri(`msrp://${host}:${p.port}/s;tcp`)),
        (err: NextHopError) => err.code === 'not-allowed' && /private address .* \((loopback)\)/.test(err.message), host);
    }
    // A static host (nextHops.staticHosts) in the IPv4-mapped hex spelling of 127.0.0.1.
    const statics = { 'mapped.test': { address: '::ffff:7f00:1', port: p.port } };
    await assert.rejects(nextHops({ allowPrivate: false, staticHosts: statics }).get(uri('msrp://mapped.test/s;tcp')),
      (err: NextHopError) => err.code === 'not-allowed' && err.message.includes('::ffff:7f00:1 (loopback)'));
    assert.equal(p.accepted.length, 0, 'nothing was dialled');
    // Allowed, the same static host is dialled (and reaches the IPv4 loopback listener).
    const conn = await nextHops({ allowPrivate: true, staticHosts: statics }).get(uri('msrp://mapped.test/s;tcp'));
    assert.equal(conn.remotePort, p.port);
    await eventually(() => p.accepted.length === 1, 'the peer accepted the connection');
  });

  it('takes a "." SRV target as no service there, without trying the name\'s A record (RFC 2782)', async () => {
    dns.zone.set('_msrp._tcp.dot.test', { srv: [{ priority: 0, weight: 0, port: 0, target: '.' }] });
    dns.zone.set('dot.test', { a: ['127.0.0.1'] });
    await assert.rejects(nextHops().get(uri('msrp://dot.test/s;tcp')),
      (err: NextHopError) => err.code === 'unresolvable' && /dot\.test says it offers no msrp service/.test(err.message));
    assert.equal(dns.queries.includes('A dot.test'), false, dns.queries.join(', '));
  });

  it('says a name with no records (NXDOMAIN) is unresolvable', async () => {
    await assert.rejects(nextHops().get(uri('msrp://nowhere.test/s;tcp')), (err: NextHopError) => err.code === 'unresolvable' && err.message.includes('nowhere.test'));
  });
});

describe('relays found through DNS', () => {
  const relays: TestRelay[] = [];
  const clients: TestClient[] = [];
  after(async () => {
    for (const c of clients) c.close();
    for (const r of relays) await r.relay.stop();
  });

  async function drops(r: TestRelay, reason: string): Promise<number> {
    return (await r.relay.metrics.drops.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  }

  it('delivers to a relay whose session URI has no port, through its SRV record, verifying its certificate for the URI host', async () => {
    const pki = await testPki();
    // Relay B advertises msrps://relay.msrp.test (port 2855, as behind a load balancer) but
    // listens on a free port, which only the SRV record tells.
    const b = await startTestRelay({ publicHost: 'relay.msrp.test', publicPort: 2855 }, pki.named);
    const a = await startTestRelay({
      nextHops: { allow: [{ host: '*.msrp.test' }], allowPrivate: true, connectTimeoutMs: 2000, dnsServers: [dns.address] },
    });
    relays.push(a, b);
    dns.zone.set('_msrps._tcp.relay.msrp.test', { srv: [{ priority: 0, weight: 0, port: b.port, target: 'b-0.msrp.test' }] });
    dns.zone.set('b-0.msrp.test', { a: ['127.0.0.1'] });
    const alice = await TestClient.connect({ port: a.port, ca: a.ca });
    const bob = await TestClient.connect({ port: b.port, ca: b.ca });
    clients.push(alice, bob);
    const sa = usePathOf(await alice.auth(a.relay.uri, 'alice', 'alice-pw'));
    const sbWithPort = usePathOf(await bob.auth(b.relay.uri, 'bob', 'bob-pw'));
    assert.match(sbWithPort, /^msrps:\/\/relay\.msrp\.test:2855\//);
    const sb = sbWithPort.replace(':2855/', '/');

    const sent = alice.sendMessage([sa, sb, bob.uri], 'found by SRV');
    assert.equal((await alice.response(sent.transactionId)).status, 200);
    const got = await bob.request('SEND');
    assert.equal(Buffer.concat(got.body).toString(), 'found by SRV');
    assert.deepEqual(got.fromPath, [sb, sa, alice.uri]);
    assert.ok(dns.queries.includes('SRV _msrps._tcp.relay.msrp.test'));
  });

  it('answers 481 when the next hop does not resolve, and 403 when it resolves to a private address', async () => {
    const r = await startTestRelay({
      nextHops: { allow: [{ host: '*.test' }], allowPrivate: false, connectTimeoutMs: 2000, dnsServers: [dns.address] },
    });
    relays.push(r);
    dns.zone.set('private.test', { a: ['10.1.2.3'] });
    const alice = await TestClient.connect({ port: r.port, ca: r.ca });
    clients.push(alice);
    const sa = usePathOf(await alice.auth(r.relay.uri, 'alice', 'alice-pw'));
    const lost = alice.sendMessage([sa, 'msrps://gone.test/s;tcp', 'msrps://b.invalid:9/b;tcp'], 'x');
    assert.equal((await alice.response(lost.transactionId)).status, 481);
    assert.equal(await drops(r, 'next-hop-unreachable'), 1);
    const inside = alice.sendMessage([sa, 'msrps://private.test/s;tcp', 'msrps://b.invalid:9/b;tcp'], 'x');
    assert.equal((await alice.response(inside.transactionId)).status, 403);
    assert.equal(await drops(r, 'next-hop-not-allowed'), 1);
  });
});
