import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDatagram, SipStreamFramer } from './parser.ts';
import { serialize } from './serializer.ts';
import { request, response, type SipMessage } from './message.ts';
import { RFC3261_INVITE, WSINV } from './testdata/vectors.ts';

function reparse(bytes: Buffer): SipMessage {
  const r = parseDatagram(bytes);
  assert.ok(r?.ok, r && !r.ok ? r.error.message : 'keep-alive');
  return r.value;
}

const token = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/);
const word = fc.stringMatching(/^[A-Za-z0-9.@_-]{1,16}$/);
const host = fc.stringMatching(/^[a-z][a-z0-9]{0,8}(\.[a-z]{2,5}){0,2}$/);
const mandatory = (method: string) => fc.record({
  branch: word, fromTag: word, callId: word, seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }), host,
}).map((r) => [
  ['Via', `SIP/2.0/UDP ${r.host};branch=z9hG4bK${r.branch}`],
  ['From', `<sip:a@${r.host}>;tag=${r.fromTag}`],
  ['To', `"Bob" <sip:b@${r.host}>`],
  ['Call-ID', r.callId],
  ['CSeq', `${r.seq} ${method}`],
] as [string, string][]);
// Extension headers whose names are not known list headers, with values that survive trimming.
const extra = fc.array(fc.tuple(token.map((t) => `X-${t}`), fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/)), { maxLength: 5 });
const body = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b));

const requestArb = token.chain((method) => fc.tuple(mandatory(method), extra, body, host).map(([m, x, b, h]) =>
  request({ method, uri: `sip:room@${h}`, headers: [...m, ...x], body: b })));
const responseArb = fc.tuple(fc.integer({ min: 100, max: 699 }), fc.stringMatching(/^[A-Za-z ]{0,20}$/), mandatory('INVITE'), extra, body)
  .map(([status, reason, m, x, b]) => response({ status, reason, headers: [...m, ...x], body: b }));
const messageArb = fc.oneof(requestArb, responseArb);

describe('serialize', () => {
  it('writes the start line, one header per line and Content-Length from the body', () => {
    const m = request({ method: 'OPTIONS', uri: 'sip:a@b', headers: [['v', 'SIP/2.0/UDP h;branch=z9hG4bK1'], ['Allow', 'INVITE'], ['Allow', 'BYE']], body: 'hi' });
    assert.equal(serialize(m).toString(), 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nAllow: INVITE\r\nAllow: BYE\r\nContent-Length: 2\r\n\r\nhi');
  });

  it('can use compact names and join list values', () => {
    const m = request({ method: 'OPTIONS', uri: 'sip:a@b', headers: [['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'], ['Allow', 'INVITE'], ['Allow', 'BYE']] });
    assert.equal(serialize(m, { compact: true, joinLists: true }).toString(), 'OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nAllow: INVITE, BYE\r\nl: 0\r\n\r\n');
  });

  it('round-trips the RFC 3261 INVITE and the RFC 4475 "wsinv" message after normalisation', () => {
    for (const bytes of [RFC3261_INVITE, WSINV]) {
      const once = reparse(bytes);
      assert.deepEqual(reparse(serialize(once)), once);
      assert.deepEqual(reparse(serialize(once, { compact: true, joinLists: true })), once);
    }
  });

  it('parse(serialize(x)) = x for generated requests and responses (datagram)', () => {
    fc.assert(fc.property(messageArb, fc.boolean(), (m, compact) => {
      assert.deepEqual(reparse(serialize(m, { compact })), m);
    }));
  });

  it('parse(serialize(x)) = x through the stream framer for any split', () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (ms, cuts) => {
      const bytes = Buffer.concat(ms.map((m) => serialize(m)));
      const out: SipMessage[] = [];
      const framer = new SipStreamFramer({ onMessage: (m) => out.push(m), onError: (e) => assert.fail(e.message) });
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let at = 0;
      for (const p of [...points, bytes.length]) {
        framer.push(bytes.subarray(at, p));
        at = p;
      }
      assert.deepEqual(out, ms);
    }));
  });
});
