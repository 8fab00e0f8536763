import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadEngineConfig } from '../config/engine.ts';
import { relayOptionsFromConfig, replicaPrefix } from './engine-options.ts';
import { TestClient } from './testclient.ts';
import { startTestRelay, type TestRelay } from './testrelay.ts';

describe('engine configuration reaches the relay', () => {
  it('maps every relay setting from the engine config', () => {
    const c = loadEngineConfig({ env: {
      MSRP_RELAY__PUBLIC_HOST: 'relay.example.com',
      MSRP_RELAY__ALIASES: 'Msrp.Default.Svc',
      MSRP_RELAY__BLOCKED_METHODS: 'NICKNAME',
      MSRP_NEXT_HOPS__ALLOW: '[{"host":"Peer.Example.net","port":2855}]',
      MSRP_NEXT_HOPS__ALLOW_PRIVATE: 'yes',
      MSRP_NEXT_HOPS__CONNECT_TIMEOUT_MS: '1500',
      MSRP_TLS__MUTUAL: 'false',
      MSRP_TLS__POLL_INTERVAL_MS: '2500',
      MSRP_AUTH__ALGORITHMS: 'SHA-256',
      MSRP_LIMITS__MAX_NON_SEND_BODY_BYTES: '2048',
      MSRP_LIMITS__STREAM_THRESHOLD_BYTES: '32768',
      MSRP_SESSION__MAX_EXPIRES: '7200',
    } });
    const o = relayOptionsFromConfig(c, { hostname: 'msrp-relay-3', nonceSecret: randomBytes(32) });
    assert.equal(o.publicHost, 'relay.example.com');
    assert.deepEqual(o.aliases, ['msrp.default.svc']);
    assert.deepEqual(o.blockedMethods, ['NICKNAME']);
    assert.deepEqual(o.nextHops, { allow: [{ host: 'peer.example.net', port: 2855 }], allowPrivate: true, connectTimeoutMs: 1500 });
    assert.equal(o.mutualTls, false);
    assert.equal(o.tlsPollIntervalMs, 2500);
    assert.deepEqual(o.algorithms, ['SHA-256']);
    assert.equal(o.maxNonSendBody, 2048);
    assert.equal(o.streamThreshold, 32768);
    assert.equal(o.expires.max, 7200);
    assert.equal(o.sessionIdPrefix, 'r3-');
    assert.equal(replicaPrefix('laptop'), '');
  });

  describe('auth.algorithms', () => {
    let t: TestRelay;
    after(async () => t?.relay.stop());

    it('challenges with the configured algorithms only and refuses others with 400', async () => {
      t = await startTestRelay({ algorithms: ['SHA-256'] });
      const c = await TestClient.connect({ port: t.port, ca: t.ca });
      const uri = t.relay.uri;
      const first = c.send('AUTH', [uri]);
      const challenge = await c.response(first.transactionId);
      assert.equal(challenge.status, 401);
      const www = challenge.headers.filter((h) => h.name === 'WWW-Authenticate').map((h) => h.value);
      assert.equal(www.length, 1);
      assert.match(www[0]!, /algorithm=SHA-256(,|$)/);
      // An MD5 answer to a SHA-256 challenge (forged from the same nonce) is not accepted.
      const md5 = { ...challenge, headers: [{ name: 'WWW-Authenticate', value: www[0]!.replace('algorithm=SHA-256', 'algorithm=MD5') }] };
      assert.equal((await c.answer(md5, uri, 'alice', 'alice-pw', { algorithm: 'MD5' })).status, 400);
      assert.equal((await c.auth(uri, 'alice', 'alice-pw')).status, 200);
      c.close();
    });
  });
});
