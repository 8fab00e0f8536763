import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endLine, serializeFrame, serializeHead, serializeToBuffer, toBuffers } from './serializer.ts';
import type { MsrpFrame } from './frame.ts';
import { parse } from './testdata/harness.ts';
import * as rfc4975 from './testdata/rfc4975.ts';
import * as rfc4976 from './testdata/rfc4976.ts';
import * as rfc7977 from './testdata/rfc7977.ts';

const send: MsrpFrame = {
  kind: 'request',
  transactionId: 'a786hjs2',
  method: 'SEND',
  toPath: ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp'],
  fromPath: ['msrp://atlanta.example.com:7654/jshA7weztas;tcp'],
  headers: [
    { name: 'Message-ID', value: '87652491' },
    { name: 'Byte-Range', value: '1-25/25' },
    { name: 'Content-Type', value: 'text/plain' },
  ],
  body: [Buffer.from('Hey Bob, '), Buffer.from('are you there?')],
  continuation: '$',
};

describe('serializer', () => {
  it('writes the RFC 4975 §4 SEND byte for byte', () => {
    assert.equal(serializeToBuffer(send).toString('latin1'), rfc4975.fig2Send);
  });

  it('reproduces every canonical RFC vector it parses (paths first, single SP)', () => {
    const vectors = [rfc4975.fig2Send, rfc4975.fig2Response, rfc4975.basicSessionAliceSend, rfc4975.successReport, rfc4975.cpimFirstChunk, rfc4976.auth200, rfc4976.sendToRelayA, rfc7977.wsAuth401, rfc7977.wsSend];
    for (const wire of vectors) {
      const run = parse(wire);
      const out = Buffer.concat(run.frames.map((f) => serializeToBuffer({ ...f, body: f.body.length > 0 ? [f.body] : [] })));
      assert.equal(out.toString('utf8'), wire);
    }
  });

  it('puts To-Path and From-Path first, then the other headers in order', () => {
    const wire = 'MSRP abcd1234 SEND\r\nMessage-ID: m1234\r\nFrom-Path: msrp://b.example.com:2/t;tcp\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\n-------abcd1234$\r\n';
    const [f] = parse(wire).frames;
    assert.ok(f);
    assert.equal(
      serializeToBuffer({ ...f, body: [] }).toString(),
      'MSRP abcd1234 SEND\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\nFrom-Path: msrp://b.example.com:2/t;tcp\r\nMessage-ID: m1234\r\n-------abcd1234$\r\n',
    );
  });

  it('returns the body slices themselves, ready for writev', () => {
    const parts = toBuffers(send);
    assert.equal(parts.length, 4);
    assert.equal(parts[1], send.body[0]);
    assert.equal(parts[2], send.body[1]);
    assert.equal(parts[3]!.toString(), '\r\n-------a786hjs2$\r\n');
    const s = serializeFrame(send);
    assert.equal(s.body, send.body);
    assert.equal(s.endLine.toString(), '\r\n-------a786hjs2$\r\n');
    assert.ok(s.head.toString().endsWith('Content-Type: text/plain\r\n\r\n'));
  });

  it('writes a frame without body with the end-line right after the headers', () => {
    const parts = toBuffers({ ...send, body: [Buffer.alloc(0)], continuation: '#' });
    assert.equal(parts.length, 1);
    assert.ok(parts[0]!.toString().endsWith('Content-Type: text/plain\r\n-------a786hjs2#\r\n'));
  });

  it('writes heads and end-lines for streaming forwarders', () => {
    const { body: _body, continuation: _c, ...head } = send;
    const wire = Buffer.concat([serializeHead(head), Buffer.from('Hey Bob, are you there?'), endLine('a786hjs2', '$', true)]);
    assert.equal(wire.toString(), rfc4975.fig2Send);
    assert.equal(endLine('a786hjs2', '+').toString(), '-------a786hjs2+\r\n');
  });

  it('writes response status codes as three digits with an optional comment', () => {
    const base = { kind: 'response' as const, transactionId: 'abcd', toPath: ['msrp://a:1/b;tcp'], fromPath: ['msrp://c:2/d;tcp'], headers: [], body: [], continuation: '$' as const };
    assert.match(serializeToBuffer({ ...base, status: 200, comment: 'OK' }).toString(), /^MSRP abcd 200 OK\r\n/);
    assert.match(serializeToBuffer({ ...base, status: 99, comment: '' }).toString(), /^MSRP abcd 099\r\n/);
  });

  it('refuses frames that would break the framing', () => {
    assert.throws(() => toBuffers({ ...send, transactionId: 'ab' }), TypeError);
    assert.throws(() => toBuffers({ ...send, method: 'send' }), TypeError);
    assert.throws(() => toBuffers({ ...send, headers: [{ name: 'X', value: 'a\r\nInjected: yes' }] }), TypeError);
    assert.throws(() => toBuffers({ ...send, headers: [{ name: 'Bad Name', value: 'x' }] }), TypeError);
    assert.throws(() => toBuffers({ ...send, toPath: [] }), TypeError);
    assert.throws(() => toBuffers({ ...send, fromPath: ['http://x'] }), TypeError);
    assert.throws(() => toBuffers({ kind: 'response', transactionId: 'abcd', status: 200, comment: 'OK', toPath: ['msrp://a:1/b;tcp'], fromPath: ['msrp://c:2/d;tcp'], headers: [], body: [Buffer.from('x')], continuation: '$' }), TypeError);
  });
});
