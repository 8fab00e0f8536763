// The focus's media admission under `media.privateAddresses: deny`: an a=path first hop on a
// non-public address is refused whatever its spelling (the same numeric classification as
// the relay's next hops, transport/address-class.ts); public and named hosts pass.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { offerSdp } from '../../client/sip-uac.ts';
import { checkOffer, isPrivateHost, type MediaPolicy } from './admission.ts';

const DENY: MediaPolicy = { privateAddresses: 'deny', foreignAddresses: 'allow' };

describe('media admission: a=path on a private address (privateAddresses: deny)', () => {
  const refused = ['127.0.0.1', '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:7f00:1]', '[64:ff9b::a9fe:a9fe]', '[fec0::1]',
    '169.254.169.254', '198.18.0.1', '[2002:a00:1::1]', 'localhost'];
  for (const host of refused) {
    it(`refuses msrp://${host}:7654 with 488 and Warning 399`, () => {
      const r = checkOffer(Buffer.from(offerSdp(`msrp://${host}:7654/s;tcp`)), '203.0.113.5', DENY);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.status === 488 && r.warnCode === 399 && /private address/.test(r.text), JSON.stringify(r));
    });
  }

  for (const host of ['8.8.8.8', '[2a00:1450:4001:80b::200e]', 'client.example.com']) {
    it(`admits msrp://${host}:7654`, () => {
      assert.equal(checkOffer(Buffer.from(offerSdp(`msrp://${host}:7654/s;tcp`)), '8.8.8.8', DENY).ok, true);
      assert.equal(isPrivateHost(host), false);
    });
  }
});
