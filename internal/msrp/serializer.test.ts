import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endLine, forwardedEndLine, serializeForwarded, serializeForwardedEmpty, serializeForwardedHead, serializeForwardedWire, serializeFrame, serializeHead, serializeOk, serializeOkWire, serializeToBuffer, toBuffers } from './serializer.ts';
import { MsrpParser } from './parser.ts';
import { buildResponse } from './transaction.ts';
import type { MsrpFrame, MsrpHead, MsrpRequest } from './frame.ts';
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

  describe('trusted fast path for forwarded frames', () => {
    const headOf = (f: MsrpFrame): MsrpHead => {
      const { body: _b, continuation: _c, ...head } = f;
      return head;
    };
    const vectors = [rfc4975.fig2Send, rfc4975.fig2Response, rfc4975.basicSessionAliceSend, rfc4975.successReport, rfc4975.cpimFirstChunk, rfc4976.auth200, rfc4976.sendToRelayA, rfc7977.wsAuth401, rfc7977.wsSend];
    const parsed = vectors.flatMap((wire) => parse(wire).frames.map((f) => ({ ...f, body: f.body.length > 0 ? [f.body] : [] })));
    // Relay rewrites: several path URIs, a big body (passed through as slices), no body, every flag.
    const extra: MsrpFrame[] = [
      { ...send, toPath: ['msrp://b.example.com:1/x;tcp', 'msrps://c.example.com/y;tcp'], fromPath: ['msrps://r.example.com:2855/s1;tcp', ...send.fromPath] },
      { ...send, body: [Buffer.alloc(5000, 0x61), Buffer.alloc(0), Buffer.from('é')], continuation: '+' },
      { ...send, body: [], continuation: '#' },
      { ...send, body: [Buffer.alloc(0)], continuation: '$' },
      { ...send, headers: [{ name: 'Content-Type', value: 'text/plain; charset=utf-8 ünïcode' }], body: [Buffer.from('x')] },
      { kind: 'response', transactionId: 'abcd', status: 99, comment: '', toPath: ['msrp://a:1/b;tcp'], fromPath: ['msrp://c:2/d;tcp'], headers: [], body: [], continuation: '$' },
    ];
    const frames = [...parsed, ...extra];

    it('serializeForwarded() is byte-identical to toBuffers()', () => {
      assert.ok(parsed.length >= vectors.length);
      for (const f of frames) {
        const want = serializeToBuffer(f);
        assert.deepEqual(Buffer.concat(serializeForwarded(headOf(f), f.body, f.continuation)), want);
      }
    });

    it('serializeForwardedHead() and forwardedEndLine() match serializeHead() and endLine()', () => {
      for (const f of frames) {
        for (const hasBody of f.kind === 'request' ? [true, false] : [false]) {
          assert.deepEqual(serializeForwardedHead(headOf(f), hasBody), serializeHead(headOf(f), hasBody));
          assert.deepEqual(forwardedEndLine(f.transactionId, f.continuation, hasBody), endLine(f.transactionId, f.continuation, hasBody));
        }
      }
    });

    it('serializeForwardedEmpty() matches a body-less frame, in one Buffer', () => {
      for (const f of frames) {
        const empty = { ...f, body: [] };
        assert.deepEqual(serializeForwardedEmpty(headOf(f), f.continuation), serializeToBuffer(empty));
      }
    });

    it('serializeForwardedWire() and serializeOkWire() copy the received bytes into the same frames', () => {
      let checked = 0;
      const ours = ['msrps://relay.example.com:2855/s1;tcp', 'msrps://relay.example.com:2855/s2;tcp'];
      for (const f of frames) {
        if (f.kind !== 'request') continue;
        for (const k of [1, 2]) {
          // The request as it reaches the relay: k of our URIs first (runs of SP between URIs are allowed).
          const arriving: MsrpRequest = { ...f, toPath: [...ours.slice(0, k), ...f.toPath] };
          const wire = Buffer.from(serializeToBuffer(arriving).toString('latin1').replace(/^(To-Path: \S+) /m, '$1   '), 'latin1');
          let forwarded: Buffer | undefined;
          let ok: Buffer | undefined;
          const p: MsrpParser = new MsrpParser({
            onFrame: (g) => {
              const w = p.wire;
              if (w === undefined || g.kind !== 'request') return;
              forwarded = Buffer.concat(serializeForwardedWire('Relay0123456789x', g.method, k, g.toPath, w, g.continuation));
              ok = serializeOkWire(g.transactionId, g.fromPath[0]!.length, g.toPath[0]!.length, w);
            },
          }, { byteRangeCheck: 'off' });
          p.push(wire);
          if (forwarded === undefined) continue;
          const fromPath: string[] = [...ours.slice(0, k).reverse(), ...f.fromPath];
          assert.deepEqual(forwarded, serializeToBuffer({ ...f, transactionId: 'Relay0123456789x', fromPath }));
          assert.deepEqual(ok, serializeToBuffer(buildResponse(arriving, 200)));
          checked++;
        }
      }
      assert.ok(checked >= 16, `${checked} requests checked`);
    });

    it('serializeOk() is buildResponse(request, 200) serialized', () => {
      for (const f of frames) {
        if (f.kind !== 'request') continue;
        const ascii = [f.toPath[0], f.fromPath[0]].every((u) => /^[\x20-\x7e]*$/.test(u!));
        const want = serializeToBuffer(buildResponse(f, 200));
        assert.deepEqual(serializeOk(f.transactionId, f.fromPath[0]!, f.toPath[0]!, ascii), want);
        assert.deepEqual(serializeOk(f.transactionId, f.fromPath[0]!, f.toPath[0]!, false), want);
      }
    });

    it('copies small bodies into one Buffer and passes large ones through as the same slices', () => {
      assert.equal(serializeForwarded(headOf(send), send.body, '$').length, 1);
      const big = Buffer.alloc(5000, 0x62);
      const parts = serializeForwarded(headOf(send), [big], '$');
      assert.equal(parts.length, 3);
      assert.equal(parts[1], big);
    });
  });
});
