import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getHeader } from '../msrp/frame.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { eventually, startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

async function setup(overrides = {}): Promise<TestRelay> {
  const r = await startTestRelay(overrides);
  relays.push(r);
  return r;
}

describe('AUTH (RFC 4976 §5.1, §6.3)', () => {
  it('challenges an AUTH without credentials with 401 and Digest for SHA-256 and MD5', async () => {
    const { relay, port, ca } = await setup();
    const c = await TestClient.connect({ port, ca });
    const req = c.send('AUTH', [relay.uri]);
    const res = await c.response(req.transactionId);
    assert.equal(res.status, 401);
    const challenges = res.headers.filter((h) => h.name === 'WWW-Authenticate').map((h) => h.value);
    assert.equal(challenges.length, 2);
    assert.match(challenges[0]!, /^Digest realm="example.test", qop="auth", algorithm=SHA-256, nonce="/);
    assert.match(challenges[1]!, /algorithm=MD5/);
    assert.deepEqual(res.toPath, [c.uri]);
    assert.deepEqual(res.fromPath, [relay.uri]);
    c.close();
  });

  it('answers a right Digest with 200, Use-Path msrps://host:port/<session>;tcp, Expires and Authentication-Info', async () => {
    const { relay, port, ca } = await setup();
    for (const algorithm of ['SHA-256', 'MD5'] as const) {
      const c = await TestClient.connect({ port, ca });
      const res = await c.auth(relay.uri, 'alice', 'alice-pw', { algorithm });
      assert.equal(res.status, 200);
      const usePath = usePathOf(res);
      const m = /^msrps:\/\/127\.0\.0\.1:(\d+)\/([A-Za-z0-9]+);tcp$/.exec(usePath);
      assert.ok(m, usePath);
      assert.equal(Number(m[1]), port);
      assert.ok(m[2]!.length * Math.log2(62) >= 80, 'session id carries at least 80 bits');
      assert.equal(getHeader(res, 'Expires'), '600');
      assert.match(getHeader(res, 'Authentication-Info')!, /rspauth="[0-9a-f]+"/);
      assert.equal(relay.sessions.size >= 1, true);
      c.close();
    }
  });

  it('answers an Expires outside the bounds with 423 and Min-Expires / Max-Expires', async () => {
    const { relay, port, ca } = await setup();
    const c = await TestClient.connect({ port, ca });
    const low = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 5 });
    assert.equal(low.status, 423);
    assert.equal(getHeader(low, 'Min-Expires'), '60');
    const high = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 99999 });
    assert.equal(high.status, 423);
    assert.equal(getHeader(high, 'Max-Expires'), '3600');
    const ok = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 120 });
    assert.equal(ok.status, 200);
    assert.equal(getHeader(ok, 'Expires'), '120');
    c.close();
  });

  it('refreshes the session on a new AUTH on the same connection (same URI, Digest again)', async () => {
    const { relay, port, ca } = await setup();
    const c = await TestClient.connect({ port, ca });
    const first = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 100 });
    const second = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 200 });
    assert.equal(second.status, 200);
    assert.equal(usePathOf(second), usePathOf(first));
    assert.equal(relay.sessions.size, 1);
    c.close();
  });

  it('removes the session at expiry', async () => {
    const { relay, port, ca } = await setup({ expires: { min: 1, max: 10, default: 1 } });
    const c = await TestClient.connect({ port, ca });
    const res = await c.auth(relay.uri, 'alice', 'alice-pw', { expires: 1 });
    assert.equal(res.status, 200);
    assert.equal(relay.sessions.size, 1);
    await eventually(() => relay.sessions.size === 0, 'the session removed after its 1 s expiry');
    c.close();
  });

  it('answers a wrong password with 403 and closes the connection after the third failure', async () => {
    const { relay, port, ca } = await setup();
    const c = await TestClient.connect({ port, ca });
    for (let i = 1; i <= 3; i++) {
      const res = await c.auth(relay.uri, 'alice', 'alice-pw', { wrongPassword: true });
      assert.equal(res.status, 403, `attempt ${i}`);
    }
    await c.closed;
    assert.equal(relay.sessions.size, 0);
  });

  it('refuses AUTH over plain TCP unless allowPlainTcp', async () => {
    const { relay } = await setup({ listeners: [{ hosts: ['127.0.0.1'], port: 0, tls: true }, { hosts: ['127.0.0.1'], port: 0, tls: false }] });
    const plain = relay.addresses.find((a) => !a.secure)!;
    const c = await TestClient.connect({ port: plain.port });
    const res = await c.auth(relay.uri, 'alice', 'alice-pw');
    assert.equal(res.status, 403);
    c.close();
  });

  it('closes an unauthenticated idle connection', async () => {
    const { port, ca } = await setup({ unauthenticatedIdleSec: 0.3 });
    const c = await TestClient.connect({ port, ca });
    const t = Date.now();
    await c.closed;
    assert.ok(Date.now() - t < 3000);
  });

  it('chooses the realm from the To-Path host mapping', async () => {
    const { relay, port, ca } = await setup({ realms: { default: 'example.test', byHost: [{ host: 'localhost', realm: 'other.test' }] } });
    const c = await TestClient.connect({ port, ca });
    const req = c.send('AUTH', [`msrps://localhost:${port};tcp`]);
    const res = await c.response(req.transactionId);
    assert.equal(res.status, 401, JSON.stringify(res));
    assert.match(getHeader(res, 'WWW-Authenticate')!, /realm="other.test"/);
    void relay;
    c.close();
  });
});
