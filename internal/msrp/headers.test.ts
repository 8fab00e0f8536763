import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatListAdmits,
  isIdent,
  parseByteRange,
  parseContentType,
  parseExpires,
  parseFailureReport,
  parseMessageId,
  parseStatusHeader,
  parseSuccessReport,
  parseUsePath,
} from './headers.ts';
import type { HeaderResult } from './headers.ts';

function value<T>(r: HeaderResult<T>): T {
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

function code<T>(r: HeaderResult<T>): string {
  assert.ok(!r.ok, 'expected an error');
  assert.equal(r.error.status, 400);
  return r.error.code;
}

describe('Byte-Range', () => {
  it('reads known and unknown ends and totals', () => {
    assert.deepEqual(value(parseByteRange('1-*/*')), { start: 1, end: '*', total: '*' });
    assert.deepEqual(value(parseByteRange('1-25/25')), { start: 1, end: 25, total: 25 });
    assert.deepEqual(value(parseByteRange('138-148/148')), { start: 138, end: 148, total: 148 });
    assert.deepEqual(value(parseByteRange('5-*/8')), { start: 5, end: '*', total: 8 });
    assert.deepEqual(value(parseByteRange('1-0/0')), { start: 1, end: 0, total: 0 });
  });

  it('rejects malformed and inconsistent ranges', () => {
    for (const v of ['', '1', '1-2', 'a-b/c', '0-5/5', '-1-5/5', '5-3/10', '1-10/5', '1-5/', '1- 5/5', '1-**/*']) {
      assert.equal(code(parseByteRange(v)), 'bad-byte-range', v);
    }
  });

  it('rejects numbers above MAX_SAFE_INTEGER instead of rounding them', () => {
    assert.equal(code(parseByteRange('1-99999999999999999999/*')), 'number-overflow');
    assert.equal(code(parseByteRange('9007199254740992-*/*')), 'number-overflow');
    assert.deepEqual(value(parseByteRange('9007199254740991-*/*')).start, Number.MAX_SAFE_INTEGER);
  });
});

describe('Status, Expires and report headers', () => {
  it('reads the REPORT Status header (RFC 4975 §9)', () => {
    assert.deepEqual(value(parseStatusHeader('000 200 OK')), { namespace: 0, code: 200, comment: 'OK' });
    assert.deepEqual(value(parseStatusHeader('000 413')), { namespace: 0, code: 413, comment: '' });
    for (const v of ['200 OK', '000 2000', '000 20', 'abc 200', '000  200', '000 200OK']) assert.equal(code(parseStatusHeader(v)), 'bad-status-header', v);
  });

  it('reads Expires values as whole seconds and refuses overflow', () => {
    assert.equal(value(parseExpires('900')), 900);
    assert.equal(code(parseExpires('99999999999999999999')), 'number-overflow');
    assert.equal(code(parseExpires('-1')), 'bad-expires');
    assert.equal(code(parseExpires('')), 'bad-expires');
  });

  it('reads Success-Report and Failure-Report case-insensitively', () => {
    assert.equal(value(parseSuccessReport('YES')), 'yes');
    assert.equal(value(parseFailureReport('partial')), 'partial');
    assert.equal(code(parseSuccessReport('partial')), 'bad-report-value');
    assert.equal(code(parseFailureReport('maybe')), 'bad-report-value');
  });

  it('checks Message-ID and transaction ids against ident = ALPHANUM 3*31ident-char', () => {
    assert.equal(value(parseMessageId('12339sdqwer')), '12339sdqwer');
    assert.equal(isIdent('6aef'), true);
    assert.equal(isIdent('a.b-c+d%e=f'), true);
    assert.equal(isIdent('abc'), false);
    assert.equal(isIdent(`a${'b'.repeat(32)}`), false);
    assert.equal(isIdent('.abc'), false);
    assert.equal(code(parseMessageId('a b c d')), 'bad-message-id');
  });
});

describe('Content-Type and Use-Path', () => {
  it('reads type, subtype and parameters, quoted or not', () => {
    const ct = value(parseContentType('Text/Plain; charset=UTF-8 ; format="flowed \\"x\\""'));
    assert.equal(ct.type, 'text');
    assert.equal(ct.subtype, 'plain');
    assert.deepEqual([...ct.params], [['charset', 'UTF-8'], ['format', 'flowed "x"']]);
    assert.equal(value(parseContentType('message/cpim')).subtype, 'cpim');
  });

  it('rejects content types without subtype or with broken parameters', () => {
    for (const v of ['text', '/plain', 'text/', 'text/plain;', 'text/plain; =x', 'text/plain; a="x', 'te xt/plain']) {
      assert.equal(code(parseContentType(v)), 'bad-content-type', v);
    }
  });

  it('splits Use-Path into msrp/msrps URIs (RFC 4976 §4.2)', () => {
    assert.deepEqual(value(parseUsePath('msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com:9000/mywdEe1233;tcp')), [
      'msrps://intra.example.com:9000/jui787s2f;tcp',
      'msrps://extra.example.com:9000/mywdEe1233;tcp',
    ]);
    assert.equal(code(parseUsePath('')), 'bad-path-uri');
    assert.equal(code(parseUsePath('sip:alice@example.com')), 'bad-path-uri');
  });

  it('matches media types against accept-types / accept-wrapped-types format lists (RFC 4975 §8.6)', () => {
    // The RCS group chat offer: CPIM and isComposing at the top, the rest only wrapped.
    const wrapped = ['text/plain', 'message/imdn+xml', 'application/vnd.gsma.rcs-ft-http+xml'];
    assert.equal(formatListAdmits(wrapped, 'text', 'plain'), true);
    assert.equal(formatListAdmits(wrapped, 'message', 'imdn+xml'), true);
    assert.equal(formatListAdmits(wrapped, 'image', 'png'), false);
    assert.equal(formatListAdmits(['text/*'], 'text', 'html'), true);
    assert.equal(formatListAdmits(['text/*'], 'image', 'png'), false);
    assert.equal(formatListAdmits(['*'], 'image', 'png'), true);
    assert.equal(formatListAdmits(['Text/Plain;charset=UTF-8'], 'text', 'plain'), true, 'parameters and case do not restrict');
    assert.equal(formatListAdmits([], 'text', 'plain'), false);
  });
});
