import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CPIM_DEFAULT_NAMESPACE, CpimHeadScanner, MAX_CPIM_HEAD_BYTES, checkRequire, escape, formatAddress, formatCpim, parseAddress, parseCpim, unescape, type CpimMessage } from './cpim.ts';
import { rfc7701BodyAsPublished, rfc7701BodyFixed } from './testdata/rfc7701.ts';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'));

function ok(body: Buffer, lenient = false): CpimMessage {
  const r = parseCpim(body, { lenient });
  if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
  return r.message;
}

// RFC 3862 §3.1 example without its "m:" lines, which in MSRP are the MSRP Content-Type.
const rfc3862 = crlf([
  'From: MR SANDERS <im:piglet@100akerwood.com>',
  'To: Depressed Donkey <im:eeyore@100akerwood.com>',
  'DateTime: 2000-12-13T13:40:00-08:00',
  'Subject: the weather will be fine today',
  "Subject:;lang=fr beau temps prevu pour aujourd'hui",
  'NS: MyFeatures <mid:MessageFeatures@id.foo.com>',
  'Require: MyFeatures.VitalMessageOption',
  'MyFeatures.VitalMessageOption: Confirmation-requested',
  'MyFeatures.WackyMessageOption: Use-silly-font',
  '',
  'Content-type: text/xml; charset=utf-8',
  'Content-ID: <1234567890@foo.com>',
  '',
  '<body>',
  'Here is the text of my message.',
  '</body>',
]);

// The RFC 7701 §9.3 SEND body, as published (no blank line before the MIME headers, which
// RFC 3862 §3.1 requires) and fixed.
const rfc7701AsPublished = Buffer.from(rfc7701BodyAsPublished);
const rfc7701Fixed = Buffer.from(rfc7701BodyFixed);

describe('parseCpim', () => {
  it('parses the RFC 3862 example: addresses, subjects with lang, namespaces and Require', () => {
    const m = ok(rfc3862);
    assert.deepEqual(m.from, { displayName: 'MR SANDERS', uri: 'im:piglet@100akerwood.com' });
    assert.deepEqual(m.to, [{ displayName: 'Depressed Donkey', uri: 'im:eeyore@100akerwood.com' }]);
    assert.equal(m.dateTime, '2000-12-13T13:40:00-08:00');
    assert.deepEqual(m.subject, [
      { value: 'the weather will be fine today' },
      { value: "beau temps prevu pour aujourd'hui", lang: 'fr' },
    ]);
    assert.equal(m.namespaces.get('MyFeatures'), 'mid:MessageFeatures@id.foo.com');
    assert.deepEqual(m.require, ['MyFeatures.VitalMessageOption']);
    const wacky = m.headers.find((h) => h.name === 'WackyMessageOption');
    assert.deepEqual(wacky, { prefix: 'MyFeatures', name: 'WackyMessageOption', namespace: 'mid:MessageFeatures@id.foo.com', params: [], value: 'Use-silly-font' });
    assert.equal(m.headers[0]?.namespace, CPIM_DEFAULT_NAMESPACE);
    assert.equal(m.contentType, 'text/xml; charset=utf-8');
    assert.deepEqual(m.contentHeaders[1], { name: 'Content-ID', value: '<1234567890@foo.com>' });
    assert.equal(m.content.toString(), '<body>\r\nHere is the text of my message.\r\n</body>');
  });

  it('parses the RFC 7701 §9 chat message once its missing blank line is restored', () => {
    const m = ok(rfc7701Fixed);
    assert.deepEqual(m.to, [{ uri: 'sip:conference@example.com' }]);
    assert.equal(m.contentType, 'text/plain');
    assert.equal(m.content.toString(), 'Hello guys, how are you today?');
  });

  it('refuses the RFC 7701 §9 example as published with missing-blank-line, naming the line', () => {
    const r = parseCpim(rfc7701AsPublished);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'missing-blank-line');
    assert.equal(r.error.status, 400);
    assert.match(r.error.message, /Content-Type: text\/plain/);
  });

  it('accepts the RFC 7701 §9 example as published when lenient', () => {
    const m = ok(rfc7701AsPublished, true);
    assert.equal(m.contentType, 'text/plain');
    assert.equal(m.content.toString(), 'Hello guys, how are you today?');
  });

  it('keeps binary content as bytes, undecoded', () => {
    const bin = Buffer.from([0, 255, 13, 10, 13, 10, 128]);
    const m = ok(Buffer.concat([crlf(['From: <im:a@b>', '', 'Content-Type: application/octet-stream', '', '']), bin]));
    assert.ok(m.content.equals(bin));
  });

  it('accepts bare LF line endings', () => {
    assert.equal(ok(Buffer.from('To: <im:a@b>\n\nContent-Type: text/plain\n\nhi')).content.toString(), 'hi');
  });

  it('refuses a body without any blank line', () => {
    const r = parseCpim(Buffer.from('From: <im:a@b>\r\nTo: <im:c@d>'));
    assert.ok(!r.ok && r.error.code === 'missing-blank-line');
  });

  it('refuses headers with an undeclared namespace prefix', () => {
    const r = parseCpim(crlf(['Foo.Bar: x', '', '', '']));
    assert.ok(!r.ok && r.error.code === 'unknown-namespace-prefix' && r.error.status === 400);
  });

  it('refuses malformed header lines, addresses and dates', () => {
    const code = (lines: string[]): string => {
      const r = parseCpim(crlf([...lines, '', '', '']));
      assert.ok(!r.ok);
      return r.error.code;
    };
    assert.equal(code(['no colon here']), 'bad-header');
    assert.equal(code(['From:<im:a@b>']), 'bad-header');
    assert.equal(code(['From: Alice im:a@b']), 'bad-address');
    assert.equal(code(['DateTime: yesterday']), 'bad-header');
    assert.equal(code(['NS: nobrackets']), 'bad-header');
  });

  it('refuses heads over the size bound with 413', () => {
    const r = parseCpim(Buffer.from('Subject: ' + 'x'.repeat(70000)));
    assert.ok(!r.ok && r.error.code === 'head-too-large' && r.error.status === 413);
  });

  it('decodes quoted display names and escaped subjects', () => {
    const m = ok(crlf(['From: "Doe, \\"JD\\" \\u00e9" <im:jd@example.com>', 'Subject: tab\\there', '', '', '']));
    assert.equal(m.from?.displayName, 'Doe, "JD" é');
    assert.deepEqual(m.subject, [{ value: 'tab\there' }]);
  });
});

/** The byte count after which a CpimHeadScanner fed `body` in `step`-byte segments says complete; -1 never. */
function headEndBy(body: Buffer, step: number): number {
  const scan = new CpimHeadScanner();
  for (let at = 0; at < body.length; at += step) {
    if (scan.push(body.subarray(at, at + step))) return Math.min(at + step, body.length);
  }
  return -1;
}

describe('CpimHeadScanner (a streamed CPIM head, RFC 3862 §3.1)', () => {
  it('finds the end of the head whether the body comes whole or one byte at a time', () => {
    const headLength = (b: Buffer, blank: string) => b.indexOf(blank, b.indexOf(blank) + blank.length) + blank.length;
    for (const [body, end] of [
      [rfc3862, headLength(rfc3862, '\r\n\r\n')],
      [rfc7701Fixed, headLength(rfc7701Fixed, '\r\n\r\n')],
      // The RFC 7701 §9 form: one blank line after a block holding Content-Type.
      [rfc7701AsPublished, rfc7701AsPublished.indexOf('\r\n\r\n') + 4],
      [Buffer.from('To: <im:a@b>\n\nContent-Type: text/plain\n\nhi'), 'To: <im:a@b>\n\nContent-Type: text/plain\n\n'.length],
      // A blank first line opens an empty message-header block.
      [Buffer.from('\r\nContent-Type: text/plain\r\n\r\nhi'), '\r\nContent-Type: text/plain\r\n\r\n'.length],
    ] as const) {
      assert.equal(headEndBy(body, body.length), body.length, 'whole: complete');
      assert.equal(headEndBy(body, 1), end, 'byte by byte: complete at the last blank line');
      assert.equal(headEndBy(body, 3) >= end, true);
      assert.ok(parseCpim(body.subarray(0, end), { lenient: true }).ok, 'what it calls complete parses');
    }
  });

  it('does not take a header merely starting with "content" or a CR-only line as the end', () => {
    assert.equal(headEndBy(crlf(['From: <im:a@b>', 'Contentious: yes', '', 'more']), 1), -1);
    assert.equal(headEndBy(crlf(['From: <im:a@b>', 'X: Content-Type: a', '', 'more']), 1), -1);
    assert.equal(headEndBy(Buffer.from('From: <im:a@b>\r\r\nContent-Type: a\r\n'), 1), -1);
    assert.equal(headEndBy(crlf(['From: <im:a@b>', '']), 1), -1);
  });

  it('stays incomplete past the head bound, however the bytes come', () => {
    const long = Buffer.concat([Buffer.from('From: <im:a@b>\r\nX: '), Buffer.alloc(MAX_CPIM_HEAD_BYTES, 0x61), Buffer.from('\r\n\r\n\r\n')]);
    assert.equal(headEndBy(long, long.length), -1);
    assert.equal(headEndBy(long, 1000), -1);
  });
});

describe('addresses and escaping (RFC 3862 §3.2, §4.1)', () => {
  it('writes token display names unquoted and others quoted with escapes', () => {
    assert.equal(formatAddress({ displayName: 'Alice', uri: 'im:alice@example.com' }), 'Alice <im:alice@example.com>');
    assert.equal(formatAddress({ displayName: 'MR SANDERS', uri: 'im:piglet@100akerwood.com' }), 'MR SANDERS <im:piglet@100akerwood.com>');
    assert.equal(formatAddress({ displayName: 'Doe, "JD"', uri: 'im:jd@example.com' }), '"Doe, \\"JD\\"" <im:jd@example.com>');
    assert.equal(formatAddress({ uri: 'im:x@y' }), '<im:x@y>');
  });

  it('escapes control characters as \\uXXXX or their short forms', () => {
    assert.equal(escape('a\u0001b\nc\\'), 'a\\u0001b\\nc\\\\');
    assert.equal(unescape('a\\u0001b\\nc\\\\'), 'a\u0001b\nc\\');
  });

  it('round-trips any display name through format and parse', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (displayName) => {
        fc.pre(displayName.trim() === displayName);
        assert.deepEqual(parseAddress(formatAddress({ displayName, uri: 'im:a@b' })), { displayName, uri: 'im:a@b' });
      }),
      { numRuns: 500 },
    );
  });
});

describe('formatCpim', () => {
  it('writes a message that parses back to the same fields', () => {
    const body = formatCpim({
      from: { displayName: 'Alice', uri: 'sip:alice@example.com' },
      to: [{ uri: 'sip:conference@example.com' }],
      cc: [{ displayName: 'Bob B.', uri: 'sip:bob@example.com' }],
      dateTime: new Date('2009-03-02T18:02:31Z'),
      subject: [{ value: 'hola', lang: 'es' }],
      namespaces: { MyFeatures: 'mid:MessageFeatures@id.foo.com' },
      require: ['MyFeatures.VitalMessageOption'],
      headers: [{ prefix: 'MyFeatures', name: 'VitalMessageOption', value: 'Confirmation-requested' }],
      contentType: 'text/plain;charset=utf-8',
      content: 'Hello guys, how are you today?',
    });
    const m = ok(body);
    assert.deepEqual(m.from, { displayName: 'Alice', uri: 'sip:alice@example.com' });
    assert.deepEqual(m.cc, [{ displayName: 'Bob B.', uri: 'sip:bob@example.com' }]);
    assert.equal(m.dateTime, '2009-03-02T18:02:31.000Z');
    assert.deepEqual(m.subject, [{ value: 'hola', lang: 'es' }]);
    assert.equal(m.headers.find((h) => h.name === 'VitalMessageOption')?.namespace, 'mid:MessageFeatures@id.foo.com');
    assert.equal(m.contentType, 'text/plain;charset=utf-8');
    assert.equal(m.content.toString(), 'Hello guys, how are you today?');
  });

  it('refuses header values that would break the line structure', () => {
    assert.throws(() => formatCpim({ headers: [{ name: 'X', value: 'a\r\nb' }], content: '' }), RangeError);
  });

  it('round-trips arbitrary content bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const content = Buffer.from(bytes);
        assert.ok(ok(formatCpim({ to: [{ uri: 'im:a@b' }], contentType: 'application/octet-stream', content })).content.equals(content));
      }),
    );
  });
});

describe('checkRequire (RFC 3862 §4.7)', () => {
  it('answers 415 when a required header is not understood', () => {
    const m = ok(rfc3862);
    assert.equal(checkRequire(m, new Set(['MyFeatures.VitalMessageOption'])), null);
    const e = checkRequire(m, new Set());
    assert.ok(e !== null && e.code === 'unsupported-required-header' && e.status === 415);
  });
});
