import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { MsrpRequest } from './frame.ts';
import { BufferChunker, chunkMessage, type ChunkerOptions } from './chunker.ts';
import { Reassembler, type ReassemblyResult } from './reassembler.ts';

const options = (chunkSize: number, messageId = 'm1234567'): ChunkerOptions => ({
  toPath: ['msrp://b.example.com/s;tcp'],
  fromPath: ['msrp://a.example.com/s;tcp'],
  messageId,
  contentType: 'application/octet-stream',
  chunkSize,
  newTransactionId: () => 'tid12345',
});

function send(range: string | undefined, body: string, continuation: MsrpRequest['continuation'] = '$', messageId = 'm1234567'): MsrpRequest {
  const headers = [{ name: 'Message-ID', value: messageId }];
  if (range !== undefined) headers.push({ name: 'Byte-Range', value: range });
  return { kind: 'request', method: 'SEND', transactionId: 'tid12345', toPath: ['msrp://b/s;tcp'], fromPath: ['msrp://a/s;tcp'], headers, body: body === '' ? [] : [Buffer.from(body)], continuation };
}

function complete(r: ReassemblyResult): Buffer {
  if (!r.ok || r.state !== 'complete') assert.fail(`expected complete, got ${JSON.stringify(r)}`);
  return r.body;
}

describe('Reassembler', () => {
  it('completes a single-chunk message at once', () => {
    const r = new Reassembler();
    assert.equal(complete(r.accept(send('1-5/5', 'hello'))).toString(), 'hello');
    assert.equal(r.size, 0);
  });

  it('treats a SEND without Byte-Range as the whole message', () => {
    assert.equal(complete(new Reassembler().accept(send(undefined, 'hello'))).toString(), 'hello');
  });

  it('reassembles out-of-order chunks and reports progress on the way', () => {
    const r = new Reassembler();
    const p1 = r.accept(send('6-10/10', 'world', '+'));
    assert.deepEqual(p1, { ok: true, state: 'partial', messageId: 'm1234567', received: 5, total: 10 });
    assert.deepEqual(r.progress('m1234567'), { messageId: 'm1234567', received: 5, total: 10 });
    assert.equal(complete(r.accept(send('1-5/10', 'hello', '+'))).toString(), 'helloworld');
  });

  it('learns an unknown total from the last chunk, even when it arrives first', () => {
    const r = new Reassembler();
    const last = r.accept(send('5-6/*', 'ef', '$'));
    assert.ok(last.ok && last.state === 'partial' && last.total === 6);
    assert.ok(r.accept(send('1-*/*', 'ab', '+')).ok);
    assert.equal(complete(r.accept(send('3-4/*', 'cd', '+'))).toString(), 'abcdef');
  });

  it('keeps the first copy of overlapping and duplicate ranges', () => {
    const r = new Reassembler();
    r.accept(send('1-4/8', 'abcd', '+'));
    const dup = r.accept(send('1-4/8', 'abcd', '+'));
    assert.ok(dup.ok && dup.state === 'partial' && dup.received === 4);
    r.accept(send('3-6/8', 'cdef', '+'));
    assert.equal(complete(r.accept(send('5-8/8', 'efgh', '$'))).toString(), 'abcdefgh');
  });

  it('recognises chunks of a message already completed as duplicates', () => {
    const r = new Reassembler();
    complete(r.accept(send('1-2/2', 'ab')));
    const again = r.accept(send('1-2/2', 'ab'));
    assert.ok(again.ok && again.state === 'duplicate');
  });

  it('accepts an interrupted chunk that is shorter than its Byte-Range announced', () => {
    const r = new Reassembler();
    const c = new BufferChunker(Buffer.from('abcdefgh'), options(6));
    const sent = c.interrupt(c.next()!, 3);
    r.accept(sent);
    let last: ReassemblyResult | undefined;
    for (let f = c.next(); f !== undefined; f = c.next()) last = r.accept(f);
    assert.equal(complete(last!).toString(), 'abcdefgh');
  });

  it('discards a message aborted with "#"', () => {
    const r = new Reassembler();
    r.accept(send('1-4/8', 'abcd', '+'));
    const a = r.accept(send('5-4/8', '', '#'));
    assert.ok(a.ok && a.state === 'aborted' && a.received === 4);
    assert.equal(r.size, 0);
    assert.equal(r.bufferedBytes, 0);
  });

  it('completes an empty message', () => {
    assert.equal(complete(new Reassembler().accept(send('1-0/0', ''))).length, 0);
  });

  it('answers 413 as soon as a declared total exceeds maxMessageBytes, and keeps answering it', () => {
    const r = new Reassembler({ maxMessageBytes: 8 });
    const first = r.accept(send('1-4/100', 'abcd', '+'));
    assert.ok(!first.ok && first.error.status === 413 && first.error.code === 'message-too-large');
    const later = r.accept(send('5-8/100', 'efgh', '+'));
    assert.ok(!later.ok && later.error.status === 413);
    assert.equal(r.bufferedBytes, 0);
  });

  it('answers 413 when chunks of an unknown total run past maxMessageBytes', () => {
    const r = new Reassembler({ maxMessageBytes: 6 });
    assert.ok(r.accept(send('1-4/*', 'abcd', '+')).ok);
    const over = r.accept(send('5-8/*', 'efgh', '+'));
    assert.ok(!over.ok && over.error.status === 413);
    assert.equal(r.size, 0);
  });

  it('answers 413 to a new message when maxMessages are in progress', () => {
    const r = new Reassembler({ maxMessages: 2 });
    r.accept(send('1-1/2', 'a', '+', 'msg00001'));
    r.accept(send('1-1/2', 'a', '+', 'msg00002'));
    const third = r.accept(send('1-1/2', 'a', '+', 'msg00003'));
    assert.ok(!third.ok && third.error.status === 413 && third.error.code === 'too-many-messages');
    assert.ok(r.accept(send('2-2/2', 'b', '$', 'msg00001')).ok);
  });

  it('answers 400 to malformed or inconsistent chunks', () => {
    const code = (f: MsrpRequest, r = new Reassembler()): string => {
      const x = r.accept(f);
      assert.ok(!x.ok && x.error.status === 400);
      return x.error.code;
    };
    assert.equal(code(send('x-2/2', 'ab')), 'bad-byte-range');
    assert.equal(code(send('1-2/4', 'abc', '+')), 'byte-range-mismatch');
    assert.equal(code(send('1-3/3', 'ab', '$')), 'byte-range-mismatch');
    assert.equal(code(send('1-2/4', 'ab', '$')), 'inconsistent-total');
    assert.equal(code({ ...send('1-2/2', 'ab'), headers: [] }), 'missing-message-id');
    assert.equal(code({ ...send('1-2/2', 'ab'), method: 'REPORT' }), 'not-send');
    const r = new Reassembler();
    r.accept(send('1-2/4', 'ab', '+'));
    assert.equal(code(send('3-4/5', 'cd', '+'), r), 'inconsistent-total');
    const r2 = new Reassembler();
    r2.accept(send('5-8/*', 'efgh', '+'));
    assert.equal(code(send('1-2/6', 'ab', '+'), r2), 'beyond-total');
  });

  it('copies stored bytes so it never holds on to the frame buffers', () => {
    const r = new Reassembler();
    const buf = Buffer.from('abcd');
    r.accept({ ...send('1-4/8', '', '+'), body: [buf] });
    buf.fill(0x7a);
    assert.equal(complete(r.accept(send('5-8/8', 'efgh'))).toString(), 'abcdefgh');
  });
});

describe('reassemble(chunk(message)) = message', () => {
  it('holds for random chunk sizes, shuffled order and resent chunks', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: 80 }),
        fc.boolean(),
        fc.infiniteStream(fc.nat()),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, chunkSize, interruptible, rand, resend) => {
          const message = Buffer.from(bytes);
          const frames = chunkMessage(message, { ...options(chunkSize), interruptible });
          // Fisher-Yates with fast-check's randomness, so failures shrink and replay.
          const order = [...frames];
          const it = rand[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (const k of resend) order.splice(k % (order.length + 1), 0, frames[k % frames.length]!);
          const r = new Reassembler({ maxMessageBytes: 1000 });
          const done = order.map((f) => r.accept(f)).filter((x) => x.ok && x.state === 'complete');
          assert.equal(done.length, 1);
          assert.ok(complete(done[0]!).equals(message));
          assert.equal(r.size, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
