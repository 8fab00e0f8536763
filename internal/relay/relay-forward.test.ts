import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getHeader, type MsrpRequest } from '../msrp/frame.ts';
import { buildResponse } from '../msrp/transaction.ts';
import { TestClient, usePathOf } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

const relays: TestRelay[] = [];
after(async () => {
  for (const r of relays) await r.relay.stop();
});

interface Pair {
  r: TestRelay;
  a: TestClient;
  b: TestClient;
  sa: string;
  sb: string;
}

async function pair(overrides = {}): Promise<Pair> {
  const r = await startTestRelay(overrides);
  relays.push(r);
  const a = await TestClient.connect({ port: r.port, ca: r.ca });
  const b = await TestClient.connect({ port: r.port, ca: r.ca });
  const sa = usePathOf(await a.auth(r.relay.uri, 'alice', 'alice-pw'));
  const sb = usePathOf(await b.auth(r.relay.uri, 'bob', 'bob-pw'));
  return { r, a, b, sa, sb };
}

describe('forwarding through one relay (RFC 4976 §6.4, RFC 4975 §7.1)', () => {
  it('delivers a SEND from A to B with the paths rewritten hop by hop and a new transaction id', async () => {
    const { a, b, sa, sb } = await pair();
    const sent = a.sendMessage([sa, sb, b.uri], 'hello bob', [{ name: 'Success-Report', value: 'yes' }]);
    const ok = await a.response(sent.transactionId);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.toPath, [a.uri]);
    assert.deepEqual(ok.fromPath, [sa]);
    const got = await b.request('SEND');
    assert.deepEqual(got.toPath, [b.uri]);
    assert.deepEqual(got.fromPath, [sb, sa, a.uri], 'each relay hop puts its URI at the front of From-Path');
    assert.notEqual(got.transactionId, sent.transactionId);
    assert.equal(Buffer.concat(got.body).toString(), 'hello bob');
    assert.equal(getHeader(got, 'Message-ID'), getHeader(sent, 'Message-ID'));
    b.write(buildResponse(got, 200));
    // B's success REPORT travels back along the From-Path it received.
    b.send('REPORT', [...got.fromPath], [
      { name: 'Message-ID', value: getHeader(got, 'Message-ID')! },
      { name: 'Byte-Range', value: '1-9/9' },
      { name: 'Status', value: '000 200 OK' },
    ]);
    const report = await a.request('REPORT');
    assert.deepEqual(report.toPath, [a.uri]);
    assert.deepEqual(report.fromPath, [sa, sb, b.uri]);
    assert.equal(getHeader(report, 'Status'), '000 200 OK');
    a.close();
    b.close();
  });

  it('turns an error response from the next hop into a failure REPORT to the sender', async () => {
    const { a, b, sa, sb } = await pair();
    const sent = a.sendMessage([sa, sb, b.uri], 'x');
    assert.equal((await a.response(sent.transactionId)).status, 200);
    const got = await b.request('SEND');
    b.write(buildResponse(got, 415));
    const report = await a.request('REPORT');
    assert.deepEqual(report.toPath, [a.uri]);
    assert.deepEqual(report.fromPath, [sa]);
    assert.match(getHeader(report, 'Status')!, /^000 415/);
    assert.equal(getHeader(report, 'Message-ID'), getHeader(sent, 'Message-ID'));
    assert.equal(getHeader(report, 'Byte-Range'), '1-1/1');
  });

  it('sends REPORT 408 when the next hop stays silent past the transaction timeout', async () => {
    const { a, b, sa, sb } = await pair({ transactionTimeoutSec: 0.3 });
    const sent = a.sendMessage([sa, sb, b.uri], 'anyone?');
    assert.equal((await a.response(sent.transactionId)).status, 200);
    await b.request('SEND');
    const report = await a.request('REPORT', 3000);
    assert.match(getHeader(report, 'Status')!, /^000 408/);
  });

  it('sends neither 200 nor REPORT for Failure-Report "no", and no 200 for "partial"', async () => {
    const { a, b, sa, sb } = await pair({ transactionTimeoutSec: 0.2 });
    a.sendMessage([sa, sb, b.uri], 'one', [{ name: 'Failure-Report', value: 'no' }]);
    const two = a.sendMessage([sa, sb, b.uri], 'two', [{ name: 'Failure-Report', value: 'partial' }]);
    await b.request('SEND');
    await b.request('SEND');
    // "partial" still gets the 408 REPORT; "no" gets nothing at all.
    const report = await a.request('REPORT', 3000);
    assert.match(getHeader(report, 'Status')!, /^000 408/);
    assert.equal(getHeader(report, 'Message-ID'), getHeader(two, 'Message-ID'), 'the first REPORT is for "partial"');
    // Ordered, no pause needed: a 200 to either would have been written when it was forwarded,
    // and "one"'s 408 when its timer (started first, same length) fired: all before this REPORT.
    assert.equal(a.frames.length, 0, JSON.stringify(a.frames));
  });

  it('answers 481 for an unknown session', async () => {
    const { r, a, b, sa } = await pair();
    const bogus = `msrps://127.0.0.1:${r.port}/NoSuchSession12345;tcp`;
    const sent = a.sendMessage([sa, bogus, b.uri], 'x');
    // The first hop (A's session) is fine; the second is ours and unknown: 481 to A.
    assert.equal((await a.response(sent.transactionId)).status, 481);
    const sent2 = a.sendMessage([bogus, b.uri], 'x');
    assert.equal((await a.response(sent2.transactionId)).status, 481);
  });

  it('answers 403 when a session URI is used from another connection to go elsewhere', async () => {
    const { r, b, sa, sb } = await pair();
    const mallory = await TestClient.connect({ port: r.port, ca: r.ca });
    const sent = mallory.sendMessage([sa, sb, b.uri], 'spoofed', [], );
    assert.equal((await mallory.response(sent.transactionId)).status, 403);
    await assert.rejects(b.request('SEND', 300));
    mallory.close();
  });

  it('answers 413 to a non-SEND request with a body over 10 KB, and forwards unknown methods', async () => {
    const { a, b, sa, sb } = await pair();
    const big = a.send('NICKNAME', [sa, sb, b.uri], [], Buffer.alloc(11 * 1024, 0x61));
    assert.equal((await a.response(big.transactionId)).status, 413);
    const small = a.send('NICKNAME', [sa, sb, b.uri], [{ name: 'Use-Nickname', value: '"al"' }]);
    const got = await b.request('NICKNAME');
    assert.deepEqual(got.fromPath, [sb, sa, a.uri]);
    b.write(buildResponse(got, 425));
    // Non-SEND responses are relayed back to the sender under its transaction id.
    const res = await a.response(small.transactionId);
    assert.equal(res.status, 425);
  });

  it('refuses next hops outside the allow-list with 403 (no open relay)', async () => {
    const { a, sa } = await pair({ nextHops: { allow: [], allowPrivate: true, connectTimeoutMs: 500 } });
    const sent = a.sendMessage([sa, 'msrps://127.0.0.1:1/abc;tcp'], 'x');
    assert.equal((await a.response(sent.transactionId)).status, 403);
  });

  it('answers 481 when the next hop cannot be reached', async () => {
    const { a, sa } = await pair();
    const sent = a.sendMessage([sa, 'msrps://127.0.0.1:1/abc;tcp'], 'x');
    assert.equal((await a.response(sent.transactionId)).status, 481);
  });

  it('does not answer a REPORT it cannot route', async () => {
    const { r, a } = await pair();
    a.send('REPORT', [`msrps://127.0.0.1:${r.port}/NoSuchSession12345;tcp`, 'msrp://x.invalid/a;tcp'], [
      { name: 'Message-ID', value: 'abcd1234' }, { name: 'Status', value: '000 200 OK' },
    ]);
    await assert.rejects(a.next(() => true, 300));
  });
});

export type { MsrpRequest };
