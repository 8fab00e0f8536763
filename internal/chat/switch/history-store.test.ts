// DurableHistory against fake tables: the database never blocks the room (hanging or
// failing writes, bounded queue), loads time out to the in-memory history, close() keeps
// the durable history when the switch then closes every room. No database needed; the
// same class over PGlite and PostgreSQL is in store-backed.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { StoreError } from '../../store/errors.ts';
import type { ChatHistory, HistoryRecord, NewHistoryRecord } from '../../store/history.ts';
import { createMetrics } from '../../telemetry/metrics.ts';
import { describeCpim, DurableHistory } from './history-store.ts';
import type { HistoryEntry } from './history.ts';
import { eventually } from '../../testwait.ts';
import { join, ROOM_URI, startTestSwitch } from './testpeer.ts';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const stops: (() => void)[] = [];
after(() => {
  for (const s of stops) s();
});

/** A table in memory whose calls can be made to hang or fail. */
class FakeTable implements ChatHistory {
  rows: HistoryRecord[] = [];
  calls: string[] = [];
  mode: 'ok' | 'hang' | 'unavailable' | 'invalid' = 'ok';
  readonly #hung: (() => void)[] = [];

  #gate(what: string): Promise<void> {
    this.calls.push(what);
    if (this.mode === 'hang') return new Promise((resolve) => this.#hung.push(resolve));
    if (this.mode === 'unavailable') return Promise.reject(new StoreError('unavailable', 'database unavailable (test)'));
    if (this.mode === 'invalid') return Promise.reject(new StoreError('invalid', 'bad row (test)'));
    return Promise.resolve();
  }

  /** Lets hung calls go on (with the current mode). */
  release(): void {
    for (const r of this.#hung.splice(0)) r();
  }

  async append(room: string, e: NewHistoryRecord, keep: number): Promise<void> {
    await this.#gate(`append ${room}`);
    if (keep <= 0) return;
    this.rows.push({ room, sender: e.sender, cpim: e.cpim, messageId: e.messageId, contentType: e.contentType, createdAt: e.at ?? new Date() });
    const mine = this.rows.filter((r) => r.room === room);
    const cut = new Set(mine.slice(0, Math.max(0, mine.length - keep)));
    this.rows = this.rows.filter((r) => !cut.has(r));
  }

  async recent(room: string, n: number): Promise<HistoryRecord[]> {
    await this.#gate(`recent ${room}`);
    return this.rows.filter((r) => r.room === room).slice(-n);
  }

  async drop(room: string): Promise<number> {
    await this.#gate(`drop ${room}`);
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => r.room !== room);
    return before - this.rows.length;
  }
}

const entry = (text: string): HistoryEntry => ({ cpim: Buffer.from(`From: <sip:a@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\n${text}`), from: 'sip:a@example.com', at: new Date() });
const texts = (es: readonly { cpim: Buffer }[]): string[] => es.map((e) => e.cpim.toString().split('\r\n\r\n').pop()!);

describe('DurableHistory', () => {
  it('writes through in order and reads back from the table, with content type and imdn.Message-ID', async () => {
    const table = new FakeTable();
    const h = new DurableHistory({ table, logger });
    const imdn = Buffer.from('From: <sip:a@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 34jk324j\r\n\r\nContent-Type: text/plain\r\n\r\nhi');
    await h.append('r', { cpim: imdn, from: 'sip:a@example.com', at: new Date() }, 5);
    for (const t of ['1', '2']) await h.append('r', entry(t), 5);
    assert.equal(await h.flush(1000), true);
    assert.equal(table.rows[0]!.messageId, '34jk324j');
    assert.equal(table.rows[0]!.contentType, 'text/plain');
    assert.deepEqual(texts(await h.recent('r', 2)), ['1', '2']);
    assert.deepEqual(describeCpim(Buffer.from('not cpim')), { contentType: undefined, messageId: undefined });
  });

  it('stores nothing with keep 0 and reads nothing with limit 0', async () => {
    const table = new FakeTable();
    const h = new DurableHistory({ table, logger });
    await h.append('r', entry('x'), 0);
    assert.equal(await h.flush(100), true);
    assert.deepEqual(table.calls, []);
    assert.deepEqual(await h.recent('r', 0), []);
  });

  it('never waits for a hanging database: append returns at once, the load times out to memory', async () => {
    const table = new FakeTable();
    table.mode = 'hang';
    const h = new DurableHistory({ table, logger, readTimeoutMs: 100 });
    // The table never answers while hung: an append that waited for it would not return, so
    // getting past this loop is the proof (no stopwatch, which fails under load).
    for (let i = 0; i < 5; i++) await h.append('r', entry(`m${i}`), 3);
    assert.deepEqual(table.calls, ['append r'], 'the first write is in flight (hung), the rest queued');
    assert.equal(h.pending, 5);
    const r0 = performance.now();
    assert.deepEqual(texts(await h.recent('r', 10)), ['m2', 'm3', 'm4']);
    const took = performance.now() - r0;
    // Only the timeout can end this load (the table hangs); a timer never fires early, so the
    // lower bound holds under any load. No upper bound: that would only measure the machine.
    assert.ok(took >= 90, `load gave up after the timeout, not before (${took} ms)`);
    assert.equal(h.stats.readTimeouts, 1);
    table.mode = 'ok';
    table.release();
    assert.equal(await h.flush(1000), true);
    assert.deepEqual(texts(table.rows), ['m2', 'm3', 'm4'], 'the queued writes land once the database answers');
  });

  it('bounds the write queue: the oldest appends are dropped and counted in the metric', async () => {
    const table = new FakeTable();
    table.mode = 'hang';
    const metrics = createMetrics({ defaultMetrics: false });
    const h = new DurableHistory({ table, logger, maxQueue: 3, metrics });
    for (let i = 0; i < 6; i++) await h.append('r', entry(`m${i}`), 100);
    // m0 is in flight, m1 and m2 were pushed out of the queue of 3.
    assert.equal(h.stats.dropped, 2);
    assert.match(await metrics.render(), /msrp_chat_history_writes_total\{result="dropped"\} 2/);
    table.mode = 'ok';
    table.release();
    assert.equal(await h.flush(1000), true);
    assert.deepEqual(texts(table.rows), ['m0', 'm3', 'm4', 'm5']);
  });

  it('retries while the database is unavailable, gives up on other errors, and keeps serving from memory', async () => {
    const table = new FakeTable();
    table.mode = 'unavailable';
    const metrics = createMetrics({ defaultMetrics: false });
    const h = new DurableHistory({ table, logger, metrics, backoffMs: { initial: 10, max: 20 }, maxAttempts: 1000, readTimeoutMs: 100 });
    await h.append('r', entry('a'), 10);
    await eventually(() => h.stats.retries >= 2, `two retries (${h.stats.retries} so far)`);
    assert.deepEqual(texts(await h.recent('r', 10)), ['a'], 'from memory while failing');
    table.mode = 'ok';
    assert.equal(await h.flush(1000), true);
    assert.deepEqual(texts(table.rows), ['a']);
    // A non-retryable error drops that write only.
    table.mode = 'invalid';
    await h.append('r', entry('bad'), 10);
    assert.equal(await h.flush(1000), true);
    assert.equal(h.stats.failed, 1);
    table.mode = 'ok';
    await h.append('r', entry('b'), 10);
    assert.equal(await h.flush(1000), true);
    assert.deepEqual(texts(table.rows), ['a', 'b']);
    const text = await metrics.render();
    assert.match(text, /msrp_chat_history_writes_total\{result="retry"\} \d+/);
    assert.match(text, /msrp_chat_history_writes_total\{result="error"\} 1/);
  });

  it('drop() removes the room behind its pending writes; after close() drops touch memory only', async () => {
    const table = new FakeTable();
    const h = new DurableHistory({ table, logger });
    await h.append('a', entry('1'), 10);
    await h.append('b', entry('2'), 10);
    await h.drop('a');
    assert.equal(await h.flush(1000), true);
    assert.deepEqual(table.rows.map((r) => r.room), ['b']);
    await h.close();
    const calls = table.calls.length;
    await h.drop('b');
    await h.append('b', entry('3'), 10);
    // A write would be queued at once (pending) and handed to the table in the same turn: both
    // are synchronous, so checking them now cannot pass just because the write was slow.
    assert.equal(h.pending, 0, 'nothing queued after close()');
    assert.equal(table.calls.length, calls, 'no table call after close()');
    assert.deepEqual(texts(table.rows), ['2'], 'the durable history survives the switch closing its rooms');
  });

  it('keeps the switch fanning out while history writes hang', async () => {
    const table = new FakeTable();
    table.mode = 'hang';
    const history = new DurableHistory({ table, logger, readTimeoutMs: 100 });
    const t = await startTestSwitch({}, { history });
    stops.push(t.stop);
    const alice = await join(t.room, t.listener.port, 'sip:alice@example.com');
    const bob = await join(t.room, t.listener.port, 'sip:bob@example.com');
    // Bob's join notice may be waiting in `received`: match the messages by body (a probe to
    // drain it would add a sixth history write).
    for (let i = 0; i < 5; i++) {
      const body = alice.cpim({ to: ROOM_URI, text: `hello ${i}` });
      assert.equal((await alice.sendAndWait(body)).status, 200);
      await bob.next((r) => r.body.equals(body), 1000);
    }
    assert.equal(history.pending, 5);
    // A device joining now gets the room's history from memory.
    const carol = await join(t.room, t.listener.port, 'sip:carol@example.com');
    assert.ok((await carol.nextText('hello 4', 1000)).body.includes('hello 4'));
    table.mode = 'ok';
    table.release();
    await history.close(1000);
  });
});
