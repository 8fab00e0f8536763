// Store contract for the operations features (issue "Operations"), run on PGlite and on
// PostgreSQL by store.pglite.test.ts and store.postgres.test.ts: a Kamailio subscriber table
// in the same database read through store.openSubscribers (docs/relay.md "Existing subscriber
// tables"), and accounting records inserted, filtered, paged and pruned by age.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { AccountingRecord } from '../telemetry/accounting.ts';
import { DEFAULT_SUBSCRIBER_COLUMNS } from './subscribers.ts';
import type { Subject } from './testcontract.ts';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export function operationsContract(subject: () => Subject): void {
  void it('reads a Kamailio subscriber table in the same database: ha1, a clear password, ha1b for user@domain, unknown users, and a missing SHA-256 column', async () => {
    const { db, store } = subject();
    const table = `subscriber_${randomBytes(4).toString('hex')}`;
    await db.exec(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, username VARCHAR(64) DEFAULT '' NOT NULL, domain VARCHAR(64) DEFAULT '' NOT NULL,
      password VARCHAR(64) DEFAULT '' NOT NULL, ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL, UNIQUE (username, domain))`);
    const realm = 'sub.example.org';
    await db.query(`INSERT INTO ${table} (username, domain, password, ha1, ha1b) VALUES ('alice', $1, '', $2, $3), ('bob', $1, 'bob-pw', '', '')`,
      [realm, md5(`alice:${realm}:pw`), md5(`alice@${realm}:${realm}:pw`)]);
    const source = await store.openSubscribers({ table, columns: DEFAULT_SUBSCRIBER_COLUMNS });
    assert.deepEqual([...source.present].sort(), ['domain', 'ha1', 'ha1b', 'password', 'username']);
    assert.deepEqual(await source.lookup(realm, 'alice'), { ha1Md5: md5(`alice:${realm}:pw`), ha1Sha256: '', disabled: false });
    assert.deepEqual(await source.lookup(realm, 'bob'), { ha1Md5: md5(`bob:${realm}:bob-pw`), ha1Sha256: sha256(`bob:${realm}:bob-pw`), disabled: false });
    assert.equal((await source.lookup(realm, `alice@${realm}`))?.ha1Md5, md5(`alice@${realm}:${realm}:pw`));
    assert.equal(await source.lookup(realm, 'carol'), undefined);
    assert.equal(await source.lookup('other.realm', 'alice'), undefined, 'the realm is the domain');
    await assert.rejects(store.openSubscribers({ table: `${table}; DROP TABLE users`, columns: DEFAULT_SUBSCRIBER_COLUMNS }), /not a plain SQL identifier/);
  });

  void it('stores accounting records, lists them newest first with filters and pages, and prunes by end time', async () => {
    const { store } = subject();
    const user = `acct-${randomBytes(4).toString('hex')}`;
    const at = (days: number) => new Date(Date.now() - days * 86_400_000);
    const rec = (i: number, endedDaysAgo: number): AccountingRecord => ({
      kind: i % 2 === 0 ? 'relay-session' : 'chat-participation', sessionId: `s${i}`, realm: 'acct.example', username: user, source: '10.0.0.1:5000',
      ...(i % 2 === 1 ? { room: 'sip:lobby@chat.example' } : {}),
      startedAt: at(endedDaysAgo + 1), endedAt: at(endedDaysAgo), bytesIn: 1000 * i, bytesOut: 2 ** 40 + i, messagesIn: i, messagesOut: 2 * i, closeReason: 'closed',
    });
    await store.accounting.insert([rec(0, 200), rec(1, 2), rec(2, 1), rec(3, 0)]);
    const first = await store.accounting.list({ username: user }, { limit: 3 });
    assert.deepEqual(first.items.map((r) => r.sessionId), ['s3', 's2', 's1']);
    assert.equal(first.items[0]!.bytesOut, 2 ** 40 + 3, 'byte counts past 32 bits survive');
    assert.equal(first.items[0]!.room, 'sip:lobby@chat.example');
    const second = await store.accounting.list({ username: user }, { limit: 3, after: first.next });
    assert.deepEqual(second.items.map((r) => r.sessionId), ['s0']);
    assert.deepEqual((await store.accounting.list({ username: user, kind: 'relay-session' }, { limit: 10 })).items.map((r) => r.sessionId), ['s2', 's0']);
    assert.deepEqual((await store.accounting.list({ username: user, since: at(1.5) }, { limit: 10 })).items.map((r) => r.sessionId), ['s3', 's2']);
    assert.ok((await store.accounting.prune(at(90))) >= 1);
    assert.deepEqual((await store.accounting.list({ username: user }, { limit: 10 })).items.map((r) => r.sessionId), ['s3', 's2', 's1']);
  });
}
