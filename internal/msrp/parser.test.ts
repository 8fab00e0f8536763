import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MsrpParser } from './parser.ts';
import { serializeToBuffer } from './serializer.ts';
import { getHeader } from './frame.ts';
import type { MsrpFrame } from './frame.ts';
import { everyByte, flatten, parse } from './testdata/harness.ts';
import type { FlatFrame, ParseEvent } from './testdata/harness.ts';
import * as rfc4975 from './testdata/rfc4975.ts';
import * as rfc4976 from './testdata/rfc4976.ts';
import * as rfc7977 from './testdata/rfc7977.ts';
import { frame as frameArb } from './testdata/arbitraries.ts';

function bodyText(f: { body: Buffer }): string {
  return f.body.toString('utf8');
}

function assertSplitInvariant(input: string, options = {}): void {
  const whole = parse(input, [], options);
  const bytewise = parse(input, everyByte(Buffer.byteLength(input)), options);
  assert.deepEqual(bytewise.events, whole.events);
}

describe('RFC 4975 examples', () => {
  const valid: Array<[string, string]> = [
    ['§4 SEND', rfc4975.fig2Send],
    ['§4 200', rfc4975.fig2Response],
    ['§5.1 chunks (paths added)', rfc4975.fig3ChunksWithPaths],
    ['§11.1 SEND', rfc4975.basicSessionAliceSend],
    ['§11.1 200', rfc4975.basicSessionBobOk],
    ['§11.1 reply SEND', rfc4975.basicSessionBobSend],
    ['§11.1 reply 200', rfc4975.basicSessionAliceOk],
    ['§11.4 first chunk', rfc4975.cpimFirstChunk],
    ['§11.4 second chunk', rfc4975.cpimSecondChunk],
    ['§11.5 system message', rfc4975.systemMessage],
    ['§11.6 success REPORT', rfc4975.successReport],
  ];
  for (const [name, wire] of valid) {
    it(`parses ${name} without error, whole or one byte at a time`, () => {
      const run = parse(wire);
      assert.deepEqual(run.errors, []);
      assert.ok(run.frames.length >= 1);
      assertSplitInvariant(wire);
    });
  }

  it('reads the §4 SEND into the frame model', () => {
    const [f] = parse(rfc4975.fig2Send).frames;
    assert.ok(f && f.kind === 'request');
    assert.equal(f.transactionId, 'a786hjs2');
    assert.equal(f.method, 'SEND');
    assert.deepEqual(f.toPath, ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp']);
    assert.deepEqual(f.fromPath, ['msrp://atlanta.example.com:7654/jshA7weztas;tcp']);
    assert.deepEqual(f.headers, [
      { name: 'Message-ID', value: '87652491' },
      { name: 'Byte-Range', value: '1-25/25' },
      { name: 'Content-Type', value: 'text/plain' },
    ]);
    assert.equal(bodyText(f), 'Hey Bob, are you there?');
    assert.equal(f.continuation, '$');
  });

  it('reads a response start line with its comment', () => {
    const [f] = parse(rfc4975.fig2Response).frames;
    assert.ok(f && f.kind === 'response');
    assert.equal(f.status, 200);
    assert.equal(f.comment, 'OK');
    assert.equal(f.body.length, 0);
  });

  it('keeps the §5.1 chunk flags and bodies', () => {
    const frames = parse(rfc4975.fig3ChunksWithPaths).frames;
    assert.deepEqual(frames.map((f) => [f.transactionId, bodyText(f), f.continuation]), [
      ['dkei38sd', 'abcd', '+'],
      ['dkei38ia', 'EFGH', '$'],
    ]);
  });

  it('rejects the §5.1 snippet as printed, which has no To-Path, and recovers for the next frame', () => {
    const run = parse(rfc4975.fig3ChunksAsPrinted);
    assert.deepEqual(run.errors.map((e) => [e.code, e.status, e.transactionId, e.fatal]), [
      ['missing-to-path', 400, 'dkei38sd', false],
      ['missing-to-path', 400, 'dkei38ia', false],
    ]);
    assert.equal(run.parser.closed, true); // closed by end(), not by the errors
  });

  it('keeps the CPIM wrapper, blank line included, inside the first chunk body', () => {
    const [f] = parse(rfc4975.cpimFirstChunk).frames;
    assert.ok(f);
    assert.equal(f.body.length, 137);
    assert.equal(f.continuation, '+');
    assert.match(bodyText(f), /Content-Type: text\/plain\r\n\r\nABCD$/);
  });

  it('reads the REPORT Status header', () => {
    const [f] = parse(rfc4975.successReport).frames;
    assert.ok(f && f.kind === 'request');
    assert.equal(f.method, 'REPORT');
    assert.equal(getHeader(f, 'status'), '000 200 OK');
  });

  it('flags §11.2 and §11.6, whose printed bodies are longer than their Byte-Range, unless the check is off', () => {
    for (const wire of [rfc4975.xhtmlMessage, rfc4975.positiveReportSend]) {
      assert.deepEqual(parse(wire).errors.map((e) => e.code), ['byte-range-mismatch']);
      const relaxed = parse(wire, [], { byteRangeCheck: 'off' });
      assert.deepEqual(relaxed.errors, []);
      assert.equal(relaxed.frames.length, 1);
      assertSplitInvariant(wire, { byteRangeCheck: 'off' });
    }
  });

  it('accepts the RFC examples whose Byte-Range counts the CRLF, but not in exact mode', () => {
    assert.deepEqual(parse(rfc4975.fig2Send, [], { byteRangeCheck: 'exact' }).errors.map((e) => e.code), ['byte-range-mismatch']);
    assert.deepEqual(parse(rfc4975.cpimFirstChunk, [], { byteRangeCheck: 'exact' }).errors, []);
  });
});

describe('RFC 4976 examples', () => {
  const valid = Object.entries(rfc4976).filter(([name]) => name !== 'bobOkThenReportAsPrinted');
  for (const [name, wire] of valid) {
    it(`parses ${name} without error, whole or one byte at a time`, () => {
      const run = parse(wire);
      assert.deepEqual(run.errors, []);
      assert.ok(run.frames.length >= 1);
      assertSplitInvariant(wire);
    });
  }

  it('reads multi-hop paths in order', () => {
    const [f] = parse(rfc4976.sendToRelayA).frames;
    assert.ok(f);
    assert.deepEqual(f.toPath, [
      'msrps://a.example.org:9000/kjfjan;tcp',
      'msrps://b.example.net:9000/aeiug;tcp',
      'msrps://bob.example.net:8145/foo;tcp',
    ]);
    assert.equal(f.transactionId, '6aef');
  });

  it('reads the AUTH 200 with Use-Path, Authentication-Info and Expires', () => {
    const [f] = parse(rfc4976.auth200).frames;
    assert.ok(f && f.kind === 'response');
    assert.equal(getHeader(f, 'Use-Path'), 'msrps://intra.example.com:9000/jui787s2f;tcp');
    assert.equal(getHeader(f, 'Expires'), '900');
    assert.match(getHeader(f, 'Authentication-Info') ?? '', /^nextnonce="40f2e8/);
    const [challenge] = parse(rfc4976.auth401).frames;
    assert.ok(challenge && challenge.kind === 'response');
    assert.equal(challenge.status, 401);
    assert.equal(challenge.comment, 'Unauthorized');
  });

  it('reports the missing end-line of the printed "xght6 200 OK" as a bad header line of that transaction', () => {
    const run = parse(rfc4976.bobOkThenReportAsPrinted);
    assert.deepEqual(run.errors.map((e) => [e.code, e.transactionId, e.fatal]), [
      ['bad-header-line', 'xght6', false],
      ['missing-end-line', 'xght6', true],
    ]);
    const fixed = parse(rfc4976.bobOkThenReportFixed);
    assert.deepEqual(fixed.frames.map((f) => f.transactionId), ['xght6', 'yh67']);
  });
});

describe('RFC 7977 examples', () => {
  for (const [name, wire] of Object.entries(rfc7977)) {
    it(`parses ${name} without error, whole or one byte at a time`, () => {
      const run = parse(wire);
      assert.deepEqual(run.errors, []);
      assertSplitInvariant(wire);
    });
  }

  it('keeps ;ws URIs and tolerates two spaces after the colon', () => {
    const [, fwd] = parse(rfc7977.wsRelayOkThenForward).frames;
    assert.ok(fwd);
    assert.deepEqual(fwd.fromPath, ['msrps://a.example.com:2855/jui787s2f;tcp', 'msrps://df7jal23ls0d.invalid:2855/98cjs;ws']);
  });
});

const SEND_HEAD = 'MSRP abcd1234 SEND\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\nFrom-Path: msrp://b.example.com:2/t;tcp\r\n';

function send(body: string, flag = '$', extra = ''): string {
  return `${SEND_HEAD}${extra}Content-Type: text/plain\r\n\r\n${body}\r\n-------abcd1234${flag}\r\n`;
}

describe('end-line detection', () => {
  const lookalikes = [
    '-------abcd1234',
    '\r\n-------abcd1234',
    '\r\n-------abcd1234x\r\n',
    '\r\n-------abcd1234$',
    '\r\n-------abcd1234$\r',
    '\r\n-------abcd1234$\n',
    '\r\n-------abcd12345$\r\n',
    '\r\n-------abcd123$\r\n',
    '\r\n------abcd1234$\r\n',
    'x-------abcd1234$\r\nmore',
  ];
  for (const fake of lookalikes) {
    it(`keeps ${JSON.stringify(fake)} in the body`, () => {
      const body = `before${fake}after`;
      const run = parse(send(body));
      assert.deepEqual(run.errors, []);
      assert.equal(bodyText(run.frames[0]!), body);
      assertSplitInvariant(send(body));
    });
  }

  it('finds the end-line wherever the pushes split it', () => {
    const wire = send('x'.repeat(100));
    const expected = parse(wire).events;
    for (let cut = 1; cut < wire.length; cut++) {
      assert.deepEqual(parse(wire, [cut]).events, expected, `cut at ${cut}`);
    }
    for (let a = wire.length - 30; a < wire.length - 1; a++) {
      for (let b = a + 1; b < wire.length; b++) assert.deepEqual(parse(wire, [a, b]).events, expected, `cuts at ${a},${b}`);
    }
  });

  it('accepts a body whose blank line is directly followed by the end-line as an empty body', () => {
    const run = parse(`${SEND_HEAD}Content-Type: text/plain\r\n\r\n-------abcd1234+\r\n`);
    assert.deepEqual(run.errors, []);
    assert.equal(run.frames[0]!.body.length, 0);
    assert.equal(run.frames[0]!.continuation, '+');
  });

  it('reads a bodiless SEND (RFC 4975 §7.1 keep-alive) and an aborted chunk flag', () => {
    const run = parse(`${SEND_HEAD}-------abcd1234#\r\n`);
    assert.deepEqual(run.errors, []);
    assert.equal(run.frames[0]!.continuation, '#');
  });

  it('parses To-Path and From-Path in any position', () => {
    const wire = 'MSRP abcd1234 SEND\r\nMessage-ID: m1234\r\nFrom-Path: msrp://b.example.com:2/t;tcp\r\nX: y\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\n-------abcd1234$\r\n';
    const [f] = parse(wire).frames;
    assert.ok(f);
    assert.deepEqual(f.toPath, ['msrp://a.example.com:1/s;tcp']);
    assert.deepEqual(f.headers.map((h) => h.name), ['Message-ID', 'X']);
  });

  it('decodes UTF-8 header values and comments', () => {
    const wire = 'MSRP abcd1234 200 Très bien\r\nTo-Path: msrp://a.example.com:1/s;tcp\r\nFrom-Path: msrp://b.example.com:2/t;tcp\r\nUse-Nickname: "Zoë 中文"\r\n-------abcd1234$\r\n';
    const [f] = parse(wire).frames;
    assert.ok(f && f.kind === 'response');
    assert.equal(f.comment, 'Très bien');
    assert.equal(getHeader(f, 'use-nickname'), '"Zoë 中文"');
    assertSplitInvariant(wire);
  });
});

describe('zero-copy bodies and streaming', () => {
  it('hands out body slices of the pushed buffer, not copies', () => {
    const wire = Buffer.from(send('hello world'));
    const frames: MsrpFrame[] = [];
    const p = new MsrpParser({ onFrame: (f) => frames.push(f) });
    p.push(wire);
    assert.equal(frames[0]!.body.length, 1);
    assert.equal(frames[0]!.body[0]!.buffer, wire.buffer);
  });

  it('returns a body that straddles pushes as several slices', () => {
    const wire = Buffer.from(send('a'.repeat(5000)));
    const frames: MsrpFrame[] = [];
    const p = new MsrpParser({ onFrame: (f) => frames.push(f) });
    p.push(wire.subarray(0, 2000));
    p.push(wire.subarray(2000, 4000));
    p.push(wire.subarray(4000));
    assert.equal(frames[0]!.body.length, 3);
    assert.equal(Buffer.concat(frames[0]!.body).toString(), 'a'.repeat(5000));
  });

  it('streams every body with streamBodies: head, segments, end', () => {
    const run = parse(send('0123456789'), [], { streamBodies: true });
    assert.deepEqual(run.events.map((e) => e.type), ['head', 'body', 'end']);
    const body = run.events[1];
    assert.equal(body?.type === 'body' && body.data.toString(), '0123456789');
    assertSplitInvariant(send('0123456789'), { streamBodies: true });
  });

  it('switches to streaming once a body exceeds maxBufferedBody', () => {
    const big = 'z'.repeat(300);
    const run = parse(send(big) + send('small'), [], { maxBufferedBody: 100 });
    assert.deepEqual(run.events.map((e) => e.type), ['head', 'body', 'end', 'frame']);
    const body = run.events[1];
    assert.equal(body?.type === 'body' && body.data.length, 300);
  });

  it('refuses a body over maxBufferedBody with 413 when it cannot stream', () => {
    const run = parse(send('z'.repeat(300)) + send('ok'), [], { maxBufferedBody: 100 }, true, false);
    assert.deepEqual(run.errors.map((e) => [e.code, e.status, e.fatal]), [['body-too-large', 413, false]]);
    assert.equal(bodyText(run.frames[0]!), 'ok');
  });

  it('passes a 256 MiB chunk through with bounded memory in streaming mode', () => {
    const head = Buffer.from(`${SEND_HEAD}Content-Type: application/octet-stream\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024 * 1024, 0x61);
    let bytes = 0;
    let ends = 0;
    const p = new MsrpParser({ onHead: () => {}, onBody: (b) => (bytes += b.length), onEnd: () => ends++ }, { streamBodies: true });
    p.push(head);
    p.push(chunk);
    assert.ok(p.bufferedBytes <= 64, `buffered ${p.bufferedBytes}`);
    p.push(Buffer.from('\r\n-------abcd1234$\r\n'));
    assert.equal(bytes, chunk.length);
    assert.equal(ends, 1);
    assert.equal(p.bufferedBytes, 0);
  });
});

describe('reentrant push from a callback', () => {
  // A loopback connection or a test harness may push from inside a callback: the bytes must be
  // parsed before the outer push() returns, never left waiting for the next push.
  it('parses bytes pushed from onBody while the end-line was incomplete', () => {
    const wire = Buffer.from(send('hello'));
    const cut = wire.length - 10; // inside "-------abcd1234$\r\n"
    const events: string[] = [];
    let pushed = false;
    const p = new MsrpParser({
      onHead: () => events.push('head'),
      onBody: (b) => {
        events.push(`body:${b.toString()}`);
        if (!pushed) {
          pushed = true;
          p.push(wire.subarray(cut));
        }
      },
      onEnd: (c) => events.push(`end:${c}`),
      onError: (e) => events.push(`error:${e.code}`),
    }, { streamBodies: true });
    p.push(wire.subarray(0, cut));
    assert.deepEqual(events, ['head', 'body:hello', 'end:$']);
    assert.equal(p.bufferedBytes, 0);
  });

  it('parses a frame pushed from onFrame (loopback) before push() returns', () => {
    const wire = Buffer.from(send('ping'));
    const bodies: string[] = [];
    const p = new MsrpParser({
      onFrame: (f) => {
        bodies.push(Buffer.concat(f.body).toString());
        if (bodies.length < 3) p.push(wire);
      },
    });
    p.push(wire);
    assert.deepEqual(bodies, ['ping', 'ping', 'ping']);
    assert.equal(p.bufferedBytes, 0);
  });

  it('parses bytes pushed from onError before push() returns', () => {
    const bad = Buffer.from(`${SEND_HEAD}Content-Type: text/plain\r\nBad Header\r\n\r\nx\r\n-------abcd1234$\r\n`);
    const good = Buffer.from(send('after'));
    const seen: string[] = [];
    const p = new MsrpParser({
      onFrame: (f) => seen.push(Buffer.concat(f.body).toString()),
      onError: (e) => {
        seen.push(e.code);
        p.push(good);
      },
    });
    p.push(bad);
    assert.deepEqual(seen, ['bad-header-line', 'after']);
  });

  it('lets onFrame end the parser at a frame boundary without reporting a missing end-line', () => {
    const errors: string[] = [];
    let frames = 0;
    const p = new MsrpParser({
      onFrame: () => {
        frames++;
        p.end();
      },
      onError: (e) => errors.push(e.code),
    });
    assert.equal(p.push(Buffer.from(send('bye'))), false);
    assert.equal(frames, 1);
    assert.deepEqual(errors, []);
    assert.ok(p.closed);
    assert.equal(p.push(Buffer.from(send('late'))), false);
  });

  it('gives the same events when every callback pushes the next piece, for any split', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (frames, rawCuts, stream) => {
        const wire = Buffer.concat(frames.map(serializeToBuffer));
        const cuts = [0, ...new Set(rawCuts.map((c) => c % (wire.length + 1))), wire.length].sort((a, b) => a - b);
        const pieces = cuts.slice(1).map((c, i) => wire.subarray(cuts[i], c)).filter((b) => b.length > 0);
        const options = { byteRangeCheck: 'off' as const, maxNonSendBody: 1 << 20, streamBodies: stream };
        const events: ParseEvent[] = [];
        let next = 0;
        const feed = (): void => void (next < pieces.length && p.push(pieces[next++]!));
        const p: MsrpParser = new MsrpParser({
          onFrame: (frame) => (events.push({ type: 'frame', frame: flatten(frame) }), feed()),
          onError: (error) => (events.push({ type: 'error', error }), feed()),
          onHead: (head) => (events.push({ type: 'head', head }), feed()),
          onBody: (data) => {
            const last = events[events.length - 1];
            if (last?.type === 'body') last.data = Buffer.concat([last.data, data]);
            else events.push({ type: 'body', data: Buffer.from(data) });
            feed();
          },
          onEnd: (continuation) => (events.push({ type: 'end', continuation }), feed()),
        }, options);
        while (next < pieces.length) feed();
        p.end();
        assert.deepEqual(events, parse(wire, [], options).events);
      }),
      { seed: 7, numRuns: 150 },
    );
  });

  it('stops cleanly when a callback ends the parser mid-chunk', () => {
    const wire = Buffer.from(send('a'.repeat(50)) + send('b'));
    const errors: string[] = [];
    let bodies = 0;
    const p = new MsrpParser({
      onHead: () => {},
      onBody: () => {
        bodies++;
        p.end();
      },
      onEnd: () => {},
      onError: (e) => errors.push(e.code),
    }, { streamBodies: true });
    assert.equal(p.push(wire), false);
    assert.equal(bodies, 1);
    assert.deepEqual(errors, ['missing-end-line']);
    assert.ok(p.closed);
  });
});

describe('properties', () => {
  it('parse(serialize(frame)) gives the frame back', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const run = parse(serializeToBuffer(f), [], { byteRangeCheck: 'off', maxNonSendBody: 1 << 20 });
        assert.deepEqual(run.errors, []);
        assert.deepEqual(run.frames, [flatten(f)]);
      }),
      { seed: 4975, numRuns: 300 },
    );
  });

  it('gives identical events for any split of a frame sequence, including one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (frames, rawCuts, stream) => {
        const wire = Buffer.concat(frames.map(serializeToBuffer));
        const cuts = [...new Set(rawCuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const options = { byteRangeCheck: 'off' as const, maxNonSendBody: 1 << 20, streamBodies: stream };
        const whole = parse(wire, [], options);
        assert.deepEqual(parse(wire, cuts, options).events, whole.events);
        if (wire.length < 1500) assert.deepEqual(parse(wire, everyByte(wire.length), options).events, whole.events);
      }),
      { seed: 4976, numRuns: 150 },
    );
  });
});

describe('the head of a rejected frame', () => {
  const TO = 'msrp://a.example.com:1/s;tcp';
  const FROM = 'msrp://b.example.com:2/t;tcp';

  it('carries method and paths for an error after both paths, multi-hop paths in order', () => {
    const input = `MSRP abcd1234 NICKNAME\r\nFrom-Path: msrp://r.example.com:9/x;tcp ${FROM}\r\nTo-Path: ${TO} msrp://c.example.com:3/u;tcp\r\nExpires: soon\r\n-------abcd1234$\r\n`;
    for (const cuts of [[], everyByte(input.length)]) {
      const [e] = parse(input, cuts).errors;
      assert.equal(e?.code, 'bad-expires');
      assert.deepEqual(e.head, { kind: 'request', method: 'NICKNAME', toPath: [TO, 'msrp://c.example.com:3/u;tcp'], fromPath: ['msrp://r.example.com:9/x;tcp', FROM] });
    }
  });

  it('carries the head of a streamed body that overruns its Byte-Range after onHead', () => {
    const run = parse(send('0123456789', '$', 'Byte-Range: 1-5/5\r\n'), [], { streamBodies: true });
    assert.deepEqual(run.errors.map((e) => [e.code, e.fatal, e.head]), [['byte-range-mismatch', false, { kind: 'request', method: 'SEND', toPath: [TO], fromPath: [FROM] }]]);
  });

  it('carries the head of a body refused with 413 when it cannot stream', () => {
    const run = parse(send('z'.repeat(300)), [], { maxBufferedBody: 100 }, true, false);
    assert.equal(run.errors[0]?.status, 413);
    assert.deepEqual(run.errors[0]?.head, { kind: 'request', method: 'SEND', toPath: [TO], fromPath: [FROM] });
  });

  it('carries no head when only one path was read, or the start line was bad', () => {
    for (const input of [
      `MSRP abcd1234 SEND\r\nTo-Path: ${TO}\r\nByte-Range: x\r\nFrom-Path: ${FROM}\r\n-------abcd1234$\r\n`,
      `MSRP abcd1234 send\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\n-------abcd1234$\r\n`,
      `MSRP abcd1234 20 OK\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\n-------abcd1234$\r\n`,
    ]) {
      const [e] = parse(input).errors;
      assert.ok(e !== undefined && e.fatal === false, input);
      assert.equal(e.head, undefined, input);
    }
  });

  it('does not leak a head into the error of the next frame', () => {
    const run = parse(`${send('x', '$', 'Expires: soon\r\n')}MSRP abcd1235 send\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\n-------abcd1235$\r\n`);
    assert.deepEqual(run.errors.map((e) => [e.code, e.head !== undefined]), [['bad-expires', true], ['bad-method', false]]);
  });
});

describe('rest: the wire bytes after the paths, for forwarders', () => {
  /** What a relay writes: its own start line and paths, then `rest`, then its end-line. */
  function rebuild(f: FlatFrame, rest: Buffer): Buffer {
    const start = f.kind === 'request' ? `MSRP ${f.transactionId} ${f.method}` : `MSRP ${f.transactionId} ${String(f.status).padStart(3, '0')}${f.comment === '' ? '' : ` ${f.comment}`}`;
    return Buffer.concat([
      Buffer.from(`${start}\r\nTo-Path: ${f.toPath.join(' ')}\r\nFrom-Path: ${f.fromPath.join(' ')}\r\n`, 'utf8'),
      rest,
      Buffer.from(`-------${f.transactionId}${f.continuation}\r\n`, 'latin1'),
    ]);
  }

  /** Parses `pieces` and returns, per frame, the rest seen inside onFrame (copied) or undefined. */
  function rests(pieces: Buffer[]): { frames: FlatFrame[]; rests: (Buffer | undefined)[]; errors: string[] } {
    const out = { frames: [] as FlatFrame[], rests: [] as (Buffer | undefined)[], errors: [] as string[] };
    const p: MsrpParser = new MsrpParser({
      onFrame: (f) => {
        out.frames.push(flatten(f));
        const r = p.rest;
        out.rests.push(r === undefined ? undefined : Buffer.from(r));
      },
      onError: (e) => out.errors.push(e.code),
    }, { byteRangeCheck: 'off', maxNonSendBody: 1 << 20 });
    for (const piece of pieces) p.push(piece);
    assert.equal(p.rest, undefined, 'rest is only there during onFrame');
    return out;
  }

  const ascii = (f: FlatFrame): boolean => [...f.toPath, ...f.fromPath].every((u) => /^[\x21-\x7e]+$/.test(u));

  it('is the exact bytes between the From-Path line and the end-line of a whole frame', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), (frames) => {
        const wires = frames.map(serializeToBuffer);
        const run = rests([Buffer.concat(wires)]);
        assert.deepEqual(run.errors, []);
        assert.equal(run.rests.length, frames.length);
        run.rests.forEach((rest, i) => {
          // serializeToBuffer writes the paths first: only non-ASCII paths keep the parser from giving it.
          assert.equal(rest !== undefined, ascii(run.frames[i]!), `frame ${i}`);
          if (rest !== undefined) assert.deepEqual(rebuild(run.frames[i]!, rest), wires[i]);
        });
      }),
      { seed: 4977, numRuns: 300 },
    );
  });

  it('is either absent or exact for any split of the input', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, rawCuts) => {
        const wires = frames.map(serializeToBuffer);
        const wire = Buffer.concat(wires);
        const cuts = [0, ...new Set(rawCuts.map((c) => c % (wire.length + 1))), wire.length].sort((a, b) => a - b);
        const run = rests(cuts.slice(1).map((c, i) => wire.subarray(cuts[i], c)).filter((b) => b.length > 0));
        assert.equal(run.rests.length, frames.length);
        run.rests.forEach((rest, i) => {
          if (rest !== undefined) assert.deepEqual(rebuild(run.frames[i]!, rest), wires[i]);
        });
      }),
      { seed: 4978, numRuns: 300 },
    );
  });

  const TO = 'msrp://relay.example.com:2855/s1;tcp msrp://b.example.com:7777/b;tcp';
  const FROM = 'msrp://a.example.com:7777/a;tcp';
  const cases: [string, string, boolean][] = [
    ['a SEND with body', `MSRP t1234 SEND\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\nMessage-ID: m1\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------t1234$\r\n`, true],
    ['an empty body right after the blank line', `MSRP t1234 SEND\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\nMessage-ID: m1\r\n\r\n-------t1234$\r\n`, true],
    ['a frame without body', `MSRP t1234 SEND\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\nMessage-ID: m1\r\n-------t1234+\r\n`, true],
    ['a response', `MSRP t1234 200 OK\r\nTo-Path: ${FROM}\r\nFrom-Path: ${TO}\r\n-------t1234$\r\n`, true],
    ['From-Path first', `MSRP t1234 SEND\r\nFrom-Path: ${FROM}\r\nTo-Path: ${TO}\r\nMessage-ID: m1\r\n\r\nhi\r\n-------t1234$\r\n`, true],
    ['another header before the paths', `MSRP t1234 SEND\r\nMessage-ID: m1\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\n\r\nhi\r\n-------t1234$\r\n`, false],
    ['a header between the paths', `MSRP t1234 SEND\r\nTo-Path: ${TO}\r\nMessage-ID: m1\r\nFrom-Path: ${FROM}\r\n\r\nhi\r\n-------t1234$\r\n`, false],
    ['HTAB between path URIs', `MSRP t1234 SEND\r\nTo-Path: ${TO.replace(' ', '\t')}\r\nFrom-Path: ${FROM}\r\n\r\nhi\r\n-------t1234$\r\n`, false],
    ['a body with bytes >= 0x80', `MSRP t1234 SEND\r\nTo-Path: ${TO}\r\nFrom-Path: ${FROM}\r\nContent-Type: text/plain\r\n\r\nh\u00e9\u00e9\r\n-------t1234$\r\n`, true],
  ];
  for (const [name, text, expected] of cases) {
    it(`${expected ? 'is given' : 'is absent'} for ${name}`, () => {
      const wire = Buffer.from(text, 'utf8');
      const run = rests([wire]);
      assert.deepEqual(run.errors, []);
      assert.equal(run.rests.length, 1);
      assert.equal(run.rests[0] !== undefined, expected);
      if (expected && !name.startsWith('From-Path first')) assert.deepEqual(rebuild(run.frames[0]!, run.rests[0]!), wire);
    });
  }

  it('is absent when a frame arrives in two pieces, given again for the next whole frame', () => {
    const one = Buffer.from(cases[0]![1], 'latin1');
    const run = rests([one.subarray(0, 100), Buffer.concat([one.subarray(100), one])]);
    assert.deepEqual(run.rests.map((r) => r !== undefined), [false, true]);
  });
});
