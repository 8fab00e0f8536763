import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { MsrpRequest } from './frame.ts';
import { FrameEndScanner } from './frame-ends.ts';
import { toBuffers } from './serializer.ts';

function frame(tid: string, body: Buffer, flag: '$' | '+' | '#' = '$'): Buffer {
  const req: MsrpRequest = {
    kind: 'request', method: 'SEND', transactionId: tid, toPath: ['msrps://relay.example.com:2855/s1;tcp'], fromPath: ['msrps://a.invalid:2855/x;ws'],
    headers: body.length > 0 ? [{ name: 'Message-ID', value: 'm1' }, { name: 'Byte-Range', value: `1-${body.length}/*` }, { name: 'Content-Type', value: 'text/plain' }] : [],
    body: body.length > 0 ? [body] : [], continuation: flag,
  };
  return Buffer.concat(toBuffers(req));
}

/** Feeds `stream` cut at `cuts` and returns the absolute offsets where frames were found to end. */
function endsOf(stream: Buffer, cuts: number[]): number[] {
  const s = new FrameEndScanner();
  const found: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < stream.length).sort((a, b) => a - b), stream.length]) {
    if (c <= at) continue;
    s.scan(stream.subarray(at, c), ends);
    for (const e of ends) found.push(at + e);
    at = c;
  }
  return found;
}

describe('FrameEndScanner: where our MSRP frames end (RFC 7977 §4.2: one frame per WebSocket message)', () => {
  it('finds every frame end however the stream is cut, bodies that look like end-lines of other transactions included', () => {
    const frames = [
      frame('aaaa1', Buffer.from('hello')),
      frame('bbbb22', Buffer.alloc(0)),
      frame('cccc333', Buffer.from('\r\n-------aaaa1$\r\n-------cccc33$\r\n-------cccc3333$\r\n')),
      frame('dddd4', randomBytes(70_000), '+'),
      frame('eeee5', Buffer.from('x\r\n-------eeee5'), '#'),
    ];
    const stream = Buffer.concat(frames);
    const expected: number[] = [];
    let n = 0;
    for (const f of frames) expected.push((n += f.length));
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
      assert.deepEqual(endsOf(stream, cuts), expected);
    }), { numRuns: 300 });
    // Byte by byte: every seam straddles.
    const small = Buffer.concat(frames.filter((_, i) => i !== 3));
    const all = Array.from({ length: small.length }, (_, i) => i);
    let m = 0;
    assert.deepEqual(endsOf(small, all), frames.filter((_, i) => i !== 3).map((f) => (m += f.length)));
  });

  it('refuses bytes that do not start a frame', () => {
    assert.throws(() => new FrameEndScanner().scan(Buffer.from('HTTP/1.1 200 OK\r\n'), []), /not an MSRP start line/);
    assert.throws(() => new FrameEndScanner().scan(Buffer.from('MS\r\n'), []), /not an MSRP start line/);
    assert.throws(() => new FrameEndScanner().scan(Buffer.from('MSRP abc\r\nMSRP x SEND\r\n'), []), /not an MSRP start line/);
  });
});
