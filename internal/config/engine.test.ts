import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineConfigSchema, loadEngineConfig, tlsFiles } from './engine.ts';
import { ConfigError } from './errors.ts';

/** Every leaf of a schema, as dotted paths, for the documentation check. */
function leaves(node: Record<string, unknown>, path: string, out: [string, Record<string, unknown>][]): void {
  out.push([path, node]);
  const props = node['properties'] as Record<string, Record<string, unknown>> | undefined;
  if (props) for (const [k, v] of Object.entries(props)) leaves(v, path ? `${path}.${k}` : k, out);
  const items = node['items'] as Record<string, unknown> | undefined;
  if (items?.['properties']) leaves(items, `${path}[]`, out);
}

describe('engine configuration', () => {
  it('has safe defaults: TLS on 2855, no plain TCP auth, PGlite in ./data/pglite', () => {
    const c = loadEngineConfig({ env: {} });
    assert.deepEqual(c.relay.listen, [{ host: '0.0.0.0', port: 2855, transport: 'tls' }]);
    assert.equal(c.auth.allowPlainTcp, false);
    assert.equal(c.auth.basicOverTls, false);
    assert.equal(c.auth.nonceLifetimeSec, 300);
    assert.equal(c.auth.maxFailures, 3);
    assert.equal(c.auth.idleUnauthSec, 30);
    assert.deepEqual(c.session, { minExpires: 60, maxExpires: 86400, defaultExpires: 3600 });
    assert.equal(c.limits.maxHeaderBytes, 16384);
    assert.equal(c.limits.transactionTimeoutSec, 30);
    assert.deepEqual(c.throttle, { bytesPerSecPerSession: 0, bytesPerSecPerUser: 0, bytesPerSecPerRealm: 0 });
    assert.equal(c.drain.deadlineSec, 30);
    assert.deepEqual(c.http, { host: '0.0.0.0', port: 9090, controlPort: 9091 });
    assert.equal(c.database.url, undefined);
    assert.equal(c.database.dataDir, './data/pglite');
    assert.equal(c.log.level, 'info');
  });

  it('documents every option with a description', () => {
    const all: [string, Record<string, unknown>][] = [];
    leaves(EngineConfigSchema as unknown as Record<string, unknown>, '', all);
    const undocumented = all.filter(([p, n]) => p !== '' && !p.endsWith('[]') && typeof n['description'] !== 'string').map(([p]) => p);
    // realm items document their own fields; the array itself carries the description
    assert.deepEqual(undocumented, []);
    assert.ok(all.length > 40, `only ${all.length} nodes`);
  });

  it('gives every option a default, or says in its description what absence means', () => {
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string): void => {
      const props = node['properties'] as Record<string, Record<string, unknown>> | undefined;
      const required = new Set((node['required'] as string[] | undefined) ?? []);
      for (const [k, v] of Object.entries(props ?? {})) {
        const p = path ? `${path}.${k}` : k;
        const optionalDocumented = !required.has(k) && /default|absent|any port/i.test(String(v['description']));
        if (!('default' in v) && !optionalDocumented && !path.endsWith('[]')) missing.push(p);
        if (v['properties']) walk(v, p);
      }
    };
    walk(EngineConfigSchema as unknown as Record<string, unknown>, '');
    assert.deepEqual(missing, []);
  });

  it('has the relay defaults the relay author asked for: next hops closed, mutual TLS, 10 KB non-SEND bodies', () => {
    const c = loadEngineConfig({ env: {} });
    assert.deepEqual(c.nextHops, { allow: [], allowPrivate: false, connectTimeoutMs: 5000, dnsServers: [] });
    assert.equal(c.tls.mutual, true);
    assert.equal(c.tls.peerCertificates, 'require', 'relay to relay is mutual TLS, enforced (RFC 4976 §9.2)');
    assert.deepEqual(c.limits.parseErrorBudget, { count: 10, windowSec: 60 });
    assert.equal(c.tls.pollIntervalMs, 10000);
    assert.deepEqual(c.relay.aliases, []);
    assert.deepEqual(c.relay.blockedMethods, []);
    assert.equal(c.limits.maxNonSendBodyBytes, 10240);
    assert.equal(c.limits.streamThresholdBytes, 65536);
    assert.deepEqual(c.auth.algorithms, ['SHA-256', 'MD5']);
    const doc = (section: string, key: string): string => {
      const root = EngineConfigSchema as unknown as { properties: Record<string, { properties: Record<string, { description?: string }> }> };
      return root.properties[section]?.properties[key]?.description ?? '';
    };
    assert.match(doc('session', 'maxExpires'), /423 with Max-Expires/);
    assert.match(doc('limits', 'maxConnectionBufferBytes'), /closed/);
  });

  it('takes next hops, aliases and blocked methods from the environment', () => {
    const c = loadEngineConfig({ env: {
      MSRP_NEXT_HOPS__ALLOW: '[{"host":"*.example.net","port":2855},{"host":"relay.example.org"}]',
      MSRP_NEXT_HOPS__ALLOW_PRIVATE: 'true',
      MSRP_RELAY__ALIASES: 'msrp.default.svc,10.0.0.7',
      MSRP_RELAY__BLOCKED_METHODS: 'NICKNAME',
      MSRP_TLS__MUTUAL: 'false',
      // Without mutual TLS no client certificate is asked for: `require` would be refused.
      MSRP_TLS__PEER_CERTIFICATES: 'verify-if-presented',
    } });
    assert.deepEqual(c.nextHops.allow, [{ host: '*.example.net', port: 2855 }, { host: 'relay.example.org' }]);
    assert.equal(c.nextHops.allowPrivate, true);
    assert.deepEqual(c.relay.aliases, ['msrp.default.svc', '10.0.0.7']);
    assert.deepEqual(c.relay.blockedMethods, ['NICKNAME']);
    assert.equal(c.tls.mutual, false);
    assert.throws(() => loadEngineConfig({ env: { MSRP_RELAY__BLOCKED_METHODS: 'send' } }), ConfigError);
  });

  it('takes the realm list and the database URL from a file and env', () => {
    const dir = mkdtempSync(join(tmpdir(), 'engine-config-'));
    const f = join(dir, 'msrpd.yaml');
    writeFileSync(f, 'auth:\n  realms:\n    - name: example.com\n      hosts: [relay.example.com]\n');
    const c = loadEngineConfig({ file: f, env: { MSRP_DATABASE__URL: 'postgres://u@db/msrp', MSRP_RELAY__PUBLIC_PORT: '443', MSRP_LOG__LEVEL: 'debug' } });
    assert.deepEqual(c.auth.realms, [{ name: 'example.com', hosts: ['relay.example.com'] }]);
    assert.equal(c.database.url, 'postgres://u@db/msrp');
    assert.equal(c.relay.publicPort, 443);
    assert.equal(c.log.level, 'debug');
  });

  it('applies cross-field rules: expiry order, distinct ports, unique realms', () => {
    try {
      loadEngineConfig({ env: { MSRP_SESSION__MIN_EXPIRES: '100000', MSRP_HTTP__CONTROL_PORT: '9090', MSRP_AUTH__REALMS: '[{"name":"a"},{"name":"a"}]' } });
      assert.fail('expected ConfigError');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues.map((i) => i.path), ['session.minExpires', 'session.defaultExpires', 'http.controlPort', 'auth.realms[1].name']);
    }
  });

  it('rejects a non-postgres database URL and an unknown algorithm', () => {
    assert.throws(
      () => loadEngineConfig({ env: { MSRP_DATABASE__URL: 'mysql://x', MSRP_AUTH__ALGORITHMS: 'SHA-256,SHA-1' } }),
      (e: unknown) => e instanceof ConfigError && e.issues.length === 2 && e.issues.some((i) => i.path === 'auth.algorithms[1]') && e.issues.some((i) => i.path === 'database.url'),
    );
  });

  it('derives cert-manager file names from tls.dir unless files are given', () => {
    assert.deepEqual(tlsFiles({ dir: '/etc/msrp/tls' }), { certFile: '/etc/msrp/tls/tls.crt', keyFile: '/etc/msrp/tls/tls.key', caFile: '/etc/msrp/tls/ca.crt' });
    assert.equal(tlsFiles({ dir: '/x', certFile: '/y/cert.pem' }).certFile, '/y/cert.pem');
  });
});

describe('engine configuration: chat rooms over replicas', () => {
  it('gives the rooms channel its own port and a lease time, and refuses a port taken by another listener', () => {
    const c = loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'x-{ordinal}', MSRP_CHAT__ENABLED: 'true' } });
    assert.equal(c.mesh.chatPort, 2859);
    assert.equal(c.mesh.roomLeaseSec, 20);
    for (const taken of ['2858', '2856', '9090']) {
      assert.throws(() => loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'x-{ordinal}', MSRP_CHAT__ENABLED: 'true', MSRP_MESH__CHAT_PORT: taken } }),
        (err: Error & { issues?: { path: string }[] }) => {
          assert.deepEqual(err.issues?.map((i) => i.path), ['mesh.chatPort'], `port ${taken}`);
          return true;
        });
    }
    // Without the chat server the port is unused, so nothing to refuse.
    assert.equal(loadEngineConfig({ env: { MSRP_MESH__ENABLED: 'true', MSRP_MESH__PEER_HOST: 'x-{ordinal}', MSRP_MESH__CHAT_PORT: '2856' } }).mesh.chatPort, 2856);
  });
});
