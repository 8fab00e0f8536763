// spec.database.passwordStorage (docs/admin-api.md "Password storage") rendered into the
// engine's and the admin sidecar's config, with the key Secrets mounted in both containers at
// the paths the config names; loaded as msrpd and cmd/admin.ts load them. A relay without the
// field renders exactly as before (no pod roll on upgrade).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadAdminConfig } from '../../config/admin.ts';
import { loadEngineConfig } from '../../config/engine.ts';
import { ADMIN_CONFIG_KEY, CONFIG_KEY, configHash, renderConfigMap } from './config.ts';
import { renderStatefulSet } from './statefulset.ts';
import { relayFixture } from './testfixtures.ts';

function load<T>(name: string, text: string, loader: (o: { file: string; env: NodeJS.ProcessEnv }) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'msrp-pw-render-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, text);
    return loader({ file, env: {} });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('spec.database.passwordStorage', () => {
  const spec = {
    database: {
      secretRef: { name: 'relay-db', key: 'url' },
      passwordStorage: { mode: 'encrypted', keySecretRef: { name: 'pw-key-2', key: 'key' }, previousKeySecretRefs: [{ name: 'pw-key-1', key: 'aes' }] },
    },
  };

  it('renders the mode and the key files into both configs, loaded as msrpd and the admin load them', () => {
    const cm = renderConfigMap(relayFixture(spec));
    const e = load(CONFIG_KEY, cm.data![CONFIG_KEY]!, loadEngineConfig);
    assert.equal(e.database.passwordStorage, 'encrypted');
    assert.equal(e.database.secretKeyFile, '/etc/msrp/password-keys/current/key');
    assert.deepEqual(e.database.previousSecretKeyFiles, ['/etc/msrp/password-keys/previous-0/aes']);
    const a = load(ADMIN_CONFIG_KEY, cm.data![ADMIN_CONFIG_KEY]!, loadAdminConfig);
    assert.equal(a.database.passwordStorage, 'encrypted');
    assert.equal(a.database.secretKeyFile, e.database.secretKeyFile);
    assert.deepEqual(a.database.previousSecretKeyFiles, e.database.previousSecretKeyFiles);
  });

  it('mounts each key Secret read-only in the engine and the admin container at the configured path', () => {
    const pod = renderStatefulSet(relayFixture(spec), 'hash').spec!.template.spec!;
    const vol = (name: string) => pod.volumes!.find((v) => v.name === name);
    assert.deepEqual(vol('password-key-current')?.secret, { secretName: 'pw-key-2', items: [{ key: 'key', path: 'key' }], defaultMode: 0o440 });
    assert.deepEqual(vol('password-key-previous-0')?.secret, { secretName: 'pw-key-1', items: [{ key: 'aes', path: 'aes' }], defaultMode: 0o440 });
    for (const c of pod.containers) {
      const mounts = c.volumeMounts!.filter((m) => m.name.startsWith('password-key-')).map((m) => [m.mountPath, m.readOnly]);
      assert.deepEqual(mounts, [['/etc/msrp/password-keys/current', true], ['/etc/msrp/password-keys/previous-0', true]], c.name);
    }
  });

  it('without the field renders no password setting and no key volume; switching it changes the config hash (the pods roll)', () => {
    const plain = renderConfigMap(relayFixture());
    assert.ok(!/password|secretKey/i.test(plain.data![CONFIG_KEY]! + plain.data![ADMIN_CONFIG_KEY]!));
    assert.ok(!renderStatefulSet(relayFixture(), 'hash').spec!.template.spec!.volumes!.some((v) => v.name.startsWith('password-key-')));
    assert.notEqual(configHash(plain), configHash(renderConfigMap(relayFixture(spec))));
  });
});
