import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MsrpStatus, isMsrpStatusCode, isSuccess, isValidStatusCode, reasonPhrase } from './status.ts';

describe('MSRP status catalogue', () => {
  it('holds exactly the codes registered by RFC 4975, RFC 4976 and RFC 7701', () => {
    assert.deepEqual(
      Object.values(MsrpStatus).sort((a, b) => a - b),
      [200, 400, 401, 403, 404, 408, 413, 415, 423, 424, 425, 428, 481, 501, 506],
    );
  });

  it('gives every catalogued code a reason phrase', () => {
    for (const code of Object.values(MsrpStatus)) {
      assert.ok(isMsrpStatusCode(code));
      assert.ok(reasonPhrase(code).length > 0);
    }
    assert.equal(reasonPhrase(200), 'OK');
    assert.equal(reasonPhrase(425), 'Nickname reserved or already in use');
  });

  it('gives unknown codes a phrase by class', () => {
    assert.equal(isMsrpStatusCode(299), false);
    assert.equal(reasonPhrase(299), 'OK');
    assert.equal(reasonPhrase(499), 'Failure');
  });

  it('treats only 2xx as success', () => {
    assert.ok(isSuccess(200));
    assert.ok(!isSuccess(408));
    assert.ok(!isSuccess(199));
  });

  it('accepts only three-digit status codes', () => {
    assert.ok(isValidStatusCode(999));
    assert.ok(!isValidStatusCode(99));
    assert.ok(!isValidStatusCode(1000));
    assert.ok(!isValidStatusCode(200.5));
  });
});
