// Malformed-input corpus: each case names the error code and MSRP status the parser must
// report, whether the stream is lost (fatal), and checks that the parser never throws,
// always finishes, refuses input after a fatal error and otherwise recovers for the next frame.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MsrpParser } from './parser.ts';
import { everyByte, parse } from './testdata/harness.ts';
import { BEFORE_TID, MALFORMED_CASES, TID, VALID } from './testdata/malformed.ts';

const PATH_TO = 'msrp://a.example.com:1/s;tcp';
const PATH_FROM = 'msrp://b.example.com:2/t;tcp';
const TO = `To-Path: ${PATH_TO}\r\n`;
const FROM = `From-Path: ${PATH_FROM}\r\n`;
const cases = MALFORMED_CASES;

describe('malformed input corpus', () => {
  it('has at least 60 cases', () => assert.ok(cases.length >= 60, String(cases.length)));
  it('has cases with and without a head', () => {
    assert.ok(cases.filter((c) => c.head !== undefined).length >= 30);
    assert.ok(cases.some((c) => c.head === 'response'));
    for (const c of cases) if (['bad-start-line', 'bad-method', 'bad-status-code', 'bad-transaction-id'].includes(c.code)) assert.equal(c.head, undefined, c.name);
  });

  for (const c of cases) {
    it(`reports ${c.code} (${c.status ?? 400}${c.fatal ? ', fatal' : ''}) for ${c.name}`, () => {
      const input = typeof c.input === 'string' ? Buffer.from(c.input, 'latin1') : c.input;
      for (const cuts of [[], everyByte(input.length)]) {
        const run = parse(input, cuts, c.options);
        const first = run.errors[0];
        assert.ok(first, 'an error is reported');
        assert.equal(first.code, c.code, first.message);
        assert.equal(first.status, c.status ?? 400);
        assert.equal(first.fatal, c.fatal);
        assert.equal(run.frames.length, 0, 'no frame is emitted for the bad one');
        const noTid = c.noTid ?? (c.fatal && BEFORE_TID.includes(c.code));
        assert.equal(first.transactionId, noTid ? undefined : TID, 'the transaction id is reported when known');
        if (c.head === undefined) assert.equal(first.head, undefined, 'no head without a valid start line and both paths');
        else assert.deepEqual(first.head, { kind: c.head === 'response' ? 'response' : 'request', ...(c.head === 'response' ? {} : { method: c.head }), toPath: [PATH_TO], fromPath: [PATH_FROM] });
      }
      if (c.fatal && !c.unterminated) {
        const p = new MsrpParser({});
        p.push(input);
        assert.equal(p.closed, true);
        assert.equal(p.push(Buffer.from(VALID)), false, 'a closed parser refuses input');
        assert.equal(p.bufferedBytes, 0);
      }
      if (!c.fatal && !c.unterminated) {
        const run = parse(Buffer.concat([input, Buffer.from(VALID)]), [], c.options);
        assert.equal(run.errors.length, 1);
        assert.deepEqual(run.frames.map((f) => f.transactionId), ['zz99'], 'the next frame is parsed');
      }
    });
  }
});

describe('bounded memory', () => {
  it('never buffers more than maxHeaderBytes for an endless header line', () => {
    const p = new MsrpParser({ onError: () => {} }, { maxHeaderBytes: 4096 });
    p.push(Buffer.from(`MSRP ${TID} SEND\r\nX: `));
    const junk = Buffer.alloc(1000, 0x61);
    for (let i = 0; i < 2000; i++) {
      p.push(junk);
      assert.ok(p.bufferedBytes <= 4096 + junk.length, `buffered ${p.bufferedBytes}`);
    }
  });

  it('never buffers more than the end-line tail for an endless streamed body', () => {
    let seen = 0;
    const p = new MsrpParser({ onHead: () => {}, onBody: (b) => (seen += b.length), onEnd: () => {} }, { streamBodies: true });
    p.push(Buffer.from(`MSRP ${TID} SEND\r\n${TO}${FROM}Content-Type: application/octet-stream\r\n\r\n`));
    const chunk = Buffer.alloc(1 << 20, 0x0d); // all CR: every byte is an end-line candidate
    for (let i = 0; i < 64; i++) {
      p.push(chunk);
      assert.ok(p.bufferedBytes <= 64, `buffered ${p.bufferedBytes}`);
    }
    assert.ok(seen >= 63 * chunk.length);
  });

  it('never buffers more than maxBufferedBody plus a push when it cannot stream', () => {
    const p = new MsrpParser({ onError: () => {} }, { maxBufferedBody: 10000 });
    p.push(Buffer.from(`MSRP ${TID} SEND\r\n${TO}${FROM}Content-Type: application/octet-stream\r\n\r\n`));
    for (let i = 0; i < 100; i++) {
      p.push(Buffer.alloc(4096, 0x62));
      assert.ok(p.bufferedBytes <= 10000 + 64, `buffered ${p.bufferedBytes}`);
    }
  });

  it('accepts a 32-character transaction id and a REPORT body of exactly 10 KB', () => {
    const tid = `a${'b'.repeat(31)}`;
    const run = parse(`MSRP ${tid} REPORT\r\n${TO}${FROM}Content-Type: text/plain\r\n\r\n${'r'.repeat(10240)}\r\n-------${tid}$\r\n`);
    assert.deepEqual(run.errors, []);
    assert.equal(run.frames.length, 1);
  });
});
