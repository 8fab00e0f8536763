import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { authenticationInfo, computeResponse, digestChallenge, ha1, parseDigestCredentials, type DigestAlgorithm } from './digest.ts';
import { parseAuthParams } from './params.ts';
import { NonceManager } from './nonce.ts';
import { AUTH_METHOD, verifyDigest, type StoredHa1 } from './verify.ts';
import { basicChallenge, parseBasicCredentials, verifyBasic } from './basic.ts';

const REALM = 'intra.example.com';
const RELAY_URI = 'msrps://alice@intra.example.com;tcp';
const stored: StoredHa1 = { ha1Md5: ha1('MD5', 'alice', REALM, 'secret'), ha1Sha256: ha1('SHA-256', 'alice', REALM, 'secret') };

/** What an RFC 4976 client does with a 401 challenge (§5.1). */
function answer(challenge: string, opts: { username?: string; password?: string; nc?: string; uri?: string } = {}): string {
  const p = parseAuthParams(challenge.replace(/^Digest /, ''));
  assert.ok(p.ok);
  const algorithm = p.value.get('algorithm') as DigestAlgorithm;
  const nonce = p.value.get('nonce')!;
  const realm = p.value.get('realm')!;
  const username = opts.username ?? 'alice';
  const nc = opts.nc ?? '00000001';
  const uri = opts.uri ?? RELAY_URI;
  const response = computeResponse({
    algorithm, nonce, nc, cnonce: 'c0ffee', qop: 'auth', method: 'AUTH', uri,
    ha1: ha1(algorithm.startsWith('SHA') ? 'SHA-256' : 'MD5', username, realm, opts.password ?? 'secret'),
  });
  return `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="c0ffee", response="${response}"`;
}

function setup() {
  const clock = { now: 1_000_000 };
  const nonces = new NonceManager({ secret: randomBytes(32), lifetimeSec: 300, now: () => clock.now });
  const verify = (header: string, s: StoredHa1 | undefined = stored) => {
    const c = parseDigestCredentials(header);
    assert.ok(c.ok);
    return verifyDigest({ credentials: c.value, realm: REALM, uri: RELAY_URI, stored: s, nonces });
  };
  return { clock, nonces, verify };
}

describe('verifyDigest (RFC 4976 AUTH)', () => {
  for (const algorithm of ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess'] as const) {
    it(`accepts a correct ${algorithm} answer to our challenge and builds Authentication-Info`, () => {
      const { nonces, verify } = setup();
      const challenge = digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm });
      const r = verify(answer(challenge));
      assert.ok(r.ok, r.ok ? '' : r.code);
      assert.equal(r.value.username, 'alice');
      assert.equal(r.value.algorithm, algorithm);
      const info = authenticationInfo({ algorithm, ha1: r.value.ha1, nonce: 'x', cnonce: 'c0ffee', nc: '00000001', uri: RELAY_URI });
      assert.match(info, /^rspauth="[0-9a-f]+", qop=auth, nc=00000001, cnonce="c0ffee"$/);
    });
  }

  it('uses AUTH as the Digest method', () => {
    assert.equal(AUTH_METHOD, 'AUTH');
  });

  it('rejects a wrong password and an unknown user alike with wrong-response', () => {
    const { nonces, verify } = setup();
    const challenge = digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm: 'SHA-256' });
    const wrong = verify(answer(challenge, { password: 'guess' }));
    const unknown = verify(answer(challenge, { username: 'mallory' }), undefined);
    assert.equal(!wrong.ok && wrong.code, 'wrong-response');
    assert.equal(!unknown.ok && unknown.code, 'wrong-response');
  });

  it('answers stale-nonce only when the expired nonce carries a right response (RFC 7616 §3.3)', () => {
    const { clock, nonces, verify } = setup();
    const challenge = digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm: 'MD5' });
    clock.now += 301_000;
    const right = verify(answer(challenge));
    const wrong = verify(answer(challenge, { password: 'guess' }));
    assert.equal(!right.ok && right.code, 'stale-nonce');
    assert.equal(!wrong.ok && wrong.code, 'wrong-response');
  });

  it('refuses a replayed nonce count and accepts the next one', () => {
    const { nonces, verify } = setup();
    const challenge = digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm: 'SHA-256' });
    assert.ok(verify(answer(challenge)).ok);
    const replay = verify(answer(challenge));
    assert.equal(!replay.ok && replay.code, 'replayed-nonce-count');
    assert.ok(verify(answer(challenge, { nc: '00000002' })).ok);
  });

  it('refuses a digest-uri other than the To-Path URI, another realm and a foreign nonce', () => {
    const { nonces, verify } = setup();
    const challenge = digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm: 'MD5' });
    const uri = verify(answer(challenge, { uri: 'msrps://evil.example.com;tcp' }));
    assert.equal(!uri.ok && uri.code, 'uri-mismatch');
    const foreign = verify(answer(digestChallenge({ realm: REALM, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', algorithm: 'MD5' })));
    assert.equal(!foreign.ok && foreign.code, 'invalid-nonce');
    const otherRealm = verify(answer(digestChallenge({ realm: 'other.example.com', nonce: nonces.issue('other.example.com'), algorithm: 'MD5' })));
    assert.equal(!otherRealm.ok && otherRealm.code, 'realm-mismatch');
  });

  it('refuses an algorithm the relay does not offer', () => {
    const { nonces } = setup();
    const header = answer(digestChallenge({ realm: REALM, nonce: nonces.issue(REALM), algorithm: 'MD5' }));
    const c = parseDigestCredentials(header);
    assert.ok(c.ok);
    const r = verifyDigest({ credentials: c.value, realm: REALM, uri: RELAY_URI, stored, nonces, algorithms: ['SHA-256'] });
    assert.equal(!r.ok && r.code, 'unsupported-algorithm');
  });
});

describe('Basic (RFC 7617)', () => {
  it('parses the RFC 7617 §2 example Aladdin / open sesame', () => {
    const r = parseBasicCredentials('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    assert.ok(r.ok);
    assert.deepEqual(r.value, { username: 'Aladdin', password: 'open sesame' });
  });

  it('verifies the password against the stored SHA-256 HA1 only', () => {
    const creds = { username: 'alice', password: 'secret' };
    assert.equal(verifyBasic(creds, REALM, stored.ha1Sha256), true);
    assert.equal(verifyBasic({ ...creds, password: 'nope' }, REALM, stored.ha1Sha256), false);
    assert.equal(verifyBasic(creds, REALM, undefined), false);
  });

  it('rejects non-base64 credentials, a missing colon and another scheme', () => {
    const codes = ['Basic !!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, 'Digest a=b'].map((h) => {
      const r = parseBasicCredentials(h);
      return r.ok ? 'ok' : r.code;
    });
    assert.deepEqual(codes, ['malformed', 'malformed', 'unsupported-scheme']);
  });

  it('builds a challenge with the UTF-8 charset (RFC 7617 §2.1)', () => {
    assert.equal(basicChallenge('intra.example.com'), 'Basic realm="intra.example.com", charset="UTF-8"');
  });
});
