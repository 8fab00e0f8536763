// The admin API's behaviour, run against PGlite (admin.pglite.test.ts) and a real
// PostgreSQL server (admin.postgres.test.ts) with the same test bodies. Not a test file
// itself: node:test awaits `it` itself, hence `void it(...)`.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ha1 } from '../auth/digest.ts';
import type { Store } from '../store/store.ts';
import type { AdminApp } from './app.ts';
import { badInputCases } from './testbadinput.ts';
import type { FakeEngine } from './testengine.ts';

export interface AdminSubject {
  app: AdminApp;
  store: Store;
  engine: FakeEngine;
  bootstrap: string;
}

let seq = 0;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
/** Names no other test uses: tests share one database. */
export const unique = (kind: string): string => `${kind}-${run}-${seq++}`;

type Json = Record<string, unknown>;
export interface Res { status: number; headers: Record<string, string | string[] | number | undefined>; json: Json; body: string }

export function client(s: () => AdminSubject) {
  return async (method: string, url: string, o: { body?: unknown; raw?: Buffer | string; token?: string | null; headers?: Record<string, string> } = {}): Promise<Res> => {
    const subject = s();
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? subject.bootstrap : o.token;
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (o.raw !== undefined || o.body !== undefined) headers['content-type'] ??= 'application/json';
    const r = await subject.app.inject({
      method: method as 'GET', url, headers,
      ...(o.raw !== undefined ? { payload: o.raw } : o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
    });
    let json: Json = {};
    try {
      json = r.body.length > 0 ? JSON.parse(r.body) as Json : {};
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: r.statusCode, headers: r.headers, json, body: r.body };
  };
}

export function assertProblem(r: Res, status: number, type: string): void {
  assert.equal(r.status, status, r.body);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  assert.equal(r.json['type'], `https://msrp.dev/problems/${type}`, r.body);
  assert.equal(r.json['status'], status);
}

const room = (uri: string, extra: Json = {}) => ({ uri, ...extra });

export function adminContract(subject: () => AdminSubject): void {
  const call = client(subject);

  void it('answers 401 problem+json without a token, with a wrong one and a malformed header, alike', async () => {
    const a = await call('GET', '/v1/realms', { token: null });
    assertProblem(a, 401, 'unauthenticated');
    assert.match(String(a.headers['www-authenticate']), /^Bearer realm="msrp-admin"/);
    const b = await call('GET', '/v1/realms', { token: 'msrp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const c = await call('GET', '/v1/realms', { token: 'not-ours' });
    const d = await call('GET', '/v1/realms', { headers: { authorization: 'Basic Zm9vOmJhcg==' }, token: null });
    for (const r of [b, c, d]) assertProblem(r, 401, 'unauthenticated');
    assert.equal(b.json['detail'], c.json['detail'], 'no hint whether a token exists');
    const metrics = await call('GET', '/metrics', { token: null });
    assert.match(metrics.body, /msrp_admin_auth_failures_total\{reason="unknown"\} [1-9]/);
    assert.match(metrics.body, /msrp_admin_auth_failures_total\{reason="missing"\} [1-9]/);
  });

  void it('issues tokens shown once, stores only their hash, lets read-only tokens GET only, and revokes them', async () => {
    const created = await call('POST', '/v1/tokens', { body: { name: 'ci reader', role: 'read-only' } });
    assert.equal(created.status, 201, created.body);
    const secret = created.json['token'] as string;
    assert.match(secret, /^msrp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const id = created.json['id'] as string;
    assert.equal(created.headers['cache-control'], 'no-store');
    const listed = await call('GET', '/v1/tokens?limit=500');
    assert.ok(!listed.body.includes(secret.slice(22)), 'the secret never appears again');
    assert.ok((listed.json['items'] as Json[]).some((t) => t['id'] === id && t['role'] === 'read-only'));
    assert.equal((await call('GET', `/v1/tokens/${id}`)).json['name'], 'ci reader');

    assert.equal((await call('GET', '/v1/rooms', { token: secret })).status, 200);
    assertProblem(await call('POST', '/v1/realms', { token: secret, body: { name: `${unique('ro')}.example.com` } }), 403, 'forbidden');
    assertProblem(await call('DELETE', `/v1/tokens/${id}`, { token: secret }), 403, 'forbidden');

    const admin = await call('POST', '/v1/tokens', { body: { name: 'deployer', role: 'admin', expiresInSec: 3600 } });
    const adminSecret = admin.json['token'] as string;
    const realm = `${unique('tok')}.example.com`;
    assert.equal((await call('POST', '/v1/realms', { token: adminSecret, body: { name: realm } })).status, 201);

    assert.equal((await call('DELETE', `/v1/tokens/${id}`)).status, 204);
    assertProblem(await call('GET', '/v1/rooms', { token: secret }), 401, 'unauthenticated');
    assert.notEqual((await call('GET', `/v1/tokens/${id}`)).json['revokedAt'], null);
    assertProblem(await call('DELETE', '/v1/tokens/00000000000000ff'), 404, 'not-found');
    const metrics = await call('GET', '/metrics', { token: null });
    assert.match(metrics.body, /msrp_admin_auth_failures_total\{reason="revoked"\} [1-9]/);
  });

  void it('creates, reads, updates, lists and deletes realms, with ETag and If-Match', async () => {
    const name = `${unique('realm')}.example.com`;
    const c = await call('POST', '/v1/realms', { body: { name, description: 'first' } });
    assert.equal(c.status, 201, c.body);
    assert.equal(c.headers['location'], `/v1/realms/${name}`);
    assert.deepEqual([c.json['name'], c.json['description'], c.json['userCount']], [name, 'first', 0]);
    assertProblem(await call('POST', '/v1/realms', { body: { name } }), 409, 'conflict');
    const g = await call('GET', `/v1/realms/${name}`);
    assert.equal(g.status, 200);
    const tag = String(g.headers['etag']);
    assert.match(tag, /^"\d+"$/);
    const p = await call('PATCH', `/v1/realms/${name}`, { body: { description: 'second' }, headers: { 'if-match': tag } });
    assert.equal(p.status, 200, p.body);
    assert.equal(p.json['description'], 'second');
    assert.notEqual(p.headers['etag'], tag);
    assertProblem(await call('PATCH', `/v1/realms/${name}`, { body: { description: 'third' }, headers: { 'if-match': tag } }), 412, 'precondition-failed');
    assertProblem(await call('GET', `/v1/realms/missing-${name}`), 404, 'not-found');
    assert.equal((await call('DELETE', `/v1/realms/${name}`)).status, 204);
    assertProblem(await call('DELETE', `/v1/realms/${name}`), 404, 'not-found');
  });

  void it('pages realms with opaque cursors and filters by prefix', async () => {
    const prefix = unique('page');
    const names = [0, 1, 2, 3, 4].map((i) => `${prefix}-${i}.example.com`);
    for (const name of [...names].reverse()) assert.equal((await call('POST', '/v1/realms', { body: { name } })).status, 201);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await call('GET', `/v1/realms?limit=2&prefix=${prefix}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.body);
      seen.push(...(r.json['items'] as Json[]).map((x) => x['name'] as string));
      cursor = r.json['nextCursor'] as string | undefined;
      pages++;
    } while (cursor !== undefined);
    assert.deepEqual(seen, names);
    assert.equal(pages, 3);
    assertProblem(await call('GET', '/v1/realms?cursor=bm90LWpzb24'), 400, 'invalid-cursor');
    const bad = await call('GET', '/v1/realms?limit=0');
    assertProblem(bad, 400, 'validation');
    assert.deepEqual((bad.json['errors'] as Json[])[0], { field: 'limit', message: 'must be >= 1', in: 'query' });
    // A prefix with LIKE wildcards is compared literally.
    assert.deepEqual((await call('GET', `/v1/realms?prefix=${encodeURIComponent('%')}`)).json['items'], []);
  });

  void it('refuses to delete a realm with users unless cascade=true', async () => {
    const realm = `${unique('cascade')}.example.com`;
    await call('POST', '/v1/realms', { body: { name: realm } });
    assert.equal((await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'ann', password: 'correct horse' } })).status, 201);
    const refused = await call('DELETE', `/v1/realms/${realm}`);
    assertProblem(refused, 409, 'conflict');
    assert.match(String(refused.json['detail']), /cascade=true/);
    assert.equal((await call('GET', `/v1/realms/${realm}`)).json['userCount'], 1);
    assert.equal((await call('DELETE', `/v1/realms/${realm}?cascade=true`)).status, 204);
    assert.equal(await subject().store.getUserCredentials(realm, 'ann'), undefined);
  });

  void it('manages users; passwords are stored as HA1 digests and never returned', async () => {
    const realm = `${unique('users')}.example.com`;
    const { store } = subject();
    await call('POST', '/v1/realms', { body: { name: realm } });
    const password = 'Circle of Life';
    const c = await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'alice', password } });
    assert.equal(c.status, 201, c.body);
    assert.deepEqual(Object.keys(c.json).sort(), ['createdAt', 'disabled', 'realm', 'updatedAt', 'username']);
    const digest = ha1('SHA-256', 'alice', realm, password);
    assert.equal((await store.getUserCredentials(realm, 'alice'))?.ha1Sha256, digest);
    await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'bob', password: 'password-2', disabled: true } });
    assertProblem(await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'bob', password: 'password-3' } }), 409, 'conflict');
    assertProblem(await call('POST', `/v1/realms/missing-${realm}/users`, { body: { username: 'bob', password: 'password-3' } }), 404, 'not-found');

    const all = await call('GET', `/v1/realms/${realm}/users`);
    assert.deepEqual((all.json['items'] as Json[]).map((u) => u['username']), ['alice', 'bob']);
    assert.deepEqual(((await call('GET', `/v1/realms/${realm}/users?disabled=true`)).json['items'] as Json[]).map((u) => u['username']), ['bob']);
    assert.deepEqual(((await call('GET', `/v1/realms/${realm}/users?prefix=al`)).json['items'] as Json[]).map((u) => u['username']), ['alice']);

    const g = await call('GET', `/v1/realms/${realm}/users/alice`);
    for (const r of [c, g, all]) {
      assert.ok(!r.body.includes(password) && !r.body.includes(digest) && !/ha1|secret|password/i.test(r.body), r.body);
    }
    const patched = await call('PATCH', `/v1/realms/${realm}/users/alice`, { body: { disabled: true }, headers: { 'if-match': String(g.headers['etag']) } });
    assert.equal(patched.json['disabled'], true);
    assertProblem(await call('PATCH', `/v1/realms/${realm}/users/alice`, { body: { disabled: false }, headers: { 'if-match': String(g.headers['etag']) } }), 412, 'precondition-failed');
    assert.equal((await call('POST', `/v1/realms/${realm}/users/alice/enable`)).json['disabled'], false);
    assert.equal((await call('POST', `/v1/realms/${realm}/users/alice/disable`)).json['disabled'], true);
    assert.equal((await store.getUserCredentials(realm, 'alice'))?.disabled, true);

    const pw = await call('PUT', `/v1/realms/${realm}/users/alice/password`, { body: { password: 'new password!' } });
    assert.equal(pw.status, 204);
    assert.equal(pw.body, '');
    assert.equal((await store.getUserCredentials(realm, 'alice'))?.ha1Md5, ha1('MD5', 'alice', realm, 'new password!'));
    assertProblem(await call('PUT', `/v1/realms/${realm}/users/nobody/password`, { body: { password: 'new password!' } }), 404, 'not-found');
    const short = await call('PUT', `/v1/realms/${realm}/users/alice/password`, { body: { password: 'short' } });
    assertProblem(short, 400, 'validation');
    assert.equal((short.json['errors'] as Json[])[0]!['field'], 'password');

    assert.equal((await call('DELETE', `/v1/realms/${realm}/users/alice`)).status, 204);
    assertProblem(await call('GET', `/v1/realms/${realm}/users/alice`), 404, 'not-found');
  });

  void it('PUTs rooms declaratively: 201, then the same spec keeps the generation, a change bumps it', async () => {
    const name = unique('room');
    const uri = `sips:${name}@chat.example.com`;
    const first = await call('PUT', `/v1/rooms/${name}`, { body: room(uri) });
    assert.equal(first.status, 201, first.body);
    assert.equal(first.json['generation'], 1);
    assert.equal(first.headers['etag'], '"1"');
    assert.deepEqual(first.json['policy'], { nicknames: true, privateMessages: true, maxParticipants: 100, history: { enabled: true, size: 50 }, allow: [], deny: [], moderators: [], welcome: '', requireAuth: false });
    const same = await call('PUT', `/v1/rooms/${name}`, { body: room(uri) });
    assert.equal(same.status, 200);
    assert.equal(same.json['generation'], 1);
    // Defaults spelled out are the same spec.
    const explicit = await call('PUT', `/v1/rooms/${name}`, { body: { uri, subject: '', policy: first.json['policy'] } });
    assert.deepEqual([explicit.status, explicit.json['generation']], [200, 1]);
    const spec = room(uri, {
      subject: 'Lobby', policy: {
        nicknames: false, privateMessages: false, maxParticipants: 10, history: { enabled: true, size: 5 },
        allow: ['sip:*@example.com', 'sips:*@*.example.org'], deny: ['sip:mallory@example.com'],
        moderators: ['sips:alice@example.com'], welcome: 'Welcome!\nBe nice.',
      },
    });
    const changed = await call('PUT', `/v1/rooms/${name}`, { body: spec });
    assert.deepEqual([changed.status, changed.json['generation']], [200, 2]);
    assert.equal((await call('PUT', `/v1/rooms/${name}`, { body: spec })).json['generation'], 2);
    const got = await call('GET', `/v1/rooms/${name}`);
    assert.equal(got.headers['etag'], '"2"');
    assert.equal((got.json['policy'] as Json)['welcome'], 'Welcome!\nBe nice.');
    assert.ok(((await call('GET', `/v1/rooms?prefix=${name}`)).json['items'] as Json[]).some((r) => r['name'] === name));

    assertProblem(await call('PUT', `/v1/rooms/${name}`, { body: room(uri), headers: { 'if-match': '"1"' } }), 412, 'precondition-failed');
    assert.equal((await call('GET', `/v1/rooms/${name}`)).json['generation'], 2, 'nothing written');
    const conditional = await call('PUT', `/v1/rooms/${name}`, { body: room(uri), headers: { 'if-match': '"2"' } });
    assert.deepEqual([conditional.status, conditional.json['generation']], [200, 3]);
    assertProblem(await call('DELETE', `/v1/rooms/${name}`, { headers: { 'if-match': '"2"' } }), 412, 'precondition-failed');
    assert.equal((await call('DELETE', `/v1/rooms/${name}`, { headers: { 'if-match': '"3"' } })).status, 204);
    assertProblem(await call('GET', `/v1/rooms/${name}`), 404, 'not-found');
    assertProblem(await call('DELETE', `/v1/rooms/${name}`), 404, 'not-found');
  });

  void it('says why a room URI or an allow-list pattern is refused', async () => {
    const name = unique('badroom');
    const cases: [Json, string, RegExp][] = [
      [room('http://example.com'), 'uri', /must start with sip: or sips:/],
      [room('sip:example.com'), 'uri', /needs a user part/],
      [room('sip:lobby@exa mple.com'), 'uri', /spaces/],
      [room('sip:lobby@-bad-.com'), 'uri', /host label "-bad-"/],
      [room('sip:lobby@example.com:70000'), 'uri', /port 70000/],
      [room('sip:lob*by@example.com'), 'uri', /must not contain \*/],
      [room('sip:a@example.com', { policy: { allow: ['sip:*@exam_ple.com'] } }), 'policy.allow[0]', /host label "exam_ple"/],
      [room('sip:a@example.com', { policy: { deny: ['*@example.com'] } }), 'policy.deny[0]', /must start with sip: or sips:/],
      [room('sip:a@example.com', { policy: { allow: ['sip:*@example.com:5060'] } }), 'policy.allow[0]', /not ports/],
      [room('sip:a@example.com', { policy: { moderators: ['sip:*@example.com'] } }), 'policy.moderators[0]', /must not contain \*/],
      [room('sip:a@example.com', { policy: { maxParticipants: 0 } }), 'policy.maxParticipants', /must be >= 1/],
      [room('sip:a@example.com', { policy: { colour: 'red' } }), 'policy.colour', /not a known field/],
      [{}, 'uri', /is required/],
    ];
    for (const [body, field, why] of cases) {
      const r = await call('PUT', `/v1/rooms/${name}`, { body });
      assertProblem(r, 400, 'validation');
      const e = (r.json['errors'] as Json[]).find((x) => x['field'] === field);
      assert.ok(e, `${JSON.stringify(body)}: no error for ${field}: ${r.body}`);
      assert.match(String(e['message']), why);
    }
    assertProblem(await call('GET', `/v1/rooms/${name}`), 404, 'not-found');
    const badName = await call('PUT', '/v1/rooms/Upper%20Case', { body: room('sip:a@example.com') });
    assertProblem(badName, 400, 'validation');
    assert.deepEqual((badName.json['errors'] as Json[])[0], { field: 'name', message: 'must be lower-case letters, digits and - _ . inside (as a ChatRoom name)', in: 'path' });
  });

  void it('keeps an audit log of who changed what, newest first, paged', async () => {
    const admin = await call('POST', '/v1/tokens', { body: { name: 'auditor', role: 'admin' } });
    const token = admin.json['token'] as string;
    const name = unique('audited');
    await call('PUT', `/v1/rooms/${name}`, { token, body: room(`sip:${name}@example.com`) });
    await call('PUT', `/v1/rooms/${name}`, { token, body: room(`sip:${name}@example.com`) }); // unchanged: no entry
    await call('PUT', `/v1/rooms/${name}`, { token, body: room(`sip:${name}@example.com`, { subject: 'x' }) });
    await call('DELETE', `/v1/rooms/${name}`, { token });
    const r = await call('GET', `/v1/audit?resource=/v1/rooms/${name}&limit=2`);
    assert.equal(r.status, 200, r.body);
    const items = r.json['items'] as Json[];
    assert.deepEqual(items.map((e) => e['action']), ['room.delete', 'room.update']);
    assert.equal(items[0]!['actor'], `token:${admin.json['id'] as string}`);
    assert.ok(!Number.isNaN(Date.parse(String(items[0]!['at']))));
    const next = await call('GET', `/v1/audit?resource=/v1/rooms/${name}&limit=2&cursor=${r.json['nextCursor'] as string}`);
    assert.deepEqual((next.json['items'] as Json[]).map((e) => e['action']), ['room.create']);
    assert.equal(next.json['nextCursor'], undefined);
    const mine = await call('GET', `/v1/audit?actor=token:${admin.json['id'] as string}`);
    assert.equal((mine.json['items'] as Json[]).length, 3);
  });

  void it('shows and removes live sessions and participants through the engine control endpoint', async () => {
    const { engine } = subject();
    engine.sessions.set('s1', { id: 's1', uri: 'msrps://relay.example.com:2855/s1;tcp', user: 'alice', realm: 'example.com', peer: '10.0.0.1:5000', bytesForwarded: 42 });
    const list = await call('GET', '/v1/sessions');
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(list.json['items'], [{ id: 's1', uri: 'msrps://relay.example.com:2855/s1;tcp', user: 'alice', realm: 'example.com', peer: '10.0.0.1:5000', bytesForwarded: 42 }]);
    assert.equal((await call('DELETE', '/v1/sessions/s1')).status, 204);
    assertProblem(await call('DELETE', '/v1/sessions/s1'), 404, 'not-found');
    engine.rooms.set('lobby', new Map([['p1', { id: 'p1', uri: 'sip:bob@example.com', nickname: 'bob' }]]));
    assert.deepEqual((await call('GET', '/v1/rooms/lobby/participants')).json['items'], [{ id: 'p1', uri: 'sip:bob@example.com', nickname: 'bob' }]);
    assertProblem(await call('GET', '/v1/rooms/nowhere/participants'), 404, 'not-found');
    assert.equal((await call('DELETE', '/v1/rooms/lobby/participants/p1')).status, 204);
    assertProblem(await call('DELETE', '/v1/rooms/lobby/participants/p1'), 404, 'not-found');
  });

  void it('rejects bad input in every string field with 400 naming the field, and stores nothing', async () => {
    const { store } = subject();
    const realm = `${unique('bad')}.example.com`;
    await call('POST', '/v1/realms', { body: { name: realm } });
    await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'victim', password: 'original pw' } });
    await call('POST', `/v1/realms/${realm}/users`, { body: { username: 'pw', password: 'original pw' } });
    const lastAudit = async (): Promise<number> => ((await store.audit.list({}, { limit: 1 })).items[0]?.id ?? 0);
    let checked = 0;
    for (const c of badInputCases(realm)) {
      const before = await lastAudit();
      const r = await call(c.method, c.url, { raw: c.payload, ...(c.headers ? { headers: c.headers } : {}) });
      const label = `${c.method} ${c.url} ${c.field} <- ${c.label}`;
      if (c.accepted) {
        assert.ok(r.status < 300, `${label}: ${r.status} ${r.body}`);
        if (c.verify) await c.verify(r.json);
        continue;
      }
      assertProblem(r, 400, 'validation');
      const named = (r.json['errors'] as Json[] | undefined)?.map((e) => e['field']) ?? [];
      assert.ok(named.includes(c.field), `${label}: fields ${JSON.stringify(named)}: ${r.body}`);
      assert.equal(await lastAudit(), before, `${label}: something was written`);
      checked++;
    }
    assert.ok(checked >= 60, `only ${checked} rejected cases`);
    assert.equal((await store.getUserCredentials(realm, 'victim'))?.ha1Md5, ha1('MD5', 'victim', realm, 'original pw'));
    assert.equal((await call('GET', `/v1/realms?prefix=${encodeURIComponent("x'")}`)).status, 200);
    assert.ok(((await call('GET', `/v1/realms/${realm}/users`)).json['items'] as Json[]).every((u) => /^(victim|pw\d*)$/.test(String(u['username']))));
  });

  void it('answers 413 for bodies above the limit, 400 for malformed JSON and 415 for other media types', async () => {
    const big = await call('PUT', `/v1/rooms/${unique('big')}`, { body: room('sip:a@example.com', { subject: 'x'.repeat(70_000) }) });
    assertProblem(big, 413, 'payload-too-large');
    assertProblem(await call('POST', '/v1/realms', { raw: '{"name": ' }), 400, 'malformed-body');
    assertProblem(await call('POST', '/v1/realms', { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type');
    assertProblem(await call('GET', '/v1/nothing-here'), 404, 'not-found');
  });

  void it('serves the OpenAPI document, the docs page, probes and per-route metrics', async () => {
    const doc = await call('GET', '/docs/json', { token: null });
    assert.equal(doc.status, 200);
    assert.match(String(doc.json['openapi']), /^3\./);
    const paths = Object.keys(doc.json['paths'] as Json);
    for (const p of ['/v1/realms', '/v1/realms/{realm}/users/{user}/password', '/v1/rooms/{name}', '/v1/tokens', '/v1/audit', '/v1/sessions/{id}', '/v1/rooms/{name}/participants/{id}']) {
      assert.ok(paths.includes(p), `${p} missing from ${paths.join(' ')}`);
    }
    assert.ok(!JSON.stringify((doc.json['paths'] as Json)['/v1/realms/{realm}/users/{user}']).includes('ha1'));
    const page = await subject().app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger/i);
    assert.deepEqual((await call('GET', '/healthz', { token: null })).json, { status: 'ok' });
    assert.deepEqual((await call('GET', '/readyz', { token: null })).json, { status: 'ready' });
    const m = await call('GET', '/metrics', { token: null });
    assert.match(m.body, /msrp_admin_requests_total\{method="GET",route="\/v1\/rooms\/:name",status="404"\} \d+/);
    assert.match(m.body, /msrp_admin_request_duration_seconds_bucket\{le="[^"]+",method="PUT",route="\/v1\/rooms\/:name"\}/);
    if (subject().store.kind === 'postgres') assert.match(m.body, /msrp_admin_db_pool_connections\{state="idle"\} \d+/);
  });
}
