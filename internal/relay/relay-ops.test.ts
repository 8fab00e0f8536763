import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, describe, it } from 'node:test';
import { secretVolume, testPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { eventually, startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

function peerFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('operations: TLS rotation, drain, probes, control endpoint, limits', () => {
  it('swaps the certificate when the Secret volume changes, without dropping established connections', async () => {
    const pki = await testPki();
    const vol = await secretVolume(pki.server);
    const r = await startTestRelay({ tlsDir: vol.dir, tlsPollIntervalMs: 100 });
    relays.push(r);
    const before = await peerFingerprint(r.port, r.ca);
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    assert.equal((await c.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);

    await vol.swap(pki.serverRotated);
    await eventually(async () => (await peerFingerprint(r.port, r.ca)) !== before, 'new handshakes to get the rotated certificate');
    // The established connection is still usable (a refresh AUTH round-trips on it).
    assert.equal((await c.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
    assert.equal((c.socket as TLSSocket).getPeerCertificate().fingerprint256, before);
    c.close();
  });

  it('drains: not ready at once, new AUTHs refused, existing sessions served until they end, then stops', async () => {
    const r = await startTestRelay({ http: { host: '127.0.0.1', port: 0 }, drainTimeoutSec: 60 });
    relays.push(r);
    const base = `http://127.0.0.1:${r.relay.http!.port}`;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const a = await TestClient.connect({ port: r.port, ca: r.ca });
    const b = await TestClient.connect({ port: r.port, ca: r.ca });
    const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
    const sb = usePathOf(await b.auth(r.relay.uri, 'bob', 'bob-pw'));
    let drainedAt = 0;
    const drained = r.relay.drain().then(() => (drainedAt = Date.now()));
    assert.equal(r.relay.ready(), false);
    assert.equal((await fetch(`${base}/readyz`)).status, 503);

    // A newcomer is still connected (it might be a partner delivering to our clients), but its AUTH is refused and it is closed.
    const late = await TestClient.connect({ port: r.port, ca: r.ca });
    const refused = await late.auth(r.relay.uri, 'alice', 'alice-pw');
    assert.equal(refused.status, 403);
    assert.match(refused.comment ?? '', /draining/);
    await late.closed;

    // Existing sessions keep working, a refresh included, and a file still goes through.
    assert.equal((await a.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
    const body = randomBytes(512 * 1024);
    const sent = a.sendMessage([sa, sb, b.uri], body);
    assert.equal((await a.response(sent.transactionId, 10_000)).status, 200);
    const got = await b.request('SEND', 10_000);
    assert.equal(createHash('sha256').update(Buffer.concat(got.body)).digest('hex'), createHash('sha256').update(body).digest('hex'));
    assert.equal(drainedAt, 0, 'the drain waits while sessions remain');

    // The drain ends when the last session does, long before its timeout.
    a.close();
    await eventually(() => r.relay.sessions.size === 1, 'alice\'s session to end');
    const closedAt = Date.now();
    b.close();
    await drained;
    assert.ok(drainedAt - closedAt < 10_000, `drained ${drainedAt - closedAt} ms after the last session ended`);
  });

  it('drains: closes the sessions left when the drain timeout passes', async () => {
    const r = await startTestRelay({ drainTimeoutSec: 1 });
    relays.push(r);
    const a = await TestClient.connect({ port: r.port, ca: r.ca });
    usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
    const started = Date.now();
    await r.relay.drain();
    await a.closed;
    assert.ok(Date.now() - started >= 1000, 'the session was served until the timeout');
  });

  it('serves /healthz, /metrics and the control endpoint (GET /sessions, DELETE /sessions/:id)', async () => {
    const r = await startTestRelay({ http: { host: '127.0.0.1', port: 0 }, control: { host: '127.0.0.1', port: 0 } });
    relays.push(r);
    const a = await TestClient.connect({ port: r.port, ca: r.ca });
    const b = await TestClient.connect({ port: r.port, ca: r.ca });
    const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
    const sb = usePathOf(await b.auth(r.relay.uri, 'bob', 'bob-pw'));
    const sent = a.sendMessage([sa, sb, b.uri], 'metered');
    assert.equal((await a.response(sent.transactionId)).status, 200);
    await b.request('SEND');

    const probe = `http://127.0.0.1:${r.relay.http!.port}`;
    assert.equal((await fetch(`${probe}/healthz`)).status, 200);
    const text = await (await fetch(`${probe}/metrics`)).text();
    assert.match(text, /^msrp_relay_sessions 2$/m);
    assert.match(text, /^msrp_relay_auth_total\{result="ok"\} 2$/m);
    assert.match(text, /^msrp_relay_frames_forwarded_total\{method="SEND"\} 1$/m);
    assert.match(text, /^msrp_relay_bytes_forwarded_total\{method="SEND"\} 7$/m);
    assert.match(text, /^msrp_relay_forward_latency_seconds_count\{method="SEND"\} 1$/m);
    assert.match(text, /^msrp_relay_connections\{direction="inbound"\} 2$/m);

    const control = `http://127.0.0.1:${r.relay.control!.port}`;
    const list = (await (await fetch(`${control}/sessions`)).json()) as { sessions: { id: string; user: string }[] };
    assert.deepEqual(list.sessions.map((s) => s.user).sort(), ['alice', 'bob']);
    const bob = list.sessions.find((s) => s.user === 'bob')!;
    assert.equal((await fetch(`${control}/sessions/${bob.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${control}/sessions/${bob.id}`, { method: 'DELETE' })).status, 404);
    const again = a.sendMessage([sa, sb, b.uri], 'gone');
    assert.equal((await a.response(again.transactionId)).status, 481);
    a.close();
    b.close();
  });

  it('closes connections over the per-address limit and refuses sessions over the per-user cap with 403', async () => {
    const r = await startTestRelay({ maxConnectionsPerAddress: 2, maxSessionsPerUser: 1 });
    relays.push(r);
    const c1 = await TestClient.connect({ port: r.port, ca: r.ca });
    const c2 = await TestClient.connect({ port: r.port, ca: r.ca });
    assert.equal((await c1.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
    assert.equal((await c2.auth(r.relay.uri, 'alice', 'alice-pw')).status, 403);
    await assert.rejects(TestClient.connect({ port: r.port, ca: r.ca }).then(async (c) => {
      await c.closed;
      throw new Error('closed');
    }));
    const m = await r.relay.metrics.limitRejections.get();
    assert.deepEqual(m.values.map((v) => v.labels.limit).sort(), ['connections-per-address', 'sessions-per-user']);
    c1.close();
    c2.close();
  });
});
