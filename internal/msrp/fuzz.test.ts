// Fuzzing with a fixed seed and bounded runs: mutated valid frames (bit flips, insertions,
// deletions, truncations) and random bytes, fed with random splits. The parser must never
// throw, must only emit frames or error values, must keep its buffer bounded, must refuse
// input once closed, and must not depend on how the bytes were split.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mutate, mutationOf } from './testdata/mutations.ts';
import { MsrpParser } from './parser.ts';
import type { MsrpParserOptions } from './parser.ts';
import { PARSE_ERRORS } from './errors.ts';
import { serializeToBuffer } from './serializer.ts';
import { frame } from './testdata/arbitraries.ts';
import { parse } from './testdata/harness.ts';

const OPTIONS: MsrpParserOptions = { maxHeaderBytes: 2048, maxBufferedBody: 4096 };
// Head limit + one push at most, plus the end-line tail.
const BOUND = 2048 + 4096 + 2048;

const mutation = mutationOf(['\r\n', '\r', '\n', ':', ' ', '-------', '\x00', '\xff', 'MSRP ', '$\r\n']);

function cutsFor(raw: readonly number[], length: number): number[] {
  return [...new Set(raw.map((c) => c % (length + 1)))].sort((a, b) => a - b);
}

/** Feeds input and checks the invariants; returns the recorded events for comparison. */
function check(input: Buffer, cuts: readonly number[], stream: boolean): unknown[] {
  const run = parse(input, cuts, { ...OPTIONS, streamBodies: stream });
  assert.ok(run.maxBuffered <= BOUND, `buffered ${run.maxBuffered}`);
  for (const e of run.events) {
    if (e.type === 'error') {
      assert.ok(e.error.code in PARSE_ERRORS, e.error.code);
      assert.equal(e.error.status, PARSE_ERRORS[e.error.code].status);
    } else if (e.type === 'frame') {
      assert.ok(e.frame.toPath.length > 0 && e.frame.fromPath.length > 0);
    }
  }
  const fatal = run.errors.findIndex((e) => e.fatal);
  if (fatal >= 0) assert.equal(fatal, run.errors.length - 1, 'nothing is reported after a fatal error');
  assert.equal(run.parser.closed, true);
  assert.equal(run.parser.push(Buffer.from('MSRP abcd SEND\r\n')), false);
  return run.events;
}

describe('fuzz', () => {
  it('survives mutated valid frames under random splits, with split-independent results', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (frames, mutations, rawCuts, stream) => {
        const input = mutate(Buffer.concat(frames.map(serializeToBuffer)), mutations);
        const whole = check(input, [], stream);
        assert.deepEqual(check(input, cutsFor(rawCuts, input.length), stream), whole);
      }),
      { seed: 7701, numRuns: 1500 },
    );
  });

  it('survives random bytes, with and without an MSRP-looking prefix', () => {
    fc.assert(
      fc.property(fc.constantFrom('', 'MSRP ', 'MSRP abcd ', 'MSRP abcd SEND\r\n', 'MSRP abcd SEND\r\nTo-Path: msrp://a:1/b;tcp\r\nFrom-Path: msrp://c:2/d;tcp\r\n\r\n'), fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), (prefix, bytes, rawCuts) => {
        const input = Buffer.concat([Buffer.from(prefix), bytes]);
        const whole = check(input, [], false);
        assert.deepEqual(check(input, cutsFor(rawCuts, input.length), false), whole);
      }),
      { seed: 4976, numRuns: 1500 },
    );
  });

  it('never throws when callbacks push more input re-entrantly', () => {
    const wire = serializeToBuffer({ kind: 'request', transactionId: 'abcd', method: 'SEND', toPath: ['msrp://a:1/b;tcp'], fromPath: ['msrp://c:2/d;tcp'], headers: [], body: [Buffer.from('x')], continuation: '$' });
    let frames = 0;
    const p: MsrpParser = new MsrpParser({
      onFrame: () => {
        if (++frames < 5) p.push(wire);
      },
    });
    p.push(wire);
    assert.equal(frames, 5);
  });
});
