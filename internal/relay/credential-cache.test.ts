// CachedCredentials and StoreHealth without a database: invalidation racing a lookup,
// fallback while the store is down, the typed error for an uncached user, store_up.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../telemetry/metrics.ts';
import type { CredentialSource } from './auth-handler.ts';
import { CachedCredentials, CredentialsUnavailableError } from './credential-cache.ts';
import { StoreHealth } from './store-health.ts';

type Creds = Awaited<ReturnType<CredentialSource['lookup']>>;
const creds = (tag: string): Creds => ({ ha1Md5: `md5-${tag}`, ha1Sha256: `sha-${tag}`, disabled: false });

/** A source whose answers the test controls: `value`, or throws while `down`. */
class Source implements CredentialSource {
  value: Creds = creds('v1');
  down = false;
  calls = 0;
  gate: Promise<void> | undefined;
  async lookup(): Promise<Creds> {
    this.calls++;
    const value = this.value; // read before the gate: a read that raced with a write
    if (this.gate !== undefined) await this.gate;
    if (this.down) throw new Error('connect ECONNREFUSED');
    return value;
  }
}

describe('CachedCredentials', () => {
  it('does not cache what a lookup read before an invalidation that arrived meanwhile', async () => {
    const src = new Source();
    const cache = new CachedCredentials(src);
    let open!: () => void;
    src.gate = new Promise((r) => { open = r; });
    const pending = cache.lookup('r', 'alice');
    src.value = creds('v2');
    cache.invalidate({ table: 'users', key: { realm: 'r', username: 'alice' } });
    open();
    assert.deepEqual(await pending, creds('v1'));
    src.gate = undefined;
    assert.deepEqual(await cache.lookup('r', 'alice'), creds('v2'), 'the stale read was not kept');
  });

  it('serves an expired entry while the store is down, without asking it, and counts the fallback', async () => {
    const src = new Source();
    const metrics = createMetrics({ defaultMetrics: false });
    const health = new StoreHealth(() => Promise.resolve(), { metrics });
    const cache = new CachedCredentials(src, { ttlMs: 0, availability: health, metrics });
    assert.deepEqual(await cache.lookup('r', 'alice'), creds('v1'));
    src.down = true;
    assert.deepEqual(await cache.lookup('r', 'alice'), creds('v1'), 'lookup failed: last known answer');
    assert.equal(health.up, false, 'the failed lookup marked the store down');
    const calls = src.calls;
    assert.deepEqual(await cache.lookup('r', 'alice'), creds('v1'));
    assert.equal(src.calls, calls, 'known down: the store is not asked');
    const text = await metrics.render();
    assert.match(text, /^msrp_auth_cache_fallback_total 2$/m);
    assert.match(text, /^msrp_store_up 0$/m);
  });

  it('throws CredentialsUnavailableError for a user it has no copy of while the store is down, and an invalidated entry is not served', async () => {
    const src = new Source();
    const cache = new CachedCredentials(src, { ttlMs: 0 });
    await cache.lookup('r', 'alice');
    src.down = true;
    await assert.rejects(cache.lookup('r', 'bob'), CredentialsUnavailableError);
    cache.invalidate({ table: 'realms', key: { realm: 'r' } });
    await assert.rejects(cache.lookup('r', 'alice'), CredentialsUnavailableError);
  });
});

describe('StoreHealth', () => {
  it('follows the ping: down with the error, up again, store_up 0/1', async () => {
    let fail = false;
    const metrics = createMetrics({ defaultMetrics: false });
    const h = new StoreHealth(() => (fail ? Promise.reject(new Error('database unavailable')) : Promise.resolve()), { metrics });
    assert.equal(await h.check(), true);
    fail = true;
    assert.equal(await h.check(), false);
    assert.equal(h.snapshot().error, 'database unavailable');
    assert.match(await metrics.render(), /^msrp_store_up 0$/m);
    fail = false;
    assert.equal(await h.check(), true);
    assert.equal(h.snapshot().error, undefined);
    assert.match(await metrics.render(), /^msrp_store_up 1$/m);
  });
});
