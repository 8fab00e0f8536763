import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { authenticationInfo, digestChallenge, ha1, parseDigestCredentials } from './digest.ts';
import { NonceManager } from './nonce.ts';
import { verifyDigest } from './verify.ts';
import { answerChallenge, checkRspauth, chooseChallenge, parseDigestChallenge } from './digest-client.ts';

const RELAY = 'msrps://relay.example.com:2855;tcp';

describe('client Digest for AUTH', () => {
  const nonces = new NonceManager({ secret: randomBytes(32), lifetimeSec: 60 });
  const stored = { ha1Md5: ha1('MD5', 'alice', 'example.com', 's3cret'), ha1Sha256: ha1('SHA-256', 'alice', 'example.com', 's3cret') };

  for (const algorithm of ['SHA-256', 'MD5', 'SHA-256-sess', 'MD5-sess'] as const) {
    it(`answers a ${algorithm} challenge so that the relay's verifier accepts it`, () => {
      const nonce = nonces.issue('example.com', 'conn1');
      const challenge = parseDigestChallenge(digestChallenge({ realm: 'example.com', nonce, algorithm, opaque: 'xyz' }))!;
      const answer = answerChallenge({ challenge, username: 'alice', password: 's3cret', uri: RELAY });
      const creds = parseDigestCredentials(answer.authorization);
      assert.ok(creds.ok);
      assert.equal(creds.value.opaque, 'xyz');
      const v = verifyDigest({ credentials: creds.value, realm: 'example.com', uri: RELAY, stored, nonces, binding: 'conn1' });
      assert.ok(v.ok, v.ok ? '' : v.message);
    });
  }

  it('is refused by the verifier with the wrong password', () => {
    const nonce = nonces.issue('example.com', 'conn1');
    const challenge = parseDigestChallenge(digestChallenge({ realm: 'example.com', nonce, algorithm: 'SHA-256' }))!;
    const creds = parseDigestCredentials(answerChallenge({ challenge, username: 'alice', password: 'nope', uri: RELAY }).authorization);
    assert.ok(creds.ok);
    const v = verifyDigest({ credentials: creds.value, realm: 'example.com', uri: RELAY, stored, nonces, binding: 'conn1' });
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.code, 'wrong-response');
  });

  it('writes every directive RFC 7616 §3.4 asks for, with the relay URI as digest-uri (RFC 4976 §5.1)', () => {
    const challenge = { realm: 'r', nonce: 'n', algorithm: 'SHA-256' as const, opaque: undefined, stale: false };
    const a = answerChallenge({ challenge, username: 'Mufasa', password: 'Circle of Life', uri: RELAY, cnonce: 'c', nc: 2 });
    assert.match(a.authorization, /^Digest username="Mufasa", realm="r", nonce="n", uri="msrps:\/\/relay\.example\.com:2855;tcp", response="[0-9a-f]{64}", algorithm=SHA-256, cnonce="c", nc=00000002, qop=auth$/);
  });

  it('prefers SHA-256 over MD5 and can insist on a realm', () => {
    const md5 = digestChallenge({ realm: 'a', nonce: 'n1', algorithm: 'MD5' });
    const sha = digestChallenge({ realm: 'b', nonce: 'n2', algorithm: 'SHA-256' });
    assert.equal(chooseChallenge([md5, sha])?.algorithm, 'SHA-256');
    assert.equal(chooseChallenge([md5, sha], 'a')?.algorithm, 'MD5');
    assert.equal(chooseChallenge([md5, sha], 'c'), undefined);
    assert.equal(chooseChallenge(['Basic realm="x"']), undefined);
    assert.equal(parseDigestChallenge('Digest realm="x", nonce="y"'), undefined, 'no qop=auth');
  });

  it('checks the relay rspauth in Authentication-Info', () => {
    const challenge = { realm: 'example.com', nonce: 'abc', algorithm: 'SHA-256' as const, opaque: undefined, stale: false };
    const a = answerChallenge({ challenge, username: 'alice', password: 's3cret', uri: RELAY });
    const good = authenticationInfo({ algorithm: 'SHA-256', ha1: stored.ha1Sha256, nonce: 'abc', cnonce: a.cnonce, nc: a.nc, uri: RELAY });
    assert.equal(checkRspauth(good, a, 'abc'), true);
    const bad = authenticationInfo({ algorithm: 'SHA-256', ha1: ha1('SHA-256', 'alice', 'example.com', 'other'), nonce: 'abc', cnonce: a.cnonce, nc: a.nc, uri: RELAY });
    assert.equal(checkRspauth(bad, a, 'abc'), false);
    assert.equal(checkRspauth('qop=auth', a, 'abc'), undefined);
  });
});
