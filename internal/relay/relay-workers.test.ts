// The workers of one relay process (docs/relay.md "Workers") as two relays in this process,
// each with its own client listener, linked by the real Unix sockets of
// internal/mesh/worker-links.ts in a private folder: what node:cluster adds in msrpd (shared
// listeners, the supervisor) is e2e/workers.test.ts's. Here: routing between workers, and who
// may open a link.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildResponse } from '../msrp/transaction.ts';
import { workerSocketPath } from '../mesh/worker-links.ts';
import { testPki } from '../transport/testcerts.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { count, eventually, startTestRelay, type TestRelay } from './testrelay.ts';

const PUBLIC_HOST = 'relay.msrp.test';

describe('two workers of one relay, linked over Unix sockets', () => {
  let dir: string;
  const secret = randomBytes(32).toString('hex');
  const workers: TestRelay[] = [];
  const clients: TestClient[] = [];

  before(async () => {
    // As the supervisor makes it (engine/workers.ts): a private folder.
    dir = mkdtempSync(join(tmpdir(), 'relay-workers-'));
    const nonceSecret = randomBytes(32);
    const pki = await testPki();
    for (const index of [0, 1]) {
      // One public URI for both, as workers sharing a listener have (testrelay.ts startTestMesh does the same for replicas).
      workers.push(await startTestRelay({
        publicHost: PUBLIC_HOST,
        publicPort: 2855,
        realms: { default: 'example.test', byHost: [{ host: PUBLIC_HOST, realm: 'example.test' }] },
        nonceSecret,
        sessionIdPrefix: index === 0 ? '' : `w${index}-`,
        workers: { index, count: 2, socketDir: dir, secret, connectTimeoutMs: 1000 },
      }, pki.named));
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    for (const w of workers) await w.relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = async (w: TestRelay, user: string): Promise<{ c: TestClient; s: string }> => {
    const c = await TestClient.connect({ port: w.port, ca: w.ca });
    clients.push(c);
    return { c, s: usePathOf(await c.auth(`msrps://${PUBLIC_HOST}:2855;tcp`, user, `${user}-pw`)) };
  };

  it('keeps the link sockets in a folder only this user can enter', () => {
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const i of [0, 1]) assert.ok(statSync(workerSocketPath(dir, i)).isSocket());
  });

  it('carries a SEND from a client of worker 0 to one of worker 1 and back, paths as on one process', async () => {
    const a = await client(workers[0]!, 'alice');
    const b = await client(workers[1]!, 'bob');
    assert.match(b.s, /\/w1-[A-Za-z0-9]+;tcp$/, 'worker 1 mints ids that name it');
    assert.doesNotMatch(a.s, /\/w\d+-/, 'worker 0 mints the ids of a one-process relay');
    const sent = a.c.sendMessage([a.s, b.s, b.c.uri], 'across workers', [{ name: 'Success-Report', value: 'yes' }]);
    assert.equal((await a.c.response(sent.transactionId)).status, 200);
    const got = await b.c.request('SEND');
    assert.deepEqual(got.toPath, [b.c.uri]);
    assert.deepEqual(got.fromPath, [b.s, a.s, a.c.uri]);
    b.c.write(buildResponse(got, 200));
    assert.equal(workers[0]!.relay.workers?.links(), 1, 'worker 0 opened one link to worker 1');
    const back = b.c.sendMessage([b.s, a.s, a.c.uri], 'and back');
    assert.equal((await b.c.response(back.transactionId)).status, 200);
    const reply = await a.c.request('SEND');
    assert.equal(Buffer.concat(reply.body).toString(), 'and back');
    a.c.write(buildResponse(reply, 200));
  });

  it('answers 481 for a session of a worker this relay does not have, without trying a socket', async () => {
    const a = await client(workers[0]!, 'alice');
    const before = await count(workers[0]!.relay.metrics.workerLinkFailures, { reason: 'no-such-worker' });
    const ghost = a.s.replace(/\/([A-Za-z0-9]+);tcp$/, '/w7-$1;tcp');
    const sent = a.c.sendMessage([a.s, ghost, 'msrps://127.0.0.1:1/x;tcp'], 'to nobody');
    assert.equal((await a.c.response(sent.transactionId)).status, 481);
    assert.equal(await count(workers[0]!.relay.metrics.workerLinkFailures, { reason: 'no-such-worker' }), before + 1);
  });

  for (const [what, hello] of [
    ['without the secret', () => `MSRP-WORKER 0 ${randomBytes(32).toString('hex')}\r\n`],
    ['naming itself', () => `MSRP-WORKER 1 ${secret}\r\n`],
    ['naming no worker of this relay', () => `MSRP-WORKER 5 ${secret}\r\n`],
    ['that is not a hello', () => `MSRP a1 SEND\r\nTo-Path: msrps://relay.msrp.test:2855/w1-x;tcp\r\n\r\n`],
  ] as const) {
    it(`refuses a link ${what}: closed before a frame is read, counted`, async () => {
      const m = workers[1]!.relay.metrics.workerLinkFailures;
      const before = await count(m, { reason: 'bad-hello' });
      const socket = netConnect({ path: workerSocketPath(dir, 1) });
      const got: Buffer[] = [];
      socket.on('data', (b: Buffer) => got.push(b));
      socket.write(hello());
      // A frame behind the hello would be delivered if the link were taken.
      socket.write('MSRP a2 SEND\r\nTo-Path: msrps://relay.msrp.test:2855/w1-x;tcp\r\nFrom-Path: msrps://evil;tcp\r\n-------a2$\r\n');
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      assert.equal(Buffer.concat(got).toString(), '', 'no OK, no answer to the frame');
      await eventually(async () => (await count(m, { reason: 'bad-hello' })) === before + 1, 'bad-hello counted');
    });
  }

  it('a frame from another worker for a session the receiver does not own is misrouted: 481, never passed around again', async () => {
    const b = await client(workers[1]!, 'bob');
    // A link into worker 0 presenting the right hello, as worker 1 would.
    const socket = netConnect({ path: workerSocketPath(dir, 0) });
    socket.write(`MSRP-WORKER 1 ${secret}\r\n`);
    let text = '';
    socket.on('data', (x: Buffer) => (text += x.toString('latin1')));
    await eventually(() => text.startsWith('OK\r\n'), 'the hello accepted');
    // Worker 1's own session, sent to worker 0 over the link: worker 0 must not send it back.
    socket.write(`MSRP misr1 SEND\r\nTo-Path: ${b.s} ${b.c.uri}\r\nFrom-Path: msrps://127.0.0.1:9/peer;tcp\r\nMessage-ID: misr1\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------misr1$\r\n`);
    await eventually(() => / 481 /.test(text), `481 on the link (got ${JSON.stringify(text)})`);
    assert.match(text, /^MSRP misr1 481 /m);
    assert.equal(await count(workers[0]!.relay.metrics.drops, { reason: 'mesh-misrouted' }), 1);
    socket.destroy();
  });
});
