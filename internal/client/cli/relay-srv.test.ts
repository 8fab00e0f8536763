// `msrp --relay <domain>`: the client finds its relay by DNS as RFC 4976 §8 says, against a
// real DNS server on UDP loopback (relay/testdns.ts, which records every question) and real
// relays over TLS: SRV `_msrps._tcp.<domain>` with the next target tried when one refuses,
// A/AAAA on port 2855 without SRV, no SRV lookup for an explicit port, a clear error for a
// name that does not exist, and the certificate checked against the domain, not the target.
// `msrp send` and `msrp chat` run as their own processes (cmd/msrp.ts), the whole CLI code path.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startChatServer } from '../../chat/server.ts';
import { startTestDns, type TestDnsServer } from '../../relay/testdns.ts';
import { startTestRelay, type TestRelay } from '../../relay/testrelay.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { testPki } from '../../transport/testcerts.ts';
import { connectTo } from '../connect.ts';
import { connectEndpoint, type MsrpEndpoint } from '../endpoint.ts';
import { runMsrp } from './testrun.ts';

/** The name the relay's certificate carries (testcerts.ts `named`) and its public host. */
const DOMAIN = 'relay.msrp.test';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function dnsServer(): Promise<TestDnsServer> {
  const d = await startTestDns();
  cleanups.push(() => d.close());
  return d;
}

/** A port nothing listens on (bound, then released): a relay that is down. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('msrp --relay DOMAIN: the relay found by DNS (RFC 4976 §8)', { timeout: 120_000 }, () => {
  let relay: TestRelay;
  let caFile: string;
  let dir: string;
  before(async () => {
    const pki = await testPki();
    // Public URI msrps://relay.msrp.test:2855 (as behind a load balancer); it listens on a free
    // loopback port that only DNS tells.
    relay = await startTestRelay({ publicHost: DOMAIN, publicPort: 2855 }, pki.named);
    cleanups.push(() => relay.relay.stop());
    dir = await mkdtemp(join(tmpdir(), 'msrp-relay-srv-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, relay.ca);
  });

  /** Bob, authenticated to the relay at an explicit address: the receiver of each test. */
  async function bob(d: TestDnsServer, uri = `msrps://${DOMAIN}:${relay.port};tcp`): Promise<MsrpEndpoint> {
    const c = await connectEndpoint(uri, { ca: relay.ca, dnsServers: [d.address] });
    assert.ok(c.ok, c.ok ? '' : c.message);
    cleanups.push(() => c.endpoint.close());
    const a = await c.endpoint.auth({ username: 'bob', password: 'bob-pw' });
    assert.ok(a.ok, a.ok ? '' : a.message);
    return c.endpoint;
  }

  const send = (d: TestDnsServer, relayArg: string, to: MsrpEndpoint, text: string) => runMsrp([
    'send', '--relay', relayArg, '--dns-server', d.address, '--ca', caFile,
    '--user', 'alice', '--password', 'alice-pw', '--to', to.path.join(' '), '--text', text,
  ]);

  it('msrp send --relay DOMAIN follows SRV _msrps._tcp, skips the target that refuses, and delivers through the next one', async () => {
    const d = await dnsServer();
    // Two targets: the preferred one (priority 10) is down, the other (20) is the relay. Neither
    // target name is in the relay's certificate: only the domain is, and that is what is checked.
    d.zone.set(`_msrps._tcp.${DOMAIN}`, { srv: [
      { priority: 20, weight: 0, port: relay.port, target: `up.${DOMAIN}` },
      { priority: 10, weight: 0, port: await deadPort(), target: `down.${DOMAIN}` },
    ] });
    d.zone.set(`down.${DOMAIN}`, { a: ['127.0.0.1'] });
    d.zone.set(`up.${DOMAIN}`, { a: ['127.0.0.1'] });
    d.zone.set(DOMAIN, { a: ['127.0.0.1'] });
    const b = await bob(d);
    const asked = d.queries.length;

    const r = await send(d, DOMAIN, b, 'found by SRV');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^delivered text: 12 bytes/m);
    // The AUTH went to the URI the user named, port-less (RFC 4976 §8), through the second target.
    assert.ok(r.stderr.includes(`authenticated to msrps://${DOMAIN};tcp at up.${DOMAIN}:${relay.port} (127.0.0.1) as alice`), r.stderr);
    const m = await b.nextMessage(5000);
    assert.equal(m?.body?.toString(), 'found by SRV');
    const queries = d.queries.slice(asked);
    assert.equal(queries[0], `SRV _msrps._tcp.${DOMAIN}`);
    // Lower priority first: the down target was resolved (and dialled) before the up one.
    assert.ok(queries.indexOf(`A down.${DOMAIN}`) > 0 && queries.indexOf(`A down.${DOMAIN}`) < queries.indexOf(`A up.${DOMAIN}`), queries.join(', '));
    assert.equal(queries.includes(`A ${DOMAIN}`), false, 'no A lookup of the domain when SRV answered');
  });

  it('accepts msrps://DOMAIN without a port too; the AUTH goes to that URI, which a relay on another port takes as its own', async () => {
    // A relay whose URI is its pod name on its own port (no 2855 anywhere); the domain is an alias.
    const pod = await startTestRelay({ publicHost: 'pod-0.msrp.test', aliases: [DOMAIN] }, (await testPki()).named);
    cleanups.push(() => pod.relay.stop());
    const d = await dnsServer();
    d.zone.set(`_msrps._tcp.${DOMAIN}`, { srv: [{ priority: 0, weight: 0, port: pod.port, target: 'pod-0.msrp.test' }] });
    d.zone.set('pod-0.msrp.test', { a: ['127.0.0.1'] });
    const c = await connectEndpoint(`msrps://${DOMAIN};tcp`, { ca: pod.ca, dnsServers: [d.address] });
    assert.ok(c.ok, c.ok ? '' : c.message);
    cleanups.push(() => c.endpoint.close());
    assert.equal(c.via, `pod-0.msrp.test:${pod.port} (127.0.0.1)`);
    assert.equal(c.endpoint.remoteUri, `msrps://${DOMAIN};tcp`);
    // RFC 4976 §8: only an AUTH To-Path may lack a port; the relay knows the host as its alias.
    const a = await c.endpoint.auth({ username: 'alice', password: 'alice-pw' });
    assert.ok(a.ok, a.ok ? '' : a.message);
    assert.match(a.usePath[0]!, new RegExp(`^msrps://pod-0\\.msrp\\.test:${pod.port}/`));
  });

  it('refuses a relay whose certificate does not name the domain, even when it names the SRV target', async () => {
    const d = await dnsServer();
    // other.msrp.test delegates to relay.msrp.test, which the certificate names; the domain
    // the user gave is not in it, so the relay cannot prove it serves that domain.
    d.zone.set('_msrps._tcp.other.msrp.test', { srv: [{ priority: 0, weight: 0, port: relay.port, target: DOMAIN }] });
    d.zone.set(DOMAIN, { a: ['127.0.0.1'] });
    const r = await runMsrp(['send', '--relay', 'other.msrp.test', '--dns-server', d.address, '--ca', caFile,
      '--user', 'alice', '--password', 'alice-pw', '--to', `msrps://127.0.0.1:9/x;tcp`, '--text', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect to msrps:\/\/other\.msrp\.test;tcp: relay\.msrp\.test:\d+ \(127\.0\.0\.1\): .*other\.msrp\.test/);
  });

  it('without an SRV record, dials the domain\'s A record on port 2855', async (t) => {
    // A relay of its own on 127.0.9.55:2855 (any loopback address is ours; 2855 needs no root).
    let second: TestRelay;
    try {
      second = await startTestRelay({ publicHost: DOMAIN, listeners: [{ hosts: ['127.0.9.55'], port: 2855, tls: true }] }, (await testPki()).named);
    } catch (err) {
      if (process.env['CI'] === 'true') throw err;
      t.skip(`cannot listen on 127.0.9.55:2855 here (${(err as Error).message}); under CI=true this fails instead`);
      return;
    }
    cleanups.push(() => second.relay.stop());
    const d = await dnsServer();
    d.zone.set(DOMAIN, { a: ['127.0.9.55'] });
    const b = await bob(d, `msrps://${DOMAIN}:2855;tcp`);
    const asked = d.queries.length;
    const r = await send(d, DOMAIN, b, 'found by A');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`authenticated to msrps://${DOMAIN};tcp at ${DOMAIN}:2855 (127.0.9.55) as alice`), r.stderr);
    assert.equal((await b.nextMessage(5000))?.body?.toString(), 'found by A');
    assert.deepEqual(d.queries.slice(asked), [`SRV _msrps._tcp.${DOMAIN}`, `A ${DOMAIN}`, `AAAA ${DOMAIN}`]);
  });

  it('with an explicit port, asks for no SRV record', async () => {
    const d = await dnsServer();
    // An SRV record that would lead to a dead port: it must not be consulted.
    d.zone.set(`_msrps._tcp.${DOMAIN}`, { srv: [{ priority: 0, weight: 0, port: await deadPort(), target: `down.${DOMAIN}` }] });
    d.zone.set(`down.${DOMAIN}`, { a: ['127.0.0.1'] });
    d.zone.set(DOMAIN, { a: ['127.0.0.1'] });
    const b = await bob(d);
    const asked = d.queries.length;
    const r = await send(d, `msrps://${DOMAIN}:${relay.port}`, b, 'explicit port');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await b.nextMessage(5000))?.body?.toString(), 'explicit port');
    const queries = d.queries.slice(asked);
    assert.deepEqual(queries.filter((q) => q.startsWith('SRV ')), [], queries.join(', '));
    assert.ok(queries.includes(`A ${DOMAIN}`));
  });

  it('says clearly that a domain without SRV and A/AAAA records cannot be resolved', async () => {
    const d = await dnsServer();
    const r = await runMsrp(['send', '--relay', 'nowhere.msrp.test', '--dns-server', d.address, '--ca', caFile,
      '--user', 'alice', '--password', 'alice-pw', '--to', 'msrps://127.0.0.1:9/x;tcp', '--text', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^msrp: cannot connect to msrps:\/\/nowhere\.msrp\.test;tcp: cannot resolve nowhere\.msrp\.test: no SRV record _msrps\._tcp\.nowhere\.msrp\.test, no A\/AAAA record \(.*ENOTFOUND.*\)$/m);
    assert.deepEqual(d.queries.slice(0, 1), ['SRV _msrps._tcp.nowhere.msrp.test']);
  });

  it('does not fall back to A/AAAA when SRV records exist: "." means no service, unresolvable targets are an error', async () => {
    const d = await dnsServer();
    // Both domains have A records that lead to the relay: they must not be used.
    d.zone.set('_msrps._tcp.closed.msrp.test', { srv: [{ priority: 0, weight: 0, port: 0, target: '.' }] });
    d.zone.set('_msrps._tcp.dangling.msrp.test', { srv: [{ priority: 0, weight: 0, port: relay.port, target: 'gone.msrp.test' }] });
    d.zone.set('closed.msrp.test', { a: ['127.0.0.1'] });
    d.zone.set('dangling.msrp.test', { a: ['127.0.0.1'] });
    const closed = await connectTo('msrps://closed.msrp.test;tcp', { ca: relay.ca, dnsServers: [d.address] });
    assert.equal(!closed.ok && closed.code, 'unresolvable');
    assert.match(!closed.ok ? closed.message : '', /closed\.msrp\.test says it offers no msrps service/);
    const dangling = await connectTo('msrps://dangling.msrp.test;tcp', { ca: relay.ca, dnsServers: [d.address] });
    assert.equal(!dangling.ok && dangling.code, 'unresolvable');
    assert.match(!dangling.ok ? dangling.message : '', /cannot resolve the SRV targets of _msrps\._tcp\.dangling\.msrp\.test: gone\.msrp\.test: /);
    assert.equal(d.queries.some((q) => q === 'A closed.msrp.test' || q === 'A dangling.msrp.test'), false, d.queries.join(', '));
  });

  it('documents --relay DOMAIN and --dns-server in the --help of listen, send and chat', async () => {
    for (const cmd of ['listen', 'send', 'chat']) {
      const h = await runMsrp([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, /SRV _msrps\._tcp\.<domain>/, cmd);
      assert.match(h.stdout, /--dns-server ADDR\[:PORT\]/, cmd);
    }
  });

  it('rejects a --dns-server that is not an address as a usage error', async () => {
    const r = await runMsrp(['send', '--relay', DOMAIN, '--dns-server', 'dns.example', '--user', 'alice', '--password', 'x', '--to', 'msrps://127.0.0.1:9/x;tcp', '--text', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--dns-server wants an IP address/);
  });
});

describe('msrp chat --relay DOMAIN', { timeout: 60_000 }, () => {
  it('joins a room through the relay found by SRV, its AUTH addressed to the domain', async () => {
    const chat = await startChatServer({
      enabled: true, domain: 'chat.test', publicHost: '127.0.0.1',
      sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 },
      msrp: { host: '127.0.0.1', port: 0, transport: 'tcp', relayInFront: false },
      autoCreate: false,
      factoryLimits: { maxRooms: 1000, perCreator: 10, windowSec: 60 },
      page: { enabled: true },
      media: { privateAddresses: 'allow', foreignAddresses: 'allow', trustedHosts: [] },
      subscriptions: { minExpires: 60, maxExpires: 3600 },
      connections: { max: 100, perSource: 100, tlsHandshakeTimeoutSec: 10, sipIdleSec: 900, msrpIdleSec: 60 },
      rooms: [{ name: 'lobby', policy: { history: { enabled: false } } }],
    }, { logger: createLogger({ name: 'relay-srv-chat', level: 'silent', env: {} }) });
    cleanups.push(() => chat.close());
    const pod = await startTestRelay({
      publicHost: 'pod-0.msrp.test', aliases: [DOMAIN],
      nextHops: { allow: [{ host: '127.0.0.1', port: chat.msrp.port }], allowPrivate: true, connectTimeoutMs: 2000 },
    }, (await testPki()).named);
    cleanups.push(() => pod.relay.stop());
    const d = await dnsServer();
    d.zone.set(`_msrps._tcp.${DOMAIN}`, { srv: [{ priority: 0, weight: 0, port: pod.port, target: 'pod-0.msrp.test' }] });
    d.zone.set('pod-0.msrp.test', { a: ['127.0.0.1'] });
    const dir = await mkdtemp(join(tmpdir(), 'msrp-relay-srv-chat-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, pod.ca);
    const script = join(dir, 'dave.txt');
    await writeFile(script, ['/nick Dave', 'expect:^\\* you are Dave$'].join('\n') + '\n');
    pod.credentials.add('example.test', 'dave', 'dave-pw');
    const r = await runMsrp(['chat', 'sip:lobby@chat.test', '--focus', `127.0.0.1:${chat.focus.udpPort!}`,
      '--relay', DOMAIN, '--dns-server', d.address, '--ca', caFile, '--user', 'dave', '--password', 'dave-pw',
      '--script', script, '--expect-timeout', '8000']);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /^\* you are Dave$/m);
    assert.ok(d.queries.includes(`SRV _msrps._tcp.${DOMAIN}`), d.queries.join(', '));
  });
});
