import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMsrpUri } from '../msrp/uri.ts';
import { NextHops } from './next-hops.ts';
import { defaultRelayOptions } from './options.ts';
import { TokenBucket } from './throttle.ts';

describe('relay policies', () => {
  it('allows next hops only by the allow-list: exact host, *.suffix, port', () => {
    const o = defaultRelayOptions({
      publicHost: 'relay.example.com', nonceSecret: Buffer.alloc(32),
      nextHops: {
        allow: [{ host: 'peer.example.net', port: 2855 }, { host: '*.mesh.local' }], allowPrivate: false, connectTimeoutMs: 100,
        ownChatSwitch: { host: 'relay.example.com', port: 2857, address: '127.0.0.1' },
      },
    });
    const hops = new NextHops({ options: o, tls: () => undefined, adopt: () => { throw new Error('no'); }, log: undefined as never });
    const allowed = (u: string) => hops.allowed((parseMsrpUri(u) as { ok: true; uri: never }).uri);
    assert.equal(allowed('msrps://peer.example.net:2855/x;tcp'), true);
    assert.equal(allowed('msrps://peer.example.net/x;tcp'), true, 'default port 2855');
    assert.equal(allowed('msrps://peer.example.net:2856/x;tcp'), false);
    assert.equal(allowed('msrps://a.mesh.local:9999/x;tcp'), true);
    // Our own chat switch, and only its port of our name.
    assert.equal(allowed('msrps://relay.example.com:2857/s;tcp'), true);
    assert.equal(allowed('msrps://relay.example.com:2858/s;tcp'), false);
    assert.equal(allowed('msrps://evil.example.org/x;tcp'), false);
  });

  it('token bucket: a burst passes, then the deficit says how long to wait', () => {
    const b = new TokenBucket({ bytesPerSec: 1000, burstBytes: 500 }, 0);
    assert.equal(b.take(500, 0), 0);
    assert.equal(b.take(250, 0), 250);
    assert.equal(b.take(0, 250), 0);
    assert.equal(b.take(100, 1000), 0, 'refilled, capped at the burst');
  });
});
