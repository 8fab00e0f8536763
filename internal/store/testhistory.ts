// Chat history (store.history, migration 003) on every Store: run by store.pglite.test.ts
// and store.postgres.test.ts on their shared database. Not a test file itself, so the
// floating-promise rule applies: `void it(...)`.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Subject } from './testcontract.ts';
import { rejectsWith } from './testcontract.ts';

let seq = 0;
const uniqueRoom = (): string => `sip:room${process.pid}-${Date.now().toString(36)}-${seq++}@chat.example.com`;

/** A CPIM-like body with bytes that would not survive a text round trip. */
const body = (i: number): Buffer => Buffer.concat([Buffer.from(`From: <sip:a@example.com>\r\n\r\nContent-Type: application/octet-stream\r\n\r\n#${i} `), Buffer.from([0, 0xff, 0xfe, 0x80, 0x0d, 0x0a]), randomBytes(16)]);

export function historyContract(subject: () => Subject): void {
  void it('history: appends and reads back oldest first, byte for byte, with the row fields', async () => {
    const { store } = subject();
    const room = uniqueRoom();
    const sent = [0, 1, 2].map(body);
    const at = new Date('2026-01-02T03:04:05.678Z');
    for (const [i, cpim] of sent.entries()) {
      await store.history.append(room, { sender: `sip:u${i}@example.com`, cpim, contentType: 'text/plain', messageId: `m${i}`, at }, 10);
    }
    const got = await store.history.recent(room, 10);
    assert.equal(got.length, 3);
    got.forEach((r, i) => {
      assert.ok(Buffer.isBuffer(r.cpim));
      assert.ok(r.cpim.equals(sent[i]!), `message ${i} byte-identical`);
      assert.equal(r.sender, `sip:u${i}@example.com`);
      assert.equal(r.messageId, `m${i}`);
      assert.equal(r.contentType, 'text/plain');
      assert.equal(r.room, room);
      assert.equal(r.createdAt.getTime(), at.getTime());
    });
    // Without a time or optional fields: now() and undefined.
    await store.history.append(room, { sender: 'sip:x@example.com', cpim: body(9) }, 10);
    const last = (await store.history.recent(room, 1))[0]!;
    assert.equal(last.messageId, undefined);
    assert.equal(last.contentType, undefined);
    assert.ok(Math.abs(last.createdAt.getTime() - Date.now()) < 60_000);
  });

  void it('history: recent(n) gives the newest n, oldest first', async () => {
    const { store } = subject();
    const room = uniqueRoom();
    for (let i = 0; i < 6; i++) await store.history.append(room, { sender: 'sip:a@example.com', cpim: Buffer.from(`m${i}`) }, 100);
    assert.deepEqual((await store.history.recent(room, 3)).map((r) => r.cpim.toString()), ['m3', 'm4', 'm5']);
    assert.deepEqual((await store.history.recent(room, 100)).map((r) => r.cpim.toString()), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    assert.deepEqual(await store.history.recent(room, 0), []);
  });

  void it('history: each append trims the room to the newest keep rows', async () => {
    const { store, db } = subject();
    const room = uniqueRoom();
    const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE room = $1', [room])).rows[0]!.n;
    for (let i = 0; i < 8; i++) {
      await store.history.append(room, { sender: 'sip:a@example.com', cpim: Buffer.from(`m${i}`) }, 3);
      assert.equal(await count(), Math.min(i + 1, 3), `after append ${i}`);
    }
    assert.deepEqual((await store.history.recent(room, 10)).map((r) => r.cpim.toString()), ['m5', 'm6', 'm7']);
    // A smaller keep (the room's history size was lowered) trims at the next append.
    await store.history.append(room, { sender: 'sip:a@example.com', cpim: Buffer.from('m8') }, 1);
    assert.deepEqual((await store.history.recent(room, 10)).map((r) => r.cpim.toString()), ['m8']);
  });

  void it('history: rooms are isolated (append, trim and drop touch one room only)', async () => {
    const { store } = subject();
    const a = uniqueRoom();
    const b = uniqueRoom();
    for (let i = 0; i < 4; i++) {
      await store.history.append(a, { sender: 'sip:a@example.com', cpim: Buffer.from(`a${i}`) }, 2);
      await store.history.append(b, { sender: 'sip:b@example.com', cpim: Buffer.from(`b${i}`) }, 10);
    }
    assert.deepEqual((await store.history.recent(a, 10)).map((r) => r.cpim.toString()), ['a2', 'a3']);
    assert.deepEqual((await store.history.recent(b, 10)).map((r) => r.cpim.toString()), ['b0', 'b1', 'b2', 'b3']);
    assert.equal(await store.history.drop(a), 2);
    assert.deepEqual(await store.history.recent(a, 10), []);
    assert.equal((await store.history.recent(b, 10)).length, 4);
    assert.equal(await store.history.drop(a), 0);
  });

  void it('history: keep 0 (history disabled) stores nothing', async () => {
    const { store, db } = subject();
    const room = uniqueRoom();
    await store.history.append(room, { sender: 'sip:a@example.com', cpim: Buffer.from('x') }, 0);
    await store.history.append(room, { sender: 'sip:a@example.com', cpim: Buffer.from('y') }, -1);
    const n = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE room = $1', [room])).rows[0]!.n;
    assert.equal(n, 0);
    assert.deepEqual(await store.history.recent(room, 10), []);
  });

  void it('history: refuses an empty room key as invalid', async () => {
    const { store } = subject();
    await rejectsWith(store.history.append('', { sender: 'sip:a@example.com', cpim: Buffer.from('x') }, 5), 'invalid');
  });
}
