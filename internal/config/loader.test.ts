import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Type from 'typebox';
import { loadConfig, pathOf, snakeToCamel } from './loader.ts';
import { ConfigError } from './errors.ts';

const Schema = Type.Object({
  relay: Type.Object({
    listen: Type.Array(Type.Object({
      host: Type.String({ default: '0.0.0.0' }),
      port: Type.Integer({ minimum: 1, maximum: 65535 }),
      transport: Type.Enum(['tls', 'tcp'], { default: 'tls' }),
    }, { additionalProperties: false }), { default: [{ port: 2855 }] }),
    publicHost: Type.Optional(Type.String()),
  }, { default: {}, additionalProperties: false }),
  auth: Type.Object({
    allowPlainTcp: Type.Boolean({ default: false }),
    algorithms: Type.Array(Type.String(), { default: ['SHA-256'] }),
    ports: Type.Array(Type.Integer(), { default: [] }),
  }, { default: {}, additionalProperties: false }),
  mode: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a' }),
}, { additionalProperties: false });

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'config-test-')); });
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => `${i.path}: ${i.message}${i.source ? ` from ${i.source}` : ''}`);
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('returns schema defaults when there is no file and no env', () => {
    const c = loadConfig(Schema, { env: {} });
    assert.deepEqual(c, { relay: { listen: [{ port: 2855, host: '0.0.0.0', transport: 'tls' }] }, auth: { allowPlainTcp: false, algorithms: ['SHA-256'], ports: [] }, mode: 'a' });
  });

  it('does not share default objects between two loads', () => {
    const a = loadConfig(Schema, { env: {} });
    a.relay.listen[0]!.port = 1;
    a.auth.algorithms.push('MD5');
    const b = loadConfig(Schema, { env: {} });
    assert.equal(b.relay.listen[0]!.port, 2855);
    assert.deepEqual(b.auth.algorithms, ['SHA-256']);
  });

  it('reads YAML and fills defaults inside file values', () => {
    const c = loadConfig(Schema, { env: {}, file: file('a.yaml', 'relay:\n  listen:\n    - port: 9000\n      transport: tcp\n  publicHost: relay.example.com\n') });
    assert.deepEqual(c.relay, { listen: [{ port: 9000, transport: 'tcp', host: '0.0.0.0' }], publicHost: 'relay.example.com' });
  });

  it('reads JSON files', () => {
    const c = loadConfig(Schema, { env: {}, file: file('a.json', '{"mode":"b"}') });
    assert.equal(c.mode, 'b');
  });

  it('lets env override the file: MSRP_RELAY__PUBLIC_HOST -> relay.publicHost', () => {
    const c = loadConfig(Schema, {
      file: file('b.yaml', 'relay:\n  publicHost: from-file\n  listen: [{port: 1000}]\n'),
      env: { MSRP_RELAY__PUBLIC_HOST: 'from-env', MSRP_RELAY__LISTEN__0__PORT: '2000', OTHER: 'x' },
    });
    assert.equal(c.relay.publicHost, 'from-env');
    assert.equal(c.relay.listen[0]!.port, 2000);
  });

  it('coerces booleans, comma lists and JSON arrays to the schema types', () => {
    const c = loadConfig(Schema, { env: { MSRP_AUTH__ALLOW_PLAIN_TCP: 'yes', MSRP_AUTH__ALGORITHMS: 'SHA-256, MD5', MSRP_AUTH__PORTS: '[1, 2]' } });
    assert.deepEqual(c.auth, { allowPlainTcp: true, algorithms: ['SHA-256', 'MD5'], ports: [1, 2] });
    const d = loadConfig(Schema, { env: { MSRP_AUTH__PORTS: '3,4' } });
    assert.deepEqual(d.auth.ports, [3, 4]);
  });

  it('creates array elements from indexed env names', () => {
    const c = loadConfig(Schema, { env: { MSRP_RELAY__LISTEN__0__PORT: '1', MSRP_RELAY__LISTEN__1__PORT: '2', MSRP_RELAY__LISTEN__1__TRANSPORT: 'tcp' } });
    assert.deepEqual(c.relay.listen, [{ port: 1, host: '0.0.0.0', transport: 'tls' }, { port: 2, transport: 'tcp', host: '0.0.0.0' }]);
  });

  it('honours another prefix', () => {
    const c = loadConfig(Schema, { envPrefix: 'ADMIN_', env: { ADMIN_MODE: 'b', MSRP_MODE: 'a' } });
    assert.equal(c.mode, 'b');
  });

  it('lists every failing field with the value and the env var it came from', () => {
    const issues = issuesOf(() => loadConfig(Schema, {
      env: { MSRP_RELAY__LISTEN__0__PORT: '70000', MSRP_RELAY__LISTEN__0__TRANSPORT: 'udp', MSRP_AUTH__ALLOW_PLAIN_TCP: 'maybe' },
    }));
    assert.deepEqual(issues.sort(), [
      'auth.allowPlainTcp: must be boolean (got "maybe") from MSRP_AUTH__ALLOW_PLAIN_TCP',
      'relay.listen[0].port: must be <= 65535 (got 70000) from MSRP_RELAY__LISTEN__0__PORT',
      'relay.listen[0].transport: must be one of "tls", "tcp" (got "udp") from MSRP_RELAY__LISTEN__0__TRANSPORT',
    ]);
  });

  it('names the file for bad file values, unknown keys, missing fields and union mismatches', () => {
    const f = file('bad.yaml', 'relay:\n  listen:\n    - host: x\n  bogus: 1\nmode: c\n');
    const issues = issuesOf(() => loadConfig(Schema, { file: f, env: {} }));
    assert.deepEqual(issues.sort(), [
      `mode: must be one of "a", "b" (got "c") from ${f}`,
      `relay.bogus: is not a known setting from ${f}`,
      `relay.listen[0].port: is required from ${f}`,
    ]);
  });

  it('rejects an unknown nested env name but ignores single-segment ones like Kubernetes service links', () => {
    assert.deepEqual(issuesOf(() => loadConfig(Schema, { env: { MSRP_RELAY__PUBLIK_HOST: 'x' } })), ['relay.publikHost: is not a known setting from MSRP_RELAY__PUBLIK_HOST']);
    const c = loadConfig(Schema, { env: { MSRP_PORT: 'tcp://10.0.0.1:2855', MSRP_SERVICE_HOST: '10.0.0.1' } });
    assert.equal(c.mode, 'a');
  });

  it('names every unknown section even when there are more than the validator reports at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'msrp-cfg-'));
    const f = join(dir, 'many.yaml');
    writeFileSync(f, Array.from({ length: 12 }, (_, i) => `extra${i}: { x: 1 }`).join('\n'));
    try {
      const issues = issuesOf(() => loadConfig(Schema, { file: f, env: {} }));
      assert.ok(issues.length >= 8, issues.join('; '));
      assert.ok(issues.every((m) => /^extra\d+: is not a known setting/.test(m)), issues.join('; '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports unreadable and unparsable files with the config-file code', () => {
    for (const f of [join(dir, 'missing.yaml'), file('broken.json', '{"a":'), file('list.yaml', '- 1\n- 2\n')]) {
      assert.throws(() => loadConfig(Schema, { file: f, env: {} }), (e: unknown) => e instanceof ConfigError && e.code === 'config-file' && e.message.includes(f));
    }
  });

  it('converts names and paths the documented way', () => {
    assert.equal(snakeToCamel('PUBLIC_HOST'), 'publicHost');
    assert.equal(snakeToCamel('RELAY'), 'relay');
    assert.equal(pathOf(['relay', 'listen', 0, 'port']), 'relay.listen[0].port');
  });
});
