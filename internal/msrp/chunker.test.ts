import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { MsrpRequest } from './frame.ts';
import { bodyLength, getHeader } from './frame.ts';
import { BufferChunker, ChunkerError, chunkMessage, chunkStream, formatByteRange, INTERRUPTIBLE_CHUNK_BYTES, interruptibleRange, resumedByteRange, type ChunkerOptions } from './chunker.ts';

let tid = 0;
const options = (chunkSize: number, extra: Partial<ChunkerOptions> = {}): ChunkerOptions => ({
  toPath: ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp'],
  fromPath: ['msrp://atlanta.example.com:7654/jshA7weztas;tcp'],
  messageId: '87652491',
  contentType: 'text/plain',
  chunkSize,
  newTransactionId: () => `tid${++tid}x`,
  ...extra,
});
const ranges = (frames: readonly MsrpRequest[]): string[] => frames.map((f) => `${getHeader(f, 'Byte-Range')}${f.continuation}`);
const text = (frames: readonly MsrpRequest[]): string => Buffer.concat(frames.flatMap((f) => [...f.body])).toString();

describe('chunkMessage', () => {
  it('sends a short message as one chunk like the RFC 4975 §4 example', () => {
    const [f] = chunkMessage(Buffer.from('Hey Bob, are you there?'), options(2048));
    assert.ok(f !== undefined);
    assert.equal(f.method, 'SEND');
    assert.deepEqual(f.headers, [
      { name: 'Message-ID', value: '87652491' },
      { name: 'Byte-Range', value: '1-23/23' },
      { name: 'Content-Type', value: 'text/plain' },
    ]);
    assert.equal(f.continuation, '$');
  });

  it('splits a message into "+" chunks and a final "$" chunk with exact ranges', () => {
    const frames = chunkMessage(Buffer.from('abcdefghij'), options(4));
    assert.deepEqual(ranges(frames), ['1-4/10+', '5-8/10+', '9-10/10$']);
    assert.equal(text(frames), 'abcdefghij');
    assert.equal(new Set(frames.map((f) => f.transactionId)).size, 3);
  });

  it('sends an empty message as 1-0/0 without Content-Type', () => {
    const frames = chunkMessage(Buffer.alloc(0), options(4));
    assert.deepEqual(ranges(frames), ['1-0/0$']);
    assert.equal(getHeader(frames[0]!, 'Content-Type'), undefined);
  });

  it('adds the caller headers before Content-Type, which comes last', () => {
    const [f] = chunkMessage(Buffer.from('x'), options(4, { headers: [{ name: 'Success-Report', value: 'yes' }] }));
    assert.deepEqual(f!.headers.map((h) => h.name), ['Message-ID', 'Byte-Range', 'Success-Report', 'Content-Type']);
  });

  it('writes range-end "*" when chunks may be interrupted', () => {
    const frames = chunkMessage(Buffer.from('abcdef'), options(4, { interruptible: true }));
    assert.deepEqual(ranges(frames), ['1-*/6+', '5-*/6$']);
  });

  it('refuses a chunk size below one', () => {
    assert.throws(() => chunkMessage(Buffer.from('x'), options(0)), ChunkerError);
  });
});

describe('BufferChunker', () => {
  it('continues with the rest of an interrupted chunk in a new chunk (RFC 4975 §7.1.1)', () => {
    const c = new BufferChunker(Buffer.from('abcdefghij'), options(6, { interruptible: true }));
    const first = c.next()!;
    const sent = c.interrupt(first, 2);
    assert.equal(sent.continuation, '+');
    assert.equal(bodyLength(sent), 2);
    assert.equal(c.offset, 2);
    const rest = [c.next()!, c.next()!];
    assert.equal(c.next(), undefined);
    assert.deepEqual(ranges(rest), ['3-*/10+', '9-*/10$']);
    assert.equal(text([sent, ...rest]), 'abcdefghij');
  });

  it('can interrupt the last chunk, which then stops being last', () => {
    const c = new BufferChunker(Buffer.from('abc'), options(8));
    const only = c.next()!;
    assert.ok(c.finished);
    c.interrupt(only, 1);
    assert.ok(!c.finished);
    assert.deepEqual(ranges([c.next()!]), ['2-3/3$']);
  });

  it('aborts with an empty "#" chunk at the current position', () => {
    const c = new BufferChunker(Buffer.from('abcdefghij'), options(4));
    c.next();
    const abort = c.abort();
    assert.deepEqual(ranges([abort]), ['5-4/10#']);
    assert.equal(c.next(), undefined);
  });

  it('refuses to rewind by more than the chunk held', () => {
    const c = new BufferChunker(Buffer.from('abc'), options(2));
    assert.throws(() => c.interrupt(c.next()!, 3), ChunkerError);
  });
});

describe('chunkStream', () => {
  async function collect(it: AsyncIterable<MsrpRequest>): Promise<MsrpRequest[]> {
    const out: MsrpRequest[] = [];
    for await (const f of it) out.push(f);
    return out;
  }

  it('writes total "*" until the last chunk when the size is unknown', async () => {
    const frames = await collect(chunkStream(Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')]), options(4)));
    assert.deepEqual(ranges(frames), ['1-4/*+', '5-8/*+', '9-10/10$']);
    assert.equal(text(frames), 'abcdefghij');
  });

  it('does not end with an empty chunk when the size is a multiple of the chunk size', async () => {
    const frames = await collect(chunkStream(Readable.from([Buffer.from('abcdefgh')]), options(4)));
    assert.deepEqual(ranges(frames), ['1-4/*+', '5-8/8$']);
  });

  it('writes the total on every chunk when the size is given', async () => {
    const frames = await collect(chunkStream(Readable.from([Buffer.from('abcdef')]), { ...options(4), size: 6 }));
    assert.deepEqual(ranges(frames), ['1-4/6+', '5-6/6$']);
  });

  it('fails when the stream is shorter or longer than declared', async () => {
    await assert.rejects(collect(chunkStream(Readable.from([Buffer.from('abc')]), { ...options(4), size: 6 })), { code: 'size-mismatch' });
    await assert.rejects(collect(chunkStream(Readable.from([Buffer.from('abcdefg')]), { ...options(4), size: 6 })), { code: 'size-mismatch' });
  });

  it('accepts Uint8Array pieces and empty streams', async () => {
    assert.deepEqual(ranges(await collect(chunkStream(Readable.from([new Uint8Array([104, 105])]), options(4)))), ['1-2/2$']);
    assert.deepEqual(ranges(await collect(chunkStream(Readable.from([]), options(4)))), ['1-0/0$']);
  });
});

describe('formatByteRange', () => {
  it('writes unknown values as "*"', () => {
    assert.equal(formatByteRange({ start: 1, end: '*', total: '*' }), '1-*/*');
  });
});

describe('interruption by a forwarder (RFC 4975 §7.1.1)', () => {
  it('interrupts only chunks over 1 MiB or of unknown length', () => {
    assert.equal(interruptibleRange(undefined), true);
    assert.equal(interruptibleRange({ start: 1, end: '*', total: '*' }), true);
    assert.equal(interruptibleRange({ start: 1, end: 102_400, total: 102_400 }), false);
    assert.equal(interruptibleRange({ start: 1, end: INTERRUPTIBLE_CHUNK_BYTES, total: INTERRUPTIBLE_CHUNK_BYTES }), false);
    assert.equal(interruptibleRange({ start: 5, end: INTERRUPTIBLE_CHUNK_BYTES + 5, total: '*' }), true);
  });

  it('resumes the rest from the next byte, end and total as announced', () => {
    assert.equal(resumedByteRange({ start: 1, end: 209_715_200, total: 209_715_200 }, 65_536), '65537-209715200/209715200');
    assert.equal(resumedByteRange({ start: 1001, end: '*', total: '*' }, 10), '1011-*/*');
  });
});
