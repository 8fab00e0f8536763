// The behaviour every Store must have, run against PGlite (store.pglite.test.ts) and a
// real PostgreSQL server (store.postgres.test.ts). Not a test file itself, so the
// floating-promise rule applies: node:test awaits `it` itself, hence `void it(...)`.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ha1 } from '../auth/digest.ts';
import type { Db } from './db.ts';
import { StoreError } from './errors.ts';
import { migrate, readMigrations } from './migrate.ts';
import type { ChangeEvent, Store } from './store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { eventually } from '../testwait.ts';

export interface Subject {
  store: Store;
  /** The same database, for looking behind the API. */
  db: Db;
}

export const quietLogger = createLogger({ name: 'store-test', level: 'silent', env: {} });

let seq = 0;
/** A realm name no other test uses, so tests share one database without interfering. */
export const uniqueRealm = (): string => `r${process.pid}-${Date.now().toString(36)}-${seq++}.example.com`;

export async function rejectsWith(p: Promise<unknown>, code: StoreError['code']): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StoreError, `not a StoreError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

function collect(store: Store) {
  const events: ChangeEvent[] = [];
  const waiters: (() => void)[] = [];
  const ready = store.listen((e) => {
    events.push(e);
    waiters.splice(0).forEach((w) => w());
  });
  const waitFor = async (n: number): Promise<ChangeEvent[]> => {
    const deadline = Date.now() + 5000;
    while (events.length < n) {
      if (Date.now() > deadline) assert.fail(`waited for ${n} events, got ${JSON.stringify(events)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return events;
  };
  return { events, ready, waitFor };
}

export function storeContract(subject: () => Subject): void {
  void it('creates, reads and lists realms with timestamps', async () => {
    const { store } = subject();
    const name = uniqueRealm();
    const created = await store.createRealm(name);
    assert.equal(created.name, name);
    assert.ok(created.createdAt instanceof Date);
    assert.deepEqual(await store.getRealm(name), created);
    assert.ok((await store.listRealms()).some((r) => r.name === name));
    assert.equal(await store.getRealm(`missing-${name}`), undefined);
  });

  void it('refuses a duplicate realm with conflict and an unknown one with not-found', async () => {
    const { store } = subject();
    const name = uniqueRealm();
    await store.createRealm(name);
    await rejectsWith(store.createRealm(name), 'conflict');
    await rejectsWith(store.deleteRealm(`missing-${name}`), 'not-found');
    await rejectsWith(store.createRealm(''), 'invalid');
  });

  void it('stores HA1 digests for MD5 and SHA-256 and never the password', async () => {
    const { store, db } = subject();
    const realm = uniqueRealm();
    await store.createRealm(realm);
    const user = await store.createUser(realm, 'alice', 'Circle of Life');
    assert.deepEqual([user.realm, user.username, user.disabled, user.hasSecret], [realm, 'alice', false, false]);
    assert.deepEqual(await store.getUserCredentials(realm, 'alice'), {
      ha1Md5: ha1('MD5', 'alice', realm, 'Circle of Life'),
      ha1Sha256: ha1('SHA-256', 'alice', realm, 'Circle of Life'),
      disabled: false,
    });
    const dump = await db.query<{ row: string }>(`SELECT u::text AS row FROM users u JOIN realms r ON r.id = u.realm_id WHERE r.name = $1`, [realm]);
    assert.equal(dump.rows.length, 1);
    assert.ok(!dump.rows[0]!.row.includes('Circle of Life'));
  });

  void it('refuses users in a missing realm, duplicates and names with a colon', async () => {
    const { store } = subject();
    const realm = uniqueRealm();
    await rejectsWith(store.createUser(realm, 'bob', 'pw'), 'not-found');
    await store.createRealm(realm);
    await store.createUser(realm, 'bob', 'pw');
    await rejectsWith(store.createUser(realm, 'bob', 'pw2'), 'conflict');
    await rejectsWith(store.createUser(realm, 'b:ob', 'pw'), 'invalid');
    assert.equal(await store.getUserCredentials(realm, 'nobody'), undefined);
  });

  void it('changes the password, disables, enables and deletes users', async () => {
    const { store } = subject();
    const realm = uniqueRealm();
    await store.createRealm(realm);
    await store.createUser(realm, 'carol', 'old');
    await store.setPassword(realm, 'carol', 'new');
    assert.equal((await store.getUserCredentials(realm, 'carol'))?.ha1Sha256, ha1('SHA-256', 'carol', realm, 'new'));
    await store.disableUser(realm, 'carol');
    assert.equal((await store.getUserCredentials(realm, 'carol'))?.disabled, true);
    await store.enableUser(realm, 'carol');
    assert.equal((await store.getUserCredentials(realm, 'carol'))?.disabled, false);
    await store.deleteUser(realm, 'carol');
    assert.equal(await store.getUserCredentials(realm, 'carol'), undefined);
    for (const op of [() => store.setPassword(realm, 'carol', 'x'), () => store.disableUser(realm, 'carol'), () => store.enableUser(realm, 'carol'), () => store.deleteUser(realm, 'carol')]) {
      await rejectsWith(op(), 'not-found');
    }
  });

  void it('lists users of a realm in name order and cascades a realm deletion to its users', async () => {
    const { store } = subject();
    const realm = uniqueRealm();
    await store.createRealm(realm);
    assert.deepEqual(await store.listUsers(realm), []);
    await store.createUser(realm, 'zed', 'pw');
    await store.createUser(realm, 'amy', 'pw');
    assert.deepEqual((await store.listUsers(realm)).map((u) => u.username), ['amy', 'zed']);
    await store.deleteRealm(realm);
    await rejectsWith(store.listUsers(realm), 'not-found');
    assert.equal(await store.getUserCredentials(realm, 'amy'), undefined);
  });

  void it('seals a recoverable secret that only opens for its own row', async () => {
    const { store, db } = subject();
    const realm = uniqueRealm();
    await store.createRealm(realm);
    const u = await store.createUser(realm, 'dave', 's3cret-value', { storeSecret: true });
    assert.equal(u.hasSecret, true);
    assert.equal(await store.getUserSecret(realm, 'dave'), 's3cret-value');
    await store.setPassword(realm, 'dave', 'rotated');
    assert.equal(await store.getUserSecret(realm, 'dave'), 'rotated', 'an existing secret follows the new password');
    await store.createUser(realm, 'erin', 'pw');
    assert.equal(await store.getUserSecret(realm, 'erin'), undefined);
    const raw = await db.query<{ secret_enc: Uint8Array }>(`SELECT secret_enc FROM users u JOIN realms r ON r.id = u.realm_id WHERE r.name = $1 AND username = 'dave'`, [realm]);
    assert.ok(!Buffer.from(raw.rows[0]!.secret_enc).toString('latin1').includes('rotated'));
    await db.query(`UPDATE users SET secret_enc = $1 WHERE username = 'erin' AND realm_id = (SELECT id FROM realms WHERE name = $2)`, [raw.rows[0]!.secret_enc, realm]);
    await rejectsWith(store.getUserSecret(realm, 'erin'), 'invalid');
  });

  void it('notifies msrp_changes for every write, including writes made with plain SQL', async () => {
    const { store, db } = subject();
    const feed = collect(store);
    const unlisten = await feed.ready;
    const realm = uniqueRealm();
    await store.createRealm(realm);
    await store.createUser(realm, 'fay', 'pw');
    await store.disableUser(realm, 'fay');
    await store.deleteUser(realm, 'fay');
    await db.query('UPDATE realms SET updated_at = now() WHERE name = $1', [realm]);
    await store.deleteRealm(realm);
    const events = (await feed.waitFor(6)).filter((e) => e.table === '*' || ('realm' in e.key && e.key.realm === realm));
    assert.deepEqual(events, [
      { table: 'realms', op: 'insert', key: { realm } },
      { table: 'users', op: 'insert', key: { realm, username: 'fay' } },
      { table: 'users', op: 'update', key: { realm, username: 'fay' } },
      { table: 'users', op: 'delete', key: { realm, username: 'fay' } },
      { table: 'realms', op: 'update', key: { realm } },
      { table: 'realms', op: 'delete', key: { realm } },
    ]);
    // A second listener stays on as the probe: once it has seen two later writes, a
    // notification for the unlistened one would have come too (PGlite hands a notification to
    // every listener in one pass; on PostgreSQL unlisten ends that LISTEN connection, and the
    // probe's own connection sees the same commits).
    const probe = collect(store);
    const unlistenProbe = await probe.ready;
    await unlisten();
    const before = feed.events.length;
    const later = [uniqueRealm(), uniqueRealm()];
    for (const name of later) await store.createRealm(name);
    await eventually(() => later.every((name) => probe.events.some((e) => e.table === 'realms' && e.key.realm === name)), 'the probe listener to see both later writes');
    await unlistenProbe();
    assert.equal(feed.events.length, before, 'no events after unlisten');
  });

  void it('notifies room and token writes, and nothing for a room written again unchanged', async () => {
    const { store } = subject();
    const feed = collect(store);
    const unlisten = await feed.ready;
    const room = `room-${uniqueRealm().replace(/[^a-z0-9]/g, '').slice(-40)}`;
    await store.rooms.put(room, { uri: `sip:${room}@example.com` });
    await store.rooms.put(room, { uri: `sip:${room}@example.com` });
    await store.rooms.put(room, { uri: `sip:${room}@example.com`, subject: 'hi' });
    await store.rooms.delete(room);
    const id = randomBytes(8).toString('hex');
    await store.tokens.create({ id, name: 't', role: 'read-only', hash: randomBytes(32), createdBy: 'test' });
    await store.tokens.revoke(id);
    const mine = (e: ChangeEvent): boolean => (e.table === 'rooms' && e.key.room === room) || (e.table === 'tokens' && e.key.id === id);
    await eventually(() => feed.events.filter(mine).length >= 5, 'five room and token events').catch(() => undefined);
    assert.deepEqual(feed.events.filter(mine), [
      { table: 'rooms', op: 'insert', key: { room }, generation: 1 },
      { table: 'rooms', op: 'update', key: { room }, generation: 2 },
      { table: 'rooms', op: 'delete', key: { room }, generation: 2 },
      { table: 'tokens', op: 'insert', key: { id } },
      { table: 'tokens', op: 'update', key: { id } },
    ]);
    await unlisten();
  });

  void it('applies each migration once and refuses an applied migration that changed', async () => {
    const { db } = subject();
    assert.deepEqual(await migrate(db, quietLogger), []);
    const rows = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(rows.rows.map((r) => r.version), readMigrations().map((m) => m.version));
    const changed = readMigrations().map((m) => ({ ...m, checksum: 'edited' }));
    await rejectsWith(migrate(db, quietLogger, changed), 'migration');
  });
}
