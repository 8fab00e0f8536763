// Room leases (store.leases, migration 005) on every Store: run by store.pglite.test.ts and
// store.postgres.test.ts on their shared database. Not a test file itself, so the
// floating-promise rule applies: `void it(...)`.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Subject } from './testcontract.ts';
import { rejectsWith } from './testcontract.ts';

let seq = 0;
const uniqueRoom = (): string => `sip:lease${process.pid}-${Date.now().toString(36)}-${seq++}@chat.example.com`;

export function leasesContract(subject: () => Subject): void {
  void it('leases: a free room goes to the first replica; another gets the holder back, not the room', async () => {
    const { store } = subject();
    const room = uniqueRoom();
    const first = await store.leases.acquire(room, 0, 'i0', 10_000);
    assert.equal(first.acquired, true);
    assert.equal(first.lease.holder, 0);
    assert.equal(first.lease.instance, 'i0');
    assert.ok(first.lease.expiresAt.getTime() > Date.now() + 5_000);
    const second = await store.leases.acquire(room, 1, 'i1', 10_000);
    assert.equal(second.acquired, false);
    assert.equal(second.lease.holder, 0);
    assert.equal((await store.leases.get(room))?.holder, 0);
    // The holder asking again refreshes its own lease (a restarted pod with the same ordinal too).
    const again = await store.leases.acquire(room, 0, 'i0-restarted', 10_000);
    assert.equal(again.acquired, true);
    assert.equal(again.lease.instance, 'i0-restarted');
  });

  void it('leases: many replicas racing for one free room: exactly one wins', async () => {
    const { store } = subject();
    const room = uniqueRoom();
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => store.leases.acquire(room, k, `i${k}`, 10_000)));
    const winners = results.filter((r) => r.acquired);
    assert.equal(winners.length, 1, JSON.stringify(results));
    const holder = winners[0]!.lease.holder;
    for (const r of results) assert.equal(r.lease.holder, holder);
  });

  void it('leases: an expired lease goes to the next replica that asks; the old holder can no longer renew it', async () => {
    const { store } = subject();
    const room = uniqueRoom();
    assert.equal((await store.leases.acquire(room, 0, 'i0', 50)).acquired, true);
    const until = Date.now() + 5_000;
    let taken = await store.leases.acquire(room, 2, 'i2', 10_000);
    while (!taken.acquired) {
      assert.ok(Date.now() < until, 'the lease did not expire');
      await new Promise((r) => setTimeout(r, 20));
      taken = await store.leases.acquire(room, 2, 'i2', 10_000);
    }
    assert.equal(taken.lease.holder, 2);
    assert.deepEqual(await store.leases.renew(0, [room], 10_000), [], 'the old holder lost it');
    assert.deepEqual(await store.leases.renew(2, [room], 10_000), [room]);
  });

  void it('leases: renew extends only the holder\'s rooms; release frees them for others at once', async () => {
    const { store } = subject();
    const [a, b, c] = [uniqueRoom(), uniqueRoom(), uniqueRoom()];
    await store.leases.acquire(a, 3, 'i3', 1_000);
    await store.leases.acquire(b, 3, 'i3', 1_000);
    await store.leases.acquire(c, 4, 'i4', 1_000);
    const before = (await store.leases.get(a))!.expiresAt.getTime();
    const renewed = await store.leases.renew(3, [a, b, c], 60_000);
    assert.deepEqual(renewed.sort(), [a, b].sort());
    assert.ok((await store.leases.get(a))!.expiresAt.getTime() > before + 30_000);
    assert.ok((await store.leases.get(c))!.expiresAt.getTime() < before + 30_000, 'another holder\'s lease is untouched');
    assert.deepEqual(await store.leases.renew(3, [], 60_000), []);
    assert.equal(await store.leases.release(3, [a, b, c]), 2);
    assert.equal(await store.leases.get(a), undefined);
    assert.equal((await store.leases.get(c))?.holder, 4);
    assert.equal((await store.leases.acquire(a, 5, 'i5', 1_000)).acquired, true);
  });

  void it('leases: refuses a ttl that is not a positive integer', async () => {
    const { store } = subject();
    await rejectsWith(store.leases.acquire(uniqueRoom(), 0, 'i0', 0), 'invalid');
  });
}
