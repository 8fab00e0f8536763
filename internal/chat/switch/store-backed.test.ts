// The chat switch over the store, on embedded PGlite (one instance for the file, NOTES.md)
// and on a real PostgreSQL server (DATABASE_URL, a fresh database per run):
// - durable history: a message sent, the switch restarted over the same store, a new
//   participant gets it replayed byte for byte; history disabled stores nothing;
// - rooms-sync: rooms follow the rooms table and its change feed live.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { openPglite } from '../../store/db-pglite.ts';
import { openPostgres } from '../../store/db-postgres.ts';
import type { Db } from '../../store/db.ts';
import { migrate } from '../../store/migrate.ts';
import { createSqlStore, type Store } from '../../store/store.ts';
import { freshDatabase } from '../../store/testdatabase.ts';
import { DurableHistory } from './history-store.ts';
import { RoomsSync, syncRooms } from './rooms-sync.ts';
import { ChatSwitch, startChatMsrpListener, type ChatListener } from './switch.ts';
import { join, probe, sleep } from './testpeer.ts';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const DOMAIN = 'chat.example.com';

interface Subject {
  store: Store;
  db: Db;
}

let seq = 0;
const uniqueName = (): string => `r${Date.now().toString(36)}${seq++}`;

async function startSwitch(history?: DurableHistory): Promise<{ sw: ChatSwitch; listener: ChatListener }> {
  const sw = new ChatSwitch({ publicHost: '127.0.0.1', logger, ...(history === undefined ? {} : { history }) });
  const listener = await startChatMsrpListener(sw, { hosts: ['127.0.0.1'], port: 0 });
  return { sw, listener };
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
  return performance.now() - t0;
}

function storeBackedChat(subject: () => Subject): void {
  it('replays the history byte for byte to a participant joining after the switch restarted', async () => {
    const { store, db } = subject();
    const uri = `sip:${uniqueName()}@${DOMAIN}`;
    const history1 = new DurableHistory({ table: store.history, logger });
    const first = await startSwitch(history1);
    const room1 = first.sw.createRoom({ uri, policy: { historySize: 2 } });
    await room1.ready;
    const alice = await join(room1, first.listener.port, 'sip:alice@example.com');
    const bob = await join(room1, first.listener.port, 'sip:bob@example.com');
    // Drain the join notice: queued before the probe, which bob then saw.
    await probe(alice, [bob], uri);
    bob.received.length = 0;
    // Non-UTF-8 bytes in the content: a text round trip would show.
    const sent = [0, 1, 2].map((i) => alice.cpim({ to: uri, content: Buffer.concat([Buffer.from(`msg ${i} `), randomBytes(32), Buffer.from([0xff, 0xfe, 0, 0x0d, 0x0a])]), contentType: 'application/octet-stream' }));
    for (const body of sent) {
      assert.equal((await alice.sendAndWait(body)).status, 200);
      assert.ok((await bob.next()).body.equals(body));
    }
    // Restart: flush the durable history, close the switch first (a shutdown must keep the
    // history: only deleting a room drops it), then detach the history.
    await history1.flush(2000);
    first.sw.close();
    await history1.close();
    first.listener.close();
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE room = $1', [uri]);
    assert.equal(rows.rows[0]!.n, 2, 'trimmed to the room history size, and kept across the switch closing');

    const history2 = new DurableHistory({ table: store.history, logger });
    const second = await startSwitch(history2);
    try {
      const room2 = second.sw.createRoom({ uri, policy: { historySize: 2 } });
      await room2.ready;
      const carol = await join(room2, second.listener.port, 'sip:carol@example.com');
      const got = [await carol.next(), await carol.next()];
      assert.ok(got[0]!.body.equals(sent[1]!), 'oldest kept message first, byte for byte');
      assert.ok(got[1]!.body.equals(sent[2]!), 'newest message second, byte for byte');
      carol.close();
    } finally {
      await history2.close();
      second.sw.close();
      second.listener.close();
    }
  });

  it('stores nothing for a room whose history is disabled', async () => {
    const { store, db } = subject();
    const uri = `sip:${uniqueName()}@${DOMAIN}`;
    const history = new DurableHistory({ table: store.history, logger });
    const { sw, listener } = await startSwitch(history);
    try {
      const room = sw.createRoom({ uri, policy: { historySize: 0 } });
      await room.ready;
      const alice = await join(room, listener.port, 'sip:alice@example.com');
      const bob = await join(room, listener.port, 'sip:bob@example.com');
      const body = alice.cpim({ to: uri, text: 'off the record' });
      assert.equal((await alice.sendAndWait(body)).status, 200);
      await bob.nextText('off the record');
      assert.equal(await history.flush(2000), true);
      const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE room = $1', [uri]);
      assert.equal(rows.rows[0]!.n, 0);
    } finally {
      await history.close();
      sw.close();
      listener.close();
    }
  });

  it('rooms-sync: loads the rooms, applies a policy change live (private messages then get 403), creates and deletes rooms', async () => {
    const { store } = subject();
    const name = uniqueName();
    const uri = `sip:${name}@${DOMAIN}`;
    await store.rooms.put(name, { policy: { privateMessages: true, history: { enabled: true, size: 7 } } });
    const { sw, listener } = await startSwitch();
    const sync = await syncRooms({ store, switch: sw, domain: DOMAIN, logger });
    try {
      const room = sw.room(uri);
      assert.ok(room, 'the stored room exists in the switch after start');
      assert.equal(room.policy.historySize, 7);
      await room.ready;
      const alice = await join(room, listener.port, 'sip:alice@example.com');
      const bob = await join(room, listener.port, 'sip:bob@example.com');
      assert.equal((await alice.sendAndWait(alice.cpim({ to: 'sip:bob@example.com', text: 'psst' }))).status, 200);
      await bob.nextText('psst');

      await store.rooms.put(name, { policy: { privateMessages: false, history: { enabled: true, size: 7 } } });
      const took = await waitUntil('policy applied', () => !room.policy.privateMessages, 1000);
      assert.ok(took < 1000, `applied in ${took.toFixed(0)} ms`);
      assert.equal(sw.room(uri), room, 'the same live room, members kept');
      assert.equal((await alice.sendAndWait(alice.cpim({ to: 'sip:bob@example.com', text: 'psst again' }))).status, 403);

      // A room created in the store appears; a deleted one goes, with its participants.
      const other = uniqueName();
      await store.rooms.put(other, { uri: `sip:${other}-x@${DOMAIN}`, subject: 'Other', policy: { nicknames: false } });
      await waitUntil('room created', () => sw.room(`sip:${other}-x@${DOMAIN}`) !== undefined, 1000);
      const created = sw.room(`sip:${other}-x@${DOMAIN}`)!;
      assert.equal(created.subject, 'Other');
      assert.equal(created.policy.nicknames, false);
      await store.rooms.delete(name);
      await waitUntil('room deleted', () => sw.room(uri) === undefined && room.closed, 1000);
      await alice.closed;
    } finally {
      await sync.stop();
      sw.close();
      listener.close();
    }
  });

  it('rooms-sync: a resync reloads the table, deleting rooms whose notifications were missed', async () => {
    const { store } = subject();
    const [a, b, c] = [uniqueName(), uniqueName(), uniqueName()];
    await store.rooms.put(a, { policy: {} });
    await store.rooms.put(b, { policy: { maxParticipants: 3 } });
    const { sw, listener } = await startSwitch();
    // No change feed: every change below is "missed" until the resync.
    const deaf: Pick<Store, 'rooms' | 'listen'> = { rooms: store.rooms, listen: () => Promise.resolve(() => Promise.resolve()) };
    const sync = new RoomsSync({ store: deaf, switch: sw, domain: DOMAIN, logger });
    await sync.start();
    try {
      const live = (n: string) => sw.room(`sip:${n}@${DOMAIN}`);
      assert.ok(live(a) && live(b));
      // A room made outside the store is not the sync's to delete.
      const local = sw.createRoom({ uri: `sip:local-${a}@${DOMAIN}` });
      await store.rooms.delete(a);
      await store.rooms.put(b, { policy: { maxParticipants: 9 } });
      await store.rooms.put(c, { policy: {} });
      sync.onChange({ table: '*', op: 'resync' });
      await sync.idle();
      assert.equal(live(a), undefined);
      assert.equal(live(b)!.policy.maxParticipants, 9);
      assert.ok(live(c));
      assert.equal(sw.room(local.uri), local);
    } finally {
      await sync.stop();
      sw.close();
      listener.close();
    }
  });
}

describe('chat over the store on PGlite', () => {
  let dir: string;
  let subject: Subject;
  before(async () => {
    dir = mkdtempSync(joinPath(tmpdir(), 'chat-store-'));
    const db = await openPglite(joinPath(dir, 'pglite'));
    await migrate(db, logger);
    subject = { db, store: createSqlStore(db, undefined) };
  });
  after(async () => {
    await subject?.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  storeBackedChat(() => subject);
});

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!adminUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => {
    assert.fail('CI=true but DATABASE_URL is not set: .ci/peers.d/10-postgres.sh should have exported it');
  });
}

describe('chat over the store on PostgreSQL', { skip }, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let subject: Subject | undefined;
  before(async () => {
    database = await freshDatabase(adminUrl!);
    const db = openPostgres({ url: database.url, logger, statementTimeoutMs: 5000 });
    await migrate(db, logger);
    subject = { db, store: createSqlStore(db, undefined) };
  });
  after(async () => {
    await subject?.store.close();
    await database?.drop();
  });
  storeBackedChat(() => subject!);
});
