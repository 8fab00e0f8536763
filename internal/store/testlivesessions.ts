// Relay-wide live sessions (store.liveSessions, migration 004) on every Store: run by
// store.pglite.test.ts and store.postgres.test.ts on their shared database. Each test uses
// a relay key of its own. Not a test file itself, so the floating-promise rule applies:
// `void it(...)`.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveSessionRecord } from './live-sessions.ts';
import type { ChangeEvent } from './store.ts';
import type { Subject } from './testcontract.ts';
import { rejectsWith } from './testcontract.ts';

let seq = 0;
const uniqueRelay = (): string => `relay${process.pid}-${Date.now().toString(36)}-${seq++}.example.com:2855`;
const STALE = 30;

function row(relay: string, ordinal: number, id: string, username = 'alice', realm = 'example.com', lifetimeSec = 600): LiveSessionRecord {
  const now = Date.now();
  return {
    relay, id, ordinal, realm, username, uri: `msrps://${relay}/${id};tcp`, clientUri: `msrps://10.0.0.${ordinal}:40000/c-${id};tcp`,
    peer: `10.0.0.${ordinal}:40000`, createdAt: new Date(now), expiresAt: new Date(now + lifetimeSec * 1000),
  };
}

export function liveSessionsContract(subject: () => Subject): void {
  void it('live sessions: a replica claims its ordinal (its old rows go), heartbeats, and lists what it upserts', async () => {
    const { store } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    assert.equal(await ls.claim(relay, 0, 'a'), 0);
    assert.equal(await ls.claim(relay, 1, 'b'), 0);
    await ls.upsert(relay, [row(relay, 0, 'r0-x'), row(relay, 0, 'r0-y', 'bob'), row(relay, 1, 'r1-z')]);
    const page = await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 });
    assert.deepEqual(page.items.map((s) => [s.id, s.ordinal, s.username]), [['r0-x', 0, 'alice'], ['r0-y', 0, 'bob'], ['r1-z', 1, 'alice']]);
    const first = page.items[0]!;
    assert.equal(first.clientUri, 'msrps://10.0.0.0:40000/c-r0-x;tcp');
    assert.equal(first.peer, '10.0.0.0:40000');
    assert.ok(first.expiresAt.getTime() > Date.now());
    assert.equal(first.deleteRequestedAt, undefined);

    // Paging by id, and the filters.
    const p1 = await ls.list({ relay, staleAfterSec: STALE }, { limit: 2 });
    assert.equal(p1.next, 'r0-y');
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 2, after: p1.next })).items.map((s) => s.id), ['r1-z']);
    assert.deepEqual((await ls.list({ relay, username: 'bob', staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r0-y']);

    const beat = await ls.heartbeat(relay, 0, 'a', STALE);
    assert.deepEqual(beat, { liveReplicas: 2, deleteRequested: [] });

    // Replica 0 restarts: its rows go, replica 1's stay.
    assert.equal(await ls.claim(relay, 0, 'a2'), 2);
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r1-z']);
    assert.deepEqual((await ls.replicas(relay, STALE)).map((r) => [r.ordinal, r.instance, r.live]), [[0, 'a2', true], [1, 'b', true]]);
  });

  void it('live sessions: refreshes expiry on upsert, removes by id, and replace leaves exactly the given rows of a replica', async () => {
    const { store } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    await ls.claim(relay, 0, 'a');
    await ls.claim(relay, 1, 'b');
    await ls.upsert(relay, [row(relay, 0, 'r0-a'), row(relay, 0, 'r0-b'), row(relay, 1, 'r1-a')]);
    const later = { ...row(relay, 0, 'r0-a'), expiresAt: new Date(Date.now() + 7200_000) };
    await ls.upsert(relay, [later]);
    const a = (await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.find((s) => s.id === 'r0-a')!;
    assert.equal(a.expiresAt.getTime(), later.expiresAt.getTime());
    await ls.remove(relay, ['r0-b', 'no-such']);
    await ls.replace(relay, 0, [row(relay, 0, 'r0-c')]);
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r0-c', 'r1-a']);
    await ls.replace(relay, 0, []);
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r1-a']);
  });

  void it('live sessions: ignores rows of a replica whose heartbeat is stale, and expired rows', async () => {
    const { store, db } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    await ls.claim(relay, 0, 'a');
    await ls.claim(relay, 1, 'b');
    await ls.upsert(relay, [row(relay, 1, 'r1-a'), { ...row(relay, 1, 'r1-old'), expiresAt: new Date(Date.now() - 1000) }]);
    assert.deepEqual((await ls.admit(row(relay, 0, 'r0-new'), { limit: 0, localCount: 0, staleAfterSec: STALE })).otherReplicas, [1]);
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r0-new', 'r1-a']);
    await db.query(`UPDATE relay_replicas SET heartbeat_at = now() - interval '31 seconds' WHERE relay = $1 AND ordinal = 1`, [relay]);
    assert.deepEqual((await ls.list({ relay, staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r0-new']);
    const admitted = await ls.admit(row(relay, 0, 'r0-more'), { limit: 2, localCount: 1, staleAfterSec: STALE });
    assert.deepEqual(admitted, { admitted: true, others: 0, otherReplicas: [] });
    assert.deepEqual((await ls.heartbeat(relay, 0, 'a', STALE)).liveReplicas, 1);
    assert.deepEqual((await ls.replicas(relay, STALE)).map((r) => r.live), [true, false]);
    await rejectsWith(ls.list({ relay, staleAfterSec: 0 }, { limit: 1 }), 'invalid');
  });

  void it('live sessions: admit counts the user on the other replicas and inserts only under the limit, one AUTH at a time', async () => {
    const { store } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    for (const k of [0, 1, 2]) await ls.claim(relay, k, `i${k}`);
    const o = { limit: 2, staleAfterSec: STALE };
    assert.deepEqual(await ls.admit(row(relay, 0, 'r0-1'), { ...o, localCount: 0 }), { admitted: true, others: 0, otherReplicas: [] });
    assert.deepEqual(await ls.admit(row(relay, 1, 'r1-1'), { ...o, localCount: 0 }), { admitted: true, others: 1, otherReplicas: [0] });
    assert.deepEqual(await ls.admit(row(relay, 2, 'r2-1'), { ...o, localCount: 0 }), { admitted: false, others: 2, otherReplicas: [0, 1] });
    // Another user, and the same user of another realm, are not affected.
    assert.equal((await ls.admit(row(relay, 2, 'r2-2', 'bob'), { ...o, localCount: 0 })).admitted, true);
    assert.equal((await ls.admit(row(relay, 2, 'r2-3', 'alice', 'other.example.com'), { ...o, localCount: 0 })).admitted, true);
    // The local count is the caller's (its own rows are not counted from the table).
    assert.equal((await ls.admit(row(relay, 0, 'r0-2'), { ...o, localCount: 1 })).admitted, false);
    assert.deepEqual((await ls.list({ relay, username: 'alice', realm: 'example.com', staleAfterSec: STALE }, { limit: 10 })).items.map((s) => s.id), ['r0-1', 'r1-1']);

    // Concurrent AUTHs for one user on six replicas: the limit holds (the table serialises
    // them per user; AUTHs on one replica are the caller's to count, in localCount).
    const carol = uniqueRelay();
    for (const k of [0, 1, 2, 3, 4, 5]) await ls.claim(carol, k, `i${k}`);
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => ls.admit(row(carol, k, `r${k}-c`, 'carol'), { ...o, localCount: 0 })));
    assert.equal(results.filter((r) => r.admitted).length, 2, JSON.stringify(results));
  });

  void it('live sessions: spread says on how many other live replicas users and realms have sessions', async () => {
    const { store } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    for (const k of [0, 1, 2]) await ls.claim(relay, k, `i${k}`);
    await ls.upsert(relay, [row(relay, 0, 'r0-a'), row(relay, 1, 'r1-a'), row(relay, 1, 'r1-b'), row(relay, 2, 'r2-a'), row(relay, 2, 'r2-b', 'bob')]);
    const s = await ls.spread(relay, {
      excludeOrdinal: 0, staleAfterSec: STALE,
      users: [{ realm: 'example.com', username: 'alice' }, { realm: 'example.com', username: 'bob' }, { realm: 'example.com', username: 'nobody' }],
      realms: ['example.com', 'none.example.com'],
    });
    assert.deepEqual([...s.users], [['example.com\u0000alice', 2], ['example.com\u0000bob', 1]].sort());
    assert.deepEqual([...s.realms], [['example.com', 2]]);
  });

  void it('live sessions: a delete request marks a live row, is announced on the change feed and reaches the owner in its heartbeat', async () => {
    const { store } = subject();
    const ls = store.liveSessions;
    const relay = uniqueRelay();
    await ls.claim(relay, 0, 'a');
    await ls.claim(relay, 1, 'b');
    await ls.upsert(relay, [row(relay, 1, 'r1-x')]);
    const events: ChangeEvent[] = [];
    const unlisten = await store.listen((e) => events.push(e));
    try {
      assert.equal(await ls.requestDelete('r1-nope', { relay, staleAfterSec: STALE }), undefined);
      const marked = await ls.requestDelete('r1-x', { staleAfterSec: STALE });
      assert.equal(marked?.ordinal, 1);
      assert.equal(marked?.relay, relay);
      assert.ok(marked?.deleteRequestedAt instanceof Date);
      const deadline = Date.now() + 5000;
      const mine = (e: ChangeEvent): boolean => e.table === 'live_sessions' && e.key.relay === relay;
      while (!events.some(mine)) {
        assert.ok(Date.now() < deadline, 'no delete-requested event');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(events.filter(mine), [{ table: 'live_sessions', op: 'delete-requested', key: { relay, ordinal: 1, id: 'r1-x' } }]);
      assert.deepEqual((await ls.heartbeat(relay, 1, 'b', STALE)).deleteRequested, ['r1-x']);
      assert.deepEqual((await ls.heartbeat(relay, 0, 'a', STALE)).deleteRequested, []);
      assert.equal(await ls.exists(relay, 'r1-x'), true);
      await ls.remove(relay, ['r1-x']);
      assert.equal(await ls.exists(relay, 'r1-x'), false);
    } finally {
      await unlisten();
    }
  });
}
