import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MsrpRequest } from './frame.ts';
import { isIdent } from './headers.ts';
import { buildResponse, newMessageId, newSessionId, newTransactionId, randomBase62 } from './transaction.ts';
import { parseMsrpUri } from './uri.ts';

// RFC 4976 §7.1-style request as received by a relay: the client's URI is the only
// From-Path entry, the relay's own URI is first in To-Path.
const viaRelay: MsrpRequest = {
  kind: 'request',
  method: 'SEND',
  transactionId: 'a786hjs2',
  toPath: ['msrps://relay2.example.net:2855/b7dj;tcp', 'msrps://bob.example.com:8888/9di4eae923wzd;tcp'],
  fromPath: ['msrps://relay1.example.com:2855/2v5s;tcp', 'msrps://alice.example.com:7394/2s93i9ek2a;tcp'],
  headers: [{ name: 'Message-ID', value: '87652491' }],
  body: [Buffer.from('hi')],
  continuation: '$',
};

describe('identifiers', () => {
  it('mints transaction ids and Message-IDs that are RFC 4975 §9 idents', () => {
    for (let i = 0; i < 1000; i++) {
      assert.ok(isIdent(newTransactionId()));
      assert.ok(isIdent(newMessageId()));
    }
  });

  it('mints session ids usable in an MSRP URI, with an optional owner prefix', () => {
    const id = newSessionId('r3-');
    assert.match(id, /^r3-[A-Za-z0-9]{20}$/);
    const r = parseMsrpUri(`msrps://relay.example.com/${id};tcp`);
    assert.ok(r.ok && r.uri.sessionId === id);
    assert.throws(() => newSessionId('bad prefix'), RangeError);
  });

  it('does not repeat itself', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20000; i++) seen.add(newTransactionId());
    assert.equal(seen.size, 20000);
  });

  it('draws base62 characters uniformly', () => {
    const counts = new Map<string, number>();
    const s = randomBase62(62 * 2000);
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(counts.size, 62);
    for (const n of counts.values()) assert.ok(n > 1600 && n < 2400, `count ${n}`);
  });
});

describe('buildResponse (RFC 4975 §7.2, RFC 4976 §7.1)', () => {
  it('answers the RFC 4975 §4 example SEND with To-Path and From-Path swapped', () => {
    const send: MsrpRequest = {
      ...viaRelay,
      toPath: ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp'],
      fromPath: ['msrp://atlanta.example.com:7654/jshA7weztas;tcp'],
    };
    assert.deepEqual(buildResponse(send, 200), {
      kind: 'response',
      transactionId: 'a786hjs2',
      status: 200,
      comment: 'OK',
      toPath: ['msrp://atlanta.example.com:7654/jshA7weztas;tcp'],
      fromPath: ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp'],
      headers: [],
      body: [],
      continuation: '$',
    });
  });

  it('addresses only the previous hop, the first From-Path URI, not the original sender', () => {
    const r = buildResponse(viaRelay, 403, 'not allowed');
    assert.deepEqual(r.toPath, ['msrps://relay1.example.com:2855/2v5s;tcp']);
    assert.deepEqual(r.fromPath, ['msrps://relay2.example.net:2855/b7dj;tcp']);
    assert.equal(r.comment, 'not allowed');
  });

  it('lets the caller name the local URI and keeps the comment on one line', () => {
    const r = buildResponse(viaRelay, 481, 'no\r\nsuch session', 'msrps://other.example.net;tcp');
    assert.deepEqual(r.fromPath, ['msrps://other.example.net;tcp']);
    assert.equal(r.comment, 'no such session');
  });

  it('refuses a request without paths and a status that is not three digits', () => {
    assert.throws(() => buildResponse({ ...viaRelay, fromPath: [] }, 200), RangeError);
    assert.throws(() => buildResponse(viaRelay, 20), RangeError);
  });
});
