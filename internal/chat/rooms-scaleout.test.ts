// Rooms over three replicas (docs/chat.md "Several pods"): three chat server processes
// (internal/chat/testdata/replica.ts) on one real PostgreSQL database (DATABASE_URL, a
// fresh database per run), their mesh channels on 127.0.1.0-2 with the test mesh
// certificate. Three participants join one room, each through a different replica (SIP over
// TCP and MSRP to that replica's own ports, as a load balancer would spread them): they are
// in one room. Then the owner is SIGKILLed: the others get BYE and lose their MSRP
// connection, rejoin through the surviving replicas, and the room, now on a live replica,
// replays its history from the store.
import { freshDatabase } from '../store/testdatabase.ts';
import { waitFor } from '../testwait.ts';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { offerSdp, SipUac, type UacDialog } from '../client/sip-uac.ts';
import { getHeader, TestPeer, type Received } from './switch/testpeer.ts';
import { freePort } from '../relay/testrelay.ts';
import { headerValue } from '../sip/message.ts';
import { migrate } from '../store/migrate.ts';
import { openPostgres } from '../store/db-postgres.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { testPki } from '../transport/testcerts.ts';

const adminUrl = process.env['DATABASE_URL'];
const skip = adminUrl ? false : 'DATABASE_URL is not set: no PostgreSQL server to test against (start one with e2e/postgres/start.sh)';
if (!adminUrl && process.env['CI'] === 'true') {
  it('has a PostgreSQL server under CI', () => assert.fail('CI=true but DATABASE_URL is not set'));
}

const logger = pino({ level: 'silent' });
const ROOM = 'sip:lobby@chat.test';
const LEASE_MS = 3000;
const REPLICA = fileURLToPath(new URL('./testdata/replica.ts', import.meta.url));

interface Replica {
  readonly ordinal: number;
  readonly sip: number;
  readonly msrp: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}


async function startReplica(ordinal: number, env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [REPLICA], {
    env: { ...process.env, ...env, ROOMS_ORDINAL: String(ordinal) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`replica ${ordinal} exited (${code}) before it was ready`)));
  });
  const ports = JSON.parse(line) as { sip: number; msrp: number };
  return { ordinal, sip: ports.sip, msrp: ports.msrp, child, exited };
}

/** The next NOTIFY whose body passes `match` (earlier ones are skipped). */
async function notifyWhere(uac: SipUac, match: (body: string) => boolean, timeoutMs = 5000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = await uac.nextRequest('NOTIFY', Math.max(1, end - Date.now()));
    const body = n.body.toString();
    if (match(body)) return body;
  }
}

const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> => waitFor(probe, what, timeoutMs);

/** A participant: SIP over TCP to one replica's focus, MSRP to that replica's switch. */
class Participant {
  readonly name: string;
  readonly sipUri: string;
  uac!: SipUac;
  dialog!: UacDialog;
  peer!: TestPeer;
  entry!: Replica;

  constructor(name: string) {
    this.name = name;
    this.sipUri = `sip:${name}@example.com`;
  }

  /** INVITE through `entry`; resolves to the final status (200: joined and bound). */
  async join(entry: Replica, room = ROOM): Promise<number> {
    this.entry = entry;
    this.uac = await SipUac.open('TCP', entry.sip, this.name);
    this.peer = new TestPeer(this.sipUri);
    this.dialog = this.uac.newDialog(room);
    const res = await this.uac.send(this.dialog, 'INVITE', { body: offerSdp(this.peer.uri) });
    if (res.status !== 200) {
      this.uac.close();
      return res.status;
    }
    await this.uac.send(this.dialog, 'ACK');
    const path = /^a=path:(\S+)$/m.exec(res.body.toString())?.[1];
    assert.ok(path, 'the answer has a=path');
    this.peer.focusUri = path;
    // The load balancer sent us to our entry replica, whatever replica the session URI names.
    await this.peer.connect(entry.msrp);
    const bound = await this.peer.bind();
    assert.equal(bound.status, 200, `${this.name} bound its session through replica ${entry.ordinal}`);
    return 200;
  }

  /** Joins, retrying while the room is unavailable (503 while a dead owner's lease runs out). */
  async rejoin(entry: Replica, room = ROOM): Promise<void> {
    await until(`${this.name} rejoins through replica ${entry.ordinal}`, async () => {
      const status = await this.join(entry, room);
      if (status === 200) return true;
      assert.equal(status, 503, `only 503 while the room moves, got ${status}`);
      return undefined;
    }, LEASE_MS * 4);
  }

  say(text: string): void {
    this.peer.send(this.peer.cpim({ to: ROOM, text }));
  }

  close(): void {
    this.peer?.close();
    this.uac?.close();
  }
}

describe('chat rooms over three replicas', { skip, timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let store: Store;
  const replicas: Replica[] = [];
  const people = [new Participant('alice'), new Participant('bob'), new Participant('carol')];
  const [alice, bob, carol] = people as [Participant, Participant, Participant];

  before(async () => {
    database = await freshDatabase(adminUrl!);
    const db = openPostgres({ url: database.url, logger });
    await migrate(db, logger);
    await db.close();
    store = await openStore({ url: database.url, logger });
    await store.rooms.put('atrium', { policy: { history: { enabled: true, size: 5 } } });
    await store.rooms.put('hall', { policy: { history: { enabled: true, size: 5 } } });
    await store.rooms.put('forum', { policy: { notices: false } });
    // The moderator authenticates with SIP Digest (a REFER on the word of a From is refused).
    await store.createRealm('example.com');
    await store.createUser('example.com', 'mod', 'mod-pw');
    await store.rooms.put('lobby', { policy: { privateMessages: true, nicknames: true, moderators: ['sip:mod@example.com'], history: { enabled: true, size: 20 } } });
    const pki = await testPki();
    const env = { ROOMS_DB_URL: database.url, ROOMS_MESH_PORT: String(await freePort('127.0.1.0')), ROOMS_MESH_TLS_DIR: pki.mesh.dir, ROOMS_LEASE_MS: String(LEASE_MS), ROOMS_HEARTBEAT_MS: '200' };
    replicas.push(...await Promise.all([0, 1, 2].map((k) => startReplica(k, env))));
  });

  after(async () => {
    for (const p of people) p.close();
    for (const r of replicas) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await store?.close();
    await database?.drop();
  });

  it('gives a room one owner when three replicas are asked for it at once', async () => {
    const HALL = 'sip:hall@chat.test';
    const uacs = await Promise.all(replicas.map((r, k) => SipUac.open('TCP', r.sip, `racer${k}`)));
    try {
      const answers = await Promise.all(uacs.map((u, k) => u.send(u.newDialog(HALL), 'INVITE', { body: offerSdp(`msrp://127.0.0.1:9/racer${k};tcp`) })));
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
      const owners = answers.map((a) => /^a=path:msrp:\/\/[^/]+\/r(\d+)-/m.exec(a.body.toString())?.[1]);
      const holder = (await store.leases.get(HALL))?.holder;
      assert.ok(holder !== undefined);
      assert.deepEqual(owners, [String(holder), String(holder), String(holder)], 'every answer names the lease holder\'s switch');
    } finally {
      for (const u of uacs) u.close();
    }
  });

  it('applies a re-INVITE with a new MSRP path at the owner when it comes through another replica', async () => {
    const FORUM = 'sip:forum@chat.test';
    const [owner, mover] = [new Participant('olive'), new Participant('milo')];
    try {
      assert.equal(await owner.join(replicas[0]!, FORUM), 200);
      assert.equal(await mover.join(replicas[1]!, FORUM), 200);
      assert.equal((await store.leases.get(FORUM))?.holder, 0);
      const moved = new TestPeer(mover.sipUri);
      const res = await mover.uac.send(mover.dialog, 'INVITE', { inDialog: true, body: offerSdp(moved.uri) });
      assert.equal(res.status, 200);
      await mover.uac.send(mover.dialog, 'ACK');
      moved.focusUri = /^a=path:(\S+)$/m.exec(res.body.toString())![1]!;
      assert.equal(moved.focusUri, mover.peer.focusUri, 'the same session at the owner');
      await mover.peer.closed; // the owner left the old connection
      await moved.connect(replicas[1]!.msrp);
      assert.equal((await moved.bind()).status, 200, 'the new connection binds the same session, through replica 1');
      assert.equal((await owner.peer.sendAndWait(owner.peer.cpim({ to: FORUM, text: 'after the re-INVITE' }))).status, 200);
      await moved.nextText('after the re-INVITE');
      moved.close();
    } finally {
      owner.close();
      mover.close();
    }
  });

  it('moves a room away from an owner that hangs (no FIN, no heartbeat), which closes it when it wakes up', async () => {
    const ATRIUM = 'sip:atrium@chat.test';
    const [p1, p2] = [new Participant('frank'), new Participant('grace')];
    try {
      assert.equal(await p1.join(replicas[1]!, ATRIUM), 200);
      assert.equal(await p2.join(replicas[2]!, ATRIUM), 200);
      assert.equal((await store.leases.get(ATRIUM))?.holder, 1);
      replicas[1]!.child.kill('SIGSTOP');
      try {
        // Its sockets stay open; the silence of the event stream tells replica 2.
        await p2.uac.nextRequest('BYE', 5_000);
        p2.close();
        await p2.rejoin(replicas[2]!, ATRIUM);
        assert.equal((await store.leases.get(ATRIUM))?.holder, 2);
      } finally {
        replicas[1]!.child.kill('SIGCONT');
      }
      // Awake, replica 1 finds its lease gone at the next renewal: the room closes there.
      await p1.uac.nextRequest('BYE', 5_000);
      await p1.peer.closed;
    } finally {
      p1.close();
      p2.close();
    }
  });

  it('puts participants joining through three replicas in one room, then moves the room when its owner dies', async () => {
    // --- one room across three replicas --------------------------------------------------
    for (const [k, p] of people.entries()) assert.equal(await p.join(replicas[k]!), 200, `${p.name} joins through replica ${k}`);
    const lease = await store.leases.get(ROOM);
    assert.equal(lease?.holder, 0, 'the first join took the room on its replica');
    for (const p of [bob, carol]) assert.match(p.peer.focusUri, /\/r0-/, `${p.name}'s session is at the owner, replica 0`);

    // Nicknames are unique room-wide, whichever replica the participants came through.
    assert.equal((await alice.peer.nickname('"Al"')).status, 200);
    assert.equal((await bob.peer.nickname('"AL"')).status, 425, 'taken by alice on another replica');
    assert.equal((await bob.peer.nickname('"Bob"')).status, 200);

    // Public messages fan out to everyone, across replicas.
    alice.say('hello from alice');
    for (const p of [bob, carol]) await p.peer.nextText('hello from alice');
    bob.say('hello from bob');
    for (const p of [alice, carol]) await p.peer.nextText('hello from bob');

    // A private message reaches a participant on another replica, and only that one.
    carol.peer.send(carol.peer.cpim({ to: bob.sipUri, text: 'psst bob' }));
    await bob.peer.nextText('psst bob');
    carol.say('public after private');
    // Both left carol's connection in order: a private copy for alice would have come first.
    await alice.peer.nextText('public after private');
    assert.ok(!alice.peer.received.some((r) => r.body.includes('psst')), 'alice did not get the private message');

    // A file in chunks arrives intact on the other replicas.
    const file = randomBytes(200_000);
    const cpim = alice.peer.cpim({ to: ROOM, content: file, contentType: 'application/octet-stream' });
    const size = 48 * 1024;
    const messageId = `file-${randomBytes(4).toString('hex')}`;
    for (let at = 0; at < cpim.length; at += size) {
      const chunk = cpim.subarray(at, Math.min(at + size, cpim.length));
      const last = at + size >= cpim.length;
      alice.peer.send(chunk, { messageId, range: `${at + 1}-${at + chunk.length}/${cpim.length}`, continuation: last ? '$' : '+' });
    }
    for (const p of [bob, carol]) {
      const parts: Received[] = [];
      let got = 0;
      while (got < cpim.length) {
        const r = await p.peer.next((x) => (getHeader(x.head, 'Byte-Range') ?? '').endsWith(`/${cpim.length}`), 10_000);
        parts.push(r);
        got += r.body.length;
      }
      const whole = Buffer.alloc(cpim.length);
      for (const r of parts) r.body.copy(whole, Number(/^(\d+)-/.exec(getHeader(r.head, 'Byte-Range')!)![1]) - 1);
      assert.ok(whole.equals(cpim), `${p.name} got the file intact`);
    }

    // The conference event package on a replica that does not own the room lists all three.
    const watcher = await SipUac.open('TCP', replicas[2]!.sip, 'watcher');
    const sub = watcher.newDialog(ROOM);
    const subscribed = await watcher.send(sub, 'SUBSCRIBE', { headers: [['Event', 'conference'], ['Expires', '600']] });
    assert.equal(subscribed.status, 200);
    const full = (await watcher.nextRequest('NOTIFY')).body.toString();
    for (const p of people) assert.ok(full.includes(p.sipUri), `conference-info lists ${p.name}: ${full}`);
    assert.match(full, /xcon:nickname="Al"/);

    // Leaving by BYE at a replica that does not own the room removes the device at the owner.
    const eve = new Participant('eve');
    assert.equal(await eve.join(replicas[1]!), 200);
    await notifyWhere(watcher, (b) => b.includes(eve.sipUri) && !b.includes('state="deleted"'));
    assert.equal((await eve.uac.send(eve.dialog, 'BYE', { inDialog: true })).status, 200);
    await notifyWhere(watcher, (b) => b.includes(eve.sipUri) && b.includes('state="deleted"'));
    await eve.peer.closed;
    eve.close();

    // A moderator at one replica removes a participant who came through another: REFER
    // method=BYE reaches the owner, the participant's own replica sends the BYE.
    const dave = new Participant('dave');
    assert.equal(await dave.join(replicas[1]!), 200);
    const mod = await SipUac.open('TCP', replicas[2]!.sip, 'mod');
    mod.credentials = { username: 'mod', password: 'mod-pw' };
    const referred = await mod.send(mod.newDialog(ROOM, 'sip:mod@example.com'), 'REFER', { headers: [['Refer-To', `<${dave.sipUri};method=BYE>`]] });
    assert.equal(referred.status, 202);
    assert.match((await mod.nextRequest('NOTIFY')).body.toString(), /^SIP\/2\.0 200 OK/);
    const kicked = await dave.uac.nextRequest('BYE');
    assert.equal(headerValue(kicked, 'Call-ID'), dave.dialog.callId);
    await dave.peer.closed;
    const notMod = await bob.uac.send(bob.uac.newDialog(ROOM), 'REFER', { headers: [['Refer-To', `<${carol.sipUri};method=BYE>`]] });
    assert.equal(notMod.status, 401, 'a REFER without credentials is challenged: moderators must authenticate');
    mod.close();
    dave.close();

    // --- the owner dies --------------------------------------------------------------------
    replicas[0]!.child.kill('SIGKILL');
    await replicas[0]!.exited;
    await Promise.all([bob, carol].map(async (p) => {
      await p.peer.closed;
      const bye = await p.uac.nextRequest('BYE', 10_000);
      assert.equal(bye.method, 'BYE', `${p.name} gets a BYE from its own replica`);
    }));
    // The subscription through a surviving replica ends (RFC 6665 §4.2.2 "deactivated": subscribe again).
    const ended = await until('the last NOTIFY', async () => {
      const n = await watcher.nextRequest('NOTIFY', 10_000);
      return (headerValue(n, 'Subscription-State') ?? '').startsWith('terminated') ? n : undefined;
    });
    assert.equal(headerValue(ended, 'Subscription-State'), 'terminated;reason=deactivated');
    watcher.close();
    for (const p of people) p.close();

    // --- rejoin through the survivors: the room is on a live replica, with its history ---
    await bob.rejoin(replicas[1]!);
    const moved = await store.leases.get(ROOM);
    assert.ok(moved !== undefined && moved.holder !== 0, `a live replica owns the room now (holder ${moved?.holder})`);
    for (const text of ['hello from alice', 'hello from bob', 'public after private']) await bob.peer.nextText(text);
    await carol.rejoin(replicas[2]!);
    await carol.peer.nextText('hello from alice');
    carol.say('after the move');
    await bob.peer.nextText('after the move');
    // Nicknames were room state in the dead replica's memory: free again.
    assert.equal((await carol.peer.nickname('"Al"')).status, 200);

    // --- a clean shutdown of the owner: leases released, the room moves at once ------------
    const owner = replicas.find((r) => r.ordinal === moved.holder)!;
    const survivor = [bob, carol].find((p) => p.entry !== owner)!;
    owner.child.kill('SIGTERM');
    await survivor.uac.nextRequest('BYE', 10_000);
    await owner.exited;
    survivor.close();
    assert.equal(await survivor.join(survivor.entry), 200, 'no 503: the lease was released, not left to expire');
    assert.equal((await store.leases.get(ROOM))?.holder, survivor.entry.ordinal);
    await survivor.peer.nextText('after the move');
  });
});
