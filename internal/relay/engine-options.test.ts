import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadEngineConfig } from '../config/engine.ts';
import { liveSessionOptionsFromConfig, relayOptionsFromConfig, replicaPrefix } from './engine-options.ts';
import { TestClient } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

describe('engine configuration reaches the relay', () => {
  it('maps ws and wss listeners and the WebSocket rules (RFC 7977)', () => {
    const c = loadEngineConfig({ env: {
      MSRP_RELAY__LISTEN: '[{"port":2855,"transport":"tls"},{"port":8443,"transport":"wss"},{"host":"127.0.0.1","port":8080,"transport":"ws"}]',
      MSRP_RELAY__WEBSOCKET__ORIGINS: 'https://Chat.Example.com',
      MSRP_RELAY__WEBSOCKET__MAX_MESSAGE_BYTES: '262144',
    } });
    const o = relayOptionsFromConfig(c, { hostname: 'msrp-relay-0', nonceSecret: randomBytes(32) });
    assert.deepEqual(o.listeners, [
      { hosts: ['0.0.0.0'], port: 2855, tls: true },
      { hosts: ['0.0.0.0'], port: 8443, tls: true, websocket: true },
      { hosts: ['127.0.0.1'], port: 8080, tls: false, websocket: true },
    ]);
    assert.deepEqual(o.websocket, { origins: ['https://chat.example.com'], maxMessageBytes: 262144 });
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__WEBSOCKET__ORIGINS: 'chat.example.com' } }), /origins/);
  });

  it('makes a worker a replica of its own: ids naming it, links to the others, no probe server, the control endpoint on worker 0 only', () => {
    const worker = (index: number) => ({ index, count: 3, socketDir: '/run/w', secret: 'ab'.repeat(32) });
    const plain = loadEngineConfig({ env: { MSRP_RELAY__WORKERS: '3', MSRP_DATABASE__URL: 'postgres://db/msrp' } });
    const w0 = relayOptionsFromConfig(plain, { hostname: 'laptop', nonceSecret: randomBytes(32), worker: worker(0) });
    const w2 = relayOptionsFromConfig(plain, { hostname: 'laptop', nonceSecret: randomBytes(32), worker: worker(2) });
    assert.equal(w0.sessionIdPrefix, '', 'worker 0 mints the ids of one process');
    assert.equal(w2.sessionIdPrefix, 'w2-');
    assert.deepEqual(w2.workers, { ...worker(2), connectTimeoutMs: plain.mesh.connectTimeoutMs });
    assert.equal(w0.http, undefined, 'the primary serves the probes and /metrics');
    assert.deepEqual(w0.control, { host: '127.0.0.1', port: plain.http.controlPort });
    assert.equal(w2.control, undefined);
    const meshed = loadEngineConfig({ env: {
      MSRP_RELAY__WORKERS: '3', MSRP_DATABASE__URL: 'postgres://db/msrp', MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'r-{ordinal}.mesh',
    } });
    assert.equal(relayOptionsFromConfig(meshed, { hostname: 'msrp-relay-4', nonceSecret: randomBytes(32), worker: worker(1) }).sessionIdPrefix, 'r4-w1-');
    const single = relayOptionsFromConfig(meshed, { hostname: 'msrp-relay-4', nonceSecret: randomBytes(32) });
    assert.equal(single.sessionIdPrefix, 'r4-', 'one process: as before');
    assert.equal(single.workers, undefined);
    assert.deepEqual(single.http, { host: plain.http.host, port: plain.http.port });
  });

  it('maps every relay setting from the engine config', () => {
    const c = loadEngineConfig({ env: {
      MSRP_RELAY__PUBLIC_HOST: 'relay.example.com',
      MSRP_RELAY__ALIASES: 'Msrp.Default.Svc',
      MSRP_RELAY__BLOCKED_METHODS: 'NICKNAME',
      MSRP_NEXT_HOPS__ALLOW: '[{"host":"Peer.Example.net","port":2855}]',
      MSRP_NEXT_HOPS__ALLOW_PRIVATE: 'yes',
      MSRP_NEXT_HOPS__CONNECT_TIMEOUT_MS: '1500',
      MSRP_NEXT_HOPS__DNS_SERVERS: '127.0.0.53,[::1]:5353',
      MSRP_TLS__MUTUAL: 'false',
      MSRP_TLS__PEER_CERTIFICATES: 'verify-if-presented',
      MSRP_LIMITS__PARSE_ERROR_BUDGET__COUNT: '3',
      MSRP_LIMITS__PARSE_ERROR_BUDGET__WINDOW_SEC: '5',
      MSRP_TLS__POLL_INTERVAL_MS: '2500',
      MSRP_AUTH__ALGORITHMS: 'SHA-256',
      MSRP_LIMITS__MAX_NON_SEND_BODY_BYTES: '2048',
      MSRP_LIMITS__STREAM_THRESHOLD_BYTES: '32768',
      MSRP_SESSION__MAX_EXPIRES: '7200',
    } });
    const o = relayOptionsFromConfig(c, { hostname: 'msrp-relay-3', nonceSecret: randomBytes(32) });
    assert.equal(o.publicHost, 'relay.example.com');
    assert.deepEqual(o.aliases, ['msrp.default.svc']);
    assert.deepEqual(o.blockedMethods, ['NICKNAME']);
    assert.deepEqual(o.nextHops, {
      allow: [{ host: 'peer.example.net', port: 2855 }], allowPrivate: true, connectTimeoutMs: 1500, dnsServers: ['127.0.0.53', '[::1]:5353'],
    });
    assert.equal(o.mutualTls, false);
    assert.equal(o.peerCertificates, 'verify-if-presented');
    assert.deepEqual(o.parseErrorBudget, { count: 3, windowSec: 5 });
    assert.equal(o.tlsPollIntervalMs, 2500);
    assert.deepEqual(o.algorithms, ['SHA-256']);
    assert.equal(o.maxNonSendBody, 2048);
    assert.equal(o.streamThreshold, 32768);
    assert.equal(o.expires.max, 7200);
    assert.equal(o.sessionIdPrefix, 'r3-');
    assert.equal(replicaPrefix('laptop'), '');
  });

  it('maps the mesh: ordinal from the pod name, session ids that name it, and refuses a mesh it could not address', () => {
    const c = loadEngineConfig({ env: {
      MSRP_MESH__ENABLED: 'true',
      MSRP_MESH__PEER_HOST: 'msrp-relay-{ordinal}.msrp-relay-mesh.ns.svc.cluster.local',
      MSRP_MESH__TLS_DIR: '/etc/msrp/mesh-tls',
    } });
    const o = relayOptionsFromConfig(c, { hostname: 'msrp-relay-2', nonceSecret: randomBytes(32) });
    assert.equal(o.sessionIdPrefix, 'r2-');
    assert.deepEqual(o.mesh, {
      ordinal: 2, peerHost: 'msrp-relay-{ordinal}.msrp-relay-mesh.ns.svc.cluster.local', port: 2858,
      listenHosts: ['0.0.0.0'], tlsDir: '/etc/msrp/mesh-tls', connectTimeoutMs: 2000,
    });
    const explicit = relayOptionsFromConfig(loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: '10.0.0.{ordinal}', MSRP_MESH__ORDINAL: '7' } }), { hostname: 'vm', nonceSecret: randomBytes(32) });
    assert.equal(explicit.sessionIdPrefix, 'r7-');
    assert.throws(() => relayOptionsFromConfig(loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'x-{ordinal}' } }), { hostname: 'laptop', nonceSecret: randomBytes(32) }), /mesh.ordinal/);
    assert.throws(() => loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'fixed.example' } }), (err: Error & { issues?: { path: string }[] }) => {
      assert.deepEqual(err.issues?.map((i) => i.path), ['mesh.peerHost']);
      return true;
    });
    assert.throws(() => loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'x-{ordinal}', MSRP_MESH__PORT: '2855' } }), (err: Error & { issues?: { path: string }[] }) => {
      assert.deepEqual(err.issues?.map((i) => i.path), ['mesh.port']);
      return true;
    });
    // Without the mesh nothing changes.
    assert.equal(relayOptionsFromConfig(loadEngineConfig({ env: {} }), { hostname: 'laptop', nonceSecret: randomBytes(32) }).mesh, undefined);
  });

  it('maps the relay-wide registry\'s timings, and refuses a staleness bound under two heartbeats', () => {
    assert.deepEqual(liveSessionOptionsFromConfig(loadEngineConfig({ env: {} })), { heartbeatMs: 10_000, staleAfterSec: 30, admitTimeoutMs: 500, spreadRefreshMs: 5000 });
    assert.deepEqual(liveSessionOptionsFromConfig(loadEngineConfig({ env: {
      MSRP_LIVE_SESSIONS__HEARTBEAT_SEC: '5', MSRP_LIVE_SESSIONS__STALE_AFTER_SEC: '12', MSRP_LIVE_SESSIONS__ADMIT_TIMEOUT_MS: '250', MSRP_LIVE_SESSIONS__THROTTLE_REFRESH_SEC: '2',
    } })), { heartbeatMs: 5000, staleAfterSec: 12, admitTimeoutMs: 250, spreadRefreshMs: 2000 });
    assert.throws(() => loadEngineConfig({ env: { MSRP_LIVE_SESSIONS__HEARTBEAT_SEC: '20' } }), (err: Error & { issues?: { path: string }[] }) => {
      assert.deepEqual(err.issues?.map((i) => i.path), ['liveSessions.staleAfterSec']);
      return true;
    });
  });

  it('lets the relay reach its own chat switch under the room URIs\' public name, on loopback, and nothing else of that name', () => {
    const c = loadEngineConfig({ env: { MSRP_CHAT__ENABLED: 'true', MSRP_CHAT__PUBLIC_HOST: 'Chat.Example.com', MSRP_CHAT__MSRP__PORT: '2857' } });
    const o = relayOptionsFromConfig(c, { hostname: 'relay-0', nonceSecret: randomBytes(32) });
    assert.deepEqual(o.nextHops.ownChatSwitch, { host: 'chat.example.com', port: 2857, address: '127.0.0.1' });
    assert.deepEqual(o.nextHops.allow, [], 'no allow-list entry: the switch is not a way to anything else');
    assert.equal(relayOptionsFromConfig(loadEngineConfig({ env: {} }), { hostname: 'relay-0', nonceSecret: randomBytes(32) }).nextHops.ownChatSwitch, undefined);
  });

  it('defaults to the production peer policy and parse error budget, and refuses require without mutual TLS', () => {
    const o = relayOptionsFromConfig(loadEngineConfig({ env: {} }), { hostname: 'laptop', nonceSecret: randomBytes(32) });
    assert.equal(o.peerCertificates, 'require');
    assert.equal(o.mutualTls, true);
    assert.deepEqual(o.parseErrorBudget, { count: 10, windowSec: 60 });
    assert.deepEqual(o.nextHops.dnsServers, []);
    assert.throws(() => loadEngineConfig({ env: { MSRP_TLS__MUTUAL: 'false' } }), (err: Error & { issues?: { path: string }[] }) => {
      assert.deepEqual(err.issues?.map((i) => i.path), ['tls.peerCertificates']);
      return true;
    });
  });

  it('keeps limits.parseErrorBudget and nextHops.dnsServers within their bounds', () => {
    assert.throws(() => loadEngineConfig({ env: { MSRP_LIMITS__PARSE_ERROR_BUDGET__WINDOW_SEC: '0' } }));
    assert.throws(() => loadEngineConfig({ env: { MSRP_LIMITS__PARSE_ERROR_BUDGET__COUNT: '-1' } }));
    assert.throws(() => loadEngineConfig({ env: { MSRP_LIMITS__PARSE_ERROR_BUDGET__COUNT: '10001' } }));
    assert.throws(() => loadEngineConfig({ env: { MSRP_NEXT_HOPS__DNS_SERVERS: 'dns.example.com' } }), 'a DNS server is an address, not a name');
  });

  describe('limits.parseErrorBudget', () => {
    let t: TestRelay;
    after(async () => t?.relay.stop());

    it('closes a connection after the configured number of recovered parse errors', { timeout: 10_000 }, async () => {
      const c = loadEngineConfig({ env: { MSRP_LIMITS__PARSE_ERROR_BUDGET__COUNT: '1' } });
      t = await startTestRelay({ parseErrorBudget: relayOptionsFromConfig(c, { hostname: 'x', nonceSecret: randomBytes(32) }).parseErrorBudget });
      const client = await TestClient.connect({ port: t.port, ca: t.ca });
      const bad = (tid: string): string =>
        `MSRP ${tid} SEND\r\nTo-Path: ${t.relay.uri}\r\nFrom-Path: ${client.uri}\r\nByte-Range: a-b/c\r\n-------${tid}$\r\n`;
      client.socket.write(bad('tid00001'));
      // The first one is within the budget of 1: answered (RFC 4975 §7.2), the connection stays.
      assert.equal((await client.response('tid00001')).status, 400);
      client.socket.write(bad('tid00002'));
      await client.closed;
      assert.equal(client.frames.some((f) => f.transactionId === 'tid00002'), false, 'the one over the budget is not answered');
      const drops = (await t.relay.metrics.drops.get()).values.find((v) => v.labels.reason === 'parse-errors');
      assert.equal(drops?.value, 1);
    });
  });

  describe('auth.algorithms', () => {
    let t: TestRelay;
    after(async () => t?.relay.stop());

    it('challenges with the configured algorithms only and refuses others with 400', async () => {
      t = await startTestRelay({ algorithms: ['SHA-256'] });
      const c = await TestClient.connect({ port: t.port, ca: t.ca });
      const uri = t.relay.uri;
      const first = c.send('AUTH', [uri]);
      const challenge = await c.response(first.transactionId);
      assert.equal(challenge.status, 401);
      const www = challenge.headers.filter((h) => h.name === 'WWW-Authenticate').map((h) => h.value);
      assert.equal(www.length, 1);
      assert.match(www[0]!, /algorithm=SHA-256(,|$)/);
      // An MD5 answer to a SHA-256 challenge (forged from the same nonce) is not accepted.
      const md5 = { ...challenge, headers: [{ name: 'WWW-Authenticate', value: www[0]!.replace('algorithm=SHA-256', 'algorithm=MD5') }] };
      assert.equal((await c.answer(md5, uri, 'alice', 'alice-pw', { algorithm: 'MD5' })).status, 400);
      assert.equal((await c.auth(uri, 'alice', 'alice-pw')).status, 200);
      c.close();
    });
  });
});
