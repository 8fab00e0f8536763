// fast-check generators of valid MSRP frames (RFC 4975 §9), shared by property and fuzz tests.

import fc from 'fast-check';
import type { Continuation, MsrpFrame, MsrpHeader } from '../frame.ts';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const IDENT = ALNUM + '.-+%=';

/** ident = ALPHANUM 3*31ident-char */
export const transactionId = fc
  .tuple(fc.constantFrom(...ALNUM), fc.string({ unit: fc.constantFrom(...IDENT), minLength: 3, maxLength: 31 }))
  .map(([a, b]) => a + b);

const uri = fc
  .tuple(
    fc.constantFrom('msrp', 'msrps', 'MSRP'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,12}(\.[a-z]{2,5}){0,2}$/),
    fc.integer({ min: 1, max: 65535 }),
    fc.stringMatching(/^[A-Za-z0-9]{1,16}$/),
    fc.constantFrom('tcp', 'ws'),
  )
  .map(([scheme, host, port, session, transport]) => `${scheme}://${host}:${port}/${session};${transport}`);

export const path = fc.array(uri, { minLength: 1, maxLength: 3 });

// utf8text without leading/trailing whitespace (the parser trims OWS around values).
const valueChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~\t') },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ü', '中', '😀', 'ß') },
);
export const headerValue = fc.string({ unit: valueChar, maxLength: 40 }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));

const headerName = fc.oneof(
  fc.constantFrom('Message-ID', 'Content-Type', 'Success-Report', 'Failure-Report', 'X-Custom', 'Use-Nickname'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}$/),
).filter((n) => !/^(to-path|from-path|byte-range|expires|min-expires|max-expires|status)$/i.test(n));

export const header: fc.Arbitrary<MsrpHeader> = fc.tuple(headerName, headerValue).map(([name, value]) => ({ name, value }));

export const continuation: fc.Arbitrary<Continuation> = fc.constantFrom('$', '+', '#');

/** A body that cannot contain its own end-line (RFC 4975 §7.1), sometimes with lookalikes. */
function body(tid: string): fc.Arbitrary<Buffer[]> {
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)) },
    { weight: 1, arbitrary: fc.constantFrom(`\r\n-------${tid}`, `-------${tid}$`, `\r\n-------${tid}x\r\n`, `\r\n-------${tid}$\r`, '\r\n-------', '\r\n').map((s) => Buffer.from(s)) },
  );
  return fc
    .array(piece, { maxLength: 4 })
    .map((parts) => [Buffer.concat(parts)].filter((b) => b.length > 0))
    .filter((parts) => {
      const all = Buffer.concat(parts);
      return ['$', '+', '#'].every((f) => !all.includes(`\r\n-------${tid}${f}\r\n`)) && !all.subarray(0, tid.length + 10).toString('latin1').startsWith(`-------${tid}`);
    });
}

export const request: fc.Arbitrary<MsrpFrame> = transactionId.chain((tid) =>
  fc.record({
    kind: fc.constant('request' as const),
    transactionId: fc.constant(tid),
    method: fc.constantFrom('SEND', 'SEND', 'REPORT', 'AUTH', 'NICKNAME', 'X'),
    toPath: path,
    fromPath: path,
    headers: fc.array(header, { maxLength: 5 }),
    body: body(tid),
    continuation,
  }),
);

export const response: fc.Arbitrary<MsrpFrame> = fc.record({
  kind: fc.constant('response' as const),
  transactionId,
  status: fc.integer({ min: 0, max: 999 }),
  comment: headerValue,
  toPath: path,
  fromPath: path,
  headers: fc.array(header, { maxLength: 3 }),
  body: fc.constant([]),
  continuation,
});

export const frame: fc.Arbitrary<MsrpFrame> = fc.oneof({ weight: 3, arbitrary: request }, { weight: 1, arbitrary: response });
