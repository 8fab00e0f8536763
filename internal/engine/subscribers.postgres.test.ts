// Credentials from an existing SIP subscriber table (docs/relay.md "Existing subscriber
// tables"), through startEngine on real sockets (TLS, Digest AUTH) against real PostgreSQL
// (DATABASE_URL): the SIP proxy's database is a fresh database whose `subscriber` table is
// created from the upstream column lists (Kamailio: username, domain, password, ha1, ha1b;
// OpenSIPS 3.x: ha1, ha1_sha256, ha1_sha512t256 instead of ha1b). A trigger on the table
// records every write with the writer's application_name: the engine (application_name
// "msrp") must never appear there.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadEngineConfig, type EngineConfig } from '../config/index.ts';
import { TestClient } from '../relay/testclient.ts';
import { pollUntil } from '../relay/teststore.ts';
import { freshDatabase } from '../store/testdatabase.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { startEngine, type RunningEngine } from './engine.ts';

const logger = createLogger({ name: 'subscribers-test', level: process.env['TEST_LOG_LEVEL'] ?? 'silent', env: {} });
const databaseUrl = process.env['DATABASE_URL'];
const skip = databaseUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against';
if (!databaseUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}
const REALM = 'sip.example.org';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

// Kamailio's auth_db subscriber table (kamctl postgres schema, table version 7).
const KAMAILIO = `CREATE TABLE subscriber (
  id SERIAL PRIMARY KEY NOT NULL,
  username VARCHAR(64) DEFAULT '' NOT NULL,
  domain VARCHAR(64) DEFAULT '' NOT NULL,
  password VARCHAR(64) DEFAULT '' NOT NULL,
  ha1 VARCHAR(128) DEFAULT '' NOT NULL,
  ha1b VARCHAR(128) DEFAULT '' NOT NULL,
  CONSTRAINT subscriber_account_idx UNIQUE (username, domain))`;
// OpenSIPS 3.x's subscriber table (table version 8), in a schema of its own.
const OPENSIPS = `CREATE SCHEMA opensips; CREATE TABLE opensips.subscriber (
  id SERIAL PRIMARY KEY NOT NULL,
  username VARCHAR(64) DEFAULT '' NOT NULL,
  domain VARCHAR(64) DEFAULT '' NOT NULL,
  password VARCHAR(25) DEFAULT '' NOT NULL,
  ha1 VARCHAR(64) DEFAULT '' NOT NULL,
  ha1_sha256 VARCHAR(64) DEFAULT '' NOT NULL,
  ha1_sha512t256 VARCHAR(64) DEFAULT '' NOT NULL,
  CONSTRAINT subscriber_account_idx UNIQUE (username, domain))`;
/** Records every write to a table with who made it (application_name). */
const writeLog = (table: string): string => `CREATE TABLE write_log (tbl text, op text, app text);
  CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO write_log VALUES (TG_TABLE_NAME, TG_OP, current_setting('application_name')); RETURN NULL; END $$;
  CREATE TRIGGER log_write AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION log_write()`;
/** The change-feed trigger of docs/relay.md "Existing subscriber tables". */
const FEED_TRIGGER = `CREATE FUNCTION subscriber_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE rec record;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  PERFORM pg_notify('msrp_changes', json_build_object('table', 'users', 'op', lower(TG_OP),
    'key', json_build_object('realm', rec.domain, 'username', rec.username))::text);
  RETURN NULL;
END $$;
CREATE TRIGGER subscriber_notify AFTER INSERT OR UPDATE OR DELETE ON subscriber
  FOR EACH ROW EXECUTE FUNCTION subscriber_notify()`;

describe('credentials from a subscriber table', { skip, timeout: 120_000 }, () => {
  let pki: TestPki;
  const drops: (() => Promise<void>)[] = [];
  before(async () => {
    pki = await testPki();
  });
  after(async () => {
    for (const d of drops) await d().catch(() => undefined);
  });

  /** A fresh database with `sql` run as the proxy's own client (application_name "proxy"). */
  async function proxyDatabase(sql: string): Promise<{ url: string; client: pg.Client }> {
    const db = await freshDatabase(databaseUrl!, 'msrp_sub');
    const client = new pg.Client({ connectionString: db.url, application_name: 'proxy' });
    await client.connect();
    drops.push(async () => {
      await client.end();
      await db.drop();
    });
    await client.query(sql);
    return { url: db.url, client };
  }

  async function engine(env: Record<string, string>): Promise<RunningEngine> {
    const own = await freshDatabase(databaseUrl!, 'msrp_own');
    const c: EngineConfig = loadEngineConfig({
      env: {
        MSRP_RELAY__PUBLIC_HOST: 'localhost',
        MSRP_AUTH__REALMS: JSON.stringify([{ name: REALM, hosts: [] }]),
        MSRP_TLS__DIR: pki.server.dir,
        MSRP_DATABASE__URL: own.url,
        MSRP_AUTH__SUBSCRIBERS__ENABLED: 'true',
        // The tests poll with the old or new password until the cache turns over: many failures
        // by design, which the password-guessing limit (10 per user a minute) would refuse.
        MSRP_AUTH__GUESSING__PER_USER: '100000', MSRP_AUTH__GUESSING__PER_SOURCE: '100000',
        ...env,
      },
    });
    const e = await startEngine({
      ...c,
      relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }] },
      http: { ...c.http, host: '127.0.0.1', port: 0, controlPort: 0 },
    }, { logger, metrics: createMetrics({ defaultMetrics: false }) });
    drops.unshift(async () => {
      await e.stop();
      await own.drop();
    });
    return e;
  }

  async function authStatus(e: RunningEngine, user: string, password: string, algorithm: 'MD5' | 'SHA-256' = 'SHA-256'): Promise<number> {
    const c = await TestClient.connect({ port: e.addresses.msrp[0]!.port, ca: pki.caPem });
    try {
      return (await c.auth(e.relay.uri, user, password, { algorithm })).status;
    } finally {
      c.close();
    }
  }

  it('a Kamailio subscriber authenticates with MD5 Digest (ha1, ha1b and a clear password), a wrong password gets 403, and the engine never writes the table', async () => {
    const proxy = await proxyDatabase(`${KAMAILIO}; ${writeLog('subscriber')}`);
    // alice: HA1 only (calculate_ha1=no); bob: a clear password only; carol logs in as carol@domain (ha1b).
    await proxy.client.query(`INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES
      ('alice', $1, '', $2, $3), ('bob', $1, 'bob-pw', '', ''), ('carol', $1, '', '', $4)`,
    [REALM, md5(`alice:${REALM}:alice-pw`), md5(`alice@${REALM}:${REALM}:alice-pw`), md5(`carol@${REALM}:${REALM}:carol-pw`)]);
    const e = await engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url, MSRP_AUTH__SUBSCRIBERS__MODE: 'instead', MSRP_AUTH__ALGORITHMS: '["MD5"]' });

    assert.equal(await authStatus(e, 'alice', 'alice-pw', 'MD5'), 200, 'alice by her ha1');
    assert.equal(await authStatus(e, `alice@${REALM}`, 'alice-pw', 'MD5'), 200, 'alice@domain by her ha1b');
    assert.equal(await authStatus(e, 'bob', 'bob-pw', 'MD5'), 200, 'bob by his clear password');
    assert.equal(await authStatus(e, `carol@${REALM}`, 'carol-pw', 'MD5'), 200, 'carol@domain by her ha1b');
    assert.equal(await authStatus(e, 'alice', 'wrong-pw', 'MD5'), 403);
    assert.equal(await authStatus(e, 'nobody', 'x', 'MD5'), 403);
    // The table has no SHA-256 HA1 for alice: an SHA-256 answer must not pass, however it is computed.
    const e2 = await engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url, MSRP_AUTH__SUBSCRIBERS__MODE: 'instead' });
    assert.equal(await authStatus(e2, 'alice', 'alice-pw', 'SHA-256'), 403);
    assert.equal(await authStatus(e2, 'bob', 'bob-pw', 'SHA-256'), 200, 'a clear password gives a SHA-256 HA1');

    const writes = await proxy.client.query<{ tbl: string; op: string; app: string }>('SELECT tbl, op, app FROM write_log');
    assert.deepEqual(writes.rows.map((r) => r.app), ['proxy'], 'only the proxy\'s own INSERT wrote the table');
    // The engine's pool is read-only at the server: a write on its settings is refused.
    const ro = new pg.Client({ connectionString: proxy.url, application_name: 'msrp', options: '-c default_transaction_read_only=on' });
    await ro.connect();
    try {
      await assert.rejects(ro.query(`DELETE FROM subscriber`), /read-only transaction/);
    } finally {
      await ro.end();
    }
  });

  it('an OpenSIPS subscriber (schema-qualified table, ha1_sha256) authenticates with SHA-256 alongside our own users; without a change feed a changed row applies within cacheTtlSec', async () => {
    const proxy = await proxyDatabase(OPENSIPS);
    await proxy.client.query(`INSERT INTO opensips.subscriber (username, domain, ha1, ha1_sha256) VALUES ('dave', $1, $2, $3)`,
      [REALM, md5(`dave:${REALM}:dave-pw`), sha256(`dave:${REALM}:dave-pw`)]);
    const e = await engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url, MSRP_AUTH__SUBSCRIBERS__TABLE: 'opensips.subscriber', MSRP_AUTH__SUBSCRIBERS__CACHE_TTL_SEC: '1' });
    await e.store.createRealm(REALM);
    await e.store.createUser(REALM, 'erin', 'erin-pw');
    assert.equal(await authStatus(e, 'dave', 'dave-pw'), 200, 'dave from the subscriber table (SHA-256)');
    assert.equal(await authStatus(e, 'dave', 'dave-pw', 'MD5'), 200, 'and MD5');
    assert.equal(await authStatus(e, 'erin', 'erin-pw'), 200, 'erin from our own users');

    await proxy.client.query(`UPDATE opensips.subscriber SET ha1 = $1, ha1_sha256 = $2 WHERE username = 'dave'`,
      [md5(`dave:${REALM}:dave-new`), sha256(`dave:${REALM}:dave-new`)]);
    // No trigger: the cached entry is used until the 1 s TTL, then read again.
    const changed = await pollUntil(() => authStatus(e, 'dave', 'dave-new'), 200, 10_000, 100);
    assert.equal(changed.last, 200, 'the new password applies once the TTL passed');
    assert.equal(await authStatus(e, 'dave', 'dave-pw'), 403);
    await proxy.client.query(`DELETE FROM opensips.subscriber WHERE username = 'dave'`);
    assert.equal((await pollUntil(() => authStatus(e, 'dave', 'dave-new'), 403, 10_000, 100)).last, 403, 'a removed subscriber is refused');
  });

  it('with the change-feed trigger on the table (same database as ours), a changed password applies well before the 60 s TTL', async () => {
    const own = await freshDatabase(databaseUrl!, 'msrp_same');
    drops.push(own.drop);
    const c = new pg.Client({ connectionString: own.url, application_name: 'proxy' });
    await c.connect();
    drops.unshift(() => c.end());
    await c.query(`${KAMAILIO}; ${FEED_TRIGGER}`);
    await c.query(`INSERT INTO subscriber (username, domain, password) VALUES ('frank', $1, 'frank-pw')`, [REALM]);
    const e = await engine({ MSRP_DATABASE__URL: own.url, MSRP_AUTH__SUBSCRIBERS__CHANGE_FEED: 'true' });
    assert.equal(await authStatus(e, 'frank', 'frank-pw'), 200);
    assert.equal(e.credentials.credentials.size, 1, 'frank is cached');
    await c.query(`UPDATE subscriber SET password = 'frank-new' WHERE username = 'frank'`);
    const r = await pollUntil(() => authStatus(e, 'frank', 'frank-new'), 200, 10_000, 50);
    assert.equal(r.last, 200, `the change feed dropped frank's entry (${Math.round(r.ms)} ms)`);
    assert.equal(await authStatus(e, 'frank', 'frank-pw'), 403);
  });

  for (const mode of ['instead', 'alongside'] as const) it(`with mode ${mode} and the table in another database, /readyz reports that database: it goes down when the subscriber database does, though ours is up`, async () => {
    const proxy = await freshDatabase(databaseUrl!, 'msrp_sub');
    let dropped = false;
    drops.push(async () => {
      if (!dropped) await proxy.drop();
    });
    const c = new pg.Client({ connectionString: proxy.url, application_name: 'proxy' });
    await c.connect();
    await c.query(KAMAILIO);
    await c.end();
    const e = await engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url, MSRP_AUTH__SUBSCRIBERS__MODE: mode });
    const readyStore = async (): Promise<{ up: boolean; error?: string }> => {
      const res = await fetch(`http://127.0.0.1:${e.addresses.http!.port}/readyz`);
      return ((await res.json()) as { store: { up: boolean; error?: string } }).store;
    };
    assert.equal(await e.credentials.health.check(), true);
    assert.equal((await readyStore()).up, true, 'both databases up');
    // The subscriber database goes away (its connections are closed and it cannot be reached again).
    await proxy.drop();
    dropped = true;
    assert.equal(await e.credentials.health.check(), false, 'the ping went to the subscriber database');
    const store = await readyStore();
    assert.equal(store.up, false, '/readyz reports the database the credentials come from');
    assert.match(store.error ?? '', /subscriber database/);
    await e.store.ping(); // ours is up all along
  });

  it('a subscriber table without the configured columns is refused at start with a clear error', async () => {
    const proxy = await proxyDatabase('CREATE TABLE subscriber (id int, login text, domain text)');
    await assert.rejects(engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url }), /has no column "username"/);
    await assert.rejects(engine({ MSRP_AUTH__SUBSCRIBERS__URL: proxy.url, MSRP_AUTH__SUBSCRIBERS__TABLE: 'missing' }), /subscriber table missing not found/);
  });
});
