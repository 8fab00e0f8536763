// The client library against the real relay (internal/relay), over TLS on loopback.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPki } from '../transport/testcerts.ts';
import { eventually, startTestRelay, type TestRelay } from '../relay/testrelay.ts';
import { connectEndpoint, type ConnectEndpointOptions, type MsrpEndpoint } from './endpoint.ts';
import { fileHeaders } from './file-meta.ts';

const relays: TestRelay[] = [];
const endpoints: MsrpEndpoint[] = [];
after(async () => {
  for (const e of endpoints) await e.close();
  for (const r of relays) await r.relay.stop();
});

async function relay(overrides: Parameters<typeof startTestRelay>[0] = {}, certs?: Parameters<typeof startTestRelay>[1]): Promise<TestRelay> {
  const r = await startTestRelay(overrides, certs);
  relays.push(r);
  return r;
}

async function client(r: TestRelay, o: ConnectEndpointOptions = {}): Promise<MsrpEndpoint> {
  const c = await connectEndpoint(r.relay.uri, { ca: r.ca, ...o });
  assert.ok(c.ok, c.ok ? '' : c.message);
  endpoints.push(c.endpoint);
  return c.endpoint;
}

async function authed(r: TestRelay, user: 'alice' | 'bob', o: ConnectEndpointOptions = {}): Promise<MsrpEndpoint> {
  const ep = await client(r, o);
  const a = await ep.auth({ username: user, password: `${user}-pw` });
  assert.ok(a.ok, a.ok ? '' : a.message);
  return ep;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('AUTH to a relay (RFC 4976 §5)', () => {
  it('gets a Use-Path and Expires, and offers [Use-Path, own URI] as its path', async () => {
    const r = await relay();
    const ep = await client(r);
    const a = await ep.auth({ username: 'alice', password: 'alice-pw' });
    assert.ok(a.ok, a.ok ? '' : a.message);
    assert.equal(a.usePath.length, 1);
    assert.match(a.usePath[0]!, /^msrps:\/\/127\.0\.0\.1:\d+\/[^;]+;tcp$/);
    assert.equal(a.expires, 600);
    assert.equal(a.realm, 'example.test');
    assert.deepEqual(ep.path, [a.usePath[0], ep.localUri]);
  });

  it('reports a wrong password as 403', async () => {
    const r = await relay();
    const a = await (await client(r)).auth({ username: 'alice', password: 'wrong' });
    assert.equal(a.ok, false);
    assert.equal(!a.ok && a.status, 403);
    assert.equal(!a.ok && a.code, 'forbidden');
  });

  it('reports an out-of-bounds Expires as 423 with the bound', async () => {
    const r = await relay();
    const a = await (await client(r)).auth({ username: 'alice', password: 'alice-pw', expires: 5 });
    assert.equal(a.ok, false);
    assert.equal(!a.ok && a.status, 423);
    assert.equal(!a.ok && a.minExpires, 60);
  });

  it('refuses to answer a challenge for another realm', async () => {
    const r = await relay();
    const a = await (await client(r)).auth({ username: 'alice', password: 'alice-pw', realm: 'other.test' });
    assert.equal(!a.ok && a.code, 'no-usable-challenge');
  });

  it('refreshes the session with a new AUTH before it expires', async () => {
    const r = await relay({ expires: { min: 1, max: 3600, default: 600 } });
    const ep = await client(r);
    const a = await ep.auth({ username: 'alice', password: 'alice-pw', expires: 2 });
    assert.ok(a.ok);
    const first = ep.authExpiresAt!;
    await eventually(() => ep.authExpiresAt! > first, 'the expiry to move forward (a refreshing AUTH)');
    assert.deepEqual(ep.usePath, a.usePath, 'same relay session');
  });
});

describe('messages through relays (RFC 4976 §6)', () => {
  it('delivers a text and a multi-chunk file through one relay, confirmed by success REPORTs', async () => {
    const r = await relay();
    const dir = await mkdtemp(join(tmpdir(), 'msrp-relay-in-'));
    const bob = await authed(r, 'bob', { saveFilesTo: dir });
    const alice = await authed(r, 'alice');
    const toPath = [...alice.usePath, ...bob.path];

    const t = await alice.send({ toPath, message: 'hello bob', successReport: true });
    assert.ok(t.ok, t.ok ? '' : t.message);
    assert.equal(t.delivered, true);
    const m = await bob.nextMessage(2000);
    assert.equal(m?.body?.toString(), 'hello bob');
    assert.equal(m?.fromPath.at(-1), alice.localUri);

    const body = randomBytes(2 * 1024 * 1024 + 3);
    const f = await alice.send({ toPath, message: body, headers: fileHeaders({ name: 'blob.bin', size: body.length, sha256: sha256(body) }), chunkSize: 200 * 1024, successReport: true });
    assert.ok(f.ok, f.ok ? '' : f.message);
    assert.equal(f.delivered, true);
    const fm = await bob.nextMessage(5000);
    assert.equal(fm?.file?.digest, 'verified');
    assert.ok((await readFile(fm.file.path)).equals(body));
  });

  it('delivers across two relays: To-Path = sender Use-Path + receiver path', async () => {
    const pki = await testPki();
    const r1 = await relay();
    const r2 = await relay({}, pki.peer);
    const bob = await authed(r2, 'bob');
    const alice = await authed(r1, 'alice');
    const body = randomBytes(700_000);
    const s = await alice.send({ toPath: [...alice.usePath, ...bob.path], message: body, chunkSize: 64 * 1024, successReport: true });
    assert.ok(s.ok, s.ok ? '' : s.message);
    assert.equal(s.delivered, true);
    assert.ok((await bob.nextMessage(5000))?.body?.equals(body));
  });

  it('fails the send with the status of the failure REPORT when the receiver is gone', async () => {
    const r = await relay();
    const bob = await authed(r, 'bob');
    const alice = await authed(r, 'alice');
    const path = bob.path;
    await bob.close();
    // Gone means gone at the relay: wait until it has closed bob's connection (alice's is left).
    await eventually(() => r.relay.connections.size === 1, 'the relay to see bob\'s connection close');
    const s = await alice.send({ toPath: [...alice.usePath, ...path], message: 'anyone?', successReport: true, reportTimeoutMs: 3000 });
    assert.equal(s.ok, false);
    assert.ok(!s.ok && s.status >= 400, !s.ok ? `${s.code} ${s.status} ${s.message}` : '');
  });
});
