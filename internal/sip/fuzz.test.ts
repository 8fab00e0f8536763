// Fuzzing the SIP parser as internal/msrp/fuzz.test.ts fuzzes the MSRP one (issue 13): a fixed
// seed and bounded runs over mutated valid messages (RFC 4475 and RFC 3261 vectors: bit
// flips, insertions, deletions, truncations) and random bytes. The parser must never throw
// and only return messages or catalogued errors; the stream framer must not depend on how
// the bytes were split and must keep its buffer bounded; and what parses must go through the
// UAS core and the header helpers the focus uses (Via, From/To, Contact, CSeq, the Request-
// URI, Digest credentials, serialization) without an exception: the UDP socket hands each
// datagram to them synchronously, so a throw there would stop the process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { mutate, mutationOf } from '../msrp/testdata/mutations.ts';
import { parseDigestCredentials } from '../auth/index.ts';
import { SIP_ERRORS } from './errors.ts';
import { contacts, cseq, fromHeader, routes, toHeader, topVia, vias } from './fields.ts';
import { headerValue, type SipMessage } from './message.ts';
import { parseDatagram, SipStreamFramer, type SipParseError } from './parser.ts';
import { serialize } from './serializer.ts';
import { FakeClock } from './testdata/clock.ts';
import { RFC3261_200, RFC3261_INVITE, sip, VALID, WSINV } from './testdata/vectors.ts';
import { UserAgentServer } from './ua.ts';
import { parseSipUri } from './uri.ts';

const SEED = 13;
const RUNS = 400;
const LIMITS = { maxHeaderBytes: 2048, maxBodyBytes: 4096 };

const AUTHORIZED = sip(`
SUBSCRIBE sip:lobby@chat.test SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
From: "Alice" <sip:alice@example.com>;tag=1928301774
To: <sip:lobby@chat.test>
Call-ID: a84b4c76e66710@pc33.example.com
CSeq: 2 SUBSCRIBE
Event: conference
Contact: <sip:alice@192.0.2.1:5060>
Authorization: Digest username="alice", realm="example.com", nonce="AQAAAZQ", uri="sip:lobby@chat.test", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x", nc=00000001, qop=auth
Route: <sip:proxy.example.com;lr>
`);
const SEEDS: readonly Buffer[] = [RFC3261_INVITE, RFC3261_200, WSINV, AUTHORIZED, ...Object.values(VALID)];

const mutation = mutationOf(['\r\n', '\r', '\n', ':', ';', ',', '<', '>', '"', '\\', ' ', '\t', '=', '@', '%', '%0', 'sip:', 'Content-Length: 99999\r\n', 'CSeq: 1 X\r\n', '\x00', '\xff']);

const mutated: fc.Arbitrary<Buffer> = fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([s, ms]) => mutate(s, ms));
const anyInput: fc.Arbitrary<Buffer> = fc.oneof(mutated, fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)));

function checkError(e: SipParseError): void {
  assert.ok(e.code in SIP_ERRORS, e.code);
  assert.equal(e.status, SIP_ERRORS[e.code].status);
  assert.equal(typeof e.reason, 'string');
}

/** What the focus reads from a message it was handed: none of it may throw. */
function readLikeTheFocus(m: SipMessage): void {
  topVia(m);
  vias(m);
  fromHeader(m);
  toHeader(m);
  contacts(m);
  routes(m);
  cseq(m);
  if (m.kind === 'request') parseSipUri(m.uri);
  const auth = headerValue(m, 'Authorization');
  if (auth !== undefined) parseDigestCredentials(auth);
  serialize(m);
}

describe('SIP parser fuzzing (fast-check, fixed seed)', () => {
  it('parseDatagram never throws: a message, a keep-alive or a catalogued error', () => {
    fc.assert(fc.property(anyInput, (input) => {
      const r = parseDatagram(input, LIMITS);
      if (r === undefined) return;
      if (r.ok) readLikeTheFocus(r.value);
      else checkError(r.error);
    }), { seed: SEED, numRuns: RUNS * 2 });
  });

  it('the stream framer gives the same messages and errors however the bytes are split, and stays bounded', () => {
    const run = (input: Buffer, cuts: readonly number[]) => {
      const events: unknown[] = [];
      let maxBuffered = 0;
      const framer = new SipStreamFramer({
        onMessage: (m) => {
          readLikeTheFocus(m);
          events.push(['m', serialize(m).toString('latin1')]);
        },
        onError: (e) => {
          checkError(e);
          events.push(['e', e.code, e.fatal === true]);
        },
        onKeepAlive: () => events.push(['k']),
      }, LIMITS);
      let from = 0;
      for (const c of [...cuts, input.length]) {
        framer.push(input.subarray(from, c));
        maxBuffered = Math.max(maxBuffered, framer.bufferedBytes);
        from = c;
      }
      framer.end();
      return { events, maxBuffered };
    };
    fc.assert(fc.property(fc.array(anyInput, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (parts, raw) => {
      const input = Buffer.concat(parts);
      const cuts = [...new Set(raw.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
      const whole = run(input, []);
      const split = run(input, cuts);
      assert.deepEqual(split.events, whole.events);
      // The head limit, plus a chunk at most (the framer keeps no more than it was given past a complete head).
      assert.ok(split.maxBuffered <= LIMITS.maxHeaderBytes + 4 + input.length, `buffered ${split.maxBuffered}`);
    }), { seed: SEED, numRuns: RUNS });
  });

  it('the UAS core answers or drops every parsed datagram without throwing', () => {
    const sent: SipMessage[] = [];
    const ua = new UserAgentServer({
      send: (m) => sent.push(m), contact: '<sip:lobby@127.0.0.1:5060>;isfocus', clock: new FakeClock(),
      onRequest: (incoming) => {
        readLikeTheFocus(incoming.request);
        incoming.respond(incoming.request.method === 'INVITE' ? 486 : 200);
      },
    });
    const source = { transport: 'UDP', address: '192.0.2.1', port: 5060 };
    fc.assert(fc.property(anyInput, (input) => {
      const r = parseDatagram(input, LIMITS);
      if (r === undefined) return;
      if (r.ok) ua.receive(r.value, source);
      else ua.receiveError(r.error, source);
      for (const m of sent.splice(0)) serialize(m);
    }), { seed: SEED, numRuns: RUNS });
  });
});
