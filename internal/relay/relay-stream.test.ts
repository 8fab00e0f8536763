import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { getHeader } from '../msrp/frame.ts';
import { serializeHead } from '../msrp/serializer.ts';
import { buildResponse, newMessageId, newTransactionId } from '../msrp/transaction.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { count, eventually, startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

async function pair(overrides = {}) {
  const r = await startTestRelay(overrides);
  relays.push(r);
  const a = await TestClient.connect({ port: r.port, ca: r.ca });
  const b = await TestClient.connect({ port: r.port, ca: r.ca });
  const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
  const sb = usePathOf(await b.auth(r.relay.uri, 'bob', 'bob-pw'));
  return { r, a, b, sa, sb };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('streaming and flow control (docs/architecture.md §3.2, §3.4)', () => {
  it('streams a 32 MB chunk to a reader that stops reading, keeps its buffers bounded and pauses the sender', async () => {
    const { r, a, b, sa, sb } = await pair();
    const body = randomBytes(32 * 1024 * 1024);
    b.socket.pause(); // B does not read
    const sent = a.sendMessage([sa, sb, b.uri], body);
    const toB = [...r.relay.connections].find((c) => c.remotePort === b.socket.localPort)!;
    const fromA = [...r.relay.connections].find((c) => c.remotePort === a.socket.localPort)!;
    // Wait for the pause itself (not a guess at how long it takes), sampling the relay's
    // buffer for B on the way.
    let maxBuffered = 0;
    const sample = (): void => {
      maxBuffered = Math.max(maxBuffered, toB.bufferedBytes);
    };
    await eventually(() => (sample(), fromA.paused && a.socket.writableLength > 0), 'the relay to pause reading from A', 20_000);
    // Reading stops for good once the kernel buffers on the way to B are full too: wait for a
    // round trip through the relay (a third client's AUTH; B's own frames would wait behind
    // the stream that holds B's connection) during which nothing was read from A, then check
    // that three more such round trips read (next to) nothing.
    const c = await TestClient.connect({ port: r.port, ca: r.ca });
    const roundTrip = async (): Promise<void> => assert.equal((await c.auth(r.relay.uri, 'alice', 'alice-pw')).status, 200);
    await eventually(async () => {
      const before = fromA.bytesIn;
      await roundTrip();
      sample();
      return fromA.bytesIn === before;
    }, 'a round trip through the relay with nothing read from A', 20_000);
    const inWhilePaused = fromA.bytesIn;
    for (let i = 0; i < 3; i++) await roundTrip();
    c.close();
    sample();
    assert.ok(maxBuffered < 1024 * 1024, `relay buffered ${maxBuffered} bytes for B`);
    assert.ok(fromA.bytesIn < body.length / 2, `relay read ${fromA.bytesIn} of ${body.length} bytes from A while B was not reading`);
    assert.ok(fromA.paused, 'the source connection is paused');
    assert.ok(a.socket.writableLength > 0, 'the sender has unsent bytes: it is being held back');
    assert.ok(fromA.bytesIn - inWhilePaused < 256 * 1024, 'reading stays stopped');

    b.socket.resume();
    const got = await b.request('SEND', 20_000);
    assert.equal(sha(Buffer.concat(got.body)), sha(body));
    assert.equal((await a.response(sent.transactionId, 20_000)).status, 200);
  });

  it('ends the forwarded chunk with "#" when the sender goes away mid-chunk, and forgets its transaction downstream', async () => {
    const { r, a, b, sa, sb } = await pair();
    const tid = newTransactionId();
    const head = serializeHead({
      kind: 'request', method: 'SEND', transactionId: tid, toPath: [sa, sb, b.uri], fromPath: [a.uri],
      headers: [{ name: 'Message-ID', value: newMessageId() }, { name: 'Byte-Range', value: '1-1000000/1000000' }, { name: 'Content-Type', value: 'text/plain' }],
    });
    const written = head.length + 200 * 1024;
    a.socket.write(Buffer.concat([head, Buffer.alloc(200 * 1024, 0x62)]));
    // Mid-chunk means after the relay has read (and so started forwarding) what was sent.
    const fromA = [...r.relay.connections].find((c) => c.remotePort === a.socket.localPort)!;
    await eventually(() => fromA.bytesIn >= written, 'the relay to read the head and 200 KiB of body');
    a.close();
    const got = await b.request('SEND', 5000);
    assert.equal(got.continuation, '#');
    assert.equal(getHeader(got, 'Byte-Range'), '1-1000000/1000000');
    // The aborted chunk's transaction is not kept open on B's connection (it would be until
    // that closes): B's late answer to it matches nothing.
    const unmatched = (): Promise<number> => count(r.relay.metrics.drops, { reason: 'unmatched-response' });
    const before = await unmatched();
    b.write(buildResponse(got, 200));
    await eventually(async () => (await unmatched()) === before + 1, 'the late answer to be counted as unmatched');
  });

  it('paces a session to its byte rate by pausing the sender', async () => {
    const { r, a, b, sa, sb } = await pair({
      throttle: { session: { bytesPerSec: 256 * 1024, burstBytes: 64 * 1024 }, user: { bytesPerSec: 0, burstBytes: 0 }, realm: { bytesPerSec: 0, burstBytes: 0 } },
    });
    const body = randomBytes(512 * 1024);
    const t0 = performance.now();
    const sent = a.sendMessage([sa, sb, b.uri], body);
    const got = await b.request('SEND', 10_000);
    const elapsed = (performance.now() - t0) / 1000;
    assert.equal(sha(Buffer.concat(got.body)), sha(body));
    assert.equal((await a.response(sent.transactionId)).status, 200);
    // (512 KiB - 64 KiB burst) / 256 KiB/s = 1.75 s: a lower bound, which load cannot break.
    // No upper bound on a shared machine: a rate far too slow still fails, at the 10 s wait above.
    assert.ok(elapsed >= 1.5, `took ${elapsed.toFixed(2)} s`);
    const text = await r.relay.metrics.throttledBytes.get();
    assert.ok(text.values.some((v) => v.labels.scope === 'session' && v.value > 0));
  });
});
