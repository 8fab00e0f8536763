// Accounting (docs/relay.md "Accounting") through startEngine on real sockets against real
// PostgreSQL (DATABASE_URL, a fresh database): relay sessions (TLS, Digest AUTH, SENDs both
// ways between two clients) and a chat participation (SIP INVITE, MSRP, CPIM, BYE) each
// leave one record with the bytes and messages each way and the close reason, in the
// database and as a log line; the admin API lists and exports them (CSV and JSON); records
// older than the retention are pruned; and the queue towards a database that is down is bounded.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { startTestAdmin } from '../admin/testadmin.ts';
import { offerSdp, SipUac } from '../client/sip-uac.ts';
import { loadEngineConfig, type EngineConfig } from '../config/index.ts';
import { formatCpim } from '../msrp/cpim.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { TestClient, usePathOf } from '../relay/testclient.ts';
import { openStore } from '../store/open.ts';
import { freshDatabase } from '../store/testdatabase.ts';
import type { AccountingRecord } from '../telemetry/accounting.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { eventually } from '../testwait.ts';
import { testPki, type TestPki } from '../transport/testcerts.ts';
import { AccountingWriter } from './accounting.ts';
import { startEngine, type RunningEngine } from './engine.ts';
import { joinRoom } from './testjoin.ts';

const databaseUrl = process.env['DATABASE_URL'];
const skip = databaseUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against';
if (!databaseUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}
const REALM = 'acct.test';
const ROOM_URI = 'sip:lobby@chat.test';

/** JSON log lines, as the engine writes them. */
function captureLog(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('accounting', { skip, timeout: 120_000 }, () => {
  let pki: TestPki;
  let db: { url: string; drop: () => Promise<void> };
  let engine: RunningEngine;
  const log = captureLog();
  before(async () => {
    pki = await testPki();
    db = await freshDatabase(databaseUrl!, 'msrp_acct');
    const c: EngineConfig = loadEngineConfig({
      env: {
        MSRP_RELAY__PUBLIC_HOST: 'localhost', MSRP_AUTH__REALMS: JSON.stringify([{ name: REALM, hosts: [] }]), MSRP_TLS__DIR: pki.server.dir,
        MSRP_DATABASE__URL: db.url, MSRP_CHAT__ENABLED: 'true', MSRP_CHAT__DOMAIN: 'chat.test', MSRP_CHAT__PUBLIC_HOST: '127.0.0.1', MSRP_CHAT__MSRP__TRANSPORT: 'tcp',
      },
    });
    engine = await startEngine({
      ...c,
      relay: { ...c.relay, listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }] },
      http: { ...c.http, host: '127.0.0.1', port: 0, controlPort: 0 },
      chat: { ...c.chat, sip: { host: '127.0.0.1', udpPort: 0, tcpPort: 0 }, msrp: { ...c.chat.msrp, host: '127.0.0.1', port: 0 } },
    }, { logger: log.logger, metrics: createMetrics({ defaultMetrics: false }) });
    await engine.store.createRealm(REALM);
    await engine.store.createUser(REALM, 'alice', 'alice-pw');
    await engine.store.createUser(REALM, 'bob', 'bob-pw');
    await engine.store.rooms.put('lobby', { uri: ROOM_URI, subject: 'accounting', policy: {} });
  });
  after(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it('a relay session leaves one record with bytes and messages each way, its source and close reason, in the database and the log', async () => {
    const port = engine.addresses.msrp[0]!.port;
    const a = await TestClient.connect({ port, ca: pki.caPem });
    const b = await TestClient.connect({ port, ca: pki.caPem });
    const sa = usePathOf(await a.auth(engine.relay.uri, 'alice', 'alice-pw'));
    const sb = usePathOf(await b.auth(engine.relay.uri, 'bob', 'bob-pw'));
    for (const text of ['hello bob', 'second message']) {
      const sent = a.sendMessage([sa, sb, b.uri], text);
      const got = await b.request('SEND');
      b.write(buildResponse(got, 200));
      assert.equal((await a.response(sent.transactionId)).status, 200);
    }
    const back = b.sendMessage([sb, sa, a.uri], 'hi alice!');
    const got = await a.request('SEND');
    a.write(buildResponse(got, 200));
    assert.equal((await b.response(back.transactionId)).status, 200);
    const aliceSource = `127.0.0.1:${a.socket.localPort}`;
    a.close();
    await engine.accounting!.flush();
    const rec = await eventually(async () => {
      await engine.accounting!.flush();
      return (await engine.store.accounting.list({ username: 'alice', kind: 'relay-session' }, { limit: 10 })).items.length === 1;
    }, 'alice\'s record in the database').then(async () => (await engine.store.accounting.list({ username: 'alice' }, { limit: 10 })).items[0]!);
    assert.equal(rec.sessionId, /\/([^/;]+);tcp$/.exec(sa)![1]);
    assert.equal(rec.realm, REALM);
    assert.equal(rec.source, aliceSource);
    assert.equal(rec.bytesIn, 'hello bob'.length + 'second message'.length);
    assert.equal(rec.messagesIn, 2);
    assert.equal(rec.bytesOut, 'hi alice!'.length);
    assert.equal(rec.messagesOut, 1);
    assert.equal(rec.closeReason, 'closed');
    assert.ok(rec.endedAt.getTime() >= rec.startedAt.getTime());
    const line = log.lines.find((l) => l['msg'] === 'accounting record' && l['user'] === 'alice');
    assert.ok(line !== undefined, 'an accounting log line for alice');
    assert.equal(line['bytesIn'], rec.bytesIn);
    assert.equal(line['reason'], 'closed');
    b.close();
    await eventually(async () => {
      await engine.accounting!.flush();
      return (await engine.store.accounting.list({ username: 'bob' }, { limit: 10 })).items.length === 1;
    }, 'bob\'s record');
    const bob = (await engine.store.accounting.list({ username: 'bob' }, { limit: 10 })).items[0]!;
    assert.deepEqual([bob.bytesIn, bob.messagesIn, bob.bytesOut, bob.messagesOut], ['hi alice!'.length, 1, 'hello bob'.length + 'second message'.length, 2]);
  });

  it('a chat participation leaves one record (room, messages and bytes each way, reason sip after BYE)', async () => {
    const chat = engine.addresses.chat!;
    const uac = await SipUac.open('UDP', chat.sipUdp!, 'carol');
    const participant = 'msrp://127.0.0.1:7655/carol-acct;tcp';
    try {
      const { dialog: d, switchPath, p } = await joinRoom(uac, { room: ROOM_URI, offer: offerSdp(participant), participant, msrpPort: chat.msrp });
      try {
        const sipUri = engine.chat!.switch.room(ROOM_URI)!.participants()[0]!.sipUri;
        const cpim = formatCpim({ from: { uri: sipUri }, to: [{ uri: ROOM_URI }], contentType: 'text/plain', content: 'hello room' });
        const sent = p.send('SEND', [switchPath], [
          { name: 'Message-ID', value: 'acct-1' }, { name: 'Byte-Range', value: `1-${cpim.length}/${cpim.length}` }, { name: 'Content-Type', value: 'message/cpim' },
        ], cpim);
        assert.equal((await p.response(sent.transactionId)).status, 200);
        assert.equal((await uac.send(d, 'BYE', { inDialog: true })).status, 200);
        await eventually(async () => {
          await engine.accounting!.flush();
          return (await engine.store.accounting.list({ kind: 'chat-participation' }, { limit: 10 })).items.length === 1;
        }, 'the participation record');
        const rec = (await engine.store.accounting.list({ kind: 'chat-participation' }, { limit: 10 })).items[0]!;
        assert.equal(rec.room, ROOM_URI);
        assert.equal(`sip:${rec.username}@${rec.realm}`, sipUri, 'user and domain of the participant URI');
        assert.equal(rec.username, 'carol');
        assert.equal(rec.messagesIn, 1);
        assert.equal(rec.bytesIn, cpim.length);
        assert.equal(rec.closeReason, 'sip');
        assert.match(rec.source, /^127\.0\.0\.1:\d+$/);
      } finally {
        p.close();
      }
    } finally {
      uac.close();
    }
  });

  it('the admin API lists the records with filters and exports them as CSV and JSON', async () => {
    const at = new Date('2026-01-01T00:00:00Z');
    await engine.store.accounting.insert([{
      kind: 'relay-session', sessionId: 'x1', realm: REALM, username: '=cmd|evil', source: '10.0.0.1:5000',
      startedAt: at, endedAt: new Date(at.getTime() + 1000), bytesIn: 5, bytesOut: 6, messagesIn: 1, messagesOut: 2, closeReason: 'expired',
    }]);
    const admin = await startTestAdmin(engine.store, log.logger);
    try {
      const all = JSON.parse((await admin.call('GET', '/v1/accounting?limit=2')).body) as { items: { username: string }[]; nextCursor?: string };
      assert.equal(all.items.length, 2);
      assert.ok(all.nextCursor !== undefined, 'more than one page');
      const mine = JSON.parse((await admin.call('GET', `/v1/accounting?kind=relay-session&realm=${REALM}&user=alice`)).body) as { items: Record<string, unknown>[] };
      assert.equal(mine.items.length, 1);
      assert.equal(mine.items[0]!['messagesIn'], 2);
      const old = JSON.parse((await admin.call('GET', '/v1/accounting?until=2026-02-01T00:00:00Z')).body) as { items: { sessionId: string }[] };
      assert.deepEqual(old.items.map((i) => i.sessionId), ['x1']);
      assert.equal((await admin.call('GET', '/v1/accounting?kind=nope')).status, 400);

      const csv = await admin.call('GET', '/v1/accounting/export?format=csv');
      assert.equal(csv.status, 200);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      const rows = csv.body.trimEnd().split('\r\n');
      assert.equal(rows[0], 'id,kind,sessionId,realm,username,source,room,startedAt,endedAt,bytesIn,bytesOut,messagesIn,messagesOut,closeReason');
      assert.equal(rows.length, 1 + 4, 'alice, bob, carol and x1');
      assert.ok(rows.some((r) => r.includes(',\'=cmd|evil,')), 'a formula-looking cell is defused');
      assert.ok(rows.some((r) => r.endsWith(`,${'hello bob'.length + 'second message'.length},${'hi alice!'.length},2,1,closed`)), rows.join('\n'));
      const json = await admin.call('GET', `/v1/accounting/export?format=json&kind=chat-participation`);
      const items = JSON.parse(json.body) as { room: string }[];
      assert.deepEqual(items.map((i) => i.room), [ROOM_URI]);
      const capped = JSON.parse((await admin.call('GET', '/v1/accounting/export?format=json&max=3')).body) as unknown[];
      assert.equal(capped.length, 3);
    } finally {
      await admin.close();
    }
  });

  it('prunes records that ended longer ago than retentionDays and keeps the others', async () => {
    const now = Date.now();
    const old = new Date(now - 100 * 86_400_000);
    await engine.store.accounting.insert([{
      kind: 'relay-session', sessionId: 'old', realm: REALM, username: 'old', source: '', startedAt: old, endedAt: old,
      bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, closeReason: 'expired',
    }]);
    const before = (await engine.store.accounting.list({}, { limit: 100 })).items.length;
    const writer = new AccountingWriter({ logger: log.logger, metrics: createMetrics({ defaultMetrics: false }), table: engine.store.accounting, retentionDays: 90, maxPending: 100 });
    try {
      // The writer prunes at start too; prune() again returns 0 or the count once it is done.
      await eventually(async () => (await engine.store.accounting.list({ username: 'old' }, { limit: 1 })).items.length === 0, 'the old record pruned');
      assert.equal(await writer.prune(now), 0, 'nothing older left');
      const left = (await engine.store.accounting.list({}, { limit: 100 })).items;
      assert.equal(left.length, before - 2, 'only the 100-day-old record and the 2026-01-01 one (older than 90 days) went');
    } finally {
      await writer.close();
    }
  });

  it('bounds the records waiting for a database that is down: past maxPending they are counted as dropped, still logged', async () => {
    // The fault: the writer's store is closed (its pool ended), so every insert fails.
    const closed = await openStore({ url: db.url, logger: log.logger });
    await closed.close();
    const metrics = createMetrics({ defaultMetrics: false });
    const capture = captureLog();
    const writer = new AccountingWriter({ logger: capture.logger, metrics, table: closed.accounting, retentionDays: 90, maxPending: 100, flushIntervalMs: 10 });
    const rec = (i: number): AccountingRecord => ({
      kind: 'relay-session', sessionId: `s${i}`, realm: REALM, username: 'u', source: '', startedAt: new Date(), endedAt: new Date(),
      bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, closeReason: 'closed',
    });
    for (let i = 0; i < 150; i++) writer.record(rec(i));
    const text = await metrics.render();
    assert.match(text, /^msrp_accounting_records_total\{kind="relay-session",outcome="dropped"\} 50$/m);
    assert.equal(capture.lines.filter((l) => l['msg'] === 'accounting record').length, 150, 'every record is logged');
    assert.equal(capture.lines.filter((l) => l['msg'] === 'accounting queue full: new records are not written to the database (still logged)').length, 1, 'one warning when dropping starts');
    await eventually(() => capture.lines.some((l) => l['msg'] === 'accounting records not written; retrying'), 'the failed write is logged');
    await writer.close();
  });

  it('a database that is down is tried again after the retry delay, not at each new record once a batch is waiting', async () => {
    const closed = await openStore({ url: db.url, logger: log.logger });
    await closed.close();
    // The fault as above; the wrapper only counts the insert attempts (made synchronously when a flush starts).
    let attempts = 0;
    const table = { ...closed.accounting, insert: (records: readonly AccountingRecord[]) => (attempts++, closed.accounting.insert(records)) };
    const capture = captureLog();
    const writer = new AccountingWriter({ logger: capture.logger, metrics: createMetrics({ defaultMetrics: false }), table, retentionDays: 90, maxPending: 1000 });
    const rec = (i: number): AccountingRecord => ({
      kind: 'relay-session', sessionId: `r${i}`, realm: REALM, username: 'u', source: '', startedAt: new Date(), endedAt: new Date(),
      bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, closeReason: 'closed',
    });
    for (let i = 0; i < 200; i++) writer.record(rec(i));
    await eventually(() => capture.lines.some((l) => l['msg'] === 'accounting records not written; retrying'), 'the failed write is logged');
    assert.equal(attempts, 1, 'a full batch is written at once');
    // More records while the batch waits: each one's timer (if any) fires before the 1 ms one behind it.
    for (let i = 200; i < 220; i++) {
      writer.record(rec(i));
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(attempts, 1, 'no new attempt before the retry delay');
    assert.equal(capture.lines.filter((l) => l['msg'] === 'accounting records not written; retrying').length, 1, 'one warning per failed attempt');
    await writer.close();
  });
});
