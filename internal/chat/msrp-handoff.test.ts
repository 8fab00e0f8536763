// Which replica an MSRP connection belongs to, from the first bytes of its first request
// (msrp-handoff.ts firstRequestOwner): RFC 4975 §7.1 framing, session ids `r<k>-`
// (docs/architecture.md §4.2), heads arriving in pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstRequestOwner } from './msrp-handoff.ts';

const send = (toPath: string): Buffer => Buffer.from(
  'MSRP a786hjs2 SEND\r\n' +
  `To-Path: ${toPath}\r\n` +
  'From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n' +
  'Message-ID: 87652491\r\nByte-Range: 1-0/0\r\n\r\n-------a786hjs2$\r\n');

describe('firstRequestOwner', () => {
  it('names the replica of the To-Path session id, or here for our own', () => {
    assert.equal(firstRequestOwner(send('msrp://chat.example.com:2856/r2-kjhd37s2s20w2a;tcp'), 0), 2);
    assert.equal(firstRequestOwner(send('msrps://chat.example.com:2856/r12-x;tcp'), 0), 12);
    assert.equal(firstRequestOwner(send('msrp://chat.example.com:2856/r0-kjhd37s2s20w2a;tcp'), 0), 'here');
  });

  it('keeps connections it cannot place: no replica prefix, not MSRP, no To-Path, a malformed URI', () => {
    assert.equal(firstRequestOwner(send('msrp://chat.example.com:2856/kjhd37s2s20w2a;tcp'), 1), 'here');
    assert.equal(firstRequestOwner(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1), 'here');
    assert.equal(firstRequestOwner(Buffer.from('MSRP a SEND\r\nFrom-Path: msrp://a/r2-b;tcp\r\n\r\n'), 1), 'here');
    assert.equal(firstRequestOwner(send('nonsense'), 1), 'here');
  });

  it('asks for more until the To-Path line is complete, whatever the split', () => {
    const whole = send('msrp://chat.example.com:2856/r2-kjhd37s2s20w2a;tcp');
    const eol = whole.indexOf('\r\n', whole.indexOf('To-Path')) + 2;
    for (let n = 1; n < eol; n++) assert.equal(firstRequestOwner(whole.subarray(0, n), 0), 'more', `after ${n} bytes`);
    assert.equal(firstRequestOwner(whole.subarray(0, eol), 0), 2);
  });

  it('gives up looking past 16 KiB without a To-Path line', () => {
    const huge = Buffer.concat([Buffer.from('MSRP a SEND\r\nX: '), Buffer.alloc(17 * 1024, 0x61)]);
    assert.equal(firstRequestOwner(huge, 0), 'here');
  });
});
