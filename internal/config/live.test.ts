import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadEngineConfig } from './engine.ts';
import { changedPaths, isLivePath, LIVE_PATHS, restartSettings, withLiveSettings } from './live.ts';

const base = () => loadEngineConfig({ env: { MSRP_AUTH__REALMS: '[{"name":"a.test"}]' } });

describe('live settings', () => {
  it('names the changed settings by dotted path, a list as one value', () => {
    const a = base();
    const b = structuredClone(a);
    b.limits.sessionsPerUser = 3;
    b.relay.listen[0]!.port = 3855;
    b.auth.realms[0]!.hosts.push('x.test');
    assert.deepEqual(changedPaths(a, b), ['auth.realms', 'limits.sessionsPerUser', 'relay.listen']);
    assert.deepEqual(changedPaths(a, structuredClone(a)), []);
  });

  it('a path is live when it is, or is under, a live path; listeners, ports, mesh, chat and database are not', () => {
    for (const p of ['limits.sessionsPerUser', 'limits.parseErrorBudget.count', 'nextHops.allow', 'auth.realms', 'tls.peerCertificates', 'session.maxExpires', 'throttle.bytesPerSecPerUser']) {
      assert.equal(isLivePath(p), true, p);
    }
    for (const p of ['relay.listen', 'relay.publicHost', 'relay.publicPort', 'mesh.port', 'chat.sip.udpPort', 'database.url', 'http.port', 'tls.dir', 'tls.mutual', 'limitsX']) {
      assert.equal(isLivePath(p), false, p);
    }
    assert.ok(LIVE_PATHS.every((p) => !p.endsWith('.')));
  });

  it('withLiveSettings takes the live paths of the new config and keeps the rest', () => {
    const a = base();
    const b = structuredClone(a);
    b.limits.sessionsPerUser = 3;
    b.relay.publicHost = 'elsewhere.test';
    const merged = withLiveSettings(a, b);
    assert.equal(merged.limits.sessionsPerUser, 3);
    assert.equal(merged.relay.publicHost, a.relay.publicHost);
    assert.deepEqual(changedPaths(a, merged), ['limits.sessionsPerUser']);
  });

  it('restartSettings leaves out the live paths and sections left empty', () => {
    assert.deepEqual(
      restartSettings({ limits: { sessionsPerUser: 2 }, session: { minExpires: 60 }, relay: { aliases: ['a'], publicHost: 'h' }, tls: { dir: '/t', peerCertificates: 'require' } }),
      { relay: { publicHost: 'h' }, tls: { dir: '/t' } },
    );
  });
});
